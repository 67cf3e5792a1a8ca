"""Paired data: the embedded liver phantom, users' NIfTI folders, and patient-level splits.

``make_dataset(name, **kwargs)`` builds a source by name:

- ``"phantom"``: :class:`~pixgrl_env.data.phantom.PhantomDataset`, the physics-based liver phantom (default);
- ``"nifti"``: :class:`~pixgrl_env.data.nifti.NiftiPairDataset`, one folder per patient (``root=`` required);
- ``"breast_dce"``: the tiny real pre/post-contrast pair shipped with the package (DCEMRI.jl, MIT);
- ``"toy"``: :class:`~pixgrl_env.data.toy.ToyPairDataset`, tiny smooth random pairs for tests and examples.
"""

from __future__ import annotations

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
    """Build a data source by name (see the module docstring); ``kwargs`` go to its constructor."""
    if name == "phantom":
        from pixgrl_env.data.phantom import PhantomDataset

        return PhantomDataset(**kwargs)
    if name == "nifti":
        from pixgrl_env.data.nifti import NiftiPairDataset

        return NiftiPairDataset(**kwargs)
    if name == "breast_dce":
        from pixgrl_env.data.nifti import NiftiPairDataset, sample_data_dir

        return NiftiPairDataset(root=sample_data_dir("breast_dce"), **kwargs)
    if name == "toy":
        from pixgrl_env.data.toy import ToyPairDataset

        return ToyPairDataset(**kwargs)
    raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")


__all__ = [
    "DATASETS", "LABELS", "SPLITS", "UNKNOWN_LABEL", "DataError", "Pair", "PairDataset", "PairMeta", "Subset",
    "make_dataset", "patient_folds", "split_dataset",
]
