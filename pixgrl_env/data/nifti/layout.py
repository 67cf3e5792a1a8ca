"""The folder layout of a NIfTI data set: the files of a patient folder, its ``meta.json``, and reading one
patient's headers into a :class:`PatientRecord` (no voxels are read here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pixgrl_env.data.base import LABELS, UNKNOWN_LABEL, DataError
from pixgrl_env.data.nifti.volume import VolumeInfo, nifti_stem, read_header

LAYOUT = """\
root/
  <patient_id>/              one folder per patient; the folder name is the patient id
    input.nii.gz             non-enhanced volume, (X, Y, Z) or (X, Y); required
    target.nii.gz            Gd-enhanced volume registered to input (same shape); required
    tumor_mask.nii.gz        lesion mask, nonzero = lesion; optional (absent: all False)
    liver_mask.nii.gz        liver mask, nonzero = liver; optional (absent: all False)
    extra_<name>.nii.gz      other registered modalities, e.g. extra_t2.nii.gz; optional, same set for all patients
    meta.json                {"label": "normal" | "hemangioma" | "hcc" | null}; optional (absent: unknown, -1)
.nii works wherever .nii.gz does. Slices are volume[:, :, z]: image rows = first voxel axis, columns = second
(raw voxel axes, no reorientation). Spacing (row_mm, col_mm) comes from the header's pixdim.
"""

#: The files every patient folder needs, the optional masks, and the pattern of extra modalities' stems.
REQUIRED: tuple[str, ...] = ("input", "target")
MASKS: tuple[str, ...] = ("tumor_mask", "liver_mask")
EXTRA_RE = re.compile(r"^extra_([A-Za-z0-9][A-Za-z0-9_-]*)$")
_LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}


def is_layout_stem(stem: str) -> bool:
    """True for the file stems a patient folder may hold: input, target, the masks and ``extra_<name>``."""
    return stem in REQUIRED or stem in MASKS or EXTRA_RE.match(stem) is not None


@dataclass(frozen=True)
class PatientRecord:
    """One patient folder as found by :class:`NiftiPairDataset` (headers only).

    Attributes:
        patient_id: The folder name.
        folder: The folder.
        input: Header of ``input``.
        target: Header of ``target``.
        tumor_mask: Header of ``tumor_mask``, or None when absent.
        liver_mask: Header of ``liver_mask``, or None when absent.
        extras: ``name → header`` of the ``extra_<name>`` files.
        label: Index into :data:`LABELS`, or ``-1``.
        slice_indices: Reported slice index of each file slice ``z``.
    """

    patient_id: str
    folder: Path
    input: VolumeInfo
    target: VolumeInfo
    tumor_mask: VolumeInfo | None
    liver_mask: VolumeInfo | None
    extras: dict[str, VolumeInfo]
    label: int
    slice_indices: tuple[int, ...]

    @property
    def files(self) -> dict[str, Path]:
        """``kind → path`` of every NIfTI file of the patient (``"input"``, ``"target"``, ``"extra_t2"``, ...)."""
        out = {"input": self.input.path, "target": self.target.path}
        for kind in MASKS:
            info = getattr(self, kind)
            if info is not None:
                out[kind] = info.path
        out.update({f"extra_{k}": v.path for k, v in self.extras.items()})
        return out


def _parse_meta(path: Path, n_slices: int) -> tuple[int, tuple[int, ...]]:
    """``(label, slice_indices)`` from a ``meta.json``; raise :class:`DataError` naming the file."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{path}: must hold a JSON object, got {type(meta).__name__}")
    name = meta.get("label")
    if name is None or name == "unknown":
        label = UNKNOWN_LABEL
    elif isinstance(name, str) and name in _LABEL_INDEX:
        label = _LABEL_INDEX[name]
    else:
        raise DataError(f"{path}: unknown label {name!r}; expected one of {LABELS}, 'unknown' or null")
    indices = meta.get("slice_indices")
    if indices is None:
        return label, tuple(range(n_slices))
    if (not isinstance(indices, list) or len(indices) != n_slices or len(set(indices)) != n_slices
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices)):
        raise DataError(f"{path}: slice_indices must be a list of {n_slices} distinct non-negative ints "
                        f"(one per slice of input), got {indices!r}")
    return label, tuple(indices)


def _scan_patient_files(folder: Path) -> dict[str, Path]:
    """``stem → path`` of the NIfTI files in a patient folder; refuse duplicates and unknown names."""
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        stem = nifti_stem(entry.name)
        if stem is None or entry.name.startswith("."):
            continue
        if not is_layout_stem(stem):
            raise DataError(f"{entry}: unrecognised file name; a patient folder holds input, target, tumor_mask, "
                            f"liver_mask and extra_<name> (.nii.gz or .nii) and meta.json")
        if stem in found:
            raise DataError(f"{entry}: ambiguous, {found[stem].name} is also present; keep one of them")
        if not entry.is_file():
            raise DataError(f"{entry}: is not a file")
        found[stem] = entry
    return found


def read_patient(folder: Path) -> PatientRecord:
    """The :class:`PatientRecord` of one patient folder: its files' headers and ``meta.json``.

    Raises:
        DataError: naming the file or folder: a missing or unrecognised file, a header problem, shapes that differ
            from ``input``'s, or a bad ``meta.json``.
    """
    files = _scan_patient_files(folder)
    for kind in REQUIRED:
        if kind not in files:
            raise DataError(f"{folder}: missing {kind}.nii.gz (or {kind}.nii); every patient folder needs "
                            f"input and target")
    infos = {stem: read_header(path) for stem, path in files.items()}
    ref = infos["input"]
    for stem, info in infos.items():
        if info.shape != ref.shape:
            raise DataError(f"{info.path}: shape {info.shape} differs from {ref.path.name} shape {ref.shape} "
                            f"(all volumes of a patient must share input's voxel grid)")
    meta_path = folder / "meta.json"
    if meta_path.exists():
        label, slice_indices = _parse_meta(meta_path, ref.shape[2])
    else:
        label, slice_indices = UNKNOWN_LABEL, tuple(range(ref.shape[2]))
    extras = {stem[len("extra_"):]: info for stem, info in sorted(infos.items()) if EXTRA_RE.match(stem)}
    return PatientRecord(patient_id=folder.name, folder=folder, input=ref, target=infos["target"],
                         tumor_mask=infos.get("tumor_mask"), liver_mask=infos.get("liver_mask"), extras=extras,
                         label=label, slice_indices=slice_indices)


__all__ = ["EXTRA_RE", "LAYOUT", "MASKS", "REQUIRED", "PatientRecord", "is_layout_stem", "read_patient"]
