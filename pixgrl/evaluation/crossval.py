"""K-fold cross-validation over patient-level folds (``pixgrl evaluate --cv K``): per-fold evaluation, and the
across-fold mean ± std of the per-fold means.

Every fold is scored by a model that never saw its patients: either a ``train_fn`` trains one per fold, or the agent
specs hold a ``{fold}`` template (``"runs/cv/fold{fold}/checkpoint.pt"``) that names one checkpoint per fold, each
trained with that fold (its env_config's ``fold``, ``n_folds`` and ``split_seed`` are checked). A spec without the
template (one model for every fold) is an error; reference agents (identity, oracle) need none.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixgrl.evaluation.agents import (
    BUILTIN_AGENTS,
    ResolvedAgent,
    is_agent,
    is_reference_agent,
    resolve_agent,
    split_label,
)
from pixgrl.evaluation.results import CV_FORMAT, versions, write_json
from pixgrl.evaluation.run import evaluate
from pixgrl_env.config import EnvConfig, check_int


def combine_folds(fold_results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Across-fold mean ± std of per-fold means.

    Args:
        fold_results: One results dict per fold (from :func:`evaluate`), or dicts with at least ``aggregates``
            (``{agent: {metric: {"mean": ...}}}``) and optionally ``dataset_metrics`` (``{agent: {metric: v}}``).

    Returns:
        ``{agent: {metric: {"mean", "std", "n_folds", "folds": [per-fold value, ...]}}}``: ``mean`` and ``std``
        (population, ddof = 0) over the folds where the metric is not NaN; ``n_folds`` how many those are.
        Every fold must hold the same agents.
    """
    if not fold_results:
        raise ValueError("fold_results is empty")
    agents = list(fold_results[0]["aggregates"])
    for k, fr in enumerate(fold_results):
        if list(fr["aggregates"]) != agents:
            raise ValueError(f"fold {k} has agents {list(fr['aggregates'])}, fold 0 has {agents}")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for agent in agents:
        per_metric: dict[str, list[float]] = {}
        for fr in fold_results:
            for m, v in fr["aggregates"][agent].items():
                per_metric.setdefault(m, []).append(float(v["mean"]) if v["mean"] is not None else math.nan)
            for m, v in fr.get("dataset_metrics", {}).get(agent, {}).items():
                if m == "diag_n":
                    continue
                per_metric.setdefault(m, []).append(float(v) if v is not None else math.nan)
        out[agent] = {}
        for m, vals in per_metric.items():
            a = np.asarray(vals, dtype=np.float64)
            ok = a[~np.isnan(a)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = float(ok.mean()) if ok.size else math.nan
                std = float(ok.std()) if ok.size else math.nan
            out[agent][m] = {"mean": mean, "std": std, "n_folds": int(ok.size), "folds": vals}
    return out


AgentsForFold = Callable[..., Any]


def fold_trainer(agent: str, config: Any = None, env_config: EnvConfig | None = None,
                 preset: str = "quick") -> AgentsForFold:
    """A ``train_fn`` for :func:`cross_validate` that trains registry agent ``agent`` on each fold's train split.

    Args:
        agent: Registry name (``"pixgrl"``, ``"dqn"``, ``"unet"``…).
        config: The agent's Config (default ``Config.preset(preset)``).
        env_config: The task; its ``split``/``fold``/``n_folds`` are replaced per fold (default: the agent module's
            ``env_config_for(preset)`` when it has one, else the paper's :class:`EnvConfig`).
        preset: Preset name for the defaults.

    Returns:
        ``train_fn(fold, n_folds, run_dir) -> {agent: Agent}``; ``run_dir`` (``out_dir/fold<f>/train``) is required.
    """
    from pixgrl.registry import agent_module

    module = agent_module(agent)
    cfg = config if config is not None else module.Config.preset(preset)
    if env_config is None:
        env_for = getattr(module, "env_config_for", None)
        env_config = env_for(preset) if callable(env_for) else EnvConfig()

    def train_fn(fold: int, n_folds: int, run_dir: Path | None) -> dict[str, Any]:
        if run_dir is None:
            raise ValueError("fold_trainer needs cross_validate(..., out_dir=...) to write each fold's run")
        env = env_config.replace(split="train", fold=fold, n_folds=n_folds)
        return {agent: module.train(cfg, env, Path(run_dir) / "train")}

    return train_fn


def cross_validate(agents: AgentsForFold | Mapping[str, Any] | Sequence[Any] | str, k: int = 5, *,
                   out_dir: str | Path | None = None, folds: Sequence[int] | None = None,
                   split_seed: int = 0, progress: bool = True, **evaluate_kwargs: Any) -> dict[str, Any]:
    """Evaluate over the ``k`` patient-level folds; report per-fold aggregates and their across-fold mean ± std.

    Args:
        agents: Either a ``train_fn(fold=f, n_folds=k, run_dir=Path | None)`` that trains on the TRAIN split of
            fold ``f`` and returns what :func:`evaluate` accepts (an Agent, a dict or a list of specs), or agent
            specs as for :func:`evaluate` in which ``"{fold}"`` is replaced by the fold index
            (``"runs/cv/fold{fold}/checkpoint.pt"``, ``"Pix-GRL=runs/cv/fold{fold}"``): every spec but
            ``"identity"``/``"oracle"`` must hold the template, and fold ``f``'s checkpoint must have been trained
            with ``fold=f``, ``n_folds=k`` and ``split_seed``.
        k: Number of folds (>= 2).
        out_dir: Per-fold results go to ``out_dir/fold<f>/``; the combination to ``out_dir/cv.json`` and
            ``out_dir/cv.md``.
        folds: Which folds to run (default all ``k``); the combination is over those.
        split_seed: Patient shuffle of the folds.
        progress: Progress bars.
        **evaluate_kwargs: Passed to :func:`evaluate` (dataset, dataset_kwargs, max_pairs, device, figures, ...).

    Returns:
        ``{"format", "k", "folds", "per_fold": [{agent: {metric: mean}}...], "combined": combine_folds(...),
        "budgets": {agent: [per-fold budget]}, "tasks": {agent: task id}, "allow_train_patients",
        "fold_results": [...]}``.

    Raises:
        ValueError: a spec without ``{fold}``, or a fold's checkpoint trained with another fold (or ``n_folds``,
            ``split_seed``).
    """
    check_int("k", k, 2)
    fold_list = list(range(k)) if folds is None else [int(f) for f in folds]
    if not fold_list or any(not 0 <= f < k for f in fold_list) or len(set(fold_list)) != len(fold_list):
        raise ValueError(f"folds must be distinct ints in [0, {k}), got {folds!r}")
    for key in ("fold", "n_folds", "split"):
        if key in evaluate_kwargs:
            raise ValueError(f"cross_validate sets {key!r} itself; do not pass it")
    out = Path(out_dir) if out_dir is not None else None
    trains = callable(agents) and not isinstance(agents, (str, Mapping, Sequence))
    if not trains:
        _check_templates(agents, k)
    fold_results = []
    for f in fold_list:
        fold_dir = out / f"fold{f}" if out is not None else None
        if trains:
            fold_agents = agents(fold=f, n_folds=k, run_dir=fold_dir)
            if is_agent(fold_agents):
                fold_agents = {getattr(fold_agents, "name", "agent"): fold_agents}
        else:
            fold_agents = _resolve_fold(agents, f, k, split_seed, evaluate_kwargs.get("device", "auto"))
        res = evaluate(fold_agents, split="test", fold=f, n_folds=k, split_seed=split_seed, out_dir=fold_dir,
                       progress=progress, **evaluate_kwargs)
        fold_results.append(res)
    combined = combine_folds(fold_results)
    cv = {
        "format": CV_FORMAT, "k": k, "folds": fold_list, "split_seed": split_seed,
        "per_fold": [{a: {m: v["mean"] for m, v in r["aggregates"][a].items()} | {
            m: v for m, v in r["dataset_metrics"][a].items()} for a in r["aggregates"]} for r in fold_results],
        "combined": combined,
        "fold_dirs": [str(out / f"fold{f}") if out is not None else None for f in fold_list],
        "budgets": {a: [r["agents"][a].get("budget") for r in fold_results] for a in fold_results[0]["agents"]},
        "tasks": {a: fold_results[0]["agents"][a].get("task") for a in fold_results[0]["agents"]},
        "allow_train_patients": bool(evaluate_kwargs.get("allow_train_patients", False)),
        "warnings": [f"fold {f}: {w}" for f, r in zip(fold_list, fold_results) for w in r["warnings"]],
        "versions": versions(),
    }
    if out is not None:
        from pixgrl.report import cv_table

        write_json(out / "cv.json", cv)
        (out / "cv.md").write_text(cv_table(cv), encoding="utf-8")
    cv["fold_results"] = fold_results
    return cv


def _items(agents: Any) -> list[tuple[str | None, Any]]:
    if isinstance(agents, (str, Path)):
        return [(None, str(agents))]
    if isinstance(agents, Mapping):
        return [(str(key), v) for key, v in agents.items()]
    return [(None, v) for v in agents]


def _check_templates(agents: Any, k: int) -> None:
    """Every agent but the reference ones must be a spec with a ``{fold}`` template."""
    for key, value in _items(agents):
        if isinstance(value, (str, Path)):
            body = split_label(str(value))[1].strip()
            if body in BUILTIN_AGENTS or "{fold}" in body:
                continue
            raise ValueError(
                f"cross-validation over {k} folds needs one model per fold, but agent {str(value)!r} names one "
                f"model for every fold (it would be scored on the patients it was trained on): put '{{fold}}' in "
                f"the path, e.g. 'runs/cv/fold{{fold}}/checkpoint.pt' or 'Pix-GRL=runs/cv/fold{{fold}}', with "
                f"fold F's run trained on --env fold=F --env n_folds={k}")
        if not is_reference_agent(value):
            raise ValueError(f"cross-validation over {k} folds needs one model per fold, but agent "
                             f"{key or type(value).__name__!r} is one Agent object: pass specs with a '{{fold}}' "
                             f"template, or a train_fn(fold, n_folds, run_dir)")


def _resolve_fold(agents: Any, fold: int, k: int, split_seed: int, device: Any) -> dict[str, Any] | list[Any]:
    """Fold ``fold``'s agents: ``{fold}`` filled in, trained agents loaded and checked to be trained with this fold
    (reference agents stay specs, built by :func:`evaluate` for the evaluated task)."""
    from agents.training import resolve_device

    dev = resolve_device(str(device))
    resolved: list[tuple[str | None, Any]] = []
    for key, value in _items(agents):
        if not isinstance(value, (str, Path)) or split_label(str(value))[1].strip() in BUILTIN_AGENTS:
            resolved.append((key, value))
            continue
        spec = str(value).replace("{fold}", str(fold))
        ra: ResolvedAgent = resolve_agent(spec, dev)
        cfg = ra.trained_on
        if cfg is not None and (cfg.fold, cfg.n_folds, cfg.split_seed) != (fold, k, split_seed):
            raise ValueError(
                f"{ra.checkpoint or spec} fills fold {fold} of the {k}-fold cross-validation (split_seed "
                f"{split_seed}), but it was trained with fold={cfg.fold}, n_folds={cfg.n_folds}, split_seed="
                f"{cfg.split_seed} (split {cfg.split!r}): its held-out patients are not fold {fold}'s")
        resolved.append((key, ra))
    if isinstance(agents, Mapping):
        return {str(key): v for key, v in resolved}
    return [v for _, v in resolved]


__all__ = ["AgentsForFold", "combine_folds", "cross_validate", "fold_trainer"]
