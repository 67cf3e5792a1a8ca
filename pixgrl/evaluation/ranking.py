"""Ranking agents on one split by a metric, and the Markdown leaderboard."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pixgrl import metrics as M
from pixgrl.evaluation.results import load_results
from pixgrl.evaluation.run import evaluate

#: Metrics where lower is better; every other rankable metric is higher-is-better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"nrmse", "ext_nrmse", "int_nrmse", "hausdorff_mm"})
#: Metrics that describe sizes, not quality: not rankable.
UNRANKABLE: frozenset[str] = frozenset({"size_pred_mm2", "size_ref_mm2"})


def metric_value(results: Mapping[str, Any], agent: str, metric: str) -> tuple[float, float, int]:
    """``(mean, std, n)`` of ``metric`` for ``agent`` from results (per-pair aggregates or dataset metrics)."""
    if metric in results["aggregates"].get(agent, {}):
        v = results["aggregates"][agent][metric]
        return float(v["mean"]), float(v["std"]), int(v["n"])
    if metric in results["dataset_metrics"].get(agent, {}):
        v = float(results["dataset_metrics"][agent][metric])
        return v, math.nan, int(not math.isnan(v))
    raise KeyError(f"no metric {metric!r} for agent {agent!r}")


def rank(results: Mapping[str, Any], metric: str = "ssim",
         higher_is_better: bool | None = None) -> list[tuple[str, float, float, int]]:
    """Agents sorted best first by ``metric``: ``[(agent, mean, std, n), ...]``; NaN means sort last."""
    valid = {*M.METRIC_NAMES, *M.CLEAN_METRIC_NAMES, *M.DATASET_METRIC_NAMES}
    if metric not in valid or metric in UNRANKABLE:
        raise ValueError(f"metric {metric!r} cannot rank agents; choose one of "
                         f"{sorted(valid - UNRANKABLE)}")
    hib = metric not in LOWER_IS_BETTER if higher_is_better is None else bool(higher_is_better)
    rows = [(name, *metric_value(results, name, metric)) for name in results["agents"]]

    def key(row: tuple[str, float, float, int]) -> tuple[int, float]:
        m = row[1]
        return (1, 0.0) if math.isnan(m) else (0, -m if hib else m)

    return sorted(rows, key=key)


def leaderboard(agents: Mapping[str, Any] | Sequence[Any] | str | None = None, *,
                results: Mapping[str, Any] | str | Path | None = None, metric: str = "ssim",
                higher_is_better: bool | None = None, out_dir: str | Path | None = None,
                **evaluate_kwargs: Any) -> str:
    """Rank agents on one split by ``metric`` (default SSIM) and return a Markdown table.

    Give either ``results`` (a results dict, or a ``results.json`` path / folder) or ``agents`` (then
    :func:`evaluate` runs with ``out_dir`` and ``evaluate_kwargs``). With ``out_dir`` the table is also written to
    ``out_dir/leaderboard.md``. Agents that need the target (the oracle) are ranked but marked: they are a ceiling,
    not a competitor.
    """
    from pixgrl.report import leaderboard_table

    if (agents is None) == (results is None):
        raise ValueError("give exactly one of agents (to evaluate) or results (already evaluated)")
    if results is None:
        res = evaluate(agents, out_dir=out_dir, **evaluate_kwargs)
    elif isinstance(results, (str, Path)):
        res = load_results(results)
    else:
        res = dict(results)
    table = leaderboard_table(res, rank(res, metric, higher_is_better), metric)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "leaderboard.md").write_text(table, encoding="utf-8")
    return table


__all__ = ["LOWER_IS_BETTER", "UNRANKABLE", "leaderboard", "metric_value", "rank"]
