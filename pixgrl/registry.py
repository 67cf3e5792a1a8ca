"""Agents by name: how ``pixgrl train``, ``pixgrl evaluate`` and ``pixgrl ablate`` find a trainer and load a
checkpoint.

An agent is a *trainer module* (:class:`agents.base.Trainer`): a module with a ``Config`` dataclass, ``train`` and
``load``. The built-in ones are listed in :data:`BUILTIN_AGENTS`. Other packages add theirs in one of two ways:

- at run time: ``pixgrl.registry.register_agent("myagent", "my_package.my_agent")``;
- by installation: an entry point in the ``pixgrl.agents`` group, e.g. in the other package's ``setup.cfg``::

      [options.entry_points]
      pixgrl.agents =
          myagent = my_package.my_agent

Either way ``pixgrl train --agent myagent`` trains it, and its checkpoints (whose ``"agent"`` field is the
registry name) are loaded by :func:`load_agent` wherever the CLI or the evaluation meets them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import torch

from agents.base import Agent, Trainer
from agents.checkpoint import load_checkpoint

#: Entry-point group other packages use to register agents (name → module path).
ENTRY_POINT_GROUP = "pixgrl.agents"

#: The agents this distribution ships: registry name → module. ``identity`` and ``oracle`` need no training.
BUILTIN_AGENTS: dict[str, str] = {
    "pixgrl": "agents.a2c",
    "dqn": "baselines.dqn",
    "reinforce": "baselines.reinforce",
    "sb3": "baselines.sb3",
    "unet": "baselines.supervised",
    "pix2pix": "baselines.supervised",
    "identity": "baselines.reference",
    "oracle": "baselines.reference",
}

_registered: dict[str, str] = {}


def register_agent(name: str, module: str) -> None:
    """Make the trainer module ``module`` (an import path) available as agent ``name``.

    Raises:
        ValueError: ``name`` is empty or already names another module.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"agent name must be a non-empty identifier (letters, digits, '-', '_'), got {name!r}")
    current = registered_agents().get(name)
    if current is not None and current != module:
        raise ValueError(f"agent {name!r} is already registered as {current!r}; choose another name")
    _registered[name] = module


def registered_agents() -> dict[str, str]:
    """Every known agent: the built-in ones, then the ``pixgrl.agents`` entry points, then :func:`register_agent`."""
    found = dict(BUILTIN_AGENTS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    found.update(_registered)
    return found


def agent_module(name: str) -> Trainer:
    """The trainer module of agent ``name``, checked against the :class:`agents.base.Trainer` contract."""
    known = registered_agents()
    if name not in known:
        raise ValueError(f"unknown agent {name!r}; expected one of {sorted(known)} (or register it: "
                         f"pixgrl.registry.register_agent, or a {ENTRY_POINT_GROUP!r} entry point)")
    module: ModuleType = importlib.import_module(known[name])
    if not isinstance(module, Trainer):
        missing = [attr for attr in ("Config", "train", "load") if not hasattr(module, attr)]
        raise TypeError(f"agent {name!r}: module {known[name]!r} lacks {missing} (see agents.base.Trainer)")
    return module


def load_agent(path: str | Path, device: str | torch.device = "cpu") -> Agent:
    """Load any registered agent from its checkpoint (``weights_only``: no pickle)."""
    ckpt = load_checkpoint(path, map_location=device)
    return agent_module(ckpt["agent"]).load(ckpt, torch.device(device))
