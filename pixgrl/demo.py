"""``pixgrl demo``: the main job on the embedded phantom, end to end in a few minutes on a 2-core CPU.

For each of two registered tasks (:mod:`pixgrl_env.tasks`):

- ``PixGRLReach-v0``, where the enhancement is reachable (oracle SSIM ≈ 0.96): the Pix-GRL agent's ``reach``
  preset, the task that shows whether an agent learns to synthesise;
- ``PixGRL-v0``, the paper's task (×0.95/×1/×1.05 for 5 steps, oracle SSIM ≈ 0.40): the ``paper-task`` preset
  (the same network and budget, one-step returns),

it trains the agent on 64×64 crops of 128×128 phantom slices, keeps its best model by validation SSIM (the run's
``best.pt``), evaluates that model on the whole slices of the held-out patients of fold 0 beside the identity
(input unchanged) and the oracle (the best image the task's actions can reach, which looks at the target), writes
``report.md``, ``results.json`` and the figures to ``out_dir/<task>/``, and prints the two headline tables side by
side.
"""

from __future__ import annotations

from pathlib import Path

from pixgrl.metrics import METRIC_NAMES
from pixgrl_env.tasks import PAPER_TASK, REACH_TASK

HEADLINE = ("ssim", "psnr", "nrmse", "ext_ssim", "int_ssim")
#: The demo's runs: task id → the Pix-GRL preset trained on it.
DEMO_RUNS: dict[str, str] = {REACH_TASK: "reach", PAPER_TASK: "paper-task"}


def run_demo(out_dir: Path, minutes: float | None = None, seed: int = 0, max_pairs: int = 24) -> dict[str, dict]:
    """Train and evaluate the Pix-GRL agent on both demo tasks; return ``{task id: results dict}``.

    Args:
        out_dir: Output folder; ``out_dir/<task>/run/`` holds each checkpoint and TensorBoard log.
        minutes: Scale both presets' step budgets so that the two runs take roughly this many minutes in all on a
            2-core CPU (None: the presets' budgets, about 10 and 6 minutes).
        seed: Seed of the runs.
        max_pairs: Held-out pairs to evaluate per task.
    """
    from agents import a2c
    from agents.checkpoint import BEST
    from pixgrl.evaluation import evaluate

    if minutes is not None and not minutes > 0:
        raise ValueError(f"minutes must be > 0, got {minutes!r}")
    out_dir = Path(out_dir)
    results = {}
    for task_id, preset in DEMO_RUNS.items():
        config = a2c.Config.preset(preset, seed=seed, device="cpu")
        if minutes is not None:  # the two budgets take about 10 + 6 minutes on a 2-core CPU: scale them linearly
            config = config.replace(total_steps=max(config.num_envs * 5, int(config.total_steps * minutes / 16.0)))
        env_config = a2c.env_config_for(preset, task=task_id)
        print(f"[pixgrl demo] {task_id}: training the Pix-GRL agent ({preset} preset, {config.total_steps} "
              f"image-steps) ...")
        run_dir = out_dir / task_id / "run"
        a2c.train(config, env_config, run_dir)
        print(f"[pixgrl demo] {task_id}: evaluating on held-out phantom patients ...")
        results[task_id] = evaluate({f"Pix-GRL ({preset})": str(run_dir / BEST), "identity": "identity",
                                     "oracle": "oracle"},
                                    split="test", task=task_id, out_dir=out_dir / task_id, max_pairs=max_pairs,
                                    device="cpu")
    print(side_by_side({task: headline_table(res) for task, res in results.items()}))
    print(f"[pixgrl demo] reports: {', '.join(str(out_dir / task / 'report.md') for task in results)}")
    return results


def headline_table(results: dict, metrics: tuple[str, ...] = HEADLINE) -> str:
    """A Markdown table of the headline metrics (mean ± std) per agent."""
    unknown = set(metrics) - set(METRIC_NAMES)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; expected names from {METRIC_NAMES}")
    lines = ["| agent | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, agg in results["aggregates"].items():
        cells = []
        for m in metrics:
            mean, std = agg[m]["mean"], agg[m]["std"]
            cells.append("n/a" if mean is None or mean != mean else f"{mean:.3f} ± {std:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def side_by_side(tables: dict[str, str]) -> str:
    """The tables one under the other, each under its task id as a heading."""
    return "\n\n".join(f"## {task}\n\n{table}" for task, table in tables.items())
