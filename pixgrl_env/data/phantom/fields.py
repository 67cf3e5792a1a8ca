"""Smooth Gaussian random fields: organ-boundary perturbations, textures, bias and B1 maps.

A field is a Gaussian-kernel upsampling of coarse white noise, ``U @ N @ U.T`` (two small matrix products), with
unit variance everywhere. Fields that must vary smoothly from slice to slice rotate between two fixed per-patient
noise fields as the slice position changes (:meth:`SmoothFields.rotating`), which keeps the Gaussian law.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SmoothFields", "upsample_matrix"]

_FLOAT = np.float32


def upsample_matrix(size: int, m: int) -> np.ndarray:
    """Return ``(size, m)`` float32 Gaussian interpolation weights with unit-L2 rows.

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


class SmoothFields:
    """Smooth unit-variance fields on a ``size × size`` grid, with the upsampling matrices cached per coarse size.

    Args:
        size: Image side in pixels.
    """

    def __init__(self, size: int):
        self.size = size
        self._up: dict[int, np.ndarray] = {}

    def __call__(self, m: int, noise: np.ndarray) -> np.ndarray:
        """Smooth fields ``(k, size, size)`` float32 from coarse white noise ``(k, m, m)``."""
        up = self._up.get(m)
        if up is None:
            up = self._up[m] = upsample_matrix(self.size, m)
        up_t = np.ascontiguousarray(up.T)
        out = np.empty((len(noise), self.size, self.size), dtype=_FLOAT)
        for i, nz in enumerate(noise):
            out[i] = _small_matmul(_small_matmul(up, nz), up_t)
        return out

    def rotating(self, pair: np.ndarray, phase: float, u: float) -> np.ndarray:
        """A ``(size, size)`` field that varies smoothly with the slice position ``u``.

        It is ``cos(a)·F0 + sin(a)·F1`` with ``a = phase + 1.6·u`` and ``F0``, ``F1`` the fields of the two coarse
        noise maps ``pair`` ``(2, m, m)``: a rotation between two independent fields, which keeps the Gaussian law.
        """
        a = float(phase) + 1.6 * u
        return self(pair.shape[-1], (math.cos(a) * pair[0] + math.sin(a) * pair[1])[None])[0]
