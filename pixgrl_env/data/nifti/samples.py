"""Sample data shipped with the package (``pixgrl_env/data/real/<name>``) and how to rebuild them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pixgrl_env.data.base import DataError
from pixgrl_env.data.nifti.writer import check_patient_id, save_volume

#: Sample data sets shipped in ``pixgrl_env/data/real/``.
SAMPLES: tuple[str, ...] = ("breast_dce",)


def sample_data_dir(name: str) -> Path:
    """The folder of a sample data set shipped with the package (``pixgrl_env/data/real/<name>``).

    Raises:
        ValueError: ``name`` is not in :data:`SAMPLES`.
        DataError: The folder is missing from this installation.
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample data set {name!r}; expected one of {SAMPLES}")
    path = Path(__file__).resolve().parent.parent / "real" / name
    if not path.is_dir():
        raise DataError(f"{path}: sample data set {name!r} is missing from this installation")
    return path


def build_breast_dce_sample(mat_path: str | Path, out_dir: str | Path, *, pre_frames: Sequence[int] = (0, 1, 2),
                            post_frames: Sequence[int] = (8, 9, 10, 11, 12), patient_id: str = "dcemri-jl-invivo",
                            overwrite: bool = False) -> Path:
    """Rebuild the shipped ``breast_dce`` sample from DCEMRI.jl's ``demo/invivo.mat`` (MIT, David S. Smith).

    ``input`` = mean of the pre-contrast ``DCEdata`` frames, ``target`` = mean of the post-contrast frames, both
    float32 in the file's signal units, full 192 × 192 slice, stored as ``(192, 192, 1)`` with rows = the .mat
    array's rows (as MATLAB/``imshow`` display it). The pixel size is not stored in the .mat file, so the affine is
    the identity (1 mm nominal). ``meta.json`` has ``"label": null`` (breast, not one of the liver classes).

    Args:
        mat_path: ``invivo.mat`` (from github.com/davidssmith/DCEMRI.jl, ``demo/invivo.mat``).
        out_dir: The data root to write into (e.g. ``pixgrl_env/data/real/breast_dce``).
        pre_frames: Frames averaged into ``input`` (0-2 are before the bolus).
        post_frames: Frames averaged into ``target`` (8-12: t = 131-197 s, after the arterial peak).
        patient_id: Name of the patient folder.
        overwrite: Replace an existing patient folder.

    Returns:
        The patient folder written.
    """
    import scipy.io

    data = np.asarray(scipy.io.loadmat(str(mat_path))["DCEdata"], dtype=np.float64)
    if data.ndim != 3:
        raise DataError(f"{mat_path}: DCEdata must be (frames, rows, cols), got shape {data.shape}")
    check_patient_id(patient_id)
    folder = Path(out_dir) / patient_id
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder}: patient folder already exists; pass overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    pre = data[list(pre_frames)].mean(axis=0).astype(np.float32)
    post = data[list(post_frames)].mean(axis=0).astype(np.float32)
    save_volume(pre[:, :, None], np.eye(4), folder / "input.nii.gz")
    save_volume(post[:, :, None], np.eye(4), folder / "target.nii.gz")
    meta = {
        "label": None,
        "anatomy": "breast (not liver): a real pre/post-contrast pipeline test pair",
        "source": "https://github.com/davidssmith/DCEMRI.jl demo/invivo.mat (MIT, Copyright (c) 2014 David S. Smith)",
        "citation": "Smith DS et al., PeerJ 3:e909 (2015), doi:10.7717/peerj.909",
        "input": f"mean of DCEdata frames {list(pre_frames)} (pre-contrast)",
        "target": f"mean of DCEdata frames {list(post_frames)} (post-contrast)",
        "spacing": "unknown (not in the source file); 1 mm nominal",
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


__all__ = ["SAMPLES", "build_breast_dce_sample", "sample_data_dir"]
