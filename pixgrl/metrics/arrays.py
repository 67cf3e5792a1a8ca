"""Input handling shared by the metrics: numpy arrays or torch tensors in, float64 numpy arrays out.

Every metric accepts numpy arrays, torch tensors (any device, any float dtype, without importing torch) or nested
sequences. These helpers convert them and check shapes, raising a ``ValueError`` that names the argument and the
shape that was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


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


def as_metric_batch(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """``(H, W)`` → ``((1, H, W), False)``; ``(N, H, W)`` or ``(N, 1, H, W)`` → ``((N, H, W), True)``."""
    a = to_numpy(x)
    if a.ndim == 2:
        return a[None], False
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W), (N, H, W) or (N, 1, H, W), got {tuple(np.shape(x))}")
    return a, True


def _squeeze_2d(x: Any, name: str, what: str, dtype: Any = np.float64) -> np.ndarray:
    a = to_numpy(x, dtype=dtype)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{name} must be {what} (H, W), got shape {tuple(np.shape(x))}")
    return a


def as_image(x: Any, name: str) -> np.ndarray:
    """One finite 2-D float64 image; ``(1, H, W)`` and ``(1, 1, H, W)`` are squeezed."""
    a = _squeeze_2d(x, name, "one 2-D image")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN/Inf values")
    return a


def as_mask(x: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """One 2-D bool mask (non-zero = True); ``shape``, when given, is the shape it must have."""
    a = _squeeze_2d(x, name, "a 2-D mask")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return a != 0


def per_item(fn: Callable[[np.ndarray, np.ndarray], float], pred: Any, target: Any) -> float | np.ndarray:
    """Apply ``fn(pred_i, target_i)`` to each 2-D image of a pair of images or batches.

    Args:
        fn: Metric of two finite ``(H, W)`` float64 images.
        pred: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``; numpy or torch.
        target: Same shape as ``pred``.

    Returns:
        A float for one image, an ``(N,)`` float64 array for a batch.
    """
    p, batched_p = as_metric_batch(pred, "pred")
    t, batched_t = as_metric_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(np.shape(pred))} vs {tuple(np.shape(target))}")
    for name, a in (("pred", p), ("target", t)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN/Inf values")
    vals = np.array([fn(a, b) for a, b in zip(p, t)], dtype=np.float64)
    return vals if batched_p or batched_t else float(vals[0])


def check_spacing(spacing: Sequence[float]) -> tuple[float, float]:
    """``(row_mm, col_mm)`` as two positive finite floats; raises ``ValueError`` otherwise."""
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 2 or not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be two positive finite numbers (row_mm, col_mm), got {spacing!r}")
    return sp  # type: ignore[return-value]


__all__ = ["as_image", "as_mask", "as_metric_batch", "check_spacing", "per_item", "to_numpy"]
