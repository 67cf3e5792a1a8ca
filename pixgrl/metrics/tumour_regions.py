"""Tumour regions: the paper's "diagnostic details", boxes placed by the reference tumour mask.

Both boxes are cut from the synthesized and the real enhanced image alike:

- external: the ``size``×``size`` (64×64) patch centred at the tumour centroid, shifted to lie inside the image
  (:func:`external_region`);
- internal: the tumour's bounding box (:func:`internal_region`).

:func:`region_metrics` gives ``ext_ssim, ext_nrmse, ext_nmi, int_ssim, int_nrmse, int_nmi``. An empty tumour mask
gives NaN for all six; a box whose shorter side is under 3 px gives NaN for that box (SSIM needs a 3×3 window, and
NRMSE/NMI over a handful of pixels are noise).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pixgrl.metrics.arrays import as_image, as_mask
from pixgrl.metrics.image_quality import MIN_SIDE, NMI_BINS, nmi, nrmse, ssim

#: Side of the external patch in pixels (the paper: 64).
EXTERNAL_SIZE = 64
#: Boxes with a shorter side under this many pixels get NaN metrics.
MIN_BOX_SIDE = MIN_SIDE

#: ``(row_slice, col_slice)`` of a box in an ``(H, W)`` image.
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
    m = as_mask(mask, "mask")
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
    m = as_mask(mask, "mask")
    if not m.any():
        return None
    rows, cols = np.nonzero(m)
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def _box_metrics(p: np.ndarray, t: np.ndarray, box: Box | None, data_range: float, bins: int) -> dict[str, float]:
    if box is None or min(p[box].shape) < MIN_BOX_SIDE:
        return {"ssim": math.nan, "nrmse": math.nan, "nmi": math.nan}
    a, b = p[box], t[box]
    return {"ssim": float(ssim(a, b, data_range)), "nrmse": float(nrmse(a, b)), "nmi": float(nmi(a, b, bins))}


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
    p, t = as_image(pred, "pred"), as_image(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    m = as_mask(tumor_mask, "tumor_mask", p.shape)
    out: dict[str, float] = {}
    for prefix, box in (("ext", external_region(m, size)), ("int", internal_region(m))):
        for k, v in _box_metrics(p, t, box, data_range, bins).items():
            out[f"{prefix}_{k}"] = v
    return out


__all__ = ["EXTERNAL_SIZE", "MIN_BOX_SIDE", "Box", "external_region", "internal_region", "region_metrics"]
