"""Scripted evaluation: run agents over a data split and produce the paper's tables (Tables 1–2) and figures.

    >>> from pixgrl.evaluation import evaluate
    >>> results = evaluate(["runs/a2c/checkpoint.pt", "identity", "oracle"], dataset="phantom",
    ...                    dataset_kwargs={"size": 128}, split="test", fold=0, out_dir="eval/")  # doctest: +SKIP

What :func:`evaluate` does, in order:

1. **Agents.** Each agent is an :class:`~agents.base.Agent` object (``{"name": agent}``) or a spec string:
   a checkpoint path (any registered agent, loaded without pickle), ``"identity"`` / ``"oracle"`` (the reference
   agents of :mod:`baselines.reference`, built without a checkpoint), or ``"module:callable"`` (an entry point that
   returns an Agent; it is called with ``device=`` and ``env_config=`` where its signature accepts them, the
   paper's :class:`EnvConfig` when it requires one and none is known). Prefix a
   spec with ``label=`` to name it (``"ours=runs/a/checkpoint.pt"``); otherwise a checkpoint is named by its agent
   (``pixgrl``; ``pixgrl@<run folder>`` when two share a name). An agent acts in the task of its own
   ``env_config`` (action factors, episode length, conditioning channels), which a checkpoint stores.
2. **Data.** ``dataset`` is a :class:`~pixgrl_env.data.PairDataset`, a name for
   :func:`~pixgrl_env.data.make_dataset` (with ``dataset_kwargs``), or None: the dataset of the first checkpoint's
   env_config (else the phantom). The split is patient-level (:func:`~pixgrl_env.data.split_dataset` with
   ``fold``, ``n_folds``, ``split_seed``). An agent trained on another dataset or split configuration gets a warning
   in ``results["warnings"]``: test patients may then have been in its training set.
3. **Whole images.** Evaluation always runs on whole slices: an agent's training ``crop`` is ignored (every agent
   of this package is fully convolutional). Pairs of equal shape are batched (``batch_size``); a dataset with mixed
   sizes simply gives smaller batches.
4. **Per-pair metrics.** :func:`pixgrl.metrics.evaluate_pair` for every pair and agent (see that module for
   definitions, region boxes and NaN conventions).
5. **Dataset-level metrics.** ``size_pcc``: Pearson r of tumour areas (synthesized vs real enhanced, segmented the
   same way) over the pairs with a tumour. Diagnosis: a :class:`~pixgrl.metrics.LesionClassifier` is fitted on
   the TRUE enhanced images (``pair.target``) with the ground-truth tumour masks of the TRAIN split of the same
   fold (``split="all"`` fits on all pairs: then train and test overlap, which is flagged) and applied to each
   agent's synthesized images with the same masks. Slice-level truth: the patient's label on slices that show a
   lesion; a slice whose tumour mask is empty is "normal" for the truth and, by the classifier's rule, for every
   agent, so such slices add agreeing cases to every agent alike. Pairs with an unknown label (``-1``) are left
   out of the diagnosis (``diag_n`` counts the cases). The fitted classifier is saved to
   ``out_dir/lesion_classifier.json``, and its accuracy on the real test targets is reported as the ceiling row.
6. **Per-step curves.** From :meth:`Agent.trajectory`, the mean SSIM and MSE to the target of s_0 … s_T.
7. **Outputs** in ``out_dir``: ``results.json`` (format below), ``report.md`` (:mod:`pixgrl.report`) and PNG
   figures (``figures=True``).

``results.json``: ``format``, ``created``, ``versions`` (pixgrl, python, torch, gymnasium, numpy, scipy, skimage,
nibabel, matplotlib), ``device``, ``dataset`` (name, kwargs, repr, split, fold, n_folds, split_seed, n_pairs),
``agents`` (per agent: spec, registry name, checkpoint, resolved ``env_config`` and ``config``), ``metric_names``,
``aggregates`` (``{agent: {metric: {"mean", "std", "n"}}}``: population std over pairs, NaN skipped),
``dataset_metrics`` (``{agent: {size_pcc, diag_*}}``), ``curves`` (``{agent: {"ssim": [...], "mse": [...]}}``),
``rows`` (one per pair and agent: identifiers, every metric, ``diag_true``/``diag_pred``), ``classifier``,
``warnings``, ``paper`` (:data:`~pixgrl.metrics.PAPER_VALUES`). JSON has no NaN/Infinity: NaN is written as
``null`` and ±inf as the strings ``"inf"``/``"-inf"``; :func:`load_results` turns them back into floats.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import inspect
import json
import math
import platform
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixgrl import metrics as M
from pixgrl_env.config import EnvConfig, check_int
from pixgrl_env.data import LABELS, Pair, PairDataset, make_dataset, split_dataset
from pixgrl_env.data.base import SPLITS, UNKNOWN_LABEL, Subset

FORMAT = "pixgrl-evaluation-v1"
CV_FORMAT = "pixgrl-cross-validation-v1"
#: Agents built without a checkpoint (by :mod:`baselines.reference`).
BUILTIN_AGENTS: tuple[str, ...] = ("identity", "oracle")
#: Metrics where lower is better; every other rankable metric is higher-is-better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"nrmse", "ext_nrmse", "int_nrmse", "hausdorff_mm"})
#: Metrics that describe sizes, not quality: not rankable.
UNRANKABLE: frozenset[str] = frozenset({"size_pred_mm2", "size_ref_mm2"})
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_LABEL = re.compile(r"^[A-Za-z0-9_][\w.+\- ]*$")


# ----------------------------------------------------------------------------------------------------------------
# Agents: specs → Agent objects
# ----------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ResolvedAgent:
    """One agent of an evaluation.

    Attributes:
        name: Its label in tables and files.
        agent: The :class:`~agents.base.Agent`.
        spec: What the user passed (a spec string, or ``"<object>"``).
        checkpoint: The checkpoint file, if it came from one.
        config: The agent's resolved hyper-parameters (from the checkpoint), if known.
    """

    name: str
    agent: Any
    spec: str
    checkpoint: str | None = None
    config: dict[str, Any] | None = None

    @property
    def needs_target(self) -> bool:
        return bool(getattr(self.agent, "needs_target", False))

    def describe(self) -> dict[str, Any]:
        cfg = getattr(self.agent, "env_config", None)
        return {
            "spec": self.spec, "agent": getattr(self.agent, "name", type(self.agent).__name__),
            "class": f"{type(self.agent).__module__}.{type(self.agent).__qualname__}",
            "checkpoint": self.checkpoint, "needs_target": self.needs_target,
            "env_config": cfg.to_dict() if hasattr(cfg, "to_dict") else None, "config": self.config,
        }


def build_reference_agent(name: str, env_config: EnvConfig | None = None, device: Any = "cpu") -> Any:
    """The ``"identity"`` or ``"oracle"`` agent of :mod:`baselines.reference`, built without a checkpoint.

    Args:
        name: ``"identity"`` or ``"oracle"``.
        env_config: The task (action factors, episode length); default :class:`EnvConfig` (the paper's).
        device: Torch device.
    """
    if name not in BUILTIN_AGENTS:
        raise ValueError(f"unknown reference agent {name!r}; expected one of {BUILTIN_AGENTS}")
    try:
        ref = importlib.import_module("baselines.reference")
    except ImportError as exc:
        raise ImportError(f"agent {name!r} needs baselines.reference, which cannot be imported ({exc})") from exc
    return ref.build(name, env_config if env_config is not None else EnvConfig(), device)


def _is_agent(obj: Any) -> bool:
    return callable(getattr(obj, "trajectory", None)) and hasattr(obj, "env_config")


def _call_entry_point(spec: str, device: torch.device, env_config: EnvConfig | None) -> Any:
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"agent spec {spec!r}: cannot import module {module_name!r} ({exc})") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"agent spec {spec!r}: {module_name} has no callable {attr!r}")
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs: dict[str, Any] = {}
    if "device" in params:
        kwargs["device"] = device
    if "env_config" in params:
        if env_config is not None:
            kwargs["env_config"] = env_config
        elif params["env_config"].default is inspect.Parameter.empty:
            kwargs["env_config"] = EnvConfig()
    return fn(**kwargs)


def _split_label(spec: str) -> tuple[str | None, str]:
    """``"ours=runs/a/checkpoint.pt"`` → ``("ours", "runs/a/checkpoint.pt")``; no label → ``(None, spec)``."""
    if "=" in spec:
        label, rest = spec.split("=", 1)
        if label and _LABEL.match(label) and rest:
            return label.strip(), rest
    return None, spec


def resolve_agent(spec: str, device: Any = "cpu", env_config: EnvConfig | None = None) -> ResolvedAgent:
    """Turn one agent spec into a :class:`ResolvedAgent` (the spec forms are listed in the module docstring).

    Args:
        spec: ``[label=]`` + a checkpoint path, ``"identity"``, ``"oracle"`` or ``"module:callable"``.
        device: Torch device to load onto.
        env_config: The task for ``"identity"``/``"oracle"`` (and entry points that take one).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"agent spec must be a non-empty string, got {spec!r}")
    from agents.checkpoint import load_checkpoint
    from pixgrl.registry import agent_module

    dev = torch.device(device)
    label, body = _split_label(spec.strip())
    path = Path(body).expanduser()
    if body in BUILTIN_AGENTS:
        agent = build_reference_agent(body, env_config, dev)
        return ResolvedAgent(label or body, agent, spec)
    if path.is_file():
        ckpt = load_checkpoint(path, map_location=dev)
        agent = agent_module(ckpt["agent"]).load(ckpt, dev)
        return ResolvedAgent(label or ckpt["agent"], agent, spec, checkpoint=str(path), config=ckpt["config"])
    if path.is_dir() and (path / "checkpoint.pt").is_file():
        inner = resolve_agent(str(path / "checkpoint.pt"), dev, env_config)
        return dataclasses.replace(inner, name=label or inner.name, spec=spec)
    if _ENTRY_POINT.match(body):
        agent = _call_entry_point(body, dev, env_config)
        if not _is_agent(agent):
            raise TypeError(f"agent spec {spec!r} returned {type(agent).__name__}, not an Agent (an object with "
                            f"trajectory() and env_config; subclass agents.base.Agent)")
        return ResolvedAgent(label or body.split(":")[1], agent, spec)
    raise ValueError(f"agent spec {spec!r} is neither an existing checkpoint file (or run folder holding "
                     f"checkpoint.pt), nor one of {BUILTIN_AGENTS}, nor a 'module:callable' entry point")


def _unique(name: str, taken: set[str], hint: str | None) -> str:
    if name not in taken:
        return name
    if hint:
        candidate = f"{name}@{hint}"
        if candidate not in taken:
            return candidate
    k = 2
    while f"{name}-{k}" in taken:
        k += 1
    return f"{name}-{k}"


def resolve_agents(agents: Mapping[str, Any] | Sequence[Any] | str, device: Any = "cpu",
                   env_config: EnvConfig | None = None) -> list[ResolvedAgent]:
    """Resolve a dict ``{name: Agent or spec}`` or a list of specs/Agents into uniquely named agents, in order.

    Args:
        agents: See :func:`evaluate`.
        device: Torch device for loaded agents (Agent objects keep their own device).
        env_config: The task for reference agents; default: the first checkpoint's env_config, else the paper's.
    """
    if isinstance(agents, (str, Path)):
        agents = [str(agents)]
    if isinstance(agents, Mapping):
        items: list[tuple[str | None, Any]] = [(str(k), v) for k, v in agents.items()]
    elif isinstance(agents, Sequence):
        items = [(None, v) for v in agents]
    else:
        raise TypeError(f"agents must be a dict {{name: Agent or spec}} or a list of specs, got "
                        f"{type(agents).__name__}")
    if not items:
        raise ValueError("agents is empty: give at least one agent (a checkpoint, 'identity', 'oracle', ...)")
    # Checkpoints and objects first, so reference agents can default to the first trained agent's task.
    resolved: list[ResolvedAgent | None] = [None] * len(items)
    deferred = []
    for i, (key, value) in enumerate(items):
        if isinstance(value, (str, Path)):
            label, body = _split_label(str(value))
            if body.strip() in BUILTIN_AGENTS:
                deferred.append(i)
                continue
            ra = resolve_agent(str(value), device, env_config)
        elif _is_agent(value):
            ra = ResolvedAgent(key or getattr(value, "name", type(value).__name__), value, "<object>")
        else:
            raise TypeError(f"agent {key or i!r} must be an Agent or a spec string, got {type(value).__name__}")
        if key is not None:
            ra.name = key
        resolved[i] = ra
    ref_cfg = env_config
    if ref_cfg is None:
        ref_cfg = next((r.agent.env_config for r in resolved if r is not None), None)
        if ref_cfg is not None:
            ref_cfg = ref_cfg.replace(crop=None)
    for i in deferred:
        key, value = items[i]
        ra = resolve_agent(str(value), device, ref_cfg)
        if key is not None:
            ra.name = key
        resolved[i] = ra
    out: list[ResolvedAgent] = []
    taken: set[str] = set()
    for ra in resolved:
        assert ra is not None
        hint = Path(ra.checkpoint).parent.name if ra.checkpoint else None
        ra.name = _unique(ra.name, taken, hint)
        taken.add(ra.name)
        out.append(ra)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Running an agent on a batch
# ----------------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------------
# Dataset and classifier
# ----------------------------------------------------------------------------------------------------------------
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


def _split_warnings(agents: Sequence[ResolvedAgent], name: str, kwargs: dict[str, Any], split: str, fold: int,
                    n_folds: int, split_seed: int) -> list[str]:
    out = []
    for ra in agents:
        if not ra.checkpoint:
            continue
        cfg = ra.agent.env_config
        trained = (cfg.dataset, cfg.dataset_kwargs, cfg.n_folds, cfg.split_seed, cfg.fold, cfg.split)
        if cfg.dataset != name or dict(cfg.dataset_kwargs) != kwargs:
            out.append(f"{ra.name}: trained on dataset {cfg.dataset!r} {cfg.dataset_kwargs}, evaluated on {name!r} "
                       f"{kwargs}")
        elif cfg.split == "all" or (cfg.n_folds, cfg.split_seed) != (n_folds, split_seed) or (
                split in ("test", "all") and cfg.fold != fold) or split == "train":
            out.append(f"{ra.name}: trained with split={trained[5]!r} fold={trained[4]} n_folds={trained[2]} "
                       f"split_seed={trained[3]}; evaluated on split={split!r} fold={fold} n_folds={n_folds} "
                       f"split_seed={split_seed}: evaluation pairs may have been seen in training")
    return out


def fit_classifier(dataset: PairDataset, *, max_pairs: int | None = None,
                   progress: bool = False) -> tuple[M.LesionClassifier | None, dict[str, Any]]:
    """Fit a :class:`~pixgrl.metrics.LesionClassifier` on the TRUE enhanced images of ``dataset``.

    Uses ``pair.target``, ``pair.tumor_mask``, ``pair.liver_mask`` and ``pair.label`` of every pair with a known
    label (at most ``max_pairs``, in order); slices with an empty tumour mask are normal by the classifier's rule
    and not fitted on. Returns ``(None, info)`` when there is nothing to fit on (no labelled slice with a lesion);
    ``info`` says why.
    """
    from tqdm.auto import tqdm

    images, tumors, livers, labels = [], [], [], []
    n_seen = 0
    index = dataset.item_index()
    todo = [i for i, (_, lab) in enumerate(index) if lab != UNKNOWN_LABEL]
    if max_pairs is not None:
        todo = todo[:max_pairs]
    for i in tqdm(todo, desc="classifier", unit="pair", disable=not progress, leave=False):
        pair = dataset[i]
        n_seen += 1
        if pair.tumor_mask.any():
            images.append(pair.target)
            tumors.append(pair.tumor_mask)
            livers.append(pair.liver_mask)
            labels.append(pair.label)
    info: dict[str, Any] = {"fit_on": "true enhanced images (pair.target) with ground-truth tumour masks",
                            "n_pairs_read": n_seen, "n_lesion_slices": len(labels),
                            "class_counts": {LABELS[k]: labels.count(k) for k in range(len(LABELS))}}
    if not labels:
        info["skipped"] = "no labelled slice with a lesion to fit on"
        return None, info
    return M.LesionClassifier().fit(images, tumors, livers, labels), info


def _diag_truth(pair: Pair) -> int | None:
    if pair.label == UNKNOWN_LABEL:
        return None
    return int(pair.label) if pair.tumor_mask.any() else 0


# ----------------------------------------------------------------------------------------------------------------
# JSON helpers
# ----------------------------------------------------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN → None, ±inf → ``"inf"``/``"-inf"``, numpy scalars/arrays and tuples → plain Python."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _from_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if obj == "inf":
        return math.inf
    if obj == "-inf":
        return -math.inf
    return obj


_NUMERIC_KEYS = frozenset({*M.METRIC_NAMES, *M.DATASET_METRIC_NAMES, "mean", "std", "diag_n"})


def _nulls_to_nan(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, dict):
        return {k: _nulls_to_nan(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nulls_to_nan(v, key) for v in obj]
    if obj is None and key in _NUMERIC_KEYS | {"ssim", "mse"}:
        return math.nan
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (see :func:`to_jsonable`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (or a folder holding one); metric nulls become NaN and ``"inf"`` strings inf."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, CV_FORMAT):
        raise ValueError(f"{path} is not a pixgrl evaluation result (expected format {FORMAT!r})")
    return _nulls_to_nan(_from_json(data))


def versions() -> dict[str, str]:
    """Versions of pixgrl and the libraries its numbers depend on."""
    import gymnasium
    import matplotlib
    import nibabel
    import scipy
    import skimage

    import pixgrl_env

    return {"pixgrl": pixgrl_env.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "skimage": skimage.__version__, "nibabel": nibabel.__version__, "matplotlib": matplotlib.__version__}


def _device_info(dev: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"device": str(dev), "platform": platform.platform()}
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


# ----------------------------------------------------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------------------------------------------------
class _Accumulator:
    """Per-agent running results of :func:`evaluate`."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.diag_true: list[int] = []
        self.diag_pred: list[int] = []
        self.curve_sum: np.ndarray | None = None  # (2, T + 1): ssim, mse sums
        self.curve_n = 0


def evaluate(agents: Mapping[str, Any] | Sequence[Any] | str, dataset: PairDataset | str | None = None, *,
             dataset_kwargs: Mapping[str, Any] | None = None, split: str = "test", fold: int = 0, n_folds: int = 5,
             split_seed: int = 0, out_dir: str | Path | None = None, device: str = "auto",
             max_pairs: int | None = None, batch_size: int = 16, figures: bool = True, progress: bool = True,
             classifier: str | Path | M.LesionClassifier | None = "fit", classifier_max_pairs: int | None = None,
             n_examples: int = 4, deterministic: bool = True, curves: bool = True) -> dict[str, Any]:
    """Run every agent over a split and compute the paper's metrics (the module docstring lists the steps).

    Args:
        agents: ``{name: Agent or spec}`` or a list of specs (checkpoint paths or run folders, ``"identity"``,
            ``"oracle"``, ``"module:callable"``, each optionally ``"label=..."``) and/or Agent objects.
        dataset: A :class:`~pixgrl_env.data.PairDataset`, a dataset name, or None (the first checkpoint's dataset,
            else ``"phantom"``).
        dataset_kwargs: Constructor arguments for a dataset name (e.g. ``{"size": 128}``, ``{"root": "data/"}``).
        split: ``"test"`` (the held-out fold), ``"train"`` or ``"all"``.
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

    Returns:
        The results dict written to ``results.json`` (with floats, NaN and inf as Python floats).
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

    resolved = resolve_agents(agents, dev)
    full, ds_name, ds_kwargs = _resolve_dataset(dataset, dataset_kwargs, resolved)
    data = split_dataset(full, split, fold, n_folds, split_seed)
    n_total = len(data)
    if n_total == 0:
        raise ValueError(f"split {split!r} (fold {fold} of {n_folds}) of {full!r} holds no pairs")
    indices = list(range(n_total if max_pairs is None else min(max_pairs, n_total)))
    notes = _split_warnings(resolved, ds_name, ds_kwargs, split, fold, n_folds, split_seed)

    # --- classifier (TRUE enhanced images of the train split) ---
    clf: M.LesionClassifier | None = None
    clf_info: dict[str, Any] = {"used": False}
    if isinstance(classifier, M.LesionClassifier):
        clf, clf_info = classifier, {"used": True, "source": "given object"}
    elif isinstance(classifier, (str, Path)) and str(classifier) != "fit":
        if not Path(classifier).is_file():
            raise FileNotFoundError(f"classifier file {classifier} does not exist (or pass classifier='fit')")
        clf, clf_info = M.LesionClassifier.load(classifier), {"used": True, "source": str(classifier)}
    elif classifier == "fit":
        fit_split = "all" if split == "all" else "train"
        fit_data = split_dataset(full, fit_split, fold, n_folds, split_seed)
        clf, info = fit_classifier(fit_data, max_pairs=classifier_max_pairs, progress=progress)
        clf_info = {"used": clf is not None, "source": f"fitted on split={fit_split!r} fold={fold}", **info}
        if split != "test":
            notes.append(f"the lesion classifier was fitted on split={fit_split!r}, which overlaps the evaluated "
                         f"split={split!r}: diagnosis scores are optimistic")
    elif classifier is not None:
        raise ValueError(f"classifier must be 'fit', a JSON path, a LesionClassifier or None, got {classifier!r}")

    # --- run ---
    acc = {ra.name: _Accumulator() for ra in resolved}
    examples: list[dict[str, Any]] = []
    target_true, target_pred = [], []
    bar = tqdm(total=len(indices), desc="evaluate", unit="pair", disable=not progress, dynamic_ncols=True)
    for batch in _batches(data, indices, batch_size):
        pairs = [p for _, p in batch]
        inputs = torch.from_numpy(np.stack([p.input for p in pairs]))[:, None]
        targets = torch.from_numpy(np.stack([p.target for p in pairs]))[:, None]
        truths = [_diag_truth(p) for p in pairs]
        if clf is not None:
            preds = clf.predict([p.target for p in pairs], [p.tumor_mask for p in pairs],
                                [p.liver_mask for p in pairs])
            for t, pr in zip(truths, preds):
                if t is not None:
                    target_true.append(t)
                    target_pred.append(int(pr))
        keep = [k for k, p in enumerate(pairs) if len(examples) < n_examples and p.tumor_mask.any()]
        keep = keep[: max(0, n_examples - len(examples))]
        batch_examples = [{"index": batch[k][0], "source": pairs[k].meta.source, "input": pairs[k].input,
                           "target": pairs[k].target, "synth": {}} for k in keep]
        for ra in resolved:
            a = acc[ra.name]
            agent = ra.agent
            try:
                states = run_trajectory(agent, inputs.to(agent.device), _extra_for(agent, pairs),
                                        targets.to(agent.device), deterministic)
            except Exception as exc:
                raise RuntimeError(f"agent {ra.name!r} failed on {pairs[0].meta.source} (batch of {len(pairs)}, "
                                   f"shape {pairs[0].shape}): {type(exc).__name__}: {exc}") from exc
            if states.ndim != 5 or states.shape[1:] != (len(pairs), 1, *pairs[0].shape):
                raise ValueError(f"agent {ra.name!r}: trajectory returned shape {tuple(states.shape)}, expected "
                                 f"(T + 1, {len(pairs)}, 1, {pairs[0].shape[0]}, {pairs[0].shape[1]})")
            states_np = states.detach().float().cpu().numpy()[:, :, 0]  # (T + 1, N, H, W)
            synth = states_np[-1]
            if curves:
                tgt = targets.numpy()[:, 0][None]
                mse = ((states_np.astype(np.float64) - tgt) ** 2).mean(axis=(2, 3)).sum(axis=1)
                ssim = np.array([np.nansum(M.ssim(s, tgt[0])) for s in states_np])
                sums = np.stack([ssim, mse])
                if a.curve_sum is None:
                    a.curve_sum = sums
                elif a.curve_sum.shape == sums.shape:
                    a.curve_sum += sums
                a.curve_n += len(pairs)
            d_pred = clf.predict(list(synth), [p.tumor_mask for p in pairs], [p.liver_mask for p in pairs]) \
                if clf is not None else [None] * len(pairs)
            for (i, pair), s, t, dp in zip(batch, synth, truths, d_pred):
                try:
                    row_metrics = M.evaluate_pair(s, pair)
                except ValueError as exc:
                    raise ValueError(f"agent {ra.name!r} on {pair.meta.source}: {exc}") from exc
                a.rows.append({"agent": ra.name, "index": i, **_pair_id(data, i, pair), **row_metrics,
                               "diag_true": LABELS[t] if t is not None else None,
                               "diag_pred": LABELS[int(dp)] if dp is not None and t is not None else None})
                if t is not None and dp is not None:
                    a.diag_true.append(t)
                    a.diag_pred.append(int(dp))
            for k, ex in zip(keep, batch_examples):
                ex["synth"][ra.name] = synth[k]
        examples.extend(batch_examples)
        bar.update(len(batch))
    bar.close()

    # --- aggregate ---
    results: dict[str, Any] = {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "device": _device_info(dev),
        "dataset": {"name": ds_name, "kwargs": ds_kwargs, "repr": repr(full), "split": split, "fold": fold,
                    "n_folds": n_folds, "split_seed": split_seed, "n_pairs": len(indices),
                    "n_pairs_in_split": n_total,
                    "n_tumor_pairs": int(sum(1 for r in acc[resolved[0].name].rows
                                             if r["has_tumor"]))},
        "evaluation": {"whole_images": True, "deterministic": deterministic, "batch_size": batch_size,
                       "crop": "ignored: agents run on whole slices"},
        "agents": {ra.name: ra.describe() for ra in resolved},
        "metric_names": list(M.METRIC_NAMES),
        "dataset_metric_names": list(M.DATASET_METRIC_NAMES),
        "aggregates": {},
        "dataset_metrics": {},
        "curves": {},
        "classifier": clf_info,
        "warnings": notes,
        "paper": dict(M.PAPER_VALUES),
        "paper_std": dict(M.PAPER_STD),
    }
    if clf is not None:
        results["classifier"]["on_true_targets"] = M.diagnosis_metrics(target_pred, target_true)
    for ra in resolved:
        a = acc[ra.name]
        agg = M.aggregate({k: r[k] for k in M.METRIC_NAMES} for r in a.rows)
        results["aggregates"][ra.name] = {k: {"mean": m, "std": s, "n": n} for k, (m, s, n) in agg.items()}
        dm = {"size_pcc": M.size_correlation([r["size_pred_mm2"] for r in a.rows],
                                             [r["size_ref_mm2"] for r in a.rows])}
        if clf is not None:
            dm.update(M.diagnosis_metrics(a.diag_pred, a.diag_true))
        else:
            dm.update({k: math.nan for k in M.DATASET_METRIC_NAMES if k != "size_pcc"})
            dm["diag_n"] = 0.0
        results["dataset_metrics"][ra.name] = dm
        if a.curve_sum is not None and a.curve_n:
            mean = a.curve_sum / a.curve_n
            results["curves"][ra.name] = {"t": list(range(mean.shape[1])), "ssim": mean[0].tolist(),
                                          "mse": mean[1].tolist(), "n": a.curve_n}
    results["rows"] = [r for ra in resolved for r in acc[ra.name].rows]

    if out is not None:
        from pixgrl import report

        out.mkdir(parents=True, exist_ok=True)
        if clf is not None and classifier == "fit":
            clf.save(out / "lesion_classifier.json")
        results["figures"] = report.write_figures(results, out, examples) if figures else []
        write_json(out / "results.json", results)
        report.write_report(results, out)
    return results


def _pair_id(data: PairDataset, i: int, pair: Pair) -> dict[str, Any]:
    ds_index = data.indices[i] if isinstance(data, Subset) else i
    return {"dataset_index": ds_index, "patient_id": pair.meta.patient_id, "slice_index": pair.meta.slice_index,
            "label": LABELS[pair.label] if pair.label != UNKNOWN_LABEL else None, "source": pair.meta.source,
            "has_tumor": bool(pair.tumor_mask.any())}


# ----------------------------------------------------------------------------------------------------------------
# Leaderboard
# ----------------------------------------------------------------------------------------------------------------
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
    valid = set(M.METRIC_NAMES) | set(M.DATASET_METRIC_NAMES)
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


# ----------------------------------------------------------------------------------------------------------------
# Cross-validation
# ----------------------------------------------------------------------------------------------------------------
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
            specs as for :func:`evaluate`, in which ``"{fold}"`` is replaced by the fold index
            (``"runs/fold{fold}/checkpoint.pt"``). A spec without ``{fold}`` (other than identity/oracle) uses the
            same agent on every fold, which leaks training pairs into the test folds (flagged in warnings).
        k: Number of folds (>= 2).
        out_dir: Per-fold results go to ``out_dir/fold<f>/``; the combination to ``out_dir/cv.json`` and
            ``out_dir/cv.md``.
        folds: Which folds to run (default all ``k``); the combination is over those.
        split_seed: Patient shuffle of the folds.
        progress: Progress bars.
        **evaluate_kwargs: Passed to :func:`evaluate` (dataset, dataset_kwargs, max_pairs, device, figures, ...).

    Returns:
        ``{"format", "k", "folds", "per_fold": [{agent: {metric: mean}}...], "combined": combine_folds(...),
        "fold_results": [...]}``.
    """
    check_int("k", k, 2)
    fold_list = list(range(k)) if folds is None else [int(f) for f in folds]
    if not fold_list or any(not 0 <= f < k for f in fold_list) or len(set(fold_list)) != len(fold_list):
        raise ValueError(f"folds must be distinct ints in [0, {k}), got {folds!r}")
    for key in ("fold", "n_folds", "split"):
        if key in evaluate_kwargs:
            raise ValueError(f"cross_validate sets {key!r} itself; do not pass it")
    out = Path(out_dir) if out_dir is not None else None
    fold_results = []
    for f in fold_list:
        fold_dir = out / f"fold{f}" if out is not None else None
        if callable(agents) and not isinstance(agents, (str, Mapping, Sequence)):
            fold_agents = agents(fold=f, n_folds=k, run_dir=fold_dir)
            if _is_agent(fold_agents):
                fold_agents = {getattr(fold_agents, "name", "agent"): fold_agents}
        else:
            fold_agents = _format_fold(agents, f)
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
        "warnings": [f"fold {f}: {w}" for f, r in zip(fold_list, fold_results) for w in r["warnings"]],
        "versions": versions(),
    }
    if out is not None:
        from pixgrl.report import cv_table

        write_json(out / "cv.json", cv)
        (out / "cv.md").write_text(cv_table(cv), encoding="utf-8")
    cv["fold_results"] = fold_results
    return cv


def _format_fold(agents: Any, fold: int) -> Any:
    def fmt(v: Any) -> Any:
        return v.replace("{fold}", str(fold)) if isinstance(v, str) else v

    if isinstance(agents, str):
        return [fmt(agents)]
    if isinstance(agents, Mapping):
        return {key: fmt(v) for key, v in agents.items()}
    return [fmt(v) for v in agents]


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------
def _json_dict(text: str) -> dict[str, Any]:
    import argparse

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
                    "optionally prefixed with 'label='. With --cv K, '{fold}' in an AGENT is replaced by the fold.")
    p.add_argument("agents", nargs="+", metavar="AGENT", help="agents to evaluate")
    p.add_argument("--dataset", default=None, help="phantom | nifti | breast_dce | toy (default: the first "
                                                    "checkpoint's dataset, else phantom)")
    p.add_argument("--dataset-kwargs", type=_json_dict, default=None,
                   help='dataset arguments as JSON, e.g. \'{"size": 128}\' or \'{"root": "data/"}\'')
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--max-pairs", type=int, default=None, help="evaluate only the first N pairs of the split")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--leaderboard", action="store_true", help="also write leaderboard.md ranked by --metric")
    p.add_argument("--metric", default="ssim", help="metric for --leaderboard (default ssim)")
    p.add_argument("--cv", type=int, default=None, metavar="K", help="K-fold cross-validation over patient folds")
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
                  classifier=None if args.classifier == "none" else args.classifier)
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


__all__ = [
    "BUILTIN_AGENTS", "CV_FORMAT", "FORMAT", "LOWER_IS_BETTER", "ResolvedAgent", "build_reference_agent",
    "combine_folds", "cross_validate", "evaluate", "fit_classifier", "fold_trainer", "leaderboard", "load_results",
    "metric_value", "rank", "register_cli", "resolve_agent", "resolve_agents", "run_trajectory", "to_jsonable",
    "versions", "write_json",
]
