"""A physics-based phantom of paired axial liver MR slices (non-enhanced → Gd-enhanced, portal-venous, fat-sat).

The clinical data of the paper are not public, so this package synthesises pairs from first principles, with the
numbers and sources of ``docs/phantom.md`` and its "Suggested phantom recipe". One module per concept:

- :mod:`~pixgrl_env.data.phantom.tissues`: tissue names, masks and nominal 1.5 T T1/T2*/PD/Gd tables (sources).
- :mod:`~pixgrl_env.data.phantom.anatomy`: per-patient geometry (body, fat, muscle, viscera, stomach, liver,
  spleen, kidneys, vessels, vertebra) and the label map of each slice, rasterised by
  :mod:`~pixgrl_env.data.phantom.raster` at ``fov_mm / size`` mm per pixel (default 380 mm / 256 = 1.48 mm).
- :mod:`~pixgrl_env.data.phantom.lesions`: the lesion by class (HCC with capsule, washout and necrosis;
  hemangioma with peripheral nodular, centripetal fill; none for normal) and optional simple cysts.
- :mod:`~pixgrl_env.data.phantom.fields`: smooth Gaussian random fields (boundaries, textures, bias, B1).
- :mod:`~pixgrl_env.data.phantom.signal`: the spoiled-GRE equation, fat suppression, bias, motion, Rician noise.
- :mod:`~pixgrl_env.data.phantom.patient`: everything drawn once per patient (geometry, lesion, tissue jitter,
  sequence parameters), from seeded RNG streams.
- :mod:`~pixgrl_env.data.phantom.render`: one slice: parameter maps → pre/post signals → acquisition.
- :mod:`~pixgrl_env.data.phantom.dataset`: :class:`PhantomDataset`, the options and the normalisation.
- :mod:`~pixgrl_env.data.phantom.version`: :data:`PHANTOM_VERSION`, bumped whenever a change alters any generated
  pixel (also :attr:`PhantomDataset.version`); record it with results and checkpoints.

Determinism: everything of a patient (class, anatomy, tissue and sequence parameters, lesion) comes from RNG
streams seeded with ``np.random.SeedSequence([seed, tag, patient, stream])``; everything of one slice (texture,
noise) from ``[seed, tag, patient, slice, stream]``. ``ds[i]`` is therefore the same whatever the access order,
and options such as ``noise`` or ``phase`` change only what they control (same anatomy in both phases, except
that the hemangioma's enhancing part grows with its fill fraction).

Speed: about 60–80 pairs/s at 256 × 256 on one CPU thread (``benchmarks/bench_phantom.py``).

Example:
    >>> ds = PhantomDataset(n_patients=6, slices_per_patient=4, size=128, seed=1)
    >>> pair = ds[5]
    >>> pair.input.shape, pair.input.dtype, LABELS[pair.label]  # doctest: +SKIP
    ((128, 128), dtype('float32'), 'hcc')
"""

from __future__ import annotations

from pixgrl_env.data.base import LABELS  # noqa: F401 (the class names of Pair.label, as before the split)
from pixgrl_env.data.phantom.dataset import NORMALIZATIONS, PHASES, PhantomDataset, scale_class_counts
from pixgrl_env.data.phantom.render import PhantomSlice
from pixgrl_env.data.phantom.signal import spgr_signal
from pixgrl_env.data.phantom.tissues import (
    LESION_TISSUES,
    LIVER_TISSUES,
    TISSUE_INDEX,
    TISSUE_PARAMS,
    TISSUES,
    Tissue,
)
from pixgrl_env.data.phantom.version import PHANTOM_VERSION

__all__ = [
    "LESION_TISSUES",
    "LIVER_TISSUES",
    "NORMALIZATIONS",
    "PHANTOM_VERSION",
    "PHASES",
    "TISSUES",
    "TISSUE_INDEX",
    "TISSUE_PARAMS",
    "PhantomDataset",
    "PhantomSlice",
    "Tissue",
    "scale_class_counts",
    "spgr_signal",
]
