"""Resuming a run continues the run in its folder: what it keeps, what it may change, states that do not fit.

A run folder's ``checkpoint.pt`` holds the configs the run was started with, and those define the run:

- :func:`resumed_configs` (the command lines' ``--resume``) takes the saved configs as the defaults and applies the
  options given on the command line over them, so ``--resume --run-dir R`` alone continues exactly the run in ``R``;
- :func:`check_unchanged` (every resumed :class:`agents.run.Run`) refuses configs that differ from the saved ones in
  a field outside their class's ``RESUMABLE`` set (:class:`pixgrl_env.config_base.BaseConfig`): the task, the data
  (crop, dataset, split…), the network, the batch, the seed. The budget, the eval/checkpoint cadence, the device
  and thread counts may change;
- :func:`load_state` puts a saved state dict into a module and, when it does not fit (another network width or
  action set), names the mismatching parameters in one line instead of torch's size-mismatch traceback.

Every refusal is a :class:`ResumeError` (a ``ValueError``); a folder without a checkpoint is a ``FileNotFoundError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from agents.checkpoint import CHECKPOINT, load_checkpoint
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig

__all__ = ["ResumeError", "check_unchanged", "changed_fields", "load_state", "require_checkpoint",
           "resumable_fields", "resumed_configs"]

C = TypeVar("C")


class ResumeError(ValueError):
    """A run cannot be resumed as asked: an option changes its task or network, or a saved state does not fit."""


def resumable_fields(cls: type) -> frozenset[str]:
    """The fields of the config class ``cls`` a resumed run may change (its ``RESUMABLE``, else the base's)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return frozenset(getattr(cls, "RESUMABLE", BaseConfig.RESUMABLE)) & names


def changed_fields(saved: Mapping[str, Any], config: Any) -> dict[str, tuple[Any, Any]]:
    """The fields of ``config`` whose value differs from ``saved`` (a checkpoint's config dict): ``name → (saved
    value, new value)``. Both are normalised by the config's class first (JSON lists become tuples), and a field the
    saved dict lacks (added to the class since) counts as its default.

    Raises:
        ResumeError: ``saved`` does not make a config of ``config``'s class (a field was removed since).
    """
    cls = type(config)
    try:
        before = dataclasses.asdict(cls.from_dict(saved) if hasattr(cls, "from_dict") else cls(**saved))
    except (TypeError, ValueError) as exc:
        raise ResumeError(f"the saved config is not a valid {cls.__name__} any more: {exc}") from None
    now = dataclasses.asdict(config)
    return {name: (before[name], value) for name, value in now.items() if before[name] != value}


def require_checkpoint(run_dir: str | Path) -> Path:
    """``run_dir/checkpoint.pt``; a ``FileNotFoundError`` when there is none (resuming never starts a fresh run)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: {str(run_dir)!r} holds no {CHECKPOINT}; leave out --resume "
                                f"(resume=False) to start a new run there")
    return path


def check_unchanged(checkpoint: Mapping[str, Any], config: Any, env_config: EnvConfig, run_dir: str | Path) -> None:
    """Refuse ``config`` / ``env_config`` when they change a field of the ``checkpoint``'s configs that is not
    resumable (:func:`resumable_fields`).

    Raises:
        ResumeError: one line naming every refused field with its saved and new value, and what may change.
    """
    refused, allowed = [], set()
    for saved, new in ((checkpoint["env_config"], env_config), (checkpoint["config"], config)):
        if not dataclasses.is_dataclass(new):
            continue
        ok = resumable_fields(type(new))
        allowed |= ok
        refused += [f"{type(new).__name__}.{name} {old!r} → {value!r}"
                    for name, (old, value) in changed_fields(saved, new).items() if name not in ok]
    if refused:
        raise ResumeError(f"cannot resume the run in {str(run_dir)!r} with {', '.join(refused)}: that changes its "
                          f"task or network. A resumed run may change only {', '.join(sorted(allowed))}; start a new "
                          f"run in another folder for the rest")


def resumed_configs(config_cls: type[C], run_dir: str | Path, overrides: Mapping[str, Any] | None = None,
                    env_overrides: Mapping[str, Any] | None = None) -> tuple[C, EnvConfig]:
    """The configs of the run in ``run_dir`` (from its checkpoint) with ``overrides`` of resumable fields.

    Args:
        config_cls: The trainer's config class.
        run_dir: The run folder.
        overrides, env_overrides: Field values given on the command line (JSON-decoded), over the saved ones.

    Raises:
        FileNotFoundError: ``run_dir`` holds no checkpoint.
        ResumeError: an override changes a field that is not resumable (:func:`check_unchanged`).
        ValueError: an override names no field or has a bad value (the config's own message).
    """
    checkpoint = load_checkpoint(require_checkpoint(run_dir))
    try:
        config_cls.from_dict(checkpoint["config"])  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise ResumeError(f"cannot resume the run in {str(run_dir)!r} as {config_cls.__module__}: it is a "
                          f"{checkpoint['agent']!r} run, whose config does not fit ({exc})") from None
    config = config_cls.from_dict({**checkpoint["config"], **(overrides or {})})  # type: ignore[attr-defined]
    env_config = EnvConfig.from_dict({**checkpoint["env_config"], **(env_overrides or {})})
    check_unchanged(checkpoint, config, env_config, run_dir)
    return config, env_config


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if hasattr(value, "shape") else type(value).__name__


def load_state(obj: Any, state: Any, name: str, source: str | Path) -> None:
    """``obj.load_state_dict(state)``; when the saved state does not fit, a short :class:`ResumeError`.

    For a module the parameter and buffer shapes are compared first, so the message names each mismatch
    (``head.weight: saved (3, 8, 1, 1), here (5, 8, 1, 1)``), missing or unexpected key (the first four, and how
    many more).

    Args:
        obj: A module, optimiser, or anything with ``load_state_dict``.
        state: The saved state dict.
        name: The checkpoint key it came from (``"model"``, ``"optimizer"``…), for the message.
        source: The checkpoint file, for the message.
    """
    if isinstance(obj, nn.Module):
        here = obj.state_dict()
        problems = [f"{k}: saved {_shape(v)}, here {_shape(here[k])}" for k, v in state.items()
                    if k in here and _shape(v) != _shape(here[k])]
        problems += [f"{k}: not saved" for k in here if k not in state]
        problems += [f"{k}: saved but not in this network" for k in state if k not in here]
        if problems:
            more = f"; and {len(problems) - 4} more" if len(problems) > 4 else ""
            raise ResumeError(f"the saved {name!r} of {str(source)!r} does not fit this network ("
                              f"{'; '.join(problems[:4])}{more}): the run was started with another network or action "
                              f"set")
    try:
        obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResumeError(f"the saved {name!r} of {str(source)!r} does not fit: {first}") from None
