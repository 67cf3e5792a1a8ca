"""Scripted evaluation: run agents over a data split and produce the paper's tables (Tables 1–2) and figures.

    >>> from pixgrl.evaluation import evaluate
    >>> results = evaluate(["runs/a2c/checkpoint.pt", "identity", "oracle"], dataset="phantom",
    ...                    dataset_kwargs={"size": 128}, split="test", fold=0, out_dir="eval/")  # doctest: +SKIP

Modules:

- :mod:`~pixgrl.evaluation.agents`: agent specs (checkpoints, ``"identity"``/``"oracle"``, ``"module:callable"``,
  ``label=`` prefixes) → named Agent objects;
- :mod:`~pixgrl.evaluation.run`: :func:`evaluate`, the loop over the pairs of a split (its docstring lists the
  steps);
- :mod:`~pixgrl.evaluation.leakage`: agents evaluated on patients they were trained on are refused
  (:class:`LeakageError`) unless explicitly allowed;
- :mod:`~pixgrl.evaluation.provenance`: each agent's task, training budget and data version, and the check that
  the agents of one table share a task (:class:`TaskMismatchError`);
- :mod:`~pixgrl.evaluation.classifier`: the lesion classifier of the diagnosis metrics;
- :mod:`~pixgrl.evaluation.results`: ``results.json`` I/O, library versions;
- :mod:`~pixgrl.evaluation.ranking`: ranking agents by a metric, the leaderboard;
- :mod:`~pixgrl.evaluation.crossval`: k-fold cross-validation over patient folds;
- :mod:`~pixgrl.evaluation.commands`: the ``pixgrl evaluate`` command line.

``results.json``: ``format``, ``created``, ``versions`` (pixgrl, python, torch, gymnasium, numpy, scipy, skimage,
sklearn, nibabel, matplotlib), ``device``, ``dataset`` (name, kwargs, repr, split, fold, n_folds, split_seed,
n_pairs, n_patients, ``phantom_version`` for the phantom), ``task`` (``id``: the registered task id or None,
``requested``: the ``task=`` argument, factors, episode length, conditioning), ``protocol`` (``allow_train_patients``,
``trained_on_evaluated_patients``: agents scored on patients they trained on, ``patients``: per agent the
:class:`~pixgrl.evaluation.leakage.PatientCheck`), ``agents`` (per agent: spec, registry name, checkpoint,
``reference``, ``task``, ``budget`` (``env_steps``, ``wall_time_s``, ``device``, ``source``; None for reference
agents), ``training_split``, ``phantom_version``, resolved ``env_config`` and ``config``),
``metric_names``, ``aggregates`` (``{agent: {metric: {"mean", "std", "n"}}}``: population std over pairs, NaN
skipped), ``dataset_metrics`` (``{agent: {size_pcc, diag_*}}``), ``curves`` (``{agent: {"ssim": [...],
"mse": [...]}}``), ``rows`` (one per pair and agent: identifiers, every metric, ``diag_true``/``diag_pred``),
``classifier``, ``warnings``, ``paper`` (:data:`~pixgrl.metrics.PAPER_VALUES`). JSON has no NaN/Infinity: NaN is
written as ``null`` and ±inf as the strings ``"inf"``/``"-inf"``; :func:`load_results` turns them back into floats.
"""

from __future__ import annotations

from pixgrl.evaluation.agents import (
    BUILTIN_AGENTS,
    ResolvedAgent,
    build_reference_agent,
    is_agent,
    is_reference_agent,
    resolve_agent,
    resolve_agents,
)
from pixgrl.evaluation.classifier import diagnosis_truth, fit_classifier, resolve_classifier
from pixgrl.evaluation.commands import parse_json_object, register_cli
from pixgrl.evaluation.crossval import AgentsForFold, combine_folds, cross_validate, fold_trainer
from pixgrl.evaluation.leakage import LeakageError, PatientCheck
from pixgrl.evaluation.provenance import TaskMismatchError, checkpoint_budget
from pixgrl.evaluation.ranking import LOWER_IS_BETTER, UNRANKABLE, leaderboard, metric_value, rank
from pixgrl.evaluation.results import CV_FORMAT, FORMAT, device_info, load_results, to_jsonable, versions, write_json
from pixgrl.evaluation.run import evaluate, run_trajectory

__all__ = [
    "BUILTIN_AGENTS", "CV_FORMAT", "FORMAT", "LOWER_IS_BETTER", "UNRANKABLE", "AgentsForFold", "LeakageError",
    "PatientCheck", "ResolvedAgent", "TaskMismatchError", "build_reference_agent", "checkpoint_budget",
    "combine_folds", "cross_validate", "device_info", "diagnosis_truth", "evaluate", "fit_classifier", "fold_trainer",
    "is_agent", "is_reference_agent", "leaderboard", "load_results", "metric_value", "parse_json_object", "rank",
    "register_cli", "resolve_agent", "resolve_agents", "resolve_classifier", "run_trajectory", "to_jsonable",
    "versions", "write_json",
]
