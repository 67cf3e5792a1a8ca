"""The paper's ablations as data: each a named axis (:class:`Ablation`) and its settings (:class:`Variant`).

:data:`ABLATIONS` lists them (the package docstring, :mod:`pixgrl.ablations`, describes each); the paper's numbers,
where it gives them, are each variant's ``paper`` values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pixgrl_env.config import ACTION_PRESETS


@dataclass(frozen=True)
class Variant:
    """One setting of an ablation.

    Attributes:
        name: Short id, also the variant's folder name.
        label: What the setting is, for tables.
        config: Overrides of the agent's Config (e.g. ``{"backbone": "unet"}``).
        env: Overrides of the :class:`EnvConfig` (e.g. ``{"lam": 0.5}``).
        paper: The paper's reported values for this setting, keyed like our metrics (e.g. ``{"ssim": 0.85}``).
    """

    name: str
    label: str
    config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)
    paper: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ablation:
    """A named experiment: one axis, its variants, and where the paper reports it."""

    name: str
    title: str
    source: str
    variants: tuple[Variant, ...]
    agent: str = "pixgrl"

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ValueError(f"ablation {self.name!r} has no variant {name!r}; variants: {self.names}")

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variants]


def _step(s: str, ssim: float) -> Variant:
    return Variant(f"step{s}", f"×±{s}", env={"factors": ACTION_PRESETS[f"step{s}"]}, paper={"ssim": ssim})


_TABLE3_PAPER = {  # Table 3: SSIM (overall), Dice (segmentation), PCC (tumour size)
    "graph": (0.85, 0.8362, 0.92), "fcn8s": (0.80, 0.7951, 0.89), "unet": (0.81, 0.7917, 0.88),
    "resnet18": (0.82, 0.8005, 0.90), "dilated": (0.83, 0.8120, 0.90), "cnn": (0.77, 0.8014, 0.88),
}
_BACKBONE_LABELS = {"graph": "graph conv (Pix-GRL)", "cnn": "CNN", "dilated": "dilated CNN", "unet": "U-Net",
                    "fcn8s": "FCN-8s", "resnet18": "ResNet-18"}

#: Every named ablation.
ABLATIONS: dict[str, Ablation] = {
    "table3": Ablation("table3", "Backbone of the agent", "Table 3", tuple(
        Variant(b, _BACKBONE_LABELS[b], config={"backbone": b},
                paper=dict(zip(("ssim", "dice", "size_pcc"), _TABLE3_PAPER[b])))
        for b in ("graph", "cnn", "dilated", "unet", "fcn8s", "resnet18"))),
    "table5-step": Ablation("table5-step", "Action step size", "Table 5", tuple(
        _step(s, v) for s, v in (("1.5", 0.69), ("1.2", 0.76), ("1.1", 0.75), ("1.07", 0.80), ("1.05", 0.85),
                                 ("1.01", 0.55)))),
    "table5-actions": Ablation("table5-actions", "Number of actions", "Table 5", tuple(
        Variant(n, f"{len(ACTION_PRESETS[n])} actions: " + ", ".join(f"×{f:g}" for f in ACTION_PRESETS[n]),
                env={"factors": ACTION_PRESETS[n]}, paper={"ssim": v})
        for n, v in (("n3", 0.85), ("n5", 0.78), ("n7", 0.76)))),
    "table5-lambda": Ablation("table5-lambda", "Region reward weight λ", "Table 5", tuple(
        Variant(f"lam{lam:g}", f"λ = {lam:g}", env={"lam": lam}, paper={} if v is None else {"ssim": v})
        for lam, v in ((0.05, 0.82), (0.1, 0.84), (0.2, 0.85), (0.3, None), (0.5, 0.78), (1.0, 0.77),
                       (1.5, 0.77)))),
    "table5-patch": Ablation("table5-patch", "Region reward patch size", "Table 5", tuple(
        Variant(f"patch{p}", f"{p}×{p}", env={"patch": p}, paper={"ssim": v})
        for p, v in ((2, 0.80), (4, 0.80), (8, 0.84), (16, 0.85), (32, 0.82), (64, 0.83)))),
    "fig16-reward": Ablation("fig16-reward", "Pixel, region and dual rewards", "Fig. 16", (
        Variant("pixel", "pixel-level only (λ = 0)", env={"lam": 0.0}),
        Variant("region", "region-level only (pixel weight 0)", env={"pixel_weight": 0.0}),
        Variant("dual", "dual (pixel + λ·region)", env={}),
    )),
    "fig16-distance": Ablation("fig16-distance", "Region reward distance", "section 5.7 (Fig. 16)", tuple(
        Variant(d, label, env={"distance": d}) for d, label in (
            ("wasserstein", "Wasserstein-1"), ("kl", "KL divergence"), ("js", "Jensen-Shannon"), ("mse", "MSE")))),
    "episode-length": Ablation("episode-length", "Episode length T", "this project (reachability)", tuple(
        Variant(f"T{t}", f"T = {t}", env={"episode_length": t}) for t in (3, 5, 10, 20))),
}


def get_ablation(name: str) -> Ablation:
    """The ablation ``name`` of :data:`ABLATIONS`."""
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r}; expected one of {sorted(ABLATIONS)}")
    return ABLATIONS[name]


def list_ablations() -> str:
    """Every ablation and its variants, as text."""
    lines = []
    for a in ABLATIONS.values():
        lines.append(f"{a.name}: {a.title} ({a.source})")
        for v in a.variants:
            changes = {**v.config, **v.env}
            paper = f"  paper {v.paper}" if v.paper else ""
            lines.append(f"  {v.name:<12} {v.label:<40} {json.dumps(changes)}{paper}")
    return "\n".join(lines)


__all__ = ["ABLATIONS", "Ablation", "Variant", "get_ablation", "list_ablations"]
