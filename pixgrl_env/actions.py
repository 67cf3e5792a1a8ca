"""Applying per-pixel actions, and what an action set can reach within an episode.

Sampling actions is the agent's business; applying them is deterministic, so every episode can be replayed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor


def factor_table(factors: Sequence[float], device: torch.device | str | None = None) -> Tensor:
    """The action factors as a float32 tensor ``(A,)`` on ``device``."""
    return torch.as_tensor(tuple(factors), dtype=torch.float32, device=device)


def apply_actions(image: Tensor, actions: Tensor, factors: Tensor) -> Tensor:
    """Multiply every pixel by the factor its action selects and clip to the valid range.

    Args:
        image: ``(N, 1, H, W)`` float32 in [0, 1].
        actions: ``(N, H, W)`` int64 action indices in ``[0, A)``.
        factors: ``(A,)`` float32, from :func:`factor_table`.

    Returns:
        ``(N, 1, H, W)`` float32 in [0, 1]: ``clip(image · factors[actions], 0, 1)``. The clip is part of the task
        (the paper clips to the valid intensity range after every step).
    """
    return (image * factors[actions].unsqueeze(1)).clamp_(0.0, 1.0)


def reachable_factors(factors: Sequence[float], steps: int) -> Tensor:
    """All products of ``steps`` factors from ``factors`` (order does not matter), sorted, float64 ``(K,)``.

    Every pixel of an episode of ``steps`` steps ends at ``clip(x · f)`` for one of these ``f`` (ignoring the
    clip along the way, which only matters at 0 and 1). With 3 factors and 5 steps there are 21 values.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    f = torch.tensor(tuple(factors), dtype=torch.float64)
    products = {round(float(torch.prod(f[list(c)])), 12) for c in itertools.combinations_with_replacement(
        range(len(f)), steps)} if steps else {1.0}
    return torch.tensor(sorted(products), dtype=torch.float64)
