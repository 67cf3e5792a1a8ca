"""The phantom as a :class:`~pixgrl_env.data.base.PairDataset`: options, patients, items and normalisation.

Normalisation to float32 [0, 1] (``docs/phantom.md``, "Normalisation"; the scales are computed by
:class:`~pixgrl_env.data.phantom.render.SliceRenderer`): ``"joint"`` divides input and target by one scale, the
99.5th percentile of the target inside the body, so the physical enhancement ratio is kept (liver target/input ≈
1.9); ``"independent"`` divides each image by its own 99.5th body percentile. Values above the scale (the brightest
0.5 % of the body, mostly vessels) are then clipped to 1: this is the intensity window of the display/export,
applied on purpose, like a DICOM window. Each pair's ``target_clean`` is the noise-free target divided by the same
scale and clipped by the same window, so it equals ``target`` exactly when ``noise=False``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from pixgrl_env.data.base import LABELS, Pair, PairDataset, PairMeta
from pixgrl_env.data.phantom.fields import SmoothFields
from pixgrl_env.data.phantom.patient import CLASS_TAG, Patient, make_patient, rng
from pixgrl_env.data.phantom.raster import Grid
from pixgrl_env.data.phantom.render import PhantomSlice, SliceRenderer
from pixgrl_env.data.phantom.tissues import LESION_TISSUES, LIVER_TISSUES, tissue_lut
from pixgrl_env.data.phantom.version import PHANTOM_VERSION

__all__ = ["NORMALIZATIONS", "PHASES", "PhantomDataset", "scale_class_counts"]

#: Target phases.
PHASES: tuple[str, ...] = ("portal_venous", "delayed")
#: Normalisations of input and target (see the module docstring).
NORMALIZATIONS: tuple[str, ...] = ("joint", "independent")

_FLOAT = np.float32
_CACHE_PATIENTS = 1024


def scale_class_counts(class_counts: Sequence[int], n_patients: int) -> tuple[int, ...]:
    """Scale ``class_counts`` to sum to ``n_patients``, keeping the proportions (largest-remainder rounding).

    Ties in the remainders go to the later class (HCC before hemangioma before normal with the default order).

    Args:
        class_counts: Patients per class, non-negative, with a positive sum.
        n_patients: The wanted total, >= 1.

    Returns:
        A tuple of the same length summing to ``n_patients``; e.g. ``(75, 100, 150), 10 → (2, 3, 5)``.
    """
    total = sum(class_counts)
    exact = [c * n_patients / total for c in class_counts]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - counts[k]), -k))
    for k in order[: n_patients - sum(counts)]:
        counts[k] += 1
    return tuple(counts)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class PhantomDataset(PairDataset):
    """Procedural paired liver MR slices; see :mod:`pixgrl_env.data.phantom` for the physics.

    Items are ordered patient by patient: item ``i`` is slice ``i % slices_per_patient`` of patient
    ``i // slices_per_patient``. Patients' classes are a seeded permutation of the class list.

    Args:
        n_patients: Number of patients. ``None`` (default) uses ``sum(class_counts)`` (325 with the paper's
            counts). Otherwise ``class_counts`` is scaled to this total keeping its proportions
            (:func:`scale_class_counts`); the effective counts are in :attr:`class_counts`.
        slices_per_patient: Axial slices per patient, evenly spread over the central 80 % of the liver.
        size: Image side in pixels (``size × size``), >= 32.
        seed: Non-negative int; the dataset is a pure function of the seed, the options and :attr:`version`.
        class_counts: Patients per class in :data:`~pixgrl_env.data.base.LABELS` order (normal, hemangioma, hcc);
            default the paper's (75, 100, 150).
        phase: ``"portal_venous"`` (default) or ``"delayed"`` target.
        normalization: ``"joint"`` (one scale for input and target) or ``"independent"``; see the module docstring.
        misregistration_px: Maximum displacement of the target relative to the input, in pixels, in
            [0, size / 8]; one rigid motion per patient. The masks always describe the input.
        fat_suppress_input: Also fat-suppress the non-enhanced input (the target is always fat-suppressed).
        background_mask: Set everything outside the body to exactly 0 (as in masked clinical exports).
        noise: Add Rician noise.
        bias_field: Apply the receive bias field and the B1 flip-angle map (off: both uniform).
        snr_range: ``(low, high)`` range of the pre-contrast liver SNR, 0 < low <= high.
        fov_mm: Field of view in mm; the pixel spacing is ``fov_mm / size``.
        cyst_prob: Probability that a patient (any class) has a simple liver cyst outside the tumour mask.

    Attributes:
        version: The generator's version, :data:`~pixgrl_env.data.phantom.version.PHANTOM_VERSION`: two datasets
            with the same version and arguments hold the same pixels. Record it with results and checkpoints.

    Raises:
        ValueError: For any invalid argument, naming the value and what was expected.
    """

    version: str = PHANTOM_VERSION

    def __init__(
        self,
        n_patients: int | None = None,
        slices_per_patient: int = 8,
        size: int = 256,
        seed: int = 0,
        class_counts: Sequence[int] = (75, 100, 150),
        phase: str = "portal_venous",
        normalization: str = "joint",
        misregistration_px: float = 0.0,
        fat_suppress_input: bool = False,
        background_mask: bool = False,
        noise: bool = True,
        bias_field: bool = True,
        snr_range: tuple[float, float] = (15.0, 40.0),
        fov_mm: float = 380.0,
        cyst_prob: float = 0.0,
    ):
        counts = tuple(class_counts) if isinstance(class_counts, Sequence) else None
        if counts is None or len(counts) != len(LABELS) or not all(_is_int(c) and c >= 0 for c in counts) \
                or sum(counts) <= 0:
            raise ValueError(f"class_counts must be {len(LABELS)} non-negative ints ({', '.join(LABELS)}) with a "
                             f"positive sum, got {class_counts!r}")
        if n_patients is not None and not (_is_int(n_patients) and n_patients >= 1):
            raise ValueError(f"n_patients must be None or an int >= 1, got {n_patients!r}")
        if not (_is_int(slices_per_patient) and slices_per_patient >= 1):
            raise ValueError(f"slices_per_patient must be an int >= 1, got {slices_per_patient!r}")
        if not (_is_int(size) and size >= 32):
            raise ValueError(f"size must be an int >= 32, got {size!r}")
        if not (_is_int(seed) and seed >= 0):
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if not (_is_num(misregistration_px) and 0.0 <= misregistration_px <= size / 8):
            raise ValueError(f"misregistration_px must be a number in [0, size/8 = {size / 8:g}], "
                             f"got {misregistration_px!r}")
        for name, flag in (("fat_suppress_input", fat_suppress_input), ("background_mask", background_mask),
                           ("noise", noise), ("bias_field", bias_field)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {flag!r}")
        snr = tuple(snr_range) if isinstance(snr_range, Sequence) else None
        if snr is None or len(snr) != 2 or not all(_is_num(s) and math.isfinite(s) for s in snr) \
                or not 0 < snr[0] <= snr[1]:
            raise ValueError(f"snr_range must be (low, high) with 0 < low <= high, got {snr_range!r}")
        if not (_is_num(fov_mm) and 100.0 <= fov_mm <= 1000.0):
            raise ValueError(f"fov_mm must be a number in [100, 1000] mm (the body is ~340 mm wide), "
                             f"got {fov_mm!r}")
        if not (_is_num(cyst_prob) and 0.0 <= cyst_prob <= 1.0):
            raise ValueError(f"cyst_prob must be a probability in [0, 1], got {cyst_prob!r}")

        self.n_patients = int(sum(counts)) if n_patients is None else int(n_patients)
        self.class_counts = tuple(int(c) for c in counts) if n_patients is None \
            else scale_class_counts(counts, self.n_patients)
        self.slices_per_patient = int(slices_per_patient)
        self.size = int(size)
        self.seed = int(seed)
        self.phase = phase
        self.normalization = normalization
        self.misregistration_px = float(misregistration_px)
        self.fat_suppress_input = bool(fat_suppress_input)
        self.background_mask = bool(background_mask)
        self.noise = bool(noise)
        self.bias_field = bool(bias_field)
        self.snr_range = (float(snr[0]), float(snr[1]))
        self.fov_mm = float(fov_mm)
        self.cyst_prob = float(cyst_prob)

        self.pixel_mm = self.fov_mm / self.size
        classes = np.repeat(np.arange(len(LABELS)), self.class_counts)
        self._labels = classes[rng(self.seed, CLASS_TAG).permutation(len(classes))].astype(int)
        self._pid_width = max(4, len(str(self.n_patients - 1)))
        self._grid = Grid(self.size, self.fov_mm)
        self._fields = SmoothFields(self.size)
        self._renderer = SliceRenderer(
            self._grid, self._fields, self.seed, phase=self.phase, normalization=self.normalization,
            misregistration_px=self.misregistration_px, fat_suppress_input=self.fat_suppress_input,
            background_mask=self.background_mask, noise=self.noise, bias_field=self.bias_field,
            snr_range=self.snr_range)
        self._cache: OrderedDict[int, Patient] = OrderedDict()
        self._is_tumour = tissue_lut(LESION_TISSUES)
        self._is_liver = tissue_lut(LIVER_TISSUES)

    # ------------------------------------------------------------------ PairDataset interface
    def __len__(self) -> int:
        return self.n_patients * self.slices_per_patient

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        index = self._check_index(index)
        r = self.render(index)
        pre = np.clip(r.pre / r.scale_input, 0.0, 1.0).astype(_FLOAT)
        post = np.clip(r.post / r.scale_target, 0.0, 1.0).astype(_FLOAT)
        post_clean = np.clip(r.post_clean / r.scale_target, 0.0, 1.0).astype(_FLOAT)
        patient, k = divmod(index, self.slices_per_patient)
        meta = PairMeta(patient_id=self.patient_id(patient), slice_index=k, spacing=(self.pixel_mm, self.pixel_mm),
                        source=f"phantom(seed={self.seed}, index={index})")
        return Pair(input=pre, target=post, tumor_mask=self._is_tumour[r.labels], liver_mask=self._is_liver[r.labels],
                    label=int(self._labels[patient]), meta=meta, extra={}, target_clean=post_clean).validate()

    def item_index(self) -> list[tuple[str, int]]:
        """``(patient_id, label)`` per item, in item order, without generating images."""
        return [(self.patient_id(p), int(self._labels[p])) for p in range(self.n_patients)
                for _ in range(self.slices_per_patient)]

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(size, size)``: all items share one shape."""
        return (self.size, self.size)

    # ------------------------------------------------------------------ extra public API
    def patient_id(self, patient: int) -> str:
        """Return the id of patient ``patient`` (0-based), e.g. ``"phantom-0007"``."""
        return f"phantom-{patient:0{self._pid_width}d}"

    def patient_labels(self) -> np.ndarray:
        """``(n_patients,)`` int class label of every patient (index into LABELS)."""
        return self._labels.copy()

    def anatomy(self, index: int) -> np.ndarray:
        """Return the tissue label map of item ``index``: ``(H, W)`` uint8 indices into
        :data:`~pixgrl_env.data.phantom.tissues.TISSUES`.

        The map describes the input geometry; it is cheaper than :meth:`render` (no physics).
        """
        patient, k = divmod(self._check_index(index), self.slices_per_patient)
        pat = self._patient(patient)
        return self._anatomy(pat, float(pat.u[k]))

    def render(self, index: int) -> PhantomSlice:
        """Render item ``index`` before normalisation: label map, raw pre/post signals, noise level, parameters.

        ``ds[index]`` is ``clip(pre / scale_input, 0, 1)`` and ``clip(post / scale_target, 0, 1)`` of this, and its
        ``target_clean`` is ``clip(post_clean / scale_target, 0, 1)``.
        """
        index = self._check_index(index)
        patient, k = divmod(index, self.slices_per_patient)
        pat = self._patient(patient)
        u = float(pat.u[k])
        labels = self._anatomy(pat, u)
        return self._physics(pat, patient, k, u, labels)

    def __repr__(self) -> str:
        return (f"PhantomDataset(n_patients={self.n_patients}, slices_per_patient={self.slices_per_patient}, "
                f"size={self.size}, seed={self.seed}, class_counts={self.class_counts}, phase={self.phase!r}, "
                f"normalization={self.normalization!r}, misregistration_px={self.misregistration_px:g}, "
                f"fat_suppress_input={self.fat_suppress_input}, background_mask={self.background_mask}, "
                f"noise={self.noise}, bias_field={self.bias_field}, snr_range={self.snr_range}, "
                f"fov_mm={self.fov_mm:g}, cyst_prob={self.cyst_prob:g}, version={self.version!r})")

    # ------------------------------------------------------------------ internals
    def _patient(self, p: int) -> Patient:
        """Patient ``p``, drawn once and kept in an LRU cache of ``_CACHE_PATIENTS`` patients."""
        pat = self._cache.get(p)
        if pat is not None:
            self._cache.move_to_end(p)
        else:
            pat = make_patient(self.seed, p, int(self._labels[p]), self.slices_per_patient, self.phase,
                               self.cyst_prob, self._grid, self._fields)
            self._cache[p] = pat
            if len(self._cache) > _CACHE_PATIENTS:
                self._cache.popitem(last=False)
        return pat

    def _anatomy(self, pat: Patient, u: float) -> np.ndarray:
        """The label map of ``pat`` at slice position ``u``."""
        return pat.label_map(self._grid, self._fields, u)

    def _physics(self, pat: Patient, patient: int, k: int, u: float, lab: np.ndarray) -> PhantomSlice:
        """Parameter maps → signals → acquisition for slice ``k`` of patient ``patient`` (label map ``lab``)."""
        return self._renderer(pat, patient, k, u, lab)
