"""Markdown tables in the layout of the paper's Tables 1–2, and PNG figures, from evaluation results.

Tables (one row per agent, then a "Pix-GRL (paper)" reference row from :data:`~pixgrl.metrics.PAPER_VALUES`):

- Table 1, image quality: overall SSIM, NRMSE, PSNR; external tumour region (64×64 patch at the tumour centroid)
  SSIM, NRMSE, NMI; internal (tumour bounding box) SSIM, NRMSE, NMI; and, when the data has a noise-free target
  (the phantom), SSIM and PSNR against it (:data:`TABLE1_CLEAN`).
- Table 2, segmentation and diagnosis: Dice, kappa, Hausdorff distance, tumour-size PCC, benign/malignant accuracy,
  sensitivity, specificity (and our 3-class accuracy, which the paper does not report).

Cells are ``mean ± std`` over pairs (population std, NaN skipped); dataset-level metrics (PCC, diagnosis) are one
number per agent. ``—`` marks a value that is undefined (NaN) or not reported by the paper.

Figures (matplotlib's object API on the Agg canvas: no pyplot, no global backend change, no display needed):

- ``examples.png``: per example pair, a row input | each agent | target and below it the absolute error
  ``|image − target|`` of each (the input's error is the identity's);
- ``ssim_distribution.png``: per-pair SSIM of each agent (whole slice, external and internal tumour regions),
  violins with box plots;
- ``step_curves.png``: mean SSIM and MSE to the target of s_0 … s_T for every agent whose trajectory has steps
  (one-shot agents such as the U-Net have no intermediate states and are left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixgrl.metrics import PAPER_STD, PAPER_VALUES

PAPER_ROW = "Pix-GRL (paper)"

#: ``(metric, header, scale, digits)`` of Table 1.
TABLE1: tuple[tuple[str, str, float, int], ...] = (
    ("ssim", "SSIM ↑", 1.0, 3), ("nrmse", "NRMSE ↓", 1.0, 3), ("psnr", "PSNR (dB) ↑", 1.0, 2),
    ("ext_ssim", "Ext. SSIM ↑", 1.0, 3), ("ext_nrmse", "Ext. NRMSE ↓", 1.0, 3), ("ext_nmi", "Ext. NMI ↑", 1.0, 3),
    ("int_ssim", "Int. SSIM ↑", 1.0, 3), ("int_nrmse", "Int. NRMSE ↓", 1.0, 3), ("int_nmi", "Int. NMI ↑", 1.0, 3),
)
#: Columns appended to Table 1 when the results hold metrics against the noise-free target.
TABLE1_CLEAN: tuple[tuple[str, str, float, int], ...] = (
    ("ssim_clean", "SSIM vs noise-free ↑", 1.0, 3), ("psnr_clean", "PSNR vs noise-free (dB) ↑", 1.0, 2),
)
#: What the noise-free columns mean, under Table 1.
CLEAN_NOTE = ("SSIM/PSNR vs noise-free: against the noise-free enhanced image that the data provides (the "
              "phantom's). The noisy target caps SSIM (no synthesis can, or should, reproduce its noise); the "
              "noise-free one shows how well the contrast physics is recovered.")
#: ``(metric, header, scale, digits)`` of Table 2; fractions are shown as percentages like the paper.
TABLE2: tuple[tuple[str, str, float, int], ...] = (
    ("dice", "Dice (%) ↑", 100.0, 2), ("kappa", "Kappa ↑", 1.0, 3), ("hausdorff_mm", "Hausdorff (mm) ↓", 1.0, 2),
    ("size_pcc", "Size PCC ↑", 1.0, 3), ("diag_acc_bm", "Benign/malignant acc. (%) ↑", 100.0, 2),
    ("diag_sensitivity", "Sensitivity (%) ↑", 100.0, 2), ("diag_specificity", "Specificity (%) ↑", 100.0, 2),
    ("diag_acc3", "3-class acc. (%) ↑", 100.0, 2),
)
_PERCENT = {"dice", "diag_acc_bm", "diag_sensitivity", "diag_specificity", "diag_acc3"}


# ----------------------------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------------------------
def _num(v: Any) -> float:
    if v is None:
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return float(v)


def fmt(mean: Any, std: Any = None, scale: float = 1.0, digits: int = 3) -> str:
    """``"0.812 ± 0.041"``; ``"—"`` for NaN/None, ``"∞"`` for inf; no ``±`` part when ``std`` is None/NaN."""
    m = _num(mean)
    if math.isnan(m):
        return "—"
    if math.isinf(m):
        return "∞" if m > 0 else "−∞"
    text = f"{m * scale:.{digits}f}"
    s = _num(std)
    if not math.isnan(s):
        text += " ± ∞" if math.isinf(s) else f" ± {s * scale:.{digits}f}"
    return text


def cell(results: Mapping[str, Any], agent: str, metric: str, scale: float = 1.0, digits: int = 3) -> str:
    """One table cell of ``metric`` for ``agent`` (per-pair aggregate, or a dataset-level metric)."""
    agg = results.get("aggregates", {}).get(agent, {})
    if metric in agg:
        return fmt(agg[metric]["mean"], agg[metric]["std"], scale, digits)
    dm = results.get("dataset_metrics", {}).get(agent, {})
    if metric in dm:
        return fmt(dm[metric], None, scale, digits)
    return "—"


def paper_cell(metric: str, scale: float = 1.0, digits: int = 3) -> str:
    """The paper's value (± its std where given) or ``—``."""
    if metric not in PAPER_VALUES:
        return "—"
    return fmt(PAPER_VALUES[metric], PAPER_STD.get(metric), scale, digits)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align_first_left: bool = True) -> str:
    """A GitHub-flavoured Markdown table (first column left-aligned, the rest right-aligned)."""
    sep = [":--" if (i == 0 and align_first_left) else "--:" for i in range(len(header))]
    return "\n".join([_row(header), _row(sep), *(_row(r) for r in rows)]) + "\n"


def metrics_table(results: Mapping[str, Any], columns: Sequence[tuple[str, str, float, int]], *,
                  paper: bool = True, extra_rows: Sequence[Sequence[str]] = (),
                  count: str | None = None) -> str:
    """A table with one row per agent of ``results`` over ``columns``, plus the paper's row.

    Args:
        results: A results dict of :func:`pixgrl.evaluation.evaluate`.
        columns: ``(metric, header, scale, digits)`` tuples, e.g. :data:`TABLE1`.
        paper: Append the "Pix-GRL (paper)" row.
        extra_rows: Further ready-made rows (same number of cells) before the paper's row.
        count: Metric whose ``n`` is shown in a last "n" column (None: no such column).
    """
    header = ["Agent", *(h for _, h, _, _ in columns)] + (["n"] if count else [])
    rows = []
    for agent in results["agents"]:
        r = [_agent_label(results, agent), *(cell(results, agent, m, s, d) for m, _, s, d in columns)]
        if count:
            r.append(str(results["aggregates"][agent].get(count, {}).get("n", "—")))
        rows.append(r)
    rows.extend(list(r) for r in extra_rows)
    if paper:
        rows.append([f"*{PAPER_ROW}*", *(paper_cell(m, s, d) for m, _, s, d in columns)] + ([""] if count else []))
    return markdown_table(header, rows)


def has_clean_metrics(results: Mapping[str, Any]) -> bool:
    """Whether any agent of ``results`` has metrics against the noise-free target (``ssim_clean``)."""
    per_agent = results.get("aggregates") or results.get("combined") or {}
    return any("ssim_clean" in mets for mets in per_agent.values())


def table1_columns(results: Mapping[str, Any]) -> tuple[tuple[str, str, float, int], ...]:
    """:data:`TABLE1`, plus :data:`TABLE1_CLEAN` when the results have noise-free metrics."""
    return TABLE1 + TABLE1_CLEAN if has_clean_metrics(results) else TABLE1


def _agent_label(results: Mapping[str, Any], agent: str) -> str:
    info = results.get("agents", {}).get(agent, {})
    return f"{agent} †" if info.get("needs_target") else agent


# ----------------------------------------------------------------------------------------------------------------
# report.md
# ----------------------------------------------------------------------------------------------------------------
def _agents_table(results: Mapping[str, Any]) -> str:
    rows = []
    for name, info in results["agents"].items():
        cfg = info.get("env_config") or {}
        factors = cfg.get("factors")
        rows.append([name, str(info.get("agent")), str(info.get("checkpoint") or info.get("spec")),
                     ", ".join(f"×{f:g}" for f in factors) if factors else "—",
                     str(cfg.get("episode_length", "—")), ", ".join(cfg.get("conditioning") or []) or "—",
                     str(cfg.get("crop")) if cfg.get("crop") else "—"])
    return markdown_table(["Agent", "Type", "Source", "Actions", "T", "Conditioning", "Train crop"], rows)


def _curves_table(results: Mapping[str, Any]) -> str:
    curves = {a: c for a, c in results.get("curves", {}).items() if len(c["ssim"]) >= 3}
    if not curves:
        return ""
    t_max = max(len(c["ssim"]) for c in curves.values())
    shown = sorted(set(range(min(t_max, 6))) | {t_max - 1})
    rows = []
    for agent, c in curves.items():
        rows.append([agent, *(fmt(c["ssim"][t], None, 1, 3) if t < len(c["ssim"]) else "—" for t in shown)])
    return markdown_table(["Agent", *(f"t={t}" for t in shown)], rows)


def write_report(results: Mapping[str, Any], out_dir: str | Path, name: str = "report.md") -> Path:
    """Write ``report.md`` (the paper's Tables 1–2 for every agent, per-step SSIM, figures, method notes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = results["dataset"]
    kw = ds.get("kwargs") or {}
    lines = [
        "# Pix-GRL evaluation report",
        "",
        f"- Data: `{ds['name']}`{' ' + str(kw) if kw else ''} ({ds.get('repr', '')}), split **{ds['split']}**, "
        f"fold {ds['fold']} of {ds['n_folds']} (patient-level, split seed {ds['split_seed']}): "
        f"{ds['n_pairs']} pairs, {ds.get('n_tumor_pairs', '?')} with a tumour"
        + (f" (first {ds['n_pairs']} of {ds['n_pairs_in_split']})" if ds.get("n_pairs_in_split", ds["n_pairs"])
           != ds["n_pairs"] else "") + ".",
        f"- Device: {results['device'].get('device')}"
        + (f" ({results['device']['gpu']})" if results["device"].get("gpu") else "")
        + f"; created {results.get('created', '')}; pixgrl {results['versions'].get('pixgrl')}, "
          f"torch {results['versions'].get('torch')}.",
        "",
        "## Agents",
        "",
        _agents_table(results),
        "† needs the target image: a ceiling (best value each pixel can reach with the action set in T steps), "
        "not a synthesis method.",
        "",
        "## Table 1: image quality",
        "",
        "Overall = whole slice; Ext. = 64×64 patch centred at the tumour centroid; Int. = the tumour's bounding "
        "box. Mean ± std over pairs; region metrics over pairs with a tumour; n = pairs.",
        "",
        metrics_table(results, table1_columns(results), count="ssim"),
        *([CLEAN_NOTE, ""] if has_clean_metrics(results) else []),
        "## Table 2: tumour segmentation and diagnosis",
        "",
        "Tumours are segmented the same way on the synthesized and the real enhanced slice "
        "(`metrics.segment_tumor`); Dice/kappa/Hausdorff over slices with a tumour. Size PCC: Pearson r of the "
        "two tumour areas. Diagnosis: a lesion classifier fitted on real enhanced images of the training split, "
        "applied to each agent's images (the paper's radiologists are replaced by this proxy). The paper's "
        "LI-RADS 2–5 staging accuracy (80.66 %) has no counterpart here.",
        "",
        metrics_table(results, TABLE2, count="dice", extra_rows=_classifier_rows(results)),
    ]
    curves = _curves_table(results)
    if curves:
        lines += ["## Mean SSIM to the target per step", "", "s_0 is the input; s_T the synthesized image.", "",
                  curves]
    lines += ["## All metrics", "", "Every metric by its name in `results.json` (per-pair metrics: mean ± std, n; "
              "dataset-level metrics: one value).", "", all_metrics_table(results)]
    figs = results.get("figures") or []
    if figs:
        lines += ["## Figures", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in figs] + [""]
    lines += ["## How these numbers were computed", "", *_method_notes(results), ""]
    if results.get("warnings"):
        lines += ["## Warnings", "", *(f"- {w}" for w in results["warnings"]), ""]
    path = out / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _classifier_rows(results: Mapping[str, Any]) -> list[list[str]]:
    clf = results.get("classifier") or {}
    ceiling = clf.get("on_true_targets")
    if not ceiling:
        return []
    cells = []
    for m, _, s, d in TABLE2:
        cells.append(fmt(ceiling[m], None, s, d) if m in ceiling else "—")
    return [["*real enhanced (classifier on targets)*", *cells, ""]]


def _method_notes(results: Mapping[str, Any]) -> list[str]:
    clf = results.get("classifier") or {}
    notes = [
        "- Agents run on whole slices (any training crop is ignored), with greedy actions, in the task of their "
        "own env_config (action factors, episode length, conditioning) as stored in their checkpoints.",
        "- Metric definitions (windows, NMI bins, NRMSE normalisation, region boxes, empty-mask conventions): "
        "`pixgrl/metrics/`. Std is the population std over pairs (ddof = 0); NaN values are skipped.",
    ]
    if clf.get("used"):
        notes.append(f"- Lesion classifier: {clf.get('source')}, {clf.get('n_lesion_slices', '?')} lesion slices "
                     f"(classes {clf.get('class_counts', {})}). Slices without a lesion are 'normal' for the truth "
                     f"and for every agent; pairs with an unknown label are left out.")
    else:
        notes.append(f"- Diagnosis metrics not computed ({clf.get('skipped', 'no classifier')}).")
    notes.append("- Per-pair values, configs and library versions: `results.json`.")
    return notes


def all_metrics_table(results: Mapping[str, Any]) -> str:
    """Metrics as rows (their ``results.json`` names), agents as columns: per-pair metrics and dataset metrics."""
    from pixgrl.metrics import CLEAN_METRIC_NAMES, DATASET_METRIC_NAMES, METRIC_NAMES

    agents = list(results["agents"])
    rows = []
    for m in METRIC_NAMES + (CLEAN_METRIC_NAMES if has_clean_metrics(results) else ()):
        cells = []
        for a in agents:
            v = results["aggregates"].get(a, {}).get(m)
            cells.append(f"{fmt(v['mean'], v['std'], 1, 4)} (n={v['n']})" if v else "—")
        rows.append([f"`{m}`", *cells])
    for m in (*DATASET_METRIC_NAMES, "diag_n"):
        rows.append([f"`{m}`", *(fmt(results["dataset_metrics"].get(a, {}).get(m), None, 1,
                                     0 if m == "diag_n" else 4) for a in agents)])
    return markdown_table(["Metric", *agents], rows)


# ----------------------------------------------------------------------------------------------------------------
# Leaderboard and cross-validation tables
# ----------------------------------------------------------------------------------------------------------------
def leaderboard_table(results: Mapping[str, Any], ranked: Sequence[tuple[str, float, float, int]],
                      metric: str) -> str:
    """Markdown leaderboard from :func:`pixgrl.evaluation.rank` output."""
    scale, digits = (100.0, 2) if metric in _PERCENT else (1.0, 3)
    context = [m for m in ("ssim", "psnr", "nrmse") if m != metric]
    rows = []
    for i, (agent, mean, std, n) in enumerate(ranked, 1):
        info = results["agents"].get(agent, {})
        note = "needs the target: ceiling" if info.get("needs_target") else (
            "input unchanged: floor" if info.get("agent") == "identity" else "")
        rows.append([str(i), agent, fmt(mean, std, scale, digits), str(n),
                     *(cell(results, agent, m, 1.0, 2 if m == "psnr" else 3) for m in context), note])
    ds = results["dataset"]
    title = (f"Leaderboard by {metric} on `{ds['name']}` split {ds['split']}, fold {ds['fold']}/{ds['n_folds']} "
             f"({ds['n_pairs']} pairs)\n\n")
    return title + markdown_table(["Rank", "Agent", metric + (" (%)" if metric in _PERCENT else ""), "n",
                                   *context, "Note"], rows)


def cv_table(cv: Mapping[str, Any]) -> str:
    """Markdown of a cross-validation: Tables 1–2 as across-fold mean ± std, and per-fold SSIM."""
    combined = cv["combined"]
    parts = [f"# {cv['k']}-fold cross-validation\n",
             "Each cell: mean ± std over folds of the per-fold means (population std); folds "
             f"{cv['folds']}.\n"]
    tables = (("Table 1: image quality", table1_columns(cv)), ("Table 2: segmentation and diagnosis", TABLE2))
    for title, cols in tables:
        rows = []
        for agent, mets in combined.items():
            rows.append([agent, *(fmt(mets[m]["mean"], mets[m]["std"], s, d) if m in mets else "—"
                                  for m, _, s, d in cols)])
        rows.append([f"*{PAPER_ROW}*", *(paper_cell(m, s, d) for m, _, s, d in cols)])
        parts += [f"## {title}\n", markdown_table(["Agent", *(h for _, h, _, _ in cols)], rows)]
    rows = [[agent, *(fmt(v, None, 1, 3) for v in mets["ssim"]["folds"]), fmt(mets["ssim"]["mean"],
                                                                             mets["ssim"]["std"])]
            for agent, mets in combined.items() if "ssim" in mets]
    parts += ["## SSIM per fold\n",
              markdown_table(["Agent", *(f"fold {f}" for f in cv["folds"]), "mean ± std"], rows)]
    if cv.get("warnings"):
        parts += ["## Warnings\n", "\n".join(f"- {w}" for w in cv["warnings"]) + "\n"]
    return "\n".join(parts)


def cv_leaderboard(cv: Mapping[str, Any], metric: str, lower_is_better: Any = ()) -> str:
    """Agents ranked by the across-fold mean of ``metric``."""
    combined = cv["combined"]
    sign = 1.0 if metric in lower_is_better else -1.0
    items = [(a, m[metric]) for a, m in combined.items() if metric in m]
    if not items:
        raise ValueError(f"no agent has metric {metric!r}")
    items.sort(key=lambda x: (math.isnan(x[1]["mean"]), sign * x[1]["mean"] if not math.isnan(x[1]["mean"]) else 0))
    scale, digits = (100.0, 2) if metric in _PERCENT else (1.0, 3)
    rows = [[str(i), a, fmt(v["mean"], v["std"], scale, digits), str(v["n_folds"])] for i, (a, v) in
            enumerate(items, 1)]
    return (f"Leaderboard by {metric}, {cv['k']}-fold cross-validation\n\n"
            + markdown_table(["Rank", "Agent", f"{metric} (mean ± std over folds)", "folds"], rows))


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------
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
            v = np.array([_num(r.get(metric)) for r in rows if r["agent"] == a], dtype=np.float64)
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
        ax_s.plot(t, [_num(v) for v in c["ssim"]], marker="o", ms=3, label=agent)
        ax_m.plot(t, [_num(v) for v in c["mse"]], marker="o", ms=3, label=agent)
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


__all__ = [
    "CLEAN_NOTE", "PAPER_ROW", "TABLE1", "TABLE1_CLEAN", "TABLE2", "all_metrics_table", "cell", "cv_leaderboard",
    "cv_table", "fmt", "has_clean_metrics", "leaderboard_table", "markdown_table", "metrics_table", "paper_cell",
    "plot_examples", "plot_ssim_distribution", "plot_step_curves", "table1_columns", "write_figures",
    "write_report",
]
