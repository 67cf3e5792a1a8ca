"""Evaluation metrics of Pix-GRL (Xu et al., Medical Image Analysis 2021, section 4 and Tables 1–2).

All functions are pure: numpy arrays or torch tensors (any device, any float dtype) in, Python floats, numpy arrays
of floats or dicts of floats out. Images are float in [0, 1] (``data_range=1``); nothing is clipped.

Whole image (synthesized ``pred`` vs real Gd-enhanced ``target``; (H, W) → float, (N, H, W) or (N, 1, H, W) →
``(N,)`` array):

- ``ssim``: structural similarity, :func:`skimage.metrics.structural_similarity` with its defaults (7×7 uniform
  window, K1 = 0.01, K2 = 0.03), ``data_range=1``. Images or boxes with a side under 7 px use the largest odd
  window that fits; under 3 px SSIM is NaN.
- ``psnr``: ``10·log10(data_range² / MSE)`` (:func:`skimage.metrics.peak_signal_noise_ratio`); identical images
  give ``inf`` (MSE = 0), returned without a warning.
- ``nrmse``: ``‖target − pred‖₂ / ‖target‖₂``, the "euclidean" normalisation of
  :func:`skimage.metrics.normalized_root_mse` (its default). The paper does not say which normalisation it used;
  its numbers point to this one: PSNR 23.81 dB means RMSE ≈ 0.065, and NRMSE 0.16 then needs a denominator ≈ 0.40,
  a plausible RMS (or mean) intensity of an MR slice in [0, 1]; the "min-max" normalisation would give ≈ 0.065.
  A target that is all zeros gives NaN (0 when ``pred`` is all zeros too).
- ``nmi``: normalized mutual information in [0, 1], ``2·I(A;B) / (H(A) + H(B))`` (the "arithmetic" NMI of
  scikit-learn's ``normalized_mutual_info_score``), computed from scikit-image's Studholme NMI
  ``Y = (H(A) + H(B)) / H(A,B)`` ∈ [1, 2] (:func:`skimage.metrics.normalized_mutual_information`) as ``2 − 2/Y``.
  Joint histogram of ``bins`` = 32 bins per axis over each image's own value range (the paper gives neither the
  normalisation nor the bins; skimage's raw [1, 2] value cannot produce the paper's 0.43–0.61, and on a textured
  phantom patch with SSIM ≈ 0.8–0.9 the arithmetic form with 16–32 bins falls in the paper's range, whereas
  100 bins inflates NMI on small boxes). ``method="joint"`` gives ``I / H(A,B) = Y − 1``, ``method="skimage"``
  the raw ``Y``. Identical non-constant images give 1; two constant images give NaN (no information).

Tumour regions (the paper's "diagnostic details", boxes taken from the reference tumour mask and cut from both
images):

- external: the ``size``×``size`` (64×64) patch centred at the tumour centroid, shifted to lie inside the image
  (see :func:`external_region`); internal: the tumour's bounding box (:func:`internal_region`).
- ``region_metrics`` → ``ext_ssim, ext_nrmse, ext_nmi, int_ssim, int_nrmse, int_nmi``. An empty tumour mask gives
  NaN for all six; a box whose shorter side is under 3 px gives NaN for that box (SSIM needs a 3×3 window, and
  NRMSE/NMI over a handful of pixels are noise).

Tumour segmentation agreement (the paper's radiologists are replaced by :func:`segment_tumor`, applied to both the
synthesized and the real enhanced image; :func:`segmentation_agreement` compares the two masks). ``segment_tumor``
flags liver pixels more than k robust std (MAD) from the liver median, hypo- or hyper-intense, cleans them
(opening, hole filling, largest component) and places the border at half the lesion's contrast:

- ``dice`` = 2|A∩B| / (|A| + |B|);
- ``kappa``: Cohen's kappa over every pixel of the slice (tumour vs background, the paper's binary images),
  ``(p_o − p_e) / (1 − p_e)`` from the 2×2 confusion counts;
- ``hausdorff_mm``: symmetric Hausdorff distance between the two masks' boundary pixels (pixels of the mask with a
  4-neighbour outside it), coordinates scaled by the pixel spacing, so anisotropic pixels are handled;
- ``size_pred_mm2``, ``size_ref_mm2``: tumour areas, pixel count × row_mm × col_mm.
- Empty masks: both empty → perfect agreement (Dice 1, kappa 1, Hausdorff 0 mm); exactly one empty → Dice 0,
  kappa 0 (as the formula gives), Hausdorff NaN (undefined; the miss is already counted by Dice and kappa, and
  ``inf`` would make every mean ``inf``).
- ``size_correlation``: Pearson r of tumour sizes over pairs (:func:`scipy.stats.pearsonr`); NaN with fewer than 3
  finite pairs or a constant input.

Diagnosis proxy (the paper's radiologists' diagnosis): :class:`LesionClassifier`, a small multinomial logistic
regression on hand-made lesion features, trained on real enhanced images; :func:`diagnosis_metrics` gives 3-class
accuracy and benign (normal + hemangioma) vs malignant (HCC) accuracy, sensitivity and specificity.

Aggregation: :func:`aggregate` returns ``(mean, std, n)`` per metric over the finite-or-infinite values, skipping
NaN (so ``n`` says how many pairs a metric is defined on); ``std`` is the population std (ddof = 0).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage, optimize, stats
from scipy.spatial.distance import directed_hausdorff
from skimage import filters, measure, morphology
from skimage.metrics import (
    normalized_mutual_information,
    normalized_root_mse,
    peak_signal_noise_ratio,
    structural_similarity,
)

from pixgrl_env.data.base import LABELS

if TYPE_CHECKING:
    from pixgrl_env.data.base import Pair

#: Per-pair metric names, in report order (see :func:`evaluate_pair`).
METRIC_NAMES: tuple[str, ...] = (
    "ssim", "psnr", "nrmse",
    "ext_ssim", "ext_nrmse", "ext_nmi",
    "int_ssim", "int_nrmse", "int_nmi",
    "dice", "kappa", "hausdorff_mm", "size_pred_mm2", "size_ref_mm2",
)
#: Dataset-level metric names (:func:`size_correlation`, :func:`diagnosis_metrics`).
DATASET_METRIC_NAMES: tuple[str, ...] = (
    "size_pcc", "diag_acc3", "diag_acc_bm", "diag_sensitivity", "diag_specificity",
)
#: Pix-GRL's values in the paper (Tables 1–2, section 5), keyed like our metrics. Dice is a fraction (83.62 %).
#: The paper reports no tumour areas (its sizes are in mm, not mm²) and no 3-class accuracy.
PAPER_VALUES: dict[str, float] = {
    "ssim": 0.85, "psnr": 23.81, "nrmse": 0.16,
    "ext_ssim": 0.81, "ext_nrmse": 0.11, "ext_nmi": 0.61,
    "int_ssim": 0.72, "int_nrmse": 0.07, "int_nmi": 0.43,
    "dice": 0.8362, "kappa": 0.83, "hausdorff_mm": 4.3,
    "size_pcc": 0.92, "diag_acc_bm": 0.876, "diag_sensitivity": 0.8165, "diag_specificity": 0.922,
}
#: The ± of :data:`PAPER_VALUES` where the paper gives one.
PAPER_STD: dict[str, float] = {
    "ssim": 0.06, "psnr": 1.54, "nrmse": 0.012,
    "ext_ssim": 0.06, "ext_nrmse": 0.01, "ext_nmi": 0.07,
    "int_ssim": 0.08, "int_nrmse": 0.009, "int_nmi": 0.05,
    "dice": 0.0628, "kappa": 0.06, "hausdorff_mm": 1.02,
}

NMI_BINS = 32
NMI_METHODS = ("arithmetic", "joint", "skimage")
EXTERNAL_SIZE = 64
MIN_BOX_SIDE = 3
_SSIM_WIN = 7
MALIGNANT = LABELS.index("hcc")


# ----------------------------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------------------------
def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor on any device, or nested sequence) as a numpy array of ``dtype``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        if dtype is not np.bool_ and not x.dtype.is_floating_point:
            x = x.double()
        elif x.dtype.is_floating_point and x.dtype.itemsize < 4:  # bfloat16/float16: numpy lacks bfloat16
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _as_metric_batch(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """``(H, W)`` → ``((1, H, W), False)``; ``(N, H, W)`` or ``(N, 1, H, W)`` → ``((N, H, W), True)``."""
    a = to_numpy(x)
    if a.ndim == 2:
        return a[None], False
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W), (N, H, W) or (N, 1, H, W), got {tuple(np.shape(x))}")
    return a, True


def _as_image(x: Any, name: str) -> np.ndarray:
    """One 2-D image; (1, H, W) and (1, 1, H, W) are squeezed."""
    a = to_numpy(x)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{name} must be one 2-D image (H, W), got shape {tuple(np.shape(x))}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN/Inf values")
    return a


def _as_mask(x: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    a = to_numpy(x, dtype=np.float64)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask (H, W), got shape {tuple(np.shape(x))}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return a != 0


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    p, batched_p = _as_metric_batch(pred, "pred")
    t, batched_t = _as_metric_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(np.shape(pred))} vs {tuple(np.shape(target))}")
    for name, a in (("pred", p), ("target", t)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN/Inf values")
    return p, t, batched_p or batched_t


def _per_item(fn: Any, pred: Any, target: Any) -> float | np.ndarray:
    p, t, batched = _pair(pred, target)
    vals = np.array([fn(a, b) for a, b in zip(p, t)], dtype=np.float64)
    return vals if batched else float(vals[0])


def _spacing(spacing: Sequence[float]) -> tuple[float, float]:
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 2 or not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be two positive finite numbers (row_mm, col_mm), got {spacing!r}")
    return sp  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------------------
# Whole-image metrics
# ----------------------------------------------------------------------------------------------------------------
def _ssim_win(shape: tuple[int, ...], win_size: int | None) -> int | None:
    """The SSIM window for an image of ``shape``: ``win_size`` or 7, shrunk to the largest odd size that fits."""
    side = min(shape)
    w = min(_SSIM_WIN if win_size is None else int(win_size), side)
    if w % 2 == 0:
        w -= 1
    return w if w >= MIN_BOX_SIDE else None


def _ssim2d(a: np.ndarray, b: np.ndarray, data_range: float, win_size: int | None) -> float:
    w = _ssim_win(a.shape, win_size)
    if w is None:
        return math.nan
    return float(structural_similarity(a, b, data_range=data_range, win_size=w))


def ssim(pred: Any, target: Any, data_range: float = 1.0, win_size: int | None = None) -> float | np.ndarray:
    """Structural similarity (scikit-image, uniform window, K1 = 0.01, K2 = 0.03).

    Args:
        pred: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` image(s) in [0, data_range]; numpy or torch.
        target: Same shape as ``pred``.
        data_range: Intensity range of the images.
        win_size: Odd window side; default 7. Shrunk to the largest odd size ≤ the image's shorter side.

    Returns:
        SSIM in [-1, 1] (1 for identical images): a float for one image, an ``(N,)`` array for a batch. NaN when the
        shorter side is under 3 px.
    """
    return _per_item(lambda a, b: _ssim2d(a, b, data_range, win_size), pred, target)


def _psnr2d(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    if np.array_equal(a, b):
        return math.inf
    return float(peak_signal_noise_ratio(b, a, data_range=data_range))


def psnr(pred: Any, target: Any, data_range: float = 1.0) -> float | np.ndarray:
    """Peak signal-to-noise ratio ``10·log10(data_range² / MSE)`` in dB.

    Args:
        pred: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``; numpy or torch.
        target: Same shape as ``pred``.
        data_range: Intensity range of the images.

    Returns:
        PSNR in dB (``inf`` for identical images); a float, or an ``(N,)`` array for a batch.
    """
    return _per_item(lambda a, b: _psnr2d(a, b, data_range), pred, target)


def _nrmse2d(a: np.ndarray, b: np.ndarray) -> float:
    if not np.any(b):
        return 0.0 if not np.any(a) else math.nan
    return float(normalized_root_mse(b, a, normalization="euclidean"))


def nrmse(pred: Any, target: Any) -> float | np.ndarray:
    """Normalized RMSE ``‖target − pred‖₂ / ‖target‖₂`` (scikit-image's "euclidean" normalisation).

    Args:
        pred: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``; numpy or torch.
        target: Same shape as ``pred``; the normalising reference.

    Returns:
        NRMSE ≥ 0 (0 for identical images); a float, or an ``(N,)`` array for a batch. NaN when ``target`` is all
        zeros and ``pred`` is not.
    """
    return _per_item(_nrmse2d, pred, target)


def _nmi2d(a: np.ndarray, b: np.ndarray, bins: int, method: str) -> float:
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return math.nan
    y = float(normalized_mutual_information(a, b, bins=bins))
    if method == "skimage":
        return y
    if method == "joint":
        return y - 1.0
    return 2.0 - 2.0 / y


def nmi(pred: Any, target: Any, bins: int = NMI_BINS, method: str = "arithmetic") -> float | np.ndarray:
    """Normalized mutual information from a ``bins``×``bins`` joint histogram.

    Args:
        pred: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``; numpy or torch.
        target: Same shape as ``pred``.
        bins: Histogram bins per image, spread over that image's own value range.
        method: ``"arithmetic"`` (default): ``2·I / (H(A) + H(B))`` in [0, 1]; ``"joint"``: ``I / H(A,B)`` in
            [0, 1]; ``"skimage"``: Studholme's ``(H(A) + H(B)) / H(A,B)`` in [1, 2].

    Returns:
        NMI (maximum: 1, or 2 for ``"skimage"``, for identical images); a float, or an ``(N,)`` array for a batch.
        NaN when both images are constant.
    """
    if method not in NMI_METHODS:
        raise ValueError(f"method must be one of {NMI_METHODS}, got {method!r}")
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins must be an int >= 2, got {bins!r}")
    return _per_item(lambda a, b: _nmi2d(a, b, int(bins), method), pred, target)


# ----------------------------------------------------------------------------------------------------------------
# Tumour regions
# ----------------------------------------------------------------------------------------------------------------
Box = tuple[slice, slice]


def external_region(mask: Any, size: int = EXTERNAL_SIZE) -> Box | None:
    """The ``size``×``size`` patch centred at the tumour centroid, kept inside the image.

    The centroid ``(cy, cx)`` is the mean row/column of the mask's pixels (all components). The patch starts at
    ``floor(c − (size − 1)/2 + 0.5)`` on each axis, so its centre is the pixel-grid point nearest the centroid,
    then is shifted (not cropped) to lie inside the image: near a border the tumour is off-centre but the patch
    keeps its full size. An image smaller than ``size`` along an axis gives the whole axis.

    Args:
        mask: ``(H, W)`` tumour mask (bool or 0/1), numpy or torch.
        size: Patch side in pixels (the paper: 64).

    Returns:
        ``(row_slice, col_slice)``, or None for an empty mask.
    """
    m = _as_mask(mask, "mask")
    if not m.any():
        return None
    if int(size) < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    size = int(size)
    box = []
    for c, n in zip(np.argwhere(m).mean(axis=0), m.shape):
        start = int(np.floor(c - (size - 1) / 2 + 0.5))
        start = min(max(start, 0), max(n - size, 0))
        box.append(slice(start, min(start + size, n)))
    return box[0], box[1]


def internal_region(mask: Any) -> Box | None:
    """The tumour's bounding box (of all its components), as ``(row_slice, col_slice)``; None for an empty mask."""
    m = _as_mask(mask, "mask")
    if not m.any():
        return None
    rows, cols = np.nonzero(m)
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def _box_metrics(p: np.ndarray, t: np.ndarray, box: Box | None, data_range: float, bins: int) -> dict[str, float]:
    if box is None:
        return {"ssim": math.nan, "nrmse": math.nan, "nmi": math.nan}
    a, b = p[box], t[box]
    if min(a.shape) < MIN_BOX_SIDE:
        return {"ssim": math.nan, "nrmse": math.nan, "nmi": math.nan}
    return {"ssim": _ssim2d(a, b, data_range, None), "nrmse": _nrmse2d(a, b), "nmi": _nmi2d(a, b, bins, "arithmetic")}


def region_metrics(pred: Any, target: Any, tumor_mask: Any, size: int = EXTERNAL_SIZE, data_range: float = 1.0,
                   bins: int = NMI_BINS) -> dict[str, float]:
    """SSIM, NRMSE and NMI on the external (``size``² patch at the centroid) and internal (bounding box) regions.

    Args:
        pred: ``(H, W)`` synthesized image; numpy or torch.
        target: ``(H, W)`` real enhanced image.
        tumor_mask: ``(H, W)`` reference tumour mask that places both boxes.
        size: External patch side (64 in the paper).
        data_range: Intensity range for SSIM.
        bins: NMI histogram bins.

    Returns:
        ``{"ext_ssim", "ext_nrmse", "ext_nmi", "int_ssim", "int_nrmse", "int_nmi"}``; NaN for an empty mask or a box
        with a side under 3 px.
    """
    p, t = _as_image(pred, "pred"), _as_image(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    m = _as_mask(tumor_mask, "tumor_mask", p.shape)
    out: dict[str, float] = {}
    for prefix, box in (("ext", external_region(m, size)), ("int", internal_region(m))):
        for k, v in _box_metrics(p, t, box, data_range, bins).items():
            out[f"{prefix}_{k}"] = v
    return out


# ----------------------------------------------------------------------------------------------------------------
# Tumour segmentation and agreement
# ----------------------------------------------------------------------------------------------------------------
def _keep_components(cand: np.ndarray, liver: np.ndarray, opening_radius: int, min_size: int,
                     max_components: int | None, within: np.ndarray | None = None) -> np.ndarray:
    """Opening, hole filling, then the largest 8-connected components ≥ ``min_size`` (touching ``within``)."""
    if opening_radius > 0:
        cand = ndimage.binary_opening(cand, structure=morphology.disk(int(opening_radius)))
    cand = ndimage.binary_fill_holes(cand) & liver
    labels = measure.label(cand, connectivity=2)
    sizes = np.bincount(labels.ravel(), minlength=1)[1:]
    keep = sizes >= min_size
    if within is not None:
        keep &= np.bincount(labels[within], minlength=sizes.size + 1)[1:] > 0
    order = [i for i in np.argsort(-sizes, kind="stable") if keep[i]]
    if max_components is not None:
        order = order[: int(max_components)]
    return np.isin(labels, np.asarray(order, dtype=np.int64) + 1)


def segment_tumor(image: Any, liver_mask: Any, k: float = 3.0, sigma: float = 1.0, opening_radius: int = 1,
                  min_size: int = 10, max_components: int | None = 1, min_std: float = 0.01) -> np.ndarray:
    """Automatic, deterministic lesion segmentation inside the liver of an enhanced slice.

    1. Gaussian smoothing (``sigma`` px, :func:`skimage.filters.gaussian`).
    2. Robust liver statistics of the smoothed image: median ``m`` and ``s = max(1.4826·MAD, min_std)`` over the
       liver pixels eroded by 2 px (skipping partial-volume edge pixels; the whole liver if erosion empties it).
    3. Detection: liver pixels with ``|x − m| > k·s`` (hypo- or hyper-intense, so washout cores and enhancing rims
       both count); binary opening with a disk of ``opening_radius`` (removes thin vessels and edge strips); hole
       filling (a rim around a core near the liver level becomes one lesion); keep the ``max_components`` largest
       8-connected components of at least ``min_size`` pixels.
    4. Boundary at half contrast: ``k·s`` measures noise, so on a blurred edge it puts the border too far out.
       The threshold is raised to ``max(k·s, 0.5·median |x − m| over the detected lesion)`` (a half-maximum edge,
       independent of the blur) and step 3 is repeated, keeping components that touch the detection. When this
       leaves nothing, the detection of step 3 is returned.

    Args:
        image: ``(H, W)`` enhanced (real or synthesized) image in [0, 1]; numpy or torch.
        liver_mask: ``(H, W)`` liver mask (lesion included).
        k: Detection threshold in robust standard deviations.
        sigma: Gaussian smoothing in pixels (0 disables it).
        opening_radius: Radius of the opening disk in pixels (0 disables it).
        min_size: Smallest component kept, in pixels.
        max_components: How many of the largest components to keep (None keeps all ≥ ``min_size``).
        min_std: Floor on the robust std, so a noiseless liver does not flag every tiny deviation.

    Returns:
        ``(H, W)`` bool mask, all False when no lesion is found or the liver mask is empty.
    """
    img = _as_image(image, "image")
    liver = _as_mask(liver_mask, "liver_mask", img.shape)
    if not liver.any():
        return np.zeros(img.shape, dtype=bool)
    smooth = filters.gaussian(img, sigma=sigma, preserve_range=True) if sigma > 0 else img
    core = ndimage.binary_erosion(liver, iterations=2)
    ref = smooth[core] if core.any() else smooth[liver]
    med = float(np.median(ref))
    dev = np.abs(smooth - med)
    thr = k * max(1.4826 * float(np.median(np.abs(ref - med))), float(min_std))
    found = _keep_components(liver & (dev > thr), liver, opening_radius, min_size, max_components)
    if not found.any():
        return found
    thr2 = max(thr, 0.5 * float(np.median(dev[found])))
    refined = _keep_components(liver & (dev > thr2), liver, opening_radius, min_size, max_components, within=found)
    return refined if refined.any() else found


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (pixels on the image border count as boundary)."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def hausdorff_mm(mask_a: Any, mask_b: Any, spacing: Sequence[float] = (1.0, 1.0)) -> float:
    """Symmetric Hausdorff distance in mm between the boundary pixels of two masks.

    Args:
        mask_a: ``(H, W)`` mask.
        mask_b: ``(H, W)`` mask.
        spacing: ``(row_mm, col_mm)`` pixel spacing; coordinates are scaled by it before distances are taken.

    Returns:
        Distance in mm; 0 when both masks are empty, NaN when exactly one is.
    """
    a = _as_mask(mask_a, "mask_a")
    b = _as_mask(mask_b, "mask_b", a.shape)
    sp = np.asarray(_spacing(spacing))
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return math.nan
    pa, pb = np.argwhere(_boundary(a)) * sp, np.argwhere(_boundary(b)) * sp
    return float(max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0]))


def tumor_area_mm2(mask: Any, spacing: Sequence[float] = (1.0, 1.0)) -> float:
    """Tumour area: pixel count × row_mm × col_mm."""
    sp = _spacing(spacing)
    return float(_as_mask(mask, "mask").sum()) * sp[0] * sp[1]


def cohen_kappa(mask_pred: Any, mask_ref: Any) -> float:
    """Cohen's kappa of two binary masks over all pixels, from the 2×2 confusion counts.

    ``p_o = (TP + TN)/N``, ``p_e = ((TP + FP)(TP + FN) + (FN + TN)(FP + TN))/N²``,
    ``kappa = (p_o − p_e)/(1 − p_e)``; when ``p_e = 1`` (both masks the same constant) kappa is 1.
    """
    a = _as_mask(mask_pred, "mask_pred")
    b = _as_mask(mask_ref, "mask_ref", a.shape)
    n = float(a.size)
    tp = float(np.sum(a & b))
    fp = float(np.sum(a & ~b))
    fn = float(np.sum(~a & b))
    tn = n - tp - fp - fn
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    if pe >= 1.0:
        return 1.0
    return float((po - pe) / (1.0 - pe))


def dice(mask_pred: Any, mask_ref: Any) -> float:
    """Dice coefficient ``2|A∩B| / (|A| + |B|)`` in [0, 1]; 1 when both masks are empty."""
    a = _as_mask(mask_pred, "mask_pred")
    b = _as_mask(mask_ref, "mask_ref", a.shape)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float(np.sum(a & b)) / total


def segmentation_agreement(mask_pred: Any, mask_ref: Any, spacing: Sequence[float] = (1.0, 1.0)) -> dict[str, float]:
    """Compare a tumour mask from the synthesized image with one from the real enhanced image.

    Args:
        mask_pred: ``(H, W)`` mask segmented on the synthesized image.
        mask_ref: ``(H, W)`` mask segmented on the real enhanced image (the reference).
        spacing: ``(row_mm, col_mm)`` pixel spacing.

    Returns:
        ``{"dice", "kappa", "hausdorff_mm", "size_pred_mm2", "size_ref_mm2"}``. Both masks empty: Dice 1, kappa 1,
        Hausdorff 0; exactly one empty: Dice 0, kappa 0, Hausdorff NaN.
    """
    a = _as_mask(mask_pred, "mask_pred")
    b = _as_mask(mask_ref, "mask_ref", a.shape)
    return {
        "dice": dice(a, b),
        "kappa": cohen_kappa(a, b),
        "hausdorff_mm": hausdorff_mm(a, b, spacing),
        "size_pred_mm2": tumor_area_mm2(a, spacing),
        "size_ref_mm2": tumor_area_mm2(b, spacing),
    }


def size_correlation(sizes_pred: Iterable[float], sizes_ref: Iterable[float]) -> float:
    """Pearson correlation of tumour sizes (:func:`scipy.stats.pearsonr`) over the pairs where both are finite.

    Returns:
        r in [-1, 1]; NaN with fewer than 3 finite pairs or when either side is constant.
    """
    a = to_numpy(list(sizes_pred)).ravel()
    b = to_numpy(list(sizes_ref)).ravel()
    if a.shape != b.shape:
        raise ValueError(f"sizes_pred and sizes_ref differ in length: {a.size} vs {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(stats.pearsonr(a, b)[0])


# ----------------------------------------------------------------------------------------------------------------
# Diagnosis proxy
# ----------------------------------------------------------------------------------------------------------------
FEATURE_NAMES: tuple[str, ...] = ("enhancement", "rim_minus_core", "heterogeneity", "hyper_fraction", "log_area")


def lesion_features(image: Any, tumor_mask: Any, liver_mask: Any) -> np.ndarray:
    """Hand-made lesion features of an enhanced slice, relative to the surrounding liver.

    With ``ref`` = median of the liver parenchyma (liver minus the tumour dilated by 2 px; the rest of the image
    outside that dilation when the parenchyma has under 10 pixels) and ``scale = max(ref, 1e-3)``:

    - ``enhancement``: ``(mean(lesion) − ref) / scale`` (hemangioma ≫ 0, HCC washout < 0);
    - ``rim_minus_core``: ``(mean(rim) − mean(core)) / scale``, rim = the outer 2 px of the lesion, core = the rest
      (0 when the core is empty); positive for capsules and peripheral enhancement;
    - ``heterogeneity``: ``std(lesion) / scale``;
    - ``hyper_fraction``: fraction of lesion pixels brighter than ``ref``;
    - ``log_area``: ``log(lesion pixels)``.

    Args:
        image: ``(H, W)`` enhanced image.
        tumor_mask: ``(H, W)`` non-empty lesion mask.
        liver_mask: ``(H, W)`` liver mask.

    Returns:
        ``(5,)`` float64, in the order of :data:`FEATURE_NAMES`.
    """
    img = _as_image(image, "image")
    t = _as_mask(tumor_mask, "tumor_mask", img.shape)
    liver = _as_mask(liver_mask, "liver_mask", img.shape)
    if not t.any():
        raise ValueError("lesion_features needs a non-empty tumor_mask")
    grown = ndimage.binary_dilation(t, iterations=2)
    paren = liver & ~grown
    if paren.sum() < 10:
        paren = ~grown if (~grown).any() else ~t
    ref = float(np.median(img[paren])) if paren.any() else 0.0
    scale = max(ref, 1e-3)
    les = img[t]
    core = ndimage.binary_erosion(t, iterations=2)
    rim = t & ~core
    rim_core = (float(img[rim].mean()) - float(img[core].mean())) / scale if core.any() else 0.0
    return np.array([(float(les.mean()) - ref) / scale, rim_core, float(les.std()) / scale,
                     float(np.mean(les > ref)), math.log(float(les.size))], dtype=np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _label_index(label: Any) -> int:
    if isinstance(label, str):
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}; expected one of {LABELS}")
        return LABELS.index(label)
    idx = int(label)
    if not 0 <= idx < len(LABELS):
        raise ValueError(f"label {label!r} is not an index into {LABELS} (unknown labels cannot be used)")
    return idx


class LesionClassifier:
    """Diagnosis proxy: multinomial logistic regression on :func:`lesion_features` of the enhanced image.

    A slice with an empty tumour mask is "normal" by rule (label 0). Slices with a lesion are classified by an
    L2-regularised multinomial logistic regression on standardised features, fitted with L-BFGS
    (:func:`scipy.optimize.minimize`) from zero weights: deterministic. Trained on real enhanced images; applied to
    synthesized ones to ask whether the synthesis keeps the lesion's diagnostic appearance.

    Args:
        l2: Weight of ``0.5·‖W‖²`` added to the mean cross-entropy (the bias is not penalised).
        max_iter: L-BFGS iteration cap.
    """

    def __init__(self, l2: float = 1e-2, max_iter: int = 500):
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.classes_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None  # (K, F)
        self.intercept_: np.ndarray | None = None  # (K,)

    @staticmethod
    def _features(images: Iterable[Any], tumor_masks: Iterable[Any],
                  liver_masks: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Features of the slices with a lesion and a bool array saying which slices have one."""
        feats, has = [], []
        for img, tm, lm in zip(images, tumor_masks, liver_masks, strict=True):
            t = _as_mask(tm, "tumor_mask")
            has.append(bool(t.any()))
            if t.any():
                feats.append(lesion_features(img, t, lm))
        x = np.stack(feats) if feats else np.zeros((0, len(FEATURE_NAMES)))
        return x, np.asarray(has, dtype=bool)

    def fit(self, images: Iterable[Any], tumor_masks: Iterable[Any], liver_masks: Iterable[Any],
            labels: Iterable[Any]) -> LesionClassifier:
        """Fit on real enhanced slices.

        Args:
            images: ``(H, W)`` enhanced images (a sequence, or an ``(N, H, W)`` array).
            tumor_masks: Matching lesion masks; slices with an empty mask are skipped (normal by rule).
            liver_masks: Matching liver masks.
            labels: Indices into :data:`LABELS` or label names (unknown ``-1`` is an error).

        Returns:
            self.
        """
        y_all = np.array([_label_index(v) for v in labels], dtype=np.int64)
        x, has = self._features(images, tumor_masks, liver_masks)
        if has.size != y_all.size:
            raise ValueError(f"got {has.size} images but {y_all.size} labels")
        y = y_all[has]
        if y.size == 0:
            raise ValueError("no slice with a non-empty tumor_mask to fit on")
        self.classes_ = np.unique(y)
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        z = (x - self.mean_) / self.std_
        n_cls, n_feat = self.classes_.size, z.shape[1]
        if n_cls == 1:
            self.coef_, self.intercept_ = np.zeros((1, n_feat)), np.zeros(1)
            return self
        onehot = (y[:, None] == self.classes_[None, :]).astype(np.float64)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[: n_cls * n_feat].reshape(n_cls, n_feat), theta[n_cls * n_feat:]
            logits = z @ w.T + b
            logz = logits.max(axis=1, keepdims=True)
            lse = logz[:, 0] + np.log(np.exp(logits - logz).sum(axis=1))
            ce = float(np.mean(lse - (logits * onehot).sum(axis=1)))
            g = (_softmax(logits) - onehot) / z.shape[0]
            gw = g.T @ z + self.l2 * w
            return ce + 0.5 * self.l2 * float(np.sum(w * w)), np.concatenate([gw.ravel(), g.sum(axis=0)])

        res = optimize.minimize(loss, np.zeros(n_cls * (n_feat + 1)), jac=True, method="L-BFGS-B",
                                options={"maxiter": self.max_iter})
        self.coef_ = res.x[: n_cls * n_feat].reshape(n_cls, n_feat)
        self.intercept_ = res.x[n_cls * n_feat:]
        return self

    def _check_fitted(self) -> None:
        if self.classes_ is None:
            raise RuntimeError("LesionClassifier is not fitted; call fit() or load() first")

    def predict_proba(self, images: Iterable[Any], tumor_masks: Iterable[Any],
                      liver_masks: Iterable[Any]) -> np.ndarray:
        """Class probabilities, ``(N, len(LABELS))``; empty-mask slices get probability 1 for "normal"."""
        self._check_fitted()
        x, has = self._features(images, tumor_masks, liver_masks)
        proba = np.zeros((has.size, len(LABELS)))
        proba[~has, 0] = 1.0
        if x.shape[0]:
            z = (x - self.mean_) / self.std_
            proba[np.flatnonzero(has)[:, None], self.classes_[None, :]] = _softmax(z @ self.coef_.T + self.intercept_)
        return proba

    def predict(self, images: Iterable[Any], tumor_masks: Iterable[Any], liver_masks: Iterable[Any]) -> np.ndarray:
        """Predicted label indices into :data:`LABELS`, ``(N,)`` int64 (0 = normal for empty masks)."""
        return np.argmax(self.predict_proba(images, tumor_masks, liver_masks), axis=1).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        self._check_fitted()
        return {
            "format": "pixgrl.LesionClassifier", "version": 1, "labels": list(LABELS),
            "feature_names": list(FEATURE_NAMES), "l2": self.l2, "max_iter": self.max_iter,
            "classes": self.classes_.tolist(), "mean": self.mean_.tolist(), "std": self.std_.tolist(),
            "coef": self.coef_.tolist(), "intercept": self.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LesionClassifier:
        """Inverse of :meth:`to_dict`; raises ValueError on another format or feature set."""
        if d.get("format") != "pixgrl.LesionClassifier" or list(d.get("feature_names", [])) != list(FEATURE_NAMES):
            raise ValueError("not a pixgrl.LesionClassifier with features " + ", ".join(FEATURE_NAMES))
        clf = cls(l2=d["l2"], max_iter=d["max_iter"])
        clf.classes_ = np.asarray(d["classes"], dtype=np.int64)
        clf.mean_ = np.asarray(d["mean"], dtype=np.float64)
        clf.std_ = np.asarray(d["std"], dtype=np.float64)
        clf.coef_ = np.asarray(d["coef"], dtype=np.float64).reshape(clf.classes_.size, len(FEATURE_NAMES))
        clf.intercept_ = np.asarray(d["intercept"], dtype=np.float64)
        return clf

    def save(self, path: str | Path) -> None:
        """Write the parameters as JSON (floats round-trip exactly through ``repr``)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> LesionClassifier:
        """Read a classifier written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def diagnosis_metrics(pred_labels: Iterable[Any], true_labels: Iterable[Any]) -> dict[str, float]:
    """3-class and benign-vs-malignant diagnosis scores.

    Malignant (positive) = HCC; benign (negative) = normal or hemangioma.

    Args:
        pred_labels: Predicted labels (indices into :data:`LABELS` or names).
        true_labels: True labels, same length.

    Returns:
        ``diag_acc3`` (3-class accuracy), ``diag_acc_bm`` (benign/malignant accuracy), ``diag_sensitivity``
        (TP / true malignant; NaN without malignant cases), ``diag_specificity`` (TN / true benign; NaN without
        benign cases), ``diag_n``; fractions in [0, 1]. No cases: all NaN, ``diag_n`` 0.
    """
    p = np.array([_label_index(v) for v in pred_labels], dtype=np.int64)
    t = np.array([_label_index(v) for v in true_labels], dtype=np.int64)
    if p.shape != t.shape:
        raise ValueError(f"pred_labels and true_labels differ in length: {p.size} vs {t.size}")
    if t.size == 0:
        return {"diag_acc3": math.nan, "diag_acc_bm": math.nan, "diag_sensitivity": math.nan,
                "diag_specificity": math.nan, "diag_n": 0.0}
    pm, tm = p == MALIGNANT, t == MALIGNANT
    return {
        "diag_acc3": float(np.mean(p == t)),
        "diag_acc_bm": float(np.mean(pm == tm)),
        "diag_sensitivity": float(np.mean(pm[tm])) if tm.any() else math.nan,
        "diag_specificity": float(np.mean(~pm[~tm])) if (~tm).any() else math.nan,
        "diag_n": float(t.size),
    }


# ----------------------------------------------------------------------------------------------------------------
# Per-pair evaluation and aggregation
# ----------------------------------------------------------------------------------------------------------------
def evaluate_pair(synth: Any, pair: Pair, *, size: int = EXTERNAL_SIZE, bins: int = NMI_BINS,
                  reference: str = "segmented", tumor_only: bool = True,
                  segment_kwargs: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every per-pair metric of :data:`METRIC_NAMES` for one synthesized slice.

    Whole-image SSIM/PSNR/NRMSE against ``pair.target``; external/internal region metrics with boxes placed by
    ``pair.tumor_mask`` (the paper places them by the tumour segmented on the real enhanced image); segmentation
    agreement between :func:`segment_tumor` on ``synth`` and the reference mask, in mm via ``pair.meta.spacing``.

    Args:
        synth: ``(H, W)`` (or ``(1, H, W)``/``(1, 1, H, W)``) synthesized image; numpy or torch.
        pair: The :class:`~pixgrl_env.data.base.Pair` it was synthesized from.
        size: External patch side.
        bins: NMI bins.
        reference: ``"segmented"`` (default): the reference mask is :func:`segment_tumor` on ``pair.target``, as in
            the paper (both images segmented the same way); ``"ground_truth"``: ``pair.tumor_mask``.
        tumor_only: When True (default) and ``pair.tumor_mask`` is empty (a normal slice), the segmentation metrics
            are NaN (the paper reports them over tumours); when False they follow
            :func:`segmentation_agreement`'s empty-mask conventions.
        segment_kwargs: Keyword arguments for :func:`segment_tumor`.

    Returns:
        ``{name: float}`` for every name in :data:`METRIC_NAMES`.
    """
    if reference not in ("segmented", "ground_truth"):
        raise ValueError(f"reference must be 'segmented' or 'ground_truth', got {reference!r}")
    s = _as_image(synth, "synth")
    target = _as_image(pair.target, "pair.target")
    if s.shape != target.shape:
        raise ValueError(f"synth has shape {s.shape} but {pair.meta.source} has shape {target.shape}")
    out = {"ssim": _ssim2d(s, target, 1.0, None), "psnr": _psnr2d(s, target, 1.0), "nrmse": _nrmse2d(s, target)}
    out.update(region_metrics(s, target, pair.tumor_mask, size=size, bins=bins))
    if tumor_only and not np.any(pair.tumor_mask):
        out.update({k: math.nan for k in ("dice", "kappa", "hausdorff_mm", "size_pred_mm2", "size_ref_mm2")})
    else:
        kw = dict(segment_kwargs or {})
        mask_pred = segment_tumor(s, pair.liver_mask, **kw)
        mask_ref = segment_tumor(target, pair.liver_mask, **kw) if reference == "segmented" else pair.tumor_mask
        out.update(segmentation_agreement(mask_pred, mask_ref, pair.meta.spacing))
    return {k: float(out[k]) for k in METRIC_NAMES}


def aggregate(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """Mean, population std (ddof = 0) and count of each metric over rows, skipping NaN.

    Keys appear in first-seen order; a key missing from a row counts as NaN for it. ``±inf`` values are kept (a
    mean PSNR over identical images is ``inf``). A metric with no finite-or-infinite value gives ``(nan, nan, 0)``.

    Args:
        rows: Dicts ``{name: value}``, e.g. from :func:`evaluate_pair`.

    Returns:
        ``{name: (mean, std, n)}``.
    """
    values: dict[str, list[float]] = {}
    for row in rows:
        for k, v in row.items():
            values.setdefault(k, []).append(float(v))
    out: dict[str, tuple[float, float, int]] = {}
    for k, vs in values.items():
        a = np.asarray(vs, dtype=np.float64)
        a = a[~np.isnan(a)]
        if a.size == 0:
            out[k] = (math.nan, math.nan, 0)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf − inf inside std
            out[k] = (float(a.mean()), float(a.std()), int(a.size))
    return out


__all__ = [
    "DATASET_METRIC_NAMES", "EXTERNAL_SIZE", "FEATURE_NAMES", "METRIC_NAMES", "NMI_BINS", "NMI_METHODS",
    "PAPER_STD", "PAPER_VALUES", "LesionClassifier", "aggregate", "cohen_kappa", "diagnosis_metrics", "dice",
    "evaluate_pair", "external_region", "hausdorff_mm", "internal_region", "lesion_features", "nmi", "nrmse",
    "psnr", "region_metrics", "segment_tumor", "segmentation_agreement", "size_correlation", "ssim", "to_numpy",
    "tumor_area_mm2",
]
