"""Whole-image quality metrics: SSIM, PSNR, NRMSE and NMI of a synthesized ``pred`` against the real ``target``.

Images are float in [0, 1] (``data_range=1``); nothing is clipped. ``(H, W)`` → float; ``(N, H, W)`` or
``(N, 1, H, W)`` → ``(N,)`` array; numpy arrays or torch tensors (any device, any float dtype).

- :func:`ssim`: structural similarity, :func:`skimage.metrics.structural_similarity` with its defaults (7×7
  uniform window, K1 = 0.01, K2 = 0.03), ``data_range=1``. Images or boxes with a side under 7 px use the largest
  odd window that fits; under 3 px (:data:`MIN_SIDE`) SSIM is NaN.
- :func:`psnr`: ``10·log10(data_range² / MSE)`` (:func:`skimage.metrics.peak_signal_noise_ratio`); identical images
  give ``inf`` (MSE = 0), returned without a warning.
- :func:`nrmse`: ``‖target − pred‖₂ / ‖target‖₂``, the "euclidean" normalisation of
  :func:`skimage.metrics.normalized_root_mse` (its default). The paper does not say which normalisation it used;
  its numbers point to this one: PSNR 23.81 dB means RMSE ≈ 0.065, and NRMSE 0.16 then needs a denominator ≈ 0.40,
  a plausible RMS (or mean) intensity of an MR slice in [0, 1]; the "min-max" normalisation would give ≈ 0.065.
  A target that is all zeros gives NaN (0 when ``pred`` is all zeros too).
- :func:`nmi`: normalized mutual information in [0, 1], ``2·I(A;B) / (H(A) + H(B))`` (the "arithmetic" NMI of
  scikit-learn's ``normalized_mutual_info_score``), computed from scikit-image's Studholme NMI
  ``Y = (H(A) + H(B)) / H(A,B)`` ∈ [1, 2] (:func:`skimage.metrics.normalized_mutual_information`) as ``2 − 2/Y``.
  Joint histogram of ``bins`` = 32 bins per axis over each image's own value range (the paper gives neither the
  normalisation nor the bins; skimage's raw [1, 2] value cannot produce the paper's 0.43–0.61, and on a textured
  phantom patch with SSIM ≈ 0.8–0.9 the arithmetic form with 16–32 bins falls in the paper's range, whereas
  100 bins inflates NMI on small boxes). ``method="joint"`` gives ``I / H(A,B) = Y − 1``, ``method="skimage"``
  the raw ``Y``. Identical non-constant images give 1; two constant images give NaN (no information).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from skimage.metrics import (
    normalized_mutual_information,
    normalized_root_mse,
    peak_signal_noise_ratio,
    structural_similarity,
)

from pixgrl.metrics.arrays import per_item

#: Default NMI histogram bins per image.
NMI_BINS = 32
#: The NMI normalisations :func:`nmi` offers.
NMI_METHODS = ("arithmetic", "joint", "skimage")
#: Smallest image side SSIM is defined for (a 3×3 window).
MIN_SIDE = 3
_SSIM_WIN = 7


def _ssim_win(shape: tuple[int, ...], win_size: int | None) -> int | None:
    """The SSIM window for an image of ``shape``: ``win_size`` or 7, shrunk to the largest odd size that fits."""
    w = min(_SSIM_WIN if win_size is None else int(win_size), min(shape))
    if w % 2 == 0:
        w -= 1
    return w if w >= MIN_SIDE else None


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
    return per_item(lambda a, b: _ssim2d(a, b, data_range, win_size), pred, target)


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
    return per_item(lambda a, b: _psnr2d(a, b, data_range), pred, target)


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
    return per_item(_nrmse2d, pred, target)


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
    return per_item(lambda a, b: _nmi2d(a, b, int(bins), method), pred, target)


__all__ = ["MIN_SIDE", "NMI_BINS", "NMI_METHODS", "nmi", "nrmse", "psnr", "ssim"]
