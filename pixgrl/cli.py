"""The ``pixgrl`` command line: demo, data, training, evaluation, ablations, synthesis and benchmarks.

    pixgrl demo                                   # train the quick preset on the phantom, compare with identity
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
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from agents.cli import parse_overrides  # KEY=VALUE options: JSON values where they parse, strings otherwise
from pixgrl_env.config import ENV_PRESETS, EnvConfig


def env_config_from_args(preset: str, overrides: list[str] | None, base: EnvConfig | None = None) -> EnvConfig:
    """The EnvConfig of ``--env-preset`` (or ``base``) with ``--env`` overrides."""
    values = parse_overrides(overrides, "--env")
    for key in ("factors", "conditioning"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    try:
        return base.replace(**values) if base is not None else EnvConfig.preset(preset, **values)
    except TypeError as exc:
        raise SystemExit(f"pixgrl: bad --env override: {exc}") from None


def _cmd_train(args: argparse.Namespace) -> None:
    from pixgrl.registry import agent_module

    module = agent_module(args.agent)
    if args.list_config:
        cfg = module.Config.preset(args.preset)
        for f in dataclasses.fields(cfg):
            print(f"{f.name} = {getattr(cfg, f.name)!r}")
        return
    try:
        config = module.Config.preset(args.preset, **parse_overrides(args.set, "--set"))
    except TypeError as exc:
        raise SystemExit(f"pixgrl: bad --set override for agent {args.agent!r}: {exc}") from None
    base = getattr(module, "env_config_for", None)  # the env a preset is meant for (e.g. quick: 64×64 crops)
    implied = base(args.preset) if base is not None and not args.env_preset_given else None
    env_config = env_config_from_args(args.env_preset, args.env, implied)
    if args.agent in ("unet", "pix2pix") and hasattr(config, "model"):
        config = dataclasses.replace(config, model=args.agent)
    module.train(config, env_config, Path(args.run_dir), resume=args.resume)


def _cmd_demo(args: argparse.Namespace) -> None:
    from pixgrl.demo import run_demo

    run_demo(Path(args.out), minutes=args.minutes, seed=args.seed)


def _cmd_export(args: argparse.Namespace) -> None:
    from pixgrl_env.data import make_dataset
    from pixgrl_env.data.nifti import write_nifti_folder

    ds = make_dataset("phantom", **parse_overrides(args.set, "--set"))
    patients = sorted({pid for pid, _ in ds.item_index()})[: args.n_patients]
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
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train the quick preset on the phantom and compare it with the identity")
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
    p.add_argument("--run-dir", default="runs/pixgrl", help="checkpoint, config.json and TensorBoard logs go here")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
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

    p = sub.add_parser("benchmark", help="run benchmarks/run_all.py (from a source checkout)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_benchmark)

    for module in ("pixgrl.evaluation", "pixgrl.ablations", "pixgrl.synthesis"):
        try:
            __import__(module, fromlist=["register_cli"]).register_cli(sub)
        except ImportError as exc:  # pragma: no cover - only while a module is missing from a partial install
            print(f"pixgrl: {module} unavailable ({exc})", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        args.env_preset_given = args.env_preset is not None
        args.env_preset = args.env_preset or "default"
    try:
        status = args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:  # bad input: a message, not a traceback
        parser.exit(2, f"pixgrl {args.command}: error: {exc}\n")
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
