"""PNG figures of an evaluation, from its results and example pairs.

matplotlib's object API on the Agg canvas: no pyplot, no global backend change, no display needed.

- ``examples.png``: per example pair, a row input | each agent | target and below it the absolute error
  ``|image − target|`` of each (the input's error is the identity's);
- ``ssim_distribution.png``: per-pair SSIM of each agent (whole slice, external and internal tumour regions),
  violins with box plots;
- ``step_curves.png``: mean SSIM and MSE to the target of s_0 … s_T for every agent whose trajectory has steps
  (one-shot agents such as the U-Net have no intermediate states and are left out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixgrl.evaluation.results import as_float


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_examples(examples: Sequence[Mapping[str, Any]], agents: Sequence[str], path: str | Path) -> Path | None:
    """Input | each agent | target, and the absolute error to the target under each image.

    Args:
        examples: Dicts with ``input``, ``target`` (``(H, W)`` arrays), ``synth`` (``{agent: (H, W)}``) and
            ``source`` (a caption).
        agents: Column order.
        path: The PNG to write.

    Returns:
        ``path``, or None when there is no example.
    """
    from pixgrl.metrics import ssim

    if not examples:
        return None
    cols = 2 + len(agents)
    fig = _figure(1.9 * cols, 3.9 * len(examples))
    axes = np.atleast_2d(fig.subplots(2 * len(examples), cols, squeeze=False))
    for e, ex in enumerate(examples):
        target = np.asarray(ex["target"], dtype=np.float64)
        images = [("input", np.asarray(ex["input"]))] + [(a, np.asarray(ex["synth"][a])) for a in agents] + \
                 [("target", target)]
        errors = [np.abs(img.astype(np.float64) - target) for _, img in images[:-1]]
        vmax = max(float(np.percentile(np.concatenate([x.ravel() for x in errors]), 99.5)), 1e-3)
        im = None
        for c, (name, img) in enumerate(images):
            ax = axes[2 * e, c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            title = name if name == "target" else f"{name}\nSSIM {ssim(img, target):.3f}"
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
            err_ax = axes[2 * e + 1, c]
            err_ax.set_axis_off()
            if c < len(errors):
                im = err_ax.imshow(errors[c], cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
                err_ax.set_title(f"|{name} − target|", fontsize=7)
        if im is not None:
            fig.colorbar(im, ax=axes[2 * e + 1, -1], fraction=0.6, label="abs. error")
        axes[2 * e, 0].text(0, -0.35, str(ex.get("source", "")), transform=axes[2 * e, 0].transAxes, fontsize=6,
                            va="top")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_ssim_distribution(rows: Sequence[Mapping[str, Any]], agents: Sequence[str], path: str | Path,
                           metrics: Sequence[str] = ("ssim", "ext_ssim", "int_ssim")) -> Path:
    """Violin + box plots of per-pair values of ``metrics`` for each agent."""
    titles = {"ssim": "SSIM, whole slice", "ext_ssim": "SSIM, external tumour region",
              "int_ssim": "SSIM, internal tumour region"}
    fig = _figure(max(4.0, 1.1 * len(agents)) * len(metrics) * 0.8 + 1, 3.6)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        data = []
        for a in agents:
            v = np.array([as_float(r.get(metric)) for r in rows if r["agent"] == a], dtype=np.float64)
            data.append(v[np.isfinite(v)])
        pos = np.arange(1, len(agents) + 1)
        violin = [(p, d) for p, d in zip(pos, data) if d.size >= 2 and np.ptp(d) > 0]
        if violin:
            parts = ax.violinplot([d for _, d in violin], positions=[p for p, _ in violin], showextrema=False)
            for body in parts["bodies"]:
                body.set_alpha(0.35)
        nonempty = [(p, d) for p, d in zip(pos, data) if d.size]
        if nonempty:
            ax.boxplot([d for _, d in nonempty], positions=[p for p, _ in nonempty], widths=0.15,
                       showfliers=True, flierprops={"markersize": 2})
        ax.set_xticks(pos, agents, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(0.4, len(agents) + 0.6)
        ax.set_title(titles.get(metric, metric), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_step_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path) -> Path | None:
    """Mean SSIM and MSE to the target versus step t for agents with at least two steps; None if there are none."""
    stepped = {a: c for a, c in curves.items() if len(c["ssim"]) >= 3}
    if not stepped:
        return None
    fig = _figure(9.0, 3.4)
    ax_s, ax_m = fig.subplots(1, 2)
    for agent, c in stepped.items():
        t = np.arange(len(c["ssim"]))
        ax_s.plot(t, [as_float(v) for v in c["ssim"]], marker="o", ms=3, label=agent)
        ax_m.plot(t, [as_float(v) for v in c["mse"]], marker="o", ms=3, label=agent)
    ax_s.set(xlabel="step t", ylabel="mean SSIM(s_t, target)", title="SSIM to the target")
    ax_m.set(xlabel="step t", ylabel="mean MSE(s_t, target)", title="MSE to the target")
    for ax in (ax_s, ax_m):
        ax.grid(alpha=0.3)
    ax_s.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return Path(path)


def write_figures(results: Mapping[str, Any], out_dir: str | Path,
                  examples: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """Write every figure the results allow; return their file names (relative to ``out_dir``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    agents = list(results["agents"])
    written = []
    if plot_examples(examples, agents, out / "examples.png") is not None:
        written.append("examples.png")
    plot_ssim_distribution(results["rows"], agents, out / "ssim_distribution.png")
    written.append("ssim_distribution.png")
    if plot_step_curves(results.get("curves", {}), out / "step_curves.png") is not None:
        written.append("step_curves.png")
    return written


__all__ = ["plot_examples", "plot_ssim_distribution", "plot_step_curves", "write_figures"]
