"""Tests of the evaluation protocol: training patients refused (or allowed and stated), the val split, one checkpoint
per fold in cross-validation, the budget on every row, task and phantom version stamps, dataset settings warnings."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from agents.base import Agent
from pixgrl import evaluation as E
from pixgrl.cli import main
from pixgrl_env.config import EnvConfig
from pixgrl_env.data import make_dataset, patient_folds, split_dataset
from pixgrl_env.data.phantom import PHANTOM_VERSION
from pixgrl_env.tasks import PAPER_TASK, REACH_TASK, TASKS, task_config

TOY = {"n_patients": 10, "size": 32}
PHANTOM = {"size": 32, "n_patients": 10, "slices_per_patient": 1}
QUIET = {"device": "cpu", "progress": False, "figures": False, "classifier": None}


def _toy_env(**kw) -> EnvConfig:
    return EnvConfig(dataset="toy", dataset_kwargs=TOY, **kw)


class _Keep(Agent):
    """A non-reference agent that keeps every pixel (the ×1 action): stands for any trained agent."""

    name = "keep"

    def act(self, obs, deterministic=True):
        keep = self.env_config.factors.index(1.0)
        return torch.full((obs.shape[0], *obs.shape[2:]), keep, dtype=torch.long, device=obs.device)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A Pix-GRL checkpoint trained for a few steps on the toy train split (fold 0 of 5, split seed 0)."""
    from agents import a2c

    run = tmp_path_factory.mktemp("run")
    a2c.train(a2c.Config.preset("quick", num_envs=2, total_steps=10, eval_pairs=0, checkpoint_every=0, device="cpu",
                                backbone="cnn", net_kwargs={"widths": (8, 8)}), _toy_env(), run)
    return run / "checkpoint.pt"


def _derive(src: Path, dst: Path, env: dict | None = None, **keys) -> Path:
    """A copy of checkpoint ``src`` with env_config fields and top-level keys changed (a key set to None is removed):
    the same weights, claiming another training split, budget or phantom version."""
    raw = torch.load(src, weights_only=True)
    raw["env_config"] = json.dumps({**json.loads(raw["env_config"]), **(env or {})})
    for key, value in keys.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(raw, dst)
    return dst


def _train_patients_by_hand(n_folds: int = 5, fold: int = 0, seed: int = 0) -> set[str]:
    """Patients of the train split: every fold but the test fold and the next one (val), from patient_folds."""
    ds = make_dataset("toy", **TOY)
    index = ds.item_index()
    folds = patient_folds(ds, n_folds, seed)
    return {index[i][0] for k, f in enumerate(folds) if k not in (fold, (fold + 1) % n_folds) for i in f}


# ----------------------------------------------------------------------------------------------------------------
# Training patients
# ----------------------------------------------------------------------------------------------------------------
def test_checkpoint_on_its_training_patients_exits_nonzero(ckpt, tmp_path, capsys):
    out = tmp_path / "eval"
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(ckpt), "identity", "--dataset", "toy", "--dataset-kwargs", json.dumps(TOY),
              "--split", "train", "--out", str(out), "--device", "cpu", "--classifier", "none", "--no-figures",
              "--quiet"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    n = len(_train_patients_by_hand())
    for text in ("'pixgrl'", "dataset='toy'", "split='train'", "fold=0", "n_folds=5", "split_seed=0",
                 f"trained on {n} of the {n} evaluated patients", "--allow-train-patients"):
        assert text in err, text
    assert not (out / "results.json").exists()


def test_trainval_agent_on_val_and_all_split_agents_are_refused(ckpt, tmp_path):
    trainval = _derive(ckpt, tmp_path / "tv.pt", {"split": "trainval"})
    with pytest.raises(E.LeakageError, match="split='trainval'"):
        E.evaluate([str(trainval)], "toy", dataset_kwargs=TOY, split="val", **QUIET)
    everything = _derive(ckpt, tmp_path / "all.pt", {"split": "all"})
    with pytest.raises(E.LeakageError, match="every patient of this dataset"):
        E.evaluate([str(everything)], "toy", dataset_kwargs=TOY, split="test", **QUIET)


def test_allow_train_patients_is_stated_in_results_and_report(ckpt, tmp_path):
    res = E.evaluate([str(ckpt), "identity"], "toy", dataset_kwargs=TOY, split="train", out_dir=tmp_path,
                     allow_train_patients=True, **QUIET)
    n = len(_train_patients_by_hand())
    protocol = E.load_results(tmp_path)["protocol"]
    assert protocol["allow_train_patients"] is True
    assert protocol["trained_on_evaluated_patients"] == ["pixgrl"]
    assert protocol["patients"]["pixgrl"]["status"] == "overlap"
    assert protocol["patients"]["pixgrl"]["n_overlap"] == protocol["patients"]["pixgrl"]["n_evaluated"] == n
    assert protocol["patients"]["identity"]["status"] == "reference"
    assert any("allow_train_patients" in w for w in res["warnings"])
    report = (tmp_path / "report.md").read_text()
    head = report.split("## Agents")[0]
    assert "Evaluated on training patients" in head and "--allow-train-patients" in head
    assert f"`pixgrl` on {n} of {n}" in head
    board = E.leaderboard(results=res)
    assert "trained on" in board and "Evaluated on training patients" in board


def test_the_cli_flag_allows_and_the_test_fold_needs_none(ckpt, tmp_path):
    main_args = [str(ckpt), "--dataset", "toy", "--dataset-kwargs", json.dumps(TOY), "--device", "cpu",
                 "--classifier", "none", "--no-figures", "--quiet"]
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", *main_args, "--split", "train", "--allow-train-patients", "--out", str(tmp_path / "a")])
    assert exc.value.code == 0
    assert json.loads((tmp_path / "a" / "results.json").read_text())["protocol"]["allow_train_patients"] is True
    res = E.evaluate([str(ckpt)], "toy", dataset_kwargs=TOY, split="test", **QUIET)
    test_patients = {p for p, _ in split_dataset(make_dataset("toy", **TOY), "test").item_index()}
    assert res["protocol"]["patients"]["pixgrl"] == {"status": "no overlap", "n_evaluated": len(test_patients),
                                                     "n_overlap": 0, "n_validation": 0, "note": None,
                                                     "differing": []}
    assert res["protocol"]["allow_train_patients"] is False and res["warnings"] == []


def test_val_split_is_evaluated_and_flagged_as_validation(ckpt):
    data = make_dataset("toy", **TOY)
    val, train, test = (split_dataset(data, s, 0, 5, 0) for s in ("val", "train", "test"))
    patients = {s: {p for p, _ in d.item_index()} for s, d in (("val", val), ("train", train), ("test", test))}
    assert patients["val"] and not patients["val"] & (patients["train"] | patients["test"])
    res = E.evaluate([str(ckpt), "identity"], "toy", dataset_kwargs=TOY, split="val", **QUIET)
    assert res["dataset"]["split"] == "val" and res["dataset"]["n_pairs"] == len(val)
    assert {r["patient_id"] for r in res["rows"]} == patients["val"]
    check = res["protocol"]["patients"]["pixgrl"]
    assert check["status"] == "no overlap" and check["n_validation"] == len(patients["val"])
    assert any("validation fold" in w and "fold 1 of 5" in w for w in res["warnings"])


def test_entry_points_that_state_their_training_split_are_checked(monkeypatch):
    module = types.ModuleType("protocol_entry_points")
    module.trained = lambda: _Keep(_toy_env(split="train"))
    module.handed = lambda env_config: _Keep(env_config)
    monkeypatch.setitem(sys.modules, "protocol_entry_points", module)
    with pytest.raises(E.LeakageError, match="'trained'.*split='train'"):
        E.evaluate(["protocol_entry_points:trained"], "toy", dataset_kwargs=TOY, split="train", **QUIET)
    res = E.evaluate(["protocol_entry_points:handed"], "toy", dataset_kwargs=TOY, split="train", **QUIET)
    assert res["protocol"]["patients"]["handed"]["status"] == "unknown"  # it only echoes the config it was given
    assert any("handed" in w and "unknown" in w for w in res["warnings"])
    with pytest.raises(E.LeakageError, match="'mine'"):  # Agent objects: their env_config is their training's
        E.evaluate({"mine": _Keep(_toy_env(split="train"))}, "toy", dataset_kwargs=TOY, split="trainval", **QUIET)


def test_leaderboard_refuses_training_patients(ckpt):
    with pytest.raises(E.LeakageError, match="pixgrl"):
        E.leaderboard([str(ckpt)], dataset="toy", dataset_kwargs=TOY, split="all", **QUIET)


# ----------------------------------------------------------------------------------------------------------------
# Dataset settings (issue 10)
# ----------------------------------------------------------------------------------------------------------------
def test_other_dataset_settings_warn_naming_the_keys(ckpt):
    other = {"n_patients": 12, "size": 32}
    with pytest.warns(UserWarning, match=r"differing: n_patients"):
        res = E.evaluate([str(ckpt)], "toy", dataset_kwargs=other, split="train", **QUIET)  # no overlap known
    check = res["protocol"]["patients"]["pixgrl"]
    assert check["status"] == "unknown" and check["differing"] == ["n_patients"]
    assert res["dataset"]["kwargs"] == other  # the evaluation's settings are the ones used, and recorded
    same = E.evaluate([str(ckpt)], "toy", dataset_kwargs={**TOY, "seed": 0}, max_pairs=1, **QUIET)  # seed 0: default
    assert same["protocol"]["patients"]["pixgrl"]["differing"] == []


def test_phantom_version_stamps_and_mismatch(ckpt, tmp_path):
    res = E.evaluate(["identity"], "phantom", dataset_kwargs=PHANTOM, max_pairs=1, **QUIET)
    assert res["dataset"]["phantom_version"] == PHANTOM_VERSION
    on_phantom = {"dataset": "phantom", "dataset_kwargs": PHANTOM}
    current = _derive(ckpt, tmp_path / "now.pt", on_phantom, phantom_version=PHANTOM_VERSION)
    with pytest.raises(E.LeakageError):
        E.evaluate([str(current)], "phantom", dataset_kwargs=PHANTOM, split="all", **QUIET)
    old = _derive(ckpt, tmp_path / "old.pt", on_phantom, phantom_version="0.0-test")
    with pytest.warns(UserWarning, match="phantom version 0.0-test"):
        res = E.evaluate([str(old)], "phantom", dataset_kwargs=PHANTOM, split="all", max_pairs=1, **QUIET)
    assert res["agents"]["pixgrl"]["phantom_version"] == "0.0-test"
    assert res["protocol"]["patients"]["pixgrl"]["differing"] == ["version"]


# ----------------------------------------------------------------------------------------------------------------
# Cross-validation: one checkpoint per fold
# ----------------------------------------------------------------------------------------------------------------
def test_cv_without_fold_template_errors(ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(ckpt), "identity", "--cv", "3", "--dataset", "toy", "--dataset-kwargs",
              json.dumps(TOY), "--out", str(tmp_path), "--device", "cpu", "--quiet"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "{fold}" in err and "one model per fold" in err
    with pytest.raises(ValueError, match="one Agent object"):
        E.cross_validate({"mine": _Keep(_toy_env())}, 3, dataset="toy", dataset_kwargs=TOY, **QUIET)


def test_cv_with_one_checkpoint_per_fold(ckpt, tmp_path):
    budgets = [{"env_steps": 100 * (f + 1), "wall_time_s": 1.5, "device": "cpu (2 threads)"} for f in range(3)]
    for f in range(3):
        _derive(ckpt, tmp_path / f"cv/fold{f}/checkpoint.pt", {"fold": f, "n_folds": 3}, budget=budgets[f])
    cv = E.cross_validate([f"ours={tmp_path}/cv/fold{{fold}}", "identity"], 3, dataset="toy", dataset_kwargs=TOY,
                          out_dir=tmp_path / "out", max_pairs=2, **QUIET)
    assert cv["folds"] == [0, 1, 2] and list(cv["combined"]) == ["ours", "identity"]
    assert [b["env_steps"] for b in cv["budgets"]["ours"]] == [100, 200, 300]
    assert cv["budgets"]["identity"] == [None] * 3
    for f, res in enumerate(cv["fold_results"]):
        assert res["agents"]["ours"]["training_split"]["fold"] == f
        assert res["protocol"]["patients"]["ours"]["status"] == "no overlap"
    table = (tmp_path / "out" / "cv.md").read_text()
    assert "Budget" in table and "fold 2: 300 env steps · 2 s · cpu (2 threads)" in table
    _derive(ckpt, tmp_path / "cv/fold1/checkpoint.pt", {"fold": 0, "n_folds": 3})
    with pytest.raises(ValueError, match=r"fold1.*fills fold 1.*trained with fold=0, n_folds=3"):
        E.cross_validate([f"{tmp_path}/cv/fold{{fold}}/checkpoint.pt"], 3, dataset="toy", dataset_kwargs=TOY,
                         **QUIET)


# ----------------------------------------------------------------------------------------------------------------
# Budgets and tasks
# ----------------------------------------------------------------------------------------------------------------
def test_budget_on_every_row(ckpt, tmp_path):
    recorded = _derive(ckpt, tmp_path / "b/checkpoint.pt",
                       budget={"env_steps": 4000, "wall_time_s": 312.0, "device": "cpu (2 threads)"})
    bare = _derive(ckpt, tmp_path / "s/checkpoint.pt", budget=None, step=123)
    res = E.evaluate([f"rec={recorded}", f"bare={bare}", "identity", "oracle"], "toy", dataset_kwargs=TOY,
                     out_dir=tmp_path / "eval", max_pairs=2, **QUIET)
    assert res["agents"]["rec"]["budget"] == {"env_steps": 4000, "wall_time_s": 312.0, "device": "cpu (2 threads)",
                                              "source": "budget"}
    assert res["agents"]["bare"]["budget"] == {"env_steps": 123, "wall_time_s": None, "device": None,
                                               "source": "step"}
    assert res["agents"]["identity"]["budget"] is None and res["agents"]["oracle"]["budget"] is None
    report = (tmp_path / "eval" / "report.md").read_text()
    table1 = report.split("## Table 1")[1].split("## Table 2")[0]
    rows = {line.split("|")[1].strip(): line for line in table1.splitlines() if line.startswith("| ")}
    assert "| Budget |" in rows["Agent"]
    assert "4,000 env steps · 5.2 min · cpu (2 threads)" in rows["rec"]
    assert "123 env steps* · n/a · n/a" in rows["bare"]
    assert "| none |" in rows["identity"] and "| none |" in rows["oracle †"]
    board = E.leaderboard(results=res)
    assert "| Budget |" in board and "4,000 env steps" in board and "123 env steps*" in board


def test_task_stamps_and_the_task_flag(tmp_path):
    res = E.evaluate(["identity", "oracle"], "toy", dataset_kwargs=TOY, task=REACH_TASK, max_pairs=2,
                     out_dir=tmp_path, **QUIET)
    assert res["task"]["id"] == REACH_TASK and res["task"]["requested"] == REACH_TASK
    assert res["agents"]["oracle"]["task"] == REACH_TASK
    assert tuple(res["agents"]["oracle"]["env_config"]["factors"]) == TASKS[REACH_TASK]["factors"]
    assert f"Task: **{REACH_TASK}" in (tmp_path / "report.md").read_text()
    assert E.evaluate(["identity"], "toy", dataset_kwargs=TOY, max_pairs=1, **QUIET)["task"]["id"] == PAPER_TASK
    reach = _Keep(task_config(REACH_TASK, dataset="toy", dataset_kwargs=TOY))
    ok = E.evaluate({"reach": reach, "oracle": "oracle"}, "toy", dataset_kwargs=TOY, max_pairs=1, **QUIET)
    assert ok["task"]["id"] == REACH_TASK and ok["agents"]["reach"]["task"] == REACH_TASK


def test_agents_of_different_tasks_are_refused():
    reach = _Keep(task_config(REACH_TASK, dataset="toy", dataset_kwargs=TOY))
    paper = _Keep(_toy_env())
    with pytest.raises(E.TaskMismatchError, match=f"'paper' was trained on {PAPER_TASK}.*{REACH_TASK}"):
        E.evaluate({"reach": reach, "paper": paper}, "toy", dataset_kwargs=TOY, **QUIET)
    with pytest.raises(E.TaskMismatchError, match=f"--task {PAPER_TASK}"):
        E.evaluate({"reach": reach}, "toy", dataset_kwargs=TOY, task=PAPER_TASK, **QUIET)
    other_oracle = E.build_reference_agent("oracle", EnvConfig())
    with pytest.raises(E.TaskMismatchError, match="'oracle' was built for"):
        E.evaluate({"reach": reach, "oracle": other_oracle}, "toy", dataset_kwargs=TOY, **QUIET)
    with pytest.raises(ValueError, match="unknown task 'Nope-v0'"):
        E.evaluate(["identity"], "toy", dataset_kwargs=TOY, task="Nope-v0", **QUIET)
