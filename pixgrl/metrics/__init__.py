"""Evaluation metrics of Pix-GRL (Xu et al., Medical Image Analysis 2021, section 4 and Tables 1–2).

All functions are pure: numpy arrays or torch tensors (any device, any float dtype) in, Python floats, numpy arrays
of floats or dicts of floats out. Images are float in [0, 1] (``data_range=1``); nothing is clipped.

    >>> from pixgrl import metrics as M
    >>> M.ssim(synth, target), M.evaluate_pair(synth, pair)["dice"]  # doctest: +SKIP

Modules, each with its definitions and NaN conventions:

- :mod:`~pixgrl.metrics.image_quality`: whole-image SSIM, PSNR, NRMSE, NMI;
- :mod:`~pixgrl.metrics.tumour_regions`: the external (64×64 patch at the tumour centroid) and internal (bounding
  box) regions and their SSIM/NRMSE/NMI;
- :mod:`~pixgrl.metrics.segmentation`: automatic tumour segmentation, Dice, Cohen's kappa, Hausdorff distance in
  mm, tumour areas and their Pearson correlation;
- :mod:`~pixgrl.metrics.diagnosis`: lesion features, the lesion classifier (the diagnosis proxy) and its scores;
- :mod:`~pixgrl.metrics.pair_metrics`: every metric of one synthesized slice (with SSIM/PSNR against the
  noise-free target where the data has one), and mean/std/n over pairs;
- :mod:`~pixgrl.metrics.paper`: Pix-GRL's published values;
- :mod:`~pixgrl.metrics.arrays`: the input conversion they share.
"""

from __future__ import annotations

from pixgrl.metrics.arrays import to_numpy
from pixgrl.metrics.diagnosis import FEATURE_NAMES, MALIGNANT, LesionClassifier, diagnosis_metrics, lesion_features
from pixgrl.metrics.image_quality import NMI_BINS, NMI_METHODS, nmi, nrmse, psnr, ssim
from pixgrl.metrics.pair_metrics import (
    CLEAN_METRIC_NAMES,
    DATASET_METRIC_NAMES,
    METRIC_NAMES,
    aggregate,
    evaluate_pair,
)
from pixgrl.metrics.paper import PAPER_STD, PAPER_VALUES
from pixgrl.metrics.segmentation import (
    cohen_kappa,
    dice,
    hausdorff_mm,
    segment_tumor,
    segmentation_agreement,
    size_correlation,
    tumor_area_mm2,
)
from pixgrl.metrics.tumour_regions import EXTERNAL_SIZE, MIN_BOX_SIDE, external_region, internal_region, region_metrics

__all__ = [
    "CLEAN_METRIC_NAMES", "DATASET_METRIC_NAMES", "EXTERNAL_SIZE", "FEATURE_NAMES", "MALIGNANT", "METRIC_NAMES",
    "MIN_BOX_SIDE", "NMI_BINS", "NMI_METHODS", "PAPER_STD", "PAPER_VALUES", "LesionClassifier", "aggregate",
    "cohen_kappa", "diagnosis_metrics", "dice", "evaluate_pair", "external_region", "hausdorff_mm", "internal_region",
    "lesion_features", "nmi", "nrmse", "psnr", "region_metrics", "segment_tumor", "segmentation_agreement",
    "size_correlation", "ssim", "to_numpy", "tumor_area_mm2",
]
