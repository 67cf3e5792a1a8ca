"""Tests of agents.graph: SLIC superpixels and the normalised 5×5 pixel adjacency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.graph import adjacency_weights, gaussian_kernel, graph_weights, neighbour_offsets
from agents.superpixels import superpixels

OFFSETS = neighbour_offsets(5)


def _two_halves(h: int = 8, w: int = 8) -> torch.Tensor:
    img = torch.full((1, 1, h, w), 0.2)
    img[..., w // 2 :] = 0.8
    return img


def _random_labels(n: int, h: int, w: int, n_labels: int, seed: int = 0) -> torch.Tensor:
    """Blocky random labels: a coarse random label grid upsampled, so segments have borders in both directions."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, n_labels, (n, (h + 2) // 3, (w + 2) // 3), generator=g)
    return coarse.repeat_interleave(3, dim=1).repeat_interleave(3, dim=2)[:, :h, :w].contiguous()


def _dense(weights: torch.Tensor) -> np.ndarray:
    """Dense (HW × HW) matrix of one image's window weights (K, H, W)."""
    _, h, w = weights.shape
    mat = np.zeros((h * w, h * w))
    for k, (dy, dx) in enumerate(OFFSETS):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    mat[y * w + x, (y + dy) * w + x + dx] = weights[k, y, x].item()
    return mat


def _reference(labels: np.ndarray, sigma: float, mode: str) -> np.ndarray:
    """D^-1/2 A D^-1/2 from G and S, computed independently over all pixel pairs of a 5×5 window."""
    h, w = labels.shape
    ys, xs = np.divmod(np.arange(h * w), w)
    dy = ys[:, None] - ys[None, :]
    dx = xs[:, None] - xs[None, :]
    in_window = (np.abs(dy) <= 2) & (np.abs(dx) <= 2)
    g = np.exp(-(dy**2 + dx**2) / (2 * sigma**2))
    s = np.where(labels.ravel()[:, None] == labels.ravel()[None, :], 1.0, 0.5)
    a = (s * g if mode == "product" else g**s) * in_window
    d = a.sum(axis=1)
    return a / np.sqrt(d[:, None] * d[None, :])


def test_neighbour_order_row_major_and_reversible() -> None:
    assert OFFSETS[0] == (-2, -2) and OFFSETS[1] == (-2, -1) and OFFSETS[12] == (0, 0) and OFFSETS[24] == (2, 2)
    for k, (dy, dx) in enumerate(OFFSETS):
        assert OFFSETS[24 - k] == (-dy, -dx)
    g = gaussian_kernel(5, 1.5)
    assert g[12] == 1 and torch.all(g <= 1) and g[0] == pytest.approx(np.exp(-8 / 4.5))
    with pytest.raises(ValueError):
        neighbour_offsets(4)


def test_superpixels_split_two_halves_deterministic() -> None:
    img = _two_halves(8, 8)
    labels = superpixels(img, n_pixels_per_segment=16)
    assert labels.dtype == torch.long and labels.shape == (1, 8, 8)
    left, right = set(labels[0, :, :4].unique().tolist()), set(labels[0, :, 4:].unique().tolist())
    assert left.isdisjoint(right)
    torch.testing.assert_close(labels, superpixels(img, n_pixels_per_segment=16))
    # a numpy (N, H, W) array gives the same labels as the (N, 1, H, W) tensor
    torch.testing.assert_close(labels, superpixels(img[:, 0].numpy(), n_pixels_per_segment=16))


def test_superpixel_count_close_to_target() -> None:
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    img = (0.3 + 0.4 * (((yy - 32) ** 2 + (xx - 32) ** 2) < 20**2)).expand(2, 1, 64, 64)
    labels = superpixels(img)  # 64 px per segment -> 64 segments requested
    assert labels.min() == 0
    for n in range(2):
        assert 40 <= labels[n].max().item() + 1 <= 80


def test_symmetric_on_slic_and_random_labels() -> None:
    cases = [superpixels(_two_halves(8, 8), n_pixels_per_segment=16), _random_labels(2, 9, 7, n_labels=4)]
    for labels in cases:
        for mode in ("product", "literal"):
            w = adjacency_weights(labels, mode=mode, dtype=torch.float64)
            _, _, h, wd = w.shape
            for k, (dy, dx) in enumerate(OFFSETS):
                ys = slice(max(0, -dy), h - max(0, dy))
                xs = slice(max(0, -dx), wd - max(0, dx))
                ys2 = slice(ys.start + dy, ys.stop + dy)
                xs2 = slice(xs.start + dx, xs.stop + dx)
                torch.testing.assert_close(w[:, k, ys, xs], w[:, 24 - k, ys2, xs2])


@pytest.mark.parametrize("mode", ["product", "literal"])
@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_normalisation_matches_dense_numpy_reference(mode: str, sigma: float) -> None:
    labels = _random_labels(1, 6, 6, n_labels=3, seed=1)
    w = adjacency_weights(labels, sigma=sigma, mode=mode, dtype=torch.float64)
    got = _dense(w[0])
    np.testing.assert_allclose(got, _reference(labels[0].numpy(), sigma, mode), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, got.T, atol=1e-14)
    assert np.linalg.eigvalsh(got).max() <= 1 + 1e-10  # spectrum of D^-1/2 A D^-1/2 lies in [-1, 1]


def test_cross_superpixel_weight_product_and_literal() -> None:
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[..., 4:] = 1  # border between columns 3 and 4
    g = gaussian_kernel(5, 1.5)
    k_left, k_right = OFFSETS.index((0, -1)), OFFSETS.index((0, 1))
    raw = adjacency_weights(labels, mode="product", normalize=False, dtype=torch.float64)
    # pixel (4, 3): its left neighbour shares the superpixel, its right one does not; both at distance 1
    assert raw[0, k_left, 4, 3] == pytest.approx(g[k_left].item())
    assert raw[0, k_right, 4, 3] == pytest.approx(0.5 * raw[0, k_left, 4, 3].item())
    lit = adjacency_weights(labels, mode="literal", normalize=False, dtype=torch.float64)
    assert lit[0, k_left, 4, 3] == pytest.approx(g[k_left].item())
    assert lit[0, k_right, 4, 3] == pytest.approx(g[k_right].item() ** 0.5)
    assert lit[0, k_right, 4, 3] > lit[0, k_left, 4, 3]  # eq. 2 as printed favours the other superpixel


def test_out_of_image_weights_zero() -> None:
    labels = _random_labels(1, 7, 9, n_labels=3)
    w = adjacency_weights(labels)
    _, _, h, wd = w.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(wd), indexing="ij")
    for k, (dy, dx) in enumerate(OFFSETS):
        outside = (ys + dy < 0) | (ys + dy >= h) | (xs + dx < 0) | (xs + dx >= wd)
        assert torch.all(w[0, k][outside] == 0)
        assert torch.all(w[0, k][~outside] > 0)


def test_batch_independence() -> None:
    labels = _random_labels(3, 10, 12, n_labels=4, seed=2)
    w = adjacency_weights(labels)
    for n in range(3):
        torch.testing.assert_close(w[n : n + 1], adjacency_weights(labels[n : n + 1]))
    imgs = torch.cat([_two_halves(16, 16), torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))])
    gw = graph_weights(imgs, n_pixels_per_segment=16)
    assert gw.shape == (2, 25, 16, 16) and gw.dtype == torch.float32
    for n in range(2):
        torch.testing.assert_close(gw[n : n + 1], graph_weights(imgs[n : n + 1], n_pixels_per_segment=16))


def test_invalid_arguments() -> None:
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="mode"):
        adjacency_weights(labels, mode="sum")
    with pytest.raises(ValueError):
        adjacency_weights(labels[0])
    with pytest.raises(ValueError):
        superpixels(torch.rand(1, 3, 8, 8))
