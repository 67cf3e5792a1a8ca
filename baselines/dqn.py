"""Per-pixel DQN on PixGRL-v0, the paper's DQN baseline in the style of RL-Restore (Yu et al., CVPR 2018).

Every pixel is an agent with its own Q-values: a fully convolutional network maps an image ``(N, C, H, W)`` to
``Q (N, A, H, W)``. Each transition of the replay buffer is a whole image ``(s, a, r, s', done)`` with per-pixel
action and reward maps, and the TD target is computed per pixel:

    y = r + γ (1 − done) max_a' Q_target(s', a')            (double DQN: Q_target(s', argmax_a' Q(s', a')))

with a Huber (or MSE) loss averaged over pixels and images. ε-greedy exploration draws an independent coin per
pixel. Episodes run in the native vector env on its device; the buffer lives on the same device.

Checkpoints hold the online and target networks, the optimiser, the step and update counters and the RNG states;
the replay buffer is **not** saved (it can be gigabytes): a resumed run refills it, training only once it holds
``learning_starts`` new transitions again.

    >>> from baselines import dqn                                                    # doctest: +SKIP
    >>> agent = dqn.train(dqn.Config.preset("quick"), EnvConfig(dataset="toy"), "runs/dqn")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from agents import cli
from baselines.common import (  # noqa: F401  (env_config_for: the env each preset is meant for, for the CLI)
    BaselineConfig, Episode, PixelNetAgent, collect_episode, env_config_for, gradient_step, load_agent, start_run)
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import param


@dataclass
class Config(BaselineConfig):
    """Per-pixel DQN hyper-parameters (the shared ones are documented in :class:`BaselineConfig`)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # CPU-sized: a narrow dilated net, a small buffer, a short schedule.
        "quick": dict(total_timesteps=4_000, num_envs=4, buffer_size=1_000, batch_size=8, learning_starts=100,
                      gradient_steps=4, target_network_frequency=50, exploration_fraction=0.5, eval_every=0,
                      backbone_kwargs={"channels": 32, "dilations": (1, 2, 3, 2)}),
        # PixGRLReach-v0 on a CPU: quick, with the reward scale and discount that helped the A2C agent there.
        "reach": dict(total_timesteps=4_000, num_envs=4, buffer_size=1_000, batch_size=8, learning_starts=100,
                      gradient_steps=4, target_network_frequency=50, exploration_fraction=0.5, eval_every=500,
                      eval_episodes=16, reward_scale=10.0, gamma=0.5,
                      backbone_kwargs={"channels": 32, "dilations": (1, 2, 3, 2)}),
        # The paper's optimiser and batch (Adam 1e-3, mini-batch 32) with the PixelRL-style dilated net; a GPU run.
        # The buffer holds 10,000 images: ~8.5 GB on the device at 256×256 (C = 1), ~0.5 GB with 64×64 crops.
        "paper": dict(total_timesteps=2_000_000, num_envs=32, buffer_size=10_000, batch_size=32,
                      learning_starts=5_000, gradient_steps=40, target_network_frequency=1_000, learning_rate=1e-3,
                      exploration_fraction=0.2, eval_every=100_000, save_every=100_000),
    }

    buffer_size: int = param(5_000, ge=1)
    """replay capacity in images (each holds obs, next obs, action and reward maps: ~(2C + 1.25)·H·W·4 bytes)"""
    batch_size: int = param(16, ge=1)
    """images per gradient step (each contributes H·W per-pixel TD errors)"""
    learning_starts: int = param(500, ge=0)
    """image-steps collected before learning starts"""
    gradient_steps: int = param(10, ge=1)
    """gradient steps after every episode batch (num_envs × T image-steps)"""
    target_network_frequency: int = param(200, ge=1)
    """gradient steps between target network updates"""
    tau: float = param(1.0, gt=0, le=1)
    """target update rate: 1 is a hard copy, < 1 Polyak averaging θ' ← τθ + (1 − τ)θ'"""
    start_e: float = param(1.0, ge=0, le=1)
    """ε at the start (probability, per pixel, of a uniform random action)"""
    end_e: float = param(0.05, ge=0, le=1)
    """ε at the end of the schedule; also the ε of act(deterministic=False) after loading"""
    exploration_fraction: float = param(0.3, ge=0, le=1)
    """fraction of total_timesteps over which ε decays linearly from start_e to end_e"""
    double_dqn: bool = True
    """double DQN: the online net picks argmax_a' at s', the target net values it"""
    dueling: bool = False
    """dueling heads: Q = V + (adv − mean_a adv), V from the network's value head"""
    loss: str = param("huber", choices=("huber", "mse"))
    """TD loss per pixel: "huber" (smooth L1, δ = 1) or "mse"; averaged over pixels and images"""


# ----------------------------------------------------------------------------------------------------------------
# ALGO LOGIC: Q-values, ε-greedy, TD targets, replay
# ----------------------------------------------------------------------------------------------------------------


def q_from_outputs(out: Tensor, value: Tensor, dueling: bool) -> Tensor:
    """Per-pixel Q-values ``(N, A, H, W)`` from the network's outputs (dueling: ``V + adv − mean_a adv``)."""
    return value + out - out.mean(dim=1, keepdim=True) if dueling else out


def linear_schedule(start_e: float, end_e: float, duration: float, t: int) -> float:
    """ε after ``t`` steps of a linear decay from ``start_e`` to ``end_e`` over ``duration`` steps, then flat."""
    if duration <= 0:
        return end_e
    return start_e + (end_e - start_e) * min(t / duration, 1.0)


def epsilon_greedy(q: Tensor, epsilon: float) -> Tensor:
    """``(N, H, W)`` actions: argmax_a Q per pixel, replaced by a uniform random action with probability ε per
    pixel (independent coins, so every pixel of every image explores on its own)."""
    greedy = q.argmax(dim=1)
    if epsilon <= 0:
        return greedy
    explore = torch.rand(greedy.shape, device=q.device) < epsilon
    return torch.where(explore, torch.randint_like(greedy, q.shape[1]), greedy)


def td_target(reward: Tensor, done: Tensor, gamma: float, next_q_target: Tensor,
              next_q_online: Tensor | None = None) -> Tensor:
    """Per-pixel TD targets ``y = r + γ (1 − done) Q_target(s', a*)``.

    Args:
        reward: ``(B, H, W)`` reward maps.
        done: ``(B,)`` 1 where s' is terminal.
        gamma: Discount.
        next_q_target: ``(B, A, H, W)`` target-network Q-values at s'.
        next_q_online: ``(B, A, H, W)`` online-network Q-values at s' (double DQN: a* = their argmax); None for
            plain DQN (a* = argmax of ``next_q_target``).

    Returns:
        ``(B, H, W)``.
    """
    if next_q_online is None:
        next_value = next_q_target.max(dim=1).values
    else:
        next_value = next_q_target.gather(1, next_q_online.argmax(dim=1, keepdim=True)).squeeze(1)
    return reward + gamma * (1.0 - done).view(-1, 1, 1) * next_value


class ReplaySample(NamedTuple):
    obs: Tensor  #: (B, C, H, W)
    actions: Tensor  #: (B, H, W) int64
    rewards: Tensor  #: (B, H, W)
    next_obs: Tensor  #: (B, C, H, W)
    dones: Tensor  #: (B,)


class ReplayBuffer:
    """A ring buffer of whole-image transitions, preallocated as tensors on ``device``; uniform sampling.

    Args:
        capacity: Images it holds; the oldest are overwritten first.
        obs_shape: ``(C, H, W)``.
        n_actions: Actions per pixel (action maps are stored as uint8 when ``n_actions <= 256``).
        device: Where the tensors live (the env's device: no host copies).
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, int, int], n_actions: int, device: torch.device | str):
        self.capacity, self.pos, self.size = capacity, 0, 0
        c, h, w = obs_shape
        self.obs = torch.zeros(capacity, c, h, w, device=device)
        self.next_obs = torch.zeros_like(self.obs)
        self.actions = torch.zeros(capacity, h, w, dtype=torch.uint8 if n_actions <= 256 else torch.int64,
                                   device=device)
        self.rewards = torch.zeros(capacity, h, w, device=device)
        self.dones = torch.zeros(capacity, device=device)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Tensor, actions: Tensor, rewards: Tensor, next_obs: Tensor, dones: Tensor) -> None:
        """Add ``n`` transitions: ``obs``/``next_obs`` ``(n, C, H, W)``, ``actions``/``rewards`` ``(n, H, W)``,
        ``dones`` ``(n,)``. A batch larger than the capacity keeps its last ``capacity`` transitions."""
        n = obs.shape[0]
        if n > self.capacity:
            obs, actions, rewards, next_obs, dones = (x[-self.capacity:] for x in (obs, actions, rewards, next_obs,
                                                                                   dones))
            n = self.capacity
        idx = (self.pos + torch.arange(n, device=self.obs.device)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions.to(self.actions.dtype)
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.dones[idx] = dones.to(self.dones.dtype)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def add_episode(self, episode: Episode) -> None:
        """Add the ``T × N`` transitions of an :class:`~baselines.common.Episode`."""
        flat = lambda x: x.flatten(0, 1)  # noqa: E731  (T, N, ...) -> (T·N, ...)
        self.add(flat(episode.obs[:-1]), flat(episode.actions), flat(episode.rewards), flat(episode.obs[1:]),
                 flat(episode.dones))

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly with replacement (torch's global generator)."""
        if self.size == 0:
            raise RuntimeError("sample() from an empty replay buffer")
        idx = torch.randint(self.size, (batch_size,), device=self.obs.device)
        return ReplaySample(self.obs[idx], self.actions[idx].long(), self.rewards[idx], self.next_obs[idx],
                            self.dones[idx])


class DQNAgent(PixelNetAgent):
    """Per-pixel DQN agent: greedy ``argmax_a Q`` per pixel, or ε-greedy with ``deterministic=False``.

    Attributes:
        epsilon: The ε of ``act(deterministic=False)``: the schedule's current value while training,
            ``config.end_e`` after loading.
    """

    name = "dqn"

    def __init__(self, env_config: EnvConfig, config: Config, device: torch.device | str = "cpu"):
        super().__init__(env_config, config, device)
        self.epsilon = config.end_e

    def q_values(self, obs: Tensor) -> Tensor:
        """``(N, A, H, W)`` per-pixel Q-values (with autograd)."""
        return q_from_outputs(*self.forward(obs), self.config.dueling)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        return epsilon_greedy(self.q_values(obs), 0.0 if deterministic else self.epsilon).to(obs.device)


def dqn_loss(agent: DQNAgent, target_network: torch.nn.Module, data: ReplaySample,
             config: Config) -> tuple[Tensor, Tensor]:
    """Mean per-pixel TD loss of a replay batch, and the Q(s, a) maps ``(B, H, W)`` (for logging)."""
    with torch.no_grad():
        next_q_target = q_from_outputs(*target_network(data.next_obs), config.dueling)
        next_q_online = agent.q_values(data.next_obs) if config.double_dqn else None
        y = td_target(data.rewards, data.dones, config.gamma, next_q_target, next_q_online)
    q_sa = agent.q_values(data.obs).gather(1, data.actions.unsqueeze(1)).squeeze(1)
    loss = F.smooth_l1_loss(q_sa, y) if config.loss == "huber" else F.mse_loss(q_sa, y)
    return loss, q_sa.detach()


@torch.no_grad()
def update_target(target_network: torch.nn.Module, online_network: torch.nn.Module, tau: float) -> None:
    """θ' ← τθ + (1 − τ)θ' (τ = 1: a hard copy)."""
    if tau == 1.0:
        target_network.load_state_dict(online_network.state_dict())
        return
    for tp, p in zip(target_network.parameters(), online_network.parameters()):
        tp.lerp_(p, tau)


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> DQNAgent:
    """Train a per-pixel DQN agent; write ``run_dir/{checkpoint.pt, config.json, tb/}``; return the agent."""
    # TRY NOT TO MODIFY: run plumbing (seeding, env on the device, logger, evals, checkpoints, resume)
    with start_run(DQNAgent.name, config, env_config, run_dir, resume) as run:
        env = run.make_env(config.num_envs, seed=config.seed + run.step)  # new episodes after a resume
        agent = DQNAgent(env_config, config, run.device)
        target_network = copy.deepcopy(agent.network).requires_grad_(False)
        optimizer = torch.optim.Adam(agent.network.parameters(), lr=config.learning_rate)
        updates = int(run.restore(model=agent.network, target_model=target_network, optimizer=optimizer)
                      .get("updates", 0))
        rb = ReplayBuffer(config.buffer_size, env.single_observation_space.shape, env_config.n_actions, run.device)
        learning_starts = run.step + config.learning_starts if resume else config.learning_starts
        batch_steps = config.num_envs * env_config.episode_length
        states = lambda: dict(model=agent.network.state_dict(), target_model=target_network.state_dict(),  # noqa: E731
                              optimizer=optimizer.state_dict(), updates=updates)

        # ALGO LOGIC: ε-greedy episodes into the replay buffer, then per-pixel TD updates
        while not run.done:
            agent.epsilon = linear_schedule(config.start_e, config.end_e,
                                            config.exploration_fraction * config.total_timesteps, run.step)
            episode = collect_episode(env, lambda obs: agent.act(obs, deterministic=False), config.reward_scale)
            rb.add_episode(episode)
            logs = {"charts__episodic_return": episode.rewards.sum(0).mean().item() / config.reward_scale,
                    "charts__epsilon": agent.epsilon, "charts__buffer_size": len(rb)}
            if run.step + batch_steps >= learning_starts:
                for _ in range(config.gradient_steps):
                    loss, q_sa = dqn_loss(agent, target_network, rb.sample(config.batch_size), config)
                    gradient_step(optimizer, loss, agent.network.parameters(), config.max_grad_norm)
                    updates += 1
                    if updates % config.target_network_frequency == 0:
                        update_target(target_network, agent.network, config.tau)
                logs.update(losses__td_loss=loss.item(), losses__q_values=q_sa.mean().item(), charts__updates=updates)
            run.advance(batch_steps, **logs)
            run.periodic(agent, states)
        run.finish(agent, states())
    return agent


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> DQNAgent:
    """Rebuild a :class:`DQNAgent` (online network, ε = ``end_e``) from a loaded checkpoint."""
    return load_agent(DQNAgent, Config, checkpoint, device)


def main(argv: Sequence[str] | None = None) -> DQNAgent:
    """``python -m baselines.dqn [--preset NAME] [--FIELD VALUE …] [--env KEY=VALUE …] --run-dir DIR [--resume]``
    (:mod:`agents.cli`)."""
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
