"""Sliding-window Wasserstein-1 of the region reward: ``method="exact"`` (sort) vs ``method="approx"`` (binned CDF).

Both run in the same process on the same CPU inputs; times are medians of ``repeats`` calls after one warm-up call.
The error is the max abs difference of the two maps over two realistic cases: a smooth random image vs its copy
multiplied by random per-pixel factors in {0.95, 1, 1.05} (clipped to [0, 1]), and two unrelated uniform random
images. Run ``python benchmarks/bench_rewards.py`` to print the result dict.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from pixgrl_env.rewards import DEFAULT_W1_BINS, sliding_wasserstein


def _median_s(fn: Callable[[], torch.Tensor], repeats: int) -> tuple[float, torch.Tensor]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _cases(size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 1, max(2, size // 16), max(2, size // 16), generator=g)
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    factors = torch.tensor([0.95, 1.0, 1.05])[torch.randint(0, 3, smooth.shape, generator=g)]
    stepped = (smooth * factors).clamp(0, 1)
    u1 = torch.rand(1, 1, size, size, generator=g)
    u2 = torch.rand(1, 1, size, size, generator=g)
    return [(smooth, stepped), (u1, u2)]


def bench_w1(size: int = 256, patch: int = 16, repeats: int = 3, threads: int | None = None) -> dict:
    """Time exact vs approx sliding W1 on CPU at ``(1, 1, size, size)`` and measure the approx error.

    Args:
        size: image side.
        patch: patch side (paper: 16).
        repeats: timed calls per method (median reported), after one warm-up call each.
        threads: torch CPU threads during the run (restored after); ``None`` keeps the current setting. On a
            machine shared with other jobs, ``threads=1`` gives the steadiest ratio (the approx method issues
            many small ops, which suffer most when a thread of a parallel region is descheduled).

    Returns:
        ``{"exact_s", "approx_s", "speedup", "max_abs_error", "bins", "size", "patch", "threads"}``: median seconds
        per call of each method on the smooth-vs-stepped case, exact/approx, the max abs error of approx over both
        cases, the default number of bins used, and the settings.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        cases = _cases(size)
        a, b = cases[0]
        exact_s, exact = _median_s(lambda: sliding_wasserstein(a, b, patch, "exact"), repeats)
        approx_s, approx = _median_s(lambda: sliding_wasserstein(a, b, patch, "approx"), repeats)
        err = (approx - exact).abs().max().item()
        for a2, b2 in cases[1:]:
            diff = sliding_wasserstein(a2, b2, patch, "approx") - sliding_wasserstein(a2, b2, patch, "exact")
            err = max(err, diff.abs().max().item())
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    return {
        "exact_s": exact_s,
        "approx_s": approx_s,
        "speedup": exact_s / approx_s,
        "max_abs_error": err,
        "bins": DEFAULT_W1_BINS,
        "size": size,
        "patch": patch,
        "threads": used,
    }


if __name__ == "__main__":
    print(bench_w1())
