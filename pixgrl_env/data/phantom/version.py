"""The version of the phantom generator."""

from __future__ import annotations

__all__ = ["PHANTOM_VERSION"]

#: Version of the phantom generator. Bump it whenever a change alters any generated pixel (of any item, option or
#: size): geometry, tissue tables, random streams, signal model, noise, normalisation. Checkpoints and results
#: record it, so two runs with the same version and options saw the same data. ``tests/test_phantom.py`` pins a
#: fingerprint of a few pairs to it and fails when the pixels change without a bump.
PHANTOM_VERSION = "1.0"
