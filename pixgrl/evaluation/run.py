"""The evaluation loop: every agent over every pair of a split, the paper's metrics, and the outputs.

What :func:`evaluate` does, in order (agents are resolved by :mod:`pixgrl.evaluation.agents`):

1. **Data.** ``dataset`` is a :class:`~pixgrl_env.data.PairDataset`, a name for
   :func:`~pixgrl_env.data.make_dataset` (with ``dataset_kwargs``), or None: the dataset of the first checkpoint's
   env_config (else the phantom). The split is patient-level (:func:`~pixgrl_env.data.split_dataset` with
   ``fold``, ``n_folds``, ``split_seed``; ``"val"`` is the fold after the test fold, carved from the training folds).
   The settings used are printed (with ``progress``), and an agent trained on other dataset settings gets a warning
   naming the differing keys.
   **Training patients** (:mod:`pixgrl.evaluation.leakage`): an agent evaluated on patients it was trained on is
   refused (:class:`~pixgrl.evaluation.leakage.LeakageError`) unless ``allow_train_patients=True``, which
   ``results["protocol"]`` and the report's header then state. **Task** (:mod:`pixgrl.evaluation.provenance`):
   every agent of one evaluation acts in the same task (``task=`` a registered id, or the trained agents' common
   one); reference agents are built for it.
2. **Whole images.** Evaluation always runs on whole slices: an agent's training ``crop`` is ignored (every agent
   of this package is fully convolutional). Pairs of equal shape are batched (``batch_size``); a dataset with mixed
   sizes simply gives smaller batches.
3. **Per-pair metrics.** :func:`pixgrl.metrics.evaluate_pair` for every pair and agent (see :mod:`pixgrl.metrics`
   for definitions, region boxes and NaN conventions); ``ssim_clean``/``psnr_clean`` against the noise-free target
   too where the dataset has one (the phantom).
4. **Dataset-level metrics.** ``size_pcc``: Pearson r of tumour areas (synthesized vs real enhanced, segmented the
   same way) over the pairs with a tumour. Diagnosis (:mod:`pixgrl.evaluation.classifier`): a
   :class:`~pixgrl.metrics.LesionClassifier` fitted on the TRUE enhanced images (``pair.target``) with the
   ground-truth tumour masks of the TRAIN split of the same fold (``split="all"`` fits on all pairs: then train and
   test overlap, which is flagged), applied to each agent's synthesized images with the same masks. ``diag_n``
   counts the cases. The fitted classifier is saved to ``out_dir/lesion_classifier.json``, and its accuracy on the
   real test targets is reported as the ceiling row.
5. **Per-step curves.** From :meth:`Agent.trajectory`, the mean SSIM and MSE to the target of s_0 … s_T.
6. **Outputs** in ``out_dir``: ``results.json`` (:mod:`pixgrl.evaluation.results`), ``report.md``
   (:mod:`pixgrl.report`) and PNG figures (``figures=True``, :mod:`pixgrl.evaluation.figures`).
"""

from __future__ import annotations

import datetime
import json
import math
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixgrl import metrics as M
from pixgrl.evaluation.agents import ResolvedAgent, resolve_agents
from pixgrl.evaluation.classifier import diagnosis_truth, resolve_classifier
from pixgrl.evaluation.figures import write_figures
from pixgrl.evaluation.leakage import check_training_patients, evaluated_patients
from pixgrl.evaluation.provenance import check_tasks, describe_task
from pixgrl.evaluation.results import FORMAT, device_info, versions, write_json
from pixgrl_env.config import check_int
from pixgrl_env.data import LABELS, Pair, PairDataset, make_dataset, split_dataset
from pixgrl_env.data.base import SPLITS, UNKNOWN_LABEL, Subset
from pixgrl_env.tasks import task_config, task_of


def _extra_for(agent: Any, pairs: Sequence[Pair]) -> torch.Tensor | None:
    """``(N, E, H, W)`` of the ``"extra:<name>"`` channels the agent's env_config asks for, or None."""
    names = [c[len("extra:"):] for c in agent.env_config.conditioning if c.startswith("extra:")]
    if not names:
        return None
    stacks = []
    for pair in pairs:
        missing = [n for n in names if n not in pair.extra]
        if missing:
            raise ValueError(f"{pair.meta.source}: the agent's conditioning asks for modalities {missing}, but the "
                             f"pair has {sorted(pair.extra) or 'no extra modalities'}")
        stacks.append(np.stack([pair.extra[n] for n in names]))
    return torch.from_numpy(np.stack(stacks)).to(agent.device)


def run_trajectory(agent: Any, inputs: torch.Tensor, extra: torch.Tensor | None = None,
                   target: torch.Tensor | None = None, deterministic: bool = True) -> torch.Tensor:
    """States ``(T + 1, N, 1, H, W)`` of ``agent`` from ``inputs`` ``(N, 1, H, W)`` (on the agent's device).

    Agents with ``needs_target = True`` (the oracle) also get ``target`` ``(N, 1, H, W)``, as the keyword
    ``targets=`` of their ``trajectory`` (:class:`baselines.reference.OracleAgent`'s API); omitting it is an error.
    """
    if getattr(agent, "needs_target", False):
        if target is None:
            raise ValueError(f"agent {getattr(agent, 'name', agent)!r} needs the target image (it is a reference "
                             f"ceiling, not a synthesis method); none was given")
        return agent.trajectory(inputs, extra, deterministic=deterministic, targets=target)
    return agent.trajectory(inputs, extra, deterministic=deterministic)


def _batches(dataset: PairDataset, indices: Sequence[int], batch_size: int) -> Iterable[list[tuple[int, Pair]]]:
    """Consecutive items of equal shape, at most ``batch_size`` per batch."""
    batch: list[tuple[int, Pair]] = []
    for i in indices:
        pair = dataset[i]
        if batch and (len(batch) == batch_size or pair.shape != batch[0][1].shape):
            yield batch
            batch = []
        batch.append((i, pair))
    if batch:
        yield batch


def _resolve_dataset(dataset: Any, dataset_kwargs: Mapping[str, Any] | None,
                     agents: Sequence[ResolvedAgent]) -> tuple[PairDataset, str, dict[str, Any]]:
    if isinstance(dataset, PairDataset):
        if dataset_kwargs:
            raise ValueError("dataset_kwargs is only used with a dataset name, not a PairDataset object")
        return dataset, "custom", {}
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a PairDataset, a dataset name or None, got {type(dataset).__name__}")
    if dataset_kwargs is not None and not isinstance(dataset_kwargs, Mapping):
        raise TypeError(f"dataset_kwargs must be a dict, got {type(dataset_kwargs).__name__}")
    name, kwargs = dataset, dict(dataset_kwargs or {})
    if name is None:
        trained = [a for a in agents if a.checkpoint and a.agent.env_config.dataset != "custom"]
        if trained:
            name = trained[0].agent.env_config.dataset
            if dataset_kwargs is None:
                kwargs = dict(trained[0].agent.env_config.dataset_kwargs)
        else:
            name = "phantom"
    return make_dataset(name, **kwargs), name, kwargs


#: Per-pair metrics of a row: always :data:`~pixgrl.metrics.METRIC_NAMES`, and the noise-free ones where the data has
#: a noise-free target.
_PAIR_METRICS = (*M.METRIC_NAMES, *M.CLEAN_METRIC_NAMES)


class _AgentResults:
    """One agent's running results in :func:`evaluate`: per-pair rows, diagnosis cases and per-step curve sums."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self.diag_true: list[int] = []
        self.diag_pred: list[int] = []
        self.curve_sum: np.ndarray | None = None  # (2, T + 1): sums over pairs of SSIM and MSE to the target
        self.curve_n = 0

    def add_curves(self, states: np.ndarray, targets: np.ndarray) -> None:
        """Add SSIM and MSE to the target of each step; ``states`` ``(T + 1, N, H, W)``, ``targets`` ``(N, H, W)``."""
        mse = ((states.astype(np.float64) - targets[None]) ** 2).mean(axis=(2, 3)).sum(axis=1)
        ssim = np.array([np.nansum(M.ssim(s, targets)) for s in states])
        sums = np.stack([ssim, mse])
        if self.curve_sum is None:
            self.curve_sum = sums
        elif self.curve_sum.shape == sums.shape:
            self.curve_sum += sums
        self.curve_n += targets.shape[0]

    def add_pairs(self, data: PairDataset, batch: Sequence[tuple[int, Pair]], synth: np.ndarray,
                  truths: Sequence[int | None], preds: Sequence[Any]) -> None:
        """Add the metrics of ``synth`` ``(N, H, W)`` for the batch's pairs, and their diagnosis cases."""
        for (i, pair), s, t, dp in zip(batch, synth, truths, preds):
            try:
                row_metrics = M.evaluate_pair(s, pair)
            except ValueError as exc:
                raise ValueError(f"agent {self.name!r} on {pair.meta.source}: {exc}") from exc
            self.rows.append({"agent": self.name, "index": i, **_pair_id(data, i, pair), **row_metrics,
                              "diag_true": LABELS[t] if t is not None else None,
                              "diag_pred": LABELS[int(dp)] if dp is not None and t is not None else None})
            if t is not None and dp is not None:
                self.diag_true.append(t)
                self.diag_pred.append(int(dp))

    def aggregates(self) -> dict[str, dict[str, float]]:
        """``{metric: {"mean", "std", "n"}}`` over the rows (:func:`pixgrl.metrics.aggregate`)."""
        agg = M.aggregate({k: r[k] for k in _PAIR_METRICS if k in r} for r in self.rows)
        return {k: {"mean": m, "std": s, "n": n} for k, (m, s, n) in agg.items()}

    def dataset_metrics(self, diagnosis: bool) -> dict[str, float]:
        """``size_pcc`` and, when ``diagnosis``, the ``diag_*`` scores (NaN otherwise, ``diag_n`` 0)."""
        dm = {"size_pcc": M.size_correlation([r["size_pred_mm2"] for r in self.rows],
                                             [r["size_ref_mm2"] for r in self.rows])}
        if diagnosis:
            dm.update(M.diagnosis_metrics(self.diag_pred, self.diag_true))
        else:
            dm.update({k: math.nan for k in M.DATASET_METRIC_NAMES if k != "size_pcc"})
            dm["diag_n"] = 0.0
        return dm

    def curves(self) -> dict[str, Any] | None:
        """Mean SSIM and MSE to the target per step, or None without curves."""
        if self.curve_sum is None or not self.curve_n:
            return None
        mean = self.curve_sum / self.curve_n
        return {"t": list(range(mean.shape[1])), "ssim": mean[0].tolist(), "mse": mean[1].tolist(),
                "n": self.curve_n}


def _synthesize(ra: ResolvedAgent, pairs: Sequence[Pair], inputs: torch.Tensor, targets: torch.Tensor,
                deterministic: bool) -> np.ndarray:
    """States ``(T + 1, N, H, W)`` float32 of agent ``ra`` on the batch; errors name the agent and the pair."""
    agent = ra.agent
    try:
        states = run_trajectory(agent, inputs.to(agent.device), _extra_for(agent, pairs), targets.to(agent.device),
                                deterministic)
    except Exception as exc:
        raise RuntimeError(f"agent {ra.name!r} failed on {pairs[0].meta.source} (batch of {len(pairs)}, "
                           f"shape {pairs[0].shape}): {type(exc).__name__}: {exc}") from exc
    if states.ndim != 5 or states.shape[1:] != (len(pairs), 1, *pairs[0].shape):
        raise ValueError(f"agent {ra.name!r}: trajectory returned shape {tuple(states.shape)}, expected "
                         f"(T + 1, {len(pairs)}, 1, {pairs[0].shape[0]}, {pairs[0].shape[1]})")
    return states.detach().float().cpu().numpy()[:, :, 0]


def evaluate(agents: Mapping[str, Any] | Sequence[Any] | str, dataset: PairDataset | str | None = None, *,
             dataset_kwargs: Mapping[str, Any] | None = None, split: str = "test", fold: int = 0, n_folds: int = 5,
             split_seed: int = 0, out_dir: str | Path | None = None, device: str = "auto",
             max_pairs: int | None = None, batch_size: int = 16, figures: bool = True, progress: bool = True,
             classifier: str | Path | M.LesionClassifier | None = "fit", classifier_max_pairs: int | None = None,
             n_examples: int = 4, deterministic: bool = True, curves: bool = True, task: str | None = None,
             allow_train_patients: bool = False) -> dict[str, Any]:
    """Run every agent over a split and compute the paper's metrics (the module docstring lists the steps).

    Args:
        agents: ``{name: Agent or spec}`` or a list of specs (checkpoint paths or run folders, ``"identity"``,
            ``"oracle"``, ``"module:callable"``, each optionally ``"label=..."``) and/or Agent objects.
        dataset: A :class:`~pixgrl_env.data.PairDataset`, a dataset name, or None (the first checkpoint's dataset,
            else ``"phantom"``).
        dataset_kwargs: Constructor arguments for a dataset name (e.g. ``{"size": 128}``, ``{"root": "data/"}``).
        split: One of :data:`~pixgrl_env.data.SPLITS`: ``"test"`` (the held-out fold), ``"val"`` (the validation
            fold), ``"train"``, ``"trainval"`` or ``"all"``.
        fold, n_folds, split_seed: The patient-level split (:func:`~pixgrl_env.data.split_dataset`).
        out_dir: Where ``results.json``, ``report.md`` and the PNGs go; None writes nothing.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; used for spec-loaded
            agents (Agent objects keep theirs).
        max_pairs: Evaluate only the first ``max_pairs`` pairs of the split.
        batch_size: Pairs per synthesis batch.
        figures: Write PNG figures (needs ``out_dir``).
        progress: Show tqdm progress bars.
        classifier: ``"fit"`` (fit on the train split, see the module docstring), a saved classifier JSON path, a
            fitted :class:`~pixgrl.metrics.LesionClassifier`, or None to skip the diagnosis metrics.
        classifier_max_pairs: Read at most this many training pairs to fit the classifier.
        n_examples: Pairs shown in the example figure (pairs with a tumour first).
        deterministic: Greedy actions (True) or sampled ones.
        curves: Compute per-step SSIM/MSE curves from the trajectories.
        task: A registered task id (:data:`pixgrl_env.tasks.TASKS`): reference agents are built for it and every
            trained agent must have been trained on it. None: the trained agents' common task.
        allow_train_patients: Evaluate agents on patients they were trained on instead of refusing; the overlap is
            recorded in ``results["protocol"]`` and stated in the report's header.

    Returns:
        The results dict written to ``results.json`` (with floats, NaN and inf as Python floats).

    Raises:
        LeakageError: an agent was trained on evaluated patients (and ``allow_train_patients`` is False).
        TaskMismatchError: the agents were trained on different tasks, or not on ``task``.
    """
    from tqdm.auto import tqdm

    from agents.training import resolve_device

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    check_int("n_folds", n_folds, 2)
    check_int("fold", fold, 0)
    if fold >= n_folds:
        raise ValueError(f"fold must be in [0, n_folds={n_folds}), got {fold}")
    check_int("split_seed", split_seed, 0)
    if not isinstance(allow_train_patients, bool):
        raise TypeError(f"allow_train_patients must be a bool, got {allow_train_patients!r}")
    check_int("max_pairs", max_pairs, 1, allow_none=True)
    check_int("batch_size", batch_size, 1)
    check_int("n_examples", n_examples, 0)
    if classifier_max_pairs is not None:
        check_int("classifier_max_pairs", classifier_max_pairs, 1)
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    dev = resolve_device(str(device))
    out = Path(out_dir) if out_dir is not None else None
    if figures and out is None:
        figures = False

    resolved = resolve_agents(agents, dev, task_config(task, crop=None) if task is not None else None)
    task_cfg = check_tasks(resolved, task)
    full, ds_name, ds_kwargs = _resolve_dataset(dataset, dataset_kwargs, resolved)
    data = split_dataset(full, split, fold, n_folds, split_seed)
    n_total = len(data)
    if n_total == 0:
        raise ValueError(f"split {split!r} (fold {fold} of {n_folds}) of {full!r} holds no pairs")
    indices = list(range(n_total if max_pairs is None else min(max_pairs, n_total)))
    where = f"split={split!r}, fold={fold}, n_folds={n_folds}, split_seed={split_seed}"
    if progress:
        print(f"pixgrl evaluate: dataset={ds_name!r} {json.dumps(ds_kwargs, default=str)} ({full!r}), {where}: "
              f"{len(indices)} pairs; task {describe_task(task_cfg)}", file=sys.stderr)
    checks, notes = check_training_patients(resolved, full, ds_name, ds_kwargs, evaluated_patients(data, len(indices)),
                                            where, allow_train_patients=allow_train_patients)
    for check in checks.values():
        if check.differing:
            warnings.warn(check.note, UserWarning, stacklevel=2)

    clf, clf_info, clf_notes = resolve_classifier(classifier, full, split, fold, n_folds, split_seed,
                                                  max_pairs=classifier_max_pairs, progress=progress)
    notes += clf_notes

    results_of = {ra.name: _AgentResults(ra.name) for ra in resolved}
    examples: list[dict[str, Any]] = []
    target_true, target_pred = [], []
    bar = tqdm(total=len(indices), desc="evaluate", unit="pair", disable=not progress, dynamic_ncols=True)
    for batch in _batches(data, indices, batch_size):
        pairs = [p for _, p in batch]
        inputs = torch.from_numpy(np.stack([p.input for p in pairs]))[:, None]
        targets = torch.from_numpy(np.stack([p.target for p in pairs]))[:, None]
        tumors, livers = [p.tumor_mask for p in pairs], [p.liver_mask for p in pairs]
        truths = [diagnosis_truth(p) for p in pairs]
        if clf is not None:
            for t, pr in zip(truths, clf.predict([p.target for p in pairs], tumors, livers)):
                if t is not None:
                    target_true.append(t)
                    target_pred.append(int(pr))
        keep = [k for k, p in enumerate(pairs) if len(examples) < n_examples and p.tumor_mask.any()]
        keep = keep[: max(0, n_examples - len(examples))]
        batch_examples = [{"index": batch[k][0], "source": pairs[k].meta.source, "input": pairs[k].input,
                           "target": pairs[k].target, "synth": {}} for k in keep]
        for ra in resolved:
            states = _synthesize(ra, pairs, inputs, targets, deterministic)
            synth = states[-1]
            if curves:
                results_of[ra.name].add_curves(states, targets.numpy()[:, 0])
            preds = clf.predict(list(synth), tumors, livers) if clf is not None else [None] * len(pairs)
            results_of[ra.name].add_pairs(data, batch, synth, truths, preds)
            for k, ex in zip(keep, batch_examples):
                ex["synth"][ra.name] = synth[k]
        examples.extend(batch_examples)
        bar.update(len(batch))
    bar.close()

    rows = [r for ra in resolved for r in results_of[ra.name].rows]
    results: dict[str, Any] = {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "device": device_info(dev),
        "dataset": {"name": ds_name, "kwargs": ds_kwargs, "repr": repr(full), "split": split, "fold": fold,
                    "n_folds": n_folds, "split_seed": split_seed, "n_pairs": len(indices),
                    "n_pairs_in_split": n_total,
                    "n_tumor_pairs": int(sum(1 for r in results_of[resolved[0].name].rows if r["has_tumor"])),
                    "n_patients": checks[resolved[0].name].n_evaluated,
                    "phantom_version": getattr(full, "version", None) if ds_name == "phantom" else None},
        "task": {"id": task_of(task_cfg), "requested": task, "description": describe_task(task_cfg),
                 "factors": list(task_cfg.factors), "episode_length": task_cfg.episode_length,
                 "conditioning": list(task_cfg.conditioning)},
        "protocol": {"allow_train_patients": bool(allow_train_patients),
                     "trained_on_evaluated_patients": [a for a, c in checks.items() if c.status == "overlap"],
                     "patients": {a: c.to_dict() for a, c in checks.items()}},
        "evaluation": {"whole_images": True, "deterministic": deterministic, "batch_size": batch_size,
                       "crop": "ignored: agents run on whole slices"},
        "agents": {ra.name: ra.describe() for ra in resolved},
        "metric_names": [k for k in _PAIR_METRICS if k in M.METRIC_NAMES or any(k in r for r in rows)],
        "dataset_metric_names": list(M.DATASET_METRIC_NAMES),
        "aggregates": {name: r.aggregates() for name, r in results_of.items()},
        "dataset_metrics": {name: r.dataset_metrics(clf is not None) for name, r in results_of.items()},
        "curves": {name: c for name, r in results_of.items() if (c := r.curves()) is not None},
        "classifier": clf_info,
        "warnings": notes,
        "paper": dict(M.PAPER_VALUES),
        "paper_std": dict(M.PAPER_STD),
    }
    if clf is not None:
        results["classifier"]["on_true_targets"] = M.diagnosis_metrics(target_pred, target_true)
    results["rows"] = rows

    if out is not None:
        from pixgrl import report

        out.mkdir(parents=True, exist_ok=True)
        if clf is not None and classifier == "fit":
            clf.save(out / "lesion_classifier.json")
        results["figures"] = write_figures(results, out, examples) if figures else []
        write_json(out / "results.json", results)
        report.write_report(results, out)
    return results


def _pair_id(data: PairDataset, i: int, pair: Pair) -> dict[str, Any]:
    ds_index = data.indices[i] if isinstance(data, Subset) else i
    return {"dataset_index": ds_index, "patient_id": pair.meta.patient_id, "slice_index": pair.meta.slice_index,
            "label": LABELS[pair.label] if pair.label != UNKNOWN_LABEL else None, "source": pair.meta.source,
            "has_tumor": bool(pair.tumor_mask.any())}


__all__ = ["evaluate", "run_trajectory"]
