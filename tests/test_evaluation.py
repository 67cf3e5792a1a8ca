"""Tests of the scripted evaluation (pixgrl.evaluation) and its report (pixgrl.report)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import matplotlib.image
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from baselines.reference import IdentityAgent
from pixgrl import evaluation as E
from pixgrl import metrics as M
from pixgrl_env.config import EnvConfig
from pixgrl_env.data import Pair, PairDataset, make_dataset, split_dataset
from pixgrl.report import TABLE1, TABLE2

TOY = {"n_patients": 10, "size": 32}


def _toy_env(**kw) -> EnvConfig:
    return EnvConfig(dataset="toy", dataset_kwargs=TOY, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two agents trained for a few steps on toy data: the Pix-GRL A2C agent and the supervised U-Net."""
    root = tmp_path_factory.mktemp("runs")
    from agents import a2c
    from baselines import supervised

    a2c.train(a2c.Config.preset("quick", num_envs=2, total_steps=10, eval_pairs=0, checkpoint_every=0,
                                device="cpu", net_kwargs={"conv_channels": 8, "graph_channels": 8}),
              _toy_env(), root / "a2c")
    supervised.train(supervised.Config.preset("quick", steps=2, width=8, levels=2, batch_size=2, eval_every=0,
                                              eval_pairs=1, checkpoint_every=2, device="cpu"),
                     _toy_env(), root / "unet")
    return {"pixgrl": root / "a2c" / "checkpoint.pt", "unet": root / "unet" / "checkpoint.pt"}


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    specs = [str(trained["pixgrl"]), f"unet={trained['unet']}", "identity", "oracle"]
    res = E.evaluate(specs, "toy", dataset_kwargs=TOY, out_dir=out, device="cpu", progress=False, n_examples=2)
    return res, out


AGENTS = ["pixgrl", "unet", "identity", "oracle"]


# ----------------------------------------------------------------------------------------------------------------
# End to end
# ----------------------------------------------------------------------------------------------------------------
def test_outputs_contain_every_agent_and_metric(evaluated):
    res, out = evaluated
    assert list(res["agents"]) == AGENTS
    data = E.load_results(out)
    assert data["format"] == E.FORMAT
    for key in ("pixgrl", "torch", "gymnasium", "numpy", "skimage"):
        assert data["versions"][key]
    assert data["device"]["device"] == "cpu"
    assert data["agents"]["pixgrl"]["env_config"]["dataset"] == "toy"
    assert data["agents"]["pixgrl"]["config"]["backbone"] == "graph"
    n = data["dataset"]["n_pairs"]
    assert n == len(split_dataset(make_dataset("toy", **TOY), "test", 0, 5))
    assert len(data["rows"]) == n * len(AGENTS)
    for agent in AGENTS:
        assert set(M.METRIC_NAMES) <= set(data["aggregates"][agent])
        assert set(M.DATASET_METRIC_NAMES) <= set(data["dataset_metrics"][agent])
    report = (out / "report.md").read_text()
    for name in [*AGENTS, *M.METRIC_NAMES, *M.DATASET_METRIC_NAMES, "Pix-GRL (paper)"]:
        assert name in report, name
    for _, header, _, _ in (*TABLE1, *TABLE2):
        assert header in report
    assert set(data["figures"]) == {"examples.png", "ssim_distribution.png", "step_curves.png"}
    for fig in data["figures"]:
        img = matplotlib.image.imread(out / fig)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        assert f"]({fig})" in report
    assert (out / "lesion_classifier.json").is_file()
    M.LesionClassifier.load(out / "lesion_classifier.json")


def test_results_json_is_strict(evaluated):
    _, out = evaluated

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    json.loads((out / "results.json").read_text(), parse_constant=refuse)


def test_reference_agents_bracket_the_task(evaluated):
    """Identity = the input (its SSIM is SSIM(input, target)); the oracle is never worse than the identity."""
    res, _ = evaluated
    data = make_dataset("toy", **TOY)
    rows = {(r["agent"], r["index"]): r for r in res["rows"]}
    for r in res["rows"]:
        if r["agent"] != "identity":
            continue
        pair = data[r["dataset_index"]]
        assert r["ssim"] == pytest.approx(M.ssim(pair.input, pair.target), abs=1e-9)
        oracle = rows[("oracle", r["index"])]
        assert oracle["ssim"] >= r["ssim"] - 1e-9 and oracle["psnr"] >= r["psnr"] - 1e-9


def test_curves_from_trajectories(evaluated):
    res, _ = evaluated
    curves = res["curves"]
    assert len(curves["pixgrl"]["ssim"]) == 6  # T = 5 steps: s_0 … s_5
    assert len(curves["unet"]["ssim"]) == 2  # one-shot: input, output
    s0 = curves["identity"]["ssim"][0]
    for agent in AGENTS:
        assert curves[agent]["ssim"][0] == pytest.approx(s0)  # every trajectory starts at the input
        assert curves[agent]["ssim"][-1] == pytest.approx(res["aggregates"][agent]["ssim"]["mean"])
    assert curves["oracle"]["mse"][-1] <= curves["oracle"]["mse"][0]


def test_aggregates_match_rows(evaluated):
    res, _ = evaluated
    vals = [r["psnr"] for r in res["rows"] if r["agent"] == "unet"]
    agg = res["aggregates"]["unet"]["psnr"]
    assert agg["mean"] == pytest.approx(np.mean(vals)) and agg["std"] == pytest.approx(np.std(vals))
    assert agg["n"] == len(vals)


# ----------------------------------------------------------------------------------------------------------------
# Agents, splits, validation
# ----------------------------------------------------------------------------------------------------------------
def test_agent_objects_entry_points_and_labels(tmp_path):
    res = E.evaluate({"mine": IdentityAgent(_toy_env())}, "toy", dataset_kwargs=TOY, max_pairs=1, device="cpu",
                     progress=False, figures=False, classifier=None)
    assert list(res["agents"]) == ["mine"]
    ras = E.resolve_agents(["baselines.reference:IdentityAgent", "identity", "identity"], "cpu")
    assert [r.name for r in ras] == ["IdentityAgent", "identity", "identity-2"]


class _WithCleanTarget(PairDataset):
    """The toy pairs with a noise-free target: the target smoothed (a stand-in for the phantom's)."""

    def __init__(self) -> None:
        self.base = make_dataset("toy", **TOY)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Pair:
        pair = self.base[index]
        clean = gaussian_filter(pair.target, 1.0).astype(np.float32)
        return dataclasses.replace(pair, target_clean=clean)

    def item_index(self) -> list[tuple[str, int]]:
        return self.base.item_index()


@pytest.mark.skipif("target_clean" not in {f.name for f in dataclasses.fields(Pair)},
                    reason="Pair has no target_clean field")
def test_noise_free_metrics_reach_results_and_report(tmp_path):
    from pixgrl.report import CLEAN_NOTE, TABLE1_CLEAN

    data = _WithCleanTarget()
    res = E.evaluate(["identity"], data, out_dir=tmp_path, device="cpu", progress=False, figures=False,
                     classifier=None)
    assert res["metric_names"] == [*M.METRIC_NAMES, "ssim_clean", "psnr_clean"]
    for r in res["rows"]:  # the identity's synthesis is its input
        pair = data[r["dataset_index"]]
        assert r["ssim_clean"] == pytest.approx(structural_similarity(
            pair.input.astype(np.float64), pair.target_clean.astype(np.float64), data_range=1.0))
    agg = E.load_results(tmp_path)["aggregates"]["identity"]["ssim_clean"]
    assert agg["mean"] == pytest.approx(np.mean([r["ssim_clean"] for r in res["rows"]]))
    assert agg["n"] == len(res["rows"])
    report = (tmp_path / "report.md").read_text()
    assert CLEAN_NOTE in report and all(header in report for _, header, _, _ in TABLE1_CLEAN)
    assert "`ssim_clean`" in report
    assert E.rank(res, "psnr_clean")[0][0] == "identity"
    plain = E.evaluate(["identity"], "toy", dataset_kwargs=TOY, device="cpu", progress=False, figures=False,
                       classifier=None, max_pairs=1)
    assert "ssim_clean" not in plain["aggregates"]["identity"] and plain["metric_names"] == list(M.METRIC_NAMES)


def test_split_mismatch_is_flagged(trained):
    res = E.evaluate([str(trained["pixgrl"])], "toy", dataset_kwargs=TOY, fold=1, max_pairs=1, device="cpu",
                     progress=False, figures=False, classifier=None)
    assert any("pixgrl" in w and "fold=1" in w for w in res["warnings"])
    res = E.evaluate([str(trained["pixgrl"])], None, fold=0, max_pairs=1, device="cpu", progress=False,
                     figures=False, classifier=None)
    assert res["dataset"]["name"] == "toy" and res["warnings"] == []


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "valid"}, "'valid'"),
    ({"fold": 5}, "fold"),
    ({"max_pairs": 0}, "max_pairs"),
    ({"batch_size": 0}, "batch_size"),
    ({"classifier": "missing.json"}, "missing.json"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        E.evaluate(["identity"], "toy", dataset_kwargs=TOY, progress=False, device="cpu", **kwargs)


def test_bad_agent_specs():
    with pytest.raises(ValueError, match="no/such/ckpt.pt"):
        E.resolve_agent("no/such/ckpt.pt")
    with pytest.raises(ValueError, match="no_such_module"):
        E.resolve_agent("no_such_module:make")
    with pytest.raises(ValueError, match="empty"):
        E.resolve_agents([])


# ----------------------------------------------------------------------------------------------------------------
# Leaderboard and cross-validation
# ----------------------------------------------------------------------------------------------------------------
def test_leaderboard(evaluated):
    res, out = evaluated
    ranked = E.rank(res, "ssim")
    means = [m for _, m, _, _ in ranked]
    assert means == sorted(means, reverse=True) and ranked[0][0] == "oracle"
    nrmse = [m for _, m, _, _ in E.rank(res, "nrmse")]
    assert nrmse == sorted(nrmse)  # lower is better
    table = E.leaderboard(results=out, metric="psnr", out_dir=out)
    assert (out / "leaderboard.md").read_text() == table
    for agent in AGENTS:
        assert f"| {agent} |" in table
    assert "ceiling" in table
    with pytest.raises(ValueError, match="size_ref_mm2"):
        E.rank(res, "size_ref_mm2")
    with pytest.raises(ValueError, match="exactly one"):
        E.leaderboard()


def test_combine_folds_hand_made():
    def fold(ssim_a, ssim_b, pcc_a):
        return {"aggregates": {"a": {"ssim": {"mean": ssim_a, "std": 0.1, "n": 4}},
                               "b": {"ssim": {"mean": ssim_b, "std": 0.2, "n": 4}}},
                "dataset_metrics": {"a": {"size_pcc": pcc_a, "diag_n": 3.0}, "b": {"size_pcc": 0.5}}}

    combined = E.combine_folds([fold(0.6, 0.7, 0.9), fold(0.8, 0.7, math.nan), fold(0.7, 0.4, 0.5)])
    a = combined["a"]["ssim"]
    assert a["mean"] == pytest.approx(0.7) and a["std"] == pytest.approx(np.std([0.6, 0.8, 0.7]))
    assert a["n_folds"] == 3 and a["folds"] == [0.6, 0.8, 0.7]
    assert combined["b"]["ssim"]["mean"] == pytest.approx(0.6)
    pcc = combined["a"]["size_pcc"]  # NaN folds are skipped
    assert pcc["mean"] == pytest.approx(0.7) and pcc["std"] == pytest.approx(0.2) and pcc["n_folds"] == 2
    assert "diag_n" not in combined["a"]
    with pytest.raises(ValueError, match="fold 1"):
        E.combine_folds([fold(0.1, 0.2, 0.3), {"aggregates": {"a": {}}}])


def test_cross_validate(tmp_path):
    calls = []

    def train_fn(fold, n_folds, run_dir):
        calls.append((fold, n_folds))
        return {"keep": IdentityAgent(_toy_env(fold=fold, n_folds=n_folds))}

    cv = E.cross_validate(train_fn, 2, dataset="toy", dataset_kwargs=TOY, out_dir=tmp_path, device="cpu",
                          max_pairs=2, figures=False, classifier=None, progress=False)
    assert calls == [(0, 2), (1, 2)]
    per_fold = [r["aggregates"]["keep"]["ssim"]["mean"] for r in cv["fold_results"]]
    assert cv["combined"]["keep"]["ssim"]["mean"] == pytest.approx(np.mean(per_fold))
    assert cv["combined"]["keep"]["ssim"]["std"] == pytest.approx(np.std(per_fold))
    assert (tmp_path / "cv.md").is_file() and (tmp_path / "fold1" / "results.json").is_file()
    assert json.loads((tmp_path / "cv.json").read_text())["k"] == 2
    with pytest.raises(ValueError, match="fold"):
        E.cross_validate(["identity"], 2, fold=0)


def test_fold_trainer_trains_on_each_folds_train_split(tmp_path):
    from baselines import reference

    train_fn = E.fold_trainer("identity", reference.Config(model="identity"), _toy_env())
    cv = E.cross_validate(train_fn, 2, dataset="toy", dataset_kwargs=TOY, out_dir=tmp_path, device="cpu",
                          max_pairs=1, figures=False, classifier=None, progress=False)
    for f in (0, 1):
        env = json.loads((tmp_path / f"fold{f}" / "train" / "config.json").read_text())["env_config"]
        assert (env["split"], env["fold"], env["n_folds"]) == ("train", f, 2)
    assert cv["warnings"] == []
    with pytest.raises(ValueError, match="out_dir"):
        E.cross_validate(train_fn, 2, dataset="toy", dataset_kwargs=TOY, progress=False)


def test_cli(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="pixgrl")
    sub = parser.add_subparsers()
    E.register_cli(sub)
    args = parser.parse_args(["evaluate", "identity", "oracle", "--dataset", "toy", "--dataset-kwargs",
                              json.dumps(TOY), "--out", str(tmp_path), "--max-pairs", "2", "--device", "cpu",
                              "--leaderboard", "--no-figures", "--quiet"])
    assert args.func(args) == 0
    assert (tmp_path / "results.json").is_file() and (tmp_path / "leaderboard.md").is_file()
    assert "oracle" in capsys.readouterr().out
    args = parser.parse_args(["evaluate", "identity", "--dataset", "toy", "--dataset-kwargs", json.dumps(TOY),
                              "--out", str(tmp_path / "cv"), "--cv", "2", "--max-pairs", "1", "--device", "cpu",
                              "--no-figures", "--classifier", "none", "--quiet"])
    assert args.func(args) == 0 and (tmp_path / "cv" / "cv.md").is_file()
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "identity", "--out", "x", "--dataset-kwargs", "{size: 1}"])
