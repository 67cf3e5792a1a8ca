"""Pixel graph of Pix-GRL: SLIC superpixels and the normalised 5×5 adjacency of every pixel.

Every pixel of an image is a node. Its neighbours are the ``kernel × kernel`` pixels of the window centred on it
(itself included), so the graph is stored densely as one weight per pixel and window offset: a tensor of shape
``(N, kernel**2, H, W)``. The neighbour order is row-major over the offsets ``(dy, dx)`` in
``(-r..r) × (-r..r)`` with ``r = kernel // 2``; see :func:`neighbour_offsets`. For the default 5×5 window the
index of offset ``(dy, dx)`` is ``k = (dy + 2) * 5 + (dx + 2)``, the centre (the pixel itself) is ``k = 12``, and
the reverse offset ``(-dy, -dx)`` has index ``24 - k``.

Edge weights (eq. 2 of the paper, section 3.1), with ``G`` a Gaussian kernel of the Euclidean pixel distance,
``G(i, j) = exp(-|i - j|² / (2 sigma²))``, and ``S(i, j) = 1`` when ``i`` and ``j`` share a SLIC superpixel, 0.5
otherwise:

- ``mode="product"`` (default): ``A = S · G``. A neighbour across a superpixel border gets half the weight of an
  equally distant neighbour inside. This is the reading this project takes (see ``shared/paper/NOTES.md``): the
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

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import slic

__all__ = [
    "MODES",
    "adjacency_weights",
    "gaussian_kernel",
    "graph_weights",
    "neighbour_offsets",
    "superpixels",
]

MODES = ("product", "literal")
S_CROSS = 0.5
"""The value of ``S`` for two pixels in different superpixels (1 inside one superpixel)."""


def neighbour_offsets(kernel: int = 5) -> list[tuple[int, int]]:
    """Window offsets ``(dy, dx)`` in the neighbour order used by every weight tensor of this package.

    Args:
        kernel: Odd window size.

    Returns:
        ``kernel**2`` offsets, row-major over ``dy`` then ``dx`` in ``-kernel//2 .. kernel//2``. Index ``k`` and
        index ``kernel**2 - 1 - k`` are reverse offsets; the centre ``(0, 0)`` is index ``kernel**2 // 2``.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd integer, got {kernel}")
    r = kernel // 2
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def gaussian_kernel(kernel: int = 5, sigma: float = 1.5) -> torch.Tensor:
    """Gaussian ``G`` of the distance of each window offset to the centre, 1 at the centre.

    Args:
        kernel: Odd window size.
        sigma: Standard deviation in pixels, > 0.

    Returns:
        Float64 tensor ``(kernel**2,)`` in ``(0, 1]``, in the order of :func:`neighbour_offsets`.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    d2 = torch.tensor([dy * dy + dx * dx for dy, dx in neighbour_offsets(kernel)], dtype=torch.float64)
    return torch.exp(-d2 / (2.0 * sigma * sigma))


def _as_batch_of_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Return images as a float64 numpy array ``(N, H, W)``, accepting ``(H, W)``, ``(N, H, W)``, ``(N, 1, H, W)``."""
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"superpixels expects single-channel images (N, 1, H, W), got shape {arr.shape}")
        arr = arr[:, 0]
    elif arr.ndim != 3:
        raise ValueError(f"expected (H, W), (N, H, W) or (N, 1, H, W) images, got shape {arr.shape}")
    return arr


def superpixels(
    images: torch.Tensor | np.ndarray,
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    max_num_iter: int = 10,
    slic_sigma: float = 0.0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """SLIC superpixels of each image (``skimage.segmentation.slic``, on CPU, one image at a time).

    Deterministic: SLIC starts from a regular grid of centres and uses no randomness.

    Args:
        images: ``(N, 1, H, W)``, ``(N, H, W)`` or ``(H, W)`` intensities, float in ``[0, 1]`` (the default
            ``compactness`` is tuned for that range), tensor on any device or numpy array.
        n_pixels_per_segment: Target superpixel area; ``n_segments = max(1, round(H * W / n_pixels_per_segment))``.
            The default 64 gives the paper's superpixels of about 8×8 pixels.
        compactness: SLIC balance between intensity and space; higher gives more square superpixels. 0.2 follows
            organ borders of [0, 1] images with mild noise; 0.05 or below collapses segments on noisy images.
        max_num_iter: SLIC k-means iterations.
        slic_sigma: Gaussian pre-smoothing of SLIC (0: none).
        device: Device of the returned labels; default: the device of ``images`` (CPU for numpy input).

    Returns:
        LongTensor ``(N, H, W)`` of labels ``0 .. n_i - 1`` per image (each image numbered independently).
    """
    if device is None:
        device = images.device if isinstance(images, torch.Tensor) else "cpu"
    arr = _as_batch_of_images(images)
    _, h, w = arr.shape
    n_segments = max(1, round(h * w / n_pixels_per_segment))
    labels = [
        slic(
            img,
            n_segments=n_segments,
            compactness=compactness,
            max_num_iter=max_num_iter,
            sigma=slic_sigma,
            channel_axis=None,
            start_label=0,
        )
        for img in arr
    ]
    return torch.from_numpy(np.stack(labels).astype(np.int64)).to(device)


def adjacency_weights(
    labels: torch.Tensor,
    kernel: int = 5,
    sigma: float = 1.5,
    mode: str = "product",
    dtype: torch.dtype = torch.float32,
    normalize: bool = True,
) -> torch.Tensor:
    """Normalised graph weights ``Â = D^-1/2 A D^-1/2`` of every pixel to each neighbour in its window.

    Batched torch on the labels' device: one pass of 25 shifted views of the (zero-cost, 1-channel) label map.

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
    r = kernel // 2
    offsets = neighbour_offsets(kernel)
    gauss = gaussian_kernel(kernel, sigma).tolist()
    work = torch.float64 if dtype == torch.float64 else torch.float32

    # Out-of-image neighbours get label -1, which no pixel has, and are masked out.
    lab = labels.long()
    padded = F.pad(lab + 1, (r, r, r, r), value=0) - 1
    adj = torch.empty((n, len(offsets), h, w), dtype=work, device=labels.device)
    for k, (dy, dx) in enumerate(offsets):
        nb = padded[:, r + dy : r + dy + h, r + dx : r + dx + w]
        same = nb == lab
        g = gauss[k]
        cross = g * S_CROSS if mode == "product" else g**S_CROSS
        inside_w, cross_w = (torch.tensor(v, dtype=work, device=labels.device) for v in (g, cross))
        adj[:, k] = torch.where(same, inside_w, cross_w) * (nb >= 0)

    if not normalize:
        return adj.to(dtype)
    deg = adj.sum(dim=1)  # (N, H, W), >= 1 since the self weight G(0) = 1
    inv_sqrt = deg.rsqrt()
    inv_sqrt_p = F.pad(inv_sqrt, (r, r, r, r), value=0.0)  # 0 outside: those edges are 0 anyway
    for k, (dy, dx) in enumerate(offsets):
        adj[:, k] *= inv_sqrt * inv_sqrt_p[:, r + dy : r + dy + h, r + dx : r + dx + w]
    return adj.to(dtype)


def graph_weights(
    images: torch.Tensor | np.ndarray,
    kernel: int = 5,
    sigma: float = 1.5,
    mode: str = "product",
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Superpixels then normalised adjacency: the graph input of :class:`agents.networks.PixGRLNet`.

    Args:
        images: ``(N, 1, H, W)`` (or ``(N, H, W)``) intensities in ``[0, 1]``.
        kernel: Odd window size.
        sigma: Gaussian distance kernel standard deviation, pixels.
        mode: ``"product"`` or ``"literal"``, see :func:`adjacency_weights`.
        n_pixels_per_segment: Target superpixel area, see :func:`superpixels`.
        compactness: SLIC compactness, see :func:`superpixels`.
        dtype: Floating dtype of the result.
        device: Device of the result; default the device of ``images``.

    Returns:
        Tensor ``(N, kernel**2, H, W)`` of normalised weights, see :func:`adjacency_weights`.
    """
    labels = superpixels(images, n_pixels_per_segment=n_pixels_per_segment, compactness=compactness, device=device)
    return adjacency_weights(labels, kernel=kernel, sigma=sigma, mode=mode, dtype=dtype)

