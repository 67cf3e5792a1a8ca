"""Resuming continues the run in its folder (agents.resume): its saved configs are the defaults, changes of the task
or the network are refused naming them, a folder without a checkpoint is an error, and a state that does not fit is
one short message.

The runs are tiny (a 16×16 toy dataset, 12×12 crops, a 4-channel CNN, 10 image-steps) so every command line below
trains for real in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from agents import a2c
from agents.checkpoint import CHECKPOINT, load_checkpoint
from agents.resume import ResumeError, resumed_configs
from agents.run import Run
from command_lines import last_line, pixgrl, trainer
from pixgrl_env.config import EnvConfig

#: The original run's settings, each unlike the ``quick`` preset's (crop 64, 128×128 phantom, 40 patients, 8 envs).
TRAIN = ["--agent", "pixgrl", "--set", "backbone=cnn", "--set", 'net_kwargs={"widths": [4]}', "--set", "num_envs=2",
         "--set", "total_steps=10", "--set", "eval_pairs=0", "--set", "checkpoint_every=0", "--env", "dataset=toy",
         "--env", "crop=12", "--env", "lam=0", "--env", 'dataset_kwargs={"size": 16, "n_patients": 6}']


def configs_json(run_dir: Path) -> dict:
    """config.json's configs (without the budget, which grows with every checkpoint)."""
    record = json.loads((run_dir / "config.json").read_text())
    return {"config": record["config"], "env_config": record["env_config"]}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A finished 10-step run of ``pixgrl train`` with the :data:`TRAIN` settings."""
    assert pixgrl("train", *TRAIN, "--run-dir", str(tmp_path / "run")) == 0
    return tmp_path / "run"


def test_resume_without_flags_continues_the_run_in_the_folder(run_dir: Path) -> None:
    before, saved = configs_json(run_dir), load_checkpoint(run_dir / CHECKPOINT)
    assert saved["env_config"]["crop"] == 12 and saved["config"]["num_envs"] == 2
    assert pixgrl("train", "--agent", "pixgrl", "--resume", "--run-dir", str(run_dir)) == 0
    after = load_checkpoint(run_dir / CHECKPOINT)
    assert after["env_config"] == saved["env_config"] and after["config"] == saved["config"]
    assert after["env_config"]["dataset_kwargs"] == {"size": 16, "n_patients": 6}
    assert after["step"] == 10  # the budget was already spent: nothing more to train
    assert configs_json(run_dir) == before
    # The trainers' own command line reads the same saved configs.
    config, env_config = resumed_configs(a2c.Config, run_dir)
    assert config.to_dict() == a2c.Config.from_dict(saved["config"]).to_dict() and env_config.crop == 12


def test_resume_may_raise_the_budget(run_dir: Path) -> None:
    before = configs_json(run_dir)
    assert pixgrl("train", "--resume", "--run-dir", str(run_dir), "--set", "total_steps=20") == 0
    after = load_checkpoint(run_dir / CHECKPOINT)
    assert after["step"] == 20 and after["config"]["total_steps"] == 20 and after["env_config"]["crop"] == 12
    assert configs_json(run_dir) == {**before, "config": {**before["config"], "total_steps": 20}}
    assert trainer("--run-dir", str(run_dir), "--resume", "--total-steps", "30", "--eval-every", "5") == 0
    assert load_checkpoint(run_dir / CHECKPOINT)["step"] == 30


@pytest.mark.parametrize("argv, named", [
    (["--env", "crop=32"], "EnvConfig.crop 12 → 32"),
    (["--env", 'dataset_kwargs={"size": 32}'], "EnvConfig.dataset_kwargs"),
    (["--env", "factors=[0.5,1,2]"], "EnvConfig.factors"),
    (["--set", "num_envs=4"], "Config.num_envs 2 → 4"),
    (["--set", 'net_kwargs={"widths": [8]}'], "Config.net_kwargs"),
    (["--set", "seed=7"], "Config.seed 0 → 7"),
])
def test_resume_refuses_changes_of_the_task_or_network(run_dir: Path, capsys, argv: list[str], named: str) -> None:
    before, ckpt_bytes = configs_json(run_dir), (run_dir / CHECKPOINT).read_bytes()
    assert pixgrl("train", "--resume", "--run-dir", str(run_dir), *argv) == 2
    err = capsys.readouterr().err
    assert named in err and "changes its task or network" in err and "total_steps" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line
    assert (run_dir / CHECKPOINT).read_bytes() == ckpt_bytes and configs_json(run_dir) == before


def test_trainer_command_line_refuses_the_same_changes(run_dir: Path, capsys) -> None:
    assert trainer("--run-dir", str(run_dir), "--resume", "--env", "crop=32") == 2
    assert "EnvConfig.crop 12 → 32" in capsys.readouterr().err
    assert trainer("--run-dir", str(run_dir), "--resume", "--backbone", "graph") == 2
    assert "Config.backbone 'cnn' → 'graph'" in capsys.readouterr().err
    assert trainer("--run-dir", str(run_dir), "--resume", "--preset", "quick") == 2
    assert "--preset cannot be combined with --resume" in capsys.readouterr().err
    # Python callers of train() meet the same check (in agents.run.Run).
    saved = load_checkpoint(run_dir / CHECKPOINT)
    config, env_config = a2c.Config.from_dict(saved["config"]), EnvConfig.from_dict(saved["env_config"])
    with pytest.raises(ResumeError, match="Config.seed 0 → 1"):
        a2c.train(config.replace(seed=1), env_config, run_dir, resume=True)
    with pytest.raises(ResumeError, match="EnvConfig.episode_length 5 → 3"):
        a2c.train(config, env_config.replace(episode_length=3), run_dir, resume=True)


def test_resume_of_a_folder_without_a_checkpoint_is_an_error(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert pixgrl("train", "--resume", "--run-dir", str(empty)) == 2
    assert "holds no checkpoint.pt" in capsys.readouterr().err
    assert trainer("--run-dir", str(tmp_path / "missing"), "--resume") == 2
    assert "holds no checkpoint.pt" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="holds no checkpoint.pt"):
        Run("pixgrl", a2c.Config(), EnvConfig(dataset="toy"), empty, resume=True, total=1, seed=0, device="cpu")
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()  # no fresh run was started


def test_a_saved_state_that_does_not_fit_is_named_in_one_line(run_dir: Path, capsys) -> None:
    # The run's checkpoint now claims 8-channel layers while its weights have 4 (as when a network's defaults change).
    raw = torch.load(run_dir / CHECKPOINT, weights_only=True)
    raw["config"] = json.dumps({**json.loads(raw["config"]), "net_kwargs": {"widths": [8]}})
    torch.save(raw, run_dir / CHECKPOINT)
    assert trainer("--run-dir", str(run_dir), "--resume", "--total-steps", "20") == 2
    err = capsys.readouterr().err
    assert "does not fit this network" in last_line(err) and "saved (4, " in err and "here (8, " in err, err
    assert "Traceback" not in err

    with Run("lin", a2c.Config(), EnvConfig(dataset="toy"), run_dir / "lin", total=1, seed=0, device="cpu") as run:
        run.save({"model": torch.nn.Linear(2, 2).state_dict()})
    with Run("lin", a2c.Config(), EnvConfig(dataset="toy"), run_dir / "lin", resume=True, total=1, seed=0,
             device="cpu") as run:
        with pytest.raises(ResumeError, match=r"weight: saved \(2, 2\), here \(3, 2\); bias: saved \(2,\), here "
                                              r"\(3,\)"):
            run.restore(model=torch.nn.Linear(2, 3))
        with pytest.raises(ResumeError, match="holds no 'optimizer' state"):
            run.restore(optimizer=torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))
