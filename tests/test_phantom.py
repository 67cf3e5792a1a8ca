"""Tests of the physics-based liver phantom (pixgrl_env.data.phantom).

Physics checks use limit cases (``noise=False``, ``bias_field=False``) and the raw signals of
:meth:`PhantomDataset.render`, and compare with the nominal SPGR numbers of ``docs/phantom.md``, "Expected
enhancement".
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from pixgrl_env.data.base import LABELS, DataError, Pair, PairMeta, split_dataset
from pixgrl_env.data.phantom import (
    LESION_TISSUES,
    PHANTOM_VERSION,
    TISSUE_PARAMS,
    TISSUES,
    PhantomDataset,
    scale_class_counts,
    spgr_signal,
)

T = {name: i for i, name in enumerate(TISSUES)}
SIZE = 128


def _assert_pair_equal(a: Pair, b: Pair) -> None:
    np.testing.assert_array_equal(a.input, b.input)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.tumor_mask, b.tumor_mask)
    np.testing.assert_array_equal(a.liver_mask, b.liver_mask)
    assert (a.label, a.meta) == (b.label, b.meta)


@pytest.fixture(scope="module")
def small() -> PhantomDataset:
    return PhantomDataset(n_patients=12, slices_per_patient=4, size=SIZE, seed=3)


@pytest.fixture(scope="module")
def clean() -> PhantomDataset:
    """Noise-free, bias-free limit case for physics checks."""
    return PhantomDataset(n_patients=24, slices_per_patient=6, size=SIZE, seed=0, noise=False, bias_field=False)


def _lesion_items(ds: PhantomDataset, label: int, tissue: str, min_px: int = 12, erode: int = 1) -> list[int]:
    """Items of patients of class ``label`` whose eroded ``tissue`` region has at least ``min_px`` pixels."""
    out = []
    for p in np.flatnonzero(ds.patient_labels() == label):
        for k in range(ds.slices_per_patient):
            i = int(p) * ds.slices_per_patient + k
            m = ds.anatomy(i) == T[tissue]
            if (ndimage.binary_erosion(m, iterations=erode) if erode else m).sum() >= min_px:
                out.append(i)
    return out


def _median(img: np.ndarray, labels: np.ndarray, tissue: str, erode: int = 1) -> float:
    m = labels == T[tissue]
    if erode:
        m = ndimage.binary_erosion(m, iterations=erode)
    return float(np.median(img[m]))


# ---------------------------------------------------------------------------------------------------------------
# Determinism, shapes, classes, index
# ---------------------------------------------------------------------------------------------------------------
def test_deterministic_and_order_independent(small: PhantomDataset) -> None:
    items = [0, 5, 17, 46]
    first = [small[i] for i in items]
    again = PhantomDataset(n_patients=12, slices_per_patient=4, size=SIZE, seed=3)
    for i, pair in reversed(list(zip(items, first, strict=True))):  # fresh instance, reverse access order
        _assert_pair_equal(pair, again[i])
        _assert_pair_equal(pair, small[i])
    assert not np.array_equal(first[0].input, first[1].input)
    other_seed = PhantomDataset(n_patients=12, slices_per_patient=4, size=SIZE, seed=4)
    assert not np.array_equal(first[0].input, other_seed[0].input)
    np.testing.assert_array_equal(small[-1].input, small[len(small) - 1].input)


def test_options_do_not_change_anatomy(small: PhantomDataset) -> None:
    kw = dict(n_patients=12, slices_per_patient=4, size=SIZE, seed=3)
    variants = [PhantomDataset(**kw, noise=False, bias_field=False, snr_range=(5, 6), normalization="independent"),
                PhantomDataset(**kw, fat_suppress_input=True, background_mask=True, misregistration_px=2.0)]
    for i in (1, 9, 30):
        for ds in variants:
            np.testing.assert_array_equal(ds.anatomy(i), small.anatomy(i))
            assert ds.render(i).params["tr_ms"] == small.render(i).params["tr_ms"]


def test_shapes_dtypes_ranges_and_meta(small: PhantomDataset) -> None:
    assert len(small) == 48 and small.image_shape == (SIZE, SIZE)
    for i in (0, 7, 30):
        pair = small[i]
        assert pair.input.shape == pair.target.shape == (SIZE, SIZE)
        assert pair.input.dtype == pair.target.dtype == np.float32
        for img in (pair.input, pair.target):
            assert 0.0 <= img.min() and img.max() <= 1.0 and np.isfinite(img).all()
        assert pair.tumor_mask.dtype == pair.liver_mask.dtype == np.bool_
        assert not (pair.tumor_mask & ~pair.liver_mask).any()  # tumour inside liver
        assert 0.08 < pair.liver_mask.mean() < 0.4
        assert pair.meta.patient_id == f"phantom-{i // 4:04d}" and pair.meta.slice_index == i % 4
        assert pair.meta.spacing == pytest.approx((380.0 / SIZE, 380.0 / SIZE))
        assert pair.meta.source == f"phantom(seed=3, index={i})"
        assert pair.extra == {}
    with pytest.raises(IndexError):
        small[len(small)]
    with pytest.raises(TypeError):
        small[True]


def test_class_counts_and_mixing() -> None:
    ds = PhantomDataset()  # no images are generated here
    assert ds.n_patients == 325 and len(ds) == 325 * 8
    labels = ds.patient_labels()
    assert tuple(np.bincount(labels, minlength=3)) == (75, 100, 150) == ds.class_counts
    assert len(set(labels[:20].tolist())) == 3 and not np.all(np.diff(labels) >= 0)  # shuffled
    assert PhantomDataset(n_patients=10).class_counts == (2, 3, 5)
    assert tuple(np.bincount(PhantomDataset(n_patients=10).patient_labels(), minlength=3)) == (2, 3, 5)
    assert PhantomDataset(n_patients=1).class_counts == (0, 0, 1)
    assert PhantomDataset(class_counts=(0, 4, 0)).patient_labels().tolist() == [1] * 4
    assert scale_class_counts((75, 100, 150), 650) == (150, 200, 300)
    for n in range(1, 40):
        assert sum(scale_class_counts((75, 100, 150), n)) == n


def test_item_index_without_images(small: PhantomDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [(small[i].meta.patient_id, small[i].label) for i in (0, 13, 47)]
    ds = PhantomDataset(n_patients=12, slices_per_patient=4, size=SIZE, seed=3)

    def boom(*args, **kwargs):
        raise AssertionError("item_index must not render")

    monkeypatch.setattr(ds, "render", boom)
    monkeypatch.setattr(ds, "_anatomy", boom)
    monkeypatch.setattr(ds, "_physics", boom)
    index = ds.item_index()
    assert len(index) == len(ds)
    assert [index[i] for i in (0, 13, 47)] == expected
    assert all(index[4 * p] == index[4 * p + k] for p in range(12) for k in range(4))  # one label per patient
    test = split_dataset(ds, "test", fold=0, n_folds=3)
    assert {pid for pid, _ in test.item_index()}.isdisjoint({pid for pid, _ in split_dataset(ds, "train", 0, 3)
                                                            .item_index()})


def test_patient_consistency_and_lesions() -> None:
    ds = PhantomDataset(n_patients=15, slices_per_patient=8, size=SIZE, seed=1)
    les = [T[t] for t in LESION_TISSUES]
    for p in range(ds.n_patients):
        labs = [ds.anatomy(p * 8 + k) for k in range(8)]
        tumour = [np.isin(lab, les).sum() for lab in labs]
        if ds.patient_labels()[p] == 0:
            assert max(tumour) == 0
        else:
            assert max(tumour) > 0  # the lesion is visible in at least one slice
        liver = np.array([(lab == T["liver"]).sum() for lab in labs], dtype=float)
        assert liver.min() > 0
        assert np.abs(np.diff(liver) / liver[:-1]).max() < 0.35  # organ size varies smoothly with the slice
    hcc = int(np.flatnonzero(ds.patient_labels() == 2)[0])
    params = [ds.render(hcc * 8 + k).params for k in (0, 5)]
    for key in ("tr_ms", "alpha_deg", "r1", "snr", "label", "lesion_diameter_mm"):
        assert params[0][key] == params[1][key]
    assert params[0]["label"] == "hcc" and 10 <= params[0]["lesion_diameter_mm"] <= 100


def test_anatomy_layout(clean: PhantomDataset) -> None:
    """Radiological convention: patient's right (liver, IVC) on the image left; spleen on the image right."""
    lab = clean.anatomy(3)
    centre = {t: ndimage.center_of_mass(lab == T[t]) for t in ("liver", "spleen", "aorta", "ivc", "vertebra")}
    assert centre["liver"][1] < SIZE / 2 < centre["spleen"][1]
    assert centre["ivc"][1] < centre["aorta"][1]
    assert centre["vertebra"][0] > centre["aorta"][0]  # vertebra posterior to the aorta
    body = lab > 0
    assert 0.15 < (lab == T["liver"]).sum() / body.sum() < 0.4
    assert (lab[0] == 0).all() and (lab[:, 0] == 0).all()  # air around the body


def test_cyst_is_liver_but_not_tumour() -> None:
    ds = PhantomDataset(class_counts=(3, 0, 0), slices_per_patient=8, size=SIZE, cyst_prob=1.0, seed=2)
    found = 0
    for i in range(len(ds)):
        lab = ds.anatomy(i)
        if (lab == T["cyst"]).any():
            pair = ds[i]
            assert not pair.tumor_mask.any() and pair.liver_mask[lab == T["cyst"]].all()
            found += 1
    assert found >= 1


# ---------------------------------------------------------------------------------------------------------------
# Physics
# ---------------------------------------------------------------------------------------------------------------
def test_spgr_reproduces_expected_enhancement() -> None:
    """Defaults TR 4, TE 2, 12°, r1 4.5: liver PV/pre 1.88, aorta pre/liver 0.56, spleen pre/liver 0.68."""
    alpha = math.radians(12)

    def s(tissue: str, phase: str | None) -> float:
        t = TISSUE_PARAMS[tissue]
        c = 0.0 if phase is None else getattr(t, phase)
        return float(spgr_signal(t.pd, 1000 / t.t1_ms + 4.5 * c, t.t2s_ms, 4.0, 2.0, alpha))

    liver = s("liver", None)
    assert s("liver", "c_pv") / liver == pytest.approx(1.88, abs=0.03)
    assert s("liver", "c_delayed") / liver == pytest.approx(1.71, abs=0.03)
    assert s("aorta", None) / liver == pytest.approx(0.56, abs=0.02)
    assert s("aorta", "c_pv") / liver == pytest.approx(3.10, abs=0.05)
    assert s("spleen", None) / liver == pytest.approx(0.68, abs=0.02)
    assert s("muscle", None) / liver == pytest.approx(0.70, abs=0.02)
    assert float(spgr_signal(1.0, 1e9, 1e9, 4.0, 2.0, alpha)) == pytest.approx(math.sin(alpha))  # E1 → 0 limit


def test_tissue_contrast_pre_and_post(clean: PhantomDataset) -> None:
    for i in (2, 15, 40, 77):
        r = clean.render(i)
        pre, post, lab = r.pre_clean, r.post_clean, r.labels
        liver_pre, liver_post = _median(pre, lab, "liver"), _median(post, lab, "liver")
        # pre-contrast (no fat-sat input): fat brightest; liver brighter than spleen and muscle
        assert _median(pre, lab, "fat") > liver_pre > max(_median(pre, lab, "muscle"), _median(pre, lab, "spleen"))
        # vessels enhance much more than liver
        liver_enh = liver_post / liver_pre
        assert 1.4 < liver_enh < 2.6
        assert _median(post, lab, "aorta") / _median(pre, lab, "aorta") > 1.8 * liver_enh
        # fat is suppressed in the target
        fat_in, fat_out = _median(pre, lab, "fat") / liver_pre, _median(post, lab, "fat") / liver_post
        assert fat_in > 1.4 and fat_out < 0.3 * fat_in


def test_hcc_washout_and_hemangioma_fill(clean: PhantomDataset) -> None:
    hcc = _lesion_items(clean, 2, "hcc")
    hem_ds = PhantomDataset(class_counts=(0, 10, 0), slices_per_patient=6, size=SIZE, seed=0, noise=False,
                            bias_field=False)
    hem = _lesion_items(hem_ds, 1, "hemangioma_enhancing", min_px=4, erode=0)
    assert len(hcc) >= 3 and len(hem) >= 3
    for i in hcc:
        r = clean.render(i)
        assert _median(r.post_clean, r.labels, "hcc") < 0.95 * _median(r.post_clean, r.labels, "liver")
    for i in hem:
        r = hem_ds.render(i)
        m = r.labels == T["hemangioma_enhancing"]
        assert r.post_clean[m].mean() > 1.2 * _median(r.post_clean, r.labels, "liver")


def test_joint_normalisation_keeps_spgr_ratio(clean: PhantomDataset) -> None:
    for i in (4, 33, 70):
        pair, r = clean[i], clean.render(i)
        assert r.scale_input == r.scale_target
        liver = ndimage.binary_erosion(r.labels == T["liver"], iterations=2)
        ratio = float(np.median(pair.target[liver] / pair.input[liver]))
        p = r.params
        t = TISSUE_PARAMS["liver"]
        pre, post = (spgr_signal(1.0, 1000 / p["liver_t1_ms"] + p["r1"] * c, t.t2s_ms, p["tr_ms"], 2.0,
                                 math.radians(p["alpha_deg"])) for c in (0.0, p["liver_c_mM"]))
        assert ratio == pytest.approx(post / pre, rel=0.05)
        assert 1.4 < ratio < 2.6  # "Expected enhancement": ~1.9
        body = r.labels > 0
        assert np.percentile(pair.target[body], 99.5) > 0.97  # 99.5th percentile of the target maps to ~1


def test_independent_normalisation() -> None:
    ds = PhantomDataset(n_patients=3, slices_per_patient=2, size=SIZE, seed=5, normalization="independent")
    pair, r = ds[1], ds.render(1)
    body = r.labels > 0
    assert r.scale_input != r.scale_target
    for img in (pair.input, pair.target):
        assert np.percentile(img[body], 99.5) > 0.97
        assert (img == 1.0).mean() < 0.01  # only the top 0.5 % of the body is windowed
    np.testing.assert_allclose(pair.input, np.clip(r.pre / r.scale_input, 0, 1), rtol=1e-6)


def test_delayed_phase() -> None:
    kw = dict(n_patients=9, slices_per_patient=6, size=SIZE, seed=0, noise=False, bias_field=False)
    pv, dl = PhantomDataset(**kw), PhantomDataset(**kw, phase="delayed")
    merged = {T["hemangioma_enhancing"]: T["hemangioma_nonenhancing"]}
    for i in range(0, len(pv), 5):
        a, b = pv.anatomy(i), dl.anatomy(i)
        for src, dst in merged.items():
            a, b = np.where(a == src, dst, a), np.where(b == src, dst, b)
        np.testing.assert_array_equal(a, b)  # same anatomy; only the hemangioma's filled part differs
        rp, rd = pv.render(i), dl.render(i)
        enh = [_median(r.post_clean, r.labels, "liver") / _median(r.pre_clean, r.labels, "liver") for r in (rp, rd)]
        assert enh[1] < enh[0]  # "Expected enhancement": 1.71 vs 1.88
    for p in np.flatnonzero(pv.patient_labels() == 1):
        fills = [ds.render(int(p) * 6).params["hemangioma_fill"] for ds in (pv, dl)]
        assert fills[0] <= 0.7 <= fills[1] or fills[0] == fills[1] == 1.0


def test_rician_background_and_snr() -> None:
    ds = PhantomDataset(n_patients=3, slices_per_patient=2, size=SIZE, seed=8, snr_range=(25.0, 25.0))
    r = ds.render(2)
    bg = ~ndimage.binary_dilation(r.labels > 0, iterations=3)
    vals = r.pre[bg].astype(np.float64)
    assert vals.size > 3000
    assert vals.mean() / vals.std() == pytest.approx(math.sqrt(math.pi / (4 - math.pi)), rel=0.06)  # 1.913
    assert vals.mean() == pytest.approx(r.sigma * math.sqrt(math.pi / 2), rel=0.05)  # Rayleigh mean 1.253σ
    liver = r.labels == T["liver"]
    assert r.pre_clean[liver].mean() / r.sigma == pytest.approx(25.0, rel=1e-4)
    assert (r.pre - r.pre_clean)[liver].std() == pytest.approx(r.sigma, rel=0.1)
    quiet = PhantomDataset(n_patients=3, slices_per_patient=2, size=SIZE, seed=8, noise=False).render(2)
    assert quiet.sigma == 0.0 and quiet.pre[bg].max() == 0.0
    np.testing.assert_array_equal(quiet.labels, r.labels)


def test_background_mask() -> None:
    ds = PhantomDataset(n_patients=3, slices_per_patient=2, size=SIZE, seed=8, background_mask=True)
    lab, pair = ds.anatomy(3), ds[3]
    assert (pair.input[lab == 0] == 0).all() and (pair.target[lab == 0] == 0).all()
    assert pair.input[lab > 0].min() >= 0 and pair.input[lab == T["liver"]].min() > 0


def test_fat_suppressed_input() -> None:
    kw = dict(n_patients=3, slices_per_patient=2, size=SIZE, seed=6, noise=False, bias_field=False)
    plain, fs = PhantomDataset(**kw), PhantomDataset(**kw, fat_suppress_input=True)
    a, b = plain[2], fs[2]
    np.testing.assert_array_equal(a.target, b.target)
    lab = plain.anatomy(2)
    ratio = [_median(x.input, lab, "fat") / _median(x.input, lab, "liver") for x in (a, b)]
    assert ratio[0] > 1.4 and ratio[1] < 0.5
    # with fat-sat, pre-contrast liver is the brightest large organ and vessels are dark (docs/phantom.md, "Signal
    # equation and sequence parameters")
    assert _median(b.input, lab, "liver") > 1.4 * _median(b.input, lab, "aorta")


def test_misregistration_moves_target_only() -> None:
    kw = dict(n_patients=4, slices_per_patient=2, size=SIZE, seed=4, noise=False, bias_field=False)
    ref, moved = PhantomDataset(**kw), PhantomDataset(**kw, misregistration_px=4.0)
    shifts = []
    for i in range(len(ref)):
        a, b = ref[i], moved[i]
        np.testing.assert_array_equal(ref.render(i).pre, moved.render(i).pre)  # (the joint scale comes from the target)
        np.testing.assert_array_equal(a.tumor_mask, b.tumor_mask)
        np.testing.assert_array_equal(a.liver_mask, b.liver_mask)
        shifts.append(np.hypot(*np.subtract(ndimage.center_of_mass(b.target), ndimage.center_of_mass(a.target))))
    assert max(shifts) > 0.3 and max(shifts) <= 4.0 + 0.5


# ---------------------------------------------------------------------------------------------------------------
# Noise-free target
# ---------------------------------------------------------------------------------------------------------------
def _high_frequency_energy(img: np.ndarray) -> float:
    """Spectral energy above 0.4 cycles/pixel: white noise keeps ~half its energy there, the phantom's point-spread
    blur ([1, 2, 1]/4, zero response at Nyquist) leaves the noise-free image almost none."""
    power = np.abs(np.fft.fft2(img.astype(np.float64))) ** 2
    f = np.abs(np.fft.fftfreq(img.shape[0]))
    return float(power[np.hypot(f[:, None], f[None, :]) > 0.4].sum())


def test_target_clean_equals_target_without_noise(clean: PhantomDataset) -> None:
    for i in (0, 9, 50):
        pair = clean[i]
        assert pair.target_clean is not None and pair.target_clean.dtype == np.float32
        np.testing.assert_array_equal(pair.target_clean, pair.target)
    moved = PhantomDataset(n_patients=3, slices_per_patient=2, size=SIZE, seed=4, noise=False, misregistration_px=3.0,
                           normalization="independent", background_mask=True)
    np.testing.assert_array_equal(moved[1].target_clean, moved[1].target)


def test_target_clean_is_the_noise_free_target(small: PhantomDataset) -> None:
    for i in (0, 5, 13, 22):
        pair, r = small[i], small.render(i)
        assert pair.target_clean is not None and pair.target_clean.shape == pair.target.shape
        # same scale and window as the target, applied to the noise-free post image
        np.testing.assert_array_equal(pair.target_clean, np.clip(r.post_clean / r.scale_target, 0, 1)
                                      .astype(np.float32))
        assert structural_similarity(pair.target, pair.target_clean, data_range=1.0) < 0.9
        assert _high_frequency_energy(pair.target_clean) < 0.25 * _high_frequency_energy(pair.target)
        liver = ndimage.binary_erosion(pair.liver_mask & ~pair.tumor_mask, iterations=2)
        assert float(pair.target_clean[liver].mean()) == pytest.approx(float(pair.target[liver].mean()), rel=0.05)


def test_pair_without_target_clean() -> None:
    img = np.full((8, 8), 0.5, dtype=np.float32)
    mask = np.zeros((8, 8), dtype=bool)
    meta = PairMeta("p0", 0, (1.0, 1.0), "unit")
    pair = Pair(img, img, mask, mask, 0, meta).validate()
    assert pair.target_clean is None
    assert Pair(img, img, mask, mask, 0, meta, target_clean=img).validate().target_clean is img
    for bad, match in ((np.full((8, 9), 0.5, np.float32), "target_clean has shape"),
                       (img.astype(np.float64), "target_clean must be float32"),
                       (img + 1, r"target_clean must lie in \[0, 1\]")):
        with pytest.raises(DataError, match=match):
            Pair(img, img, mask, mask, 0, meta, target_clean=bad).validate()
    from pixgrl_env.data import make_dataset

    assert make_dataset("toy")[0].target_clean is None


# ---------------------------------------------------------------------------------------------------------------
# Generator version
# ---------------------------------------------------------------------------------------------------------------
#: Fingerprint of the generator per PHANTOM_VERSION (see _fingerprint): per item of a small dataset with every class
#: and a cyst, the means of input, target and target_clean, the tumour and liver pixel counts, and three pixels.
PINNED_FINGERPRINTS: dict[str, list[list[float]]] = {
    "1.0": [
        [0.18982529, 0.18628752, 0.17914625, 0, 584, 0.26869780, 0.56105053, 0.31116426],
        [0.18441915, 0.18864297, 0.18122800, 0, 546, 0.29793513, 0.59896368, 0.26117218],
        [0.26495753, 0.24950101, 0.24226037, 1, 580, 0.40907368, 0.75699520, 0.67254847],
        [0.24726203, 0.21789717, 0.21134079, 0, 456, 0.33726490, 0.68577319, 0.52368784],
        [0.27909070, 0.25958821, 0.24378652, 73, 571, 0.43408141, 0.73679221, 0.38455746],
        [0.27297808, 0.22490496, 0.20954022, 0, 505, 0.35769677, 0.70096028, 0.15107290],
    ],
}


def _fingerprint() -> list[list[float]]:
    ds = PhantomDataset(class_counts=(1, 1, 1), slices_per_patient=2, size=64, seed=2024, cyst_prob=1.0)
    rows = []
    for pair in ds:
        rows.append([float(pair.input.mean(dtype=np.float64)), float(pair.target.mean(dtype=np.float64)),
                     float(pair.target_clean.mean(dtype=np.float64)), int(pair.tumor_mask.sum()),
                     int(pair.liver_mask.sum()), float(pair.input[32, 20]), float(pair.target[32, 20]),
                     float(pair.target[24, 40])])
    return rows


def test_version_pins_the_generated_pixels() -> None:
    """A change to the generated pixels must come with a new PHANTOM_VERSION (tolerance: float32 rounding across
    platforms, far below any change of the model)."""
    ds = PhantomDataset(n_patients=3, size=64)
    assert ds.version == PhantomDataset.version == PHANTOM_VERSION and isinstance(PHANTOM_VERSION, str)
    assert repr(ds).endswith(f"version={PHANTOM_VERSION!r})")
    assert ds.render(0).params["phantom_version"] == PHANTOM_VERSION
    assert ds[0].meta.source == "phantom(seed=0, index=0)"
    actual = _fingerprint()
    how = (f"bump PHANTOM_VERSION in pixgrl_env/data/phantom/version.py and add its fingerprint to "
           f"PINNED_FINGERPRINTS in tests/test_phantom.py: \"<the new version>\": {actual!r}")
    assert PHANTOM_VERSION in PINNED_FINGERPRINTS, f"PHANTOM_VERSION {PHANTOM_VERSION!r} has no fingerprint: {how}"
    pinned = np.array(PINNED_FINGERPRINTS[PHANTOM_VERSION])
    same = np.allclose(actual, pinned, rtol=1e-5, atol=1e-6)
    assert same, (f"The phantom's generated pixels changed but PHANTOM_VERSION is still {PHANTOM_VERSION!r}. If the "
                  f"change is intended, {how}; if not, undo it. Pinned {pinned.tolist()!r}")


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_patients=0), "n_patients"),
    (dict(n_patients=2.5), "2.5"),
    (dict(slices_per_patient=0), "slices_per_patient"),
    (dict(size=16), "size"),
    (dict(size=64.0), "size"),
    (dict(seed=-1), "seed"),
    (dict(class_counts=(1, 2)), "class_counts"),
    (dict(class_counts=(0, 0, 0)), "class_counts"),
    (dict(class_counts=(1, -1, 2)), "class_counts"),
    (dict(phase="arterial"), "arterial"),
    (dict(normalization="minmax"), "minmax"),
    (dict(misregistration_px=-1.0), "misregistration_px"),
    (dict(misregistration_px=100.0), "misregistration_px"),
    (dict(snr_range=(0.0, 10.0)), "snr_range"),
    (dict(snr_range=(40.0, 15.0)), "snr_range"),
    (dict(fov_mm=0.0), "fov_mm"),
    (dict(cyst_prob=1.5), "cyst_prob"),
    (dict(noise="yes"), "noise"),
])
def test_bad_arguments_raise(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        PhantomDataset(**kwargs)


def test_make_dataset_and_labels() -> None:
    from pixgrl_env.data import make_dataset

    ds = make_dataset("phantom", n_patients=3, slices_per_patient=1, size=64)
    assert isinstance(ds, PhantomDataset) and ds[0].label in range(len(LABELS))


def test_benchmark_smoke() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from bench_phantom import bench_phantom
    finally:
        sys.path.pop(0)
    out = bench_phantom(n=2, size=64)
    assert out["n"] == 2 and out["pairs_per_s"] > 0 and out["size"] == 64
