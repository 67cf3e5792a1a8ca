"""Per-pixel reward maps of Pix-GRL (Xu et al. 2021, eqs. 5-7): pixel level, region level, and their distances.

Every pixel of an image is an agent, so every reward here is a dense map with the shape of the image: tensors are
``(N, C, H, W)`` (batch, channels, rows, columns), float, images in ``[0, 1]``. All functions are pure and batched,
run on the device of their inputs, and hold no Python loop over pixels, images or channels (only over bounded
chunks, to cap memory). Channels are independent: every distance is computed per channel.

Pixel level (eq. 6)
    ``r_pixel = (target - prev)**2 - (target - cur)**2``: positive when a step brings a pixel closer to the target.

Region level (eq. 7)
    The paper prints ``r_region,i = W1(P_{H_i^t}, P_{H_i^{t+1}})``: the 1-Wasserstein distance between the value
    distributions of the 16x16 patch around pixel ``i`` before and after the step. Read literally this never looks
    at the target and rewards any change. The reading taken here (``mode="improvement"``, the default) is the
    improvement form of eq. 6 applied to patches: ``D(prev, target) - D(cur, target)``, positive when the patch
    around a pixel gets closer (in distribution) to the same patch of the target. The literal reading
    (``mode="literal"``) returns ``+D(prev, cur)`` with the sign as printed (every change is rewarded, by how much
    it moves the patch distribution); it is kept for ablations and paper fidelity, not as a sensible training signal.

Patches and padding (:mod:`pixgrl_env.patches`)
    The patch of pixel ``(i, j)`` covers rows ``i - patch//2 ... i - patch//2 + patch - 1`` and the same columns
    (for even ``patch`` the pixel sits just below/right of the centre). Outside the image the patch is ZERO padded
    and the padded zeros are part of the distribution: every patch always holds ``patch * patch`` values.

Distances (``DISTANCES``, defined in :mod:`pixgrl_env.config`; :func:`region_distance`)
    - ``"wasserstein"``: W1 between the two patches' empirical value distributions
      (:func:`~pixgrl_env.wasserstein.sliding_wasserstein`, also importable from here), ``method="exact"``
      (sort, reference) or ``method="approx"`` (binned CDF integral, fast; see there).
    - ``"kl"``: ``KL(P_a || P_b)`` between smoothed ``bins``-bin histograms of the patches over ``[0, 1]``.
    - ``"js"``: Jensen-Shannon divergence (natural log, so in ``[0, ln 2]``) between the same histograms.
    - ``"mse"``: mean over the patch of ``(a - b)**2`` pixel by pixel.

Caching
    In improvement mode ``D(cur, target)`` of one step is ``D(prev, target)`` of the next:
    :func:`region_reward_and_distance` returns it alongside the reward, and ``prev_distance=`` takes it back, so an
    environment computes one distance per step instead of two.

NaN inputs are not checked here (a check would force a device sync every step); they propagate to NaN outputs
(to every pixel whose patch holds one; with approx W1, to the whole map of the affected image and channel).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pixgrl_env.config import DISTANCES, REWARD_MODES, W1_METHODS
from pixgrl_env.patches import (
    CHUNK_BYTES,
    CPU_CHUNK_BYTES,
    DEFAULT_PATCH,
    box_sum,
    check_choice,
    check_positive_int,
    check_same,
)
from pixgrl_env.wasserstein import DEFAULT_W1_BINS, sliding_wasserstein

__all__ = [
    "DISTANCES",
    "METHODS",
    "MODES",
    "DEFAULT_PATCH",
    "DEFAULT_W1_BINS",
    "DEFAULT_HIST_BINS",
    "HIST_EPS",
    "CHUNK_BYTES",
    "pixel_reward",
    "sliding_wasserstein",
    "region_distance",
    "region_reward",
    "region_reward_and_distance",
]

#: Readings of eq. 7 accepted by :func:`region_reward` (:data:`pixgrl_env.config.REWARD_MODES`).
MODES = REWARD_MODES
#: Algorithms of :func:`sliding_wasserstein` (:data:`pixgrl_env.config.W1_METHODS`).
METHODS = W1_METHODS
#: Bins of the patch histograms used by the ``"kl"`` and ``"js"`` distances.
DEFAULT_HIST_BINS = 32
#: Probability added to every histogram bin (then renormalised) before KL / JS, so no bin is empty.
HIST_EPS = 1e-4


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0.0 < float(eps) < math.inf):
        raise ValueError(f"eps must be a positive finite float, got {eps!r}")
    return float(eps)


# ----------------------------------------------------------------------------------------------------------------
# pixel level


def pixel_reward(prev: Tensor, cur: Tensor, target: Tensor) -> Tensor:
    """Pixel-level reward of eq. 6: ``(target - prev)**2 - (target - cur)**2``.

    Args:
        prev: ``(N, C, H, W)`` state before the step, values in ``[0, 1]``.
        cur: ``(N, C, H, W)`` state after the step.
        target: ``(N, C, H, W)`` target (Gd-enhanced) image.

    Returns:
        ``(N, C, H, W)`` reward map in ``[-1, 1]``: positive where the step moved a pixel closer to the target,
        exactly zero where the pixel did not change.
    """
    check_same({"prev": prev, "cur": cur, "target": target})
    return (target - prev).square() - (target - cur).square()


# ----------------------------------------------------------------------------------------------------------------
# patch distances


def _hist_divergence(a: Tensor, b: Tensor, patch: int, bins: int, eps: float, kind: str, chunk_bytes: int) -> Tensor:
    """KL(P_a || P_b) or JS(P_a, P_b) between smoothed patch histograms; see :func:`region_distance`."""
    n, c, h, w = a.shape
    nc = n * c
    a = a.reshape(nc, h, w)
    b = b.reshape(nc, h, w)
    p2 = float(patch * patch)
    # bin index of every value; values outside [0, 1] fall into the first / last bin
    ia = (a * bins).floor().clamp_(0, bins - 1)
    ib = (b * bins).floor().clamp_(0, bins - 1)
    norm = 1.0 + bins * eps

    def term(ca: Tensor, cb: Tensor) -> Tensor:
        pa = (ca / p2 + eps) / norm
        pb = (cb / p2 + eps) / norm
        if kind == "kl":
            return pa * (pa.log() - pb.log())
        m_log = ((pa + pb) * 0.5).log()
        return 0.5 * (pa * (pa.log() - m_log) + pb * (pb.log() - m_log))

    per_bin = 8 * nc * (h + patch) * (w + patch) * a.element_size()
    if a.device.type == "cpu":
        chunk_bytes = min(chunk_bytes, CPU_CHUNK_BYTES)
    k_chunk = max(1, min(bins, chunk_bytes // per_bin))
    acc = torch.zeros_like(a)
    total_a = torch.zeros_like(a)
    total_b = torch.zeros_like(a)
    # bins 1..K-1 by box filters of their indicators; bin 0 gets the rest (P - others), which also counts the
    # padded zeros outside the image, as the zero-padding convention requires
    for k0 in range(1, bins, k_chunk):
        k1 = min(bins, k0 + k_chunk)
        ks = torch.arange(k0, k1, device=a.device, dtype=a.dtype).view(-1, 1, 1, 1)
        ca = box_sum((ia == ks).to(a.dtype), patch)
        cb = box_sum((ib == ks).to(a.dtype), patch)
        total_a += ca.sum(dim=0)
        total_b += cb.sum(dim=0)
        acc += term(ca, cb).sum(dim=0)
        del ca, cb
    acc += term(p2 - total_a, p2 - total_b)
    acc.clamp_(min=0.0)
    # a NaN has no bin (it would silently count in bin 0): make every patch that holds one NaN, as the other distances
    acc += box_sum((a - b) * 0.0, patch)
    return acc.view(n, c, h, w)


def region_distance(
    a: Tensor,
    b: Tensor,
    patch: int = DEFAULT_PATCH,
    distance: str = "wasserstein",
    method: str = "approx",
    bins: int | None = None,
    eps: float = HIST_EPS,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> Tensor:
    """Per-pixel distance between the (zero-padded) patch distributions of ``a`` and ``b``.

    Patches as in :func:`sliding_wasserstein`: rows/columns ``i - patch//2 ... i - patch//2 + patch - 1``, zero
    padded, the padded zeros counted.

    Distances:
        ``"wasserstein"``: :func:`sliding_wasserstein` with ``method`` and ``bins`` (default
        ``DEFAULT_W1_BINS``). In ``[0, 1]`` for images in ``[0, 1]``.

        ``"kl"``: ``KL(P_a || P_b) = sum_k p_a,k * ln(p_a,k / p_b,k)`` between ``bins``-bin histograms (default
        ``DEFAULT_HIST_BINS``) of the two patches over ``[0, 1]`` (bin ``k`` = ``[k/K, (k+1)/K)``, 1.0 in the last
        bin; values outside ``[0, 1]`` fall into the first/last bin). Counts are box filters of one-hot bin
        indicators. Smoothing: ``p = (count / P + eps) / (1 + K * eps)`` so no bin is empty and KL stays finite
        (at most about ``ln(1 / eps)``). Not symmetric.

        ``"js"``: Jensen-Shannon divergence ``(KL(P_a || M) + KL(P_b || M)) / 2`` with ``M = (P_a + P_b) / 2``,
        same smoothed histograms; symmetric, in ``[0, ln 2]``.

        ``"mse"``: ``(1/P) * sum_patch (a - b)**2`` pixel by pixel (a box filter of ``(a - b)**2``); in ``[0, 1]``.

    All are exactly 0 when ``a == b``.

    Args:
        a: ``(N, C, H, W)`` float image in ``[0, 1]``.
        b: ``(N, C, H, W)`` float image, same shape, dtype and device.
        patch: patch side, int >= 1.
        distance: one of ``DISTANCES``.
        method: ``"exact"`` or ``"approx"``; only used by ``"wasserstein"`` (validated always).
        bins: bins of the approx W1 or of the KL/JS histograms; ``None`` picks the default of the distance.
            Unused by ``"mse"`` and exact W1.
        eps: histogram smoothing of ``"kl"``/``"js"``, positive.
        chunk_bytes: approximate memory budget of the temporaries of one chunk.

    Returns:
        ``(N, C, H, W)`` non-negative distance map, dtype of ``a``.

    Raises:
        TypeError, ValueError: bad tensors or options (see :func:`sliding_wasserstein`), unknown ``distance``.
    """
    check_same({"a": a, "b": b})
    patch = check_positive_int(patch, "patch")
    distance = check_choice(distance, "distance", DISTANCES)
    method = check_choice(method, "method", METHODS)
    if bins is not None:
        bins = check_positive_int(bins, "bins")
    eps = _check_eps(eps)
    chunk_bytes = check_positive_int(chunk_bytes, "chunk_bytes")
    if distance == "wasserstein":
        return sliding_wasserstein(
            a, b, patch, method, DEFAULT_W1_BINS if bins is None else bins, chunk_bytes=chunk_bytes
        )
    if distance == "mse":
        return (box_sum((a - b).square(), patch) / (patch * patch)).clamp_(min=0.0)
    k = DEFAULT_HIST_BINS if bins is None else bins
    return _hist_divergence(a, b, patch, k, eps, distance, chunk_bytes)


# ----------------------------------------------------------------------------------------------------------------
# region level


def region_reward_and_distance(
    prev: Tensor,
    cur: Tensor,
    target: Tensor,
    patch: int = DEFAULT_PATCH,
    distance: str = "wasserstein",
    method: str = "approx",
    prev_distance: Tensor | None = None,
    bins: int | None = None,
    eps: float = HIST_EPS,
) -> tuple[Tensor, Tensor]:
    """Improvement-form region reward of eq. 7 and the new distance to the target, for caching across steps.

    ``reward = D(prev, target) - D(cur, target)``; ``cur_distance = D(cur, target)``. An environment computes
    ``D(s_0, target)`` once at reset with :func:`region_distance` and then, each step, passes the distance returned
    by the previous step as ``prev_distance``: one distance per step instead of two. (Only the improvement reading
    reads the target, so only it has something to cache; for ``mode="literal"`` use :func:`region_reward`.)

    Args:
        prev: ``(N, C, H, W)`` state before the step, in ``[0, 1]``.
        cur: ``(N, C, H, W)`` state after the step.
        target: ``(N, C, H, W)`` target image.
        patch: patch side (paper: 16).
        distance: one of ``DISTANCES`` (paper: ``"wasserstein"``).
        method: W1 algorithm, one of ``METHODS``.
        prev_distance: optional ``(N, C, H, W)`` precomputed ``D(prev, target)``, made with the same ``patch``,
            ``distance``, ``method``, ``bins`` and ``eps``; computed when ``None``.
        bins: as in :func:`region_distance`.
        eps: as in :func:`region_distance`.

    Returns:
        ``(reward, cur_distance)``, both ``(N, C, H, W)``. ``reward`` is positive where the patch around a pixel
        got closer to the target's; for W1 and images in ``[0, 1]`` it lies in ``[-1, 1]``.
    """
    check_same({"prev": prev, "cur": cur, "target": target})
    if prev_distance is None:
        prev_distance = region_distance(prev, target, patch, distance, method, bins, eps)
    else:
        check_same({"prev": prev, "prev_distance": prev_distance})
    cur_distance = region_distance(cur, target, patch, distance, method, bins, eps)
    return prev_distance - cur_distance, cur_distance


def region_reward(
    prev: Tensor,
    cur: Tensor,
    target: Tensor,
    patch: int = DEFAULT_PATCH,
    distance: str = "wasserstein",
    mode: str = "improvement",
    method: str = "approx",
    prev_distance: Tensor | None = None,
    bins: int | None = None,
    eps: float = HIST_EPS,
) -> Tensor:
    """Region-level reward of eq. 7, a per-pixel map.

    Modes:
        ``"improvement"`` (default, the reading taken by this project): ``D(prev, target) - D(cur, target)``,
        positive where the step brought the patch around a pixel closer (in distribution) to the target's patch;
        exactly 0 for a step that changes nothing. Same "closer is positive" form as eq. 6.

        ``"literal"``: eq. 7 as printed, ``+D(prev, cur)``: the distance between the patch at ``t`` and at
        ``t + 1``. It never reads ``target`` (still validated for shape) and is >= 0, rewarding any change by its
        size. The sign is kept as printed (the paper adds ``lambda * r_region`` to the pixel reward in eq. 5 with
        ``r_region`` the distance itself); it exists for paper-fidelity ablations.

    Args:
        prev: ``(N, C, H, W)`` state before the step, in ``[0, 1]``.
        cur: ``(N, C, H, W)`` state after the step.
        target: ``(N, C, H, W)`` target image.
        patch: patch side (paper: 16).
        distance: one of ``DISTANCES`` (paper: ``"wasserstein"``).
        mode: one of ``MODES``.
        method: W1 algorithm, one of ``METHODS``.
        prev_distance: improvement mode only: precomputed ``D(prev, target)`` (e.g. cached from the previous
            step, see :func:`region_reward_and_distance`); the result is the same as without it.
        bins: as in :func:`region_distance`.
        eps: as in :func:`region_distance`.

    Returns:
        ``(N, C, H, W)`` reward map.

    Raises:
        TypeError, ValueError: bad tensors or options; ``prev_distance`` given with ``mode="literal"``.
    """
    mode = check_choice(mode, "mode", MODES)
    if mode == "improvement":
        return region_reward_and_distance(prev, cur, target, patch, distance, method, prev_distance, bins, eps)[0]
    check_same({"prev": prev, "cur": cur, "target": target})
    if prev_distance is not None:
        raise ValueError(
            "prev_distance is only used with mode='improvement' (D(prev, target)); mode='literal' computes "
            "D(prev, cur) and reads no target, so pass prev_distance=None"
        )
    return region_distance(prev, cur, patch, distance, method, bins, eps)
