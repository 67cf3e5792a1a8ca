"""``pixgrl evaluate``: the argparse wiring of :func:`~pixgrl.evaluation.evaluate`,
:func:`~pixgrl.evaluation.cross_validate` and :func:`~pixgrl.evaluation.leaderboard` (used by :mod:`pixgrl.cli`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pixgrl.evaluation.crossval import cross_validate
from pixgrl.evaluation.ranking import LOWER_IS_BETTER, leaderboard
from pixgrl.evaluation.run import evaluate
from pixgrl_env.data.base import SPLITS
from pixgrl_env.tasks import TASKS


def parse_json_object(text: str) -> dict[str, Any]:
    """An argparse ``type=``: a JSON object (``'{"size": 128}'``) as a dict; anything else is an argument error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"size\": 128}}', got {text!r}")
    return value


def register_cli(subparsers: Any) -> None:
    """Add ``pixgrl evaluate`` to an argparse ``subparsers``."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate agents on a data split: results.json, report.md (Tables 1-2), figures",
        description="Evaluate agents on a patient-level split and write results.json, report.md and PNG figures. "
                    "AGENT is a checkpoint file or run folder, 'identity', 'oracle' or 'module:callable', "
                    "optionally prefixed with 'label='. With --cv K, every AGENT but identity/oracle names one "
                    "checkpoint per fold through '{fold}' (e.g. 'runs/cv/fold{fold}/checkpoint.pt'). Agents are "
                    "refused on patients they were trained on (see --allow-train-patients).")
    p.add_argument("agents", nargs="+", metavar="AGENT", help="agents to evaluate")
    p.add_argument("--dataset", default=None, help="phantom | nifti | breast_dce | toy (default: the first "
                                                    "checkpoint's dataset, else phantom)")
    p.add_argument("--dataset-kwargs", type=parse_json_object, default=None,
                   help='dataset arguments as JSON, e.g. \'{"size": 128}\' or \'{"root": "data/"}\'')
    p.add_argument("--task", default=None, choices=sorted(TASKS),
                   help="the registered task evaluated: reference agents are built for it and every trained agent "
                        "must have been trained on it (default: the trained agents' common task)")
    p.add_argument("--split", default="test", choices=SPLITS,
                   help="patient-level split: test (fold --fold), val (the next fold), train, trainval or all")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--max-pairs", type=int, default=None, help="evaluate only the first N pairs of the split")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--leaderboard", action="store_true", help="also write leaderboard.md ranked by --metric")
    p.add_argument("--metric", default="ssim", help="metric for --leaderboard (default ssim)")
    p.add_argument("--cv", type=int, default=None, metavar="K",
                   help="K-fold cross-validation over patient folds: each AGENT names one checkpoint per fold with "
                        "'{fold}', trained with that fold")
    p.add_argument("--allow-train-patients", action="store_true",
                   help="evaluate agents on patients they were trained on instead of refusing (results.json and "
                        "the report's header then say so)")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--classifier", default="fit", help="'fit' (default), a classifier JSON, or 'none'")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cli_evaluate)


def _cli_evaluate(args: Any) -> int:
    if args.cv is not None and (args.fold != 0 or args.split != "test"):
        raise SystemExit(f"pixgrl evaluate: --cv {args.cv} evaluates the test split of every fold; drop --fold "
                         f"{args.fold} / --split {args.split}")
    kwargs = dict(dataset=args.dataset, dataset_kwargs=args.dataset_kwargs, device=args.device,
                  max_pairs=args.max_pairs, batch_size=args.batch_size, figures=not args.no_figures,
                  classifier=None if args.classifier == "none" else args.classifier, task=args.task,
                  allow_train_patients=args.allow_train_patients)
    out = Path(args.out)
    if args.cv is not None:
        cv = cross_validate(args.agents, args.cv, out_dir=out, split_seed=args.split_seed,
                            progress=not args.quiet, **kwargs)
        print((out / "cv.md").read_text(encoding="utf-8"))
        if args.leaderboard:
            from pixgrl.report import cv_leaderboard

            table = cv_leaderboard(cv, args.metric, LOWER_IS_BETTER)
            (out / "leaderboard.md").write_text(table, encoding="utf-8")
            print(table)
        return 0
    res = evaluate(args.agents, split=args.split, fold=args.fold, n_folds=args.n_folds, split_seed=args.split_seed,
                   out_dir=out, progress=not args.quiet, **kwargs)
    print(f"wrote {out / 'results.json'} and {out / 'report.md'}")
    if args.leaderboard:
        print(leaderboard(results=res, metric=args.metric, out_dir=out))
    return 0


__all__ = ["parse_json_object", "register_cli"]
