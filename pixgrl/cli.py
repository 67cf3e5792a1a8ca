"""The ``pixgrl`` command line: demo, data, training, evaluation, ablations, synthesis and benchmarks.

    pixgrl demo                                   # train the agent on both tasks, compare with identity
    pixgrl train --agent pixgrl --preset quick --run-dir runs/quick
    pixgrl train --agent dqn --set lr=3e-4 --env crop=64 --run-dir runs/dqn
    pixgrl train --agent pixgrl --run-dir runs/quick --resume
    torchrun --nproc_per_node=4 -m pixgrl.cli train --agent pixgrl --preset gpu --run-dir runs/gpu
    pixgrl data export-nifti --out phantom_nifti --n-patients 10
    pixgrl data preview --out phantom.png
    pixgrl evaluate runs/quick/checkpoint.pt identity oracle --out eval/
    pixgrl synthesize runs/quick/checkpoint.pt --input pre.nii.gz --output synth.nii.gz

``--set KEY=VALUE`` overrides a field of the agent's ``Config`` and ``--env KEY=VALUE`` one of
:class:`~pixgrl_env.config.EnvConfig`; values are parsed as JSON when they can be (``--env factors=[0.9,1,1.1]``,
``--env dataset_kwargs='{"size": 128}'``) and taken as strings otherwise. ``pixgrl train --agent NAME
--list-config`` prints the fields with their defaults.

Errors in what was asked (an unknown field or a bad value, an unknown device, an output path that cannot be written,
corrupt data, an existing output) end the command with one line on stderr, ``pixgrl COMMAND: error: ...``, and exit
status 2, before any long computation where they can be checked first (the output paths and ``--device``);
``pixgrl --debug ...`` or ``PIXGRL_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from agents.cli import parse_overrides  # KEY=VALUE options: JSON values where they parse, strings otherwise
from pixgrl.outputs import check_output
from pixgrl_env.config import ENV_PRESETS, EnvConfig
from pixgrl_env.tasks import TASKS

T = TypeVar("T")

#: The output path each command writes, checked before the command runs: ``command → (argument, flag, kind)``.
OUTPUTS: dict[str, tuple[str, str, str]] = {
    "demo": ("out", "--out", "folder"),
    "train": ("run_dir", "--run-dir", "folder"),
    "data export-nifti": ("out", "--out", "folder"),
    "data preview": ("out", "--out", "file"),
    "evaluate": ("out", "--out", "folder"),
    "ablate": ("out", "--out", "folder"),
    "synthesize": ("output", "--output", "file"),
    "curves": ("out", "--out", "file"),
}
#: Exceptions that report a problem with the input or the environment, shown as one line (no traceback).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


def check_device(device: Any, flag: str = "--device") -> None:
    """Raise ValueError naming ``flag`` unless ``device`` is ``"auto"`` or a device name torch knows."""
    if device == "auto":
        return
    import torch

    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{flag}: {device!r} is not a device; expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from None


def config_from_overrides(make: Callable[..., T], fields: Iterable[str], items: list[str] | None, flag: str,
                          hint: str) -> T:
    """``make(**overrides)`` for ``flag KEY=VALUE`` items, with errors that name the item at fault.

    Args:
        make: Builds the config from keyword overrides (a preset with overrides, ``base.replace``…).
        fields: The field names ``make`` accepts.
        items: The ``KEY=VALUE`` strings as given.
        flag: The option, for messages (``"--set"``, ``"--env"``).
        hint: Where to find the fields, appended to an unknown-field message.

    Raises:
        ValueError: ``--set KEY=VALUE: ...`` for an unknown field (with a close match when there is one) or a value
            the config refuses (its own message: the field, the value and what is allowed).
    """
    values = parse_overrides(items, flag)
    raw = {item.partition("=")[0]: item for item in items or []}
    fields = sorted(fields)
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, 1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{flag} {raw[key]}: there is no field {key!r}{guess}; {hint}")
    if isinstance(values.get("device"), str):
        check_device(values["device"], f"{flag} {raw['device']}")
    try:
        return make(**values)
    except (ValueError, TypeError) as exc:
        for key in values:  # the override at fault, when one alone is
            try:
                make(**{key: values[key]})
            except (ValueError, TypeError) as alone:
                raise ValueError(f"{flag} {raw[key]}: {alone}") from None
        raise ValueError(f"{flag} {' '.join(raw.values())}: {exc}") from None


def env_config_from_args(preset: str, overrides: list[str] | None, base: EnvConfig | None = None) -> EnvConfig:
    """The EnvConfig of ``--env-preset`` (or ``base``) with ``--env`` overrides (errors name the item at fault)."""

    def make(**values: Any) -> EnvConfig:
        for key in ("factors", "conditioning"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return base.replace(**values) if base is not None else EnvConfig.preset(preset, **values)

    fields = [f.name for f in dataclasses.fields(EnvConfig)]
    return config_from_overrides(make, fields, overrides, "--env", f"the EnvConfig fields are {fields}")


def _cmd_train(args: argparse.Namespace) -> None:
    from pixgrl.registry import agent_module

    module = agent_module(args.agent)
    if args.list_config:
        cfg = module.Config.preset(args.preset)
        for f in dataclasses.fields(cfg):
            print(f"{f.name} = {getattr(cfg, f.name)!r}")
        return
    if args.resume:  # the run in --run-dir continues with its own configs; --set/--env change resumable fields only
        from agents.resume import resumed_configs

        if args.env_preset_given or getattr(args, "task", None) is not None:
            raise ValueError("--env-preset and --task cannot be combined with --resume: a resumed run keeps its own "
                             "env config")
        model = {"model": args.agent} if args.agent in ("unet", "pix2pix") else {}
        config, env_config = resumed_configs(module.Config, Path(args.run_dir),
                                             {**parse_overrides(args.set, "--set"), **model},
                                             parse_overrides(args.env, "--env"))
        module.train(config, env_config, Path(args.run_dir), resume=True)
        return
    config = config_from_overrides(
        lambda **values: module.Config.preset(args.preset, **values), [f.name for f in dataclasses.fields(
            module.Config)], args.set, "--set",
        f"`pixgrl train --agent {args.agent} --list-config` lists the fields of agent {args.agent!r}")
    base = getattr(module, "env_config_for", None)  # the env a preset is meant for (e.g. quick: 64×64 crops)
    implied = base(args.preset, task=args.task) if base is not None and not args.env_preset_given else None
    if implied is None and args.task is not None:  # --env-preset's data settings, the task's actions and reward
        from pixgrl_env.tasks import with_task

        implied = with_task(EnvConfig.preset(args.env_preset), args.task)
    env_config = env_config_from_args(args.env_preset, args.env, implied)
    if args.agent in ("unet", "pix2pix") and hasattr(config, "model"):
        config = dataclasses.replace(config, model=args.agent)
    module.train(config, env_config, Path(args.run_dir), resume=args.resume)


def _cmd_curves(args: argparse.Namespace) -> None:
    from pixgrl.curves import expand_runs, plot_learning_curves

    groups = {}
    for item in args.runs:
        label, sep, pattern = item.partition("=")
        groups[label if sep else item] = expand_runs([pattern if sep else item])
    references = {k: float(v) for k, v in parse_overrides(args.reference, "--reference").items()}
    print(plot_learning_curves(groups, args.out, tag=args.tag, references=references, title=args.title))


def _cmd_demo(args: argparse.Namespace) -> None:
    from pixgrl.demo import run_demo

    run_demo(Path(args.out), minutes=args.minutes, seed=args.seed)


def _cmd_export(args: argparse.Namespace) -> None:
    from pixgrl_env.data import make_dataset
    from pixgrl_env.data.nifti import write_nifti_folder

    ds = make_dataset("phantom", **parse_overrides(args.set, "--set"))
    patients = sorted({pid for pid, _ in ds.item_index()})[: args.n_patients]
    existing = [pid for pid in patients if (Path(args.out) / pid).exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"--out {args.out!r} already holds the patient folders {existing}; pass --overwrite to "
                              f"replace them")
    written = write_nifti_folder(ds, Path(args.out), patients=patients, overwrite=args.overwrite)
    print(f"wrote {len(written)} patient folders to {args.out}")


def _cmd_preview(args: argparse.Namespace) -> None:
    from pixgrl.figures import dataset_preview

    path = dataset_preview(args.dataset, parse_overrides(args.set, "--set"), Path(args.out), n=args.n)
    print(f"wrote {path}")


def _cmd_benchmark(args: argparse.Namespace) -> None:
    import runpy

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "run_all.py"
    if not script.is_file():
        raise SystemExit("pixgrl: the benchmarks are not installed with the package; run them from a source checkout "
                         "with `python benchmarks/run_all.py`")
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixgrl", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also PIXGRL_DEBUG=1) instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train the Pix-GRL agent on PixGRLReach-v0 and PixGRL-v0 (its reach and "
                                    "paper-task presets; phantom, ~20 min on 2 CPU cores); compare with the identity "
                                    "and the oracle")
    p.add_argument("--out", default="pixgrl-demo", help="output folder (table, PNG, checkpoint)")
    p.add_argument("--minutes", type=float, default=None, help="override the training budget in minutes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", help="train an agent (see pixgrl.registry.AGENTS)")
    p.add_argument("--agent", default="pixgrl", help="agent name: pixgrl, dqn, reinforce, sb3, unet, pix2pix")
    p.add_argument("--preset", default="quick", help="the agent's Config preset (e.g. quick, paper, gpu)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override an agent Config field")
    p.add_argument("--env-preset", default=None, choices=sorted(ENV_PRESETS),
                   help="start from this EnvConfig preset instead of the one the agent preset implies")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="override an EnvConfig field")
    p.add_argument("--task", default=None, choices=sorted(TASKS),
                   help="a registered task id (actions, episode length, reward); default: the preset's own "
                        "(PixGRL-v0, the paper's, except for --preset reach: PixGRLReach-v0)")
    p.add_argument("--run-dir", default="runs/pixgrl", help="checkpoint, config.json and TensorBoard logs go here")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in RUN_DIR from its checkpoint.pt with its own configs (--preset is not "
                        "used; --set/--env may change only the budget, eval/checkpoint cadence, device, threads)")
    p.add_argument("--list-config", action="store_true", help="print the agent Config fields and exit")
    p.set_defaults(func=_cmd_train)

    data = sub.add_parser("data", help="data tools").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("export-nifti", help="write phantom patients as a NIfTI folder (see the README layout)")
    p.add_argument("--out", required=True)
    p.add_argument("--n-patients", type=int, default=5)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="PhantomDataset argument, e.g. size=128")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_export)
    p = data.add_parser("preview", help="PNG montage of input | target | masks for a few pairs")
    p.add_argument("--dataset", default="phantom")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="dataset argument, e.g. root=my_data")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--out", default="preview.png")
    p.set_defaults(func=_cmd_preview)

    p = sub.add_parser("curves", help="learning curves (a logged scalar vs image-steps) of runs as a PNG")
    p.add_argument("runs", nargs="+", metavar="[LABEL=]RUNS",
                   help="run folders, shell patterns allowed: the runs of one label (seeds) are averaged")
    p.add_argument("--tag", default="eval/ssim", help="the TensorBoard scalar to plot")
    p.add_argument("--reference", action="append", metavar="LABEL=VALUE", help="a horizontal line, e.g. oracle=0.96")
    p.add_argument("--title", default=None)
    p.add_argument("--out", default="curves.png")
    p.set_defaults(func=_cmd_curves)

    p = sub.add_parser("benchmark", help="run benchmarks/run_all.py (from a source checkout)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_benchmark)

    for module in ("pixgrl.evaluation", "pixgrl.ablations", "pixgrl.synthesis"):
        try:
            __import__(module, fromlist=["register_cli"]).register_cli(sub)
        except ImportError as exc:  # pragma: no cover - only while a module is missing from a partial install
            print(f"pixgrl: {module} unavailable ({exc})", file=sys.stderr)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """The command as typed: ``"train"``, ``"data preview"``…"""
    return f"{args.command} {args.data_command}" if args.command == "data" else args.command


def check_arguments(args: argparse.Namespace) -> None:
    """Checks that need no computation, run before the command: ``--device``, and that its output can be written."""
    if isinstance(getattr(args, "device", None), str):
        check_device(args.device)
    if getattr(args, "list_config", False) or getattr(args, "list", False):
        return  # listing only: nothing is written
    if command_name(args) in OUTPUTS:
        attr, flag, kind = OUTPUTS[command_name(args)]
        if getattr(args, attr, None) is not None:
            check_output(getattr(args, attr), flag, kind)


def main(argv: list[str] | None = None) -> None:
    """Run the ``pixgrl`` command line; input errors end with one line on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        args.env_preset_given = args.env_preset is not None
        args.env_preset = args.env_preset or "default"
    debug = args.debug or os.environ.get("PIXGRL_DEBUG", "") not in ("", "0")
    try:
        check_arguments(args)
        status = args.func(args)
    except USER_ERRORS as exc:  # bad input or an unusable path: a message, not a traceback
        if debug:
            raise
        parser.exit(2, f"pixgrl {command_name(args)}: error: {exc}\n")
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
