"""Reference agents that need no training: the identity (the floor) and the reachability oracle (the ceiling).

- :class:`IdentityAgent` returns the non-enhanced input unchanged: every agent should beat it.
- :class:`OracleAgent` looks at the target and, for every pixel, ends the episode at the value closest to the target
  among all the values the action set can reach in ``episode_length`` steps, clipping at 1 included. No agent
  acting in PixGRL-v0 can get a lower per-pixel squared error, so it shows how much of the gap to the target the
  task allows at all (see ``docs/paper.md``, "Reachability"). It is optimal for per-pixel squared error, hence
  for MSE, NRMSE and PSNR; SSIM and NMI are not per-pixel, so for them it is a strong reference, not a bound.

**Evaluating the oracle.** It needs the target, which :meth:`agents.base.Agent.synthesize` does not take. Every
agent has ``needs_target`` (False unless set; read it with ``getattr(agent, "needs_target", False)``); for those
where it is True, call ``agent.synthesize(inputs, targets=targets)`` (or :meth:`OracleAgent.synthesize_with_target`).
:meth:`OracleAgent.act` raises: the oracle's actions are a whole plan, :func:`oracle_actions`, not a policy.

**What is reachable, exactly.** With factors ``f`` (as the env's float32 table holds them) and ``T`` steps, a
pixel of value ``x`` ends at one of

- ``min(1, x·P)``, ``P`` any product of ``T`` factors (order the shrinking factors first: no clip happens before
  the growth phase, and a clip in the growth phase stays at 1);
- ``min(1, Q)``, ``Q`` any product of ``k`` factors, for every ``k <= T − m*`` where ``m*`` is the fewest steps of
  the largest factor that carry ``x`` to 1 (``x·f_max^m* >= 1``): saturate first, then walk ``k`` steps from 1.

and nothing else (after the last clip the value is 1 times the remaining factors). A greedy walk is not optimal:
×1.05·×1.05·×0.95 ends between the grid points a greedy pixel visits. :func:`oracle_plan` finds the nearest
candidate for every pixel with a binary search per candidate list (``O(log K)`` per pixel), in float64, and returns
an action sequence that reaches it; the oracle's output is that plan run through the env's own
:func:`~pixgrl_env.actions.apply_actions`, i.e. a real PixGRL-v0 trajectory.

Optimality is exact in real arithmetic (the tests compare with a brute force over all ``A^T`` action sequences in
rational arithmetic). The env multiplies step by step in float32, so another ordering of the same factors can land
a few float32 ulps (~1e-7) away; no agent can beat the oracle by more than that.

Registry contract: ``Config`` (``model="identity"|"oracle"``), ``train`` (nothing to learn: writes
``checkpoint.pt`` and ``config.json`` so the evaluation treats these like trained agents), ``load``, and
:func:`build` to make one directly without a checkpoint.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from agents.base import Agent, as_image_batch
from agents.checkpoint import save_checkpoint
from agents.run import CHECKPOINT
from agents.training import describe_device, resolve_device, write_config
from pixgrl_env.actions import apply_actions, factor_table
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, param

MODELS = ("identity", "oracle")


# ----------------------------------------------------------------------------------------------------------------
# Reachable values
# ----------------------------------------------------------------------------------------------------------------


class _Candidates(NamedTuple):
    """Products of ``k`` factors, sorted: ``value (K,)`` float64 and the factor counts ``counts (K, A)`` int64."""

    value: Tensor
    counts: Tensor


@functools.lru_cache(maxsize=32)
def _products(factors: tuple[float, ...], steps: int) -> _Candidates:
    """Every multiset of ``steps`` factors: its product (float64, exact to ~1 ulp) and counts, sorted by product."""
    a = len(factors)
    f = torch.tensor(factors, dtype=torch.float64)
    if steps == 0:
        return _Candidates(torch.ones(1, dtype=torch.float64), torch.zeros(1, a, dtype=torch.int64))
    combos = torch.tensor(list(itertools.combinations_with_replacement(range(a), steps)), dtype=torch.int64)
    counts = torch.nn.functional.one_hot(combos, a).sum(dim=1)
    value = torch.pow(f, counts.double()).prod(dim=1)
    order = torch.argsort(value)
    return _Candidates(value[order], counts[order])


@functools.lru_cache(maxsize=32)
def _saturated(factors: tuple[float, ...], max_len: int) -> _Candidates:
    """Walks of at most ``max_len`` steps starting from 1, as ``min(1, Q)`` sorted; counts sum to the walk length."""
    parts = [_products(factors, k) for k in range(max_len + 1)]
    value = torch.cat([p.value for p in parts]).clamp(max=1.0)
    counts = torch.cat([p.counts for p in parts])
    order = torch.argsort(value, stable=True)
    return _Candidates(value[order], counts[order])


def env_factors(env_config: EnvConfig) -> tuple[float, ...]:
    """The action factors exactly as the env multiplies by them (its float32 table), as Python floats."""
    return tuple(float(v) for v in factor_table(env_config.factors).tolist())


def _nearest(sorted_values: Tensor, query: Tensor, scale: Tensor | None = None) -> Tensor:
    """Index of the entry of ``sorted_values`` whose ``min(1, scale·value)`` is closest to ``query``.

    ``scale``: per-query multiplier (None: 1). The mapped values are monotone in ``value``, so the answer is next to
    the insertion point of ``query / scale``; four neighbours are checked against float64 rounding at the boundary.
    """
    k = sorted_values.numel()
    ratio = query if scale is None else query / scale.clamp_min(1e-300)
    pos = torch.searchsorted(sorted_values, ratio.contiguous())
    best_idx = torch.zeros_like(pos)
    best_err = torch.full_like(query, float("inf"))
    for d in (-2, -1, 0, 1):
        idx = (pos + d).clamp(0, k - 1)
        v = (sorted_values[idx] if scale is None else scale * sorted_values[idx]).clamp(max=1.0)
        err = (v - query) ** 2
        better = err < best_err
        best_idx = torch.where(better, idx, best_idx)
        best_err = torch.where(better, err, best_err)
    return best_idx


class OraclePlan(NamedTuple):
    """The oracle's choice per pixel, each field shaped like the input ``(N, 1, H, W)`` (``counts``: ``(..., A)``).

    ``saturate`` steps of the largest factor first (0: none), then the factors ``counts`` in ascending factor order.
    ``value`` is the final value in exact arithmetic (float64).
    """

    value: Tensor
    saturate: Tensor
    counts: Tensor


def oracle_plan(inputs: Tensor, targets: Tensor, factors: tuple[float, ...], steps: int) -> OraclePlan:
    """The best reachable value of every pixel and how to reach it (see the module docstring).

    Args:
        inputs: ``(N, 1, H, W)`` (any shape) values in [0, 1], the s_0 of every pixel.
        targets: same shape, in [0, 1].
        factors: The action factors (use :func:`env_factors` for the env's float32 values), all > 0.
        steps: The episode length T.

    Returns:
        :class:`OraclePlan`, float64 ``value`` and int64 ``saturate``/``counts`` on ``inputs.device``.
    """
    device, shape = inputs.device, inputs.shape
    x = inputs.detach().double().flatten().cpu()
    y = targets.detach().double().flatten().cpu()
    a = len(factors)
    order = sorted(range(a), key=lambda i: factors[i])  # counts are kept in ascending factor order
    sorted_f = tuple(factors[i] for i in order)
    f_max = sorted_f[-1]

    # Branch 1: min(1, x·P), P a product of T factors.
    full = _products(sorted_f, steps)
    idx = _nearest(full.value, y, scale=x)
    value = (x * full.value[idx]).clamp(max=1.0)
    saturate = torch.zeros_like(idx)
    counts = full.counts[idx]

    # Branch 2: saturate at 1 in m >= m* steps of f_max, then a walk of k <= T − m* steps from 1.
    if f_max >= 1.0 and steps > 0:
        m_star = torch.full_like(idx, steps + 1)
        for m in range(steps, 0, -1):
            m_star = torch.where(x * f_max**m >= 1.0, m, m_star)
        for m in range(1, steps + 1):
            sel = torch.nonzero(m_star == m).flatten()
            if sel.numel() == 0:
                continue
            cand = _saturated(sorted_f, steps - m)
            j = _nearest(cand.value, y[sel])
            v2 = cand.value[j]
            better = (v2 - y[sel]) ** 2 < (value[sel] - y[sel]) ** 2
            sel = sel[better]
            j = j[better]
            value[sel] = cand.value[j]
            counts[sel] = cand.counts[j]
            saturate[sel] = steps - cand.counts[j].sum(dim=1)

    # Counts back from ascending order to action-index order.
    counts_by_action = torch.empty_like(counts)
    counts_by_action[:, order] = counts
    return OraclePlan(value.view(shape).to(device), saturate.view(shape).to(device),
                      counts_by_action.view(*shape, a).to(device))


def plan_actions(plan: OraclePlan, factors: tuple[float, ...], steps: int) -> Tensor:
    """The action sequence of a plan: ``(T, N, H, W)`` int64 for a plan over ``(N, 1, H, W)`` pixels.

    Step ``t < saturate`` takes the largest factor; the remaining steps take the counted factors smallest first.
    """
    a = len(factors)
    order = torch.tensor(sorted(range(a), key=lambda i: factors[i]), device=plan.saturate.device)
    n_pixels = plan.saturate.numel()
    saturate = plan.saturate.reshape(n_pixels)
    counts = plan.counts.reshape(n_pixels, a)[:, order]  # ascending factor order
    cum = counts.cumsum(dim=1)
    actions = []
    for t in range(steps):
        u = (t - saturate).clamp_min(0)
        pos = (u.unsqueeze(1) >= cum).sum(dim=1).clamp_max(a - 1)
        step = torch.where(t < saturate, order[-1], order[pos])
        actions.append(step)
    out_shape = (plan.saturate.shape[0], *plan.saturate.shape[2:])
    return torch.stack(actions).view(steps, *out_shape)


def oracle_actions(inputs: Tensor, targets: Tensor, env_config: EnvConfig) -> Tensor:
    """The oracle's actions for whole episodes: ``(T, N, H, W)`` int64, one step's action map per row.

    Feed ``actions[t]`` to PixGRL-v0 at step ``t`` to replay the oracle in the env (its rewards included).
    """
    factors = env_factors(env_config)
    plan = oracle_plan(inputs, targets, factors, env_config.episode_length)
    return plan_actions(plan, factors, env_config.episode_length)


# ----------------------------------------------------------------------------------------------------------------
# Agents
# ----------------------------------------------------------------------------------------------------------------


class IdentityAgent(Agent):
    """Keeps every pixel: the synthesized image is the non-enhanced input (the ×1.0 action every step)."""

    name = "identity"
    needs_target = False

    def __init__(self, env_config: EnvConfig, device: torch.device | str = "cpu"):
        super().__init__(env_config, device)
        factors = env_factors(env_config)
        self._keep = factors.index(1.0) if 1.0 in factors else None

    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        if self._keep is None:
            raise NotImplementedError(f"the action set {self.env_config.factors} has no ×1.0 action: the identity "
                                      "has no per-pixel action (its trajectory() keeps the input unchanged)")
        return torch.full((obs.shape[0], *obs.shape[2:]), self._keep, dtype=torch.long, device=obs.device)

    def trajectory(self, inputs: Tensor, extra: Tensor | None = None, deterministic: bool = True) -> Tensor:
        image = as_image_batch(inputs, self.device)
        return image.unsqueeze(0).expand(self.env_config.episode_length + 1, *image.shape).clone()


class OracleAgent(Agent):
    """The best reachable value of every pixel, given the target (see the module docstring).

    Call ``synthesize(inputs, targets=targets)`` / ``trajectory(inputs, targets=targets)`` or
    :meth:`synthesize_with_target`; ``needs_target`` is True.
    """

    name = "oracle"
    needs_target = True

    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        raise NotImplementedError("the oracle has no policy (it needs the target): use synthesize(inputs, "
                                  "targets=...) for images, or baselines.reference.oracle_actions(...) for its "
                                  "per-step action maps")

    def trajectory(self, inputs: Tensor, extra: Tensor | None = None, deterministic: bool = True, *,
                   targets: Tensor | None = None) -> Tensor:
        """``(T + 1, N, 1, H, W)``: the oracle's plan run through the env's step function from ``inputs``."""
        if targets is None:
            raise ValueError("OracleAgent needs the targets: call synthesize(inputs, targets=targets)")
        image = as_image_batch(inputs, self.device)
        target = as_image_batch(targets, self.device)
        if target.shape != image.shape:
            raise ValueError(f"targets {tuple(target.shape)} must have the shape of inputs {tuple(image.shape)}")
        actions = oracle_actions(image, target, self.env_config)
        factors = factor_table(self.env_config.factors, image.device)
        states = [image]
        for step_actions in actions:
            states.append(apply_actions(states[-1], step_actions, factors))
        return torch.stack(states)

    def synthesize(self, inputs: Tensor, extra: Tensor | None = None, deterministic: bool = True, *,
                   targets: Tensor | None = None) -> Tensor:
        return self.trajectory(inputs, extra, deterministic, targets=targets)[-1]

    def synthesize_with_target(self, inputs: Tensor, targets: Tensor) -> Tensor:
        """The oracle's synthesized images ``(N, 1, H, W)`` for ``inputs`` and their ``targets``."""
        return self.synthesize(inputs, targets=targets)


# ----------------------------------------------------------------------------------------------------------------
# Registry contract
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config(BaseConfig):
    """The reference agents have nothing to tune: every preset is the same; ``model=`` selects."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"default": {}, "quick": {}, "paper": {}}

    model: str = param("identity", choices=MODELS)
    """``"identity"`` or ``"oracle"``."""
    device: str = "cpu"
    """Torch device of the agent."""


def build(model: str, env_config: EnvConfig, device: torch.device | str = "cpu") -> Agent:
    """An :class:`IdentityAgent` or :class:`OracleAgent` for ``env_config``, no checkpoint needed."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    return (IdentityAgent if model == "identity" else OracleAgent)(env_config, device)


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> Agent:
    """Nothing to learn: write ``run_dir/checkpoint.pt`` (no weights) and ``config.json``, return the agent.

    (No :class:`agents.run.Run`: it would seed the global RNGs and open a logger for a run that does nothing.)
    """
    run_dir = Path(run_dir)
    budget = {"env_steps": 0, "wall_time_s": 0.0, "device": describe_device(resolve_device(config.device))}
    write_config(run_dir, config=config, env_config=env_config, budget=budget)
    save_checkpoint(run_dir / CHECKPOINT, agent=config.model, step=0, config=config, env_config=env_config,
                    budget=budget)
    return build(config.model, env_config, config.device)


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> Agent:
    """Rebuild the agent of a checkpoint written by :func:`train`."""
    env_config = EnvConfig.from_dict(checkpoint["env_config"])
    return build(checkpoint["agent"], env_config, device)
