"""Learning curves read back what a run logged, and plot mean and band over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from pixgrl.curves import expand_runs, plot_learning_curves, read_scalar


def _run(root: Path, name: str, values: list[float], identity: float = 0.25) -> Path:
    run = root / name
    with SummaryWriter(str(run / "tb")) as writer:
        writer.add_scalar("eval/ssim", -1.0, 100)  # overwritten below: for a repeated step the last value wins
        for i, v in enumerate(values):
            writer.add_scalar("eval/ssim", v, (i + 1) * 100)
            writer.add_scalar("eval/ssim_identity", identity, (i + 1) * 100)
    return run


def test_read_scalar_returns_the_logged_steps_and_values(tmp_path: Path) -> None:
    run = _run(tmp_path, "a", [0.3, 0.5, 0.6])
    steps, values = read_scalar(run)
    np.testing.assert_array_equal(steps, [100, 200, 300])
    np.testing.assert_allclose(values, [0.3, 0.5, 0.6], rtol=0, atol=1e-7)  # float32 in the event file
    with pytest.raises(KeyError, match="eval/psnr.*logged scalars"):
        read_scalar(run, "eval/psnr")
    with pytest.raises(FileNotFoundError, match="no TensorBoard event file"):
        read_scalar(tmp_path / "missing")


def test_plot_learning_curves_writes_a_png_over_seeds(tmp_path: Path) -> None:
    runs = [_run(tmp_path, f"s{i}", [0.3 + i / 10, 0.5, 0.6]) for i in range(3)]
    assert expand_runs([str(tmp_path / "s*")]) == runs
    out = plot_learning_curves({"agent": runs, "one": runs[:1]}, tmp_path / "fig" / "curves.png",
                               references={"oracle": 0.95})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError, match="no run folder matches"):
        expand_runs([str(tmp_path / "nothing*")])
