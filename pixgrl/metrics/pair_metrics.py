"""Every metric of one synthesized slice (:func:`evaluate_pair`), and their summary over pairs (:func:`aggregate`).

Noise-free reference: a pair whose dataset knows the noise-free enhanced image (``pair.target_clean``, e.g. the
phantom's) also gets ``ssim_clean`` and ``psnr_clean`` (:data:`CLEAN_METRIC_NAMES`), the synthesis against that
image. The noisy target caps SSIM (a synthesis cannot, and should not, reproduce its noise); the noise-free one
shows how well the contrast physics is recovered.

:func:`aggregate` returns ``(mean, std, n)`` per metric over the finite-or-infinite values, skipping NaN (so ``n``
says how many pairs a metric is defined on); ``std`` is the population std (ddof = 0).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pixgrl.metrics.arrays import as_image
from pixgrl.metrics.image_quality import NMI_BINS, nrmse, psnr, ssim
from pixgrl.metrics.segmentation import segment_tumor, segmentation_agreement
from pixgrl.metrics.tumour_regions import EXTERNAL_SIZE, region_metrics

if TYPE_CHECKING:
    from pixgrl_env.data.base import Pair

#: Per-pair metric names, in report order (see :func:`evaluate_pair`).
METRIC_NAMES: tuple[str, ...] = (
    "ssim", "psnr", "nrmse",
    "ext_ssim", "ext_nrmse", "ext_nmi",
    "int_ssim", "int_nrmse", "int_nmi",
    "dice", "kappa", "hausdorff_mm", "size_pred_mm2", "size_ref_mm2",
)
#: Dataset-level metric names (:func:`~pixgrl.metrics.size_correlation`,
#: :func:`~pixgrl.metrics.diagnosis_metrics`).
DATASET_METRIC_NAMES: tuple[str, ...] = (
    "size_pcc", "diag_acc3", "diag_acc_bm", "diag_sensitivity", "diag_specificity",
)
#: Metrics against the noise-free target, present only for pairs that have one (``pair.target_clean``).
CLEAN_METRIC_NAMES: tuple[str, ...] = ("ssim_clean", "psnr_clean")
_SEGMENTATION_NAMES = ("dice", "kappa", "hausdorff_mm", "size_pred_mm2", "size_ref_mm2")


def evaluate_pair(synth: Any, pair: Pair, *, size: int = EXTERNAL_SIZE, bins: int = NMI_BINS,
                  reference: str = "segmented", tumor_only: bool = True,
                  segment_kwargs: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every per-pair metric of :data:`METRIC_NAMES` for one synthesized slice (and :data:`CLEAN_METRIC_NAMES`).

    Whole-image SSIM/PSNR/NRMSE against ``pair.target`` (and SSIM/PSNR against ``pair.target_clean`` when the pair
    has that noise-free image); external/internal region metrics with boxes placed by
    ``pair.tumor_mask`` (the paper places them by the tumour segmented on the real enhanced image); segmentation
    agreement between :func:`~pixgrl.metrics.segment_tumor` on ``synth`` and the reference mask, in mm via
    ``pair.meta.spacing``.

    Args:
        synth: ``(H, W)`` (or ``(1, H, W)``/``(1, 1, H, W)``) synthesized image; numpy or torch.
        pair: The :class:`~pixgrl_env.data.base.Pair` it was synthesized from.
        size: External patch side.
        bins: NMI bins.
        reference: ``"segmented"`` (default): the reference mask is ``segment_tumor`` on ``pair.target``, as in
            the paper (both images segmented the same way); ``"ground_truth"``: ``pair.tumor_mask``.
        tumor_only: When True (default) and ``pair.tumor_mask`` is empty (a normal slice), the segmentation metrics
            are NaN (the paper reports them over tumours); when False they follow
            :func:`~pixgrl.metrics.segmentation_agreement`'s empty-mask conventions.
        segment_kwargs: Keyword arguments for ``segment_tumor``.

    Returns:
        ``{name: float}`` for every name in :data:`METRIC_NAMES`, then ``ssim_clean`` and ``psnr_clean`` when
        ``pair.target_clean`` is not None.
    """
    if reference not in ("segmented", "ground_truth"):
        raise ValueError(f"reference must be 'segmented' or 'ground_truth', got {reference!r}")
    s = as_image(synth, "synth")
    target = as_image(pair.target, "pair.target")
    if s.shape != target.shape:
        raise ValueError(f"synth has shape {s.shape} but {pair.meta.source} has shape {target.shape}")
    out = {"ssim": ssim(s, target), "psnr": psnr(s, target), "nrmse": nrmse(s, target)}
    names = METRIC_NAMES
    clean = getattr(pair, "target_clean", None)
    if clean is not None:
        clean = as_image(clean, "pair.target_clean")
        if clean.shape != s.shape:
            raise ValueError(f"{pair.meta.source}: target_clean has shape {clean.shape}, expected {s.shape}")
        out.update({"ssim_clean": ssim(s, clean), "psnr_clean": psnr(s, clean)})
        names = METRIC_NAMES + CLEAN_METRIC_NAMES
    out.update(region_metrics(s, target, pair.tumor_mask, size=size, bins=bins))
    if tumor_only and not np.any(pair.tumor_mask):
        out.update({k: math.nan for k in _SEGMENTATION_NAMES})
    else:
        kw = dict(segment_kwargs or {})
        mask_pred = segment_tumor(s, pair.liver_mask, **kw)
        mask_ref = segment_tumor(target, pair.liver_mask, **kw) if reference == "segmented" else pair.tumor_mask
        out.update(segmentation_agreement(mask_pred, mask_ref, pair.meta.spacing))
    return {k: float(out[k]) for k in names}


def aggregate(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """Mean, population std (ddof = 0) and count of each metric over rows, skipping NaN.

    Keys appear in first-seen order; a key missing from a row counts as NaN for it. ``±inf`` values are kept (a
    mean PSNR over identical images is ``inf``). A metric with no finite-or-infinite value gives ``(nan, nan, 0)``.

    Args:
        rows: Dicts ``{name: value}``, e.g. from :func:`evaluate_pair`.

    Returns:
        ``{name: (mean, std, n)}``.
    """
    values: dict[str, list[float]] = {}
    for row in rows:
        for k, v in row.items():
            values.setdefault(k, []).append(float(v))
    out: dict[str, tuple[float, float, int]] = {}
    for k, vs in values.items():
        a = np.asarray(vs, dtype=np.float64)
        a = a[~np.isnan(a)]
        if a.size == 0:
            out[k] = (math.nan, math.nan, 0)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf − inf inside std
            out[k] = (float(a.mean()), float(a.std()), int(a.size))
    return out


__all__ = ["CLEAN_METRIC_NAMES", "DATASET_METRIC_NAMES", "METRIC_NAMES", "aggregate", "evaluate_pair"]
