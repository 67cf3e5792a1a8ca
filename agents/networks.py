"""Pixel-wise actor-critic networks of Pix-GRL: the graph-convolution network and the Table 3 backbones.

Every network maps an observation ``obs: (N, C_in, H, W)`` float in ``[0, 1]`` (and, for the graph backbone, the
pixel graph ``graph: (N, 25, H, W)`` of :mod:`agents.graph`) to

- ``logits: (N, A, H, W)``: one logit per action and pixel; ``logits.softmax(dim=1)`` is the per-pixel policy π
  (from a free logit per action, or from a mean and a scale per pixel with the ordinal head, :func:`ordinal_logits`);
- ``value: (N, 1, H, W)``: one state value per pixel.

All networks share the same heads (section 3.1, Fig. 8): a 5×5 convolution to ``A`` logits (the
"state-behaviour network") and a 5×5 convolution to one value (the "state-evaluator network"); only the feature
extractor differs, as in the paper's backbone ablation (Table 3). No network uses batch statistics, so each batch
element's output depends on its own input only, in train and eval mode alike. Networks are shape-agnostic and
device-agnostic (they follow the device of their parameters).

Pick one by name with :func:`make_network`; ``BACKBONES`` lists the names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from agents.graph import graph_weights, neighbour_offsets, window_pairs

__all__ = [
    "BACKBONES",
    "POLICIES",
    "CNNNet",
    "DilatedNet",
    "FCN8sNet",
    "GraphAggregate",
    "GraphConv",
    "PixGRLNet",
    "ResNet18Net",
    "UNetNet",
    "graph_aggregate",
    "make_network",
    "ordinal_logits",
    "policy_kwargs",
]

BACKBONES = ("graph", "cnn", "dilated", "unet", "fcn8s", "resnet18")
POLICIES = ("categorical", "ordinal")
"""Per-pixel policy heads: one logit per action (the paper's), or a Gaussian over the log of the factors."""


# ---------------------------------------------------------------------------------------------------------------
# Graph aggregation: out = Σ_k Â[:, k] * shift_k(x), memory-lean in forward and backward
# ---------------------------------------------------------------------------------------------------------------


def _window(n_weights: int) -> tuple[int, list[tuple[int, int]]]:
    """Radius and offsets (row-major, as in :func:`agents.graph.neighbour_offsets`) of a window of n_weights."""
    kernel = round(n_weights**0.5)
    if kernel * kernel != n_weights or kernel % 2 == 0:
        raise ValueError(f"graph must have kernel**2 channels for an odd kernel, got {n_weights}")
    return kernel // 2, neighbour_offsets(kernel)


def _windows(offsets: list[tuple[int, int]], h: int, w: int, skip: int | None = None):
    """:func:`agents.graph.window_pairs` of the window of ``offsets``: ``(k, here, there)`` for each offset ``k``
    (except ``skip``) with any in-image pair, the slices of the output positions and of their neighbours."""
    kernel = round(len(offsets) ** 0.5)
    return ((k, here, there) for k, here, there in window_pairs(kernel, h, w) if k != skip)


class GraphAggregate(torch.autograd.Function):
    """``out[n, c, y, x] = Σ_k w[n, k, y, x] · x[n, c, y + dy_k, x + dx_k]`` (zero outside the image).

    This is the ``Â H`` product of eq. 1 with ``Â`` stored per pixel and window offset. Forward and backward each
    loop over the ``K`` offsets and accumulate in place into one feature map, so no ``K``-fold unfolded tensor and
    no ``K`` intermediate products exist: peak extra memory is about one feature map (the result) plus one
    ``N × C × H × W`` temporary per offset for the weight gradient when it is requested.

    Gradients:
        - wrt ``x``: ``Σ_k shift_{-k}(w_k · g)`` (scatter each weighted gradient back to the neighbour it came
          from); valid for any ``w``, symmetric or not.
        - wrt ``w``: ``grad_w[:, k] = Σ_c g · shift_k(x)``, computed only if ``w.requires_grad``. In Pix-GRL the
          graph comes from SLIC on the image and is a constant (non-differentiable), so this is normally skipped and
          ``x`` is then not saved for backward.

    Only first-order gradients are supported (``once_differentiable``).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.ndim != 4 or w.ndim != 4 or x.shape[0] != w.shape[0] or x.shape[-2:] != w.shape[-2:]:
            raise ValueError(f"expected x (N, C, H, W) and w (N, K, H, W), got {tuple(x.shape)}, {tuple(w.shape)}")
        _, offsets = _window(w.shape[1])
        h, wd = x.shape[-2:]
        centre = len(offsets) // 2
        out = x * w[:, centre : centre + 1]
        for k, here, there in _windows(offsets, h, wd, skip=centre):
            out[:, :, here[0], here[1]].addcmul_(w[:, k : k + 1, here[0], here[1]], x[:, :, there[0], there[1]])
        ctx.save_for_backward(w, x if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # noqa: D102
        w, x = ctx.saved_tensors
        _, offsets = _window(w.shape[1])
        h, wd = grad_out.shape[-2:]
        centre = len(offsets) // 2
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out * w[:, centre : centre + 1]
            for k, here, there in _windows(offsets, h, wd, skip=centre):
                grad_x[:, :, there[0], there[1]].addcmul_(w[:, k : k + 1, here[0], here[1]],
                                                          grad_out[:, :, here[0], here[1]])
        if ctx.needs_input_grad[1]:
            grad_w = torch.zeros_like(w)
            for k, here, there in _windows(offsets, h, wd):
                grad_w[:, k, here[0], here[1]] = (grad_out[:, :, here[0], here[1]] * x[:, :, there[0], there[1]]).sum(1)
        return grad_x, grad_w


def graph_aggregate(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Aggregate features over each pixel's window with per-pixel weights (see :class:`GraphAggregate`).

    Args:
        x: Features ``(N, C, H, W)``.
        w: Weights ``(N, K, H, W)``, ``K = kernel**2`` in the order of :func:`agents.graph.neighbour_offsets`;
            cast to ``x.dtype``.

    Returns:
        ``(N, C, H, W)``: ``Σ_k w[:, k] · shift_k(x)``.
    """
    return GraphAggregate.apply(x, w.to(x.dtype))


class GraphConv(nn.Module):
    """Graph convolution of eq. 1 over each pixel's window: ``H' = σ(Â H W + b)``.

    Computed as project-then-aggregate: a 1×1 convolution ``C_in → C_out`` (the ``H W`` product, no bias), then
    :func:`graph_aggregate` with the normalised weights ``Â``, then the bias and the activation. The projection is
    cheap (``C_in · C_out`` per pixel, 1/25 of a dense 5×5 conv) and the aggregation costs ``K`` multiply-adds per
    output element without unfolding the features, so memory stays at a few feature maps.

    The graph is treated as a constant (it comes from SLIC, which is not differentiable); pass a ``graph`` that
    requires grad to get its gradient anyway.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        bias: Add a learnable bias per output channel after the aggregation.
        activation: Applied last; default ReLU, ``None`` for a linear layer.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        activation: Callable[[torch.Tensor], torch.Tensor] | None = F.relu,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.activation = activation

    def forward(self, x: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        """Apply the layer.

        Args:
            x: Node features ``(N, C_in, H, W)``.
            graph: Normalised weights ``(N, K, H, W)`` (``K = 25`` for the 5×5 window).

        Returns:
            ``(N, C_out, H, W)``.
        """
        out = graph_aggregate(self.proj(x), graph)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return self.activation(out) if self.activation is not None else out

    def extra_repr(self) -> str:  # noqa: D102
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"


# ---------------------------------------------------------------------------------------------------------------
# Actor-critic networks
# ---------------------------------------------------------------------------------------------------------------


def _conv(c_in: int, c_out: int, kernel: int = 5, dilation: int = 1) -> nn.Conv2d:
    """'Same' convolution: stride 1, padding that keeps H × W."""
    return nn.Conv2d(c_in, c_out, kernel, padding=dilation * (kernel // 2), dilation=dilation)


def ordinal_logits(head: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Logits of a Gaussian over ordered actions: ``logit_a = −(p_a − μ)² / (2σ²)`` per pixel.

    Args:
        head: ``(N, 2, H, W)``: the mean ``μ`` and a raw scale ``ρ`` with ``σ = softplus(ρ) + 0.01`` (``ρ = 0``:
            ``σ ≈ 0.70``).
        points: ``(A,)`` the actions' positions on a line (the log of the factors).

    Returns:
        ``(N, A, H, W)`` logits; ``softmax(dim=1)`` is the policy, the Gaussian discretised on ``points``.
    """
    mu, sigma = head[:, :1], F.softplus(head[:, 1:2]) + 0.01
    return -(points.view(1, -1, 1, 1) - mu).square() / (2.0 * sigma.square())


def sample_actions(logits: torch.Tensor) -> torch.Tensor:
    """One action per pixel drawn from ``softmax(logits, dim=1)``: ``(N, A, H, W)`` → ``(N, H, W)`` int64.

    Gumbel-max: ``argmax(logits + Gumbel noise)`` is an exact sample of the softmax, independently per pixel.
    """
    u = torch.rand_like(logits).clamp_(min=torch.finfo(logits.dtype).tiny)
    return (logits - u.log().neg().log()).argmax(dim=1)


#: Deterministic read-outs of a per-pixel policy (:func:`greedy_actions`).
GREEDY_ACTIONS = ("mode", "mean")


def greedy_actions(logits: torch.Tensor, points: torch.Tensor | None = None, how: str = "mode") -> torch.Tensor:
    """The deterministic action per pixel of a policy given by its ``(N, A, H, W)`` logits → ``(N, H, W)`` int64.

    ``how="mode"``: the most probable action. ``how="mean"`` (ordinal heads, whose ``(A,)`` ``points`` are the
    log of the factors): the action whose point is nearest the policy's mean point ``Σ_a π(a)·p_a``. Where the
    policy is broad the mode is arbitrary and the mean is not (docs/learning.md, point 22). Without points
    (a categorical head, whose actions have no order) both are the mode.
    """
    if how not in GREEDY_ACTIONS:
        raise ValueError(f"unknown greedy action {how!r}; choose one of {GREEDY_ACTIONS}")
    if how == "mode" or points is None:
        return logits.argmax(dim=1)
    points = points.view(1, -1, 1, 1)
    mean = (logits.softmax(dim=1) * points).sum(dim=1, keepdim=True)
    return (mean - points).abs().argmin(dim=1)


class _PixelActorCritic(nn.Module):
    """Shared heads: a 5×5 conv to ``n_actions`` logits and a 5×5 conv to one value per pixel.

    With ``action_points`` (the actions' positions on a line, e.g. the log of the factors) the policy head is
    ordinal instead: a 5×5 conv to a mean and a scale per pixel, and the logits those of a Gaussian discretised on
    the points (:func:`ordinal_logits`). Advantage on a larger factor then moves the mean up, which also raises
    the factors beyond it, so the policy climbs towards a distant factor instead of having to sample it first.

    Subclasses implement ``features(obs, graph) -> (N, feature_channels, H, W)``.
    """

    needs_graph = False

    def __init__(self, feature_channels: int, n_actions: int, head_kernel: int = 5,
                 action_points: tuple[float, ...] | None = None) -> None:
        super().__init__()
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}")
        if action_points is not None and len(action_points) != n_actions:
            raise ValueError(f"action_points must have n_actions={n_actions} values, got {action_points!r}")
        self.n_actions = n_actions
        self.policy_head = _conv(feature_channels, n_actions if action_points is None else 2, head_kernel)
        self.value_head = _conv(feature_channels, 1, head_kernel)
        points = None if action_points is None else torch.tensor(action_points, dtype=torch.float32)
        self.register_buffer("action_points", points, persistent=False)  # from the task, not saved

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, obs: torch.Tensor, graph: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel policy logits and state values.

        Args:
            obs: Observations ``(N, C_in, H, W)``, float in ``[0, 1]``.
            graph: Normalised graph weights ``(N, 25, H, W)``; used by the graph backbone only, ignored otherwise.

        Returns:
            ``(logits, value)``: ``(N, n_actions, H, W)`` (softmax over dim 1 gives π) and ``(N, 1, H, W)``.
        """
        if obs.ndim != 4:
            raise ValueError(f"obs must be (N, C, H, W), got shape {tuple(obs.shape)}")
        h = self.features(obs, graph)
        logits = self.policy_head(h)
        if self.action_points is not None:
            logits = ordinal_logits(logits, self.action_points)
        return logits, self.value_head(h)


class PixGRLNet(_PixelActorCritic):
    """The Pix-GRL network (Fig. 8): two 5×5 convs (64 ch), three 5×5 graph convs (128 ch), policy and value heads.

    Args:
        in_channels: Channels of the observation.
        n_actions: Number of actions per pixel (3 in the paper).
        conv_channels: Width ``D`` of the two convolutions.
        graph_channels: Width ``R`` of the graph convolutions.
        n_graph_layers: Number of graph convolutions.
        graph_kwargs: Keyword arguments of :func:`agents.graph.graph_weights`, used only when ``forward`` is
            called without a graph (it is then built from channel 0 of ``obs``, by default with torch SLIC on the
            device of ``obs``).
        skip: Give the heads the convolutions' features beside the graph convolutions' (concatenated). Each graph
            convolution averages a pixel with its window (its own weight is about 1/12 with σ = 1.5), so
            after three of them a pixel's own value is nearly gone; the skip keeps it for the per-pixel choice.
        action_points: Ordinal policy head, see :class:`_PixelActorCritic`.
    """

    needs_graph = True

    def __init__(
        self,
        in_channels: int = 1,
        n_actions: int = 3,
        conv_channels: int = 64,
        graph_channels: int = 128,
        n_graph_layers: int = 3,
        graph_kwargs: dict[str, Any] | None = None,
        skip: bool = False,
        action_points: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(graph_channels + (conv_channels if skip else 0), n_actions, action_points=action_points)
        self.skip = skip
        self.convs = nn.ModuleList([_conv(in_channels, conv_channels), _conv(conv_channels, conv_channels)])
        widths = [conv_channels] + [graph_channels] * n_graph_layers
        self.graph_convs = nn.ModuleList([GraphConv(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.graph_kwargs = dict(graph_kwargs or {})

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        if graph is None:
            graph = graph_weights(obs[:, :1], device=obs.device, **self.graph_kwargs)
        if graph.shape[0] != obs.shape[0] or graph.shape[-2:] != obs.shape[-2:]:
            raise ValueError(f"graph {tuple(graph.shape)} does not match obs {tuple(obs.shape)}")
        h = obs
        for conv in self.convs:
            h = F.relu(conv(h))
        local = h
        for gconv in self.graph_convs:
            h = gconv(h, graph)
        return torch.cat([h, local], dim=1) if self.skip else h


class CNNNet(_PixelActorCritic):
    """Plain CNN backbone: the Pix-GRL layout with ordinary 5×5 convs in place of the graph convs.

    Args:
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        widths: Output channels of each 5×5 conv.
    """

    def __init__(self, in_channels: int = 1, n_actions: int = 3, widths: tuple[int, ...] = (64, 64, 128, 128, 128),
                 action_points: tuple[float, ...] | None = None):
        super().__init__(widths[-1], n_actions, action_points=action_points)
        chans = (in_channels, *widths)
        self.convs = nn.ModuleList([_conv(a, b) for a, b in zip(chans[:-1], chans[1:])])

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        h = obs
        for conv in self.convs:
            h = F.relu(conv(h))
        return h


class DilatedNet(_PixelActorCritic):
    """Dilated CNN backbone in the style of PixelRL: 3×3 convs with growing then shrinking dilation.

    Receptive field with the default dilations ``(1, 2, 3, 4, 3, 2)``: 31 pixels before the 5×5 heads.

    Args:
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        channels: Width of every conv.
        dilations: Dilation of each 3×3 conv.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_actions: int = 3,
        channels: int = 64,
        dilations: tuple[int, ...] = (1, 2, 3, 4, 3, 2),
        action_points: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(channels, n_actions, action_points=action_points)
        chans = [in_channels] + [channels] * len(dilations)
        self.convs = nn.ModuleList(
            [_conv(a, b, kernel=3, dilation=d) for a, b, d in zip(chans[:-1], chans[1:], dilations)]
        )

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        h = obs
        for conv in self.convs:
            h = F.relu(conv(h))
        return h


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 'same' convs with ReLU (the U-Net block)."""
    return nn.Sequential(_conv(c_in, c_out, 3), nn.ReLU(inplace=True), _conv(c_out, c_out, 3), nn.ReLU(inplace=True))


def _upsample_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``ref`` (handles odd sizes exactly)."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


def _check_min_size(obs: torch.Tensor, factor: int, name: str) -> None:
    if min(obs.shape[-2:]) < factor:
        raise ValueError(f"{name} downsamples by {factor}; H and W must be >= {factor}, got {tuple(obs.shape[-2:])}")


class UNetNet(_PixelActorCritic):
    """U-Net backbone: ``levels`` 2× max-pool steps down, bilinear upsampling and concatenated skips back up.

    Works for any ``H, W >= 2**levels``: each decoder stage resizes to the exact size of its skip connection, so
    sizes need not be divisible by ``2**levels`` (no padding, no cropping).

    Args:
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        base_channels: Width of the first level; doubles at each level down.
        levels: Number of downsampling steps.
    """

    def __init__(self, in_channels: int = 1, n_actions: int = 3, base_channels: int = 32, levels: int = 2,
                 action_points: tuple[float, ...] | None = None) -> None:
        super().__init__(base_channels, n_actions, action_points=action_points)
        widths = [base_channels * 2**i for i in range(levels + 1)]
        self.levels = levels
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])])
        self.down.extend(_double_conv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.up = nn.ModuleList(_double_conv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels)))

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        _check_min_size(obs, 2**self.levels, "UNetNet")
        skips = []
        h = obs
        for i, block in enumerate(self.down):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = block(h)
            skips.append(h)
        skips.pop()  # the bottleneck output is h itself
        for block in self.up:
            skip = skips.pop()
            h = block(torch.cat([_upsample_to(h, skip), skip], dim=1))
        return h


class FCN8sNet(_PixelActorCritic):
    """FCN-8s-like backbone, scaled to 256×256 inputs: three pooled stages down to 1/8 resolution.

    Layout (FCN-8s's pool3/pool4/pool5 at 1/8, 1/16, 1/32 become 1/2, 1/4, 1/8 here): conv stages with 2× max-pool
    reach 1/2, 1/4 and 1/8; two "fc" 3×3 convs at 1/8 give the coarse features; they are upsampled ×2 and fused
    (added) with a 1×1 projection of the 1/4 features, upsampled ×2 again and fused with the 1/2 features, then
    bilinearly interpolated to H × W. As in FCN there is no decoder conv after the fusions. Any ``H, W >= 8``.

    Args:
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        widths: Channels of the three pooled stages.
        feature_channels: Channels of the fused output (the "score" maps of FCN).
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_actions: int = 3,
        widths: tuple[int, int, int] = (32, 64, 128),
        feature_channels: int = 64,
        action_points: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(feature_channels, n_actions, action_points=action_points)
        chans = (in_channels, *widths)
        self.stages = nn.ModuleList(_double_conv(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.fc = nn.Sequential(
            _conv(widths[2], 2 * widths[2], 3), nn.ReLU(inplace=True), _conv(2 * widths[2], feature_channels, 1)
        )
        self.score_quarter = nn.Conv2d(widths[1], feature_channels, 1)
        self.score_half = nn.Conv2d(widths[0], feature_channels, 1)

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        _check_min_size(obs, 8, "FCN8sNet")
        pooled = []
        h = obs
        for stage in self.stages:
            h = F.max_pool2d(stage(h), 2)
            pooled.append(h)
        half, quarter, eighth = pooled
        score = self.fc(eighth)
        score = _upsample_to(score, quarter) + self.score_quarter(quarter)
        score = _upsample_to(score, half) + self.score_half(half)
        return F.relu(_upsample_to(score, obs))


class _BasicBlock(nn.Module):
    """ResNet basic block (two 3×3 convs, identity shortcut) with GroupNorm in place of BatchNorm."""

    def __init__(self, channels: int, groups: int = 8) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv2 = _conv(channels, channels, 3)
        self.norm2 = nn.GroupNorm(groups, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h = F.relu(self.norm1(self.conv1(x)))
        return F.relu(x + self.norm2(self.conv2(h)))


class ResNet18Net(_PixelActorCritic):
    """ResNet-18-like backbone: a 5×5 stem and 8 basic blocks (16 convs), stride-free at full resolution.

    Stride-free so every pixel keeps its own features without upsampling. Differences from ResNet-18, chosen to keep
    parameters modest (~0.6 M) and pixels independent across the batch: constant width (no 64→512 growth), no
    stride or pooling, GroupNorm instead of BatchNorm (BatchNorm would mix batch elements and differ between train
    and eval).

    Args:
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        channels: Width of every block.
        n_blocks: Number of basic blocks (8 as in ResNet-18).
    """

    def __init__(self, in_channels: int = 1, n_actions: int = 3, channels: int = 64, n_blocks: int = 8,
                 action_points: tuple[float, ...] | None = None) -> None:
        super().__init__(channels, n_actions, action_points=action_points)
        self.stem = _conv(in_channels, channels, 5)
        self.blocks = nn.Sequential(*(_BasicBlock(channels) for _ in range(n_blocks)))

    def features(self, obs: torch.Tensor, graph: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        return self.blocks(F.relu(self.stem(obs)))


_REGISTRY: dict[str, type[_PixelActorCritic]] = {
    "graph": PixGRLNet,
    "cnn": CNNNet,
    "dilated": DilatedNet,
    "unet": UNetNet,
    "fcn8s": FCN8sNet,
    "resnet18": ResNet18Net,
}


def policy_kwargs(policy: str, factors: tuple[float, ...]) -> dict[str, Any]:
    """The :func:`make_network` keyword arguments of a policy head (:data:`POLICIES`) for an action set.

    ``"categorical"``: none. ``"ordinal"``: ``action_points``, the log of the factors, so the Gaussian lives on the
    multiplicative scale (×0.5 and ×2 are equally far from ×1).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")
    return {} if policy == "categorical" else {"action_points": tuple(math.log(f) for f in factors)}


def make_network(backbone: str, in_channels: int, n_actions: int, **kw: Any) -> nn.Module:
    """Build a pixel-wise actor-critic network by backbone name (Table 3 ablation).

    Args:
        backbone: One of ``BACKBONES``: ``"graph"`` (Pix-GRL), ``"cnn"``, ``"dilated"``, ``"unet"``, ``"fcn8s"``,
            ``"resnet18"``.
        in_channels: Channels of the observation.
        n_actions: Actions per pixel.
        **kw: Extra keyword arguments of the network class (widths, depths, ``graph_kwargs`` ...).

    Returns:
        A module with ``forward(obs, graph=None) -> (logits (N, n_actions, H, W), value (N, 1, H, W))`` and a
        ``needs_graph`` attribute (True only for ``"graph"``).

    Raises:
        ValueError: Unknown backbone name.
    """
    try:
        cls = _REGISTRY[backbone]
    except KeyError:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {BACKBONES}") from None
    return cls(in_channels=in_channels, n_actions=n_actions, **kw)
