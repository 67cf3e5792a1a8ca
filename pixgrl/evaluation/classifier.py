"""The lesion classifier of an evaluation (the diagnosis proxy): fitted on the TRUE enhanced images of the train
split of the evaluated fold, loaded from JSON, or given.

Slice-level truth (:func:`diagnosis_truth`): the patient's label on slices that show a lesion; a slice whose
tumour mask is empty is "normal" for the truth and, by the classifier's rule, for every agent. Pairs with an
unknown label (``-1``) are left out of the diagnosis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixgrl import metrics as M
from pixgrl_env.data import LABELS, Pair, PairDataset, split_dataset
from pixgrl_env.data.base import UNKNOWN_LABEL


def resolve_classifier(classifier: str | Path | M.LesionClassifier | None, dataset: PairDataset, split: str,
                       fold: int, n_folds: int, split_seed: int, *, max_pairs: int | None = None,
                       progress: bool = False) -> tuple[M.LesionClassifier | None, dict[str, Any], list[str]]:
    """The classifier an evaluation of ``split`` uses.

    Args:
        classifier: ``"fit"`` (fit on the train split of the same fold, which the test and val splits are disjoint
            from; on every pair when ``split="all"``), a saved classifier JSON path, a fitted
            :class:`~pixgrl.metrics.LesionClassifier`, or None (no diagnosis).
        dataset: The whole dataset (before the split).
        split, fold, n_folds, split_seed: The evaluated split (:func:`~pixgrl_env.data.split_dataset`).
        max_pairs: Read at most this many training pairs to fit.
        progress: Show a progress bar while fitting.

    Returns:
        ``(classifier or None, info for results.json, warnings)``.
    """
    if isinstance(classifier, M.LesionClassifier):
        return classifier, {"used": True, "source": "given object"}, []
    if isinstance(classifier, (str, Path)) and str(classifier) != "fit":
        if not Path(classifier).is_file():
            raise FileNotFoundError(f"classifier file {classifier} does not exist (or pass classifier='fit')")
        return M.LesionClassifier.load(classifier), {"used": True, "source": str(classifier)}, []
    if classifier is None:
        return None, {"used": False}, []
    if classifier != "fit":
        raise ValueError(f"classifier must be 'fit', a JSON path, a LesionClassifier or None, got {classifier!r}")
    fit_split = "all" if split == "all" else "train"
    clf, info = fit_classifier(split_dataset(dataset, fit_split, fold, n_folds, split_seed), max_pairs=max_pairs,
                               progress=progress)
    notes = []
    if split in ("train", "trainval", "all"):  # test and val are disjoint from the train split
        notes.append(f"the lesion classifier was fitted on split={fit_split!r}, which overlaps the evaluated "
                     f"split={split!r}: diagnosis scores are optimistic")
    return clf, {"used": clf is not None, "source": f"fitted on split={fit_split!r} fold={fold}", **info}, notes


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


def diagnosis_truth(pair: Pair) -> int | None:
    """Slice-level truth: the label on a slice with a lesion, normal (0) without one, None when unknown."""
    if pair.label == UNKNOWN_LABEL:
        return None
    return int(pair.label) if pair.tumor_mask.any() else 0


__all__ = ["diagnosis_truth", "fit_classifier", "resolve_classifier"]
