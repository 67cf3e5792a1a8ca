"""The NIfTI folder data source: :class:`NiftiPairDataset` (layout, intensities and checks: :mod:`pixgrl_env.data.nifti`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixgrl_env.data.base import DataError, Pair, PairDataset, PairMeta
from pixgrl_env.data.nifti.layout import MASKS, PatientRecord, read_patient
from pixgrl_env.data.nifti.volume import NIFTI_SUFFIXES, VolumeInfo, read_slice, read_volume

#: Intensity normalisation modes of :class:`NiftiPairDataset`.
NORMALIZATIONS: tuple[str, ...] = ("joint", "independent", "none")
#: Slice selections of :class:`NiftiPairDataset`.
SLICE_SELECTIONS: tuple[str, ...] = ("all", "liver", "tumor")


@dataclass(frozen=True)
class _Scales:
    input: float
    target: float
    extras: dict[str, float]


class NiftiPairDataset(PairDataset):
    """Slice pairs from a folder of per-patient NIfTI volumes (layout and conventions: :mod:`pixgrl_env.data.nifti`).

    Items are the kept slices of every patient, patients in sorted folder-name order, slices in file order.

    Args:
        root: The folder holding one sub-folder per patient.
        normalization: ``"joint"``, ``"independent"`` or ``"none"`` (:mod:`pixgrl_env.data.nifti`).
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
        if any((self.root / f"input{s}").exists() for s in NIFTI_SUFFIXES):
            raise DataError(f"{self.root}: holds input.nii(.gz) itself, so it looks like a patient folder; pass its "
                            f"parent folder as root (layout: root/<patient_id>/input.nii.gz)")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise DataError(f"{self.root}: no patient folders found (layout: root/<patient_id>/input.nii.gz)")
        self._patients: list[PatientRecord] = [read_patient(f) for f in folders]

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
        mask = read_volume(info)
        return [int(z) for z in np.flatnonzero((mask != 0).any(axis=(0, 1)))]

    # ---------------------------------------------------------------- voxel checks and scales

    def _check_patient(self, pi: int) -> _Scales:
        """Read every volume of patient ``pi`` once: check voxels, compute (and cache) the intensity scales."""
        if pi in self._scales:
            return self._scales[pi]
        p = self._patients[pi]

        def scan(info: VolumeInfo) -> float:
            vol = read_volume(info)
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
        for kind in MASKS:
            info = getattr(p, kind)
            if info is not None:
                read_volume(info)  # checked: a readable stream of finite values
        if self.normalization == "joint":
            in_scale = tg_scale
        scales = _Scales(input=in_scale, target=tg_scale, extras=extras)
        self._scales[pi] = scales
        return scales

    def _load_image(self, info: VolumeInfo, z: int, scale: float) -> np.ndarray:
        raw = read_slice(info, z)
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
        raw = read_slice(info, z)
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


__all__ = ["NORMALIZATIONS", "SLICE_SELECTIONS", "NiftiPairDataset"]
