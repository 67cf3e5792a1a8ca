"""Agents by name: how the CLI and the evaluation find a trainer and load a checkpoint.

Every agent module (``agents.a2c``, ``baselines.dqn``, …) defines:

- ``Config``: a dataclass of its hyper-parameters (with a ``preset(name, **overrides)`` classmethod);
- ``train(config, env_config, run_dir, *, resume=False) -> Agent``: trains, writes ``run_dir/checkpoint.pt``,
  TensorBoard logs and ``run_dir/config.json``, and returns the trained agent;
- ``load(checkpoint: dict, device) -> Agent``: rebuilds the agent from a loaded checkpoint.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import torch

from agents.base import Agent
from agents.checkpoint import load_checkpoint

#: Registry name → module. ``identity`` and ``oracle`` need no training.
AGENTS: dict[str, str] = {
    "pixgrl": "agents.a2c",
    "dqn": "baselines.dqn",
    "reinforce": "baselines.reinforce",
    "sb3": "baselines.sb3",
    "unet": "baselines.supervised",
    "pix2pix": "baselines.supervised",
    "identity": "baselines.reference",
    "oracle": "baselines.reference",
}


def agent_module(name: str) -> ModuleType:
    """The module implementing agent ``name``."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; expected one of {sorted(AGENTS)}")
    return importlib.import_module(AGENTS[name])


def load_agent(path: str | Path, device: str | torch.device = "cpu") -> Agent:
    """Load any registered agent from its checkpoint (``weights_only``: no pickle)."""
    ckpt = load_checkpoint(path, map_location=device)
    return agent_module(ckpt["agent"]).load(ckpt, torch.device(device))
