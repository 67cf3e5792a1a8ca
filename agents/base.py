"""The interface every agent offers to the evaluation, and the episode loop that turns actions into an image.

Bring your own agent: subclass :class:`Agent`, implement :meth:`Agent.act` (per-pixel actions from observations),
and the rest (:meth:`Agent.synthesize`, :meth:`Agent.trajectory`) comes for free. Agents that produce an image in
one shot (supervised U-Net, pix2pix, the oracle) override :meth:`Agent.trajectory` instead.

    >>> import torch
    >>> from agents.base import Agent
    >>> from pixgrl_env.config import EnvConfig
    >>> class KeepAgent(Agent):
    ...     def act(self, obs, deterministic=True):
    ...         return torch.ones(obs.shape[0], *obs.shape[2:], dtype=torch.long, device=obs.device)  # ×1.0
    >>> agent = KeepAgent(EnvConfig())
    >>> x = torch.rand(2, 1, 8, 8)
    >>> bool(torch.equal(agent.synthesize(x), x))
    True
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from pixgrl_env.actions import apply_actions, factor_table
from pixgrl_env.config import EnvConfig
from pixgrl_env.dynamics import observation


class Agent(abc.ABC):
    """An agent for PixGRL-v0.

    Args:
        env_config: The task the agent acts in: its action factors, episode length and conditioning channels
            define how observations are built and how actions change the image.
        device: Torch device the agent computes on.

    Attributes:
        name: Short registry name (``"pixgrl"``, ``"dqn"``, …), stored in checkpoints.
    """

    name: str = "agent"

    def __init__(self, env_config: EnvConfig, device: torch.device | str = "cpu"):
        self.env_config = env_config
        self.device = torch.device(device)

    @abc.abstractmethod
    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        """Per-pixel actions for a batch of observations.

        Args:
            obs: ``(N, C, H, W)`` float32 in [0, 1], as PixGRL-v0 builds them (on any device).
            deterministic: True for the greedy (argmax) action, False to sample from the policy.

        Returns:
            ``(N, H, W)`` int64 action indices in ``[0, A)``, on ``obs.device``.
        """

    def trajectory(self, inputs: Tensor, extra: Tensor | None = None, deterministic: bool = True) -> Tensor:
        """Run one episode from ``inputs`` and return every state.

        Args:
            inputs: ``(N, 1, H, W)`` float32 in [0, 1], non-enhanced images (s_0).
            extra: ``(N, E, H, W)`` modalities for ``"extra:*"`` conditioning channels, if the config uses any.
            deterministic: Greedy (True) or sampled (False) actions.

        Returns:
            ``(T + 1, N, 1, H, W)``: s_0 … s_T, with T = ``env_config.episode_length``. No target is needed.
        """
        cfg = self.env_config
        image = as_image_batch(inputs, self.device)
        original = image
        factors = factor_table(cfg.factors, image.device)
        states = [image]
        with torch.no_grad():
            for t in range(cfg.episode_length):
                time = torch.full((image.shape[0],), t / cfg.episode_length, device=image.device)
                obs = observation(image, original, time, cfg.conditioning, extra)
                image = apply_actions(image, self.act(obs, deterministic=deterministic), factors)
                states.append(image)
        return torch.stack(states)

    def synthesize(self, inputs: Tensor | np.ndarray, extra: Tensor | None = None,
                   deterministic: bool = True) -> Tensor:
        """The synthesized enhanced images: the last state of :meth:`trajectory`, ``(N, 1, H, W)`` in [0, 1].

        ``inputs`` may also be a numpy array ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``.
        """
        return self.trajectory(inputs, extra, deterministic)[-1]

    # Checkpointing: agents with parameters override these (see agents.checkpoint).
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no parameters but the checkpoint holds {sorted(state)}")


@runtime_checkable
class Trainer(Protocol):
    """The contract of a trainer module (``agents.a2c``, ``baselines.dqn``, …): what the CLI and the evaluation
    call. A module satisfies it by defining these three names (``isinstance(module, Trainer)`` checks them).

    Attributes:
        Config: The hyper-parameter dataclass, with ``Config.preset(name, **overrides)`` and ``Config.PRESETS``.
    """

    Config: type

    def train(self, config: Any, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> Agent:
        """Train, write ``run_dir/checkpoint.pt``, ``run_dir/config.json`` and TensorBoard logs; return the agent."""

    def load(self, checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> Agent:
        """Rebuild the agent from a loaded checkpoint (:func:`agents.checkpoint.load_checkpoint`)."""


def as_image_batch(x: Tensor | np.ndarray, device: torch.device) -> Tensor:
    """``(N, 1, H, W)`` float32 on ``device`` from ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` arrays/tensors."""
    t = torch.as_tensor(x, dtype=torch.float32, device=device)
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4 or t.shape[1] != 1:
        raise ValueError(f"inputs must be (H, W), (N, H, W) or (N, 1, H, W), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise ValueError("inputs must be finite and lie in [0, 1] (normalise them as the dataset does)")
    return t
