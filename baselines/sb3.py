"""Stable-Baselines3 on PixGRL-v0: an env adapter, a fully convolutional actor-critic policy, PPO/A2C training.

SB3's own PPO and A2C train unchanged on the single env through three pieces:

- :class:`SB3ObsActionWrapper`: exposes the ``(H, W)`` ``MultiDiscrete`` as a 1-D ``MultiDiscrete([A] * H·W)``
  (SB3 needs 1-D ``nvec``) and reshapes actions back; observations stay float32 [0, 1] channel-first; the reward
  is a Python float, the flags Python bools. :func:`make_sb3_env` builds SB3's ``DummyVecEnv`` of them
  (``make_vec_env``; SB3 does not accept a Gymnasium ``VectorEnv`` such as the native
  :class:`~pixgrl_env.env.PixGRLVectorEnv`).
- :class:`PixelActorCriticPolicy`: an ``ActorCriticPolicy`` that overrides ``_build`` only. The features extractor
  (:class:`PixelFeatures`) runs a backbone of :mod:`agents.networks` (default: PixelRL's dilated CNN) and returns its
  feature maps flattened; the action net is a convolution (1×1 by default) to ``A`` logits per pixel, flattened
  pixel-major (``[p0a0, p0a1, p0a2, p1a0, …]``, the layout of SB3's ``MultiCategoricalDistribution``); the value net
  is a global mean-pool and a ``Linear(C, 1)`` (SB3's critic is one scalar per observation).
- :class:`BatchedMultiCategoricalDistribution`: SB3's ``MultiCategoricalDistribution`` builds one ``Categorical``
  per action dimension (per pixel) and loops over them in Python: build + log-prob + entropy + backward of a batch
  of 4 took 4.4 s at 64×64 (17 s at 256×256: ``docs/ecosystem.md``, "The per-dimension Categorical"). This
  subclass holds one ``Categorical`` over ``(B, H·W, A)`` logits with the same layout and the same log-probs and entropies (tested against the stock
  class): 8.7 ms at 64×64 (``benchmarks/bench_sb3.py``, loaded 2-core CPU).

Limits, honestly:

- **SB3 sees only the scalar reward**, the mean of the per-pixel reward map (``info["reward_map"]`` is ignored). Its
  advantage is one number per image, shared by all H·W pixel agents: a far noisier credit assignment than the
  per-pixel advantages of Pix-GRL's A2C (:mod:`agents.a2c`), and it gets worse as images grow. The value net is
  one scalar per image for the same reason.
- The ``MultiDiscrete`` is per-dimension in SB3; we replace its distribution (above). SB3's rollout buffer stores
  actions as float32 ``(n_steps, n_envs, H·W)`` and observations as ``(n_steps, n_envs, C, H, W)``.
- **SB3's DQN does not take MultiDiscrete** (Discrete only); the per-pixel DQN baseline is :mod:`baselines.dqn`.
- The policy is bound to the training image size ``H × W`` (SB3 flattens features); :class:`SB3Agent` runs the
  same convolutions directly on feature maps, so the trained agent acts on images of any size (e.g. whole
  256×256 slices after training on crops).
- Speed: every step goes through numpy, one Python ``gym.Env`` per sub-env, SB3's buffers and its host-side
  bookkeeping. ``benchmarks/bench_sb3.py`` (4 envs, default reward, 1 thread of a loaded 2-core CPU), image-steps/s:

  | | 32×32 | 64×64 |
  |---|---|---|
  | SB3 ``collect_rollouts`` (policy forward + DummyVecEnv + buffer) | 135 | 37 |
  | native vector env + the same policy's forward and sampling | 256 | 48 |
  | SB3 DummyVecEnv alone / native vector env alone (random actions) | 197 / 401 | 51 / 115 |
  | SB3 PPO ``learn`` end to end (n_steps 20, batch 40, 4 epochs) / A2C | 27 / 72 | 3.9 / 11 |
- SB3's ``check_env`` passes on the adapter with warnings it raises for every non-``uint8`` 3-D observation:
  "dtype … has to be np.uint8" and "bounds … not in [0, 255]" (our observations are float32 intensities in [0, 1],
  on purpose: quantising MR intensities to 8 bits would change the task), plus "minimal resolution 36x36" for
  images smaller than that (it concerns SB3's ``CnnPolicy``, which we do not use).

Checkpoints: SB3's own ``model.save`` zip pickles parts of the model (the learning-rate schedule, spaces, …) with
cloudpickle, so loading one runs code from the file. Ours holds only the policy's ``state_dict``, its optimizer's,
the RNG states and the configs, written by :func:`agents.checkpoint.save_checkpoint`; :func:`load` rebuilds the
policy from the configs and the stored observation shape and loads the weights with ``weights_only=True``.
Resuming rebuilds the SB3 algorithm and continues its timestep counter; the envs restart their episodes (with
seeds derived from the step), so a resumed run is not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import MultiCategoricalDistribution
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from torch import Tensor, nn
from torch.distributions import Categorical

from agents import cli
from agents.base import Agent
from agents.networks import BACKBONES, make_network
from agents.run import Run
from agents.training import env_config_for as _env_config_for
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, param
from pixgrl_env.env import PixGRLEnv

ALGOS = {"ppo": PPO, "a2c": A2C}


# ----------------------------------------------------------------------------------------------------------------
# The env adapter
# ----------------------------------------------------------------------------------------------------------------


class SB3ObsActionWrapper(gym.Wrapper):
    """PixGRL-v0 as SB3 takes it: actions ``MultiDiscrete([A] * H·W)`` (1-D), reshaped to ``(H, W)`` for the env.

    Observations ``(C, H, W)`` float32 in [0, 1] pass through; the reward is a Python float, ``terminated`` and
    ``truncated`` Python bools; ``info`` (``reward_map``…) passes through.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, spaces.MultiDiscrete) or space.nvec.ndim != 2 or len(np.unique(space.nvec)) != 1:
            raise ValueError(f"expected PixGRL-v0's (H, W) MultiDiscrete with one action count, got {space}")
        self._shape = space.shape
        self.action_space = spaces.MultiDiscrete(np.full(space.nvec.size, int(space.nvec.flat[0]), dtype=np.int64))

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = self.env.step(np.asarray(action).reshape(self._shape))
        return obs, float(reward), bool(terminated), bool(truncated), info


def make_sb3_env(env_config: EnvConfig, n_envs: int = 1, seed: int | None = 0) -> VecEnv:
    """SB3's ``DummyVecEnv`` (with ``Monitor``) of ``n_envs`` wrapped single envs; sub-env ``i`` seeded ``seed + i``."""
    return make_vec_env(lambda: SB3ObsActionWrapper(PixGRLEnv(env_config)), n_envs=n_envs, seed=seed,
                        vec_env_cls=DummyVecEnv)


# ----------------------------------------------------------------------------------------------------------------
# The fully convolutional policy
# ----------------------------------------------------------------------------------------------------------------


class PixelFeatures(BaseFeaturesExtractor):
    """A fully convolutional backbone of :mod:`agents.networks`; ``forward`` returns its feature maps flattened.

    Args:
        observation_space: ``Box(C, H, W)``.
        backbone: A name of :data:`agents.networks.BACKBONES`.
        backbone_kwargs: Its keyword arguments (widths…).
    """

    def __init__(self, observation_space: spaces.Box, backbone: str = "dilated",
                 backbone_kwargs: dict[str, Any] | None = None):
        c, h, w = observation_space.shape
        net = make_network(backbone, c, 1, **(backbone_kwargs or {}))
        channels = net.policy_head.in_channels
        super().__init__(observation_space, features_dim=channels * h * w)
        net.policy_head = net.value_head = nn.Identity()  # the heads live in the policy
        self.net, self.channels, self.spatial = net, channels, (h, w)

    def feature_maps(self, obs: Tensor) -> Tensor:
        """``(B, channels, H, W)`` for observations of any size."""
        return self.net.features(obs, None)

    def forward(self, obs: Tensor) -> Tensor:
        return self.feature_maps(obs).flatten(1)


class ConvActionHead(nn.Module):
    """Flattened features ``(B, C·H·W)`` → conv → logits ``(B, H·W·A)``, pixel-major (SB3's MultiCategorical
    layout)."""

    def __init__(self, channels: int, spatial: tuple[int, int], n_actions: int, kernel: int = 1):
        super().__init__()
        self.channels, self.spatial = channels, spatial
        self.conv = nn.Conv2d(channels, n_actions, kernel, padding=kernel // 2)

    def forward(self, latent: Tensor) -> Tensor:
        maps = latent.view(latent.shape[0], self.channels, *self.spatial)
        return self.conv(maps).permute(0, 2, 3, 1).flatten(1)


class PooledValueHead(nn.Module):
    """Flattened features ``(B, C·H·W)`` → spatial mean → ``Linear(C, 1)``: one value per observation."""

    def __init__(self, channels: int, spatial: tuple[int, int]):
        super().__init__()
        self.channels, self.spatial = channels, spatial
        self.linear = nn.Linear(channels, 1)

    def forward(self, latent: Tensor) -> Tensor:
        return self.linear(latent.view(latent.shape[0], self.channels, -1).mean(dim=2))


class BatchedMultiCategoricalDistribution(MultiCategoricalDistribution):
    """SB3's ``MultiCategoricalDistribution`` for ``N`` dimensions of ``A`` actions each, as one batched
    ``Categorical`` over ``(B, N, A)`` logits (same flat layout, log-prob and entropy summed over dimensions).

    Args:
        action_dims: ``[A] * N`` (all equal).
        head: A factory for the action net (``proba_distribution_net`` returns ``head()``); None: SB3's Linear.
    """

    distribution: Categorical  # type: ignore[assignment]

    def __init__(self, action_dims: list[int], head: Any = None):
        super().__init__(action_dims)
        if len(set(int(a) for a in action_dims)) != 1:
            raise ValueError(f"all dimensions need the same number of actions, got {sorted(set(action_dims))}")
        self.n_actions = int(action_dims[0])
        self._head = head

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        return self._head() if self._head is not None else super().proba_distribution_net(latent_dim)

    def proba_distribution(self, action_logits: Tensor) -> BatchedMultiCategoricalDistribution:
        logits = action_logits.view(action_logits.shape[0], -1, self.n_actions)
        self.distribution = Categorical(logits=logits, validate_args=False)
        return self

    def log_prob(self, actions: Tensor) -> Tensor:
        return self.distribution.log_prob(actions.long().view(actions.shape[0], -1)).sum(dim=1)

    def entropy(self) -> Tensor:
        return self.distribution.entropy().sum(dim=1)

    def sample(self) -> Tensor:
        return self.distribution.sample()

    def mode(self) -> Tensor:
        return self.distribution.logits.argmax(dim=-1)


class PixelActorCriticPolicy(ActorCriticPolicy):
    """A fully convolutional ``ActorCriticPolicy`` for the adapter's ``MultiDiscrete([A] * H·W)`` actions.

    Args:
        observation_space, action_space, lr_schedule: As for ``ActorCriticPolicy``.
        backbone, backbone_kwargs: The features extractor (:class:`PixelFeatures`).
        head_kernel: Kernel of the action conv (1: a per-pixel linear read-out of the features).
        **kwargs: Other ``ActorCriticPolicy`` arguments (``ortho_init``, ``optimizer_class``…); ``net_arch`` is
            forced empty (no MLP between the features and the heads).
    """

    def __init__(self, observation_space: spaces.Box, action_space: spaces.MultiDiscrete, lr_schedule: Any,
                 backbone: str = "dilated", backbone_kwargs: dict[str, Any] | None = None, head_kernel: int = 1,
                 **kwargs: Any):
        c, h, w = observation_space.shape
        if not isinstance(action_space, spaces.MultiDiscrete) or action_space.nvec.shape != (h * w,):
            raise ValueError(f"expected MultiDiscrete([A] * {h * w}) actions for {h}×{w} images (use "
                             f"SB3ObsActionWrapper), got {action_space}")
        self.backbone, self.backbone_kwargs, self.head_kernel = backbone, dict(backbone_kwargs or {}), head_kernel
        kwargs.pop("net_arch", None)
        super().__init__(observation_space, action_space, lr_schedule, net_arch=[],
                         features_extractor_class=PixelFeatures,
                         features_extractor_kwargs={"backbone": backbone, "backbone_kwargs": self.backbone_kwargs},
                         **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        fe: PixelFeatures = self.features_extractor  # type: ignore[assignment]
        n_actions = int(self.action_space.nvec[0])
        self.action_dist = BatchedMultiCategoricalDistribution(
            list(self.action_space.nvec), head=partial(ConvActionHead, fe.channels, fe.spatial, n_actions,
                                                       self.head_kernel))
        super()._build(lr_schedule)  # action_net from the distribution: the conv head
        self.value_net = PooledValueHead(fe.channels, fe.spatial)
        if self.ortho_init:
            self.value_net.apply(partial(self.init_weights, gain=1))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("net_arch", "features_extractor_class", "features_extractor_kwargs"):
            data.pop(key, None)
        data.update(backbone=self.backbone, backbone_kwargs=self.backbone_kwargs, head_kernel=self.head_kernel)
        return data

    def pixel_logits(self, obs: Tensor) -> Tensor:
        """``(N, A, H, W)`` logits for observations ``(N, C, H, W)`` of any size (the SB3 path needs the training
        size); equal to the SB3 path's logits at the training size."""
        fe: PixelFeatures = self.features_extractor  # type: ignore[assignment]
        return self.action_net.conv(fe.feature_maps(obs.float()))


# ----------------------------------------------------------------------------------------------------------------
# The agent
# ----------------------------------------------------------------------------------------------------------------


class SB3Agent(Agent):
    """A trained :class:`PixelActorCriticPolicy` as a PixGRL-v0 agent.

    ``act`` runs the policy's convolutions on the observation directly (any image size); at the training size its
    deterministic actions equal ``model.predict(obs, deterministic=True)`` reshaped to ``(N, H, W)``.

    Attributes:
        policy: The SB3 policy. ``model``: the SB3 algorithm (PPO/A2C) when the agent comes from :func:`train`,
            None after :func:`load` (only the policy is stored).
    """

    name = "sb3"
    needs_target = False

    def __init__(self, env_config: EnvConfig, policy: PixelActorCriticPolicy, device: torch.device | str = "cpu",
                 model: Any = None):
        super().__init__(env_config, device)
        self.policy = policy.to(self.device)
        self.model = model

    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        with torch.no_grad():
            logits = self.policy.pixel_logits(obs.to(self.device))
        if deterministic:
            actions = logits.argmax(dim=1)
        else:
            actions = Categorical(logits=logits.permute(0, 2, 3, 1), validate_args=False).sample()
        return actions.to(obs.device)

    def state_dict(self) -> dict[str, Any]:
        return self.policy.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state)


# ----------------------------------------------------------------------------------------------------------------
# Config, train, load
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config(BaseConfig):
    """Hyper-parameters of the SB3 baseline (SB3's names where they exist)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # A CPU smoke run.
        "quick": {"n_envs": 4, "total_timesteps": 2_000, "n_steps": 10, "batch_size": 20, "n_epochs": 2,
                  "backbone_kwargs": {"channels": 16, "dilations": (1, 2)}, "checkpoint_every": 1_000,
                  "eval_every": 1_000},
        # PixGRLReach-v0 on a CPU: the A2C agent's budget (4,000 image-steps) and discount.
        "reach": {"n_envs": 4, "total_timesteps": 4_000, "n_steps": 12, "batch_size": 24, "n_epochs": 2, "gamma": 0.5,
                  "backbone_kwargs": {"channels": 16, "dilations": (1, 2)}, "checkpoint_every": 1_000,
                  "eval_every": 500, "eval_pairs": 16},
        # A longer run with Pix-GRL's learning rate.
        "paper": {"n_envs": 16, "total_timesteps": 1_000_000, "n_steps": 20, "batch_size": 80, "learning_rate": 1e-3,
                  "backbone_kwargs": {"channels": 64, "dilations": (1, 2, 3, 4, 3, 2)}, "checkpoint_every": 50_000,
                  "eval_every": 50_000},
    }
    TIED: ClassVar[dict[str, str]] = {"backbone_kwargs": "backbone"}  # a preset's widths are for its own backbone

    algo: str = param("ppo", choices=tuple(ALGOS))
    """``"ppo"`` or ``"a2c"`` (SB3's)."""
    n_envs: int = param(4, ge=1)
    """Sub-envs of the ``DummyVecEnv``."""
    total_timesteps: int = param(100_000, ge=1)
    """SB3 timesteps: one step of one sub-env counts 1."""
    n_steps: int = param(20, ge=1)
    """Rollout length per sub-env per update (a multiple of the episode length keeps whole episodes)."""
    batch_size: int = param(40, ge=1)
    """PPO minibatch size (ignored by A2C)."""
    n_epochs: int = param(4, ge=1)
    """PPO epochs per rollout (ignored by A2C)."""
    learning_rate: float = param(3e-4, gt=0)
    """Optimizer learning rate (PPO: Adam; A2C: SB3's default RMSprop)."""
    gamma: float = param(0.95, ge=0, le=1)
    """Discount (PixelRL: 0.95)."""
    gae_lambda: float = param(0.95, ge=0, le=1)
    """GAE λ (A2C's SB3 default is 1.0; we use the same λ for both)."""
    ent_coef: float = param(0.01, ge=0)
    """Entropy bonus; note the entropy is summed over pixels."""
    vf_coef: float = param(0.5, ge=0)
    """Value-loss weight."""
    max_grad_norm: float = param(0.5, gt=0)
    """Gradient clipping."""
    clip_range: float = param(0.2, gt=0)
    """PPO clip range (ignored by A2C)."""
    backbone: str = param("dilated", choices=BACKBONES)
    """Features extractor, a name of :data:`agents.networks.BACKBONES`."""
    backbone_kwargs: dict[str, Any] = param({"channels": 32, "dilations": (1, 2, 3, 2)})
    """Its keyword arguments."""
    head_kernel: int = param(1, ge=1)
    """Kernel of the action conv (odd)."""
    seed: int = 0
    """Seeds torch, numpy, SB3 and the envs."""
    device: str = "auto"
    """``"auto"``, ``"cpu"``, ``"cuda"``…"""
    checkpoint_every: int = param(10_000, ge=1)
    """Write ``checkpoint.pt`` every this many timesteps (and at the end)."""
    eval_every: int = param(10_000, ge=0)
    """Record ``eval/ssim``, ``eval/psnr`` (quick_eval on the validation fold) every this many timesteps (0: only at
    the end)."""
    eval_pairs: int = param(4, ge=0)
    """Validation pairs of that quick eval (0 disables it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head_kernel % 2 == 0:
            raise ValueError(f"head_kernel must be odd, got {self.head_kernel}")


PRESETS = Config.PRESETS


def env_config_for(preset: str, **overrides: Any) -> EnvConfig:
    """The env of :func:`agents.training.env_config_for`, with 32×32 crops for ``quick``: SB3's rollout
    buffers and per-step Python overhead make 64×64 slow on a CPU."""
    return _env_config_for(preset, **{**({"crop": 32} if preset == "quick" else {}), **overrides})


def policy_kwargs(config: Config) -> dict[str, Any]:
    """The :class:`PixelActorCriticPolicy` arguments of a config."""
    return {"backbone": config.backbone, "backbone_kwargs": dict(config.backbone_kwargs),
            "head_kernel": config.head_kernel}


def make_model(config: Config, env: VecEnv, device: torch.device, tensorboard_log: str | None = None) -> Any:
    """SB3's PPO or A2C with :class:`PixelActorCriticPolicy` on ``env``."""
    kwargs: dict[str, Any] = dict(
        learning_rate=config.learning_rate, n_steps=config.n_steps, gamma=config.gamma,
        gae_lambda=config.gae_lambda, ent_coef=config.ent_coef, vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm, policy_kwargs=policy_kwargs(config), tensorboard_log=tensorboard_log,
        seed=config.seed, device=device, verbose=0)
    if config.algo == "ppo":
        kwargs.update(batch_size=config.batch_size, n_epochs=config.n_epochs, clip_range=config.clip_range)
    return ALGOS[config.algo](PixelActorCriticPolicy, env, **kwargs)


class _RunCallback(BaseCallback):
    """Moves the run's step counter to SB3's and runs its periodic evals and checkpoints, at the start of every
    rollout: the previous rollout's update is done then, so the weights and the step counter agree."""

    def __init__(self, run: Run, agent: SB3Agent, states: Callable[[], dict[str, Any]]):
        super().__init__()
        self.run, self.agent, self.states = run, agent, states

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        if self.num_timesteps > self.run.step:
            self.run.advance(self.num_timesteps - self.run.step)
            self.agent.policy.set_training_mode(False)
            self.run.periodic(self.agent, self.states)


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> SB3Agent:
    """Train SB3's PPO or A2C; SB3 writes TensorBoard to ``run_dir/tb/<algo>_1``; the run writes ``checkpoint.pt``,
    ``config.json`` and its evals to ``run_dir/tb`` (:class:`agents.run.Run`).

    Args:
        config: :class:`Config`.
        env_config: The task (its crop sets the training image size; use a small one on CPU).
        run_dir: Output folder.
        resume: Continue from ``run_dir/checkpoint.pt`` (policy, optimizer, RNGs, timestep counter) up to
            ``config.total_timesteps``; a folder without one is an error (:class:`agents.run.Run`).
    """
    with Run(SB3Agent.name, config, env_config, run_dir, resume=resume, total=config.total_timesteps,
             seed=config.seed, device=config.device, eval_every=config.eval_every, eval_pairs=config.eval_pairs,
             save_every=config.checkpoint_every) as run:
        # On resume the envs restart with seeds derived from the step, so episodes do not repeat the first run's.
        env = make_sb3_env(env_config, config.n_envs, config.seed + run.step)
        model = make_model(config, env, run.device, tensorboard_log=str(run.run_dir / "tb"))
        policy: PixelActorCriticPolicy = model.policy
        run.restore(model=policy, optimizer=policy.optimizer)
        model.num_timesteps = run.step
        agent = SB3Agent(env_config, policy, run.device, model=model)
        states = lambda: dict(model=policy.state_dict(), optimizer=policy.optimizer.state_dict(),  # noqa: E731
                              obs_shape=list(env.observation_space.shape), n_actions=env_config.n_actions)
        try:
            if not run.done:
                model.learn(config.total_timesteps - run.step, callback=_RunCallback(run, agent, states),
                            tb_log_name=config.algo, reset_num_timesteps=run.checkpoint is None)
            run.advance(model.num_timesteps - run.step)
            policy.set_training_mode(False)
            run.finish(agent, states())
        finally:
            env.close()
    return agent


def build_policy(config: Config, obs_shape: tuple[int, ...], n_actions: int) -> PixelActorCriticPolicy:
    """A fresh policy for ``(C, H, W)`` observations and ``n_actions`` actions per pixel."""
    obs_space = spaces.Box(0.0, 1.0, tuple(obs_shape), np.float32)
    act_space = spaces.MultiDiscrete(np.full(obs_shape[1] * obs_shape[2], n_actions, dtype=np.int64))
    return PixelActorCriticPolicy(obs_space, act_space, lambda _: config.learning_rate, **policy_kwargs(config))


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> SB3Agent:
    """Rebuild the policy from the checkpoint's configs and load its weights (no SB3 zip, no pickle)."""
    config = Config.from_dict(checkpoint["config"])
    env_config = EnvConfig.from_dict(checkpoint["env_config"])
    policy = build_policy(config, tuple(checkpoint["obs_shape"]), int(checkpoint["n_actions"]))
    policy.load_state_dict(checkpoint["model"])
    policy.set_training_mode(False)
    return SB3Agent(env_config, policy, device)


def main(argv: Sequence[str] | None = None) -> SB3Agent:
    """``python -m baselines.sb3 [--preset NAME] [--FIELD VALUE …] [--env KEY=VALUE …] --run-dir DIR [--resume]``
    (:mod:`agents.cli`)."""
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
