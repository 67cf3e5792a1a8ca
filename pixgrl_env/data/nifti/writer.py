"""Writing a :class:`~pixgrl_env.data.base.PairDataset` (e.g. the phantom) as a NIfTI folder in the layout of
:mod:`pixgrl_env.data.nifti`, so it reads back with :class:`~pixgrl_env.data.nifti.NiftiPairDataset`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from pixgrl_env.data.base import LABELS, UNKNOWN_LABEL, DataError, PairDataset
from pixgrl_env.data.nifti.layout import EXTRA_RE, MASKS, is_layout_stem
from pixgrl_env.data.nifti.volume import nifti_stem

#: Slice thickness written by :func:`write_nifti_folder` when not given.
DEFAULT_SLICE_MM = 4.0


def check_patient_id(pid: str) -> None:
    """Raise ValueError unless ``pid`` can be a folder name (non-empty, no separators, not hidden)."""
    if (not isinstance(pid, str) or not pid or pid in (".", "..") or pid.startswith(".") or "/" in pid
            or "\\" in pid or "\0" in pid):
        raise ValueError(f"patient_id {pid!r} cannot be used as a folder name")


def save_volume(volume: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Save ``volume`` as NIfTI-1 at ``path`` with ``affine``, its own dtype and millimetre units."""
    img = nib.Nifti1Image(volume, affine)
    img.header.set_xyzt_units("mm")
    img.header.set_data_dtype(volume.dtype)
    nib.save(img, str(path))


def write_nifti_folder(dataset: PairDataset, root: str | Path, *, patients: Iterable[str] | None = None,
                       overwrite: bool = False, slice_mm: float = DEFAULT_SLICE_MM) -> list[Path]:
    """Write any :class:`PairDataset` (e.g. the phantom) as a NIfTI folder that :class:`NiftiPairDataset` reads.

    Items are grouped by patient and stacked along ``z`` in ``slice_index`` order. Per patient: ``input`` and
    ``target`` (float32, values as given), ``tumor_mask`` / ``liver_mask`` (uint8, only when some pixel is True),
    ``extra_<name>`` (float32) and ``meta.json`` (label name, or null; ``slice_indices`` when they are not
    ``0..Z-1``). The affine is ``diag(row_mm, col_mm, slice_mm, 1)``. Reading back with ``normalization="none"``
    returns the same arrays (bit-exact), labels, patient ids and slice indices, and the spacing rounded to float32
    (NIfTI stores pixdim as float32, so 0.75 comes back exactly, 0.7 as 0.699999988).

    Args:
        dataset: Source; items of one patient must share shape, spacing, label and extra names.
        root: Output folder (created if needed).
        patients: Patient ids to write (default: all, in first-appearance order).
        overwrite: Replace existing patient folders (only the layout's files are removed; others are kept).
        slice_mm: Slice thickness for the affine.

    Returns:
        The patient folders written.

    Raises:
        FileExistsError: A patient folder exists and ``overwrite`` is False (nothing is written then).
        ValueError: Unknown or unusable patient ids, bad ``slice_mm``.
        DataError: Items of one patient are inconsistent.
    """
    if not (isinstance(slice_mm, (int, float)) and math.isfinite(slice_mm) and slice_mm > 0):
        raise ValueError(f"slice_mm must be a positive number, got {slice_mm!r}")
    if isinstance(patients, str):
        raise TypeError(f"patients must be an iterable of patient ids, not the string {patients!r}")
    groups: dict[str, list[int]] = {}
    for i, (pid, _) in enumerate(dataset.item_index()):
        groups.setdefault(pid, []).append(i)
    wanted = list(groups) if patients is None else list(dict.fromkeys(patients))
    unknown = [p for p in wanted if p not in groups]
    if unknown:
        raise ValueError(f"patients {unknown} are not in the dataset")
    root = Path(root)
    for pid in wanted:
        check_patient_id(pid)
        folder = root / pid
        if folder.exists() and not overwrite:
            raise FileExistsError(f"{folder}: patient folder already exists; pass overwrite=True to replace it")

    written: list[Path] = []
    for pid in wanted:
        pairs = sorted((dataset[i] for i in groups[pid]), key=lambda pair: pair.meta.slice_index)
        first = pairs[0]
        indices = [pair.meta.slice_index for pair in pairs]
        if len(set(indices)) != len(indices):
            raise DataError(f"patient {pid!r}: duplicate slice_index values {sorted(indices)}")
        for pair in pairs:
            src = pair.meta.source
            if pair.shape != first.shape:
                raise DataError(f"{src}: shape {pair.shape} differs from {first.shape} of {first.meta.source}")
            if tuple(pair.meta.spacing) != tuple(first.meta.spacing):
                raise DataError(f"{src}: spacing {pair.meta.spacing} differs from {first.meta.spacing} of "
                                f"{first.meta.source}")
            if pair.label != first.label:
                raise DataError(f"{src}: label {pair.label} differs from {first.label} of {first.meta.source}")
            if sorted(pair.extra) != sorted(first.extra):
                raise DataError(f"{src}: extra modalities {sorted(pair.extra)} differ from {sorted(first.extra)}")

        def stack(get: Any, dtype: Any) -> np.ndarray:
            return np.stack([np.asarray(get(pair), dtype=dtype) for pair in pairs], axis=-1)

        row_mm, col_mm = (float(s) for s in first.meta.spacing)
        affine = np.diag([row_mm, col_mm, float(slice_mm), 1.0])
        folder = root / pid
        folder.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for entry in folder.iterdir():
                stem = nifti_stem(entry.name)
                layout_file = stem is not None and is_layout_stem(stem)
                if entry.is_file() and (layout_file or entry.name == "meta.json"):
                    entry.unlink()
        save_volume(stack(lambda pr: pr.input, np.float32), affine, folder / "input.nii.gz")
        save_volume(stack(lambda pr: pr.target, np.float32), affine, folder / "target.nii.gz")
        for kind in MASKS:
            mask = stack(lambda pr, k=kind: getattr(pr, k), np.uint8)
            if mask.any():
                save_volume(mask, affine, folder / f"{kind}.nii.gz")
        for name in sorted(first.extra):
            if not EXTRA_RE.match(f"extra_{name}"):
                raise ValueError(f"extra modality name {name!r} cannot be used in a file name")
            save_volume(stack(lambda pr, n=name: pr.extra[n], np.float32), affine, folder / f"extra_{name}.nii.gz")
        meta: dict[str, Any] = {"label": LABELS[first.label] if first.label != UNKNOWN_LABEL else None}
        if indices != list(range(len(indices))):
            meta["slice_indices"] = [int(i) for i in indices]
        meta["written_by"] = f"pixgrl_env.data.nifti.write_nifti_folder from {type(dataset).__name__}"
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        written.append(folder)
    return written


__all__ = ["DEFAULT_SLICE_MM", "check_patient_id", "save_volume", "write_nifti_folder"]
