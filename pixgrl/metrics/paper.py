"""Pix-GRL's published values (Xu et al., Medical Image Analysis 2021, Tables 1–2 and section 5).

Keyed like our metrics (:data:`~pixgrl.metrics.METRIC_NAMES`, :data:`~pixgrl.metrics.DATASET_METRIC_NAMES`), so a
report can put the paper's row under ours.
"""

from __future__ import annotations

#: Pix-GRL's values in the paper. Dice is a fraction (83.62 %). The paper reports no tumour areas (its sizes are in
#: mm, not mm²) and no 3-class accuracy.
PAPER_VALUES: dict[str, float] = {
    "ssim": 0.85, "psnr": 23.81, "nrmse": 0.16,
    "ext_ssim": 0.81, "ext_nrmse": 0.11, "ext_nmi": 0.61,
    "int_ssim": 0.72, "int_nrmse": 0.07, "int_nmi": 0.43,
    "dice": 0.8362, "kappa": 0.83, "hausdorff_mm": 4.3,
    "size_pcc": 0.92, "diag_acc_bm": 0.876, "diag_sensitivity": 0.8165, "diag_specificity": 0.922,
}
#: The ± of :data:`PAPER_VALUES` where the paper gives one.
PAPER_STD: dict[str, float] = {
    "ssim": 0.06, "psnr": 1.54, "nrmse": 0.012,
    "ext_ssim": 0.06, "ext_nrmse": 0.01, "ext_nmi": 0.07,
    "int_ssim": 0.08, "int_nrmse": 0.009, "int_nmi": 0.05,
    "dice": 0.0628, "kappa": 0.06, "hausdorff_mm": 1.02,
}

__all__ = ["PAPER_STD", "PAPER_VALUES"]
