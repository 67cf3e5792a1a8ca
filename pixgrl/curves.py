"""Learning curves: validation SSIM (or any logged scalar) against image-steps, read from runs' TensorBoard logs.

Every trainer logs its periodic validation evaluation under ``eval/`` in ``run_dir/tb`` (:class:`agents.run.Run`).
:func:`read_scalar` reads one tag back with TensorBoard's own reader; :func:`plot_learning_curves` draws the mean and
the min–max band over the seeds of each agent, so a figure says how many seeds stand behind each line::

    pixgrl curves "Pix-GRL=runs/reach/pixgrl_s*" "CNN=runs/reach/cnn_s*" --out curves.png
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def read_scalar(run_dir: str | Path, tag: str = "eval/ssim") -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of scalar ``tag`` in ``run_dir/tb`` (the last value wins when a step repeats).

    Raises:
        FileNotFoundError: ``run_dir/tb`` holds no TensorBoard event file.
        KeyError: The logs do not contain ``tag`` (the message lists the scalar tags they do contain).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = Path(run_dir) / "tb"
    if not list(tb.glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"{tb}: no TensorBoard event file (was {run_dir} written by `pixgrl train`?)")
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    if tag not in tags:
        raise KeyError(f"{tb}: no scalar {tag!r}; logged scalars: {sorted(tags)}")
    by_step = {event.step: event.value for event in acc.Scalars(tag)}
    steps = np.array(sorted(by_step), dtype=np.int64)
    return steps, np.array([by_step[s] for s in steps], dtype=np.float64)


def expand_runs(patterns: Sequence[str]) -> list[Path]:
    """Run folders matching shell-style ``patterns`` (sorted; files are skipped; each pattern must match one)."""
    runs: list[Path] = []
    for pattern in patterns:
        matches = sorted(m for m in glob.glob(pattern) if Path(m).is_dir())
        if not matches:
            raise FileNotFoundError(f"no run folder matches {pattern!r}")
        runs += [Path(m) for m in matches]
    return runs


def plot_learning_curves(groups: Mapping[str, Sequence[str | Path]], out: str | Path, *, tag: str = "eval/ssim",
                         reference_tag: str | None = "eval/ssim_identity", references: Mapping[str, float] = {},
                         ylabel: str = "validation SSIM", title: str | None = None) -> Path:
    """Save a PNG of ``tag`` against image-steps: one line per group (mean over its runs) and a min–max band.

    Args:
        groups: Label → run folders (seeds of one agent). Runs of a group are aligned on their common steps.
        out: Output PNG path (parent folders are created).
        tag: The scalar to plot.
        reference_tag: A scalar drawn as a dashed horizontal line (its mean over all runs), e.g. the identity's
            SSIM logged beside each eval; None for none.
        references: Further horizontal lines, label → value (e.g. ``{"oracle": 0.96}``).
        ylabel, title: Axis label and optional title.

    Returns:
        ``out``.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    reference_values = []
    for label, runs in groups.items():
        curves = [read_scalar(run, tag) for run in runs]
        common = sorted(set.intersection(*(set(steps.tolist()) for steps, _ in curves)))
        if not common:
            raise ValueError(f"{label}: the runs {list(map(str, runs))} share no evaluation step")
        values = np.stack([[dict(zip(s.tolist(), v))[c] for c in common] for s, v in curves])
        line, = ax.plot(common, values.mean(0), marker="o", ms=3, label=f"{label} (n={len(runs)})")
        if len(runs) > 1:
            ax.fill_between(common, values.min(0), values.max(0), color=line.get_color(), alpha=0.2, lw=0)
        if reference_tag is not None:
            reference_values += [read_scalar(run, reference_tag)[1].mean() for run in runs]
    if reference_values:
        ax.axhline(float(np.mean(reference_values)), color="grey", ls="--", lw=1, label="identity (input)")
    for label, value in references.items():
        ax.axhline(value, color="black", ls=":", lw=1, label=label)
    ax.set_xlabel("image-steps (env steps × images)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
