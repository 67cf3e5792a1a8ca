"""Reward maps (eqs. 6-7) against independent references: hand computations, numpy patches and scipy's W1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F

from pixgrl_env.rewards import (
    DEFAULT_HIST_BINS,
    DEFAULT_W1_BINS,
    DISTANCES,
    HIST_EPS,
    METHODS,
    MODES,
    pixel_reward,
    region_distance,
    region_reward,
    region_reward_and_distance,
    sliding_wasserstein,
)

# ------------------------------------------------------------------------------------------------------------------
# helpers: independent numpy references


def _np_patch(img: np.ndarray, i: int, j: int, patch: int) -> np.ndarray:
    """The zero-padded patch of pixel (i, j): rows i - patch//2 ... i - patch//2 + patch - 1, built by hand."""
    h, w = img.shape
    out = np.zeros((patch, patch), dtype=np.float64)
    for di in range(patch):
        for dj in range(patch):
            r, c = i - patch // 2 + di, j - patch // 2 + dj
            if 0 <= r < h and 0 <= c < w:
                out[di, dj] = img[r, c]
    return out.ravel()


def _np_hist(values: np.ndarray, bins: int, eps: float) -> np.ndarray:
    counts, _ = np.histogram(np.clip(values, 0, 1), bins=bins, range=(0.0, 1.0))
    p = counts / values.size
    return (p + eps) / (1 + bins * eps)


def _pixels(h: int, w: int) -> list[tuple[int, int]]:
    """Corners, edge midpoints, the centre and a few interior pixels."""
    pts = {(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (0, w // 2), (h // 2, 0), (h - 1, w // 2),
           (h // 2, w - 1), (h // 2, w // 2), (1, 2), (h - 2, w - 3), (3, w - 2)}
    return sorted(pts)


def _smooth(shape: tuple[int, ...], cells: int, g: torch.Generator) -> torch.Tensor:
    n, c, h, w = shape
    coarse = torch.rand(n, c, cells, cells, generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _stepped(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Multiply by random per-pixel factors in {0.95, 1, 1.05} and clip: one random step of the paper's actions."""
    factors = torch.tensor([0.95, 1.0, 1.05])[torch.randint(0, 3, x.shape, generator=g)]
    return (x * factors).clamp(0, 1)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


# ------------------------------------------------------------------------------------------------------------------
# pixel reward (eq. 6)


def test_pixel_reward_hand_computed():
    prev = torch.tensor([0.5, 0.5, 0.5, 0.2]).view(1, 1, 2, 2)
    cur = torch.tensor([0.6, 0.4, 0.9, 0.2]).view(1, 1, 2, 2)
    target = torch.tensor([0.8, 0.8, 0.6, 0.7]).view(1, 1, 2, 2)
    # 0.3^2 - 0.2^2; 0.3^2 - 0.4^2; 0.1^2 - 0.3^2 (overshoot); unchanged pixel
    expected = torch.tensor([0.05, -0.07, -0.08, 0.0]).view(1, 1, 2, 2)
    torch.testing.assert_close(pixel_reward(prev, cur, target), expected, atol=1e-7, rtol=0)


def test_pixel_reward_identity_is_exactly_zero_and_sign(gen):
    x = torch.rand(2, 3, 8, 9, generator=gen)
    y = torch.rand(2, 3, 8, 9, generator=gen)
    assert torch.equal(pixel_reward(x, x, y), torch.zeros_like(x))
    closer = x + 0.5 * (y - x)
    r = pixel_reward(x, closer, y)
    assert r.shape == x.shape and r.dtype == torch.float32
    assert (r[(y - x).abs() > 1e-3] > 0).all()
    assert (pixel_reward(closer, x, y)[(y - x).abs() > 1e-3] < 0).all()
    # landing exactly on the target earns the whole squared error
    torch.testing.assert_close(pixel_reward(x, y, y), (y - x) ** 2)


# ------------------------------------------------------------------------------------------------------------------
# exact sliding W1 against scipy


@pytest.mark.parametrize("patch", [1, 2, 3, 4, 5, 8, 16])
def test_exact_w1_matches_scipy_on_handbuilt_patches(patch, gen):
    a = torch.rand(2, 2, 13, 17, generator=gen)
    b = torch.rand(2, 2, 13, 17, generator=gen) ** 2
    out = sliding_wasserstein(a, b, patch, "exact")
    assert out.shape == a.shape and out.dtype == torch.float32
    an, bn = a.double().numpy(), b.double().numpy()
    for n, c in [(0, 0), (1, 1), (0, 1)]:
        for i, j in _pixels(13, 17):
            ref = scipy.stats.wasserstein_distance(_np_patch(an[n, c], i, j, patch), _np_patch(bn[n, c], i, j, patch))
            assert out[n, c, i, j].item() == pytest.approx(ref, abs=1e-6), (patch, n, c, i, j)


def test_exact_w1_full_map_matches_scipy(gen):
    a = torch.rand(1, 1, 7, 9, generator=gen)
    b = torch.rand(1, 1, 7, 9, generator=gen)
    out = sliding_wasserstein(a, b, 4, "exact")[0, 0].numpy()
    an, bn = a[0, 0].double().numpy(), b[0, 0].double().numpy()
    ref = np.array([[scipy.stats.wasserstein_distance(_np_patch(an, i, j, 4), _np_patch(bn, i, j, 4))
                     for j in range(9)] for i in range(7)])
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)


def test_exact_w1_chunking_does_not_change_result(gen):
    a = torch.rand(2, 2, 11, 14, generator=gen)
    b = torch.rand(2, 2, 11, 14, generator=gen)
    full = sliding_wasserstein(a, b, 6, "exact")
    tiny = sliding_wasserstein(a, b, 6, "exact", chunk_bytes=1)  # one row of one image per chunk
    mid = sliding_wasserstein(a, b, 6, "exact", chunk_bytes=36 * 14 * 4 * 3 * 40)  # all images, 3 rows at a time
    torch.testing.assert_close(tiny, full, atol=0, rtol=0)
    torch.testing.assert_close(mid, full, atol=0, rtol=0)


def test_exact_w1_limits(gen):
    a = torch.rand(1, 1, 12, 12, generator=gen)
    assert torch.equal(sliding_wasserstein(a, a, 5, "exact"), torch.zeros_like(a))
    # W1 shifts by the shift of a translation, where the whole patch is inside the image
    w = sliding_wasserstein(a, a + 0.25, 5, "exact")
    torch.testing.assert_close(w[..., 2:-2, 2:-2], torch.full_like(w[..., 2:-2, 2:-2], 0.25), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------------------------------
# approx sliding W1: error against exact, limit cases


def _approx_and_exact(a: torch.Tensor, b: torch.Tensor, patch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    return sliding_wasserstein(a, b, patch, "approx"), sliding_wasserstein(a, b, patch, "exact")


@pytest.mark.parametrize("cells", [4, 8, 16])
def test_approx_w1_error_on_smooth_image_and_random_step(cells, gen):
    a = _smooth((1, 1, 96, 96), cells, gen)
    b = _stepped(a, gen)
    approx, exact = _approx_and_exact(a, b)
    assert (approx - exact).abs().max().item() <= 2e-3
    assert (approx <= exact + 1e-5).all()  # only ever an under-estimate (up to float error)


def test_approx_w1_error_on_unrelated_uniform_images(gen):
    a = torch.rand(1, 1, 96, 96, generator=gen)
    b = torch.rand(1, 1, 96, 96, generator=gen)
    approx, exact = _approx_and_exact(a, b)
    assert (approx - exact).abs().max().item() <= 2e-3
    assert (approx <= exact + 1e-5).all()


def test_approx_w1_error_on_flat_image_is_within_documented_bound(gen):
    """Worst case of the binning: flat patches whose CDF difference changes sign inside one bin (<= D/2)."""
    for value in (0.1, 0.5 + 0.5 / DEFAULT_W1_BINS, 0.8):
        a = torch.full((1, 1, 40, 40), value)
        b = _stepped(a, gen)
        approx, exact = _approx_and_exact(a, b)
        assert (approx - exact).abs().max().item() <= 0.5 / DEFAULT_W1_BINS


def test_approx_w1_identical_inputs_give_exactly_zero(gen):
    a = _smooth((2, 2, 33, 40), 5, gen)
    assert torch.equal(sliding_wasserstein(a, a, 16, "approx"), torch.zeros_like(a))


@pytest.mark.parametrize("c1,c2", [(0.2, 0.7), (0.9, 0.35), (0.0, 1.0), (0.5, 0.5 + 1e-3)])
def test_approx_w1_constant_images_away_from_borders(c1, c2):
    a = torch.full((1, 1, 40, 40), c1)
    b = torch.full((1, 1, 40, 40), c2)
    for patch in (1, 5, 16):
        approx = sliding_wasserstein(a, b, patch, "approx")
        inner = approx[..., patch : -patch, patch : -patch]
        torch.testing.assert_close(inner, torch.full_like(inner, abs(c1 - c2)), atol=2e-6, rtol=0)


def test_approx_w1_values_outside_unit_range(gen):
    """The integration range widens to the data, so approx still tracks exact (error scales with the range)."""
    a = torch.rand(1, 2, 48, 48, generator=gen) * 3 - 1
    b = torch.rand(1, 2, 48, 48, generator=gen) * 3 - 1
    approx, exact = _approx_and_exact(a, b, 8)
    assert (approx - exact).abs().max().item() <= 3 * 2e-3


def test_approx_w1_chunking_and_bins(gen):
    a = torch.rand(2, 1, 30, 30, generator=gen)
    b = torch.rand(2, 1, 30, 30, generator=gen)
    full = sliding_wasserstein(a, b, 7, "approx", bins=50)
    tiny = sliding_wasserstein(a, b, 7, "approx", bins=50, chunk_bytes=1)  # one bin per chunk
    torch.testing.assert_close(tiny, full, atol=1e-6, rtol=0)
    exact = sliding_wasserstein(a, b, 7, "exact")
    # more bins, smaller error
    err = [(sliding_wasserstein(a, b, 7, "approx", bins=k) - exact).abs().max().item() for k in (8, 32, 256)]
    assert err[0] > err[1] > err[2]


def test_float64_inputs(gen):
    a = torch.rand(1, 1, 10, 11, generator=gen, dtype=torch.float64)
    b = torch.rand(1, 1, 10, 11, generator=gen, dtype=torch.float64)
    for method in METHODS:
        assert sliding_wasserstein(a, b, 4, method).dtype == torch.float64
    ref = scipy.stats.wasserstein_distance(_np_patch(a[0, 0].numpy(), 5, 5, 4), _np_patch(b[0, 0].numpy(), 5, 5, 4))
    assert sliding_wasserstein(a, b, 4, "exact")[0, 0, 5, 5].item() == pytest.approx(ref, abs=1e-12)


# ------------------------------------------------------------------------------------------------------------------
# other distances


@pytest.mark.parametrize("distance", DISTANCES)
def test_distances_zero_on_identical_inputs(distance, gen):
    a = _smooth((2, 2, 20, 21), 5, gen)
    d = region_distance(a, a, 6, distance)
    assert d.shape == a.shape
    assert torch.equal(d, torch.zeros_like(a))


def test_js_symmetric_bounded_and_kl_not_symmetric(gen):
    a = torch.rand(1, 1, 24, 24, generator=gen)
    b = torch.rand(1, 1, 24, 24, generator=gen) ** 3
    js_ab = region_distance(a, b, 8, "js")
    torch.testing.assert_close(js_ab, region_distance(b, a, 8, "js"), atol=1e-6, rtol=0)
    assert (js_ab >= 0).all() and (js_ab <= math.log(2) + 1e-6).all()
    # disjoint supports (patches inside the image, rows/cols 2..9 for patch 4): JS close to ln 2, KL large and
    # finite (smoothing); at the borders the padded zeros make the distributions overlap
    zeros, ones = torch.zeros(1, 1, 12, 12), torch.ones(1, 1, 12, 12)
    js = region_distance(zeros, ones, 4, "js")
    assert (js <= math.log(2) + 1e-6).all() and (js[..., 2:-1, 2:-1] > 0.69).all() and (js[..., 0, 0] < 0.69)
    kl = region_distance(zeros, ones, 4, "kl")
    assert torch.isfinite(kl).all() and (kl[..., 2:-1, 2:-1] > 5).all()
    kl_ab, kl_ba = region_distance(a, b, 8, "kl"), region_distance(b, a, 8, "kl")
    assert (kl_ab >= 0).all() and not torch.allclose(kl_ab, kl_ba)


@pytest.mark.parametrize("distance", ["kl", "js"])
@pytest.mark.parametrize("patch", [3, 8])
def test_kl_js_match_numpy_histograms(distance, patch, gen):
    a = torch.rand(1, 1, 11, 14, generator=gen)
    b = torch.rand(1, 1, 11, 14, generator=gen) ** 2
    bins = 10
    out = region_distance(a, b, patch, distance, bins=bins)
    an, bn = a[0, 0].double().numpy(), b[0, 0].double().numpy()
    for i, j in _pixels(11, 14):
        pa = _np_hist(_np_patch(an, i, j, patch), bins, HIST_EPS)
        pb = _np_hist(_np_patch(bn, i, j, patch), bins, HIST_EPS)
        if distance == "kl":
            ref = scipy.stats.entropy(pa, pb)
        else:
            m = (pa + pb) / 2
            ref = 0.5 * scipy.stats.entropy(pa, m) + 0.5 * scipy.stats.entropy(pb, m)
        assert out[0, 0, i, j].item() == pytest.approx(ref, abs=1e-5), (i, j)


def test_default_hist_bins_used(gen):
    a = torch.rand(1, 1, 10, 10, generator=gen)
    b = torch.rand(1, 1, 10, 10, generator=gen)
    torch.testing.assert_close(region_distance(a, b, 4, "kl"), region_distance(a, b, 4, "kl", bins=DEFAULT_HIST_BINS))


@pytest.mark.parametrize("patch", [1, 4, 5])
def test_mse_matches_numpy(patch, gen):
    a = torch.rand(2, 1, 9, 12, generator=gen)
    b = torch.rand(2, 1, 9, 12, generator=gen)
    out = region_distance(a, b, patch, "mse")
    an, bn = a.double().numpy(), b.double().numpy()
    for n in range(2):
        for i in range(9):
            for j in range(12):
                ref = np.mean((_np_patch(an[n, 0], i, j, patch) - _np_patch(bn[n, 0], i, j, patch)) ** 2)
                assert out[n, 0, i, j].item() == pytest.approx(ref, abs=1e-6)


def test_region_distance_wasserstein_is_sliding_wasserstein(gen):
    a = torch.rand(1, 1, 20, 20, generator=gen)
    b = torch.rand(1, 1, 20, 20, generator=gen)
    for method in METHODS:
        torch.testing.assert_close(region_distance(a, b, 5, "wasserstein", method),
                                   sliding_wasserstein(a, b, 5, method, DEFAULT_W1_BINS))
    torch.testing.assert_close(region_distance(a, b, 5, "wasserstein", "approx", bins=16),
                               sliding_wasserstein(a, b, 5, "approx", 16))


# ------------------------------------------------------------------------------------------------------------------
# region reward (eq. 7)


@pytest.mark.parametrize("distance", DISTANCES)
def test_region_reward_identity_step_is_zero(distance, gen):
    prev = _smooth((2, 1, 24, 24), 4, gen)
    target = torch.rand(2, 1, 24, 24, generator=gen)
    for mode in MODES:
        r = region_reward(prev, prev, target, 8, distance, mode)
        assert torch.equal(r, torch.zeros_like(prev)), mode


@pytest.mark.parametrize("method", METHODS)
def test_region_reward_improvement_onto_target_and_sign(method, gen):
    prev = _smooth((1, 1, 32, 32), 4, gen)
    target = _stepped(prev, gen)
    d_prev = region_distance(prev, target, 16, "wasserstein", method)
    onto = region_reward(prev, target, target, 16, method=method)
    torch.testing.assert_close(onto, d_prev, atol=0, rtol=0)  # D(target, target) == 0 exactly
    assert (onto >= 0).all() and onto.max() > 0
    away = region_reward(target, prev, target, 16, method=method)
    torch.testing.assert_close(away, -d_prev, atol=0, rtol=0)


def test_region_reward_prev_distance_cache(gen):
    s0 = torch.rand(2, 1, 24, 24, generator=gen)
    target = torch.rand(2, 1, 24, 24, generator=gen)
    s1, s2 = _stepped(s0, gen), None
    s2 = _stepped(s1, gen)
    for distance in DISTANCES:
        d0 = region_distance(s0, target, 8, distance)
        r1, d1 = region_reward_and_distance(s0, s1, target, 8, distance, prev_distance=d0)
        torch.testing.assert_close(r1, region_reward(s0, s1, target, 8, distance), atol=0, rtol=0)
        torch.testing.assert_close(d1, region_distance(s1, target, 8, distance), atol=0, rtol=0)
        r2 = region_reward(s1, s2, target, 8, distance, prev_distance=d1)
        torch.testing.assert_close(r2, region_reward(s1, s2, target, 8, distance), atol=0, rtol=0)
        r_nocache, _ = region_reward_and_distance(s0, s1, target, 8, distance)
        torch.testing.assert_close(r_nocache, r1, atol=0, rtol=0)


def test_region_reward_literal_is_distance_between_steps_and_ignores_target(gen):
    prev = torch.rand(1, 1, 20, 20, generator=gen)
    cur = _stepped(prev, gen)
    t1, t2 = torch.rand(1, 1, 20, 20, generator=gen), torch.zeros(1, 1, 20, 20)
    lit = region_reward(prev, cur, t1, 6, mode="literal", method="exact")
    torch.testing.assert_close(lit, sliding_wasserstein(prev, cur, 6, "exact"), atol=0, rtol=0)
    torch.testing.assert_close(lit, region_reward(prev, cur, t2, 6, mode="literal", method="exact"), atol=0, rtol=0)
    assert (lit >= 0).all() and lit.max() > 0


# ------------------------------------------------------------------------------------------------------------------
# batch and channel independence


@pytest.mark.parametrize("distance,method", [("wasserstein", "exact"), ("wasserstein", "approx"), ("kl", "approx"),
                                             ("js", "approx"), ("mse", "approx")])
def test_batch_and_channel_independence(distance, method, gen):
    prev = torch.rand(3, 2, 18, 21, generator=gen)
    cur = _stepped(prev, gen)
    target = torch.rand(3, 2, 18, 21, generator=gen) * 1.5 - 0.25  # per-item ranges differ for approx W1
    batched = region_reward(prev, cur, target, 6, distance, method=method)
    single = torch.stack([torch.cat([region_reward(prev[n : n + 1, c : c + 1], cur[n : n + 1, c : c + 1],
                                                   target[n : n + 1, c : c + 1], 6, distance, method=method)
                                     for c in range(2)], dim=1)[0] for n in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-6, rtol=0)
    px = pixel_reward(prev, cur, target)
    torch.testing.assert_close(px[1:2], pixel_reward(prev[1:2], cur[1:2], target[1:2]), atol=0, rtol=0)


# ------------------------------------------------------------------------------------------------------------------
# bad input


def test_bad_inputs_raise_with_informative_messages():
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(TypeError, match=r"a must be a torch.Tensor .* got ndarray"):
        sliding_wasserstein(np.zeros((1, 1, 8, 8)), x)
    with pytest.raises(ValueError, match=r"a must be 4-D \(N, C, H, W\), got shape \(8, 8\)"):
        sliding_wasserstein(torch.zeros(8, 8), torch.zeros(8, 8))
    with pytest.raises(TypeError, match=r"floating dtype .* got torch.int64"):
        sliding_wasserstein(x.long(), x.long())
    with pytest.raises(ValueError, match=r"b must have the same shape as a: expected \(1, 1, 8, 8\), got \(1, 1, 8, 9"):
        sliding_wasserstein(x, torch.zeros(1, 1, 8, 9))
    with pytest.raises(TypeError, match=r"b must have the same dtype as a"):
        sliding_wasserstein(x, x.double())
    with pytest.raises(ValueError, match=r"patch must be an int >= 1, got 0"):
        sliding_wasserstein(x, x, patch=0)
    with pytest.raises(TypeError, match=r"patch must be an int >= 1, got 2.5"):
        sliding_wasserstein(x, x, patch=2.5)
    with pytest.raises(TypeError, match=r"patch must be an int >= 1, got True"):
        sliding_wasserstein(x, x, patch=True)
    with pytest.raises(ValueError, match=r"method must be one of \('exact', 'approx'\), got 'fast'"):
        sliding_wasserstein(x, x, method="fast")
    with pytest.raises(ValueError, match=r"bins must be an int >= 1, got 0"):
        sliding_wasserstein(x, x, method="approx", bins=0)
    with pytest.raises(ValueError, match=r"distance must be one of \('wasserstein', 'kl', 'js', 'mse'\), got 'l1'"):
        region_distance(x, x, distance="l1")
    with pytest.raises(ValueError, match=r"eps must be a positive finite float, got -1"):
        region_distance(x, x, distance="kl", eps=-1)
    with pytest.raises(ValueError, match=r"mode must be one of \('improvement', 'literal'\), got 'reverse'"):
        region_reward(x, x, x, mode="reverse")
    with pytest.raises(ValueError, match=r"target must have the same shape as prev"):
        region_reward(x, x, torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"cur must have the same shape as prev"):
        pixel_reward(x, torch.zeros(2, 1, 8, 8), x)
    with pytest.raises(ValueError, match=r"prev_distance must have the same shape as prev"):
        region_reward(x, x, x, prev_distance=torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"prev_distance is only used with mode='improvement'"):
        region_reward(x, x, x, mode="literal", prev_distance=x)


@pytest.mark.parametrize("distance,method", [("wasserstein", "exact"), ("wasserstein", "approx"), ("kl", "approx"),
                                             ("js", "approx"), ("mse", "approx")])
def test_nan_propagates_and_is_never_silently_dropped(distance, method):
    a = torch.full((1, 1, 12, 12), 0.5)
    a[0, 0, 6, 6] = float("nan")
    d = region_distance(a, torch.full_like(a, 0.25), 4, distance, method)
    assert torch.isnan(d[0, 0, 5:9, 5:9]).all()  # every pixel whose patch (rows/cols i-2 .. i+1) holds the NaN
    if not (distance == "wasserstein" and method == "approx"):  # approx W1: the whole map (documented)
        assert not torch.isnan(d[0, 0, :3]).any()


# ------------------------------------------------------------------------------------------------------------------
# CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(gen):
    prev = _smooth((2, 2, 40, 36), 6, gen)
    cur = _stepped(prev, gen)
    target = torch.rand(2, 2, 40, 36, generator=gen)
    dev = torch.device("cuda")
    torch.testing.assert_close(pixel_reward(prev.to(dev), cur.to(dev), target.to(dev)).cpu(),
                               pixel_reward(prev, cur, target))
    for distance in DISTANCES:
        for method in METHODS:
            for mode in MODES:
                ref = region_reward(prev, cur, target, 16, distance, mode, method)
                got = region_reward(prev.to(dev), cur.to(dev), target.to(dev), 16, distance, mode, method)
                assert got.device.type == "cuda"
                torch.testing.assert_close(got.cpu(), ref, atol=2e-6, rtol=1e-5)
    # inputs on different devices are refused
    with pytest.raises(ValueError, match=r"b must be on the same device as a"):
        sliding_wasserstein(prev, cur.to(dev))


def test_option_lists_are_defined_once_in_config():
    import pixgrl_env.config as config
    import pixgrl_env.rewards as rewards
    import pixgrl_env.wasserstein as wasserstein

    assert rewards.DISTANCES is config.DISTANCES
    assert rewards.MODES is config.REWARD_MODES and rewards.METHODS is config.W1_METHODS
    assert rewards.sliding_wasserstein is wasserstein.sliding_wasserstein
    assert rewards.DEFAULT_W1_BINS == wasserstein.DEFAULT_W1_BINS
