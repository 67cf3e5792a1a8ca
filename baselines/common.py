"""What the RL baselines (per-pixel DQN, REINFORCE) share: config fields, the network, episodes, the run.

- :class:`BaselineConfig`: the hyper-parameters every baseline has (seed, device, budget, optimiser, network,
  logging); ``baselines.dqn.Config`` and ``baselines.reinforce.Config`` add their own fields to it.
  :func:`env_config_for` gives the env a preset is meant for (the CLI applies it).
- :func:`make_pixel_net`: a fully convolutional per-pixel network, ``obs (N, C, H, W) → (out (N, A, H, W),
  value (N, 1, H, W))``, from the backbones of :mod:`agents.networks` (default: the PixelRL-style dilated CNN), so
  the baselines and Pix-GRL differ in the learning rule only, never in the network code. DQN reads ``out`` as
  Q-values, REINFORCE as policy logits; ``value`` is the dueling stream / the learned baseline.
- :class:`PixelNetAgent`: an :class:`~agents.base.Agent` around such a network (device moves, checkpoint state).
- :func:`collect_episode`: one whole episode of every sub-env of the native vector env, kept on its device.
- :func:`start_run`: the :class:`agents.run.Run` of a baseline (seeding, device, logger, periodic eval, atomic
  checkpoints, resume), and :func:`gradient_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from agents.base import Agent
from agents.networks import BACKBONES, make_network, policy_kwargs
from agents.run import Run
from agents.training import env_config_for  # noqa: F401  (the registry contract: the env each preset is meant for)
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, param
from pixgrl_env.env import PixGRLVectorEnv

# ----------------------------------------------------------------------------------------------------------------
# Config fields every baseline has
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class BaselineConfig(BaseConfig):
    """Hyper-parameters shared by the RL baselines. Subclasses add theirs and a ``PRESETS`` table."""

    TIED: ClassVar[dict[str, str]] = {"backbone_kwargs": "backbone"}  # a preset's widths are for its own backbone

    seed: int = 1
    """seed of Python, numpy, torch and the env"""
    torch_deterministic: bool = True
    """make cuDNN deterministic"""
    device: str = "auto"
    """torch device of the env and the network: "auto" (CUDA when available), "cpu", "cuda", "cuda:1"…"""
    total_timesteps: int = param(20_000, ge=1)
    """budget in image-steps: one step of one sub-env counts 1, so an episode batch counts num_envs × T"""
    num_envs: int = param(8, ge=1)
    """episodes stepped together in the native vector env"""
    learning_rate: float = param(1e-3, gt=0)
    """Adam learning rate"""
    gamma: float = param(0.95, ge=0, le=1)
    """discount factor (PixelRL: 0.95; the paper's text: 0.15)"""
    reward_scale: float = param(100.0, gt=0)
    """multiplies the env's reward maps before learning: per-step rewards are ~1e-3, which would leave Q-values
    tiny and let the entropy bonus swamp the policy gradient (PixelRL scales its pixel reward by 255)"""
    max_grad_norm: float = param(10.0, ge=0)
    """clip the global gradient norm to this (0 disables clipping)"""
    backbone: str = param("dilated", choices=BACKBONES)
    """network backbone, one of agents.networks.BACKBONES ("graph" builds SLIC graphs on the CPU every forward)"""
    backbone_kwargs: dict[str, Any] = param({})
    """keyword arguments of the backbone, e.g. {"channels": 32, "dilations": [1, 2, 3, 2]}"""
    eval_every: int = param(0, ge=0)
    """run the quick eval (SSIM/PSNR on validation pairs) every this many image-steps (0: only at the end)"""
    eval_episodes: int = param(4, ge=0)
    """validation pairs of the quick eval (0 disables it)"""
    save_every: int = param(10_000, ge=1)
    """write run_dir/checkpoint.pt every this many image-steps (and always at the end)"""
    log_every: int = param(1, ge=1)
    """write TensorBoard scalars every this many episode batches"""


# ----------------------------------------------------------------------------------------------------------------
# The per-pixel network and the agent around it
# ----------------------------------------------------------------------------------------------------------------


def make_pixel_net(config: BaselineConfig, env_config: EnvConfig, device: torch.device | str = "cpu",
                   policy: str = "categorical") -> nn.Module:
    """The fully convolutional per-pixel network of a baseline; ``policy`` picks the head of a policy network
    (:data:`agents.networks.POLICIES`; ``"categorical"``: one output per action, as Q-values need).

    Returns a module mapping ``obs (N, C, H, W)`` (``C = env_config.n_channels``) to ``(out, value)``:
    ``(N, A, H, W)`` (one output per action and pixel) and ``(N, 1, H, W)``. Shape-agnostic (any H, W the backbone
    accepts) and free of batch statistics, so each image's outputs depend on that image only.
    """
    net = make_network(config.backbone, env_config.n_channels, env_config.n_actions, **config.backbone_kwargs,
                       **policy_kwargs(policy, env_config.factors))
    return net.to(device)


class PixelNetAgent(Agent):
    """An agent that acts from a per-pixel network (:func:`make_pixel_net`); subclasses define :meth:`act`.

    Args:
        env_config: The task (action set, episode length, conditioning channels).
        config: The baseline's config (it builds the network).
        device: Torch device of the network.
        policy: The network's policy head (:func:`make_pixel_net`).
    """

    def __init__(self, env_config: EnvConfig, config: BaselineConfig, device: torch.device | str = "cpu",
                 policy: str = "categorical"):
        super().__init__(env_config, device)
        self.config = config
        self.network = make_pixel_net(config, env_config, self.device, policy)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(out (N, A, H, W), value (N, 1, H, W))`` of ``obs`` moved to the agent's device (with autograd)."""
        if obs.ndim != 4 or obs.shape[1] != self.env_config.n_channels:
            raise ValueError(f"obs must be (N, {self.env_config.n_channels}, H, W), got {tuple(obs.shape)}")
        return self.network(obs.to(self.device, torch.float32))

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.network.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["model"])


A = TypeVar("A", bound=PixelNetAgent)
C = TypeVar("C", bound=BaselineConfig)


def load_agent(agent_cls: type[A], config_cls: type[C], checkpoint: dict[str, Any],
               device: torch.device | str) -> A:
    """Rebuild an agent of ``agent_cls`` from a loaded checkpoint (:func:`agents.checkpoint.load_checkpoint`)."""
    if checkpoint.get("agent") != agent_cls.name:
        raise ValueError(f"checkpoint is for agent {checkpoint.get('agent')!r}, not {agent_cls.name!r}")
    agent = agent_cls(EnvConfig.from_dict(checkpoint["env_config"]), config_cls.from_dict(checkpoint["config"]),
                      device)
    agent.load_state_dict({"model": checkpoint["model"]})
    return agent


# ----------------------------------------------------------------------------------------------------------------
# Episodes from the native vector env
# ----------------------------------------------------------------------------------------------------------------


class Episode(NamedTuple):
    """One whole episode of ``N`` sub-envs, all tensors on the env's device (T = episode length)."""

    obs: Tensor  #: (T + 1, N, C, H, W) float32: s_0 … s_T
    actions: Tensor  #: (T, N, H, W) int64: a_t, one action map per image
    rewards: Tensor  #: (T, N, H, W) float32: the reward maps r_t (× reward_scale)
    dones: Tensor  #: (T, N) float32: 1 where the episode terminated after step t (no bootstrapping past it)


@torch.no_grad()
def collect_episode(env: PixGRLVectorEnv, policy: Callable[[Tensor], Tensor], reward_scale: float = 1.0) -> Episode:
    """Run one whole episode in every sub-env of ``env`` (built with ``output="torch"``) with ``policy``.

    The env is reset first (without a seed: each sub-env's generator continues), so every episode starts fresh
    whatever the autoreset mode; all sub-envs then step ``episode_length`` times in lockstep and terminate together.

    Args:
        env: The native vector env, torch outputs (see :func:`agents.training.make_train_env`).
        policy: ``obs (N, C, H, W) → actions (N, H, W)`` int64, on the env's device.
        reward_scale: Multiplies the reward maps.

    Returns:
        :class:`Episode`.
    """
    if env.output != "torch":
        raise ValueError("collect_episode needs the vector env built with output='torch'")
    obs, _ = env.reset()
    t_max = env.config.episode_length
    all_obs, actions, rewards, dones = [obs], [], [], []
    for _ in range(t_max):
        action = policy(obs)
        obs, _, terminated, truncated, info = env.step(action)
        if truncated.any():
            raise RuntimeError("an episode was truncated: build the env without max_episode_steps")
        all_obs.append(obs)
        actions.append(action)
        rewards.append(info["reward_map"][:, 0] * reward_scale)
        dones.append(terminated.float())
    if not bool(dones[-1].all()):
        raise RuntimeError(f"the episodes did not terminate after episode_length={t_max} steps")
    return Episode(torch.stack(all_obs), torch.stack(actions), torch.stack(rewards), torch.stack(dones))


# ----------------------------------------------------------------------------------------------------------------
# The run and the gradient step
# ----------------------------------------------------------------------------------------------------------------


def start_run(name: str, config: BaselineConfig, env_config: EnvConfig, run_dir: str | Path, resume: bool) -> Run:
    """The :class:`agents.run.Run` of a baseline: budget, seed, device, evals, checkpoints and logging from its
    :class:`BaselineConfig`. Use it as a context manager."""
    return Run(name, config, env_config, run_dir, resume=resume, total=config.total_timesteps, seed=config.seed,
               device=config.device, deterministic=config.torch_deterministic, eval_every=config.eval_every,
               eval_pairs=config.eval_episodes, save_every=config.save_every, log_every=config.log_every)


def gradient_step(optimizer: torch.optim.Optimizer, loss: Tensor, parameters: Any, max_grad_norm: float) -> None:
    """``zero_grad`` → ``backward`` → clip the global gradient norm (when ``max_grad_norm > 0``) → ``step``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()
