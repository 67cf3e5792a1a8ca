"""What the RL baselines (per-pixel DQN, REINFORCE) share: config fields, the network, episodes, run plumbing.

- :class:`BaselineConfig`: the hyper-parameters every baseline has (seed, device, budget, optimiser, network,
  logging); ``baselines.dqn.Config`` and ``baselines.reinforce.Config`` add their own fields to it.
  :func:`env_config_for` gives the env a preset is meant for (the CLI applies it).
- :func:`make_pixel_net`: a fully convolutional per-pixel network, ``obs (N, C, H, W) → (out (N, A, H, W),
  value (N, 1, H, W))``, from the backbones of :mod:`agents.networks` (default: the PixelRL-style dilated CNN), so
  the baselines and Pix-GRL differ in the learning rule only, never in the network code. DQN reads ``out`` as
  Q-values, REINFORCE as policy logits; ``value`` is the dueling stream / the learned baseline.
- :class:`PixelNetAgent`: an :class:`~agents.base.Agent` around such a network (device moves, checkpoint state).
- :func:`collect_episode`: one whole episode of every sub-env of the native vector env, kept on its device.
- :class:`Run`: seeding, device, env, run folder, logger, periodic eval and atomic checkpoints, resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from agents.base import Agent
from agents.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from agents.networks import BACKBONES, make_network
from agents.training import (  # noqa: F401  (env_config_for: the registry contract)
    RunLogger,
    env_config_for,
    make_train_env,
    quick_eval,
    resolve_device,
    seed_everything,
    write_config,
)
from pixgrl_env.config import EnvConfig
from pixgrl_env.env import PixGRLVectorEnv

C = TypeVar("C", bound="BaselineConfig")

CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------------------------------------------
# Config fields every baseline has
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class BaselineConfig:
    """Hyper-parameters shared by the RL baselines. Subclasses add theirs and a ``PRESETS`` table."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    seed: int = 1
    """seed of Python, numpy, torch and the env"""
    torch_deterministic: bool = True
    """make cuDNN deterministic"""
    device: str = "auto"
    """torch device of the env and the network: "auto" (CUDA when available), "cpu", "cuda", "cuda:1"…"""
    total_timesteps: int = 20_000
    """budget in image-steps: one step of one sub-env counts 1, so an episode batch counts num_envs × T"""
    num_envs: int = 8
    """episodes stepped together in the native vector env"""
    learning_rate: float = 1e-3
    """Adam learning rate"""
    gamma: float = 0.95
    """discount factor (PixelRL: 0.95; the paper's text: 0.15)"""
    reward_scale: float = 100.0
    """multiplies the env's reward maps before learning: per-step rewards are ~1e-3, which would leave Q-values
    tiny and let the entropy bonus swamp the policy gradient (PixelRL scales its pixel reward by 255)"""
    max_grad_norm: float = 10.0
    """clip the global gradient norm to this (0 disables clipping)"""
    backbone: str = "dilated"
    """network backbone, one of agents.networks.BACKBONES ("graph" builds SLIC graphs on the CPU every forward)"""
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of the backbone, e.g. {"channels": 32, "dilations": [1, 2, 3, 2]}"""
    eval_every: int = 0
    """run the quick eval (SSIM/PSNR on validation pairs) every this many image-steps (0: only at the end)"""
    eval_episodes: int = 4
    """validation pairs of the quick eval (0 disables it)"""
    save_every: int = 10_000
    """write run_dir/checkpoint.pt every this many image-steps (and always at the end)"""
    log_every: int = 1
    """write TensorBoard scalars every this many episode batches"""

    def __post_init__(self) -> None:
        for name in ("total_timesteps", "num_envs", "save_every", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma!r}")
        if self.eval_every < 0 or self.eval_episodes < 0 or self.max_grad_norm < 0:
            raise ValueError("eval_every, eval_episodes and max_grad_norm must be >= 0")
        self.backbone_kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in self.backbone_kwargs.items()}

    @classmethod
    def preset(cls: type[C], name: str, **overrides: Any) -> C:
        """A named preset of ``cls.PRESETS`` with keyword overrides."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__module__}.{cls.__name__} fields {sorted(unknown)}")
        return cls(**d)




# ----------------------------------------------------------------------------------------------------------------
# The per-pixel network and the agent around it
# ----------------------------------------------------------------------------------------------------------------


def make_pixel_net(config: BaselineConfig, env_config: EnvConfig, device: torch.device | str = "cpu") -> nn.Module:
    """The fully convolutional per-pixel network of a baseline.

    Returns a module mapping ``obs (N, C, H, W)`` (``C = env_config.n_channels``) to ``(out, value)``:
    ``(N, A, H, W)`` (one output per action and pixel) and ``(N, 1, H, W)``. Shape-agnostic (any H, W the backbone
    accepts) and free of batch statistics, so each image's outputs depend on that image only.
    """
    net = make_network(config.backbone, env_config.n_channels, env_config.n_actions, **config.backbone_kwargs)
    return net.to(device)


class PixelNetAgent(Agent):
    """An agent that acts from a per-pixel network (:func:`make_pixel_net`); subclasses define :meth:`act`.

    Args:
        env_config: The task (action set, episode length, conditioning channels).
        config: The baseline's config (it builds the network).
        device: Torch device of the network.
    """

    def __init__(self, env_config: EnvConfig, config: BaselineConfig, device: torch.device | str = "cpu"):
        super().__init__(env_config, device)
        self.config = config
        self.network = make_pixel_net(config, env_config, self.device)

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


def load_agent(agent_cls: type[A], config_cls: type[BaselineConfig], checkpoint: dict[str, Any],
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
# Run plumbing: seeding, env, logger, checkpoints, resume, eval
# ----------------------------------------------------------------------------------------------------------------


def gradient_step(optimizer: torch.optim.Optimizer, loss: Tensor, parameters: Any, max_grad_norm: float) -> None:
    """``zero_grad`` → ``backward`` → clip the global gradient norm (when ``max_grad_norm > 0``) → ``step``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()


class Run:
    """The plumbing of one baseline training run in ``run_dir``, so the trainers hold only their algorithm.

    On creation it seeds everything, resolves the device, writes ``config.json``, opens the logger and, with
    ``resume=True`` and an existing ``run_dir/checkpoint.pt``, loads it (restored into modules by
    :meth:`restore`). The env is reset with ``seed + step``, so a resumed run draws new episodes rather than
    replaying the first ones. Not saved (documented limitation): the env's generators and a DQN replay buffer.

    Attributes:
        step: Image-steps done (the checkpoint's ``step``); the trainer advances it.
        device, env, logger: The resolved device, the torch-output vector env on it, the :class:`RunLogger`.
    """

    def __init__(self, name: str, config: BaselineConfig, env_config: EnvConfig, run_dir: str | Path, resume: bool):
        self.name, self.config, self.env_config = name, config, env_config
        self.run_dir = Path(run_dir)
        self.device = resolve_device(config.device)
        seed_everything(config.seed, config.torch_deterministic)
        path = self.run_dir / CHECKPOINT
        self.checkpoint = load_checkpoint(path, self.device) if resume and path.is_file() else None
        if self.checkpoint is not None and self.checkpoint["agent"] != name:
            raise ValueError(f"{path} holds a {self.checkpoint['agent']!r} checkpoint, not {name!r}")
        self.step = int(self.checkpoint["step"]) if self.checkpoint is not None else 0
        self.env = make_train_env(env_config, config.num_envs, self.device, seed=config.seed + self.step)
        write_config(self.run_dir, config=config, env_config=env_config)
        self.logger = RunLogger(self.run_dir, config.total_timesteps, initial=self.step, hparams=config.to_dict(),
                                desc=name)
        self.steps_per_batch = config.num_envs * env_config.episode_length
        self._batches = 0

    def restore(self, **objects: Any) -> dict[str, Any]:
        """Load ``objects`` (modules, optimisers: anything with ``load_state_dict``) from the checkpoint under their
        keyword names, then the RNG states. Returns the checkpoint (empty when starting fresh)."""
        if self.checkpoint is None:
            return {}
        for key, obj in objects.items():
            obj.load_state_dict(self.checkpoint[key])
        restore_rng(self.checkpoint["rng"])
        return self.checkpoint

    def advance(self, **scalars: float) -> None:
        """Count one episode batch (``num_envs × T`` image-steps), log ``scalars`` (``group__name`` keys) every
        ``log_every`` batches, with steps/s, and move the progress bar."""
        self.step += self.steps_per_batch
        self._batches += 1
        if self._batches % self.config.log_every == 0:
            self.logger.scalars(self.step, **scalars, charts__SPS=self.logger.steps_per_second(self.step))
        self.logger.advance(self.steps_per_batch, **{k.split("__")[-1]: v for k, v in scalars.items()
                                                     if k.startswith(("charts__episodic", "losses__"))})

    def crossed(self, every: int) -> bool:
        """Whether the last :meth:`advance` crossed a multiple of ``every`` image-steps."""
        return every > 0 and self.step // every > (self.step - self.steps_per_batch) // every

    @property
    def done(self) -> bool:
        return self.step >= self.config.total_timesteps

    def periodic(self, agent: Agent, states: Callable[[], dict[str, Any]]) -> None:
        """Quick eval every ``eval_every`` and checkpoint every ``save_every`` image-steps (``states()`` gives the
        trainer's state dicts: ``model``, ``optimizer``…)."""
        if self.crossed(self.config.eval_every) and not self.done:
            self.evaluate(agent)
        if self.crossed(self.config.save_every) and not self.done:
            self.save(states())

    def evaluate(self, agent: Agent) -> dict[str, float]:
        """Log SSIM/PSNR of greedy synthesis on ``eval_episodes`` validation pairs under ``eval/``."""
        if self.config.eval_episodes == 0:
            return {}
        result = quick_eval(agent, self.env_config, self.config.eval_episodes)
        self.logger.scalars(self.step, **{f"eval__{k}": v for k, v in result.items()})
        return result

    def save(self, states: dict[str, Any]) -> Path:
        """Write ``run_dir/checkpoint.pt`` atomically with ``states``, the step and the RNG states."""
        return save_checkpoint(self.run_dir / CHECKPOINT, agent=self.name, step=self.step, config=self.config,
                               env_config=self.env_config, rng=capture_rng(), **states)

    def finish(self, agent: Agent, states: dict[str, Any]) -> dict[str, float]:
        """Final checkpoint and eval; close the logger and the env. Returns the eval result."""
        try:
            self.save(states)
            result = self.evaluate(agent)
        finally:
            self.logger.close()
            self.env.close()
        return result
