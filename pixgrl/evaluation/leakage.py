"""Training patients in an evaluation: found exactly, refused unless explicitly allowed.

An agent's training patients follow from the env config it was trained with (a checkpoint's ``env_config``): the
same dataset built with the same settings, split by :func:`~pixgrl_env.data.split_dataset`, which is a pure function
of the patients, ``fold``, ``n_folds`` and ``split_seed``. :func:`check_training_patients` intersects them with the
evaluated patients, per agent:

- **overlap**: :class:`LeakageError`, naming the agent, its training split and how many evaluated patients it trained
  on; with ``allow_train_patients=True`` the overlap is recorded instead (``results.json`` ``protocol``, the report's
  header) and the evaluation goes on;
- **no overlap**: fine; when the evaluated patients include the agent's validation fold (which training-time
  evaluation and model selection use), a note says so;
- **unknown**: another dataset, other dataset settings or another phantom version than the agent's training data
  (no overlap can be established: a warning names the differing settings), or an agent that states no training
  split (Agent objects whose ``env_config`` split is ``"all"``, entry points that returned the config they were
  handed);
- **reference**: identity and oracle learn nothing: nothing to check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pixgrl_env.config import EnvConfig
from pixgrl_env.data import PairDataset, make_dataset, split_dataset

#: Statuses of :class:`PatientCheck`.
STATUSES: tuple[str, ...] = ("no overlap", "overlap", "unknown", "reference")
_MISSING = object()


class LeakageError(ValueError):
    """An agent would be evaluated on patients it was trained on (and ``allow_train_patients`` is False)."""


@dataclasses.dataclass
class PatientCheck:
    """The outcome of :func:`check_training_patients` for one agent.

    Attributes:
        status: One of :data:`STATUSES`.
        n_evaluated: Evaluated patients.
        n_overlap: Evaluated patients the agent was trained on (None when unknown).
        n_validation: Evaluated patients of the agent's validation fold (None when unknown or not applicable).
        note: Why the status is what it is (None for a plain "no overlap").
        differing: The dataset settings in which the agent's training data differ from the evaluated data
            (:func:`dataset_differences`); empty when they are the same or unknown.
    """

    status: str
    n_evaluated: int
    n_overlap: int | None = None
    n_validation: int | None = None
    note: str | None = None
    differing: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def split_description(cfg: EnvConfig) -> str:
    """``"dataset='toy' {'size': 32}, split='train', fold=0, n_folds=5, split_seed=0"``: where ``cfg``'s episodes
    come from."""
    kwargs = f" {dict(cfg.dataset_kwargs)}" if cfg.dataset_kwargs else ""
    return (f"dataset={cfg.dataset!r}{kwargs}, split={cfg.split!r}, fold={cfg.fold}, n_folds={cfg.n_folds}, "
            f"split_seed={cfg.split_seed}")


def dataset_differences(trained: EnvConfig, name: str, kwargs: Mapping[str, Any], data: PairDataset,
                        trained_version: str | None = None) -> list[str]:
    """The settings in which an agent's training data differ from the evaluated data; empty when they are the same.

    Args:
        trained: The agent's training env config (its ``dataset`` and ``dataset_kwargs``).
        name, kwargs: The evaluated dataset's name (``"custom"`` for an object) and arguments.
        data: The evaluated dataset (whole, before the split).
        trained_version: The phantom generator version the agent was trained on, if recorded.

    Returns:
        ``["dataset"]`` for another dataset or a ``"custom"`` one (an object: two of them cannot be told apart by
        name); otherwise the names of the arguments whose values differ (explicit arguments that equal the defaults
        do not count: two datasets whose ``repr`` is equal are the same), and ``"version"`` when the phantom
        generator's version differs from ``trained_version``.
    """
    if trained.dataset != name or name == "custom":
        return ["dataset"]
    out: list[str] = []
    a, b = dict(trained.dataset_kwargs), dict(kwargs)
    if a != b:
        try:
            same = repr(make_dataset(trained.dataset, **a)) == repr(data)
        except Exception:  # noqa: BLE001 - settings that no longer build (a moved folder) are simply different
            same = False
        if not same:
            out = sorted(k for k in {*a, *b} if a.get(k, _MISSING) != b.get(k, _MISSING))
    version = getattr(data, "version", None)
    if trained_version is not None and version is not None and trained_version != version and "version" not in out:
        out.append("version")
    return out


def _patients(data: PairDataset, indices: Sequence[int] | None = None) -> set[str]:
    index = data.item_index()
    return {index[i][0] for i in (range(len(index)) if indices is None else indices)}


def check_training_patients(agents: Sequence[Any], data: PairDataset, name: str, kwargs: Mapping[str, Any],
                            evaluated: set[str], evaluation: str, *,
                            allow_train_patients: bool = False) -> tuple[dict[str, PatientCheck], list[str]]:
    """Check every agent against the evaluated patients (see the module docstring).

    Args:
        agents: :class:`~pixgrl.evaluation.agents.ResolvedAgent` items (``name``, ``trained_on``,
            ``phantom_version``, ``is_reference``).
        data: The evaluated dataset, whole (before the split).
        name, kwargs: Its name (``"custom"`` for an object) and arguments.
        evaluated: The patient ids evaluated.
        evaluation: The evaluated split, for messages (``"split='test', fold=0, n_folds=5, split_seed=0"``).
        allow_train_patients: Record an overlap instead of raising.

    Returns:
        ``({agent: PatientCheck}, notes)``; notes go to ``results["warnings"]``.

    Raises:
        LeakageError: an agent was trained on evaluated patients and ``allow_train_patients`` is False.
    """
    checks: dict[str, PatientCheck] = {}
    notes: list[str] = []
    refusals: list[str] = []
    cache: dict[tuple[str, int, int, int], set[str] | None] = {}

    def patients_of(split: str, fold: int, n_folds: int, seed: int) -> set[str] | None:
        key = (split, fold, n_folds, seed)
        if key not in cache:
            try:
                cache[key] = _patients(split_dataset(data, split, fold, n_folds, seed))
            except ValueError:  # e.g. more folds than patients: not the split the agent was trained with
                cache[key] = None
        return cache[key]

    n_eval = len(evaluated)
    for ra in agents:
        cfg: EnvConfig | None = ra.trained_on
        if ra.is_reference:
            checks[ra.name] = PatientCheck("reference", n_eval, note="a reference agent: nothing learned")
            continue
        if cfg is None:
            note = (f"{ra.name}: its training patients are unknown (no checkpoint, and its env_config states no "
                    f"training split): the evaluated patients were not checked against them")
            checks[ra.name] = PatientCheck("unknown", n_eval, note=note)
            notes.append(note)
            continue
        trained = split_description(cfg)
        differing = dataset_differences(cfg, name, kwargs, data, ra.phantom_version)
        if differing:
            note = (f"{ra.name}: trained on {trained}, phantom version {ra.phantom_version}"
                    if "version" in differing else f"{ra.name}: trained on {trained}")
            note += (f"; this evaluation uses dataset={name!r} {dict(kwargs)}"
                     + (f", phantom version {getattr(data, 'version', None)}" if "version" in differing else "")
                     + f" (differing: {', '.join(differing)}), so no overlap between its training patients and the "
                       f"evaluated ones can be established")
            checks[ra.name] = PatientCheck("unknown", n_eval, note=note, differing=differing)
            notes.append(note)
            continue
        train_ids = patients_of(cfg.split, cfg.fold, cfg.n_folds, cfg.split_seed)
        if train_ids is None:
            note = f"{ra.name}: trained on {trained}, a split this dataset cannot make: patients not checked"
            checks[ra.name] = PatientCheck("unknown", n_eval, note=note)
            notes.append(note)
            continue
        overlap = len(train_ids & evaluated)
        val_ids = patients_of("val", cfg.fold, cfg.n_folds, cfg.split_seed) if cfg.split == "train" else None
        n_val = len(val_ids & evaluated) if val_ids is not None else None
        if overlap:
            message = (f"agent {ra.name!r} was trained on {overlap} of the {n_eval} evaluated patients (its training "
                       f"split: {trained}; evaluated: {evaluation})")
            checks[ra.name] = PatientCheck("overlap", n_eval, overlap, n_val, note=message)
            if allow_train_patients:
                notes.append(f"{message}: allowed by allow_train_patients (--allow-train-patients); its scores "
                             f"include patients it was trained on")
            else:
                refusals.append(message + _held_out_hint(cfg))
            continue
        note = None
        if n_val:
            note = (f"{ra.name}: {n_val} of the {n_eval} evaluated patients ({evaluation}) are its validation fold "
                    f"(fold {(cfg.fold + 1) % cfg.n_folds} of {cfg.n_folds}), which training-time evaluation and "
                    f"model selection use: not a held-out test score")
            notes.append(note)
        checks[ra.name] = PatientCheck("no overlap", n_eval, 0, n_val, note=note)
    if refusals:
        raise LeakageError(
            "refusing to evaluate agents on patients they were trained on: " + "; ".join(refusals)
            + ". Scores on training patients measure memorisation, not synthesis for unseen patients. Pass "
              "--allow-train-patients (allow_train_patients=True) to evaluate anyway; the report then says so in "
              "its header.")
    return checks, notes


def _held_out_hint(cfg: EnvConfig) -> str:
    if cfg.split == "all":
        return "; it was trained on every patient of this dataset: evaluate it on other data"
    return (f"; its held-out patients are --split test --fold {cfg.fold} --n-folds {cfg.n_folds} --split-seed "
            f"{cfg.split_seed}")


def evaluated_patients(data: PairDataset, n: int) -> set[str]:
    """The patient ids of the first ``n`` items of ``data`` (an evaluated split)."""
    return _patients(data, range(n))


__all__ = ["STATUSES", "LeakageError", "PatientCheck", "check_training_patients", "dataset_differences",
           "evaluated_patients", "split_description"]
