"""Monte-Carlo policy gradient (REINFORCE, Williams 1992) per pixel on PixGRL-v0: the paper's "MC-PG" baseline.

Every pixel is an agent with its own softmax policy π(·|s) from a fully convolutional network (the same network
code as DQN and Pix-GRL, :func:`baselines.common.make_pixel_net`). After whole episodes, every pixel's return

    G_t = Σ_k γ^k r_{t+k}        (per pixel, from the env's reward maps; no bootstrapping)

weights the log-probability of the action it took:

    loss = −mean(log π(a_t|s_t) · (G_t − b_t)) − β·mean(H(π(·|s_t))) [+ c_v·mean((G_t − V(s_t))²)]

averaged over pixels, steps and images. The baseline b is ``"none"``, ``"mean"`` (the mean of G_t over the
batch's images, per step and pixel; it scales the gradient by (N − 1)/N but adds no bias to its direction) or
``"value"`` (a learned per-pixel value head V(s_t), trained by regression on G_t; the advantage is detached).

Checkpoints hold the network, the optimiser, the step and update counters and the RNG states.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from agents import cli
from agents.networks import GREEDY_ACTIONS, POLICIES, greedy_actions, sample_actions
from baselines.common import (  # noqa: F401  (env_config_for: the env each preset is meant for, for the CLI)
    BaselineConfig, Episode, PixelNetAgent, collect_episode, env_config_for, gradient_step, load_agent, start_run)
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import param

BASELINES = ("none", "mean", "value")


@dataclass
class Config(BaselineConfig):
    """REINFORCE hyper-parameters (the shared ones are documented in :class:`BaselineConfig`)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # CPU-sized: a narrow dilated net, small batches of episodes.
        "quick": dict(total_timesteps=4_000, num_envs=4, eval_every=0,
                      backbone_kwargs={"channels": 32, "dilations": (1, 2, 3, 2)}),
        # PixGRLReach-v0 on a CPU: quick, with what helped the A2C agent there (docs/learning.md): reward ×10,
        # γ 0.5, a learned baseline, standardised advantages, the ordinal policy head read by its mean, β 0.05.
        "reach": dict(total_timesteps=4_000, num_envs=4, eval_every=500, eval_episodes=16, reward_scale=10.0, gamma=0.5,
                      baseline="value", normalize_advantage=True, policy="ordinal", greedy_action="mean",
                      ent_coef=0.05, backbone_kwargs={"channels": 32, "dilations": (1, 2, 3, 2)}),
        # The paper's optimiser and batch (Adam 1e-3, mini-batch 32) with the PixelRL-style dilated net; a GPU run.
        # One update back-propagates through num_envs × T images at once: ~30 GB of activations at 256×256.
        "paper": dict(total_timesteps=2_000_000, num_envs=32, learning_rate=1e-3,
                      baseline="value", eval_every=100_000, save_every=100_000),
    }

    baseline: str = param("mean", choices=BASELINES)
    """baseline b subtracted from the returns: "none", "mean" (batch mean per step and pixel) or "value" (learned)"""
    ent_coef: float = param(0.01, ge=0)
    """weight of the per-pixel entropy bonus"""
    vf_coef: float = param(0.5, ge=0)
    """weight of the value regression loss (baseline="value" only)"""
    normalize_advantage: bool = False
    """divide the advantages by their standard deviation over the batch"""
    policy: str = param("categorical", choices=POLICIES)
    """per-pixel policy head: "categorical" (one logit per action) or "ordinal" (a Gaussian over the log of the
    factors, as the Pix-GRL agent's option: agents.networks.ordinal_logits)"""
    greedy_action: str = param("mode", choices=GREEDY_ACTIONS)
    """deterministic actions of the ordinal head: "mode" (the most probable factor) or "mean" (the factor nearest
    the policy's mean log-factor): agents.networks.greedy_actions. Categorical: the mode"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.baseline == "mean" and self.num_envs < 2:
            raise ValueError("baseline='mean' needs num_envs >= 2 (with one image the advantage is always 0)")


# ----------------------------------------------------------------------------------------------------------------
# ALGO LOGIC: per-pixel returns and the policy-gradient loss
# ----------------------------------------------------------------------------------------------------------------


def discounted_returns(rewards: Tensor, dones: Tensor, gamma: float) -> Tensor:
    """Per-pixel Monte-Carlo returns ``G_t = r_t + γ (1 − done_t) G_{t+1}``, with ``G_T = 0``.

    Args:
        rewards: ``(T, N, H, W)`` reward maps.
        dones: ``(T, N)`` 1 where the episode ended after step t (a return never crosses it).
        gamma: Discount.

    Returns:
        ``(T, N, H, W)``.
    """
    returns = torch.empty_like(rewards)
    g = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        g = rewards[t] + gamma * (1.0 - dones[t]).view(-1, 1, 1) * g
        returns[t] = g
    return returns


def policy_loss(agent: ReinforceAgent, episode: Episode, config: Config) -> tuple[Tensor, dict[str, float]]:
    """The REINFORCE loss of a batch of whole episodes, and scalars to log."""
    returns = discounted_returns(episode.rewards, episode.dones, config.gamma)  # (T, N, H, W)
    t_max, n = episode.actions.shape[:2]
    logits, value = agent.forward(episode.obs[:-1].flatten(0, 1))  # one batched forward over (T·N) images
    logits, value = logits.unflatten(0, (t_max, n)), value[:, 0].unflatten(0, (t_max, n))
    log_probs = logits.log_softmax(dim=2)  # softmax over actions, per pixel
    log_prob_taken = log_probs.gather(2, episode.actions.unsqueeze(2)).squeeze(2)
    entropy = -(log_probs.exp() * log_probs).sum(dim=2)
    if config.baseline == "value":
        advantage = returns - value.detach()
    elif config.baseline == "mean":
        advantage = returns - returns.mean(dim=1, keepdim=True)
    else:
        advantage = returns
    if config.normalize_advantage:
        advantage = advantage / (advantage.std() + 1e-8)
    pg_loss = -(log_prob_taken * advantage).mean()
    loss = pg_loss - config.ent_coef * entropy.mean()
    logs = {"losses__policy_loss": pg_loss.item(), "losses__entropy": entropy.mean().item()}
    if config.baseline == "value":
        v_loss = (returns - value).pow(2).mean()
        loss = loss + config.vf_coef * v_loss
        logs["losses__value_loss"] = v_loss.item()
    return loss, logs


class ReinforceAgent(PixelNetAgent):
    """Per-pixel softmax policy: its greedy action per pixel (``config.greedy_action``), or a sample per pixel with
    ``deterministic=False``."""

    name = "reinforce"

    def __init__(self, env_config: EnvConfig, config: Config, device: torch.device | str = "cpu"):
        super().__init__(env_config, config, device, policy=config.policy)

    def logits(self, obs: Tensor) -> Tensor:
        """``(N, A, H, W)`` per-pixel action logits (with autograd)."""
        return self.forward(obs)[0]

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        logits = self.logits(obs)
        if deterministic:
            actions = greedy_actions(logits, self.network.action_points, self.config.greedy_action)
        else:
            actions = sample_actions(logits)
        return actions.to(obs.device)


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> ReinforceAgent:
    """Train a per-pixel REINFORCE agent; write ``run_dir/{checkpoint.pt, config.json, tb/}``; return the agent."""
    # TRY NOT TO MODIFY: run plumbing (seeding, env on the device, logger, evals, checkpoints, resume)
    with start_run(ReinforceAgent.name, config, env_config, run_dir, resume) as run:
        env = run.make_env(config.num_envs, seed=config.seed + run.step)  # new episodes after a resume
        agent = ReinforceAgent(env_config, config, run.device)
        optimizer = torch.optim.Adam(agent.network.parameters(), lr=config.learning_rate)
        updates = int(run.restore(model=agent.network, optimizer=optimizer).get("updates", 0))
        batch_steps = config.num_envs * env_config.episode_length
        states = lambda: dict(model=agent.network.state_dict(), optimizer=optimizer.state_dict(),  # noqa: E731
                              updates=updates)

        # ALGO LOGIC: sample whole episodes, one policy-gradient step per batch of episodes
        while not run.done:
            episode = collect_episode(env, lambda obs: agent.act(obs, deterministic=False), config.reward_scale)
            loss, logs = policy_loss(agent, episode, config)
            gradient_step(optimizer, loss, agent.network.parameters(), config.max_grad_norm)
            updates += 1
            run.advance(batch_steps, charts__episodic_return=episode.rewards.sum(0).mean().item() / config.reward_scale,
                        losses__loss=loss.item(), **logs)
            run.periodic(agent, states)
        run.finish(agent, states())
    return agent


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> ReinforceAgent:
    """Rebuild a :class:`ReinforceAgent` from a loaded checkpoint."""
    return load_agent(ReinforceAgent, Config, checkpoint, device)


def main(argv: Sequence[str] | None = None) -> ReinforceAgent:
    """``python -m baselines.reinforce [--preset NAME] [--FIELD VALUE …] [--env KEY=VALUE …] --run-dir DIR
    [--resume]`` (:mod:`agents.cli`)."""
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
