"""Tests of pixgrl.demo: the main job, shrunk to seconds (the README's first command runs it at full size)."""

from __future__ import annotations

import json
from pathlib import Path

from pixgrl.demo import DEMO_RUNS, headline_table, run_demo
from pixgrl_env.tasks import PAPER_TASK, REACH_TASK


def test_demo_trains_and_evaluates_both_tasks(tmp_path: Path, capsys) -> None:
    results = run_demo(tmp_path, minutes=0.01, max_pairs=2)
    assert set(results) == set(DEMO_RUNS) == {REACH_TASK, PAPER_TASK}
    out = capsys.readouterr().out
    for task, res in results.items():
        saved = json.loads((tmp_path / task / "results.json").read_text())
        assert saved["task"]["id"] == task
        agent = f"Pix-GRL ({DEMO_RUNS[task]})"  # reach on PixGRLReach-v0, paper-task on PixGRL-v0
        assert list(res["aggregates"]) == [agent, "identity", "oracle"]
        assert res["aggregates"]["oracle"]["ssim"]["mean"] > res["aggregates"]["identity"]["ssim"]["mean"]
        assert f"## {task}" in out and headline_table(res).splitlines()[2] in out
        assert (tmp_path / task / "run" / "checkpoint.pt").is_file() and (tmp_path / task / "report.md").is_file()
        assert saved["agents"][agent]["checkpoint"].endswith("best.pt")
