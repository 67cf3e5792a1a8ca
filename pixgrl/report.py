"""Markdown tables in the layout of the paper's Tables 1–2, and PNG figures, from evaluation results.

Tables (one row per agent, then a "Pix-GRL (paper)" reference row from :data:`~pixgrl.metrics.PAPER_VALUES`):

- Table 1, image quality: overall SSIM, NRMSE, PSNR; external tumour region (64×64 patch at the tumour centroid)
  SSIM, NRMSE, NMI; internal (tumour bounding box) SSIM, NRMSE, NMI; and, when the data has a noise-free target
  (the phantom), SSIM and PSNR against it (:data:`TABLE1_CLEAN`).
- Table 2, segmentation and diagnosis: Dice, kappa, Hausdorff distance, tumour-size PCC, benign/malignant accuracy,
  sensitivity, specificity (and our 3-class accuracy, which the paper does not report).

Cells are ``mean ± std`` over pairs (population std, NaN skipped); dataset-level metrics (PCC, diagnosis) are one
number per agent. ``—`` marks a value that is undefined (NaN) or not reported by the paper. Every agent row (Tables
1–2, the leaderboard, cross-validation) states the agent's training budget (env steps, wall time, device:
:func:`~pixgrl.evaluation.provenance.budget_text`). The report's header names the task and, when agents were
evaluated on patients they trained on (``allow_train_patients``), says so before anything else.

Figures (``examples.png``, ``ssim_distribution.png``, ``step_curves.png``): :mod:`pixgrl.evaluation.figures`,
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pixgrl.evaluation.figures import plot_examples, plot_ssim_distribution, plot_step_curves, write_figures
from pixgrl.evaluation.provenance import BUDGET_NOTE, budget_text
from pixgrl.evaluation.results import as_float
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
def fmt(mean: Any, std: Any = None, scale: float = 1.0, digits: int = 3) -> str:
    """``"0.812 ± 0.041"``; ``"—"`` for NaN/None, ``"∞"`` for inf; no ``±`` part when ``std`` is None/NaN."""
    m = as_float(mean)
    if math.isnan(m):
        return "—"
    if math.isinf(m):
        return "∞" if m > 0 else "−∞"
    text = f"{m * scale:.{digits}f}"
    s = as_float(std)
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


def budget_cell(results: Mapping[str, Any], agent: str) -> str:
    """The training budget of ``agent`` in ``results`` as one cell (``"none"`` for a reference agent)."""
    info = results.get("agents", {}).get(agent, {})
    reference = info.get("reference", info.get("agent") in ("identity", "oracle"))
    return budget_text(info.get("budget"), bool(reference))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align_first_left: bool = True) -> str:
    """A GitHub-flavoured Markdown table (first column left-aligned, the rest right-aligned)."""
    sep = [":--" if (i == 0 and align_first_left) else "--:" for i in range(len(header))]
    return "\n".join([_row(header), _row(sep), *(_row(r) for r in rows)]) + "\n"


def metrics_table(results: Mapping[str, Any], columns: Sequence[tuple[str, str, float, int]], *,
                  paper: bool = True, extra_rows: Sequence[Sequence[str]] = (),
                  count: str | None = None) -> str:
    """A table with one row per agent of ``results`` over ``columns``, its training budget, plus the paper's row.

    Args:
        results: A results dict of :func:`pixgrl.evaluation.evaluate`.
        columns: ``(metric, header, scale, digits)`` tuples, e.g. :data:`TABLE1`.
        paper: Append the "Pix-GRL (paper)" row.
        extra_rows: Further ready-made rows (same number of cells: the metrics, the budget, n) before the paper's
            row.
        count: Metric whose ``n`` is shown in a last "n" column (None: no such column).
    """
    header = ["Agent", *(h for _, h, _, _ in columns), "Budget"] + (["n"] if count else [])
    rows = []
    for agent in results["agents"]:
        r = [_agent_label(results, agent), *(cell(results, agent, m, s, d) for m, _, s, d in columns),
             budget_cell(results, agent)]
        if count:
            r.append(str(results["aggregates"][agent].get(count, {}).get("n", "—")))
        rows.append(r)
    rows.extend(list(r) for r in extra_rows)
    if paper:
        rows.append([f"*{PAPER_ROW}*", *(paper_cell(m, s, d) for m, _, s, d in columns), "—"]
                    + ([""] if count else []))
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
def _training_split_cell(info: Mapping[str, Any], check: Mapping[str, Any]) -> str:
    ts = info.get("training_split")
    if not ts:
        return "none" if check.get("status") == "reference" else "unknown"
    text = f"`{ts['dataset']}` {ts['split']}, fold {ts['fold']}/{ts['n_folds']}, seed {ts['split_seed']}"
    if check.get("status") == "overlap":
        text += f" (**{check['n_overlap']} evaluated patients**)"
    return text


def _agents_table(results: Mapping[str, Any]) -> str:
    rows = []
    checks = (results.get("protocol") or {}).get("patients", {})
    for name, info in results["agents"].items():
        cfg = info.get("env_config") or {}
        factors = cfg.get("factors")
        rows.append([name, str(info.get("agent")), str(info.get("checkpoint") or info.get("spec")),
                     str(info.get("task") or "unregistered"),
                     ", ".join(f"×{f:g}" for f in factors) if factors else "—",
                     str(cfg.get("episode_length", "—")), ", ".join(cfg.get("conditioning") or []) or "—",
                     str(cfg.get("crop")) if cfg.get("crop") else "—",
                     _training_split_cell(info, checks.get(name, {})), budget_cell(results, name)])
    return markdown_table(["Agent", "Type", "Source", "Task", "Actions", "T", "Conditioning", "Train crop",
                           "Trained on", "Budget"], rows)


def protocol_banner(results: Mapping[str, Any]) -> list[str]:
    """The report header's statement about training patients: empty unless ``allow_train_patients`` was set."""
    protocol = results.get("protocol") or {}
    if not protocol.get("allow_train_patients"):
        return []
    overlapping = protocol.get("trained_on_evaluated_patients") or []
    checks = protocol.get("patients", {})
    if not overlapping:
        return ["> **Evaluated with `--allow-train-patients`**: no agent was trained on the evaluated patients.", ""]
    who = "; ".join(f"`{a}` on {checks.get(a, {}).get('n_overlap', '?')} of {checks.get(a, {}).get('n_evaluated', '?')}"
                    for a in overlapping)
    return [f"> **⚠ Evaluated on training patients (`--allow-train-patients`).** Agents trained on evaluated "
            f"patients: {who}. Their scores include patients they were trained on: they measure fitting, not "
            f"synthesis for unseen patients, and do not compare with held-out results.", ""]


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
    task = results.get("task") or {}
    lines = [
        "# Pix-GRL evaluation report",
        "",
        *protocol_banner(results),
        *([f"- Task: **{task['description']}**" + (" (`--task`)" if task.get("requested") else "") + "."]
          if task.get("description") else []),
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
        "not a synthesis method. " + BUDGET_NOTE,
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
    return [["*real enhanced (classifier on targets)*", *cells, "—", ""]]


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
    checks = (results.get("protocol") or {}).get("patients", {})
    rows = []
    for i, (agent, mean, std, n) in enumerate(ranked, 1):
        info = results["agents"].get(agent, {})
        check = checks.get(agent, {})
        note = "needs the target: ceiling" if info.get("needs_target") else (
            "input unchanged: floor" if info.get("agent") == "identity" else "")
        if check.get("status") == "overlap":
            note = f"⚠ trained on {check.get('n_overlap')} of the {check.get('n_evaluated')} evaluated patients"
        elif check.get("status") == "unknown":
            note = (note + "; " if note else "") + "training patients unknown"
        rows.append([str(i), agent, fmt(mean, std, scale, digits), str(n),
                     *(cell(results, agent, m, 1.0, 2 if m == "psnr" else 3) for m in context),
                     budget_cell(results, agent), note])
    ds = results["dataset"]
    task = (results.get("task") or {}).get("description")
    title = (f"Leaderboard by {metric} on `{ds['name']}` split {ds['split']}, fold {ds['fold']}/{ds['n_folds']} "
             f"({ds['n_pairs']} pairs)" + (f", task {task}" if task else "") + "\n\n"
             + "\n".join(protocol_banner(results)) + ("\n" if protocol_banner(results) else ""))
    return title + markdown_table(["Rank", "Agent", metric + (" (%)" if metric in _PERCENT else ""), "n",
                                   *context, "Budget", "Note"], rows) + f"\n{BUDGET_NOTE}\n"


def cv_budget_cell(cv: Mapping[str, Any], agent: str) -> str:
    """An agent's training budget over the folds of a cross-validation: one cell, or one per fold if they differ."""
    budgets = (cv.get("budgets") or {}).get(agent)
    if budgets is None:
        return "n/a"
    texts = ["none" if b is None else budget_text(b) for b in budgets]  # None: a reference agent
    return texts[0] if len(set(texts)) == 1 else " / ".join(f"fold {f}: {t}" for f, t in zip(cv["folds"], texts))


def cv_table(cv: Mapping[str, Any]) -> str:
    """Markdown of a cross-validation: Tables 1–2 as across-fold mean ± std, and per-fold SSIM."""
    combined = cv["combined"]
    parts = [f"# {cv['k']}-fold cross-validation\n",
             "Each cell: mean ± std over folds of the per-fold means (population std); folds "
             f"{cv['folds']}. Each fold is scored by a model trained without that fold's patients.\n"]
    if cv.get("allow_train_patients"):
        parts.append("> **Evaluated with `--allow-train-patients`**: see each fold's report.md for the agents "
                     "scored on patients they were trained on.\n")
    tables = (("Table 1: image quality", table1_columns(cv)), ("Table 2: segmentation and diagnosis", TABLE2))
    for title, cols in tables:
        rows = []
        for agent, mets in combined.items():
            rows.append([agent, *(fmt(mets[m]["mean"], mets[m]["std"], s, d) if m in mets else "—"
                                  for m, _, s, d in cols), cv_budget_cell(cv, agent)])
        rows.append([f"*{PAPER_ROW}*", *(paper_cell(m, s, d) for m, _, s, d in cols), "—"])
        parts += [f"## {title}\n", markdown_table(["Agent", *(h for _, h, _, _ in cols), "Budget"], rows)]
    parts.append(BUDGET_NOTE + "\n")
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
    rows = [[str(i), a, fmt(v["mean"], v["std"], scale, digits), str(v["n_folds"]), cv_budget_cell(cv, a)]
            for i, (a, v) in enumerate(items, 1)]
    return (f"Leaderboard by {metric}, {cv['k']}-fold cross-validation\n\n"
            + markdown_table(["Rank", "Agent", f"{metric} (mean ± std over folds)", "folds", "Budget"], rows)
            + f"\n{BUDGET_NOTE}\n")


__all__ = [
    "CLEAN_NOTE", "PAPER_ROW", "TABLE1", "TABLE1_CLEAN", "TABLE2", "all_metrics_table", "budget_cell", "cell",
    "cv_budget_cell", "cv_leaderboard", "cv_table", "fmt", "has_clean_metrics", "leaderboard_table",
    "markdown_table", "metrics_table", "paper_cell", "protocol_banner",
    "plot_examples", "plot_ssim_distribution", "plot_step_curves", "table1_columns", "write_figures",
    "write_report",
]
