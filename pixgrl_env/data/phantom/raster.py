"""Rasterisation of perturbed ellipses onto the phantom's pixel grid (millimetre geometry → label maps).

Coordinates are in millimetres with the origin at the image centre, in radiological convention: ``x`` grows to the
image right (the patient's left), ``y`` grows downward (posterior). Shapes are only evaluated on the window of
pixels that can hold them, so painting costs the shape's area, not the image's.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Grid"]

_FLOAT = np.float32


class Grid:
    """A ``size × size`` pixel grid covering ``fov_mm``; paints shapes into uint8 label maps.

    Args:
        size: Image side in pixels.
        fov_mm: Field of view in mm; the pixel spacing is ``fov_mm / size``.

    Attributes:
        x: ``(size,)`` float32 column centres in mm (+ = image right = patient left).
        y: ``(size,)`` float32 row centres in mm (+ = posterior).
        pixel_mm: Pixel spacing in mm.
    """

    def __init__(self, size: int, fov_mm: float):
        self.size = size
        self.fov_mm = fov_mm
        self.pixel_mm = fov_mm / size
        coord = (np.arange(size) + 0.5 - size / 2) * self.pixel_mm
        self.x = coord.astype(_FLOAT)
        self.y = coord.astype(_FLOAT)

    def window(self, cx: float, cy: float, extent: float) -> tuple[slice, slice] | None:
        """The ``(rows, cols)`` slices of the pixels within ``extent`` mm of ``(cx, cy)``, or None if off-grid."""
        n, sp = self.size, self.pixel_mm
        c0, c1 = max(0, int((cx - extent) / sp + n / 2)), min(n, math.ceil((cx + extent) / sp + n / 2) + 1)
        r0, r1 = max(0, int((cy - extent) / sp + n / 2)), min(n, math.ceil((cy + extent) / sp + n / 2) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def offsets(self, win: tuple[slice, slice], cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
        """``(dx (1, w), dy (h, 1))`` float32 mm offsets of the pixels of ``win`` from ``(cx, cy)``."""
        return self.x[win[1]][None, :] - _FLOAT(cx), self.y[win[0]][:, None] - _FLOAT(cy)

    def q(self, win: tuple[slice, slice], cx: float, cy: float, a: float, b: float,
          theta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Return the squared normalised coordinates ``(X², Y²)`` on ``win``; the ellipse is ``X² + Y² < 1``.

        Semi-axes ``a`` (along the rotated x) and ``b``, rotation ``theta`` (radians), centre ``(cx, cy)`` in mm.
        """
        dx, dy = self.offsets(win, cx, cy)
        if theta:
            ct, st = _FLOAT(math.cos(theta)), _FLOAT(math.sin(theta))
            dx, dy = dx * ct + dy * st, dy * ct - dx * st
        return (dx / _FLOAT(a)) ** 2, (dy / _FLOAT(b)) ** 2

    def paint(self, lab: np.ndarray, value: int, cx: float, cy: float, a: float, b: float, theta: float = 0.0,
              eps: float = 0.0, fld: np.ndarray | None = None, region: np.ndarray | None = None,
              square: float = 0.0) -> None:
        """Set ``lab`` to ``value`` inside a perturbed ellipse, in place.

        The shape is ``X² + Y² < 1`` (or the squircle ``X² + Y² − s²X²Y² < 1`` when ``square`` = s > 0), with the
        radius scaled by ``1 + eps·fld`` (``fld`` a ``(size, size)`` smooth field), optionally only where the bool
        ``region`` holds. Nothing is painted for a non-positive semi-axis.
        """
        if a <= 0 or b <= 0:
            return
        win = self.window(cx, cy, max(a, b) * (1 + 4 * eps) + 2 * self.pixel_mm)
        if win is None:
            return
        x2, y2 = self.q(win, cx, cy, a, b, theta)
        k2 = (1 + eps * fld[win]) ** 2 if eps and fld is not None else _FLOAT(1.0)
        if square:
            m = k2 * (x2 + y2) - _FLOAT(square**2) * x2 * y2 < k2 * k2
        else:
            m = x2 + y2 < k2
        if region is not None:
            m &= region[win]
        lab[win][m] = value
