"""PNG figures shared by the CLI, the demo and the reports: one image-grid function, used everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def save_image_grid(rows: Sequence[Sequence[np.ndarray]], path: str | Path, *, col_titles: Sequence[str] = (),
                    row_titles: Sequence[str] = (), diverging: Sequence[int] = (), title: str | None = None,
                    cell_inches: float = 2.2) -> Path:
    """Save a grid of 2-D images as a PNG.

    Args:
        rows: ``rows[r][c]`` a ``(H, W)`` array. Grey images are shown in [0, 1]; columns listed in ``diverging``
            (e.g. error or reward maps) with a red/blue map symmetric about 0 and a colour bar.
        path: Output file (parent folders are created).
        col_titles, row_titles: Optional labels.
        diverging: Column indices shown with the diverging map.
        title: Optional figure title.
        cell_inches: Size of one cell.

    Returns:
        ``path``.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend and figure state are left alone

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig = Figure(figsize=(cell_inches * n_cols, cell_inches * n_rows + 0.4 * bool(title)), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(row):
                ax.axis("off")
                continue
            img = np.asarray(row[c], dtype=np.float32)
            if c in diverging:
                lim = float(np.nanmax(np.abs(img))) or 1.0
                im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            else:
                ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
            if r == 0 and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0 and r < len(row_titles):
                ax.set_ylabel(row_titles[r], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def dataset_preview(name: str, kwargs: dict[str, Any], path: str | Path, n: int = 3) -> Path:
    """PNG of ``n`` pairs of a dataset: input | target | target/input ratio | tumour and liver masks."""
    from pixgrl_env.data import LABELS, make_dataset

    ds = make_dataset(name, **kwargs)
    step = max(1, len(ds) // n)
    rows, titles = [], []
    for i in range(0, min(len(ds), n * step), step):
        p = ds[i]
        ratio = np.log2(np.maximum(p.target, 1e-3) / np.maximum(p.input, 1e-3))
        masks = p.liver_mask * 0.5 + p.tumor_mask * 0.5
        rows.append([p.input, p.target, ratio, masks])
        label = LABELS[p.label] if p.label >= 0 else "unknown"
        titles.append(f"{p.meta.patient_id} z={p.meta.slice_index}\n{label}")
    return save_image_grid(rows, path, col_titles=["input (pre)", "target (post)", "log2 post/pre", "liver | tumour"],
                           row_titles=titles, diverging=[2], title=f"{name} pairs")
