"""The paired-data interface every data source implements, and patient-level splits.

A data source is a sequence of :class:`Pair` items: one 2-D slice pair (non-enhanced input, Gd-enhanced target)
with its masks, class label and metadata. Sources also expose, cheaply and without loading images, the patient
and label of every item, so that patient-level k-fold splits never need to touch pixel data.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: Class labels, indexed by :attr:`Pair.label`. ``-1`` means "unknown" (e.g. user data without labels).
LABELS: tuple[str, ...] = ("normal", "hemangioma", "hcc")
UNKNOWN_LABEL = -1


class DataError(ValueError):
    """A data file or generated pair is malformed. The message names the source and the problem."""


@dataclass(frozen=True)
class PairMeta:
    """Where a pair comes from.

    Attributes:
        patient_id: Identifier of the patient; splits never separate the slices of one patient.
        slice_index: Index of the slice within the patient's volume.
        spacing: In-plane pixel spacing ``(row_mm, col_mm)``.
        source: Human-readable origin (a file path or ``"phantom(seed=…, index=…)"``), used in error messages.
    """

    patient_id: str
    slice_index: int
    spacing: tuple[float, float]
    source: str


@dataclass(frozen=True)
class Pair:
    """One paired slice.

    Attributes:
        input: ``(H, W)`` float32 in [0, 1], the non-enhanced image.
        target: ``(H, W)`` float32 in [0, 1], the Gd-enhanced image registered to ``input``.
        tumor_mask: ``(H, W)`` bool, lesion pixels (all False for a normal slice).
        liver_mask: ``(H, W)`` bool, liver pixels (lesion included).
        label: Index into :data:`LABELS`, or ``-1`` when unknown.
        meta: :class:`PairMeta`.
        extra: Optional further modalities registered to ``input``, name → ``(H, W)`` float32 in [0, 1]; they can
            be fed to an agent as conditioning channels.
        target_clean: Optional noise-free version of ``target``, ``(H, W)`` float32 in [0, 1], normalised exactly as
            ``target`` (same scale and window), for evaluating against the underlying signal rather than one noisy
            acquisition. Only synthetic sources know it (the phantom fills it); None elsewhere.
    """

    input: np.ndarray
    target: np.ndarray
    tumor_mask: np.ndarray
    liver_mask: np.ndarray
    label: int
    meta: PairMeta
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    target_clean: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.input.shape)  # type: ignore[return-value]

    def validate(self) -> Pair:
        """Check shapes, dtypes, ranges and finiteness; raise :class:`DataError` naming the source. Returns self."""
        src = self.meta.source
        images = {"input": self.input, "target": self.target, **{f"extra[{k!r}]": v for k, v in self.extra.items()}}
        if self.target_clean is not None:
            images["target_clean"] = self.target_clean
        for name, img in images.items():
            if not isinstance(img, np.ndarray) or img.ndim != 2:
                raise DataError(f"{src}: {name} must be a 2-D array, got {type(img).__name__} "
                                f"with shape {getattr(img, 'shape', None)}")
            if img.size == 0:
                raise DataError(f"{src}: {name} is empty (shape {img.shape})")
            if img.shape != self.input.shape:
                raise DataError(f"{src}: {name} has shape {img.shape} but input has shape {self.input.shape}")
            if img.dtype != np.float32:
                raise DataError(f"{src}: {name} must be float32, got {img.dtype}")
            bad = ~np.isfinite(img)
            if bad.any():
                raise DataError(f"{src}: {name} contains {int(bad.sum())} NaN/Inf values")
            lo, hi = float(img.min()), float(img.max())
            if lo < 0.0 or hi > 1.0:
                raise DataError(f"{src}: {name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
        for name, mask in (("tumor_mask", self.tumor_mask), ("liver_mask", self.liver_mask)):
            if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != self.input.shape:
                raise DataError(f"{src}: {name} must be a bool array of shape {self.input.shape}, got "
                                f"{getattr(mask, 'dtype', type(mask).__name__)} {getattr(mask, 'shape', None)}")
        if self.label != UNKNOWN_LABEL and not 0 <= self.label < len(LABELS):
            raise DataError(f"{src}: label {self.label} is not -1 or an index into {LABELS}")
        return self


class PairDataset(Sequence[Pair], abc.ABC):
    """A finite, indexable source of :class:`Pair` items.

    Subclasses implement :meth:`__len__`, :meth:`__getitem__` and :meth:`item_index`. Items must be deterministic:
    ``ds[i]`` returns the same arrays every time.
    """

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        ...

    @abc.abstractmethod
    def item_index(self) -> list[tuple[str, int]]:
        """``(patient_id, label)`` for every item, in item order, computed without loading pixel data."""

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """The common ``(H, W)`` of all items, or None when items differ in size (the env then needs a crop)."""
        return None

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__} index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} out of range for {n} items")
        return int(index) % n


class Subset(PairDataset):
    """The items ``indices`` of ``dataset``, in that order."""

    def __init__(self, dataset: PairDataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        return self.dataset[self.indices[self._check_index(index)]]

    def item_index(self) -> list[tuple[str, int]]:
        full = self.dataset.item_index()
        return [full[i] for i in self.indices]

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self.dataset.image_shape

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, n={len(self)})"


#: Patient-level splits. ``"test"`` is fold ``fold``; ``"val"`` is the next fold, ``(fold + 1) % n_folds``, carved
#: from the training folds; ``"train"`` is every other fold; ``"trainval"`` is train and val together (the data of
#: a model whose hyper-parameters are already chosen); ``"all"`` is everything.
SPLITS = ("train", "val", "trainval", "test", "all")


def patient_folds(dataset: PairDataset, n_folds: int = 5, seed: int = 0) -> list[list[int]]:
    """Assign whole patients to ``n_folds`` folds, stratified by label; return the item indices of each fold.

    Patients are shuffled with ``seed`` within each label and dealt round-robin, so every fold gets a similar class
    mix and no patient is split between folds.
    """
    if not isinstance(n_folds, int) or n_folds < 2:
        raise ValueError(f"n_folds must be an int >= 2, got {n_folds!r}")
    index = dataset.item_index()
    patient_label: dict[str, int] = {}
    for pid, label in index:
        patient_label.setdefault(pid, label)
    if len(patient_label) < n_folds:
        raise ValueError(f"cannot make {n_folds} patient-level folds from {len(patient_label)} patients")
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    deal = 0
    for label in sorted(set(patient_label.values())):
        pids = sorted(p for p, lab in patient_label.items() if lab == label)
        for pid in (pids[i] for i in rng.permutation(len(pids))):
            fold_of[pid] = deal % n_folds
            deal += 1
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for i, (pid, _) in enumerate(index):
        folds[fold_of[pid]].append(i)
    return folds


def split_dataset(dataset: PairDataset, split: str = "train", fold: int = 0, n_folds: int = 5,
                  seed: int = 0) -> PairDataset:
    """Patient-level k-fold split (see :data:`SPLITS`): ``"test"`` is fold ``fold``, ``"val"`` fold
    ``(fold + 1) % n_folds``, ``"train"`` the remaining folds, ``"trainval"`` train and val, ``"all"`` everything.

    Every split is a pure function of ``(dataset.item_index(), fold, n_folds, seed)``, so a checkpoint's recorded
    split names exactly the patients it saw.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        return dataset
    if not isinstance(fold, int) or not 0 <= fold < n_folds:
        raise ValueError(f"fold must be an int in [0, {n_folds}), got {fold!r}")
    folds = patient_folds(dataset, n_folds, seed)
    val = (fold + 1) % n_folds
    keep = {"test": {fold}, "val": {val}, "train": set(range(n_folds)) - {fold, val},
            "trainval": set(range(n_folds)) - {fold}}[split]
    return Subset(dataset, sorted(i for k, f in enumerate(folds) if k in keep for i in f))
