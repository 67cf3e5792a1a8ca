"""Tests of pixgrl.metrics against hand-computed cases and independent references."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pixgrl import metrics as M
from pixgrl_env.data.base import Pair, PairMeta


# ----------------------------------------------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------------------------------------------
def _disc(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2


def _liver(shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - 64) / 50.0) ** 2 + ((xx - 64) / 56.0) ** 2 <= 1.0


def _slice(kind: str, rng: np.random.Generator, shape: tuple[int, int] = (128, 128)):
    """An enhanced slice: background 0.1, liver ~0.5, and a lesion of ``kind`` ("normal", "bright", "dark", "hcc")."""
    liver = _liver(shape)
    img = np.full(shape, 0.1)
    img[liver] = 0.5
    tumor = np.zeros(shape, dtype=bool)
    if kind != "normal":
        r = rng.uniform(8, 14)
        c = (64 + rng.uniform(-12, 12), 64 + rng.uniform(-12, 12))
        tumor = _disc(shape, c, r)
        if kind == "bright":  # hemangioma-like: strong, uniform
            img[tumor] = 0.85
        elif kind == "dark":
            img[tumor] = 0.25
        else:  # HCC-like: washout core, enhancing capsule
            img[tumor] = 0.8
            img[_disc(shape, c, r - 3)] = 0.3
    img = np.clip(img + rng.normal(0, 0.02, shape), 0, 1)
    return img, tumor, liver


def _pair(target: np.ndarray, tumor: np.ndarray, liver: np.ndarray, label: int,
          spacing: tuple[float, float] = (1.29, 1.29)) -> Pair:
    meta = PairMeta(patient_id="p0", slice_index=0, spacing=spacing, source="test")
    t = target.astype(np.float32)
    return Pair(input=t * 0.8, target=t, tumor_mask=tumor, liver_mask=liver, label=label, meta=meta).validate()


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 1, (3, 32, 32))
    pred = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1)
    return pred, target


# ----------------------------------------------------------------------------------------------------------------
# Whole-image metrics
# ----------------------------------------------------------------------------------------------------------------
def test_identical_images_give_the_extremes(images):
    _, t = images
    assert M.ssim(t[0], t[0]) == pytest.approx(1.0)
    assert M.nrmse(t[0], t[0]) == 0.0
    assert M.psnr(t[0], t[0]) == math.inf
    assert M.nmi(t[0], t[0]) == pytest.approx(1.0)
    assert M.nmi(t[0], t[0], method="joint") == pytest.approx(1.0)
    assert M.nmi(t[0], t[0], method="skimage") == pytest.approx(2.0)


def test_psnr_nrmse_hand_computed():
    target = np.full((4, 4), 0.5)
    pred = target.copy()
    pred[1, 2] = 0.9  # MSE = 0.4² / 16 = 0.01
    assert M.psnr(pred, target) == pytest.approx(20.0)  # 10·log10(1 / 0.01)
    assert M.nrmse(pred, target) == pytest.approx(0.2)  # RMSE 0.1 / ‖target‖_rms 0.5
    assert M.psnr(pred, target, data_range=2.0) == pytest.approx(20.0 + 20 * math.log10(2))


def test_nrmse_zero_target():
    z = np.zeros((8, 8))
    assert M.nrmse(z, z) == 0.0
    assert math.isnan(M.nrmse(z + 0.1, z))


def test_ssim_matches_skimage(images):
    p, t = images
    ref = structural_similarity(p[0], t[0], data_range=1.0)
    assert M.ssim(p[0], t[0]) == pytest.approx(ref, abs=1e-12)
    small = M.ssim(p[0, :5, :5], t[0, :5, :5])  # window shrinks to 5
    assert small == pytest.approx(structural_similarity(p[0, :5, :5], t[0, :5, :5], data_range=1.0, win_size=5))
    assert math.isnan(M.ssim(p[0, :2, :9], t[0, :2, :9]))


def _nmi_reference(a: np.ndarray, b: np.ndarray, bins: int) -> float:
    """2·I/(H(A)+H(B)) from numpy's histogram2d, independent of scikit-image."""
    joint, _, _ = np.histogram2d(a.ravel(), b.ravel(), bins=bins)
    pj = joint / joint.sum()

    def h(p: np.ndarray) -> float:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    ha, hb, hab = h(pj.sum(axis=1)), h(pj.sum(axis=0)), h(pj.ravel())
    return 2 * (ha + hb - hab) / (ha + hb)


def test_nmi_matches_independent_reference(images):
    p, t = images
    for bins in (8, 32):
        assert M.nmi(p[0], t[0], bins=bins) == pytest.approx(_nmi_reference(p[0], t[0], bins), abs=1e-9)
    y = M.nmi(p[0], t[0], method="skimage")
    assert M.nmi(p[0], t[0]) == pytest.approx(2 - 2 / y)
    assert M.nmi(p[0], t[0], method="joint") == pytest.approx(y - 1)
    # invariant to a monotone intensity change (bins follow each image's range), low for unrelated images
    assert M.nmi(t[0] ** 2, t[0], bins=16) > 0.6
    assert M.nmi(p[1], t[0], bins=16) < 0.25
    assert math.isnan(M.nmi(np.zeros((8, 8)), np.zeros((8, 8))))
    with pytest.raises(ValueError, match="method"):
        M.nmi(p[0], t[0], method="sqrt")


@pytest.mark.parametrize("fn", [M.ssim, M.psnr, M.nrmse, M.nmi])
def test_batched_equals_single_and_torch_equals_numpy(images, fn):
    p, t = images
    single = np.array([fn(p[i], t[i]) for i in range(len(p))])
    batched = fn(p, t)
    assert isinstance(batched, np.ndarray) and batched.shape == (3,)
    np.testing.assert_allclose(batched, single, rtol=0, atol=0)
    np.testing.assert_allclose(fn(p[:, None], t[:, None]), single, rtol=0, atol=0)
    p32, t32 = p.astype(np.float32), t.astype(np.float32)
    np.testing.assert_allclose(fn(torch.from_numpy(p32), torch.from_numpy(t32)), fn(p32, t32), rtol=0, atol=0)
    assert fn(torch.from_numpy(p32[0]), t32[0]) == fn(p32[0], t32[0])


def test_bad_inputs_raise(images):
    p, t = images
    with pytest.raises(ValueError, match="shapes differ"):
        M.ssim(p[0], t[0, :-1])
    bad = p[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.psnr(bad, t[0])
    with pytest.raises(ValueError, match="shape"):
        M.nrmse(np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 4)))


# ----------------------------------------------------------------------------------------------------------------
# Regions
# ----------------------------------------------------------------------------------------------------------------
def test_external_region_centre_and_clamping():
    m = np.zeros((100, 100), dtype=bool)
    m[49:52, 49:52] = True  # centroid (50, 50)
    assert M.external_region(m) == (slice(19, 83), slice(19, 83))
    m[:] = False
    m[1:4, 1:4] = True  # top-left corner: shifted to start at 0, full size
    assert M.external_region(m) == (slice(0, 64), slice(0, 64))
    m[:] = False
    m[97, 98] = True  # bottom-right corner
    assert M.external_region(m) == (slice(36, 100), slice(36, 100))
    assert M.external_region(np.ones((40, 30), dtype=bool)) == (slice(0, 40), slice(0, 30))
    assert M.external_region(np.zeros((10, 10), dtype=bool)) is None


def test_internal_region():
    m = np.zeros((20, 20), dtype=bool)
    m[3:6, 7:11] = True
    m[5, 12] = True
    assert M.internal_region(m) == (slice(3, 6), slice(7, 13))
    assert M.internal_region(torch.from_numpy(m)) == (slice(3, 6), slice(7, 13))
    assert M.internal_region(np.zeros((5, 5), dtype=bool)) is None


def test_region_metrics(images):
    p, t = images
    mask = np.zeros((32, 32), dtype=bool)
    mask[10:20, 12:18] = True
    same = M.region_metrics(t[0], t[0], mask, size=16)
    assert set(same) == {"ext_ssim", "ext_nrmse", "ext_nmi", "int_ssim", "int_nrmse", "int_nmi"}
    assert same["int_ssim"] == pytest.approx(1.0) and same["ext_ssim"] == pytest.approx(1.0)
    assert same["int_nrmse"] == 0.0 and same["int_nmi"] == pytest.approx(1.0)
    got = M.region_metrics(p[0], t[0], mask, size=16)
    assert got["int_ssim"] == pytest.approx(M.ssim(p[0, 10:20, 12:18], t[0, 10:20, 12:18]))
    assert got["int_nrmse"] == pytest.approx(M.nrmse(p[0, 10:20, 12:18], t[0, 10:20, 12:18]))
    box = M.external_region(mask, 16)
    assert got["ext_nmi"] == pytest.approx(M.nmi(p[0][box], t[0][box]))
    empty = M.region_metrics(p[0], t[0], np.zeros((32, 32), dtype=bool))
    assert all(math.isnan(v) for v in empty.values())
    tiny = np.zeros((32, 32), dtype=bool)
    tiny[5, 5:9] = True  # internal box 1×4: too small, external box fine
    res = M.region_metrics(p[0], t[0], tiny, size=16)
    assert math.isnan(res["int_ssim"]) and math.isnan(res["int_nrmse"]) and math.isnan(res["int_nmi"])
    assert np.isfinite([res["ext_ssim"], res["ext_nrmse"], res["ext_nmi"]]).all()


# ----------------------------------------------------------------------------------------------------------------
# Segmentation and agreement
# ----------------------------------------------------------------------------------------------------------------
def test_dice_kappa_hand_computed():
    a = np.zeros((4, 4), dtype=bool)
    b = np.zeros((4, 4), dtype=bool)
    a[0:2, 0:2] = True
    b[0:2, 1:3] = True
    # TP 2, FP 2, FN 2, TN 10: Dice 4/8; p_o 12/16, p_e (4·4 + 12·12)/256 = 0.625, kappa 0.125/0.375
    assert M.dice(a, b) == pytest.approx(0.5)
    assert M.cohen_kappa(a, b) == pytest.approx(1 / 3)
    assert M.cohen_kappa(a, a) == pytest.approx(1.0)
    assert M.cohen_kappa(a, ~a) == pytest.approx(-(4 * 12 * 2 / 256) / (1 - 4 * 12 * 2 / 256))


def test_hausdorff_anisotropic():
    a = np.zeros((10, 10), dtype=bool)
    b = np.zeros((10, 10), dtype=bool)
    a[0, 0] = b[3, 4] = True
    assert M.hausdorff_mm(a, b, (2.0, 1.0)) == pytest.approx(math.sqrt(6.0**2 + 4.0**2))
    sq = np.zeros((12, 12), dtype=bool)
    sq[2:5, 2:5] = True
    down = np.roll(sq, 2, axis=0)
    right = np.roll(sq, 2, axis=1)
    assert M.hausdorff_mm(sq, down, (2.0, 1.0)) == pytest.approx(4.0)  # 2 rows × 2 mm
    assert M.hausdorff_mm(sq, right, (2.0, 1.0)) == pytest.approx(2.0)  # 2 cols × 1 mm
    assert M.hausdorff_mm(sq, down, (1.0, 2.0)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="spacing"):
        M.hausdorff_mm(sq, down, (0.0, 1.0))


def test_segmentation_agreement_and_empty_masks():
    a = np.zeros((10, 10), dtype=bool)
    b = np.zeros((10, 10), dtype=bool)
    a[2:5, 2:5] = True
    b[2:5, 3:6] = True
    res = M.segmentation_agreement(a, b, (2.0, 1.5))
    assert res["dice"] == pytest.approx(2 * 6 / 18)
    assert res["size_pred_mm2"] == pytest.approx(9 * 3.0) and res["size_ref_mm2"] == pytest.approx(9 * 3.0)
    assert res["hausdorff_mm"] == pytest.approx(1.5)
    both = M.segmentation_agreement(np.zeros_like(a), np.zeros_like(a))
    assert both == {"dice": 1.0, "kappa": 1.0, "hausdorff_mm": 0.0, "size_pred_mm2": 0.0, "size_ref_mm2": 0.0}
    one = M.segmentation_agreement(np.zeros_like(a), b)
    assert one["dice"] == 0.0 and one["kappa"] == pytest.approx(0.0) and math.isnan(one["hausdorff_mm"])


def test_size_correlation():
    x, y = [1.0, 2.0, 3.0, 5.0], [2.0, 4.5, 5.0, 11.0]
    assert M.size_correlation(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert M.size_correlation(x + [np.nan], y + [3.0]) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert math.isnan(M.size_correlation([1.0, 2.0], [1.0, 3.0]))
    assert math.isnan(M.size_correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


@pytest.mark.parametrize("kind", ["bright", "dark", "hcc"])
def test_segment_tumor_finds_lesion(kind):
    img, tumor, liver = _slice(kind, np.random.default_rng(1))
    seg = M.segment_tumor(img, liver)
    assert seg.dtype == np.bool_ and seg.shape == img.shape
    assert M.dice(seg, tumor) > 0.9
    np.testing.assert_array_equal(M.segment_tumor(torch.from_numpy(img), torch.from_numpy(liver)), seg)


def test_segment_tumor_normal_and_vessel():
    img, _, liver = _slice("normal", np.random.default_rng(2))
    assert not M.segment_tumor(img, liver).any()
    img[64, 20:100] = 0.9  # a thin bright vessel: removed by the opening without smoothing
    assert not M.segment_tumor(img, liver, sigma=0.0).any()
    lesion, tumor, liver = _slice("bright", np.random.default_rng(2))
    lesion[100, 30:100] = 0.9  # with smoothing it survives, but the larger lesion is the one kept
    assert M.dice(M.segment_tumor(lesion, liver), tumor) > 0.9
    assert not M.segment_tumor(img, np.zeros_like(liver)).any()


# ----------------------------------------------------------------------------------------------------------------
# Diagnosis
# ----------------------------------------------------------------------------------------------------------------
def _classification_set(seed: int, n_per_class: int):
    rng = np.random.default_rng(seed)
    imgs, tumors, livers, labels = [], [], [], []
    for label, kind in ((0, "normal"), (1, "bright"), (2, "hcc")):
        for _ in range(n_per_class):
            img, tumor, liver = _slice(kind, rng)
            imgs.append(img), tumors.append(tumor), livers.append(liver), labels.append(label)
    return imgs, tumors, livers, np.array(labels)


def test_lesion_classifier_separates_and_round_trips(tmp_path):
    train = _classification_set(3, 6)
    test = _classification_set(4, 4)
    clf = M.LesionClassifier().fit(*train)
    pred = clf.predict(*test[:3])
    np.testing.assert_array_equal(pred, test[3])
    path = tmp_path / "clf.json"
    clf.save(path)
    loaded = M.LesionClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict(*test[:3]), pred)
    np.testing.assert_array_equal(loaded.predict_proba(*test[:3]), clf.predict_proba(*test[:3]))
    again = M.LesionClassifier().fit(*train)  # deterministic
    np.testing.assert_array_equal(again.coef_, clf.coef_)
    with pytest.raises(RuntimeError, match="not fitted"):
        M.LesionClassifier().predict(*test[:3])
    with pytest.raises(ValueError, match="label"):
        M.LesionClassifier().fit(*train[:3], [-1] * len(train[3]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lesion_classifier_minimises_its_documented_objective(n_classes):
    """At the fit, the gradient of mean cross-entropy + 0.5·l2·‖W‖² (softmax form, bias unpenalised) vanishes."""
    rng = np.random.default_rng(9)
    kinds = ("dark", "bright", "hcc")[3 - n_classes:]
    imgs, tumors, livers, labels = [], [], [], []
    for label, kind in zip(range(3 - n_classes, 3), kinds):
        for _ in range(8):
            img, tumor, liver = _slice(kind, rng)
            imgs.append(img), tumors.append(tumor), livers.append(liver), labels.append(label)
    clf = M.LesionClassifier(l2=0.05).fit(imgs, tumors, livers, labels)
    x = np.stack([M.lesion_features(i, t, lv) for i, t, lv in zip(imgs, tumors, livers)])
    np.testing.assert_allclose(clf.mean_, x.mean(axis=0))
    np.testing.assert_allclose(clf.std_, x.std(axis=0))
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    logits = z @ clf.coef_.T + clf.intercept_
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.asarray(labels)[:, None] == clf.classes_[None, :]
    g = (p - onehot) / len(labels)
    assert clf.coef_.shape == (n_classes, len(M.FEATURE_NAMES))
    assert np.abs(g.T @ z + 0.05 * clf.coef_).max() < 1e-4
    assert np.abs(g.sum(axis=0)).max() < 1e-4


def test_diagnosis_metrics_hand_case():
    true = [0, 1, 2, 2, 1, 0, 2]
    pred = [0, 2, 2, 1, 1, 0, "hcc"]
    res = M.diagnosis_metrics(pred, true)
    assert res["diag_acc3"] == pytest.approx(5 / 7)
    assert res["diag_acc_bm"] == pytest.approx(5 / 7)
    assert res["diag_sensitivity"] == pytest.approx(2 / 3)
    assert res["diag_specificity"] == pytest.approx(3 / 4)
    assert res["diag_n"] == 7
    assert math.isnan(M.diagnosis_metrics([0, 1], [0, 1])["diag_sensitivity"])


# ----------------------------------------------------------------------------------------------------------------
# Per-pair evaluation and aggregation
# ----------------------------------------------------------------------------------------------------------------
def test_evaluate_pair_identity_and_normal():
    img, tumor, liver = _slice("bright", np.random.default_rng(5))
    pair = _pair(img, tumor, liver, 1, spacing=(1.5, 1.0))
    res = M.evaluate_pair(pair.target, pair)
    assert tuple(res) == M.METRIC_NAMES
    assert res["ssim"] == pytest.approx(1.0) and res["psnr"] == math.inf and res["nrmse"] == 0.0
    assert res["int_ssim"] == pytest.approx(1.0) and res["ext_nmi"] == pytest.approx(1.0)
    assert res["dice"] == 1.0 and res["kappa"] == 1.0 and res["hausdorff_mm"] == 0.0
    assert res["size_pred_mm2"] == res["size_ref_mm2"] > 0
    noisy = np.clip(pair.target + np.random.default_rng(6).normal(0, 0.05, img.shape), 0, 1)
    res2 = M.evaluate_pair(torch.from_numpy(noisy)[None], pair, reference="ground_truth")
    assert 0 < res2["ssim"] < 1 and res2["dice"] > 0.85 and np.isfinite(res2["hausdorff_mm"])
    normal = _pair(*_slice("normal", np.random.default_rng(7)), 0)
    res3 = M.evaluate_pair(normal.target, normal)
    assert all(math.isnan(res3[k]) for k in M.METRIC_NAMES[3:])
    res4 = M.evaluate_pair(normal.target, normal, tumor_only=False)
    assert res4["dice"] == 1.0 and res4["hausdorff_mm"] == 0.0


@pytest.mark.skipif("target_clean" not in {f.name for f in dataclasses.fields(Pair)},
                    reason="Pair has no target_clean field")
def test_evaluate_pair_against_the_noise_free_target():
    """A pair with ``target_clean`` also gets SSIM/PSNR against it; the noisy target caps the plain SSIM."""
    img, tumor, liver = _slice("bright", np.random.default_rng(8))
    clean = img.astype(np.float32)
    noisy = np.clip(clean + np.random.default_rng(9).normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    meta = PairMeta(patient_id="p0", slice_index=0, spacing=(1.0, 1.0), source="test")
    pair = Pair(input=clean * 0.8, target=noisy, tumor_mask=tumor, liver_mask=liver, label=1, meta=meta,
                target_clean=clean).validate()
    res = M.evaluate_pair(clean, pair)  # a perfect synthesis of the noise-free image
    assert tuple(res) == M.METRIC_NAMES + M.CLEAN_METRIC_NAMES == (*M.METRIC_NAMES, "ssim_clean", "psnr_clean")
    assert res["ssim_clean"] == pytest.approx(1.0) and res["psnr_clean"] == math.inf
    assert res["ssim"] == pytest.approx(structural_similarity(clean.astype(np.float64), noisy.astype(np.float64),
                                                              data_range=1.0)) and res["ssim"] < 0.9
    res = M.evaluate_pair(noisy, pair)  # reproducing the noise scores 1 only against the noisy target
    assert res["ssim"] == pytest.approx(1.0)
    assert res["ssim_clean"] == pytest.approx(structural_similarity(noisy.astype(np.float64),
                                                                    clean.astype(np.float64), data_range=1.0))
    mse = np.mean((noisy.astype(np.float64) - clean) ** 2)
    assert res["psnr_clean"] == pytest.approx(10 * np.log10(1 / mse))
    without = dataclasses.replace(pair, target_clean=None)
    assert tuple(M.evaluate_pair(clean, without)) == M.METRIC_NAMES
    with pytest.raises(ValueError, match="target_clean"):
        M.evaluate_pair(clean, dataclasses.replace(pair, target_clean=clean[:-1]))


def test_aggregate_skips_nan():
    rows = [{"a": 1.0, "b": math.nan}, {"a": 3.0, "b": 2.0}, {"a": math.nan, "c": math.nan}]
    agg = M.aggregate(rows)
    assert agg["a"] == (2.0, 1.0, 2)
    assert agg["b"] == (2.0, 0.0, 1)
    assert math.isnan(agg["c"][0]) and agg["c"][2] == 0
    assert list(agg) == ["a", "b", "c"]
    assert M.aggregate([{"psnr": math.inf}, {"psnr": 20.0}])["psnr"][0] == math.inf


def test_paper_values_use_metric_names():
    assert set(M.PAPER_VALUES) <= set(M.METRIC_NAMES) | set(M.DATASET_METRIC_NAMES)
    assert set(M.PAPER_STD) <= set(M.PAPER_VALUES)
    assert M.PAPER_VALUES["ssim"] == 0.85 and M.PAPER_VALUES["dice"] == pytest.approx(0.8362)
