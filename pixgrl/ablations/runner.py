"""Running an ablation: build each variant's configs, train it, evaluate it on the held-out fold, one table.

See :func:`run_ablation` and the package docstring (:mod:`pixgrl.ablations`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pixgrl.ablations.experiments import Variant, get_ablation
from pixgrl_env.config import ENV_PRESETS, EnvConfig

FORMAT = "pixgrl-ablation-v1"
#: Names of the training-budget field in the agents' Configs, tried in order (a2c: ``total_steps``; RL baselines:
#: ``total_timesteps``; supervised: ``steps``).
BUDGET_FIELDS: tuple[str, ...] = ("total_steps", "total_timesteps", "steps")


# ----------------------------------------------------------------------------------------------------------------
# Building the runs
# ----------------------------------------------------------------------------------------------------------------
def _config_fields(config_cls: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(config_cls)} if dataclasses.is_dataclass(config_cls) else set()


def budget_field_of(config_cls: Any) -> str:
    """The budget field of an agent Config: the first of :data:`BUDGET_FIELDS` it has."""
    fields = _config_fields(config_cls)
    for name in BUDGET_FIELDS:
        if name in fields:
            return name
    raise ValueError(f"{config_cls.__module__}.{config_cls.__name__} has none of the budget fields {BUDGET_FIELDS}; "
                     f"pass budget_field= one of its fields {sorted(fields)}")


def build_config(agent: str, variant: Variant, budget: int, *, preset: str | None = "quick",
                 overrides: Mapping[str, Any] | None = None, budget_field: str | None = None,
                 seed: int | None = None, device: str | None = None) -> Any:
    """The agent Config of one variant: ``preset`` + ``overrides`` + the variant's changes + budget/seed/device.

    Raises:
        ValueError: the agent's Config has no ``budget_field`` (or an override names an unknown field).
    """
    from pixgrl.registry import agent_module

    module = agent_module(agent)
    cls = module.Config
    fields = _config_fields(cls)
    budget_field = budget_field or budget_field_of(cls)
    if budget_field not in fields:
        raise ValueError(f"{module.__name__}.Config has no budget field {budget_field!r}; pass budget_field= one "
                         f"of its fields {sorted(fields)}")
    values = {**dict(overrides or {}), **dict(variant.config), budget_field: int(budget)}
    if seed is not None and "seed" in fields:
        values["seed"] = int(seed)
    if device is not None and "device" in fields:
        values["device"] = device
    unknown = set(values) - fields
    if unknown:
        raise ValueError(f"{module.__name__}.Config has no fields {sorted(unknown)}")
    if preset is not None and hasattr(cls, "preset"):
        return cls.preset(preset, **values)
    return cls(**values)


def base_env_config(agent: str, preset: str | None) -> EnvConfig:
    """The env an agent preset is meant for (the agent module's ``env_config_for(preset)``, e.g. a2c's ``quick``:
    64×64 crops of 128×128 phantom slices), else the paper's :class:`EnvConfig`."""
    from pixgrl.registry import agent_module

    try:
        module = agent_module(agent)
    except (ValueError, ImportError):
        return EnvConfig.preset("paper")
    env_for = getattr(module, "env_config_for", None)
    if preset is not None and callable(env_for):
        try:
            return env_for(preset)
        except ValueError:
            pass
    return EnvConfig.preset("paper")


def build_env_config(variant: Variant, base: EnvConfig | str | Mapping[str, Any] | None = None, *,
                     dataset: str | None = None, dataset_kwargs: Mapping[str, Any] | None = None, fold: int = 0,
                     n_folds: int = 5, split_seed: int = 0) -> EnvConfig:
    """The training :class:`EnvConfig` of one variant: the base, the data split, then the variant's changes.

    ``dataset``/``dataset_kwargs`` None keep the base's.
    """
    if base is None:
        cfg = EnvConfig.preset("paper")
    elif isinstance(base, EnvConfig):
        cfg = base
    elif isinstance(base, str):
        cfg = EnvConfig.preset(base)
    elif isinstance(base, Mapping):
        cfg = EnvConfig.from_dict(dict(base))
    else:
        raise TypeError(f"env_config must be an EnvConfig, a preset name in {sorted(ENV_PRESETS)}, a dict or None, "
                        f"got {type(base).__name__}")
    return cfg.replace(dataset=cfg.dataset if dataset is None else dataset,
                       dataset_kwargs=dict(cfg.dataset_kwargs if dataset_kwargs is None else dataset_kwargs),
                       split="train", fold=fold, n_folds=n_folds, split_seed=split_seed, **dict(variant.env))


TrainFn = Callable[[Variant, Any, EnvConfig, Path, bool], Any]


def _default_train(agent: str) -> TrainFn:
    from pixgrl.registry import agent_module

    module = agent_module(agent)

    def train(variant: Variant, config: Any, env_config: EnvConfig, run_dir: Path, resume: bool) -> Any:
        return module.train(config, env_config, run_dir, resume=resume)

    return train


# ----------------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------------
def run_ablation(name: str, budget: int, out_dir: str | Path, *, variants: Sequence[str] | None = None,
                 agent: str | None = None, preset: str | None = "quick",
                 config_overrides: Mapping[str, Any] | None = None,
                 env_config: EnvConfig | str | Mapping[str, Any] | None = None, dataset: str | None = None,
                 dataset_kwargs: Mapping[str, Any] | None = None, fold: int = 0, n_folds: int = 5,
                 split_seed: int = 0, max_pairs: int | None = None, device: str = "auto", seed: int | None = 0,
                 budget_field: str | None = None, with_oracle: bool = True, resume: bool = True,
                 classifier: Any = "fit", progress: bool = True, train_fn: TrainFn | None = None) -> dict[str, Any]:
    """Train every variant of ablation ``name`` at ``budget``, evaluate each, and write one combined table.

    Args:
        name: A key of :data:`ABLATIONS`.
        budget: Training budget per variant, in units of the Config's ``budget_field`` (image-steps).
        out_dir: ``out_dir/<variant>/`` gets each run (checkpoint, logs, ``eval/``); ``out_dir/ablation.md`` and
            ``out_dir/ablation.json`` the combined table.
        variants: Run only these variant names (default: all, in the paper's order).
        agent: Registry name of the agent to train (default: the ablation's, ``"pixgrl"``).
        preset: The agent Config preset every variant starts from (``None``: the Config's defaults).
        config_overrides: Further Config overrides shared by every variant (e.g. ``{"num_envs": 2}``).
        env_config: Base :class:`EnvConfig` (an object, preset name or dict); default: the env the agent's
            ``preset`` is meant for (:func:`base_env_config`), else the paper's.
        dataset, dataset_kwargs: Training and evaluation data (a dataset name and its arguments); None: the base
            env config's.
        fold, n_folds, split_seed: Train on the other folds, evaluate on fold ``fold``.
        max_pairs: Evaluate on at most this many test pairs.
        device: Torch device for training and evaluation.
        seed: Training seed of every variant (the Config's ``seed`` field), or None to keep the preset's.
        budget_field: The Config field that holds the budget (default: the first of :data:`BUDGET_FIELDS`).
        with_oracle: Also evaluate the oracle of each variant's task (its reachable ceiling).
        resume: Let the trainer resume from a checkpoint in a variant's folder (False: retrain from scratch).
        classifier: As for :func:`~pixgrl.evaluation.evaluate`; ``"fit"`` fits once on the train split.
        progress: Progress bars.
        train_fn: ``train_fn(variant, config, env_config, run_dir, resume) -> Agent`` instead of the registry's
            trainer (for custom agents or tests).

    Returns:
        The content of ``ablation.json``: per variant its settings, paper values, aggregates, dataset metrics,
        oracle SSIM and training time; plus ``table`` (the Markdown).
    """
    from agents.training import resolve_device
    from pixgrl_env.data import make_dataset, split_dataset
    from pixgrl.evaluation import build_reference_agent, evaluate, fit_classifier, versions, write_json
    from pixgrl.evaluation.agents import from_object

    ablation = get_ablation(name)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an int >= 1 (training steps per variant), got {budget!r}")
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name (trainers rebuild it from their env_config), got "
                        f"{type(dataset).__name__}")
    selected = list(ablation.variants) if variants is None else [ablation.variant(v) for v in variants]
    if not selected:
        raise ValueError("variants is empty")
    if len({v.name for v in selected}) != len(selected):
        raise ValueError(f"variants has duplicates: {variants}")
    agent = agent or ablation.agent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    train = train_fn or _default_train(agent)
    if env_config is None:
        env_config = base_env_config(agent, preset)

    # Build every config first, so a bad override fails before any training.
    plans = []
    for v in selected:
        env_cfg = build_env_config(v, env_config, dataset=dataset, dataset_kwargs=dataset_kwargs, fold=fold,
                                   n_folds=n_folds, split_seed=split_seed)
        cfg = build_config(agent, v, budget, preset=preset, overrides=config_overrides, budget_field=budget_field,
                           seed=seed, device=str(dev)) if train_fn is None else _maybe_config(
            agent, v, budget, preset, config_overrides, budget_field, seed, str(dev))
        plans.append((v, cfg, env_cfg))

    dataset, ds_kwargs = plans[0][2].dataset, dict(plans[0][2].dataset_kwargs)
    if dataset == "custom":
        raise ValueError("the env config's dataset is 'custom' (an object): pass dataset= a dataset name")
    budget_field = budget_field or (budget_field_of(type(plans[0][1])) if dataclasses.is_dataclass(plans[0][1])
                                    else "budget")
    clf = classifier
    if classifier == "fit":
        full = make_dataset(dataset, **ds_kwargs)
        clf, _ = fit_classifier(split_dataset(full, "train", fold, n_folds, split_seed), progress=progress)

    entries = []
    for v, cfg, env_cfg in plans:
        run_dir = out / v.name
        had_ckpt = (run_dir / "checkpoint.pt").is_file()
        t0 = time.perf_counter()
        trained = train(v, cfg, env_cfg, run_dir, resume and had_ckpt)
        train_s = time.perf_counter() - t0
        agents: dict[str, Any] = {v.name: _with_budget(from_object(v.name, trained), run_dir)}
        if with_oracle:
            agents["oracle"] = build_reference_agent("oracle", env_cfg.replace(crop=None), dev)
        res = evaluate(agents, dataset, dataset_kwargs=ds_kwargs, split="test", fold=fold, n_folds=n_folds,
                       split_seed=split_seed, out_dir=run_dir / "eval", device=str(dev), max_pairs=max_pairs,
                       figures=False, progress=progress, classifier=clf)
        entries.append({
            "name": v.name, "label": v.label, "config_overrides": dict(v.config), "env_overrides": dict(v.env),
            "paper": dict(v.paper), "run_dir": str(run_dir), "resumed": bool(resume and had_ckpt),
            "train_seconds": train_s,
            "config": _config_dict(cfg),
            "env_config": env_cfg.to_dict(),
            "aggregates": res["aggregates"][v.name], "dataset_metrics": res["dataset_metrics"][v.name],
            "oracle": ({m: res["aggregates"]["oracle"][m] for m in ("ssim", "psnr", "nrmse")}
                       if with_oracle else None),
            "budget": res["agents"][v.name]["budget"],
            "patients": res["protocol"]["patients"][v.name],
            "curve": res["curves"].get(v.name), "warnings": res["warnings"],
        })
    result = {
        "format": FORMAT, "name": ablation.name, "title": ablation.title, "source": ablation.source,
        "agent": agent, "preset": preset, "budget": budget, "budget_field": budget_field,
        "dataset": {"name": dataset, "kwargs": ds_kwargs, "fold": fold, "n_folds": n_folds,
                    "split_seed": split_seed, "max_pairs": max_pairs},
        "device": str(dev), "versions": versions(), "variants": entries,
    }
    result["table"] = ablation_table(result)
    write_json(out / "ablation.json", result)
    (out / "ablation.md").write_text(result["table"], encoding="utf-8")
    return result


def _with_budget(resolved: Any, run_dir: Path) -> Any:
    """``resolved`` with the budget of ``run_dir/checkpoint.pt`` when the trainer wrote one and the agent object
    carries none."""
    from agents.checkpoint import load_checkpoint
    from pixgrl.evaluation import checkpoint_budget

    ckpt_path = run_dir / "checkpoint.pt"
    if resolved.budget and resolved.budget.get("source") is None and ckpt_path.is_file():
        resolved.budget = checkpoint_budget(load_checkpoint(ckpt_path))
    return resolved


def _maybe_config(agent: str, v: Variant, budget: int, preset: str | None, overrides: Any, budget_field: str,
                  seed: int | None, device: str) -> Any:
    """With a custom train_fn the agent may not be a registered one: its Config when possible, else a plain dict."""
    try:
        return build_config(agent, v, budget, preset=preset, overrides=overrides, budget_field=budget_field,
                            seed=seed, device=device)
    except (ValueError, ImportError):
        return {"budget": budget, **dict(overrides or {}), **dict(v.config)}


def _config_dict(cfg: Any) -> dict[str, Any] | None:
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return dict(cfg) if isinstance(cfg, Mapping) else None


_TABLE_METRICS: tuple[tuple[str, str, float, int], ...] = (
    ("ssim", "SSIM ↑", 1.0, 3), ("psnr", "PSNR (dB) ↑", 1.0, 2), ("nrmse", "NRMSE ↓", 1.0, 3),
    ("ext_ssim", "Ext. SSIM ↑", 1.0, 3), ("int_ssim", "Int. SSIM ↑", 1.0, 3), ("dice", "Dice (%) ↑", 100.0, 2),
    ("size_pcc", "Size PCC ↑", 1.0, 3),
)


def ablation_table(result: Mapping[str, Any]) -> str:
    """The combined Markdown table of :func:`run_ablation`'s result: one row per variant."""
    from pixgrl.evaluation.provenance import BUDGET_NOTE, budget_text
    from pixgrl.report import fmt, markdown_table

    entries = result["variants"]
    paper_keys = [m for m, _, _, _ in _TABLE_METRICS if any(m in e["paper"] for e in entries)]
    with_oracle = any(e.get("oracle") for e in entries)
    header = ["Variant", "Setting", *(h for _, h, _, _ in _TABLE_METRICS)]
    header += ["Oracle SSIM"] if with_oracle else []
    header += [f"Paper {dict((m, h) for m, h, _, _ in _TABLE_METRICS)[m]}" for m in paper_keys]
    header += ["Budget", "Train (s)"]
    rows = []
    for e in entries:
        row = [e["name"], e["label"]]
        for m, _, s, d in _TABLE_METRICS:
            if m in e["aggregates"]:
                row.append(fmt(e["aggregates"][m]["mean"], e["aggregates"][m]["std"], s, d))
            else:
                row.append(fmt(e["dataset_metrics"].get(m), None, s, d))
        if with_oracle:
            o = (e.get("oracle") or {}).get("ssim")
            row.append(fmt(o["mean"], None, 1, 3) if o else "—")
        scales = {m: (s, d) for m, _, s, d in _TABLE_METRICS}
        row += [fmt(e["paper"].get(m, math.nan), None, *scales[m]) for m in paper_keys]
        row += [budget_text(e.get("budget")), f"{e['train_seconds']:.0f}"]
        rows.append(row)
    ds = result["dataset"]
    head = (f"# Ablation `{result['name']}`: {result['title']} ({result['source']})\n\n"
            f"Agent `{result['agent']}` (preset {result['preset']}), budget {result['budget']} "
            f"{result['budget_field']} per variant; data `{ds['name']}` {ds['kwargs'] or ''}, trained on the "
            f"train folds and evaluated on test fold {ds['fold']} of {ds['n_folds']} (whole images). "
            "Mean ± std over test pairs."
            + (" Oracle SSIM: the best the variant's action set can reach in T steps." if with_oracle else "")
            + (" Paper columns: the paper's reported value for that setting (trained far longer)." if paper_keys
               else "")
            + " Train (s): the wall time this run spent training the variant (less when it resumed one).\n\n")
    return head + markdown_table(header, rows) + f"\n{BUDGET_NOTE}\n"


__all__ = ["BUDGET_FIELDS", "FORMAT", "TrainFn", "ablation_table", "base_env_config", "budget_field_of", "build_config",
           "build_env_config", "run_ablation"]
