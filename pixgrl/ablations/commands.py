"""``pixgrl ablate``: the argparse wiring of :func:`~pixgrl.ablations.run_ablation` (used by :mod:`pixgrl.cli`)."""

from __future__ import annotations

import sys
from typing import Any

from pixgrl.ablations.experiments import ABLATIONS, get_ablation, list_ablations
from pixgrl.ablations.runner import base_env_config, run_ablation
from pixgrl_env.config import EnvConfig
from pixgrl_env.tasks import TASKS, with_task


def _json_dict(text: str) -> dict[str, Any]:
    from pixgrl.evaluation import parse_json_object as parse

    return parse(text)


def register_cli(subparsers: Any) -> None:
    """Add ``pixgrl ablate`` to an argparse ``subparsers``."""
    p = subparsers.add_parser(
        "ablate", help="run one of the paper's ablations: train each variant, evaluate, one combined table",
        description="Train every variant of an ablation at a budget, evaluate it on the held-out fold, and write "
                    "ablation.md / ablation.json. Use --list to see the ablations and their variants.")
    p.add_argument("name", nargs="?", choices=sorted(ABLATIONS), help="the ablation")
    p.add_argument("--list", action="store_true", help="list the ablations and their variants, then exit")
    p.add_argument("--budget", type=int, help="training budget per variant (the Config's total_timesteps)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--variants", default=None, help="comma-separated subset of variant names")
    p.add_argument("--agent", default=None, help="registry name of the agent to train (default pixgrl)")
    p.add_argument("--preset", default="quick", help="agent Config preset (default quick; 'none' for defaults)")
    p.add_argument("--config-overrides", type=_json_dict, default=None, help="agent Config overrides as JSON")
    p.add_argument("--env-preset", default=None,
                   help="base EnvConfig preset (default: the env the agent preset is meant for, else paper)")
    p.add_argument("--env-overrides", type=_json_dict, default=None, help="EnvConfig overrides as JSON")
    p.add_argument("--task", default=None, choices=sorted(TASKS),
                   help="a registered task id as the base of every variant (its actions, episode length, reward)")
    p.add_argument("--dataset", default=None, help="default: the base env config's (phantom)")
    p.add_argument("--dataset-kwargs", type=_json_dict, default=None)
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--max-pairs", type=int, default=None, help="evaluate on at most N test pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-oracle", action="store_true", help="do not evaluate each variant's oracle")
    p.add_argument("--no-resume", action="store_true", help="retrain variants that have a checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cli_ablate)


def _cli_ablate(args: Any) -> int:
    if args.list:
        print(list_ablations())
        return 0
    missing = [flag for flag, value in (("NAME", args.name), ("--budget", args.budget), ("--out", args.out))
               if value is None]
    if missing:
        print(f"pixgrl ablate: missing {', '.join(missing)} (see --help, or --list)", file=sys.stderr)
        return 2
    agent = args.agent or get_ablation(args.name).agent
    preset = None if args.preset == "none" else args.preset
    base = EnvConfig.preset(args.env_preset) if args.env_preset else base_env_config(agent, preset)
    if args.task is not None:  # the task's actions, horizon and reward; the base's data, crop and observation
        base = with_task(base, args.task)
    env = base.replace(**(args.env_overrides or {}))
    result = run_ablation(
        args.name, args.budget, args.out,
        variants=[v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None,
        agent=agent, preset=preset,
        config_overrides=args.config_overrides, env_config=env, dataset=args.dataset,
        dataset_kwargs=args.dataset_kwargs, fold=args.fold, n_folds=args.n_folds, max_pairs=args.max_pairs,
        device=args.device, seed=args.seed, with_oracle=not args.no_oracle, resume=not args.no_resume,
        progress=not args.quiet)
    print(result["table"])
    return 0


__all__ = ["register_cli"]
