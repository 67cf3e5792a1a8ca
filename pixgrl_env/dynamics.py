"""The dynamics of a PixGRL task: one pure, batched step (apply the actions, compute the reward map) and the
observation. The single env, the native vector env and every agent's synthesis loop share these functions.

Every tensor is ``(N, C, H, W)`` on any device; nothing here holds state.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from pixgrl_env.actions import apply_actions
from pixgrl_env.config import EnvConfig
from pixgrl_env.rewards import pixel_reward, region_distance



class StepResult(NamedTuple):
    """What one step produces, every field ``(N, 1, H, W)`` float32."""

    image: Tensor  #: the next state s_{t+1}, in [0, 1]
    reward: Tensor  #: w·r_pixel + λ·r_region
    pixel: Tensor  #: r_pixel (eq. 6)
    region: Tensor  #: r_region (eq. 7, in the configured form)
    distance: Tensor  #: D(s_{t+1}, target), cached for the next step (zeros when unused)


def step_images(image: Tensor, target: Tensor, actions: Tensor, factors: Tensor, config: EnvConfig,
                distance: Tensor | None = None) -> StepResult:
    """Apply per-pixel actions and compute the dual-level reward map.

    Args:
        image: ``(N, 1, H, W)`` float32 in [0, 1], the state s_t.
        target: ``(N, 1, H, W)`` float32 in [0, 1], the enhanced image.
        actions: ``(N, H, W)`` int64 in ``[0, A)``.
        factors: ``(A,)`` float32 action factors.
        config: Reward settings (``lam``, ``pixel_weight``, ``patch``, ``distance``, ``reward_mode``, ``w1_method``).
        distance: ``(N, 1, H, W)`` D(s_t, target) from the previous step, or None to compute it.

    Returns:
        :class:`StepResult`.
    """
    nxt = apply_actions(image, actions, factors)
    pixel = pixel_reward(image, nxt, target)
    if config.lam == 0:
        region = torch.zeros_like(pixel)
        new_distance = region
    elif config.reward_mode == "literal":
        region = _distance(image, nxt, config)
        new_distance = torch.zeros_like(pixel)
    else:
        if distance is None:
            distance = _distance(image, target, config)
        new_distance = _distance(nxt, target, config)
        region = distance - new_distance
    reward = config.pixel_weight * pixel + config.lam * region
    return StepResult(nxt, reward, pixel, region, new_distance)


def _distance(a: Tensor, b: Tensor, config: EnvConfig) -> Tensor:
    return region_distance(a, b, patch=config.patch, distance=config.distance, method=config.w1_method)


def initial_distance(image: Tensor, target: Tensor, config: EnvConfig) -> Tensor:
    """D(s_0, target) for the improvement-form region reward; zeros when the step does not use it."""
    if config.lam == 0 or config.reward_mode == "literal":
        return torch.zeros_like(image)
    return _distance(image, target, config)


def observation(image: Tensor, original: Tensor, time: Tensor, conditioning: tuple[str, ...],
                extra: Tensor | None = None) -> Tensor:
    """Build observations: the current image, then the conditioning channels in order.

    Args:
        image: ``(N, 1, H, W)`` the current states s_t.
        original: ``(N, 1, H, W)`` the episodes' inputs s_0 (channel ``"input"``).
        time: ``(N,)`` t / episode_length (channel ``"time"``).
        conditioning: Channel names (:data:`~pixgrl_env.config.BUILTIN_CONDITIONING` or ``"extra:<name>"``).
        extra: ``(N, E, H, W)`` the ``"extra:*"`` modalities, in the order they appear in ``conditioning``.

    Returns:
        ``(N, C, H, W)`` float32, a new tensor.
    """
    channels = [image]
    extras = iter(extra.split(1, dim=1)) if extra is not None else iter(())
    for c in conditioning:
        if c == "input":
            channels.append(original)
        elif c == "time":
            channels.append(time.to(image).view(-1, 1, 1, 1).expand_as(image))
        else:
            channels.append(next(extras))
    return torch.cat(channels, dim=1) if len(channels) > 1 else image.clone()
