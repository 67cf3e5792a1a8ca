"""Tests of agents.networks: the graph aggregation, GraphConv, PixGRLNet and the Table 3 backbones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from agents.graph import adjacency_weights, graph_weights, neighbour_offsets
from agents.networks import BACKBONES, GraphConv, PixGRLNet, graph_aggregate, make_network

OFFSETS = neighbour_offsets(5)


def _labels(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 3, (n, (h + 2) // 3, (w + 2) // 3), generator=g)
    return coarse.repeat_interleave(3, dim=1).repeat_interleave(3, dim=2)[:, :h, :w].contiguous()


def _unfold_reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Σ_k w_k · shift_k(x) via an explicit 25-fold unfold (fine for tiny maps)."""
    n, c, h, wd = x.shape
    cols = F.unfold(x, kernel_size=5, padding=2).view(n, c, 25, h, wd)  # row-major offsets, as in agents.graph
    return (cols * w[:, None]).sum(dim=2)


def _dense_matrix(w: torch.Tensor) -> torch.Tensor:
    """(N, HW, HW) matrix of window weights (N, 25, H, W), built with differentiable indexing."""
    n, _, h, wd = w.shape
    mat = w.new_zeros(n, h * wd, h * wd)
    for k, (dy, dx) in enumerate(OFFSETS):
        for y in range(max(0, -dy), h - max(0, dy)):
            for x in range(max(0, -dx), wd - max(0, dx)):
                mat[:, y * wd + x, (y + dy) * wd + x + dx] = w[:, k, y, x]
    return mat


def test_aggregate_matches_unfold_and_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.rand(2, 25, 6, 7, dtype=torch.float64, generator=g, requires_grad=True)  # not symmetric
    torch.testing.assert_close(graph_aggregate(x, w), _unfold_reference(x, w))
    assert torch.autograd.gradcheck(lambda t: graph_aggregate(t, w.detach()), (x,))
    xs, ws = x[:1, :2, :4, :5].detach().requires_grad_(), w[:1, :, :4, :5].detach().requires_grad_()
    assert torch.autograd.gradcheck(graph_aggregate, (xs, ws))


def test_aggregate_handles_maps_smaller_than_window() -> None:
    x = torch.randn(1, 2, 1, 3, dtype=torch.float64)
    w = torch.rand(1, 25, 1, 3, dtype=torch.float64)
    torch.testing.assert_close(graph_aggregate(x, w), _unfold_reference(x, w))


def test_graphconv_matches_dense_reference_forward_and_backward() -> None:
    torch.manual_seed(0)
    n, c_in, c_out, h, wd = 2, 3, 4, 6, 5
    graph = adjacency_weights(_labels(n, h, wd), dtype=torch.float64)
    layer = GraphConv(c_in, c_out).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(n, c_in, h, wd, dtype=torch.float64, requires_grad=True)
    out = layer(x, graph)

    # dense reference: relu(Â (H W) + b) with Â the (HW × HW) matrix
    x_ref = x.detach().clone().requires_grad_()
    weight = layer.proj.weight.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    hw = torch.einsum("oc,nchw->nhwo", weight[:, :, 0, 0], x_ref).reshape(n, h * wd, c_out)
    ref = torch.relu(_dense_matrix(graph) @ hw + bias).reshape(n, h, wd, c_out).permute(0, 3, 1, 2)
    torch.testing.assert_close(out, ref)

    upstream = torch.randn_like(out)
    out.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(layer.proj.weight.grad, weight.grad)
    torch.testing.assert_close(layer.bias.grad, bias.grad)


def test_graphconv_gradcheck_float64() -> None:
    torch.manual_seed(1)
    layer = GraphConv(2, 3).double()
    graph = adjacency_weights(_labels(1, 4, 5), dtype=torch.float64)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    params = (layer.proj.weight, layer.bias)
    assert torch.autograd.gradcheck(lambda t, *_: layer(t, graph), (x, *params))


def test_graphconv_saves_no_unfolded_features() -> None:
    """Autograd keeps about the input, the graph and the output, never a 25-fold tensor."""
    n, c, h, w = 1, 16, 24, 24
    layer = GraphConv(c, c)
    graph = adjacency_weights(_labels(n, h, w))
    x = torch.randn(n, c, h, w, requires_grad=True)
    params = {p.data_ptr() for p in layer.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in params:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x, graph)
    fmap = x.numel() * x.element_size()
    assert sum(saved.values()) <= 2 * fmap + graph.numel() * graph.element_size()


@pytest.mark.parametrize(("n", "h", "w"), [(1, 16, 16), (2, 17, 23), (3, 8, 32)])
def test_pixgrl_output_shapes(n: int, h: int, w: int) -> None:
    net = PixGRLNet(in_channels=2, n_actions=5, conv_channels=8, graph_channels=16)
    obs = torch.rand(n, 2, h, w)
    graph = adjacency_weights(_labels(n, h, w))
    logits, value = net(obs, graph)
    assert logits.shape == (n, 5, h, w) and value.shape == (n, 1, h, w)
    assert torch.isfinite(logits).all() and torch.isfinite(value).all()


def test_pixgrl_builds_graph_when_missing() -> None:
    net = PixGRLNet(conv_channels=8, graph_channels=8, graph_kwargs={"n_pixels_per_segment": 16})
    obs = torch.rand(2, 1, 12, 12)
    graph = graph_weights(obs, n_pixels_per_segment=16)
    for a, b in zip(net(obs), net(obs, graph)):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="graph"):
        net(obs, graph[:1])


@pytest.mark.parametrize("backbone", BACKBONES)
def test_backbone_shapes_grads_and_batch_independence(backbone: str) -> None:
    torch.manual_seed(0)
    net = make_network(backbone, in_channels=1, n_actions=3)
    assert net.needs_graph == (backbone == "graph")
    n, h, w = 2, 32, 32
    obs = torch.rand(n, 1, h, w)
    graph = graph_weights(obs) if net.needs_graph else None
    logits, value = net(obs, graph)
    assert logits.shape == (n, 3, h, w) and value.shape == (n, 1, h, w)

    # every parameter tensor gets a non-zero gradient
    g = torch.Generator().manual_seed(1)
    loss = (logits * torch.randn(logits.shape, generator=g)).sum()
    loss = loss + (value * torch.randn(value.shape, generator=g)).sum()
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name

    # perturbing element 1 leaves element 0's outputs unchanged (no batch statistics)
    obs2 = obs.clone()
    obs2[1] = torch.rand(1, h, w, generator=g)
    graph2 = graph_weights(obs2) if net.needs_graph else None
    with torch.no_grad():
        logits2, value2 = net(obs2, graph2)
    torch.testing.assert_close(logits2[0], logits[0].detach())
    torch.testing.assert_close(value2[0], value[0].detach())
    assert not torch.allclose(logits2[1], logits[1].detach())


@pytest.mark.parametrize("backbone", ["unet", "fcn8s", "resnet18", "dilated"])
def test_backbones_accept_odd_sizes(backbone: str) -> None:
    net = make_network(backbone, in_channels=2, n_actions=4)
    logits, value = net(torch.rand(1, 2, 19, 27))
    assert logits.shape == (1, 4, 19, 27) and value.shape == (1, 1, 19, 27)


def test_too_small_inputs_and_unknown_backbone_raise() -> None:
    with pytest.raises(ValueError, match="must be >="):
        make_network("unet", 1, 3)(torch.rand(1, 1, 3, 16))
    with pytest.raises(ValueError, match="must be >="):
        make_network("fcn8s", 1, 3)(torch.rand(1, 1, 16, 7))
    with pytest.raises(ValueError, match="resnet18"):
        make_network("transformer", 1, 3)
    with pytest.raises(ValueError, match="kernel"):
        GraphConv(2, 2)(torch.rand(1, 2, 4, 4), torch.rand(1, 24, 4, 4))



def test_greedy_actions_mode_and_mean() -> None:
    """A broad policy over ×0.5 … ×2 (π = 0.28, 0.24, 0.22, 0.20, 0.06): the mode is ×0.5, the mean log-factor
    −0.159 (×0.85), nearest ×0.9; a confident policy's mean action is its mode; without points (a categorical
    head) the mean is the mode; an unknown read-out is refused by name."""
    from agents.networks import greedy_actions

    points = torch.log(torch.tensor([0.5, 0.9, 1.0, 1.1, 2.0]))
    broad = torch.log(torch.tensor([0.28, 0.24, 0.22, 0.20, 0.06])).view(1, 5, 1, 1)
    mean = float((broad.softmax(1).flatten() * points).sum())
    assert mean == pytest.approx(0.28 * math.log(0.5) + 0.24 * math.log(0.9) + 0.20 * math.log(1.1)
                                 + 0.06 * math.log(2.0))
    assert greedy_actions(broad, points, "mean").item() == 1
    assert greedy_actions(broad, points, "mode").item() == greedy_actions(broad, None, "mean").item() == 0
    confident = torch.log(torch.tensor([0.01, 0.01, 0.02, 0.9, 0.06])).view(1, 5, 1, 1)
    assert greedy_actions(confident, points, "mean").item() == confident.argmax(1).item() == 3
    with pytest.raises(ValueError, match="'median'.*mode"):
        greedy_actions(broad, points, "median")


def test_ordinal_logits_are_a_discretised_gaussian() -> None:
    from scipy.stats import norm

    from agents.networks import ordinal_logits

    points = torch.log(torch.tensor([0.5, 0.9, 1.0, 1.1, 2.0], dtype=torch.float64))
    mu, rho = 0.3, -0.4
    head = torch.tensor([mu, rho], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 2, 3)
    sigma = float(F.softplus(torch.tensor(rho, dtype=torch.float64))) + 0.01
    density = norm.pdf(points.numpy(), loc=mu, scale=sigma)
    expected = torch.tensor(density / density.sum())
    probs = ordinal_logits(head, points).softmax(dim=1)
    assert probs.shape == (1, 5, 2, 3)
    torch.testing.assert_close(probs[0, :, 1, 2], expected, rtol=1e-12, atol=1e-12)
    # limit cases: a narrow Gaussian picks the point nearest the mean; a very wide one is uniform
    narrow = ordinal_logits(torch.tensor([0.6, -30.0]).view(1, 2, 1, 1), points.float()).softmax(dim=1)
    assert narrow.flatten().argmax() == 4 and narrow.flatten()[4] > 0.999
    wide = ordinal_logits(torch.tensor([0.0, 1e4]).view(1, 2, 1, 1), points.float()).softmax(dim=1)
    torch.testing.assert_close(wide.flatten(), torch.full((5,), 0.2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_ordinal_head_outputs_action_logits(backbone: str) -> None:
    points = (-0.7, 0.0, 0.7)
    net = make_network(backbone, in_channels=1, n_actions=3, action_points=points)
    assert net.policy_head.out_channels == 2  # a mean and a scale per pixel
    logits, value = net(torch.rand(2, 1, 16, 16))
    assert logits.shape == (2, 3, 16, 16) and value.shape == (2, 1, 16, 16)
    assert "action_points" not in net.state_dict()  # derived from the task's factors, not saved
    with pytest.raises(ValueError, match="action_points must have n_actions=3"):
        make_network(backbone, in_channels=1, n_actions=3, action_points=(0.0, 1.0))


def test_graph_net_skip_gives_the_heads_the_convolutions_features() -> None:
    torch.manual_seed(0)
    net = PixGRLNet(in_channels=3, n_actions=5, conv_channels=4, graph_channels=6, skip=True)
    assert net.policy_head.in_channels == net.value_head.in_channels == 6 + 4
    obs = torch.rand(2, 3, 12, 12)
    graph = graph_weights(obs[:, :1])
    feats = net.features(obs, graph)
    local = F.relu(net.convs[1](F.relu(net.convs[0](obs))))
    torch.testing.assert_close(feats[:, 6:], local, rtol=0, atol=0)
    plain = PixGRLNet(in_channels=3, n_actions=5, conv_channels=4, graph_channels=6)
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if "head" not in k}, strict=False)
    torch.testing.assert_close(feats[:, :6], plain.features(obs, graph), rtol=0, atol=0)
