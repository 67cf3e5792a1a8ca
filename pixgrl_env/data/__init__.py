"""Paired data: the embedded liver phantom, users' NIfTI folders, and patient-level splits.

``make_dataset(name, **kwargs)`` builds a source by name:

- ``"phantom"``: :class:`~pixgrl_env.data.phantom.PhantomDataset`, the physics-based liver phantom (default);
- ``"nifti"``: :class:`~pixgrl_env.data.nifti.NiftiPairDataset`, one folder per patient (``root=`` required);
- ``"breast_dce"``: the tiny real pre/post-contrast pair shipped with the package (DCEMRI.jl, MIT);
- ``"toy"``: :class:`~pixgrl_env.data.toy.ToyPairDataset`, tiny smooth random pairs for tests and examples.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from pixgrl_env.data.base import (
    LABELS,
    SPLITS,
    UNKNOWN_LABEL,
    DataError,
    Pair,
    PairDataset,
    PairMeta,
    Subset,
    patient_folds,
    split_dataset,
)

DATASETS = ("phantom", "nifti", "breast_dce", "toy")


def make_dataset(name: str = "phantom", **kwargs: Any) -> PairDataset:
    """Build a data source by name (see the module docstring); ``kwargs`` go to its constructor.

    Raises:
        ValueError: an unknown ``name``, or ``kwargs`` the source does not take / lacks (the message lists them).
    """
    fixed: dict[str, Any] = {}
    if name == "phantom":
        from pixgrl_env.data.phantom import PhantomDataset as source
    elif name == "nifti":
        from pixgrl_env.data.nifti import NiftiPairDataset as source
    elif name == "breast_dce":
        from pixgrl_env.data.nifti import NiftiPairDataset as source
        from pixgrl_env.data.nifti import sample_data_dir

        fixed = {"root": sample_data_dir("breast_dce")}
    elif name == "toy":
        from pixgrl_env.data.toy import ToyPairDataset as source
    else:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    _check_arguments(name, source, kwargs, fixed)
    return source(**fixed, **kwargs)


def _check_arguments(name: str, source: type, kwargs: dict[str, Any], fixed: dict[str, Any]) -> None:
    """Refuse keyword arguments ``source`` does not take, and required ones that are missing, naming both sets."""
    params = inspect.signature(source).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    allowed = sorted(n for n, p in params.items() if n not in fixed and p.kind is not p.VAR_POSITIONAL)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        names = ", ".join(repr(k) + "".join(f" (did you mean {m!r}?)" for m in difflib.get_close_matches(k, allowed, 1))
                          for k in unknown)
        raise ValueError(f"dataset {name!r} ({source.__name__}) has no argument {names}; its arguments are {allowed}")
    missing = [n for n in allowed if params[n].default is params[n].empty and n not in kwargs]
    if missing:
        raise ValueError(f"dataset {name!r} ({source.__name__}) needs the argument(s) {missing} (e.g. "
                         f"dataset_kwargs={{{missing[0]!r}: ...}})")


__all__ = [
    "DATASETS", "LABELS", "SPLITS", "UNKNOWN_LABEL", "DataError", "Pair", "PairDataset", "PairMeta", "Subset",
    "make_dataset", "patient_folds", "split_dataset",
]
