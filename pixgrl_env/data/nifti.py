"""Users' own data: one folder per patient holding NIfTI volumes. Also the shipped sample and a folder writer.

Folder layout (also in :data:`LAYOUT`)::

    root/
      <patient_id>/                  one folder per patient; the folder name is the patient id
        input.nii.gz                 non-enhanced volume (required)
        target.nii.gz                Gd-enhanced volume, registered (resampled) to input's grid (required)
        tumor_mask.nii.gz            lesion mask, nonzero = lesion (optional)
        liver_mask.nii.gz            liver mask, nonzero = liver (optional)
        extra_<name>.nii.gz          further registered modalities, e.g. extra_t2.nii.gz (optional)
        meta.json                    {"label": "normal" | "hemangioma" | "hcc" | null} (optional)

``.nii`` (uncompressed) works everywhere ``.nii.gz`` does. Hidden folders (``.*``) and plain files in ``root`` are
skipped. Inside a patient folder, files that are not NIfTI are ignored, but an unrecognised NIfTI name (say a typo
``targt.nii.gz``) is an error.

Volumes are 3-D ``(X, Y, Z)`` or 2-D ``(X, Y)`` (one slice); trailing axes of length 1 (``(X, Y, Z, 1)``) are
dropped; a true 4-D series is refused (pick one time frame first). Every volume of a patient must have the shape of
its ``input``. All patients must have the same ``extra_<name>`` set.

Orientation: raw voxel axes, no reorientation. Slice ``z`` is ``volume[:, :, z]``; image row ``r`` and column ``c`` of
an item are voxel ``(i=r, j=c, k=z)`` of the file. So rows run along the first voxel axis, which is not how NIfTI
viewers display it (they map axes to world space with the affine; plots may look transposed or flipped). This keeps
writing results back exact: put a synthesized ``(H, W)`` image at ``vol[:, :, z]`` of an array shaped like
``input`` and save it with ``input``'s affine and header (:meth:`NiftiPairDataset.locate` gives the file and ``z``).

Intensities (``normalization``):

- ``"joint"`` (default): input and target are both divided by one per-patient scale, the ``percentile``-th
  percentile of the target volume's positive voxels, then clipped to [0, 1]. The target/input ratio (the physical
  enhancement) is kept wherever neither saturates.
- ``"independent"``: each volume is divided by its own positive-voxel percentile, then clipped to [0, 1].
- ``"none"``: the files must already be in [0, 1]; values outside raise :class:`~pixgrl_env.data.base.DataError`.

In the two windowed modes the clip is the documented intensity window: the brightest ``100 - percentile`` % of
positive voxels saturate at 1, and negative values (interpolation undershoot from resampling) become 0. Extra
modalities are always windowed by their own percentile (they have other units than input/target). Percentiles use
NumPy's default (linear) method over the whole volume. :meth:`NiftiPairDataset.intensity_scale` returns the divisors.

Masks: any nonzero voxel is True. An absent ``tumor_mask`` gives an all-False mask and an absent ``liver_mask``
an all-False mask too: "not annotated", never a guess (region metrics over such a mask are empty). When a liver mask
is present the tumour mask is OR-ed into it (the :class:`~pixgrl_env.data.base.Pair` contract: liver includes lesion).
:attr:`NiftiPairDataset.patients` says which patients have which masks.

``meta.json`` keys: ``"label"`` (a name in :data:`~pixgrl_env.data.base.LABELS`, or ``null``/absent/``"unknown"``
for unknown, label ``-1``); ``"slice_indices"`` (optional list of ``Z`` distinct ints: the original slice numbers
reported as :attr:`PairMeta.slice_index`, default ``0..Z-1``; :func:`write_nifti_folder` writes it when a patient's
slices were not ``0..Z-1``). Other keys are free-form provenance and are ignored.

Checks: the constructor reads headers, masks (only when ``slices`` needs them) and ``meta.json``, so a missing or
unreadable file, a header-level corrupt or truncated ``.nii``, a shape mismatch, a zero-size or 4-D volume, a
non-real dtype, non-positive spacing or a bad ``meta.json`` raise :class:`~pixgrl_env.data.base.DataError` at
once. Voxel-level problems (NaN/Inf, an all-zero volume, values outside [0, 1] for ``"none"``, a corrupt ``.nii.gz``
data stream) need the voxels: each patient's volumes are read in full and checked once, on the first access to one
of its items, or for all patients in the constructor with ``eager=True``. Every error names the file.

Speed: items are read one slice at a time through nibabel's ``dataobj``; ``.nii`` files are memory-mapped (fast
random access), while reading slice ``z`` of a ``.nii.gz`` decompresses the file up to that slice. Use ``.nii`` for
large volumes in training loops.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from pixgrl_env.data.base import LABELS, UNKNOWN_LABEL, DataError, Pair, PairDataset, PairMeta

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

#: Intensity normalisation modes of :class:`NiftiPairDataset`.
NORMALIZATIONS: tuple[str, ...] = ("joint", "independent", "none")
#: Slice selections of :class:`NiftiPairDataset`.
SLICE_SELECTIONS: tuple[str, ...] = ("all", "liver", "tumor")
#: Sample data sets shipped in ``pixgrl_env/data/real/``.
SAMPLES: tuple[str, ...] = ("breast_dce",)
#: Slice thickness written by :func:`write_nifti_folder` when not given.
DEFAULT_SLICE_MM = 4.0

_SUFFIXES = (".nii.gz", ".nii")
_REQUIRED = ("input", "target")
_MASKS = ("tumor_mask", "liver_mask")
_EXTRA_RE = re.compile(r"^extra_([A-Za-z0-9][A-Za-z0-9_-]*)$")
_LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}


def _nifti_stem(name: str) -> str | None:
    """``"input"`` for ``"input.nii.gz"`` / ``"input.nii"``; None for non-NIfTI names."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


@dataclass(frozen=True)
class VolumeInfo:
    """Header facts about one NIfTI file, read without loading voxels.

    Attributes:
        path: The file.
        shape: ``(X, Y, Z)``; a 2-D file has ``Z == 1``.
        file_ndim: Number of axes stored in the file (2, 3, or more with trailing length-1 axes).
        spacing: ``(row_mm, col_mm)`` = pixdim of the first two voxel axes.
        slice_mm: pixdim of the third axis (1.0 for a 2-D file).
    """

    path: Path
    shape: tuple[int, int, int]
    file_ndim: int
    spacing: tuple[float, float]
    slice_mm: float

    def slice_index(self, z: int) -> tuple[Any, ...]:
        """The ``dataobj`` index of slice ``z``."""
        if self.file_ndim == 2:
            return (slice(None), slice(None))
        return (slice(None), slice(None), z) + (0,) * (self.file_ndim - 3)


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
        for kind in _MASKS:
            info = getattr(self, kind)
            if info is not None:
                out[kind] = info.path
        out.update({f"extra_{k}": v.path for k, v in self.extras.items()})
        return out


@dataclass(frozen=True)
class _Scales:
    input: float
    target: float
    extras: dict[str, float]


def _read_header(path: Path) -> VolumeInfo:
    """Open ``path`` header-only and check its geometry and dtype; raise :class:`DataError` naming the file."""
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for corrupt files (ImageFileError, EOFError, OSError, ...)
        raise DataError(f"{path}: cannot read NIfTI file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise DataError(f"{path}: not a NIfTI-1/2 image (nibabel read it as {type(img).__name__})")
    shape = tuple(int(n) for n in img.shape)
    if len(shape) < 2:
        raise DataError(f"{path}: volume must be 2-D (X, Y) or 3-D (X, Y, Z), got shape {shape}")
    if len(shape) > 3 and any(n != 1 for n in shape[3:]):
        raise DataError(f"{path}: {len(shape)}-D volume of shape {shape} is not supported; volumes must be 2-D "
                        f"or 3-D (save one time frame / channel per file)")
    if any(n == 0 for n in shape):
        raise DataError(f"{path}: empty volume (shape {shape} has a zero-length axis)")
    dtype = img.header.get_data_dtype()
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise DataError(f"{path}: voxel type {dtype} is not supported (need a real integer, float or bool type)")
    zooms = tuple(float(z) for z in img.header.get_zooms())
    spacing = (zooms[0], zooms[1])
    slice_mm = zooms[2] if len(shape) >= 3 else 1.0
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise DataError(f"{path}: in-plane voxel spacing (pixdim) must be finite and positive, got {spacing}")
    # (nibabel already replaces a zero pixdim by 1 and a negative one by its absolute value, with a warning)
    if path.name.endswith(".nii") and not path.name.endswith(".nii.gz"):
        needed = int(img.dataobj.offset) + int(np.prod(shape)) * dtype.itemsize
        size = path.stat().st_size
        if size < needed:
            raise DataError(f"{path}: file is truncated ({size} bytes, header needs {needed})")
    shape3 = (shape[0], shape[1], shape[2] if len(shape) >= 3 else 1)
    return VolumeInfo(path=path, shape=shape3, file_ndim=len(shape), spacing=spacing, slice_mm=slice_mm)


def _read_slice(info: VolumeInfo, z: int) -> np.ndarray:
    """Slice ``z`` of the file as float32 ``(X, Y)`` (raw values, scl_slope/inter applied)."""
    try:
        arr = np.asarray(nib.load(str(info.path)).dataobj[info.slice_index(z)], dtype=np.float32)
    except Exception as exc:
        raise DataError(f"{info.path}: cannot read voxel data of slice z={z} ({type(exc).__name__}: {exc})") from exc
    if arr.shape != info.shape[:2]:
        raise DataError(f"{info.path}: slice z={z} has shape {arr.shape}, header says {info.shape[:2]}")
    return arr


def _read_volume(info: VolumeInfo) -> np.ndarray:
    """The whole file as float32 ``(X, Y, Z)`` (raw values)."""
    try:
        arr = nib.load(str(info.path)).get_fdata(dtype=np.float32, caching="unchanged")
    except Exception as exc:
        raise DataError(f"{info.path}: cannot read voxel data ({type(exc).__name__}: {exc})") from exc
    if arr.size != int(np.prod(info.shape)):
        raise DataError(f"{info.path}: read {arr.shape} voxels, header says {info.shape}")
    return arr.reshape(info.shape)


def _check_finite(arr: np.ndarray, path: Path, where: str = "") -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{path}: {int(bad.sum())} NaN/Inf voxel values{where}")


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
        stem = _nifti_stem(entry.name)
        if stem is None or entry.name.startswith("."):
            continue
        if stem not in _REQUIRED and stem not in _MASKS and not _EXTRA_RE.match(stem):
            raise DataError(f"{entry}: unrecognised file name; a patient folder holds input, target, tumor_mask, "
                            f"liver_mask and extra_<name> (.nii.gz or .nii) and meta.json")
        if stem in found:
            raise DataError(f"{entry}: ambiguous, {found[stem].name} is also present; keep one of them")
        if not entry.is_file():
            raise DataError(f"{entry}: is not a file")
        found[stem] = entry
    return found


def _read_patient(folder: Path) -> PatientRecord:
    files = _scan_patient_files(folder)
    for kind in _REQUIRED:
        if kind not in files:
            raise DataError(f"{folder}: missing {kind}.nii.gz (or {kind}.nii); every patient folder needs "
                            f"input and target")
    infos = {stem: _read_header(path) for stem, path in files.items()}
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
    extras = {stem[len("extra_"):]: info for stem, info in sorted(infos.items()) if _EXTRA_RE.match(stem)}
    return PatientRecord(patient_id=folder.name, folder=folder, input=ref, target=infos["target"],
                         tumor_mask=infos.get("tumor_mask"), liver_mask=infos.get("liver_mask"), extras=extras,
                         label=label, slice_indices=slice_indices)


class NiftiPairDataset(PairDataset):
    """Slice pairs from a folder of per-patient NIfTI volumes (layout and conventions: module docstring).

    Items are the kept slices of every patient, patients in sorted folder-name order, slices in file order.

    Args:
        root: The folder holding one sub-folder per patient.
        normalization: ``"joint"``, ``"independent"`` or ``"none"`` (module docstring).
        percentile: Percentile in (0, 100] of positive voxels that maps to 1 in the windowed modes.
        slices: Which slices become items: ``"all"``; ``"liver"`` (slices whose liver mask has a voxel; every
            patient needs a liver mask); ``"tumor"`` (slices whose tumour mask has a voxel; patients without a
            tumour mask contribute none).
        eager: Read and check every volume in the constructor (NaN/Inf, all-zero, range, intensity scales) instead
            of on the first access to each patient. Use it to validate a new folder.

    Raises:
        DataError: Malformed data (the message names the file and the problem), or no slice selected.
        ValueError: Bad arguments.
    """

    def __init__(self, root: str | Path, normalization: str = "joint", percentile: float = 99.5,
                 slices: str = "all", eager: bool = False):
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if slices not in SLICE_SELECTIONS:
            raise ValueError(f"slices must be one of {SLICE_SELECTIONS}, got {slices!r}")
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
            raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
        self.root = Path(root)
        self.normalization = normalization
        self.percentile = float(percentile)
        self.slices = slices
        self._scales: dict[int, _Scales] = {}

        if not self.root.is_dir():
            raise DataError(f"{self.root}: data root does not exist or is not a folder")
        if any((self.root / f"input{s}").exists() for s in _SUFFIXES):
            raise DataError(f"{self.root}: holds input.nii(.gz) itself, so it looks like a patient folder; pass its "
                            f"parent folder as root (layout: root/<patient_id>/input.nii.gz)")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise DataError(f"{self.root}: no patient folders found (layout: root/<patient_id>/input.nii.gz)")
        self._patients: list[PatientRecord] = [_read_patient(f) for f in folders]

        extra_sets = {tuple(p.extras) for p in self._patients}
        if len(extra_sets) > 1:
            first = self._patients[0]
            for p in self._patients[1:]:
                if tuple(p.extras) != tuple(first.extras):
                    raise DataError(f"{p.folder}: has extra modalities {sorted(p.extras)} but {first.folder} has "
                                    f"{sorted(first.extras)}; all patients need the same extra_<name> files")

        self._items: list[tuple[int, int]] = []
        for pi, p in enumerate(self._patients):
            for z in self._select(p):
                self._items.append((pi, z))
        if not self._items:
            raise DataError(f"{self.root}: no slices selected (slices={slices!r})")
        shapes = {self._patients[pi].input.shape[:2] for pi, _ in self._items}
        self._image_shape: tuple[int, int] | None = shapes.pop() if len(shapes) == 1 else None
        if eager:
            for pi in range(len(self._patients)):
                self._check_patient(pi)

    def _select(self, p: PatientRecord) -> list[int]:
        n = p.input.shape[2]
        if self.slices == "all":
            return list(range(n))
        kind = "liver_mask" if self.slices == "liver" else "tumor_mask"
        info: VolumeInfo | None = getattr(p, kind)
        if info is None:
            if self.slices == "liver":
                raise DataError(f"{p.folder}: slices='liver' needs liver_mask.nii.gz (or .nii), which is missing")
            return []
        mask = _read_volume(info)
        _check_finite(mask, info.path)
        return [int(z) for z in np.flatnonzero((mask != 0).any(axis=(0, 1)))]

    # ---------------------------------------------------------------- voxel checks and scales

    def _check_patient(self, pi: int) -> _Scales:
        """Read every volume of patient ``pi`` once: check voxels, compute (and cache) the intensity scales."""
        if pi in self._scales:
            return self._scales[pi]
        p = self._patients[pi]

        def scan(info: VolumeInfo) -> float:
            vol = _read_volume(info)
            _check_finite(vol, info.path)
            if not vol.any():
                raise DataError(f"{info.path}: empty volume (all voxels are zero)")
            if self.normalization == "none":
                lo, hi = float(vol.min()), float(vol.max())
                if lo < 0.0 or hi > 1.0:
                    raise DataError(f"{info.path}: values in [{lo:.4g}, {hi:.4g}] but normalization='none' needs "
                                    f"data in [0, 1]; use 'joint' or 'independent'")
                return 1.0
            positive = vol[vol > 0]
            if positive.size == 0:
                raise DataError(f"{info.path}: no positive voxels, so no intensity window can be computed")
            return float(np.percentile(positive, self.percentile))

        in_scale = scan(p.input)
        tg_scale = scan(p.target)
        extras = {name: scan(info) for name, info in p.extras.items()}
        for kind in _MASKS:
            info = getattr(p, kind)
            if info is not None:
                _check_finite(_read_volume(info), info.path)
        if self.normalization == "joint":
            in_scale = tg_scale
        scales = _Scales(input=in_scale, target=tg_scale, extras=extras)
        self._scales[pi] = scales
        return scales

    def _load_image(self, info: VolumeInfo, z: int, scale: float) -> np.ndarray:
        raw = _read_slice(info, z)
        _check_finite(raw, info.path, f" in slice z={z}")
        if self.normalization == "none":
            lo, hi = float(raw.min()), float(raw.max())
            if lo < 0.0 or hi > 1.0:
                raise DataError(f"{info.path}: slice z={z} has values in [{lo:.4g}, {hi:.4g}] but "
                                f"normalization='none' needs data in [0, 1]")
            return raw
        return np.clip(raw.astype(np.float64) / scale, 0.0, 1.0).astype(np.float32)

    @staticmethod
    def _load_mask(info: VolumeInfo | None, z: int, shape: tuple[int, int]) -> np.ndarray:
        if info is None:
            return np.zeros(shape, dtype=bool)
        raw = _read_slice(info, z)
        _check_finite(raw, info.path, f" in slice z={z}")
        return raw != 0

    # ---------------------------------------------------------------- PairDataset

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        pi, z = self._items[self._check_index(index)]
        p = self._patients[pi]
        scales = self._check_patient(pi)
        shape = p.input.shape[:2]
        tumor = self._load_mask(p.tumor_mask, z, shape)
        liver = self._load_mask(p.liver_mask, z, shape)
        if p.liver_mask is not None:
            liver |= tumor
        pair = Pair(
            input=self._load_image(p.input, z, scales.input),
            target=self._load_image(p.target, z, scales.target),
            tumor_mask=tumor,
            liver_mask=liver,
            label=p.label,
            meta=PairMeta(patient_id=p.patient_id, slice_index=p.slice_indices[z], spacing=p.input.spacing,
                          source=f"{p.input.path}[z={z}]"),
            extra={name: self._load_image(info, z, scales.extras[name]) for name, info in p.extras.items()},
        )
        return pair.validate()

    def item_index(self) -> list[tuple[str, int]]:
        return [(self._patients[pi].patient_id, self._patients[pi].label) for pi, _ in self._items]

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._image_shape

    # ---------------------------------------------------------------- extras for users and writers-back

    @property
    def patients(self) -> list[PatientRecord]:
        """One record per patient folder (header facts, mask availability, label), in item order."""
        return list(self._patients)

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Names of the extra modalities (``Pair.extra`` keys), the same for every patient."""
        return tuple(self._patients[0].extras)

    def locate(self, index: int) -> tuple[Path, int]:
        """``(input file, z)`` of item ``index``: its image is ``volume[:, :, z]`` of that file, raw voxel axes."""
        pi, z = self._items[self._check_index(index)]
        return self._patients[pi].input.path, z

    def intensity_scale(self, patient_id: str) -> tuple[float, float]:
        """``(input_scale, target_scale)``: file value ≈ normalised value × scale (where not clipped).

        Reads the patient's volumes on first use. ``(1.0, 1.0)`` for ``normalization="none"``.
        """
        for pi, p in enumerate(self._patients):
            if p.patient_id == patient_id:
                s = self._check_patient(pi)
                return s.input, s.target
        raise KeyError(f"no patient {patient_id!r} in {self.root}")

    def __repr__(self) -> str:
        return (f"NiftiPairDataset(root={str(self.root)!r}, normalization={self.normalization!r}, "
                f"percentile={self.percentile:g}, slices={self.slices!r}, patients={len(self._patients)}, "
                f"items={len(self)})")


# -------------------------------------------------------------------- writing


def _check_patient_id(pid: str) -> None:
    if (not isinstance(pid, str) or not pid or pid in (".", "..") or pid.startswith(".") or "/" in pid
            or "\\" in pid or "\0" in pid):
        raise ValueError(f"patient_id {pid!r} cannot be used as a folder name")


def _save(volume: np.ndarray, affine: np.ndarray, path: Path) -> None:
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
        _check_patient_id(pid)
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
                stem = _nifti_stem(entry.name)
                layout_file = stem is not None and (stem in _REQUIRED or stem in _MASKS or _EXTRA_RE.match(stem))
                if entry.is_file() and (layout_file or entry.name == "meta.json"):
                    entry.unlink()
        _save(stack(lambda pr: pr.input, np.float32), affine, folder / "input.nii.gz")
        _save(stack(lambda pr: pr.target, np.float32), affine, folder / "target.nii.gz")
        for kind in _MASKS:
            mask = stack(lambda pr, k=kind: getattr(pr, k), np.uint8)
            if mask.any():
                _save(mask, affine, folder / f"{kind}.nii.gz")
        for name in sorted(first.extra):
            if not _EXTRA_RE.match(f"extra_{name}"):
                raise ValueError(f"extra modality name {name!r} cannot be used in a file name")
            _save(stack(lambda pr, n=name: pr.extra[n], np.float32), affine, folder / f"extra_{name}.nii.gz")
        meta: dict[str, Any] = {"label": LABELS[first.label] if first.label != UNKNOWN_LABEL else None}
        if indices != list(range(len(indices))):
            meta["slice_indices"] = [int(i) for i in indices]
        meta["written_by"] = f"pixgrl_env.data.nifti.write_nifti_folder from {type(dataset).__name__}"
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        written.append(folder)
    return written


# -------------------------------------------------------------------- shipped samples


def sample_data_dir(name: str) -> Path:
    """The folder of a sample data set shipped with the package (``pixgrl_env/data/real/<name>``).

    Raises:
        ValueError: ``name`` is not in :data:`SAMPLES`.
        DataError: The folder is missing from this installation.
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample data set {name!r}; expected one of {SAMPLES}")
    path = Path(__file__).resolve().parent / "real" / name
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
    _check_patient_id(patient_id)
    folder = Path(out_dir) / patient_id
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder}: patient folder already exists; pass overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    pre = data[list(pre_frames)].mean(axis=0).astype(np.float32)
    post = data[list(post_frames)].mean(axis=0).astype(np.float32)
    _save(pre[:, :, None], np.eye(4), folder / "input.nii.gz")
    _save(post[:, :, None], np.eye(4), folder / "target.nii.gz")
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


__all__ = [
    "DEFAULT_SLICE_MM", "LAYOUT", "NORMALIZATIONS", "SAMPLES", "SLICE_SELECTIONS", "NiftiPairDataset",
    "PatientRecord", "VolumeInfo", "build_breast_dce_sample", "sample_data_dir", "write_nifti_folder",
]
