"""Superpixels of grey-level images: SLIC in torch on the images' device, scikit-image's SLIC, and their quality.

Pix-GRL's pixel graph (:mod:`agents.graph`) halves the weight of every edge that crosses a superpixel border, so it
needs compact, intensity-following segments of about 8×8 pixels for every image of every step. Two methods:

- ``"torch"`` (:func:`slic_torch`, the default): SLIC (Achanta et al., TPAMI 2012) as batched tensor operations
  on the images' device. Deterministic, no host copy, no device synchronisation, no Python loop over pixels or
  images.
- ``"skimage"`` (:func:`slic_skimage`): ``skimage.segmentation.slic`` on the CPU, one image per call. The reference.

Both minimise the same SLIC distance of a pixel ``p`` to a segment centre ``c`` over the same regular grid of seeds:
``D = ((I_p - I_c) / m)² + |p - c|² / S²`` with ``m`` the compactness, ``S`` the grid step and ``I`` the intensity
rescaled to ``[0, 1]`` per image (as scikit-image does). They differ where scikit-image follows the original SLIC
and a GPU cannot afford it:

- *Search region.* scikit-image lets each centre scan a ``4S × 4S`` window; :func:`slic_torch` compares each pixel
  with the centres seeded in the 3×3 grid cells around its own (the gSLIC formulation), a fixed 9 candidates.
- *Seeds.* Centres start at the mean position and intensity of their grid cell (not at one pixel's intensity, so
  noise does not bias the first assignment).
- *Connectivity.* scikit-image relabels every connected fragment smaller than half a segment into a neighbouring
  segment. :func:`slic_torch` does no connectivity clean-up: a segment may have small detached fragments (always
  within its 3×3 cells). The graph only asks whether two pixels of one 5×5 window share a label, and the
  measurements (``benchmarks/bench_superpixels.py``) show boundary recall and undersegmentation error on phantom
  slices within a few points of scikit-image's.

Quality measures (:func:`boundary_recall`, :func:`undersegmentation_error`) compare a segmentation with a ground-truth
label map; they run in numpy, for benchmarks and tests.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "METHODS",
    "boundary_recall",
    "slic_skimage",
    "slic_torch",
    "superpixels",
    "undersegmentation_error",
]

METHODS = ("torch", "skimage")
_INTENSITY_BITS = 24
"""Intensities are summed as integers of ``2**-24`` resolution, so the centre updates are exact and deterministic
on every device (integer atomics do not depend on their order, float ones do)."""


def _as_images(images: Tensor | np.ndarray) -> Tensor:
    """``(N, H, W)`` float view of ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` images, on their own device."""
    x = torch.as_tensor(images)
    if x.ndim == 2:
        x = x[None]
    elif x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"superpixels expects single-channel images (N, 1, H, W), got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.ndim != 3:
        raise ValueError(f"expected (H, W), (N, H, W) or (N, 1, H, W) images, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1], got dtype {x.dtype}")
    return x


def _cell_side(n_pixels_per_segment: int) -> int:
    """Side in pixels of the square seed cells: ``round(sqrt(n_pixels_per_segment))``, at least 1."""
    if not (isinstance(n_pixels_per_segment, int) and n_pixels_per_segment >= 1):
        raise ValueError(f"n_pixels_per_segment must be an int >= 1, got {n_pixels_per_segment!r}")
    return max(1, round(math.sqrt(n_pixels_per_segment)))


def slic_torch(
    images: Tensor,
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    max_num_iter: int = 10,
) -> Tensor:
    """SLIC superpixels of a batch of images, as tensor operations on the images' device.

    Seeds sit on a regular grid of square cells of side ``S = round(sqrt(n_pixels_per_segment))`` pixels,
    ``gh = ceil(H / S)`` by ``gw = ceil(W / S)`` of them (the last row and column of cells are cut by the image
    border when ``S`` does not divide it). Each of the ``max_num_iter`` iterations moves every centre to the mean
    position and intensity of its pixels (one integer ``scatter_add_``), then assigns every pixel to the nearest of
    the 9 centres seeded in its own and the 8 surrounding cells under the SLIC distance (one broadcast over the
    centre grid upsampled to pixels; ties go to the first in row-major order of the 3×3 cells). A
    centre that loses all its pixels keeps its place. The labels are finally renumbered ``0 .. n_i - 1`` per image
    in grid order. No connectivity clean-up (see the module docstring).

    Cost: ``O(max_num_iter · 9 · N · H · W)`` elementwise work, about 15 kernels per iteration; no host copy or
    synchronisation, so it runs under ``torch.cuda.set_sync_debug_mode("error")``.

    Args:
        images: ``(N, 1, H, W)`` (or ``(N, H, W)``) float intensities, on any device. Each image is rescaled to
            ``[0, 1]`` by its own minimum and maximum first, as scikit-image does, so ``compactness`` means the same.
        n_pixels_per_segment: Target segment area in pixels (64: the paper's 8×8).
        compactness: ``m``, the weight of intensity against space; higher gives squarer segments (0.2 suits
            [0, 1] MR slices with mild noise, as for :func:`slic_skimage`).
        max_num_iter: k-means iterations, >= 1 (10, scikit-image's default; see ``benchmarks/bench_superpixels.py``
            for fewer).

    Returns:
        int64 tensor ``(N, H, W)`` on the images' device: labels ``0 .. n_i - 1`` of each image, every value used,
        ``n_i <= gh · gw``.
    """
    x = _as_images(images)
    if not compactness > 0:
        raise ValueError(f"compactness must be > 0, got {compactness!r}")
    if not (isinstance(max_num_iter, int) and max_num_iter >= 1):
        raise ValueError(f"max_num_iter must be an int >= 1, got {max_num_iter!r}")
    n, h, w = x.shape
    dev = x.device
    side = _cell_side(n_pixels_per_segment)
    gh, gw = -(-h // side), -(-w // side)
    hp, wp = gh * side, gw * side  # padded to whole cells; the padding is masked out of the centre updates
    k_cells = gh * gw

    x = x.float()
    lo = x.amin(dim=(1, 2), keepdim=True)
    span = x.amax(dim=(1, 2), keepdim=True) - lo
    x = (x - lo) / torch.where(span > 0, span, 1.0)
    x = torch.nn.functional.pad(x[:, None], (0, wp - w, 0, hp - h), mode="replicate")[:, 0]

    # Features in distance units: intensity / m and position / S.
    feat_i = x / compactness  # (N, Hp, Wp)
    pos_y = (torch.arange(hp, device=dev, dtype=torch.float32) / side).view(1, hp, 1)
    pos_x = (torch.arange(wp, device=dev, dtype=torch.float32) / side).view(1, 1, wp)
    # Centre-update terms, quantised: count, intensity · 2^24, y, x (zero on the padding).
    valid = torch.zeros(hp, wp, dtype=torch.int64, device=dev)
    valid[:h, :w] = 1
    ys = torch.arange(hp, device=dev).view(hp, 1) * valid
    xs = torch.arange(wp, device=dev).view(1, wp) * valid
    terms = torch.stack([valid.expand(n, hp, wp), (x * 2**_INTENSITY_BITS).round().long() * valid,
                         ys.expand(n, hp, wp), xs.expand(n, hp, wp)], dim=1).view(n, 4, hp * wp)
    scale = torch.full((1, 3, 1), 1.0 / side, device=dev)  # built on the device: a host tensor would be a copy
    scale[:, 0] = 2.0**-_INTENSITY_BITS / compactness

    # Label of each pixel's own cell; the 3×3 moves to the neighbouring cells and their label offsets.
    cell = ((torch.arange(hp, device=dev) // side).view(hp, 1) * gw + (torch.arange(wp, device=dev) // side))
    moves = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]

    labels = cell.expand(n, hp, wp)
    centres = torch.zeros(n, 3, k_cells, device=dev)
    for _ in range(max_num_iter):
        # Update: mean features of each centre's pixels (integer sums: exact, order-independent).
        sums = torch.zeros(n, 4, k_cells, dtype=torch.int64, device=dev)
        sums.scatter_add_(2, labels.reshape(n, 1, hp * wp).expand(n, 4, hp * wp), terms)
        count = sums[:, :1]
        mean = sums[:, 1:].double().div_(count.clamp(min=1)).float() * scale
        centres = torch.where(count > 0, mean, centres)
        # Assign: the nearest of the 9 centres seeded around each pixel's cell. The centre grid, padded with
        # centres at infinity, is upsampled to pixels once; move (di, dj) is then a view shifted by whole cells.
        # The winner's label offset di·gw + dj is kept as a float blended in arithmetically (exact for any
        # realistic grid; faster on CPUs than masked writes).
        grid = torch.nn.functional.pad(centres.view(n, 3, gh, gw), (1, 1, 1, 1), value=math.inf)
        grid = grid.repeat_interleave(side, dim=2).repeat_interleave(side, dim=3)
        best = offset = None
        for di, dj in moves:
            near = grid[:, :, (1 + di) * side : (1 + di) * side + hp, (1 + dj) * side : (1 + dj) * side + wp]
            dist = (feat_i - near[:, 0]).square_()
            dist += (pos_y - near[:, 1]).square_()
            dist += (pos_x - near[:, 2]).square_()
            if best is None:
                best, offset = dist, torch.full_like(dist, float(di * gw + dj))
                continue
            closer = (dist < best).float()  # strict: ties keep the earlier move
            torch.minimum(best, dist, out=best)
            offset += closer.mul_(di * gw + dj - offset)
        labels = cell + offset.long()

    # Crop the padding; renumber the used labels 0 .. n_i - 1 per image, in grid order (no synchronisation).
    flat = labels.reshape(n, hp, wp)[:, :h, :w].reshape(n, h * w)
    used = torch.zeros(n, k_cells, dtype=torch.int64, device=dev).scatter_(1, flat, 1)
    return (used.cumsum(dim=1) - 1).gather(1, flat).view(n, h, w)


def slic_skimage(
    images: Tensor | np.ndarray,
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    max_num_iter: int = 10,
    slic_sigma: float = 0.0,
) -> Tensor:
    """SLIC superpixels of each image with ``skimage.segmentation.slic``, on the CPU, one image per call.

    Deterministic: SLIC starts from a regular grid of centres and uses no randomness. Connected fragments smaller
    than half a segment are merged into a neighbour (scikit-image's ``enforce_connectivity``).

    Args:
        images: ``(N, 1, H, W)``, ``(N, H, W)`` or ``(H, W)`` intensities, float in ``[0, 1]`` (the default
            ``compactness`` is tuned for that range), tensor on any device or numpy array.
        n_pixels_per_segment: Target superpixel area; ``n_segments = max(1, round(H * W / n_pixels_per_segment))``.
            The default 64 gives the paper's superpixels of about 8×8 pixels.
        compactness: SLIC balance between intensity and space; higher gives more square superpixels. 0.2 follows
            organ borders of [0, 1] images with mild noise; 0.05 or below collapses segments on noisy images.
        max_num_iter: SLIC k-means iterations.
        slic_sigma: Gaussian pre-smoothing of SLIC (0: none).

    Returns:
        CPU int64 tensor ``(N, H, W)`` of labels ``0 .. n_i - 1`` per image (each image numbered independently).
    """
    from skimage.segmentation import slic

    if isinstance(images, Tensor):
        images = images.detach().to("cpu", torch.float64)
    arr = _as_images(images).numpy().astype(np.float64, copy=False)
    _cell_side(n_pixels_per_segment)  # validates it
    _, h, w = arr.shape
    n_segments = max(1, round(h * w / n_pixels_per_segment))
    labels = [slic(img, n_segments=n_segments, compactness=compactness, max_num_iter=max_num_iter,
                   sigma=slic_sigma, channel_axis=None, start_label=0) for img in arr]
    return torch.from_numpy(np.stack(labels).astype(np.int64))


def superpixels(
    images: Tensor | np.ndarray,
    n_pixels_per_segment: int = 64,
    compactness: float = 0.2,
    method: str = "torch",
    device: torch.device | str | None = None,
) -> Tensor:
    """Superpixels of each image by ``method``: :func:`slic_torch` (default) or :func:`slic_skimage`.

    Args:
        images: ``(N, 1, H, W)``, ``(N, H, W)`` or ``(H, W)`` intensities in ``[0, 1]``, tensor or numpy array.
        n_pixels_per_segment: Target segment area in pixels (64: about 8×8).
        compactness: SLIC compactness (both methods use the same distance, so the same value).
        method: ``"torch"`` (on the images' device, no host copy) or ``"skimage"`` (CPU, the reference).
        device: Device of the returned labels; default the device of ``images`` (CPU for numpy input).

    Returns:
        int64 tensor ``(N, H, W)`` of labels ``0 .. n_i - 1`` per image.
    """
    if method not in METHODS:
        raise ValueError(f"unknown superpixel method {method!r}; choose one of {METHODS}")
    if device is None:
        device = images.device if isinstance(images, Tensor) else "cpu"
    if method == "skimage":
        return slic_skimage(images, n_pixels_per_segment, compactness).to(device)
    return slic_torch(torch.as_tensor(images).to(device), n_pixels_per_segment, compactness)


def boundary_recall(labels: np.ndarray, truth: np.ndarray, tolerance: int = 2) -> float:
    """Fraction of the ground truth's boundary pixels that lie within ``tolerance`` pixels of a segment boundary.

    Boundaries are the pixels whose 4-neighbourhood holds another label (``skimage.segmentation.find_boundaries``,
    ``mode="thick"`` on both sides of a border); distance is the chessboard distance (a ``(2t+1)²`` square).

    Args:
        labels: ``(H, W)`` integer segmentation.
        truth: ``(H, W)`` integer or bool ground-truth regions (a label map or a mask).
        tolerance: Pixels, >= 0 (2 is customary for superpixel benchmarks).

    Returns:
        Recall in ``[0, 1]``; 1.0 when the ground truth has no boundary.
    """
    from scipy.ndimage import maximum_filter
    from skimage.segmentation import find_boundaries

    labels, truth = np.asarray(labels), np.asarray(truth)
    if labels.shape != truth.shape or labels.ndim != 2:
        raise ValueError(f"labels and truth must be (H, W) of one shape, got {labels.shape} and {truth.shape}")
    gt = find_boundaries(truth, mode="thick")
    if not gt.any():
        return 1.0
    near = maximum_filter(find_boundaries(labels, mode="thick"), size=2 * tolerance + 1)
    return float((gt & near).sum() / gt.sum())


def undersegmentation_error(labels: np.ndarray, truth: np.ndarray) -> float:
    """Undersegmentation error of Neubert & Protzel (2012): the leak of segments across ground-truth regions.

    ``UE = (1 / |image|) Σ_G Σ_{S ∩ G ≠ ∅} min(|S ∩ G|, |S \\ G|)`` over ground-truth regions ``G`` and segments
    ``S``: every segment that straddles a region border is charged the smaller of its parts inside and outside.

    Args:
        labels: ``(H, W)`` integer segmentation.
        truth: ``(H, W)`` integer ground-truth label map.

    Returns:
        Error in ``[0, 1]``; 0 when every segment lies inside one region, 1 for one segment over two equal
        regions.
    """
    from scipy.sparse import coo_matrix

    labels, truth = np.asarray(labels), np.asarray(truth)
    if labels.shape != truth.shape:
        raise ValueError(f"labels and truth must have one shape, got {labels.shape} and {truth.shape}")
    _, seg = np.unique(labels, return_inverse=True)
    _, gt = np.unique(truth, return_inverse=True)
    table = coo_matrix((np.ones(seg.size), (seg.ravel(), gt.ravel()))).toarray()  # |S ∩ G|
    outside = table.sum(axis=1, keepdims=True) - table  # |S \ G|
    return float(np.minimum(table, outside)[table > 0].sum() / labels.size)
