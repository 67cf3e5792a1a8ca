"""Pixel graph of Pix-GRL: the normalised 5×5 adjacency of every pixel, from superpixels of the image.

Every pixel of an image is a node. Its neighbours are the ``kernel × kernel`` pixels of the window centred on it
(itself included), so the graph is stored densely as one weight per pixel and window offset: a tensor of shape
``(N, kernel**2, H, W)``. The neighbour order is row-major over the offsets ``(dy, dx)`` in
``(-r..r) × (-r..r)`` with ``r = kernel // 2``; see :func:`neighbour_offsets`. For the default 5×5 window the
index of offset ``(dy, dx)`` is ``k = (dy + 2) * 5 + (dx + 2)``, the centre (the pixel itself) is ``k = 12``, and
the reverse offset ``(-dy, -dx)`` has index ``24 - k``.

Edge weights (eq. 2 of the paper, section 3.1), with ``G`` a Gaussian kernel of the Euclidean pixel distance,
``G(i, j) = exp(-|i - j|² / (2 sigma²))``, and ``S(i, j) = 1`` when ``i`` and ``j`` share a SLIC superpixel
(:mod:`agents.superpixels`), 0.5 otherwise:

- ``mode="product"`` (default): ``A = S · G``. A neighbour across a superpixel border gets half the weight of an
  equally distant neighbour inside. This is the reading this project takes (``docs/paper.md``, Adjacency): the
  paper's stated intent is to weaken edges that cross superpixel borders.
- ``mode="literal"``: ``A = G ** S``, eq. 2 as printed. Since ``G <= 1``, ``G ** 0.5 >= G``: neighbours across a
  border get *more* weight. Kept for the ablation.

Neighbours outside the image have weight 0. The weights are then normalised symmetrically (eq. 1):
``Â = D^-1/2 A D^-1/2`` with ``D_i = Σ_j A_ij`` the degree of pixel ``i`` over its window. Because ``A`` is
symmetric, so is ``Â``: ``w[n, k, y, x] == w[n, K-1-k, y + dy_k, x + dx_k]`` for every in-image pair.

Default ``sigma = 1.5`` pixels: the corners of the 5×5 window (distance 2√2) then keep ``exp(-8 / 4.5) ≈ 0.17`` of
the centre weight and the direct neighbours ``0.80``, so the whole window contributes (with ``sigma = 1`` the
corners would carry only 0.018). The paper does not give its value.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from agents.superpixels import superpixels

__all__ = [
    "MODES",
    "adjacency_weights",
    "gaussian_kernel",
    "graph_weights",
    "neighbour_offsets",
    "window_pairs",
]

MODES = ("product", "literal")
S_CROSS = 0.5
"""The value of ``S`` for two pixels in different superpixels (1 inside one superpixel)."""


def _radius(kernel: int) -> int:
    """``kernel // 2`` of an odd window size; raise ValueError for anything else."""
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd integer, got {kernel!r}")
    return kernel // 2


def neighbour_offsets(kernel: int = 5) -> list[tuple[int, int]]:
    """Window offsets ``(dy, dx)`` in the neighbour order used by every weight tensor of this package.

    Args:
        kernel: Odd window size.

    Returns:
        ``kernel**2`` offsets, row-major over ``dy`` then ``dx`` in ``-kernel//2 .. kernel//2``. Index ``k`` and
        index ``kernel**2 - 1 - k`` are reverse offsets; the centre ``(0, 0)`` is index ``kernel**2 // 2``.
    """
    r = _radius(kernel)
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def gaussian_kernel(kernel: int = 5, sigma: float = 1.5, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Gaussian ``G`` of the distance of each window offset to the centre, 1 at the centre.

    Args:
        kernel: Odd window size.
        sigma: Standard deviation in pixels, > 0.
        dtype: Floating dtype of the result.
        device: Device of the result (computed there: no host-to-device copy); default the CPU.

    Returns:
        Tensor ``(kernel**2,)`` in ``(0, 1]``, in the order of :func:`neighbour_offsets`.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = _radius(kernel)
    d = torch.arange(-r, r + 1, dtype=dtype, device=device)
    d2 = (d.view(-1, 1).square() + d.view(1, -1).square()).flatten()  # row-major over (dy, dx)
    return torch.exp(-d2 / (2.0 * sigma * sigma))


def adjacency_weights(
    labels: torch.Tensor,
    kernel: int = 5,
    sigma: float = 1.5,
    mode: str = "product",
    dtype: torch.dtype = torch.float32,
    normalize: bool = True,
) -> torch.Tensor:
    """Normalised graph weights ``Â = D^-1/2 A D^-1/2`` of every pixel to each neighbour in its window.

    Batched torch on the labels' device, two passes over the 25 window offsets (label comparisons of shifted
    views, then the normalisation); no host copy or synchronisation.

    Args:
        labels: LongTensor ``(N, H, W)`` of superpixel labels (any non-negative integers; only equality matters).
        kernel: Odd window size (5 in the paper).
        sigma: Standard deviation of the Gaussian distance kernel, pixels.
        mode: ``"product"`` for ``A = S · G`` (default reading), ``"literal"`` for ``A = G ** S`` (eq. 2 as printed).
        dtype: Floating dtype of the result.
        normalize: Apply ``D^-1/2 A D^-1/2`` (default). ``False`` returns the raw ``A`` (for inspection and tests).

    Returns:
        Tensor ``(N, kernel**2, H, W)``: ``w[n, k, y, x]`` is the weight of the edge from pixel ``(y, x)`` to pixel
        ``(y + dy_k, x + dx_k)`` (order of :func:`neighbour_offsets`), in ``[0, 1]``; 0 for neighbours outside
        the image. Symmetric: ``w[n, k, y, x] == w[n, K-1-k, y + dy_k, x + dx_k]``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown adjacency mode {mode!r}; choose one of {MODES}")
    if labels.ndim != 3:
        raise ValueError(f"labels must be (N, H, W), got shape {tuple(labels.shape)}")
    if labels.is_floating_point():
        raise TypeError("labels must be an integer tensor")
    n, h, w = labels.shape
    work = torch.float64 if dtype == torch.float64 else torch.float32
    dev = labels.device
    inside = gaussian_kernel(kernel, sigma, work, dev)  # A of a pair in one superpixel, per offset
    cross = inside * S_CROSS if mode == "product" else inside.pow(S_CROSS)  # A across a superpixel border
    # Every offset's pairs as two slices of the image: the pixels and their neighbours, both inside the image.
    # Neighbours outside the image keep weight 0.
    adj = torch.zeros((n, kernel * kernel, h, w), dtype=work, device=dev)
    deg = torch.zeros((n, h, w), dtype=work, device=dev)
    pairs = list(window_pairs(kernel, h, w))
    for k, (y, x), (y2, x2) in pairs:
        torch.where(labels[:, y, x] == labels[:, y2, x2], inside[k], cross[k], out=adj[:, k, y, x])
        deg[:, y, x] += adj[:, k, y, x]
    if not normalize:
        return adj.to(dtype)
    inv_sqrt = deg.rsqrt_()  # D >= 1: the self weight G(0) = 1
    for k, (y, x), (y2, x2) in pairs:
        adj[:, k, y, x] *= inv_sqrt[:, y, x] * inv_sqrt[:, y2, x2]
    return adj.to(dtype)


def window_pairs(kernel: int, h: int, w: int) -> Iterator[tuple[int, tuple[slice, slice], tuple[slice, slice]]]:
    """The in-image pixel pairs of every window offset, as slices: what shifted-view loops over a window iterate.

    Args:
        kernel: Odd window size.
        h, w: Image size.

    Yields:
        ``(k, here, there)`` for each offset ``k`` (order of :func:`neighbour_offsets`) with any in-image pair:
        ``here`` the ``(rows, cols)`` slices of the pixels whose neighbour at offset ``k`` lies inside the image,
        ``there`` the slices of those neighbours.
    """
    for k, (dy, dx) in enumerate(neighbour_offsets(kernel)):
        y0, y1, x0, x1 = max(0, -dy), h - max(0, dy), max(0, -dx), w - max(0, dx)
        if y0 < y1 and x0 < x1:
            yield k, (slice(y0, y1), slice(x0, x1)), (slice(y0 + dy, y1 + dy), slice(x0 + dx, x1 + dx))


def graph_weights(
    images: torch.Tensor | np.ndarray,
    kernel: int = 5,
    sigma: float = 1.5,
    mode: str = "product",
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    method: str = "torch",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Superpixels then normalised adjacency: the graph input of :class:`agents.networks.PixGRLNet`.

    Args:
        images: ``(N, 1, H, W)`` (or ``(N, H, W)``) intensities in ``[0, 1]``.
        kernel: Odd window size.
        sigma: Gaussian distance kernel standard deviation, pixels.
        mode: ``"product"`` or ``"literal"``, see :func:`adjacency_weights`.
        n_pixels_per_segment: Target superpixel area, see :func:`agents.superpixels.superpixels`.
        compactness: SLIC compactness, see :func:`agents.superpixels.superpixels`.
        method: Superpixel method: ``"torch"`` (default: on the images' device, no host copy) or ``"skimage"``.
        dtype: Floating dtype of the result.
        device: Device of the result; default the device of ``images``.

    Returns:
        Tensor ``(N, kernel**2, H, W)`` of normalised weights, see :func:`adjacency_weights`.
    """
    labels = superpixels(images, n_pixels_per_segment=n_pixels_per_segment, compactness=compactness, method=method,
                         device=device)
    return adjacency_weights(labels, kernel=kernel, sigma=sigma, mode=mode, dtype=dtype)
