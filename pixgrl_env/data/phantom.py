"""A physics-based phantom of paired axial liver MR slices (non-enhanced → Gd-enhanced, portal-venous, fat-sat).

The clinical data of the paper are not public, so this module synthesises pairs from first principles, following
the numbers of ``shared/phantom-physics.md`` (cited below as §1.x) and its recipe in §1.9:

1. **Anatomy** (§1.7). An axial label map (:data:`TISSUES`) in radiological convention (patient's right on the
   image left, anterior at the top): a squircle-shaped body (about 340 × 260 mm), subcutaneous fat (10–35 mm), an
   abdominal-wall muscle ring, viscera (a smooth mix of bowel and mesenteric fat), stomach, liver (a union of three
   ellipses: right lobe on the image left, medial segment, left lobe crossing the midline anteriorly, about
   150 × 170 mm), spleen (posterolateral left = image right), kidneys (cortex + medulla, in perirenal fat), aorta,
   IVC, portal vein, 4–7 hepatic vessels, vertebra with spinal canal, paraspinal muscles. Geometry is in
   millimetres and rasterised at ``fov_mm / size`` mm per pixel (default 380 mm / 256 = 1.48 mm). Boundaries are
   perturbed by smooth random fields. Each patient's slices sample the central 80 % of its liver's craniocaudal
   extent (13–17 cm), so organ sizes and positions vary smoothly with the slice index.
2. **Lesions** (§1.5), one per lesion patient, a 3-D ellipsoid cut by each slice: the cross-section shrinks toward
   the lesion's ends and is absent beyond them, so some slices of a lesion patient have an empty tumour mask (they
   keep the patient's class label; about 1 in 4 slices shows the lesion with 8 slices per patient). The lesion is
   centred near one slice, on a liver pixel at least one radius from the liver's edge in that slice (or as deep as
   possible for lesions too large to fit), so it is always seen at least once and rarely truncated:

   - *HCC*: diameter 1–10 cm log-uniform; capsule rim 1–3 mm (75 %); necrotic core (80 % above 5 cm, 20 % for
     2–5 cm); "washout": its Gd concentration is solved from the SPGR equation so that the core is 0.55–0.85 ×
     the liver's signal in the PV/delayed target (§1.6 gives 0.82) whatever the jitter, and the capsule's so that
     it is 1.1–1.4 × (enhancing capsule); T1 1050 ms, or 550–700 ms (iso/hyper-intense pre-contrast) in 15 % of
     patients; the background liver is cirrhotic (fine nodular texture of 6–10 %, more irregular surface).
   - *Hemangioma*: lobulated, 0.5–5 cm log-uniform (15 % giant, 5–10 cm, with a central non-enhancing scar);
     peripheral nodular enhancement: 3–8 nodules on the rim whose radius is the fill fraction f of the lesion
     radius, f_PV ~ U(0.3, 0.7), f_delayed ~ U(0.7, 1.0); flash filling (f = 1) for 70 % of lesions < 15 mm.
     Enhancing voxels take the blood-pool concentration (×0.85–1.0 of the aorta's), the rest keep C = 0 and the
     native T1 of 1600 ms.
   - *Normal*: no focal lesion. Optionally (``cyst_prob``) any patient gets a small simple cyst, which is part
     of the liver mask but never of the tumour mask: the tumour mask is the lesion of interest only.

3. **Parameter maps** (§1.1, §1.3, §1.4). Per tissue, nominal 1.5 T T1, T2*, PD and PV/delayed Gd concentration
   (:data:`TISSUE_PARAMS`); per patient, T1/T2*/PD jittered by ±8 % and C by ±20 % (uniform); per slice, a smooth
   Gaussian-random-field texture of 3–5 % on T1, PD and C (6–10 % fine-grained extra texture in cirrhotic livers).
   Tissues may hold fat (``fat_fraction``: fat 1, marrow 0.35, viscera a smooth 0–0.9 map); fat keeps the fat
   relaxation parameters.
4. **Contrast and signal** (§1.2, §1.4). R1 = 1/T1 + r1·C with r1 ~ U(3.3, 5.2) mM⁻¹s⁻¹; spoiled gradient echo
   S = PD·sin(α)(1 − E1)/(1 − cos(α)E1)·exp(−TE/T2*), E1 = exp(−TR·R1), TR ~ U(3.5, 5.5) ms, TE 2 ms,
   α ~ U(10°, 15°) scaled per pixel by a smooth B1 map in [0.9, 1.1] (shared by pre and post). Fat signal is
   multiplied by a fat-suppression factor ~ U(0.05, 0.15) that rises toward the FOV edges (failing B0
   homogeneity) in the target, and in the input only with ``fat_suppress_input``. A 3-tap [1, 2, 1]/4
   point-spread blur softens the rasterised edges. With the defaults, liver enhances ×1.9 in the PV phase,
   vessels ×5.5, the HCC core is darker than liver and the enhanced hemangioma matches the blood pool (§1.6).
5. **Acquisition** (§1.8). A smooth multiplicative receive bias exp(g) (std 0.1–0.2, brighter anteriorly and
   posteriorly) shared by pre and post, with an independent ±3 % perturbation on the post image; Rician noise
   |S + n_r + i·n_i| with σ set so that the pre-contrast liver SNR is ~ U(``snr_range``) (the same σ on the post
   image, whose SNR therefore grows with its signal); optional zero background (``background_mask``).
   Misregistration (``misregistration_px`` > 0) moves the patient between the two breath-holds: the noiseless post
   image is translated by up to 0.7·m px and rotated about the image centre by an angle that moves the body edge
   by up to 0.3·m px, before the coil bias and noise (which are scanner-fixed). The masks and the label map
   always describe the INPUT geometry.
6. **Normalisation** to float32 [0, 1]. ``"joint"`` divides input and target by one scale, the 99.5th percentile
   of the target inside the body, so the physical enhancement ratio is kept (liver target/input ≈ 1.9);
   ``"independent"`` divides each image by its own 99.5th body percentile. Values above the scale (the brightest
   0.5 % of the body, mostly vessels) are then clipped to 1: this is the intensity window of the display/export,
   applied on purpose and documented here, like a DICOM window.

Determinism: everything of a patient (class, anatomy, tissue and sequence parameters, lesion) comes from RNG
streams seeded with ``np.random.SeedSequence([seed, tag, patient, stream])``; everything of one slice (texture,
noise) from ``[seed, tag, patient, slice, stream]``. ``ds[i]`` is therefore the same whatever the access order,
and options such as ``noise`` or ``phase`` change only what they control (same anatomy in both phases, except
that the hemangioma's enhancing part grows with its fill fraction). Smooth random fields are Gaussian-kernel
upsamplings of coarse white noise (two small matrix products); fields that must vary smoothly from slice to slice
(organ boundaries, bias, B1) rotate between two fixed per-patient fields as the slice position changes.

Speed: about 60–80 pairs/s at 256 × 256 on one CPU thread (``benchmarks/bench_phantom.py``).

Example:
    >>> ds = PhantomDataset(n_patients=6, slices_per_patient=4, size=128, seed=1)
    >>> pair = ds[5]
    >>> pair.input.shape, pair.input.dtype, LABELS[pair.label]  # doctest: +SKIP
    ((128, 128), dtype('float32'), 'hcc')
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from pixgrl_env.data.base import LABELS, Pair, PairDataset, PairMeta

__all__ = [
    "LESION_TISSUES",
    "LIVER_TISSUES",
    "NORMALIZATIONS",
    "PHASES",
    "TISSUES",
    "TISSUE_PARAMS",
    "PhantomDataset",
    "PhantomSlice",
    "Tissue",
    "scale_class_counts",
    "spgr_signal",
]

#: Tissue names; the label map of :meth:`PhantomDataset.anatomy` holds indices into this tuple.
TISSUES: tuple[str, ...] = (
    "background", "fat", "muscle", "viscera", "stomach", "liver", "spleen", "kidney_cortex", "kidney_medulla",
    "aorta", "ivc", "portal_vein", "hepatic_vessel", "vertebra", "spinal_canal", "hcc", "hcc_capsule", "necrosis",
    "hemangioma_enhancing", "hemangioma_nonenhancing", "cyst",
)
_T = {name: i for i, name in enumerate(TISSUES)}
#: Tissues that make up the tumour mask (the lesion of interest).
LESION_TISSUES: tuple[str, ...] = ("hcc", "hcc_capsule", "necrosis", "hemangioma_enhancing",
                                   "hemangioma_nonenhancing")
#: Tissues that make up the liver mask: parenchyma, intrahepatic vessels, lesion and cysts (not the main portal vein
#: at the hilum nor the IVC).
LIVER_TISSUES: tuple[str, ...] = ("liver", "hepatic_vessel", *LESION_TISSUES, "cyst")

PHASES: tuple[str, ...] = ("portal_venous", "delayed")
NORMALIZATIONS: tuple[str, ...] = ("joint", "independent")


@dataclass(frozen=True)
class Tissue:
    """Nominal 1.5 T parameters of one tissue.

    Attributes:
        t1_ms: Native T1 of the water compartment (ms).
        t2s_ms: T2* (ms).
        pd: Relative proton density (M0).
        c_pv: Gd concentration in the portal-venous phase (mM).
        c_delayed: Gd concentration in the delayed (3 min) phase (mM).
        fat_fraction: Fraction of the voxel signal from fat (fat relaxation, suppressed by fat-sat).
        texture: Relative amplitude (std) of the smooth intra-tissue texture on T1, PD and C.
    """

    t1_ms: float
    t2s_ms: float
    pd: float
    c_pv: float
    c_delayed: float
    fat_fraction: float = 0.0
    texture: float = 0.04


#: Per-tissue parameters. Sources (phantom-physics.md): T1 §1.1 (1.5 T), T2*/PD §1.4, C §1.3. Values marked
#: "assumed" are not in that file: viscera (bowel wall + contents), IVC (PV-phase mixing), kidney medulla (PV is
#: nephrographic: medulla enhances), hepatic veins (blood pool), marrow split into water + 35 % fat, CSF, HCC
#: capsule T1. The C of "hcc" and "hcc_capsule" here are nominal only: per patient they are solved from the wanted
#: signal ratio to liver (see :meth:`PhantomDataset._draw_tissues`), and "hemangioma_enhancing" takes the blood's.
TISSUE_PARAMS: dict[str, Tissue] = {
    "background": Tissue(1000.0, 100.0, 0.0, 0.0, 0.0, texture=0.0),
    "fat": Tissue(343.0, 40.0, 0.95, 0.05, 0.05, fat_fraction=1.0, texture=0.03),
    "muscle": Tissue(856.0, 25.0, 0.72, 0.2, 0.2, texture=0.03),
    "viscera": Tissue(1000.0, 30.0, 0.80, 0.5, 0.4, texture=0.06),  # assumed; fat fraction is a smooth map
    "stomach": Tissue(3000.0, 200.0, 1.0, 0.0, 0.05, texture=0.03),  # fluid contents
    "liver": Tissue(586.0, 28.0, 0.75, 0.6, 0.45, texture=0.04),
    "spleen": Tissue(1057.0, 40.0, 0.80, 0.7, 0.5, texture=0.03),
    "kidney_cortex": Tissue(966.0, 40.0, 0.85, 1.5, 0.8, texture=0.03),
    "kidney_medulla": Tissue(1412.0, 40.0, 0.85, 1.0, 0.9, texture=0.03),  # C assumed
    "aorta": Tissue(1441.0, 100.0, 0.85, 1.8, 1.0, texture=0.02),
    "ivc": Tissue(1441.0, 100.0, 0.85, 1.6, 1.0, texture=0.02),  # C assumed
    "portal_vein": Tissue(1441.0, 100.0, 0.85, 2.0, 1.0, texture=0.02),
    "hepatic_vessel": Tissue(1441.0, 100.0, 0.85, 1.8, 1.0, texture=0.02),  # C assumed (hepatic veins)
    "vertebra": Tissue(700.0, 30.0, 0.80, 0.3, 0.3, fat_fraction=0.35, texture=0.05),  # assumed
    "spinal_canal": Tissue(3500.0, 200.0, 1.0, 0.0, 0.05, texture=0.01),  # CSF, assumed
    "hcc": Tissue(1050.0, 60.0, 0.78, 0.4, 0.35, texture=0.05),
    "hcc_capsule": Tissue(900.0, 40.0, 0.78, 0.9, 1.0, texture=0.03),  # see note above
    "necrosis": Tissue(3000.0, 200.0, 0.95, 0.0, 0.05, texture=0.03),
    "hemangioma_enhancing": Tissue(1600.0, 150.0, 0.90, 1.6, 1.0, texture=0.03),
    "hemangioma_nonenhancing": Tissue(1600.0, 150.0, 0.90, 0.0, 0.0, texture=0.03),
    "cyst": Tissue(3500.0, 200.0, 1.0, 0.0, 0.05, texture=0.01),
}
assert tuple(TISSUE_PARAMS) == TISSUES

_PATIENT_TAG = 0x50A7
_SLICE_TAG = 0x51CE
_CLASS_TAG = 0xC1A5
# Patient-level RNG streams; each draws a fixed sequence whatever the options.
_S_ANATOMY, _S_TISSUE, _S_SEQUENCE, _S_LESION, _S_CYST, _S_FIELDS = range(6)
# Slice-level streams.
_S_TEXTURE, _S_NOISE = range(2)

_SLICE_SPAN = 0.8  # slices sample u in [-0.8, 0.8] of the liver's half craniocaudal extent
_FLOAT = np.float32


def spgr_signal(pd: Any, r1_per_s: Any, t2s_ms: Any, tr_ms: float, te_ms: float, alpha_rad: Any) -> Any:
    """Spoiled gradient-echo signal, §1.4: ``PD·sin(α)(1 − E1)/(1 − cos(α)E1)·exp(−TE/T2*)``, ``E1 = exp(−TR·R1)``.

    Args:
        pd: Proton density (any broadcastable shape).
        r1_per_s: Longitudinal relaxation rate R1 in s⁻¹ (1/T1 + r1·C).
        t2s_ms: T2* in ms.
        tr_ms: Repetition time in ms.
        te_ms: Echo time in ms.
        alpha_rad: Flip angle in radians (scalar or per-pixel map).

    Returns:
        The signal, broadcast over the inputs.
    """
    e1 = np.exp(-(tr_ms * 1e-3) * r1_per_s)
    return pd * np.sin(alpha_rad) * (1.0 - e1) / (1.0 - np.cos(alpha_rad) * e1) * np.exp(-te_ms / t2s_ms)


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


@dataclass
class PhantomSlice:
    """The raw rendering of one item, before normalisation.

    Attributes:
        labels: ``(H, W)`` uint8 indices into :data:`TISSUES`, input geometry.
        pre: ``(H, W)`` float32, the non-enhanced signal (arbitrary units, ≥ 0) after bias, noise and masking.
        post: ``(H, W)`` float32, the enhanced signal, likewise (misregistered when ``misregistration_px`` > 0).
        pre_clean: ``(H, W)`` float32, ``pre`` without noise.
        post_clean: ``(H, W)`` float32, ``post`` without noise.
        sigma: Noise standard deviation per channel (0 when ``noise=False``).
        scale_input: The divisor applied to ``pre`` before clipping to [0, 1].
        scale_target: The divisor applied to ``post`` before clipping to [0, 1].
        params: Patient and sequence parameters (class, TR, flip angle, r1, SNR, lesion size, ...).
    """

    labels: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    pre_clean: np.ndarray
    post_clean: np.ndarray
    sigma: float
    scale_input: float
    scale_target: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Patient:
    """Everything drawn once per patient (see :meth:`PhantomDataset._patient`)."""

    label: int
    u: np.ndarray  # slice positions in units of the liver's half craniocaudal extent
    geo: dict[str, Any]
    lesion: dict[str, Any] | None
    cyst: dict[str, Any] | None
    t1: np.ndarray  # per tissue, ms
    t2s: np.ndarray
    pd: np.ndarray
    c: np.ndarray  # per tissue, mM, for the dataset's phase
    tex: np.ndarray  # per tissue texture amplitude
    fine_tex: np.ndarray  # per tissue fine (cirrhotic) texture amplitude
    seq: dict[str, float]
    noise_pairs: dict[str, np.ndarray]  # coarse white noise (2, m, m) per patient-level field


def _upsample_matrix(size: int, m: int) -> np.ndarray:
    """Return ``(size, m)`` Gaussian interpolation weights with unit-L2 rows.

    ``U @ N @ U.T`` of white ``(m, m)`` noise ``N`` is a smooth field with unit variance everywhere and a correlation
    length of about ``size / (m - 1)`` pixels.
    """
    h = (size + 2.0 * size / m) / (m - 1)
    centres = -size / m + h * np.arange(m)
    d = (np.arange(size) + 0.5)[:, None] - centres[None, :]
    w = np.exp(-0.5 * (d / (0.75 * h)) ** 2)
    w /= np.sqrt((w**2).sum(axis=1, keepdims=True))
    return w.astype(_FLOAT)


def _small_matmul(a: np.ndarray, b: np.ndarray, budget: int = 200_000) -> np.ndarray:
    """Return ``a @ b``, computed in row blocks of at most ``budget`` multiply-adds each.

    OpenBLAS runs GEMMs below about 2.6e5 multiply-adds on the calling thread; larger ones wake its thread pool,
    which for these tiny products costs 10-100× the arithmetic on a busy machine. Blocking keeps the phantom
    single-threaded and fast whatever the BLAS thread setting.
    """
    rows = max(1, budget // (a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for r in range(0, a.shape[0], rows):
        np.matmul(a[r:r + rows], b, out=out[r:r + rows])
    return out


class PhantomDataset(PairDataset):
    """Procedural paired liver MR slices; see the module docstring for the physics.

    Items are ordered patient by patient: item ``i`` is slice ``i % slices_per_patient`` of patient
    ``i // slices_per_patient``. Patients' classes are a seeded permutation of the class list.

    Args:
        n_patients: Number of patients. ``None`` (default) uses ``sum(class_counts)`` (325 with the paper's
            counts). Otherwise ``class_counts`` is scaled to this total keeping its proportions
            (:func:`scale_class_counts`); the effective counts are in :attr:`class_counts`.
        slices_per_patient: Axial slices per patient, evenly spread over the central 80 % of the liver.
        size: Image side in pixels (``size × size``), >= 32.
        seed: Non-negative int; the dataset is a pure function of the seed and the options.
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

    Raises:
        ValueError: For any invalid argument, naming the value and what was expected.
    """

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
        def _is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def _is_num(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

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
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _CLASS_TAG]))
        self._labels = classes[rng.permutation(len(classes))].astype(int)
        self._pid_width = max(4, len(str(self.n_patients - 1)))
        coord = (np.arange(self.size) + 0.5 - self.size / 2) * self.pixel_mm
        self._x = coord.astype(_FLOAT)  # columns, mm, + = image right = patient left
        self._y = coord.astype(_FLOAT)  # rows, mm, + = posterior
        self._r4 = (((self._x[None, :] ** 2 + self._y[:, None] ** 2) / (self.fov_mm / 2) ** 2) ** 2).astype(_FLOAT)
        self._ap = ((self._y[:, None] / (self.fov_mm / 2)) ** 2 - 0.3).astype(_FLOAT)  # coils anterior/posterior
        self._fat_fraction = np.array([TISSUE_PARAMS[t].fat_fraction for t in TISSUES], dtype=_FLOAT)
        self._up: dict[int, np.ndarray] = {}
        self._cache: OrderedDict[int, _Patient] = OrderedDict()
        lut = np.zeros((3, len(TISSUES)), dtype=bool)
        lut[0, [_T[t] for t in LESION_TISSUES]] = True
        lut[1, [_T[t] for t in LIVER_TISSUES]] = True
        lut[2, 1:] = True
        self._is_tumour, self._is_liver, self._is_body = lut

    # ------------------------------------------------------------------ PairDataset interface
    def __len__(self) -> int:
        return self.n_patients * self.slices_per_patient

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        index = self._check_index(index)
        r = self.render(index)
        pre = np.clip(r.pre / r.scale_input, 0.0, 1.0).astype(_FLOAT)
        post = np.clip(r.post / r.scale_target, 0.0, 1.0).astype(_FLOAT)
        patient, k = divmod(index, self.slices_per_patient)
        meta = PairMeta(patient_id=self.patient_id(patient), slice_index=k, spacing=(self.pixel_mm, self.pixel_mm),
                        source=f"phantom(seed={self.seed}, index={index})")
        return Pair(input=pre, target=post, tumor_mask=self._is_tumour[r.labels], liver_mask=self._is_liver[r.labels],
                    label=int(self._labels[patient]), meta=meta, extra={}).validate()

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
        """Return the tissue label map of item ``index``: ``(H, W)`` uint8 indices into :data:`TISSUES`.

        The map describes the input geometry; it is cheaper than :meth:`render` (no physics).
        """
        patient, k = divmod(self._check_index(index), self.slices_per_patient)
        pat = self._patient(patient)
        return self._anatomy(pat, float(pat.u[k]))

    def render(self, index: int) -> PhantomSlice:
        """Render item ``index`` before normalisation: label map, raw pre/post signals, noise level, parameters.

        ``ds[index]`` is ``clip(pre / scale_input, 0, 1)`` and ``clip(post / scale_target, 0, 1)`` of this.
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
                f"fov_mm={self.fov_mm:g}, cyst_prob={self.cyst_prob:g})")

    # ------------------------------------------------------------------ patient-level draws
    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, *key]))

    def _patient(self, p: int) -> _Patient:
        pat = self._cache.get(p)
        if pat is not None:
            self._cache.move_to_end(p)
        else:
            pat = self._make_patient(p)
            self._cache[p] = pat
            if len(self._cache) > 1024:
                self._cache.popitem(last=False)
        return pat

    def _make_patient(self, p: int) -> _Patient:
        label = int(self._labels[p])
        geo = self._draw_anatomy(self._rng(_PATIENT_TAG, p, _S_ANATOMY), label)
        n = self.slices_per_patient
        u = -_SLICE_SPAN + 2 * _SLICE_SPAN * (np.arange(n) + 0.5) / n + geo["u_offset"]
        seq = self._draw_sequence(self._rng(_PATIENT_TAG, p, _S_SEQUENCE))
        t1, t2s, pd, c, tex, fine = self._draw_tissues(self._rng(_PATIENT_TAG, p, _S_TISSUE), label, seq)
        cyst = self._draw_cyst(self._rng(_PATIENT_TAG, p, _S_CYST), geo)
        rf = self._rng(_PATIENT_TAG, p, _S_FIELDS)
        noise_pairs = {name: rf.standard_normal((2, m, m)).astype(_FLOAT)
                       for name, m in (("shape", 10), ("fine", 24), ("viscera", 14), ("bias", 4), ("b1", 4))}
        noise_pairs["phase"] = rf.uniform(0, 2 * np.pi, 5).astype(_FLOAT)
        pat = _Patient(label, u, geo, None, cyst, t1, t2s, pd, c, tex, fine, seq, noise_pairs)
        pat.lesion = self._draw_lesion(self._rng(_PATIENT_TAG, p, _S_LESION), pat)
        return pat

    def _draw_anatomy(self, r: np.random.Generator, label: int) -> dict[str, Any]:
        """Patient geometry in mm (x: + = image right = patient left; y: + = posterior), §1.7."""
        half = self.fov_mm / 2
        g: dict[str, Any] = {}
        g["u_offset"] = r.uniform(-0.08, 0.08)
        g["body"] = (min(170 * r.uniform(0.88, 1.06), 0.96 * half), min(130 * r.uniform(0.88, 1.08), 0.8 * half),
                     r.uniform(0.55, 0.8), r.uniform(-8, 4))  # a, b, squareness, centre y
        g["fat"] = (r.uniform(10, 30), r.uniform(10, 35), r.uniform(12, 30))  # lateral, anterior, posterior
        g["wall"] = r.uniform(7, 12)
        a, b, _, dy = g["body"]
        yv = dy + 0.36 * b  # vertebral body centre
        g["yv"] = yv
        g["liver_H"] = r.uniform(65, 85)  # half craniocaudal extent, mm (span 13-17 cm)
        g["liver_u0"] = r.uniform(-0.15, 0.15)
        g["rl"] = (-0.33 * a + r.normal(0, 5), dy + 8 + r.normal(0, 5), 75 * r.uniform(0.9, 1.08),
                   85 * r.uniform(0.9, 1.08), r.uniform(-0.25, 0.15))
        g["md"] = (-22 + r.normal(0, 4), dy - 28 + r.normal(0, 4), 45 * r.uniform(0.9, 1.1), 40 * r.uniform(0.9, 1.1),
                   r.uniform(-0.3, 0.3))
        g["ll"] = (8 + r.uniform(-10, 10), dy - 52 + r.uniform(-5, 5), 62 * r.uniform(0.8, 1.15),
                   27 * r.uniform(0.8, 1.2), r.uniform(-0.35, -0.05))
        g["ll_taper"] = r.uniform(0.4, 0.9)
        g["liver_eps"] = r.uniform(0.03, 0.05) + (0.02 if label == 2 else 0.0)  # nodular cirrhotic surface
        g["spleen"] = (0.67 * a + r.uniform(-6, 6), yv - 10 + r.uniform(-8, 8), 45 * r.uniform(0.85, 1.15),
                       20 * r.uniform(0.85, 1.2), -1.2 + r.uniform(-0.15, 0.15), r.uniform(-0.5, 0.0))
        kab = (28 * r.uniform(0.9, 1.1), 20 * r.uniform(0.9, 1.1))
        ku = r.uniform(0.4, 0.9)
        g["kidneys"] = [(-65 + r.uniform(-6, 6), yv + 18 + r.uniform(-6, 6), *kab, -0.9 + r.uniform(-0.2, 0.2),
                         ku + 0.15),
                        (65 + r.uniform(-6, 6), yv + 15 + r.uniform(-6, 6), *kab, 0.9 + r.uniform(-0.2, 0.2), ku)]
        g["cortex_mm"] = r.uniform(6, 8)
        g["stomach"] = (55 + r.uniform(-10, 10), dy - 35 + r.uniform(-8, 8), 38 * r.uniform(0.8, 1.2),
                        28 * r.uniform(0.8, 1.2), r.uniform(0.1, 0.6), r.uniform(-0.9, -0.2))
        g["aorta"] = (14 + r.uniform(-4, 4), yv - 30, r.uniform(10, 12.5))
        g["ivc"] = (-24 + r.uniform(-4, 4), yv - 32, 12 * r.uniform(0.9, 1.15), 9 * r.uniform(0.9, 1.15))
        g["pv"] = (-22 + r.uniform(-5, 5), yv - 55 + r.uniform(-5, 5), r.uniform(6.0, 7.5), r.uniform(-0.3, 0.3))
        vessels = []
        for _ in range(int(r.integers(4, 8))):
            lobe = "rl" if r.random() < 0.75 else "ll"
            ang, rad = r.uniform(0, 2 * np.pi), 0.7 * np.sqrt(r.random())
            d_ang, speed = r.uniform(0, 2 * np.pi), r.uniform(10, 35)
            vessels.append((lobe, rad * np.cos(ang), rad * np.sin(ang), speed * np.cos(d_ang), speed * np.sin(d_ang),
                            r.uniform(2.5, 5.0), r.uniform(1.0, 2.2), r.uniform(0, np.pi)))
        g["vessels"] = vessels
        return g

    def _draw_tissues(self, r: np.random.Generator, label: int, seq: dict[str, float]) -> tuple[np.ndarray, ...]:
        """Per-tissue parameter vectors for this patient (±8 % T1/T2*/PD, ±20 % C), §1.1–1.4, §1.9.

        Two concentrations are then set from the signal they must give (§1.5), by inverting the SPGR equation with
        this patient's parameters at the nominal flip angle: the HCC core's, so that it is 0.55–0.85 × the liver
        in the target (washout, whatever the jitter; C = 0 if even that is too bright), and the capsule's,
        1.1–1.4 × the liver (enhancing capsule). The enhancing hemangioma takes 0.85–1.0 × the aorta's C.
        """
        n = len(TISSUES)
        base = [TISSUE_PARAMS[t] for t in TISSUES]
        jit = r.uniform(-0.08, 0.08, (3, n))
        cj = r.uniform(-0.2, 0.2, n)
        hyper_hcc, hyper_t1 = r.random(), r.uniform(550, 700)
        tex_draw = r.uniform(0.75, 1.25, n)
        washout, capsule, c_rel_hem = r.uniform(0.55, 0.85), r.uniform(1.1, 1.4), r.uniform(0.85, 1.0)
        cirr = r.uniform(0.06, 0.10)
        t1 = np.array([t.t1_ms for t in base]) * (1 + jit[0])
        t2s = np.array([t.t2s_ms for t in base]) * (1 + jit[1])
        pd = np.array([t.pd for t in base]) * (1 + jit[2])
        col = "c_pv" if self.phase == "portal_venous" else "c_delayed"
        c = np.array([getattr(t, col) for t in base]) * (1 + cj)
        if hyper_hcc < 0.15:  # iso/hyper-intense HCC on pre-contrast T1 (§1.5: 10-20 %)
            t1[_T["hcc"]] = hyper_t1
        tr, te, r1, alpha = seq["tr_ms"], seq["te_ms"], seq["r1"], math.radians(seq["alpha_deg"])
        liv = _T["liver"]
        s_liver = spgr_signal(pd[liv], 1000.0 / t1[liv] + r1 * c[liv], t2s[liv], tr, te, alpha)
        for name, ratio in (("hcc", washout), ("hcc_capsule", capsule)):
            i = _T[name]
            y = ratio * s_liver / (pd[i] * math.exp(-te / t2s[i]) * math.sin(alpha))  # (1-E1)/(1-cos(a)E1), < 1
            e1 = (1 - y) / (1 - y * math.cos(alpha))
            c[i] = max(0.0, (-math.log(e1) / (tr * 1e-3) - 1000.0 / t1[i]) / r1)
        c[_T["hemangioma_enhancing"]] = c_rel_hem * c[_T["aorta"]]  # blood pool
        tex = np.array([t.texture for t in base]) * tex_draw
        fine = np.zeros(n)
        fine[[_T["hcc"], _T["hcc_capsule"]]] = 0.04
        if label == 2:  # cirrhotic background liver
            fine[liv] = cirr
        return (t1.astype(_FLOAT), t2s.astype(_FLOAT), pd.astype(_FLOAT), c.astype(_FLOAT), tex.astype(_FLOAT),
                fine.astype(_FLOAT))

    def _draw_sequence(self, r: np.random.Generator) -> dict[str, float]:
        """Draw sequence and acquisition parameters (§1.2, §1.4, §1.8).

        Uniform draws are mapped to ranges at use time for options (SNR, misregistration) so that options never
        change other draws.
        """
        return {
            "tr_ms": r.uniform(3.5, 5.5), "te_ms": 2.0, "alpha_deg": r.uniform(10.0, 15.0), "r1": r.uniform(3.3, 5.2),
            "snr_u": r.random(), "fs": r.uniform(0.05, 0.15), "fs_edge": r.uniform(0.05, 0.2),
            "bias_std": r.uniform(0.1, 0.2), "bias_ap": r.uniform(0.1, 0.25), "b1_amp": r.uniform(0.03, 0.06),
            "mis_t": r.random(), "mis_dir": r.uniform(0, 2 * np.pi), "mis_rot": r.uniform(-1, 1),
        }

    def _liver_scale(self, g: dict[str, Any], u: float) -> float:
        return math.sqrt(max(0.25, 1.0 - 0.55 * (u - g["liver_u0"]) ** 2))

    def _draw_lesion(self, r: np.random.Generator, pat: _Patient) -> dict[str, Any] | None:
        """Draw the lesion of interest (§1.5): an ellipsoid centred near one slice, placed inside the liver.

        The in-plane centre is drawn among the liver pixels of that slice (lesion-free anatomy, other organs
        included) that lie at least one lesion radius from the liver's edge, or among the deepest ones (within
        85 % of the largest such distance) when the lesion is too large to fit: the lesion is always visible.
        """
        label, g, u_slices = pat.label, pat.geo, pat.u
        draws = {"k": int(r.integers(len(u_slices))), "dz": r.uniform(-0.4, 0.4), "pos": r.random(),
                 "aspect": r.uniform(0.75, 1.0), "theta": r.uniform(0, np.pi), "zaspect": r.uniform(0.8, 1.2),
                 "logd": r.random(), "giant": r.random(), "hcc_d": r.random(),
                 "capsule": r.random(), "cap_mm": r.uniform(1, 3), "nec": r.random(), "nec_r": r.uniform(0.25, 0.5),
                 "f_pv": r.uniform(0.3, 0.7), "f_del": r.uniform(0.7, 1.0), "flash": r.random(),
                 "nodules": int(r.integers(3, 9)), "nod_ang": r.uniform(0, 2 * np.pi, 8),
                 "nod_r": r.uniform(0.7, 1.2, 8), "lobes": r.uniform(-1, 1, (3, 3)), "scar": r.uniform(0.15, 0.25)}
        if label == 0:
            return None
        if label == 2:
            d = math.exp(math.log(10) + draws["hcc_d"] * (math.log(100) - math.log(10)))
        elif draws["giant"] < 0.15:
            d = 50 + 50 * draws["logd"]
        else:
            d = math.exp(math.log(5) + draws["logd"] * (math.log(50) - math.log(5)))
        rad = d / 2
        les: dict[str, Any] = {"kind": "hcc" if label == 2 else "hemangioma", "diameter_mm": d, "r": rad,
                               "aspect": draws["aspect"], "theta": draws["theta"]}
        du = 2 * _SLICE_SPAN / len(u_slices)
        hz = rad * draws["zaspect"] / g["liver_H"]  # z half-extent in u units
        les["u"] = float(u_slices[draws["k"]] + draws["dz"] * min(du, hz))
        les["hz"] = hz
        lab = self._anatomy(pat, les["u"])
        liver = (lab == _T["liver"]) | (lab == _T["hepatic_vessel"])
        dist = ndimage.distance_transform_cdt(np.pad(liver, 1), metric="chessboard")[1:-1, 1:-1] * self.pixel_mm
        dmax = float(dist.max())
        cand = np.flatnonzero(dist >= min(rad, 0.85 * dmax)) if dmax > 0 else np.array([self.size**2 // 2])
        row, col = divmod(int(cand[min(int(draws["pos"] * len(cand)), len(cand) - 1)]), self.size)
        les["cx"] = float(self._x[col])
        les["cy"] = float(self._y[row]) - self._liver_shift(les["u"])  # moves with the liver
        if label == 2:
            les["capsule_mm"] = draws["cap_mm"] if draws["capsule"] < 0.75 else 0.0
            p_nec = 0.8 if d > 50 else (0.2 if d > 20 else 0.0)
            les["necrosis"] = draws["nec_r"] if draws["nec"] < p_nec else 0.0
        else:
            f = draws["f_pv"] if self.phase == "portal_venous" else draws["f_del"]
            if d < 15 and draws["flash"] < 0.7:
                f = 1.0
            les["fill"] = f
            k = draws["nodules"]
            les["nodules"] = [(draws["nod_ang"][i] + 2 * np.pi * i / k, draws["nod_r"][i]) for i in range(k)]
            les["lobes"] = [(0.35 * lx, 0.35 * ly, 0.55 + 0.15 * lr) for lx, ly, lr in draws["lobes"]]
            les["scar"] = draws["scar"] if d > 50 else 0.0
        return les

    @staticmethod
    def _liver_shift(u: float) -> float:
        """Posterior drift of the liver (mm) with the slice position."""
        return 6.0 * u

    def _draw_cyst(self, r: np.random.Generator, g: dict[str, Any]) -> dict[str, Any] | None:
        draws = r.random(), r.uniform(5, 20), r.uniform(-0.6, 0.6), r.uniform(0, 1, 2)
        if draws[0] >= self.cyst_prob:
            return None
        cx, cy, la, lb, lt = g["rl"]
        ang, rr = 2 * np.pi * draws[3][0], 0.75 * math.sqrt(draws[3][1])
        px, py = la * rr * math.cos(ang), lb * rr * math.sin(ang)
        return {"r": draws[1] / 2, "u": draws[2], "cx": cx + px * math.cos(lt) - py * math.sin(lt),
                "cy": cy + px * math.sin(lt) + py * math.cos(lt)}

    # ------------------------------------------------------------------ smooth fields
    def _fields(self, m: int, noise: np.ndarray) -> np.ndarray:
        """Smooth unit-variance fields ``(k, size, size)`` from coarse white noise ``(k, m, m)``."""
        up = self._up.get(m)
        if up is None:
            up = self._up[m] = _upsample_matrix(self.size, m)
        up_t = np.ascontiguousarray(up.T)
        out = np.empty((len(noise), self.size, self.size), dtype=_FLOAT)
        for i, nz in enumerate(noise):
            out[i] = _small_matmul(_small_matmul(up, nz), up_t)
        return out

    def _patient_field(self, pat: _Patient, name: str, u: float, which: int) -> np.ndarray:
        """Return a per-patient smooth field that varies smoothly with the slice position ``u``.

        It is a rotation between two independent fields, which keeps the Gaussian law.
        """
        a = float(pat.noise_pairs["phase"][which]) + 1.6 * u
        n = pat.noise_pairs[name]
        return self._fields(n.shape[-1], (math.cos(a) * n[0] + math.sin(a) * n[1])[None])[0]

    # ------------------------------------------------------------------ rasterisation helpers
    def _window(self, cx: float, cy: float, extent: float) -> tuple[slice, slice] | None:
        n, sp = self.size, self.pixel_mm
        c0, c1 = max(0, int((cx - extent) / sp + n / 2)), min(n, math.ceil((cx + extent) / sp + n / 2) + 1)
        r0, r1 = max(0, int((cy - extent) / sp + n / 2)), min(n, math.ceil((cy + extent) / sp + n / 2) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def _q(self, win: tuple[slice, slice], cx: float, cy: float, a: float, b: float,
           theta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Return the squared normalised coordinates ``(X², Y²)`` on ``win``; the ellipse is ``X² + Y² < 1``.

        Semi-axes ``a`` (along the rotated x) and ``b``, rotation ``theta`` (radians), centre ``(cx, cy)`` in mm.
        """
        dx = self._x[win[1]][None, :] - _FLOAT(cx)
        dy = self._y[win[0]][:, None] - _FLOAT(cy)
        if theta:
            ct, st = _FLOAT(math.cos(theta)), _FLOAT(math.sin(theta))
            dx, dy = dx * ct + dy * st, dy * ct - dx * st
        return (dx / _FLOAT(a)) ** 2, (dy / _FLOAT(b)) ** 2

    def _paint(self, lab: np.ndarray, value: int, cx: float, cy: float, a: float, b: float, theta: float = 0.0,
               eps: float = 0.0, fld: np.ndarray | None = None, region: np.ndarray | None = None,
               square: float = 0.0) -> None:
        """Set ``lab`` to ``value`` inside a perturbed ellipse.

        The shape is ``X² + Y² < 1`` (or the squircle ``X² + Y² − s²X²Y² < 1`` when ``square`` = s > 0), with the
        radius scaled by ``1 + eps·fld``, optionally only where ``region`` holds.
        """
        if a <= 0 or b <= 0:
            return
        win = self._window(cx, cy, max(a, b) * (1 + 4 * eps) + 2 * self.pixel_mm)
        if win is None:
            return
        x2, y2 = self._q(win, cx, cy, a, b, theta)
        k2 = (1 + eps * fld[win]) ** 2 if eps and fld is not None else _FLOAT(1.0)
        if square:
            m = k2 * (x2 + y2) - _FLOAT(square**2) * x2 * y2 < k2 * k2
        else:
            m = x2 + y2 < k2
        if region is not None:
            m &= region[win]
        lab[win][m] = value

    # ------------------------------------------------------------------ anatomy
    def _anatomy(self, pat: _Patient, u: float) -> np.ndarray:
        """Rasterise the label map at slice position ``u`` (see :data:`TISSUES`)."""
        g, n = pat.geo, self.size
        shape = self._patient_field(pat, "shape", u, 0)
        fine = self._patient_field(pat, "fine", u, 1)
        lab = np.zeros((n, n), dtype=np.uint8)
        a, b, pw, dy = g["body"]
        s_body = 1.0 - 0.02 * u
        a, b = a * s_body, b * s_body
        fl, fa, fp = g["fat"]
        wall = g["wall"]
        self._paint(lab, _T["fat"], 0, dy, a, b, eps=0.01, fld=shape, square=pw)
        self._paint(lab, _T["muscle"], 0, dy + (fa - fp) / 2, a - fl, b - (fa + fp) / 2, eps=0.02, fld=shape,
                    square=pw)
        self._paint(lab, _T["viscera"], 0, dy + (fa - fp) / 2, a - fl - wall, b - (fa + fp) / 2 - wall, eps=0.02,
                    fld=shape, square=pw)
        yv = g["yv"]
        # retroperitoneum: paraspinal muscles, perirenal fat, kidneys below
        kid = []
        for kx, ky, ka, kb, kt, ku in g["kidneys"]:
            ks = math.sqrt(max(0.0, 1.0 - ((u - ku) / 0.9) ** 2))
            kid.append((kx, ky, ka * ks, kb * ks, kt))
            if ks > 0:
                self._paint(lab, _T["fat"], kx, ky, ka * ks + 9, kb * ks + 9, kt, eps=0.05, fld=fine)
        sx, sy, sa, sb, st, su = g["stomach"]
        ss = math.sqrt(max(0.0, 1.0 - ((u - su) / 1.2) ** 2))
        self._paint(lab, _T["stomach"], sx, sy, sa * ss, sb * ss, st, eps=0.05, fld=shape)
        for side in (-1, 1):
            self._paint(lab, _T["muscle"], side * 31, yv + 40, 23, 18, side * 0.25, eps=0.04, fld=shape)
        # liver: union of three ellipses, perturbed by the same smooth field
        sl = self._liver_scale(g, u)
        shift = self._liver_shift(u)
        eps = g["liver_eps"]
        for key, scale in (("rl", sl), ("md", sl * 0.95),
                           ("ll", sl * min(1.0, max(0.25, 1.0 - g["ll_taper"] * max(0.0, u - 0.1))))):
            cx, cy, la, lb, lt = g[key]
            self._paint(lab, _T["liver"], cx, cy + shift, la * scale, lb * scale, lt, eps=eps, fld=shape)
        liver_region = lab == _T["liver"]
        for lobe, ox, oy, vx, vy, vr, elong, vt in g["vessels"]:
            cx, cy, la, lb, lt = g[lobe]
            px, py = la * sl * ox + vx * u, lb * sl * oy + vy * u
            vcx, vcy = cx + px * math.cos(lt) - py * math.sin(lt), cy + shift + px * math.sin(lt) + py * math.cos(lt)
            self._paint(lab, _T["hepatic_vessel"], vcx, vcy, vr * elong, vr, vt, region=liver_region)
        if pat.cyst is not None:
            cy_ = pat.cyst
            cs = 1.0 - ((u - cy_["u"]) * g["liver_H"] / cy_["r"]) ** 2
            if cs > 0:
                rr = cy_["r"] * math.sqrt(cs)
                self._paint(lab, _T["cyst"], cy_["cx"], cy_["cy"] + shift, rr, rr, eps=0.03, fld=fine,
                            region=liver_region)
        if pat.lesion is not None:
            self._paint_lesion(lab, pat.lesion, u, shift, shape, fine, liver_region)
        # organs that override the liver
        spx, spy, spa, spb, spt, spu = g["spleen"]
        sps = math.sqrt(max(0.0, 1.0 - ((u - spu) / 1.3) ** 2))
        self._paint(lab, _T["spleen"], spx, spy, spa * sps, spb * sps, spt, eps=0.04, fld=shape)
        for kx, ky, ka, kb, kt in kid:
            if ka > 0:
                self._paint(lab, _T["kidney_cortex"], kx, ky, ka, kb, kt, eps=0.03, fld=fine)
                cm = g["cortex_mm"]
                self._paint(lab, _T["kidney_medulla"], kx, ky, ka - cm, kb - cm, kt, eps=0.08, fld=fine)
        ix, iy, ia, ib = g["ivc"]
        self._paint(lab, _T["ivc"], ix, iy, ia, ib, eps=0.05, fld=fine)
        ax, ay, ar = g["aorta"]
        self._paint(lab, _T["aorta"], ax, ay, ar, ar * 0.95)
        px, py, pr, pu = g["pv"]
        pvs = 1.0 - ((u - pu) / 0.35) ** 2
        if pvs > 0:
            self._paint(lab, _T["portal_vein"], px, py + shift, pr * (1 + 0.6 * pvs), pr, -0.5)
        self._paint(lab, _T["vertebra"], 0, yv, 21, 17, eps=0.02, fld=fine)
        self._paint(lab, _T["vertebra"], 0, yv + 36, 15, 8)
        self._paint(lab, _T["spinal_canal"], 0, yv + 25, 7.5, 6.5)
        return lab

    def _paint_lesion(self, lab: np.ndarray, les: dict[str, Any], u: float, shift: float, shape: np.ndarray,
                      fine: np.ndarray, region: np.ndarray) -> None:
        """Paint the lesion's cross-section at ``u``, restricted to ``region`` (the liver before vessels).

        HCC: core, capsule, necrosis. Hemangioma: lobulated, enhancing rim nodules, optional scar.
        """
        cs = 1.0 - ((u - les["u"]) / les["hz"]) ** 2
        if cs <= 0:
            return
        rr = les["r"] * math.sqrt(cs)
        if rr < 0.75 * self.pixel_mm:
            return
        a, b, th = rr, rr * les["aspect"], les["theta"]
        cx, cy = les["cx"], les["cy"] + shift
        win = self._window(cx, cy, rr * 1.4 + 2 * self.pixel_mm)
        if win is None:
            return
        reg = region[win]
        sub = lab[win]
        x2, y2 = self._q(win, cx, cy, a, b, th)
        q = x2 + y2
        if les["kind"] == "hcc":
            rho = np.sqrt(q) / (1 + 0.05 * fine[win])
            inside = (rho < 1) & reg
            sub[inside] = _T["hcc"]
            if les["capsule_mm"] > 0:
                sub[inside & (rho >= 1 - les["capsule_mm"] / b)] = _T["hcc_capsule"]
            if les["necrosis"] > 0:
                rho_n = np.sqrt(q) / (1 + 0.2 * shape[win] + 0.1 * fine[win])
                sub[inside & (rho_n < les["necrosis"])] = _T["necrosis"]
            return
        # hemangioma: lobulated union of circles, nodular peripheral enhancement
        rho = np.sqrt(q) / (1 + 0.05 * fine[win])
        inside = rho < 0.8
        dx = self._x[win[1]][None, :] - _FLOAT(cx)
        dy = self._y[win[0]][:, None] - _FLOAT(cy)
        for lx, ly, lr in les["lobes"]:
            inside |= (dx - lx * rr) ** 2 + (dy - ly * rr) ** 2 < (lr * rr) ** 2
        inside &= reg
        f = les["fill"]
        if f >= 0.999:
            enh = inside
        else:
            enh = np.zeros_like(inside)
            for ang, nr in les["nodules"]:
                nx, ny = 0.85 * rr * math.cos(ang), 0.85 * rr * math.sin(ang)
                enh |= (dx - nx) ** 2 + (dy - ny) ** 2 < (f * nr * rr) ** 2
            enh &= inside
        sub[inside] = _T["hemangioma_nonenhancing"]
        sub[enh] = _T["hemangioma_enhancing"]
        if les["scar"] > 0:
            sub[inside & (np.sqrt(dx**2 + dy**2) / rr < les["scar"] * (1 + 0.3 * shape[win]))] = _T["necrosis"]

    # ------------------------------------------------------------------ physics
    def _physics(self, pat: _Patient, patient: int, k: int, u: float, lab: np.ndarray) -> PhantomSlice:
        """Parameter maps → SPGR pre/post signals → blur, misregistration, bias, noise, masking (§1.9 steps 3-6)."""
        seq = pat.seq
        rt = self._rng(_SLICE_TAG, patient, k, _S_TEXTURE)
        tex = self._fields(16, rt.standard_normal((3, 16, 16), dtype=_FLOAT))
        tex_fine = self._fields(32, rt.standard_normal((1, 32, 32), dtype=_FLOAT))[0]
        dbias = self._fields(4, rt.standard_normal((1, 4, 4), dtype=_FLOAT))[0]
        tr, te, r1 = seq["tr_ms"], seq["te_ms"], seq["r1"]
        # per-tissue tables, then per-pixel maps with texture
        li = lab.astype(np.intp)  # faster gathers than uint8
        m0 = (pat.pd * np.exp(-te / pat.t2s)).astype(_FLOAT)  # PD·exp(-TE/T2*)
        amp = pat.tex[li]
        fine_tex = pat.fine_tex[li] * tex_fine
        r1_pre = _FLOAT(1000.0) / (pat.t1[li] * (1 + amp * tex[0] + fine_tex))  # s^-1
        r1_post = r1_pre + _FLOAT(r1) * pat.c[li] * (1 + _FLOAT(1.5) * amp * tex[2] + fine_tex)
        m0 = m0[li] * (1 + amp * tex[1])
        ff = self._fat_fraction[li]
        vis = lab == _T["viscera"]
        ff[vis] = np.clip(0.45 + 0.35 * self._patient_field(pat, "viscera", u, 2)[vis], 0.0, 0.9)
        alpha = math.radians(seq["alpha_deg"])
        if self.bias_field:
            alpha = _FLOAT(alpha) * np.clip(1 + seq["b1_amp"] * self._patient_field(pat, "b1", u, 3), 0.9, 1.1)
        sin_a, cos_a = np.sin(alpha), np.cos(alpha)
        trs = _FLOAT(-tr * 1e-3)

        def spgr(m_sin: Any, r1map: Any) -> Any:  # §1.4, with PD·exp(-TE/T2*)·sin(α) folded into m_sin
            e1 = np.exp(trs * r1map)
            return m_sin * (1 - e1) / (1 - cos_a * e1)

        fi = _T["fat"]
        fat_m0 = float(pat.pd[fi]) * math.exp(-te / float(pat.t2s[fi]))
        fat_pre = spgr(fat_m0 * sin_a, 1000.0 / float(pat.t1[fi]))
        fat_post = spgr(fat_m0 * sin_a, 1000.0 / float(pat.t1[fi]) + r1 * float(pat.c[fi]))
        fs = np.minimum(seq["fs"] + seq["fs_edge"] * self._r4, 1.0)  # residual fat, rising toward FOV edges
        m0 *= sin_a
        water_pre, water_post = spgr(m0, r1_pre), spgr(m0, r1_post)
        pre = water_pre + ff * ((fat_pre * fs if self.fat_suppress_input else fat_pre) - water_pre)
        post = water_post + ff * (fat_post * fs - water_post)
        pre, post = self._blur(pre), self._blur(post)

        body = self._is_body[lab]
        body_post = body
        if self.misregistration_px > 0:
            post, body_post = self._misregister(post, body, seq)
        if self.bias_field:
            g = seq["bias_std"] * self._patient_field(pat, "bias", u, 4) + seq["bias_ap"] * self._ap
            bias = np.exp(g)
            pre *= bias
            post *= bias * np.exp(_FLOAT(0.015) * dbias)
        liver = lab == _T["liver"]
        snr = self.snr_range[0] + seq["snr_u"] * (self.snr_range[1] - self.snr_range[0])
        sigma = float(pre[liver if liver.any() else body].mean()) / snr
        if self.background_mask:
            pre[~body] = 0
            post[~body_post] = 0
        if self.noise:
            pre_n, post_n = self._rician(self._rng(_SLICE_TAG, patient, k, _S_NOISE), (pre, post), sigma)
            if self.background_mask:
                pre_n[~body] = 0
                post_n[~body_post] = 0
        else:
            pre_n, post_n, sigma = pre.copy(), post.copy(), 0.0
        s_post = max(float(np.percentile(post_n[body], 99.5)), 1e-12)
        s_pre = s_post if self.normalization == "joint" else max(float(np.percentile(pre_n[body], 99.5)), 1e-12)
        les = pat.lesion or {}
        params = {
            "label": LABELS[pat.label], "patient": patient, "slice": k, "u": u, "phase": self.phase,
            "tr_ms": tr, "te_ms": te, "alpha_deg": seq["alpha_deg"], "r1": r1, "snr": snr,
            "fat_suppression": seq["fs"], "lesion": les.get("kind"), "lesion_diameter_mm": les.get("diameter_mm"),
            "hemangioma_fill": les.get("fill"), "pixel_mm": self.pixel_mm,
            "liver_t1_ms": float(pat.t1[_T["liver"]]), "liver_c_mM": float(pat.c[_T["liver"]]),
        }
        return PhantomSlice(lab, pre_n, post_n, pre, post, sigma, s_pre, s_post, params)

    @staticmethod
    def _rician(rng: np.random.Generator, images: tuple[np.ndarray, ...], sigma: float) -> list[np.ndarray]:
        """Magnitude of complex Gaussian noise, |S + n_r + i·n_i| with n ~ N(0, σ²) (§1.8).

        Drawn in polar form, which is exact and cheaper: the complex noise is R·e^{iθ} with R² = 2σ²E,
        E ~ Exp(1), θ ~ U(0, 2π), so |S + n|² = S² + 2·S·R·cos θ + R².
        """
        shape = (len(images), *images[0].shape)
        e = rng.standard_exponential(shape, dtype=_FLOAT)
        # cos θ for θ ~ U(0, 2π) has the arcsine law of sin φ, φ ~ U(-π/2, π/2): same law, 3× cheaper in float32
        cos_t = np.sin((rng.random(shape, dtype=_FLOAT) - _FLOAT(0.5)) * _FLOAT(np.pi))
        two_r_cos = np.sqrt(e) * cos_t * _FLOAT(2.0 * math.sqrt(2.0) * sigma)
        e *= _FLOAT(2.0 * sigma * sigma)  # R²
        return [np.sqrt(s * (s + two_r_cos[i]) + e[i]) for i, s in enumerate(images)]

    @staticmethod
    def _blur(img: np.ndarray) -> np.ndarray:
        """3-tap [1, 2, 1]/4 point-spread blur along both axes, edges replicated (softens rasterised edges)."""
        for axis in (0, 1):
            a = np.moveaxis(img, axis, 0)
            out = a * _FLOAT(0.5)
            q = a * _FLOAT(0.25)
            out[1:] += q[:-1]
            out[:-1] += q[1:]
            out[0] += q[0]
            out[-1] += q[-1]
            img = np.moveaxis(out, 0, axis)
        return np.ascontiguousarray(img, dtype=_FLOAT)

    def _misregister(self, post: np.ndarray, body: np.ndarray, seq: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Move the patient between breath-holds; return the moved image and body mask.

        Translation by ≤ 0.7·m px and rotation about the centre moving the body edge by ≤ 0.3·m px
        (m = ``misregistration_px``).
        """
        m = self.misregistration_px
        t = 0.7 * m * seq["mis_t"]
        ty, tx = t * math.sin(seq["mis_dir"]), t * math.cos(seq["mis_dir"])
        radius = 0.5 * self.size * 0.9
        th = 0.3 * m * seq["mis_rot"] / radius
        rot_inv = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
        centre = np.array([(self.size - 1) / 2, (self.size - 1) / 2])
        offset = centre - rot_inv @ (centre + np.array([ty, tx]))
        moved = ndimage.affine_transform(post, rot_inv, offset=offset, order=1, mode="constant", cval=0.0)
        moved_body = ndimage.affine_transform(body.astype(_FLOAT), rot_inv, offset=offset, order=0, mode="constant",
                                              cval=0.0) > 0.5
        return moved.astype(_FLOAT), moved_body
