"""The command line every trainer shares, CleanRL-style: ``python -m agents.a2c``, ``python -m baselines.dqn``…

    python -m MODULE [--preset NAME] [--FIELD VALUE …] [--env KEY=VALUE …] --run-dir DIR [--resume]

Every field of the trainer's ``Config`` is an option (``--total-steps 20000``, ``--net-kwargs '{"widths": [8]}'``)
whose help is the field's docstring (:meth:`~pixgrl_env.config_base.BaseConfig.field_docs`). ``--env KEY=VALUE``
overrides a field of the :class:`~pixgrl_env.config.EnvConfig` the preset is meant for (the module's
``env_config_for(preset)``, else the paper's); values are JSON where they parse (``--env crop=null``,
``--env factors=[0.9,1,1.1]``) and strings otherwise. ``--resume`` continues the run in ``run_dir``: its saved
configs are the defaults, options may change only resumable fields (a larger budget, another eval cadence or device:
:func:`agents.resume.resumed_configs`), and a folder without a checkpoint is an error. Errors in what was asked (a
bad value, an unavailable device, a refused resume) end with one line and exit status 2.

A trainer module (:class:`agents.base.Trainer`) gets this command line with::

    def main(argv=None):
        return agents.cli.main(sys.modules[__name__], argv)

    if __name__ == "__main__":
        main()
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from agents.resume import ResumeError, resumed_configs
from agents.training import check_env_device, resolve_device
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import constraint_of

__all__ = ["config_arguments", "main", "parse_overrides", "parse_value"]


def parse_value(text: str) -> Any:
    """``text`` as JSON when it parses (numbers, ``null``, lists, objects), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: Sequence[str] | None, flag: str = "--env") -> dict[str, Any]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}`` (values by :func:`parse_value`).

    Raises:
        ValueError: an item is not ``KEY=VALUE``; the message names ``flag`` and the item.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = parse_value(value)
    return out


def _parse_bool(text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def config_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add ``--FIELD VALUE`` for every field of the dataclass ``config_cls``: booleans take true/false, numbers and
    strings their type, everything else JSON. Unset options are absent from the parsed namespace."""
    hints = typing.get_type_hints(config_cls)
    docs = config_cls.field_docs() if hasattr(config_cls, "field_docs") else {}
    defaults = config_cls.field_defaults() if hasattr(config_cls, "field_defaults") else {}
    for f in dataclasses.fields(config_cls):
        kind = {bool: _parse_bool, int: int, float: float, str: str}.get(hints[f.name])
        choices = constraint_of(f).choices if kind is not None else None
        default = f" (default: {defaults[f.name]!r})" if f.name in defaults else ""
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind or json.loads, choices=choices,
                            default=argparse.SUPPRESS, metavar=None if choices else f.name.upper(),
                            help=(docs.get(f.name, "") + default).replace("%", "%%"))


def main(trainer: ModuleType, argv: Sequence[str] | None = None,
         default_preset: str | Callable[[], str] = "quick") -> Any:
    """Parse ``argv`` for ``trainer`` (a module with ``Config`` and ``train``), build the configs, train.

    Args:
        trainer: The trainer module.
        argv: The arguments (default: ``sys.argv[1:]``).
        default_preset: The preset without ``--preset`` (or with ``--preset auto``), or a function choosing it.

    Returns:
        What ``trainer.train`` returns (the trained agent).
    """
    config_cls = trainer.Config
    name = getattr(trainer.__spec__, "name", None) or trainer.__name__
    parser = argparse.ArgumentParser(prog=f"python -m {name}", description=(trainer.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--preset", default=None, choices=["auto", *sorted(config_cls.PRESETS)],
                        help="agent preset, with the env it is meant for (default / auto: "
                             f"{default_preset if isinstance(default_preset, str) else default_preset.__doc__})")
    parser.add_argument("--run-dir", required=True, help="folder of checkpoint.pt, config.json and tb/")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in run_dir from its checkpoint.pt, with its own configs; options may "
                             "change only the budget, the eval/checkpoint cadence, the device and threads")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="EnvConfig override (JSON values), e.g. --env crop=96 --env dataset=toy; fields: "
                             + ", ".join(f.name for f in dataclasses.fields(EnvConfig)))
    config_arguments(parser, config_cls)
    args = vars(parser.parse_args(argv))
    preset, run_dir, resume = args.pop("preset"), Path(args.pop("run_dir")), args.pop("resume")
    try:
        env_overrides = parse_overrides(args.pop("env"), "--env")
        if resume:
            if preset is not None:
                raise ValueError("--preset cannot be combined with --resume: a resumed run keeps its own configs "
                                 "(give only the options to change, e.g. a larger budget)")
            config, env_config = resumed_configs(config_cls, run_dir, args, env_overrides)
        else:
            if preset in (None, "auto"):
                preset = default_preset if isinstance(default_preset, str) else default_preset()
            config = config_cls.preset(preset, **args)
            env_for = getattr(trainer, "env_config_for", None)
            base = env_for(preset) if env_for is not None else EnvConfig.preset("paper")
            env_config = base.replace(**env_overrides)
        if hasattr(config, "device"):
            check_env_device(env_config, resolve_device(config.device))
    except (ValueError, TypeError, FileNotFoundError) as exc:  # a value, not the syntax: one line, no usage text
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    try:
        return trainer.train(config, env_config, run_dir, resume=resume)
    except ResumeError as exc:  # a saved state that does not fit: found only when the trainer restores it
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
