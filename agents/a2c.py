"""The Pix-GRL agent: per-pixel advantage actor-critic (A2C) with a graph-convolution network (Xu et al. 2021, §3).

Every pixel is an agent. One fully convolutional actor-critic (:mod:`agents.networks`, graph backbone by default)
maps an observation ``(N, C, H, W)`` to per-pixel policy logits ``(N, A, H, W)`` and per-pixel values
``(N, 1, H, W)``; each pixel samples its own action, every image its own action map. Learning (eqs. 4, 8–10):

    R_t = r_t + γ r_{t+1} + … + γ^{n-1} r_{t+n-1} + γ^n V(s_{t+n})     per pixel; V(s_{t+n}) = 0 if terminal
    A_t = R_t − V(s_t)                                                  detached: the actor never trains the critic
    loss = −mean(log π(a_t|s_t) · A_t) + c_v · mean((R_t − V(s_t))²) − β · mean(H(π(·|s_t)))

with every mean over pixels, images and the steps of the rollout; one model, one Adam optimiser. With
``update_epochs > 1`` each rollout gets that many steps, the policy term becoming PPO's clipped surrogate (the
first step is the A2C step exactly); the ``reach`` preset uses 6, ``paper-task`` 3.

Run it (CleanRL-style, :mod:`agents.cli`; ``--help`` lists every :class:`Config` field):

    python -m agents.a2c --preset quick --run-dir runs/quick              # CPU, a few minutes
    python -m agents.a2c --preset gpu --run-dir runs/gpu --env crop=128   # one GPU
    torchrun --nproc_per_node=4 -m agents.a2c --preset gpu --run-dir runs/gpu4   # DistributedDataParallel
    python -m agents.a2c --run-dir runs/gpu --resume --total-steps 20000000   # continue, with the run's configs

TensorBoard (``run_dir/tb``): ``losses/{loss,policy,value,entropy,grad_norm}`` (grad_norm before clipping),
``charts/mean_reward`` (the per-pixel episode return Σ_t mean(r_t), in the env's unscaled units),
``charts/{SPS,learning_rate,entropy_coef}``, ``charts/action_x<factor>`` (how often each action was sampled),
``eval/{ssim,psnr,ssim_identity,psnr_identity}`` (greedy synthesis of whole validation images) and the image grid
``eval/input_synth_target``.

The run plumbing (processes, seeding, logging, evals, checkpoints, resume) is :class:`agents.run.Run`'s. The file
is a little over 500 lines on purpose: like a CleanRL script it keeps the whole algorithm (its config and presets,
the agent, rollouts, returns, losses, the update and the training loop) readable top to bottom in one place; what
every trainer shares lives in :mod:`agents.run`, :mod:`agents.cli` and :mod:`agents.training`.

Memory: rollouts are collected under ``torch.no_grad()`` and only observations, graphs, actions and reward maps are
kept; the update recomputes the forward pass one time step at a time and accumulates gradients, so the peak
activation memory is that of one step's batch, not of the whole rollout.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents import cli
from agents.base import Agent, as_image_batch
from agents.graph import MODES as GRAPH_MODES
from agents.graph import adjacency_weights
from agents.superpixels import METHODS as SUPERPIXEL_METHODS
from agents.superpixels import superpixels
from agents.networks import (BACKBONES, GREEDY_ACTIONS, POLICIES, greedy_actions, make_network, policy_kwargs,
                             sample_actions)
from agents.run import Run
from agents.training import LR_SCHEDULES, derived_seed, env_config_for, scheduled_lr
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, param
from pixgrl_env.env import PixGRLVectorEnv

__all__ = ["Config", "PRESETS", "PixGRLAgent", "a2c_losses", "collect", "env_config_for", "load", "main",
           "nstep_returns", "train", "update"]

GRAPH_EVERY = ("step", "episode")
INFERENCE_DTYPES = ("float32", "bfloat16", "float16")


# ----------------------------------------------------------------------------------------------------------------
# Config and presets
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config(BaseConfig):
    """Hyper-parameters of the Pix-GRL agent. The defaults are the paper's (section 4); see :data:`PRESETS`.
    Every field is checked when a config is made (:mod:`pixgrl_env.config_base`)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]]
    TIED: ClassVar[dict[str, str]] = {"net_kwargs": "backbone"}  # a preset's widths are for its own backbone

    backbone: str = param("graph", choices=BACKBONES)
    """network backbone, one of agents.networks.BACKBONES ("graph": the Pix-GRL network; others: Table 3)"""
    net_kwargs: dict[str, Any] = param({})
    """keyword arguments of the network class (widths, depths), e.g. {"conv_channels": 32, "graph_channels": 64}"""
    policy: str = param("categorical", choices=POLICIES)
    """per-pixel policy head: "categorical" (the paper's: one logit per action) or "ordinal" (a Gaussian over the
    log of the factors, a mean and a scale per pixel: advantage on a larger factor moves the mean towards it and
    beyond; docs/learning.md, second round)"""
    greedy_action: str = param("mode", choices=GREEDY_ACTIONS)
    """deterministic actions (synthesis, evaluation) of the ordinal head: "mode" (the most probable factor) or
    "mean" (the factor nearest the policy's mean log-factor; where the policy is broad, as in the air late in a
    `reach` run, the mode is arbitrary and the mean is not: docs/learning.md, point 22). Categorical: the mode"""
    num_envs: int = param(32, ge=1)
    """images per batch (per process under torchrun): the paper's mini-batch of 32"""
    total_steps: int = param(12_800_000, ge=1)
    """budget in image-steps: one step of one image counts 1, so every episode batch adds num_envs × world_size × T
    (the paper: 80,000 batches × 32 images × 5 steps)"""
    n_step: int = param(0, ge=0)
    """rollout length n of the n-step returns (eq. 4); 0: the episode length, i.e. whole-episode returns"""
    gamma: float = param(0.15, ge=0, le=1)
    """discount γ (the paper's text: 0.15; PixelRL: 0.95)"""
    lr: float = param(1e-3, gt=0)
    """Adam learning rate"""
    lr_schedule: str = param("constant", choices=tuple(LR_SCHEDULES))
    """learning-rate schedule: "constant", "linear" (to 0 at total_steps) or "poly" (PixelRL: (1 − progress)^0.9)"""
    adam_eps: float = param(1e-8, gt=0)
    """Adam epsilon"""
    entropy_coef: float = param(0.01, ge=0)
    """β, the weight of the per-pixel policy entropy bonus (PixelRL: 0.01)"""
    entropy_schedule: str = param("constant", choices=tuple(LR_SCHEDULES))
    """β's schedule over the budget: "constant", "linear" (to 0 at total_steps) or "poly", as for lr_schedule"""
    value_coef: float = param(0.5, ge=0)
    """c_v, the weight of the per-pixel value loss mean((R − V)²)"""
    max_grad_norm: float = param(1.0, ge=0)
    """clip the global gradient norm to this (0 disables clipping)"""
    reward_scale: float = param(255.0, gt=0)
    """multiplies the env's reward maps before learning. Images are in [0, 1], so a step changes a pixel by ≤ 5 % and
    the pixel reward (y − s_t)² − (y − s_{t+1})² is ~1e-3; PixelRL's ×255 (on [0, 1] images, as here) brings
    per-pixel returns and advantages to O(0.1–1). Logged rewards (charts/) are unscaled"""
    normalize_advantage: bool = False
    """standardise each update's per-pixel advantages R − V to mean 0 and std 1 (over pixels, images and the steps
    of the rollout; V from the rollout's own forward pass) before the policy loss. With large factors (×0.5, ×2)
    scaled returns reach O(10–100): without it the policy gradient's size follows the reward scale, the value term
    dominates the clipped global gradient, and max_grad_norm shrinks the policy's share to almost nothing"""
    update_epochs: int = param(1, ge=1)
    """gradient steps on each rollout. 1: the paper's A2C. More: PPO's clipped surrogate (Schulman et al. 2017)
    min(ρ·A, clip(ρ, 1 ± clip_coef)·A), ρ = π(a|s) / π_rollout(a|s), reuses each rollout's samples; the first
    step (ρ = 1) has exactly the A2C gradient"""
    clip_coef: float = param(0.2, gt=0)
    """update_epochs > 1: the clip range of the probability ratio ρ"""
    seed: int = 0
    """seed of Python, numpy, torch (+ rank under torchrun) and of every episode batch of the env"""
    device: str = "auto"
    """torch device: "auto" (CUDA when available), "cpu", "cuda", "cuda:1"…; under torchrun: cuda:LOCAL_RANK"""
    deterministic: bool = False
    """make cuDNN deterministic (slower)"""
    torch_threads: int = param(0, ge=0)
    """torch intra-op CPU threads (0: torch's default). Small CPU batches gain little from more than 1, and on a
    shared, loaded CPU extra threads spin-wait and can slow steps down by 10× or more"""
    eval_every: int = param(200_000, ge=0)
    """quick eval (SSIM/PSNR vs identity on validation pairs, image grid) every this many image-steps (0: at the end)"""
    eval_pairs: int = param(8, ge=0)
    """validation pairs of the quick eval (0 disables it)"""
    eval_images: int = param(3, ge=0)
    """pairs shown in the eval image grid (input | synthesized | target rows)"""
    checkpoint_every: int = param(200_000, ge=0)
    """write run_dir/checkpoint.pt every this many image-steps (and always at the end); 0: only at the end"""
    superpixel_area: int = param(64, ge=1)
    """graph backbone: target SLIC superpixel area in pixels (the paper: about 8 × 8)"""
    slic_compactness: float = param(0.2, gt=0)
    """graph backbone: SLIC compactness for [0, 1] images"""
    graph_sigma: float = param(1.5, gt=0)
    """graph backbone: σ of the Gaussian distance kernel G of eq. 2, in pixels"""
    graph_mode: str = param("product", choices=GRAPH_MODES)
    """graph backbone: "product" (A = S·G, this project's reading of eq. 2) or "literal" (A = G^S as printed)"""
    superpixel_method: str = param("torch", choices=SUPERPIXEL_METHODS)
    """graph backbone: superpixels by "torch" (batched SLIC on the images' device, agents.superpixels.slic_torch: no
    host copy) or "skimage" (scikit-image SLIC on the CPU, the reference)"""
    graph_every: str = param("step", choices=GRAPH_EVERY)
    """graph backbone: build the pixel graph of every state s_t ("step", as the paper) or of the first state s_0 of
    each episode, reused for its steps in training rollouts and synthesis ("episode")"""
    slic_threads: int = param(0, ge=0)
    """superpixel_method "skimage": threads running SLIC over a batch (one image per call); 0: min(8, CPUs)"""
    inference_dtype: str = param("float32", choices=INFERENCE_DTYPES)
    """forward passes without gradient (rollouts, synthesis, evaluation) under autocast to this dtype: "float32"
    (none), "bfloat16" or "float16" (tensor-core GPUs; greedy actions agree with float32 on about 99.2-99.6 % and
    99.9 % of pixels); updates always run in float32"""
    channels_last: bool = False
    """keep the network's weights in channels-last memory format (faster cuDNN convolutions on tensor-core GPUs)"""


#: Agent presets. ``paper``: section 4 (Adam 1e-3, batch 32, γ 0.15 as printed, 80,000 batches of 5-step episodes);
#: ``pixelrl``: PixelRL's learning settings (γ 0.95, poly lr decay, batch 64 of 70 × 70 crops); ``quick``: learns
#: visibly in a few minutes on a 2-core CPU (narrow graph network, 8 crops of 64 × 64, 100 episode batches, one
#: update per step: with γ = 0.15 the 1-step target r_t + γ V(s_{t+1}) is close to the 5-step one, and 5× more
#: updates per image-step learned faster and steadier in our CPU runs); ``gpu``: one GPU, the full network on 64 crops
#: of 128 × 128 per process, whole-episode returns as in the paper. Pair a preset with ``env_config_for(name)``
#: (:func:`agents.training.env_config_for`, re-exported here), the env it is meant for.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "pixelrl": dict(gamma=0.95, lr_schedule="poly", num_envs=64, total_steps=30_000 * 64 * 5),
    "quick": dict(num_envs=8, total_steps=8 * 5 * 100, n_step=1, eval_every=8 * 5 * 25, eval_pairs=8,
                  checkpoint_every=8 * 5 * 25, net_kwargs={"conv_channels": 16, "graph_channels": 32},
                  torch_threads=1),
    "gpu": dict(num_envs=64, total_steps=64 * 5 * 20_000, eval_every=64 * 5 * 500, checkpoint_every=64 * 5 * 500),
    # PixGRLReach-v0 on a 2-core CPU (chosen on the validation fold, docs/learning.md): the quick network with
    # 32-channel convolutions whose features are skipped to the heads, the ordinal policy head, 4 crops per batch,
    # standardised advantages, rewards ×10 instead of ×255, γ 0.5 with whole-episode returns, β 0.05, six clipped
    # epochs per episode batch, Adam 3e-4 decayed linearly to 0; greedy actions read as the policy's mean.
    "reach": dict(num_envs=4, total_steps=4_000, n_step=0, gamma=0.5, reward_scale=10.0, normalize_advantage=True,
                  policy="ordinal", greedy_action="mean", entropy_coef=0.05, update_epochs=6, lr=3e-4,
                  lr_schedule="linear", eval_every=500, eval_pairs=16, checkpoint_every=1_000,
                  net_kwargs={"conv_channels": 32, "graph_channels": 32, "skip": True}, torch_threads=1),
}
# PixGRL-v0 at the same budget (chosen on its validation fold, docs/learning.md): the reach preset with one-step
# returns and three clipped epochs, which on the paper task's five ×0.95/×1.05 steps peaked higher than whole-episode
# returns with six, and the mode as greedy action (the mean gained nothing there: point 23).
PRESETS["paper-task"] = {**PRESETS["reach"], "n_step": 1, "update_epochs": 3, "greedy_action": "mode"}
Config.PRESETS = PRESETS

# ----------------------------------------------------------------------------------------------------------------
# The agent: network, graph, actions
# ----------------------------------------------------------------------------------------------------------------


def build_network(config: Config, env_config: EnvConfig) -> nn.Module:
    """The per-pixel actor-critic of ``config.backbone`` for ``env_config``'s channels and actions."""
    kwargs = {**config.net_kwargs, **policy_kwargs(config.policy, env_config.factors)}
    if config.backbone == "graph":
        kwargs.setdefault("graph_kwargs", dict(n_pixels_per_segment=config.superpixel_area,
                                               compactness=config.slic_compactness, sigma=config.graph_sigma,
                                               mode=config.graph_mode, method=config.superpixel_method))
    return make_network(config.backbone, env_config.n_channels, env_config.n_actions, **kwargs)


@functools.cache
def _slic_pool(threads: int) -> ThreadPoolExecutor:
    """One lazily created thread pool per thread count (scikit-image's SLIC loop releases the GIL)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="slic")


def pixel_graph(images: Tensor, config: Config, device: torch.device | str) -> Tensor:
    """The normalised pixel graph ``(N, 25, H, W)`` of ``images`` ``(N, 1, H, W)`` on ``device``.

    ``config.superpixel_method="torch"`` (default): SLIC runs batched on ``device``, so the graph never leaves it
    (no host copy, no synchronisation). ``"skimage"``: scikit-image SLIC on the CPU, one image per call spread over
    ``config.slic_threads`` threads, and the labels copied back. The adjacency is built on ``device``
    (:mod:`agents.graph`).
    """
    if config.superpixel_method == "torch":
        labels = superpixels(images.detach().to(device), config.superpixel_area, config.slic_compactness)
    else:
        host = images.detach().to("cpu", torch.float64).numpy()
        threads = config.slic_threads or min(8, len(os.sched_getaffinity(0)))
        label = functools.partial(superpixels, n_pixels_per_segment=config.superpixel_area,
                                  compactness=config.slic_compactness, method="skimage")
        if threads > 1 and len(host) > 1:
            labels = torch.cat(list(_slic_pool(threads).map(label, np.split(host, len(host)))))
        else:
            labels = label(host)
    return adjacency_weights(labels.to(device), sigma=config.graph_sigma, mode=config.graph_mode)


class PixGRLAgent(Agent):
    """The Pix-GRL agent: a per-pixel actor-critic network (graph backbone by default) and its greedy/sampled policy.

    Args:
        env_config: The task (action set, episode length, conditioning channels: the network's input).
        config: The agent's hyper-parameters (backbone, network widths, superpixel settings).
        device: Torch device of the network.
    """

    name = "pixgrl"

    def __init__(self, env_config: EnvConfig, config: Config | None = None, device: torch.device | str = "cpu"):
        super().__init__(env_config, device)
        self.config = config or Config()
        self.net = build_network(self.config, env_config).to(self.device)
        if self.config.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # graph_every="episode": the graph of s_0 during a trajectory; (next_obs, graph) of the last rollout
        self._episode_graph: Tensor | None = None
        self._rollout_graph: tuple[Tensor, Tensor | None] | None = None

    def graph(self, obs: Tensor) -> Tensor | None:
        """The pixel graph of ``obs``'s channel 0 (the current image) on the agent's device; None if not needed.

        Inside :meth:`trajectory` with ``graph_every="episode"``: the graph of the episode's first state."""
        if not self.net.needs_graph:
            return None
        if self._episode_graph is not None:
            return self._episode_graph
        return pixel_graph(obs[:, :1], self.config, self.device)

    def inference_autocast(self) -> AbstractContextManager[Any]:
        """Autocast to ``config.inference_dtype`` on the agent's device for forward passes without gradient."""
        if self.config.inference_dtype == "float32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.config.inference_dtype))

    def forward(self, obs: Tensor, graph: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(logits (N, A, H, W), value (N, 1, H, W))`` of ``obs`` on the agent's device, with autograd.

        The graph is computed from ``obs`` when the backbone needs one and none is given.
        """
        if obs.ndim != 4 or obs.shape[1] != self.env_config.n_channels:
            raise ValueError(f"obs must be (N, {self.env_config.n_channels}, H, W), got {tuple(obs.shape)}")
        obs = obs.to(self.device, torch.float32)
        if graph is None and self.net.needs_graph:
            graph = self.graph(obs)
        return self.net(obs, graph)

    @torch.inference_mode()
    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        with self.inference_autocast():
            logits, _ = self.forward(obs)
        logits = logits.float()
        if deterministic:
            actions = greedy_actions(logits, self.net.action_points, self.config.greedy_action)
        else:
            actions = sample_actions(logits)
        return actions.to(obs.device)

    def trajectory(self, inputs: Tensor | np.ndarray, extra: Tensor | None = None,
                   deterministic: bool = True) -> Tensor:
        """:meth:`agents.base.Agent.trajectory`; with ``graph_every="episode"``, the graph of ``s_0`` for all steps."""
        if self.config.graph_every == "step" or not self.net.needs_graph:
            return super().trajectory(inputs, extra, deterministic)
        image = as_image_batch(inputs, self.device)
        with torch.inference_mode():
            self._episode_graph = self.graph(image)
        try:
            return super().trajectory(image, extra, deterministic)
        finally:
            self._episode_graph = None

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> PixGRLAgent:
    """Rebuild a :class:`PixGRLAgent` from a loaded checkpoint (:func:`agents.checkpoint.load_checkpoint`)."""
    if checkpoint.get("agent") != PixGRLAgent.name:
        raise ValueError(f"checkpoint is for agent {checkpoint.get('agent')!r}, not {PixGRLAgent.name!r}")
    env_config = EnvConfig.from_dict({**checkpoint["env_config"], "device": str(torch.device(device))})
    agent = PixGRLAgent(env_config, Config.from_dict(checkpoint["config"]), device)
    agent.load_state_dict({"model": checkpoint["model"]})
    return agent


# ----------------------------------------------------------------------------------------------------------------
# ALGO LOGIC: rollouts, n-step returns, losses, one update
# ----------------------------------------------------------------------------------------------------------------


class Rollout(NamedTuple):
    """``n`` steps of ``N`` images, all on the training device."""

    obs: list[Tensor]  #: n × (N, C, H, W): s_t
    graphs: list[Tensor | None]  #: n × (N, 25, H, W) pixel graphs of s_t (None for backbones without one)
    actions: list[Tensor]  #: n × (N, H, W) int64: a_t, one action map per image
    rewards: Tensor  #: (n, N, 1, H, W): r_t × reward_scale
    bootstrap: Tensor  #: (N, 1, H, W): V(s_{t+n}), 0 where the episode terminated
    next_obs: Tensor  #: (N, C, H, W): s_{t+n}
    terminated: Tensor  #: (N,) bool: the episodes ended at s_{t+n}
    values: Tensor  #: (n, N, 1, H, W): V(s_t) from the forward pass that sampled a_t (the update's weights)


@torch.no_grad()
def collect(agent: PixGRLAgent, env: PixGRLVectorEnv, obs: Tensor, n: int, reward_scale: float) -> Rollout:
    """Step every sub-env ``n`` times from ``obs`` with actions sampled from the agent's policy.

    Runs under ``no_grad`` (not ``inference_mode``: the update reuses the observations and graphs with autograd)
    and the agent's :meth:`~PixGRLAgent.inference_autocast`: the update recomputes the forward pass, so no
    activations are kept here. The pixel graph is built from every state (``graph_every="step"``) or once per
    episode (``"episode"``): from ``obs`` when it starts the episode, and reused by a rollout that continues from
    the previous rollout's ``next_obs`` (that very tensor, as :func:`train` passes it), whatever ``n``. Nothing is
    read back to the host in the steps; the one synchronisation is the check at the end whether every episode
    terminated (it decides the bootstrap).
    """
    every_step = agent.config.graph_every == "step"
    obs_l, graphs, actions, rewards, values = [], [], [], [], []
    last = agent._rollout_graph  # graph_every="episode": (next_obs, graph) of the previous rollout
    graph = last[1] if last is not None and last[0] is obs else None
    for _ in range(n):
        if every_step or graph is None:
            graph = agent.graph(obs)
        with agent.inference_autocast():
            logits, value = agent.net(obs, graph)
        action = sample_actions(logits.float())
        next_obs, _, terminated, truncated, info = env.step(action)
        if not info["_reward_map"].all():
            raise RuntimeError("a sub-env autoreset inside a rollout: episodes must start together (env.reset())")
        obs_l.append(obs)
        graphs.append(graph)
        actions.append(action)
        rewards.append(info["reward_map"] * reward_scale)
        values.append(value.float())
        obs = next_obs
    ended = terminated | truncated
    if bool(ended.all()) and bool(terminated.all()):
        bootstrap = torch.zeros_like(rewards[-1])
    else:  # bootstrap from V(s_{t+n}) wherever the episode goes on (or was truncated, which is not terminal)
        with agent.inference_autocast():
            _, value = agent.net(obs, agent.graph(obs) if every_step else graph)
        bootstrap = value.float() * (~terminated).view(-1, 1, 1, 1)
    agent._rollout_graph = None if every_step else (obs, graph)
    return Rollout(obs_l, graphs, actions, torch.stack(rewards), bootstrap, obs, terminated, torch.stack(values))


def nstep_returns(rewards: Tensor, bootstrap: Tensor, gamma: float) -> Tensor:
    """Per-pixel n-step returns of eq. 4: ``R_t = r_t + γ R_{t+1}`` backwards from ``R_n = bootstrap``.

    Args:
        rewards: ``(n, N, 1, H, W)`` reward maps r_t … r_{t+n-1}.
        bootstrap: ``(N, 1, H, W)``: V(s_{t+n}), or 0 where s_{t+n} is terminal.
        gamma: Discount γ.

    Returns:
        ``(n, N, 1, H, W)``: R_t = Σ_k γ^k r_{t+k} + γ^(n−t) · bootstrap for every step t of the rollout.
    """
    returns = torch.empty_like(rewards)
    running = bootstrap
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class Losses(NamedTuple):
    """The A2C losses of one batch, scalars."""

    total: Tensor  #: policy + value_coef · value − entropy_coef · entropy
    policy: Tensor  #: −mean(log π(a|s) · A), A = R − V detached
    value: Tensor  #: mean((R − V)²)
    entropy: Tensor  #: mean per-pixel entropy of π(·|s)


def a2c_losses(logits: Tensor, values: Tensor, actions: Tensor, returns: Tensor, value_coef: float = 0.5,
               entropy_coef: float = 0.01, advantage: Tensor | None = None, old_log_prob: Tensor | None = None,
               clip_coef: float = 0.2) -> Losses:
    """Per-pixel A2C losses (eqs. 8–10), averaged over pixels and images. Pure: no state, no side effects.

    Args:
        logits: ``(N, A, H, W)`` policy logits.
        values: ``(N, 1, H, W)`` V(s).
        actions: ``(N, H, W)`` int64 actions taken.
        returns: ``(N, 1, H, W)`` n-step returns R (no gradient flows into them).
        value_coef: c_v.
        entropy_coef: β.
        advantage: ``(N, 1, H, W)`` advantages to use instead of ``R − V`` (e.g. normalised over the rollout by
            :func:`update`); detached.
        old_log_prob: ``(N, 1, H, W)`` log π of the actions under the policy that sampled them: the policy loss is
            then PPO's clipped surrogate ``−mean(min(ρ·A, clip(ρ, 1 − clip_coef, 1 + clip_coef)·A))``,
            ``ρ = exp(log π(a|s) − old_log_prob)``; at ``ρ = 1`` its gradient is the A2C one.
        clip_coef: The clip range of ``ρ``.

    Returns:
        :class:`Losses`. The advantage ``R − V`` is detached, so the policy loss has no gradient w.r.t. ``values``.
    """
    log_probs = F.log_softmax(logits, dim=1)
    log_prob = log_probs.gather(1, actions.unsqueeze(1))  # (N, 1, H, W)
    returns = returns.detach()
    advantage = (returns - values if advantage is None else advantage).detach()
    if old_log_prob is None:
        policy = -(log_prob * advantage).mean()
    else:
        ratio = (log_prob - old_log_prob.detach()).exp()
        policy = -torch.min(ratio * advantage, ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantage).mean()
    value = (returns - values).pow(2).mean()
    entropy = -(log_probs.exp() * log_probs).sum(dim=1).mean()
    return Losses(policy + value_coef * value - entropy_coef * entropy, policy, value, entropy)


def update(model: nn.Module, optimizer: torch.optim.Optimizer, rollout: Rollout, returns: Tensor,
           config: Config, entropy_coef: float | None = None) -> dict[str, float]:
    """``config.update_epochs`` gradient steps on a rollout (1: the A2C step); the forward pass is recomputed one
    time step at a time (memory: one step).

    The loss is the mean over the ``n`` steps, so accumulating ``loss_t / n`` gives the gradient of the whole
    batch. Under DDP, gradients are all-reduced once per epoch, on the last step's backward. Every epoch takes the
    advantages ``R − V`` from its own forward pass (the critic as updated so far; the standardisation's shift and
    scale stay those of the rollout) and, after the first, the clipped surrogate against the first epoch's log π.
    ``entropy_coef``: β now (:func:`entropy_coef`); None: ``config.entropy_coef``.
    """
    beta = config.entropy_coef if entropy_coef is None else entropy_coef
    n = len(rollout.obs)
    if config.normalize_advantage:  # statistics of R − V over the whole rollout, before its first backward
        rollout_advantage = returns - rollout.values
        shift, scale = rollout_advantage.mean(), rollout_advantage.std().clamp_min(1e-8)
    clipped = config.update_epochs > 1
    old_log_probs: list[Tensor] = []  # log π_rollout(a|s) per step, from the first epoch's forward pass
    for epoch in range(config.update_epochs):
        optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(4, device=returns.device)
        for t in range(n):
            sync = nullcontext() if t == n - 1 or not hasattr(model, "no_sync") else model.no_sync()
            with sync:
                logits, values = model(rollout.obs[t], rollout.graphs[t])
                if clipped and epoch == 0:
                    old_log_probs.append(F.log_softmax(logits.detach(), 1).gather(1, rollout.actions[t].unsqueeze(1)))
                advantage = (returns[t] - values.detach() - shift) / scale if config.normalize_advantage else None
                losses = a2c_losses(logits, values, rollout.actions[t], returns[t], config.value_coef,
                                    beta, advantage, old_log_probs[t] if clipped else None,
                                    config.clip_coef)
                (losses.total / n).backward()
            sums += torch.stack([x.detach() for x in losses])
        params = [p for p in model.parameters() if p.grad is not None]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or float("inf"))
        optimizer.step()
    total, policy, value, entropy = (sums / n).tolist()
    return {"losses__loss": total, "losses__policy": policy, "losses__value": value, "losses__entropy": entropy,
            "losses__grad_norm": float(grad_norm)}


def learning_rate(config: Config, step: int) -> float:
    """The learning rate after ``step`` image-steps under ``config.lr_schedule``."""
    return scheduled_lr(config.lr, config.lr_schedule, step, config.total_steps)


def entropy_coef(config: Config, step: int) -> float:
    """β after ``step`` image-steps under ``config.entropy_schedule``."""
    return scheduled_lr(config.entropy_coef, config.entropy_schedule, step, config.total_steps)


def episode_seed(seed: int, rank: int, episode: int) -> int:
    """The env seed of episode batch ``episode`` on process ``rank`` (sub-env i gets this + i).

    Every episode batch is seeded from ``(seed, rank, episode)`` alone, so a resumed run draws exactly the episodes
    the uninterrupted run would have, without saving the env's generators.
    """
    return derived_seed(seed, rank, episode)


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> PixGRLAgent:
    """Train the Pix-GRL agent; write ``run_dir/{checkpoint.pt, config.json, tb/}``; return the trained agent.

    Episode batches: every sub-env starts together with ``env.reset(seed=episode_seed(...))`` and all terminate
    after ``episode_length`` steps. Resetting explicitly at every batch (rather than stepping into the vector env's
    next-step autoreset, which would spend one step whose actions are ignored and whose reward is 0) keeps every
    step of a rollout a real transition and seeds each batch from ``(seed, rank, batch index)``.

    Resume (``resume=True`` with ``run_dir/checkpoint.pt``): restores the model, Adam's state, the step counter and
    every process's RNG states. Checkpoints are written only between episode batches and the env is re-seeded per
    batch, so on the same device and process count a resumed run continues exactly as the uninterrupted one would
    (up to non-deterministic GPU kernels). With another process count the RNGs are re-seeded from (seed, rank, step).

    Under torchrun (``WORLD_SIZE`` > 1) every process runs ``num_envs`` images with its own episodes and torch seed
    (``seed + rank``); DDP averages the gradients, so the weights stay identical; only rank 0 logs, evaluates and
    writes checkpoints.
    """
    # TRY NOT TO MODIFY: run plumbing (processes, seeding, device, logger, evals, checkpoints, resume)
    with Run(PixGRLAgent.name, config, env_config, run_dir, resume=resume, total=config.total_steps,
             seed=config.seed, device=config.device, deterministic=config.deterministic,
             threads=config.torch_threads, distributed=True, eval_every=config.eval_every,
             eval_pairs=config.eval_pairs, eval_images=config.eval_images, save_every=config.checkpoint_every,
             progress=("charts__mean_reward", "losses__loss")) as run:
        rank, world, device = run.procs.rank, run.procs.world, run.device
        t_max = env_config.episode_length
        n_step = config.n_step or t_max
        env = run.make_env(config.num_envs)
        agent = PixGRLAgent(env_config, config, device)
        model = run.wrap(agent.net)  # DistributedDataParallel under torchrun
        optimizer = torch.optim.Adam(agent.net.parameters(), lr=config.lr, eps=config.adam_eps)
        run.restore(model=agent.net, optimizer=optimizer)
        states = lambda: {"model": agent.net.state_dict(), "optimizer": optimizer.state_dict()}  # noqa: E731
        batch_steps = config.num_envs * world * t_max

        while not run.done:
            # ALGO LOGIC: one batch of episodes, an update every n steps
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, run.step)
            obs, _ = env.reset(seed=episode_seed(config.seed, rank, run.step // batch_steps))
            ep_reward = torch.zeros(config.num_envs, device=device)
            action_counts = torch.zeros(env_config.n_actions, device=device)
            logs: dict[str, float] = {}
            t = 0
            while t < t_max:
                rollout = collect(agent, env, obs, min(n_step, t_max - t), config.reward_scale)
                returns = nstep_returns(rollout.rewards, rollout.bootstrap, config.gamma)
                logs = update(model, optimizer, rollout, returns, config, entropy_coef(config, run.step))
                ep_reward += rollout.rewards.mean(dim=(2, 3, 4)).sum(0) / config.reward_scale
                action_counts += torch.stack(rollout.actions).flatten().bincount(minlength=env_config.n_actions)
                obs, t = rollout.next_obs, t + len(rollout.obs)
            if not bool(rollout.terminated.all()):
                raise RuntimeError(f"episodes did not terminate after episode_length={t_max} steps")

            # TRY NOT TO MODIFY: logging, eval, checkpoints
            fractions = (action_counts / action_counts.sum()).tolist()
            run.advance(batch_steps, **logs, charts__mean_reward=float(ep_reward.mean()),
                        charts__learning_rate=optimizer.param_groups[0]["lr"],
                        charts__entropy_coef=entropy_coef(config, run.step),
                        **{f"charts__action_x{f:g}": p for f, p in zip(env_config.factors, fractions)})
            run.periodic(agent, states)
        run.finish(agent, states())
    return agent


def main(argv: Sequence[str] | None = None) -> PixGRLAgent:
    """``python -m agents.a2c [--preset NAME] [--FIELD VALUE …] [--env KEY=VALUE …] --run-dir DIR [--resume]``
    (:mod:`agents.cli`)."""
    return cli.main(sys.modules[__name__], argv, default_preset=_auto_preset)


def _auto_preset() -> str:
    """gpu with CUDA, else quick"""
    return "gpu" if torch.cuda.is_available() else "quick"


if __name__ == "__main__":
    main()
