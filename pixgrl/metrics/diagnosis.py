"""Diagnosis proxy: the paper's radiologists' diagnosis, replaced by a lesion classifier.

:class:`LesionClassifier` is a small multinomial logistic regression on hand-made lesion features
(:func:`lesion_features`), trained on real enhanced images and applied to synthesized ones: does the synthesis
keep the lesion's diagnostic appearance? :func:`diagnosis_metrics` gives 3-class accuracy and benign (normal +
hemangioma) vs malignant (HCC) accuracy, sensitivity and specificity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.special import softmax

from pixgrl.metrics.arrays import as_image, as_mask
from pixgrl_env.data.base import LABELS

#: Label index of the malignant class (HCC); every other label is benign.
MALIGNANT = LABELS.index("hcc")
#: Names of the :func:`lesion_features`, in order.
FEATURE_NAMES: tuple[str, ...] = ("enhancement", "rim_minus_core", "heterogeneity", "hyper_fraction", "log_area")


def lesion_features(image: Any, tumor_mask: Any, liver_mask: Any) -> np.ndarray:
    """Hand-made lesion features of an enhanced slice, relative to the surrounding liver.

    With ``ref`` = median of the liver parenchyma (liver minus the tumour dilated by 2 px; the rest of the image
    outside that dilation when the parenchyma has under 10 pixels) and ``scale = max(ref, 1e-3)``:

    - ``enhancement``: ``(mean(lesion) − ref) / scale`` (hemangioma ≫ 0, HCC washout < 0);
    - ``rim_minus_core``: ``(mean(rim) − mean(core)) / scale``, rim = the outer 2 px of the lesion, core = the rest
      (0 when the core is empty); positive for capsules and peripheral enhancement;
    - ``heterogeneity``: ``std(lesion) / scale``;
    - ``hyper_fraction``: fraction of lesion pixels brighter than ``ref``;
    - ``log_area``: ``log(lesion pixels)``.

    Args:
        image: ``(H, W)`` enhanced image.
        tumor_mask: ``(H, W)`` non-empty lesion mask.
        liver_mask: ``(H, W)`` liver mask.

    Returns:
        ``(5,)`` float64, in the order of :data:`FEATURE_NAMES`.
    """
    img = as_image(image, "image")
    t = as_mask(tumor_mask, "tumor_mask", img.shape)
    liver = as_mask(liver_mask, "liver_mask", img.shape)
    if not t.any():
        raise ValueError("lesion_features needs a non-empty tumor_mask")
    grown = ndimage.binary_dilation(t, iterations=2)
    paren = liver & ~grown
    if paren.sum() < 10:
        paren = ~grown if (~grown).any() else ~t
    ref = float(np.median(img[paren])) if paren.any() else 0.0
    scale = max(ref, 1e-3)
    les = img[t]
    core = ndimage.binary_erosion(t, iterations=2)
    rim = t & ~core
    rim_core = (float(img[rim].mean()) - float(img[core].mean())) / scale if core.any() else 0.0
    return np.array([(float(les.mean()) - ref) / scale, rim_core, float(les.std()) / scale,
                     float(np.mean(les > ref)), math.log(float(les.size))], dtype=np.float64)


def label_index(label: Any) -> int:
    """A label name (``"hcc"``) or index into :data:`LABELS` as an index; unknown (``-1``) labels are an error."""
    if isinstance(label, str):
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}; expected one of {LABELS}")
        return LABELS.index(label)
    idx = int(label)
    if not 0 <= idx < len(LABELS):
        raise ValueError(f"label {label!r} is not an index into {LABELS} (unknown labels cannot be used)")
    return idx


class LesionClassifier:
    """Diagnosis proxy: multinomial logistic regression on :func:`lesion_features` of the enhanced image.

    A slice with an empty tumour mask is "normal" by rule (label 0). Slices with a lesion are classified by an
    L2-regularised logistic regression (scikit-learn's :class:`~sklearn.linear_model.LogisticRegression`, L-BFGS,
    deterministic) on features standardised by :class:`~sklearn.preprocessing.StandardScaler`. The objective is
    the mean cross-entropy plus ``0.5·l2·‖W‖²`` over the softmax weights ``W`` (``K × F``, the intercept not
    penalised); with two classes scikit-learn fits the equivalent binomial model, stored here in the same
    symmetric softmax form. Trained on real enhanced images; applied to synthesized ones to ask whether the
    synthesis keeps the lesion's diagnostic appearance.

    The fitted parameters are plain arrays (``classes_``, ``mean_``, ``std_``, ``coef_``, ``intercept_``), saved
    as JSON (:meth:`save`), never pickled; prediction needs numpy only.

    Args:
        l2: Weight of ``0.5·‖W‖²`` added to the mean cross-entropy (> 0).
        max_iter: L-BFGS iteration cap (>= 1).
        tol: L-BFGS gradient tolerance (> 0).
    """

    def __init__(self, l2: float = 1e-2, max_iter: int = 500, tol: float = 1e-6):
        if not (math.isfinite(float(l2)) and float(l2) > 0):
            raise ValueError(f"l2 must be a positive finite float, got {l2!r}")
        if int(max_iter) < 1:
            raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
        if not (math.isfinite(float(tol)) and float(tol) > 0):
            raise ValueError(f"tol must be a positive finite float, got {tol!r}")
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.classes_: np.ndarray | None = None  # (K,) label indices
        self.mean_: np.ndarray | None = None  # (F,)
        self.std_: np.ndarray | None = None  # (F,)
        self.coef_: np.ndarray | None = None  # (K, F)
        self.intercept_: np.ndarray | None = None  # (K,)

    @staticmethod
    def _features(images: Iterable[Any], tumor_masks: Iterable[Any],
                  liver_masks: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Features of the slices with a lesion and a bool array saying which slices have one."""
        feats, has = [], []
        for img, tm, lm in zip(images, tumor_masks, liver_masks, strict=True):
            t = as_mask(tm, "tumor_mask")
            has.append(bool(t.any()))
            if t.any():
                feats.append(lesion_features(img, t, lm))
        x = np.stack(feats) if feats else np.zeros((0, len(FEATURE_NAMES)))
        return x, np.asarray(has, dtype=bool)

    def fit(self, images: Iterable[Any], tumor_masks: Iterable[Any], liver_masks: Iterable[Any],
            labels: Iterable[Any]) -> LesionClassifier:
        """Fit on real enhanced slices.

        Args:
            images: ``(H, W)`` enhanced images (a sequence, or an ``(N, H, W)`` array).
            tumor_masks: Matching lesion masks; slices with an empty mask are skipped (normal by rule).
            liver_masks: Matching liver masks.
            labels: Indices into :data:`LABELS` or label names (unknown ``-1`` is an error).

        Returns:
            self.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        y_all = np.array([label_index(v) for v in labels], dtype=np.int64)
        x, has = self._features(images, tumor_masks, liver_masks)
        if has.size != y_all.size:
            raise ValueError(f"got {has.size} images but {y_all.size} labels")
        y = y_all[has]
        if y.size == 0:
            raise ValueError("no slice with a non-empty tumor_mask to fit on")
        scaler = StandardScaler().fit(x)
        self.classes_ = np.unique(y)
        self.mean_, self.std_ = scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64)
        n_cls, n_feat = self.classes_.size, x.shape[1]
        if n_cls == 1:
            self.coef_, self.intercept_ = np.zeros((1, n_feat)), np.zeros(1)
            return self
        # scikit-learn minimises C·Σ loss + ½‖w‖², i.e. mean loss + ½/(C·n)‖w‖². The binomial w equals the
        # softmax difference W₁ − W₀ with W₀ = −W₁, whose penalty ½·l2·(‖W₀‖² + ‖W₁‖²) is ½·(l2/2)·‖w‖².
        n = y.size
        c = 1.0 / (n * self.l2) if n_cls > 2 else 2.0 / (n * self.l2)
        lr = LogisticRegression(C=c, solver="lbfgs", tol=self.tol, max_iter=self.max_iter)
        lr.fit(scaler.transform(x), y)
        if n_cls == 2:
            w, b = lr.coef_[0] / 2.0, float(lr.intercept_[0]) / 2.0
            self.coef_, self.intercept_ = np.stack([-w, w]), np.array([-b, b])
        else:
            self.coef_, self.intercept_ = lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64)
        return self

    def _check_fitted(self) -> None:
        if self.classes_ is None:
            raise RuntimeError("LesionClassifier is not fitted; call fit() or load() first")

    def predict_proba(self, images: Iterable[Any], tumor_masks: Iterable[Any],
                      liver_masks: Iterable[Any]) -> np.ndarray:
        """Class probabilities, ``(N, len(LABELS))``; empty-mask slices get probability 1 for "normal"."""
        self._check_fitted()
        x, has = self._features(images, tumor_masks, liver_masks)
        proba = np.zeros((has.size, len(LABELS)))
        proba[~has, 0] = 1.0
        if x.shape[0]:
            z = (x - self.mean_) / self.std_
            logits = z @ self.coef_.T + self.intercept_
            proba[np.flatnonzero(has)[:, None], self.classes_[None, :]] = softmax(logits, axis=1)
        return proba

    def predict(self, images: Iterable[Any], tumor_masks: Iterable[Any], liver_masks: Iterable[Any]) -> np.ndarray:
        """Predicted label indices into :data:`LABELS`, ``(N,)`` int64 (0 = normal for empty masks)."""
        return np.argmax(self.predict_proba(images, tumor_masks, liver_masks), axis=1).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        self._check_fitted()
        return {
            "format": "pixgrl.LesionClassifier", "version": 1, "labels": list(LABELS),
            "feature_names": list(FEATURE_NAMES), "l2": self.l2, "max_iter": self.max_iter, "tol": self.tol,
            "classes": self.classes_.tolist(), "mean": self.mean_.tolist(), "std": self.std_.tolist(),
            "coef": self.coef_.tolist(), "intercept": self.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LesionClassifier:
        """Inverse of :meth:`to_dict`; raises ValueError on another format or feature set."""
        if d.get("format") != "pixgrl.LesionClassifier" or list(d.get("feature_names", [])) != list(FEATURE_NAMES):
            raise ValueError("not a pixgrl.LesionClassifier with features " + ", ".join(FEATURE_NAMES))
        clf = cls(l2=d["l2"], max_iter=d["max_iter"], tol=d.get("tol", 1e-6))
        clf.classes_ = np.asarray(d["classes"], dtype=np.int64)
        clf.mean_ = np.asarray(d["mean"], dtype=np.float64)
        clf.std_ = np.asarray(d["std"], dtype=np.float64)
        clf.coef_ = np.asarray(d["coef"], dtype=np.float64).reshape(clf.classes_.size, len(FEATURE_NAMES))
        clf.intercept_ = np.asarray(d["intercept"], dtype=np.float64)
        return clf

    def save(self, path: str | Path) -> None:
        """Write the parameters as JSON (floats round-trip exactly through ``repr``)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> LesionClassifier:
        """Read a classifier written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def diagnosis_metrics(pred_labels: Iterable[Any], true_labels: Iterable[Any]) -> dict[str, float]:
    """3-class and benign-vs-malignant diagnosis scores.

    Malignant (positive) = HCC; benign (negative) = normal or hemangioma.

    Args:
        pred_labels: Predicted labels (indices into :data:`LABELS` or names).
        true_labels: True labels, same length.

    Returns:
        ``diag_acc3`` (3-class accuracy), ``diag_acc_bm`` (benign/malignant accuracy), ``diag_sensitivity``
        (TP / true malignant; NaN without malignant cases), ``diag_specificity`` (TN / true benign; NaN without
        benign cases), ``diag_n``; fractions in [0, 1]. No cases: all NaN, ``diag_n`` 0.
    """
    p = np.array([label_index(v) for v in pred_labels], dtype=np.int64)
    t = np.array([label_index(v) for v in true_labels], dtype=np.int64)
    if p.shape != t.shape:
        raise ValueError(f"pred_labels and true_labels differ in length: {p.size} vs {t.size}")
    if t.size == 0:
        return {"diag_acc3": math.nan, "diag_acc_bm": math.nan, "diag_sensitivity": math.nan,
                "diag_specificity": math.nan, "diag_n": 0.0}
    pm, tm = p == MALIGNANT, t == MALIGNANT
    return {
        "diag_acc3": float(np.mean(p == t)),
        "diag_acc_bm": float(np.mean(pm == tm)),
        "diag_sensitivity": float(np.mean(pm[tm])) if tm.any() else math.nan,
        "diag_specificity": float(np.mean(~pm[~tm])) if (~tm).any() else math.nan,
        "diag_n": float(t.size),
    }


__all__ = ["FEATURE_NAMES", "MALIGNANT", "LesionClassifier", "diagnosis_metrics", "label_index", "lesion_features"]
