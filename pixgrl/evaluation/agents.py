"""Agents of an evaluation: from specs (checkpoints, reference agents, entry points) to named Agent objects.

Each agent is an :class:`~agents.base.Agent` object (``{"name": agent}``) or a spec string:

- a checkpoint file, or a run folder holding ``checkpoint.pt`` (any registered agent, loaded without pickle);
- ``"identity"`` / ``"oracle"``: the reference agents of :mod:`baselines.reference`, built without a checkpoint
  (:data:`BUILTIN_AGENTS`);
- ``"module:callable"``: an entry point that returns an Agent; it is called with ``device=`` and ``env_config=``
  where its signature accepts them (the paper's :class:`~pixgrl_env.config.EnvConfig` when it requires one and none
  is known).

Prefix a spec with ``label=`` to name it (``"ours=runs/a/checkpoint.pt"``); otherwise a checkpoint is named by its
agent (``pixgrl``; ``pixgrl@<run folder>`` when two share a name). An agent acts in the task of its own
``env_config`` (action factors, episode length, conditioning channels), which a checkpoint stores.

What each agent was trained on (:attr:`ResolvedAgent.trained_on`, the env config whose split names its training
patients) is known for checkpoints, and for Agent objects and entry points whose ``env_config`` is their own (a split
other than ``"all"``, a named dataset, and for an entry point not the config it was handed). Reference agents learn
nothing and have no training split.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from pixgrl.evaluation.provenance import checkpoint_budget, object_budget
from pixgrl_env.config import EnvConfig
from pixgrl_env.tasks import task_of

#: Agents built without a checkpoint (by :mod:`baselines.reference`).
BUILTIN_AGENTS: tuple[str, ...] = ("identity", "oracle")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_LABEL = re.compile(r"^[A-Za-z0-9_][\w.+\- ]*$")


@dataclasses.dataclass
class ResolvedAgent:
    """One agent of an evaluation.

    Attributes:
        name: Its label in tables and files.
        agent: The :class:`~agents.base.Agent`.
        spec: What the user passed (a spec string, or ``"<object>"``).
        checkpoint: The checkpoint file, if it came from one.
        config: The agent's resolved hyper-parameters (from the checkpoint), if known.
        trained_on: The env config it was trained with (its dataset and patient-level split), if known; None for
            reference agents and agents whose training data is unknown.
        budget: Its training budget ``{"env_steps", "wall_time_s", "device", "source"}``
            (:func:`~pixgrl.evaluation.provenance.checkpoint_budget`); None for reference agents.
        phantom_version: The phantom generator version it was trained on, where its checkpoint records one.
    """

    name: str
    agent: Any
    spec: str
    checkpoint: str | None = None
    config: dict[str, Any] | None = None
    trained_on: EnvConfig | None = None
    budget: dict[str, Any] | None = None
    phantom_version: str | None = None

    @property
    def is_reference(self) -> bool:
        """Whether the agent is a reference (identity or oracle): nothing learned, no training data, no budget."""
        return is_reference_agent(self.agent)

    @property
    def needs_target(self) -> bool:
        """Whether the agent needs the target image (the oracle: a ceiling, not a synthesis method)."""
        return bool(getattr(self.agent, "needs_target", False))

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for ``results.json``: spec, registry name, class, checkpoint, configs, task id,
        training budget, training split and phantom version."""
        cfg = getattr(self.agent, "env_config", None)
        trained = self.trained_on
        return {
            "spec": self.spec, "agent": getattr(self.agent, "name", type(self.agent).__name__),
            "class": f"{type(self.agent).__module__}.{type(self.agent).__qualname__}",
            "checkpoint": self.checkpoint, "needs_target": self.needs_target, "reference": self.is_reference,
            "task": task_of(cfg) if isinstance(cfg, EnvConfig) else None,
            "budget": self.budget,
            "training_split": None if trained is None else {
                "dataset": trained.dataset, "dataset_kwargs": dict(trained.dataset_kwargs), "split": trained.split,
                "fold": trained.fold, "n_folds": trained.n_folds, "split_seed": trained.split_seed},
            "phantom_version": self.phantom_version,
            "env_config": cfg.to_dict() if hasattr(cfg, "to_dict") else None, "config": self.config,
        }


def build_reference_agent(name: str, env_config: EnvConfig | None = None, device: Any = "cpu") -> Any:
    """The ``"identity"`` or ``"oracle"`` agent of :mod:`baselines.reference`, built without a checkpoint.

    Args:
        name: ``"identity"`` or ``"oracle"``.
        env_config: The task (action factors, episode length); default :class:`EnvConfig` (the paper's).
        device: Torch device.
    """
    if name not in BUILTIN_AGENTS:
        raise ValueError(f"unknown reference agent {name!r}; expected one of {BUILTIN_AGENTS}")
    try:
        ref = importlib.import_module("baselines.reference")
    except ImportError as exc:
        raise ImportError(f"agent {name!r} needs baselines.reference, which cannot be imported ({exc})") from exc
    return ref.build(name, env_config if env_config is not None else EnvConfig(), device)


def is_agent(obj: Any) -> bool:
    """Whether ``obj`` acts like an :class:`~agents.base.Agent`: it has ``trajectory()`` and ``env_config``."""
    return callable(getattr(obj, "trajectory", None)) and hasattr(obj, "env_config")


def is_reference_agent(agent: Any) -> bool:
    """Whether ``agent`` is one of :mod:`baselines.reference`'s agents (identity, oracle), which learn nothing."""
    try:
        from baselines.reference import IdentityAgent, OracleAgent
    except ImportError:
        return False
    return isinstance(agent, (IdentityAgent, OracleAgent))


def own_training_config(agent: Any, handed: EnvConfig | None = None) -> EnvConfig | None:
    """The env config ``agent`` (an Agent object) says it was trained with, or None when that is unknown.

    Unknown: a reference agent, an ``env_config`` that is not an :class:`EnvConfig`, whose split is ``"all"`` or
    whose dataset is ``"custom"`` (an object, not reproducible by name), or that equals ``handed`` (the config an
    entry point was given: then it says nothing about the agent's training).
    """
    cfg = getattr(agent, "env_config", None)
    if is_reference_agent(agent) or not isinstance(cfg, EnvConfig):
        return None
    if cfg.split == "all" or cfg.dataset == "custom" or (handed is not None and cfg == handed):
        return None
    return cfg


def _call_entry_point(spec: str, device: torch.device, env_config: EnvConfig | None) -> tuple[Any, EnvConfig | None]:
    """Call a ``module:callable`` spec; return the object and the env config it was handed (or None)."""
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"agent spec {spec!r}: cannot import module {module_name!r} ({exc})") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"agent spec {spec!r}: {module_name} has no callable {attr!r}")
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs: dict[str, Any] = {}
    if "device" in params:
        kwargs["device"] = device
    if "env_config" in params:
        if env_config is not None:
            kwargs["env_config"] = env_config
        elif params["env_config"].default is inspect.Parameter.empty:
            kwargs["env_config"] = EnvConfig()
    return fn(**kwargs), kwargs.get("env_config")


def split_label(spec: str) -> tuple[str | None, str]:
    """A spec's ``label=`` prefix and body: ``"ours=runs/a/checkpoint.pt"`` → ``("ours", "runs/a/checkpoint.pt")``;
    no label → ``(None, spec)``."""
    if "=" in spec:
        label, rest = spec.split("=", 1)
        if label and _LABEL.match(label) and rest:
            return label.strip(), rest
    return None, spec


def resolve_agent(spec: str, device: Any = "cpu", env_config: EnvConfig | None = None) -> ResolvedAgent:
    """Turn one agent spec into a :class:`ResolvedAgent` (the spec forms are listed in the module docstring).

    Args:
        spec: ``[label=]`` + a checkpoint path, ``"identity"``, ``"oracle"`` or ``"module:callable"``.
        device: Torch device to load onto.
        env_config: The task for ``"identity"``/``"oracle"`` (and entry points that take one).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"agent spec must be a non-empty string, got {spec!r}")
    from agents.checkpoint import load_checkpoint
    from pixgrl.registry import agent_module

    dev = torch.device(device)
    label, body = split_label(spec.strip())
    path = Path(body).expanduser()
    if body in BUILTIN_AGENTS:
        agent = build_reference_agent(body, env_config, dev)
        return ResolvedAgent(label or body, agent, spec)
    if path.is_file():
        ckpt = load_checkpoint(path, map_location=dev)
        agent = agent_module(ckpt["agent"]).load(ckpt, dev)
        reference = is_reference_agent(agent)
        version = ckpt.get("phantom_version")
        return ResolvedAgent(label or ckpt["agent"], agent, spec, checkpoint=str(path), config=ckpt["config"],
                             trained_on=None if reference else agent.env_config,
                             budget=None if reference else checkpoint_budget(ckpt),
                             phantom_version=version if isinstance(version, str) else None)
    if path.is_dir() and (path / "checkpoint.pt").is_file():
        inner = resolve_agent(str(path / "checkpoint.pt"), dev, env_config)
        return dataclasses.replace(inner, name=label or inner.name, spec=spec)
    if _ENTRY_POINT.match(body):
        agent, handed = _call_entry_point(body, dev, env_config)
        if not is_agent(agent):
            raise TypeError(f"agent spec {spec!r} returned {type(agent).__name__}, not an Agent (an object with "
                            f"trajectory() and env_config; subclass agents.base.Agent)")
        return from_object(label or body.split(":")[1], agent, spec, handed)
    raise ValueError(f"agent spec {spec!r} is neither an existing checkpoint file (or run folder holding "
                     f"checkpoint.pt), nor one of {BUILTIN_AGENTS}, nor a 'module:callable' entry point")


def from_object(name: str, agent: Any, spec: str = "<object>", handed: EnvConfig | None = None) -> ResolvedAgent:
    """A :class:`ResolvedAgent` for an Agent object: its training config where it states one
    (:func:`own_training_config`), its ``budget`` attribute where it has one."""
    reference = is_reference_agent(agent)
    return ResolvedAgent(name, agent, spec, trained_on=own_training_config(agent, handed),
                         budget=None if reference else object_budget(agent))


def _unique(name: str, taken: set[str], hint: str | None) -> str:
    if name not in taken:
        return name
    if hint:
        candidate = f"{name}@{hint}"
        if candidate not in taken:
            return candidate
    k = 2
    while f"{name}-{k}" in taken:
        k += 1
    return f"{name}-{k}"


def resolve_agents(agents: Mapping[str, Any] | Sequence[Any] | str, device: Any = "cpu",
                   env_config: EnvConfig | None = None) -> list[ResolvedAgent]:
    """Resolve a dict ``{name: Agent or spec}`` or a list of specs/Agents into uniquely named agents, in order.

    Args:
        agents: See :func:`evaluate`; :class:`ResolvedAgent` items pass through as they are.
        device: Torch device for loaded agents (Agent objects keep their own device).
        env_config: The task for reference agents; default: the first checkpoint's env_config, else the paper's.
    """
    if isinstance(agents, (str, Path)):
        agents = [str(agents)]
    if isinstance(agents, Mapping):
        items: list[tuple[str | None, Any]] = [(str(k), v) for k, v in agents.items()]
    elif isinstance(agents, Sequence):
        items = [(None, v) for v in agents]
    else:
        raise TypeError(f"agents must be a dict {{name: Agent or spec}} or a list of specs, got "
                        f"{type(agents).__name__}")
    if not items:
        raise ValueError("agents is empty: give at least one agent (a checkpoint, 'identity', 'oracle', ...)")
    # Checkpoints and objects first, so reference agents can default to the first trained agent's task.
    resolved: list[ResolvedAgent | None] = [None] * len(items)
    deferred = []
    for i, (key, value) in enumerate(items):
        if isinstance(value, (str, Path)):
            label, body = split_label(str(value))
            if body.strip() in BUILTIN_AGENTS:
                deferred.append(i)
                continue
            ra = resolve_agent(str(value), device, env_config)
        elif isinstance(value, ResolvedAgent):
            ra = dataclasses.replace(value)
        elif is_agent(value):
            ra = from_object(key or getattr(value, "name", type(value).__name__), value)
        else:
            raise TypeError(f"agent {key or i!r} must be an Agent or a spec string, got {type(value).__name__}")
        if key is not None:
            ra.name = key
        resolved[i] = ra
    ref_cfg = env_config
    if ref_cfg is None:
        ref_cfg = next((r.agent.env_config for r in resolved if r is not None), None)
        if ref_cfg is not None:
            ref_cfg = ref_cfg.replace(crop=None)
    for i in deferred:
        key, value = items[i]
        ra = resolve_agent(str(value), device, ref_cfg)
        if key is not None:
            ra.name = key
        resolved[i] = ra
    out: list[ResolvedAgent] = []
    taken: set[str] = set()
    for ra in resolved:
        assert ra is not None
        hint = Path(ra.checkpoint).parent.name if ra.checkpoint else None
        ra.name = _unique(ra.name, taken, hint)
        taken.add(ra.name)
        out.append(ra)
    return out


__all__ = ["BUILTIN_AGENTS", "ResolvedAgent", "build_reference_agent", "from_object", "is_agent", "is_reference_agent",
           "own_training_config", "resolve_agent", "resolve_agents", "split_label"]
