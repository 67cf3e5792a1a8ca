"""Tests of pixgrl.ablations: the paper's axes, config building, and tiny end-to-end runs."""

from __future__ import annotations

import argparse
import json

import pytest

from agents.networks import BACKBONES
from baselines.reference import IdentityAgent
from pixgrl import ablations as A
from pixgrl_env.config import ACTION_PRESETS, DISTANCES, EnvConfig

TOY = {"n_patients": 10, "size": 32}


def test_the_paper_axes():
    assert list(A.ABLATIONS) == ["table3", "table5-step", "table5-actions", "table5-lambda", "table5-patch",
                                 "fig16-reward", "fig16-distance", "episode-length"]
    t3 = A.ABLATIONS["table3"]
    assert set(t3.names) == set(BACKBONES) and t3.names[0] == "graph"
    assert all(v.config == {"backbone": v.name} for v in t3.variants)
    assert max(t3.variants, key=lambda v: v.paper["ssim"]).name == "graph"  # Table 3: the graph backbone wins
    step = A.ABLATIONS["table5-step"]
    assert [v.env["factors"] for v in step.variants] == [ACTION_PRESETS[f"step{s}"] for s in
                                                         ("1.5", "1.2", "1.1", "1.07", "1.05", "1.01")]
    assert max(step.variants, key=lambda v: v.paper["ssim"]).name == "step1.05"
    acts = A.ABLATIONS["table5-actions"]
    assert [len(v.env["factors"]) for v in acts.variants] == [3, 5, 7]
    lam = A.ABLATIONS["table5-lambda"]
    assert [v.env["lam"] for v in lam.variants] == [0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 1.5]
    assert max((v for v in lam.variants if v.paper), key=lambda v: v.paper["ssim"]).env["lam"] == 0.2
    patch = A.ABLATIONS["table5-patch"]
    assert [v.env["patch"] for v in patch.variants] == [2, 4, 8, 16, 32, 64]
    reward = {v.name: v.env for v in A.ABLATIONS["fig16-reward"].variants}
    assert reward == {"pixel": {"lam": 0.0}, "region": {"pixel_weight": 0.0}, "dual": {}}
    assert [v.env["distance"] for v in A.ABLATIONS["fig16-distance"].variants] == list(DISTANCES)
    lengths = [v.env["episode_length"] for v in A.ABLATIONS["episode-length"].variants]
    assert 5 in lengths and max(lengths) >= 20


def test_every_variant_builds_valid_configs():
    for ablation in A.ABLATIONS.values():
        for v in ablation.variants:
            env = A.build_env_config(v, EnvConfig(), dataset="toy", dataset_kwargs=TOY, fold=1)
            assert env.split == "train" and env.fold == 1 and env.dataset == "toy"
            for key, value in v.env.items():
                assert getattr(env, key) == (tuple(value) if isinstance(value, tuple) else value)
            cfg = A.build_config(ablation.agent, v, 123, seed=3, device="cpu")
            assert cfg.total_steps == 123 and cfg.seed == 3 and cfg.device == "cpu"
            for key, value in v.config.items():
                assert getattr(cfg, key) == value


def test_build_config_errors():
    v = A.ABLATIONS["table3"].variant("cnn")
    with pytest.raises(ValueError, match="no_such_field"):
        A.build_config("pixgrl", v, 10, overrides={"no_such_field": 1})
    with pytest.raises(ValueError, match="budget field 'epochs'"):
        A.build_config("pixgrl", v, 10, budget_field="epochs")
    assert A.build_config("reinforce", v, 10).total_timesteps == 10
    with pytest.raises(ValueError, match="'table9'"):
        A.get_ablation("table9")
    with pytest.raises(ValueError, match="'lam7'"):
        A.ABLATIONS["table5-lambda"].variant("lam7")
    with pytest.raises(ValueError, match="budget"):
        A.run_ablation("table3", 0, "unused")


def test_tiny_run_with_a_custom_trainer(tmp_path):
    """Two step-size variants with a trainer that returns the identity: the table, the JSON and the oracle column."""
    seen = []

    def train_fn(variant, config, env_config, run_dir, resume):
        seen.append((variant.name, env_config.factors, config.total_steps, resume))
        return IdentityAgent(env_config)

    res = A.run_ablation("table5-step", 7, tmp_path, variants=["step1.5", "step1.01"], env_config=EnvConfig(),
                         dataset="toy", dataset_kwargs=TOY, max_pairs=2, device="cpu", progress=False,
                         train_fn=train_fn)
    assert seen == [("step1.5", ACTION_PRESETS["step1.5"], 7, False), ("step1.01", ACTION_PRESETS["step1.01"], 7,
                                                                         False)]
    table = (tmp_path / "ablation.md").read_text()
    assert table == res["table"]
    for text in ("step1.5", "step1.01", "×±1.5", "Oracle SSIM", "Paper SSIM", "0.690", "0.550"):
        assert text in table
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert [v["name"] for v in data["variants"]] == ["step1.5", "step1.01"]
    big, small = data["variants"]
    assert big["aggregates"]["ssim"]["mean"] == pytest.approx(small["aggregates"]["ssim"]["mean"])  # identity
    assert big["oracle"]["ssim"]["mean"] > small["oracle"]["ssim"]["mean"]  # ×1.5 steps reach further
    assert data["budget_field"] == "total_steps"


def test_tiny_run_of_the_pixgrl_agent(tmp_path):
    """Two λ variants of the real A2C agent for one episode batch each, then a resumed rerun."""
    kwargs = dict(variants=["lam0.2", "lam1"], env_config=EnvConfig(), dataset="toy", dataset_kwargs=TOY,
                  max_pairs=2, device="cpu", progress=False, with_oracle=False,
                  config_overrides={"backbone": "cnn", "net_kwargs": {"widths": (8, 8)}, "num_envs": 2,
                                    "eval_pairs": 0, "checkpoint_every": 0})
    res = A.run_ablation("table5-lambda", 10, tmp_path, **kwargs)
    for name, lam in (("lam0.2", 0.2), ("lam1", 1.0)):
        assert (tmp_path / name / "checkpoint.pt").is_file()
        assert (tmp_path / name / "eval" / "results.json").is_file()
        assert f"| {name} |" in res["table"]
    assert [v["env_config"]["lam"] for v in res["variants"]] == [0.2, 1.0]
    assert "Oracle SSIM" not in res["table"]
    for v in res["variants"]:  # trained on the train folds, evaluated on the test fold: the leakage check passes
        assert v["patients"]["status"] == "no overlap" and v["patients"]["n_overlap"] == 0
        assert v["budget"]["env_steps"] == 10  # from the variant's checkpoint
    assert "| Budget |" in res["table"] and "10 env steps" in res["table"]
    again = A.run_ablation("table5-lambda", 10, tmp_path, **kwargs)
    assert all(v["resumed"] for v in again["variants"])


def test_cli_list_and_missing_arguments(capsys):
    parser = argparse.ArgumentParser(prog="pixgrl")
    A.register_cli(parser.add_subparsers())
    args = parser.parse_args(["ablate", "--list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for name, ablation in A.ABLATIONS.items():
        assert name in out
        assert all(v.name in out for v in ablation.variants)
    args = parser.parse_args(["ablate", "table3"])
    assert args.func(args) == 2
    assert "--budget" in capsys.readouterr().err


def test_ablate_task_sets_the_base_of_every_variant(monkeypatch, tmp_path) -> None:
    """`pixgrl ablate NAME --task ID`: the variants start from the task's actions and horizon, the preset's data."""
    from pixgrl import cli
    from pixgrl.ablations import commands

    seen = {}

    def fake_run(name, budget, out, **kwargs):
        seen["env"] = kwargs["env_config"]
        return {"table": "ok"}

    monkeypatch.setattr(commands, "run_ablation", fake_run)
    with pytest.raises(SystemExit) as done:
        cli.main(["ablate", "table5-lambda", "--budget", "8", "--out", str(tmp_path / "a"), "--task", "PixGRLReach-v0"])
    assert done.value.code == 0
    env = seen["env"]
    assert (env.factors, env.episode_length) == ((0.5, 0.9, 1.0, 1.1, 2.0), 3)
    assert env.crop == 64 and env.dataset_kwargs["size"] == 128  # the quick preset's data settings are kept
