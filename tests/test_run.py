"""The shared trainer plumbing: agents.run.Run (cadence, checkpoints, resume), agents.cli, LR schedules, quick_eval."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import a2c, cli
from agents import run as run_module
from agents.a2c import Config as A2CConfig
from agents.base import Agent
from agents.checkpoint import load_checkpoint
from agents.run import BEST, CHECKPOINT, Run
from agents.training import LR_SCHEDULES, eval_pairs, quick_eval, scheduled_lr
from baselines import dqn, reference
from pixgrl import metrics
from pixgrl.evaluation.agents import resolve_agent
from pixgrl.evaluation.provenance import budget_text, checkpoint_budget
from pixgrl_env.config import EnvConfig
from pixgrl_env.data.phantom import PHANTOM_VERSION

TOY = EnvConfig(dataset="toy", dataset_kwargs={"size": 24, "n_patients": 6}, lam=0.0)


class Brighten(Agent):
    """×1.05 on every pixel at every step."""

    name = "brighten"

    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        return torch.full((obs.shape[0], *obs.shape[2:]), 2, dtype=torch.long, device=obs.device)


# ----------------------------------------------------------------------------------------------------------------
# quick_eval = the evaluation's metrics
# ----------------------------------------------------------------------------------------------------------------


def test_quick_eval_equals_pixgrl_metrics() -> None:
    agent = Brighten(TOY)
    pairs = list(eval_pairs(TOY, 4))
    assert len(pairs) >= 2
    synth = [agent.synthesize(x) for x, _ in pairs]
    expected = {
        "ssim": np.mean([metrics.ssim(s, y) for s, (_, y) in zip(synth, pairs)]),
        "psnr": np.mean([metrics.psnr(s, y) for s, (_, y) in zip(synth, pairs)]),
        "ssim_identity": np.mean([metrics.ssim(x, y) for x, y in pairs]),
        "psnr_identity": np.mean([metrics.psnr(x, y) for x, y in pairs]),
    }
    result = quick_eval(agent, TOY, 4)
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert result["psnr"] != result["psnr_identity"]


# ----------------------------------------------------------------------------------------------------------------
# Learning-rate schedules
# ----------------------------------------------------------------------------------------------------------------


def test_lr_schedules() -> None:
    assert set(LR_SCHEDULES) == {"constant", "linear", "poly"}
    assert scheduled_lr(0.1, "constant", 50, 100) == 0.1
    assert scheduled_lr(0.1, "linear", 25, 100) == pytest.approx(0.075)
    assert scheduled_lr(0.1, "poly", 50, 100) == pytest.approx(0.1 * 0.5**0.9)
    assert scheduled_lr(0.1, "linear", 150, 100) == 0.0  # past the budget: clamped
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        A2CConfig(lr_schedule="cosine")


# ----------------------------------------------------------------------------------------------------------------
# Run: cadence of evals and checkpoints, resume
# ----------------------------------------------------------------------------------------------------------------


def _run(tmp_path: Path, **kw) -> Run:
    settings = dict(total=12, seed=3, device="cpu", eval_every=6, eval_pairs=1, save_every=4)
    return Run("brighten", A2CConfig(), TOY, tmp_path, **{**settings, **kw})


def test_periodic_evals_and_checkpoints_when_crossed_and_at_the_end(tmp_path: Path, monkeypatch) -> None:
    evals, saves = [], []
    monkeypatch.setattr(run_module, "quick_eval", lambda agent, env_config, n: evals.append(run.step) or {"ssim": 0})
    save = run_module.save_checkpoint
    monkeypatch.setattr(run_module, "save_checkpoint",
                        lambda path, **kw: path.name == CHECKPOINT and saves.append(kw["step"]) or save(path, **kw))
    agent = Brighten(TOY)
    with _run(tmp_path) as run:
        while not run.done:
            run.advance(3, losses__loss=torch.tensor(1.0))
            run.periodic(agent, dict)
        run.finish(agent, {})
    assert evals == [6, 12]  # 3 → 6 crosses 6; the end (12) is finish's
    assert saves == [6, 9, 12]  # 3 → 6 crosses 4, 6 → 9 crosses 8, then the end
    assert (tmp_path / "config.json").is_file() and any((tmp_path / "tb").iterdir())
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["agent"] == "brighten" and ckpt["step"] == 12 and ckpt["world_size"] == 1
    assert ckpt["config"] == A2CConfig().to_dict() | {"net_kwargs": {}}


def test_best_checkpoint_keeps_the_best_validation_eval_with_the_whole_runs_budget(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    scores = iter([0.30, 0.50, 0.40, 0.45])  # evals at steps 3, 6, 9 and the end (12): the best is step 6's
    monkeypatch.setattr(run_module, "quick_eval", lambda agent, env_config, n: {"ssim": next(scores)})
    (tmp_path / BEST).write_bytes(b"an older run's")
    net = torch.nn.Linear(1, 1)
    with _run(tmp_path, eval_every=3, eval_pairs=2) as run:
        assert not (tmp_path / BEST).exists()  # a new run in the folder drops the old run's best
        while not run.done:
            run.advance(3)
            with torch.no_grad():
                net.weight.fill_(run.step)  # the weight says at which step a state was taken
            run.periodic(Brighten(TOY), lambda: {"model": net.state_dict()})
            assert run.best["step"] == (3 if run.step == 3 else 6)
        run.finish(Brighten(TOY), {"model": net.state_dict()})
    best, last = load_checkpoint(tmp_path / BEST), load_checkpoint(tmp_path / CHECKPOINT)
    assert best["best"] == {"ssim": 0.50, "step": 6, "pairs": 2} == last["best"]
    assert best["step"] == 6 and best["model"]["weight"].item() == 6.0 and last["model"]["weight"].item() == 12.0
    assert best["budget"]["env_steps"] == 12  # choosing it took the whole run
    assert best["budget"]["wall_time_s"] >= last["budget"]["wall_time_s"] and best["budget"]["device"].startswith("cpu")
    assert "rng" not in best
    assert checkpoint_budget(best)["best_step"] == 6 and "best_step" not in checkpoint_budget(last)
    assert budget_text(checkpoint_budget(best)).startswith("12 env steps (best val at step 6) · ")
    with _run(tmp_path, eval_every=3, eval_pairs=2, resume=True) as resumed:
        assert resumed.best == {"ssim": 0.50, "step": 6, "pairs": 2} and (tmp_path / BEST).is_file()


def test_resume_restores_states_step_and_rng(tmp_path: Path) -> None:
    with _run(tmp_path, eval_pairs=0) as run:
        net = torch.nn.Linear(2, 2)
        run.advance(4)
        run.save({"model": net.state_dict()})
        after_save = torch.rand(5)
    with _run(tmp_path, eval_pairs=0, resume=True) as resumed:
        assert resumed.step == 4
        other = torch.nn.Linear(2, 2)
        ckpt = resumed.restore(model=other)
        assert ckpt["step"] == 4
        assert all(torch.equal(a, b) for a, b in zip(other.parameters(), net.parameters()))
        assert torch.equal(torch.rand(5), after_save)  # the RNG continues where the saved run was
    with _run(tmp_path, resume=False) as fresh:
        assert fresh.step == 0 and fresh.restore(model=other) == {}
    with pytest.raises(ValueError, match="holds a 'brighten' checkpoint, not 'dqn'"):
        Run("dqn", A2CConfig(), TOY, tmp_path, resume=True, total=1, seed=0, device="cpu")


# ----------------------------------------------------------------------------------------------------------------
# Budget and version stamps
# ----------------------------------------------------------------------------------------------------------------


def _stamps(path: Path) -> dict:
    """The stamps of a checkpoint, loaded as plain ``weights_only`` data, and checked equal to config.json's."""
    raw = torch.load(path, weights_only=True)
    stamps = {k: raw[k] for k in ("budget", "phantom_version", "task")}
    record = json.loads((path.parent / "config.json").read_text())
    assert {k: record[k] for k in stamps} == stamps
    return stamps


def test_checkpoints_record_budget_task_and_phantom_version(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    device = f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    phantom = EnvConfig(dataset="phantom", dataset_kwargs={"size": 32, "n_patients": 2})  # the paper's task
    with Run("brighten", A2CConfig(), phantom, tmp_path, total=12, seed=0, device="cpu") as run:
        time.sleep(0.05)
        run.advance(5)
        run.save({})
    first = _stamps(tmp_path / CHECKPOINT)
    assert first["phantom_version"] == PHANTOM_VERSION and first["task"] == "PixGRL-v0"
    budget = first["budget"]
    assert budget["env_steps"] == 5 and budget["device"] == device and 0.05 <= budget["wall_time_s"] < 30
    assert type(budget["env_steps"]) is int and type(budget["wall_time_s"]) is float

    started = time.perf_counter()
    with Run("brighten", A2CConfig(), phantom, tmp_path, resume=True, total=12, seed=0, device="cpu") as run:
        time.sleep(0.05)
        run.advance(7)
        run.save({})
    elapsed = time.perf_counter() - started
    budget = _stamps(tmp_path / CHECKPOINT)["budget"]  # the wall time of both parts
    assert budget["env_steps"] == 12
    assert first["budget"]["wall_time_s"] + 0.05 <= budget["wall_time_s"] <= first["budget"]["wall_time_s"] + elapsed

    # Another dataset: no phantom version; a reward no task id names: no task; a trainer that never steps the env.
    with Run("brighten", A2CConfig(), TOY, tmp_path / "toy", total=4, seed=0, device="cpu", env_steps=False) as run:
        run.advance(4)
        run.save({})
    stamps = _stamps(tmp_path / "toy" / CHECKPOINT)
    assert stamps["phantom_version"] is None and stamps["task"] is None and stamps["budget"]["env_steps"] == 0


def test_the_reference_trainer_stamps_its_checkpoint(tmp_path: Path) -> None:
    reference.train(reference.Config(model="oracle"), EnvConfig(dataset="toy"), tmp_path)
    stamps = _stamps(tmp_path / CHECKPOINT)
    assert stamps["task"] == "PixGRL-v0" and stamps["phantom_version"] is None
    assert stamps["budget"]["env_steps"] == 0 and stamps["budget"]["device"].startswith("cpu (")


# ----------------------------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------------------------


def test_help_shows_every_field_with_its_docstring(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(dqn, ["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--target-network-frequency" in out and "gradient steps between target network updates" in out
    assert "--learning-rate" in out and "Adam learning rate (default: 0.001)" in out


def test_bad_values_are_usage_errors(tmp_path: Path, capsys) -> None:
    for argv, message in ((["--lr", "inf"], "lr must be a number > 0 and finite, got inf"),
                          (["--env", "lam"], "--env expects KEY=VALUE, got 'lam'"),
                          (["--env", "factors=[1e999, 1]"], "factors[0] must be a number > 0 and finite, got inf")):
        with pytest.raises(SystemExit) as info:
            cli.main(a2c, ["--run-dir", str(tmp_path), *argv])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    assert cli.parse_overrides(["a=1", "b=x", "c=[1, 2]", "d=null"]) == {"a": 1, "b": "x", "c": [1, 2], "d": None}


def test_a_baseline_trains_from_its_own_command_line(tmp_path: Path) -> None:
    agent = dqn.main(["--preset", "quick", "--run-dir", str(tmp_path), "--total-timesteps", "20", "--num-envs", "2",
                      "--device", "cpu", "--eval-episodes", "0", "--backbone-kwargs",
                      '{"channels": 4, "dilations": [1]}', "--env", "dataset=toy",
                      "--env", 'dataset_kwargs={"size": 16}', "--env", "crop=null", "--env", "lam=0"])
    assert isinstance(agent, dqn.DQNAgent) and agent.config.backbone_kwargs == {"channels": 4, "dilations": (1,)}
    assert load_checkpoint(tmp_path / CHECKPOINT)["step"] == 20


def _tiny_runs() -> dict:
    """Each trainer on :class:`Run`, a few steps with one validation eval (at the end) on the toy data."""
    from baselines import reinforce, sb3, supervised

    tiny = {"channels": 8, "dilations": (1, 2)}
    return {
        "pixgrl": lambda d: a2c.train(a2c.Config.preset("quick", num_envs=2, total_steps=10, eval_pairs=1,
                                                        checkpoint_every=0, device="cpu",
                                                        net_kwargs={"conv_channels": 8, "graph_channels": 8}), TOY, d),
        "dqn": lambda d: dqn.train(dqn.Config.preset("quick", total_timesteps=20, num_envs=2, device="cpu",
                                                     buffer_size=32, batch_size=4, learning_starts=4, eval_episodes=1,
                                                     backbone_kwargs=tiny), TOY, d),
        "reinforce": lambda d: reinforce.train(reinforce.Config.preset("quick", total_timesteps=20, num_envs=2,
                                                                       device="cpu", eval_episodes=1,
                                                                       backbone_kwargs=tiny), TOY, d),
        "sb3": lambda d: sb3.train(sb3.Config.preset("quick", n_envs=2, total_timesteps=20, n_steps=10, batch_size=10,
                                                     n_epochs=1, device="cpu", backbone_kwargs=tiny, eval_pairs=1),
                                   TOY, d),
        "unet": lambda d: supervised.train(supervised.Config.preset("quick", steps=2, width=8, levels=2, batch_size=2,
                                                                    eval_every=0, eval_pairs=1, device="cpu"), TOY, d),
    }


@pytest.mark.parametrize("trainer", ["pixgrl", "dqn", "reinforce", "sb3", "unet"])
def test_every_trainers_best_checkpoint_loads_for_evaluation(trainer: str, tmp_path: Path) -> None:
    _tiny_runs()[trainer](tmp_path)
    best, last = load_checkpoint(tmp_path / BEST), load_checkpoint(tmp_path / CHECKPOINT)
    assert best["best"]["step"] == last["step"] and best["best"]["pairs"] == 1  # one eval: the end's
    resolved = resolve_agent(str(tmp_path / BEST), "cpu", TOY)
    x = next(eval_pairs(TOY, 1))[0]
    from_last = resolve_agent(str(tmp_path / CHECKPOINT), "cpu", TOY).agent.synthesize(x)
    assert torch.equal(resolved.agent.synthesize(x), from_last)  # the same model: one eval, at the end
    assert resolved.budget["env_steps"] == last["budget"]["env_steps"]
