"""Tests of pixgrl.synthesis: NIfTI in, agent slice by slice, NIfTI out with the input's geometry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from agents.base import Agent
from baselines import reference
from pixgrl_env.config import EnvConfig
from pixgrl_env.data.base import DataError
from pixgrl_env.data.nifti import sample_data_dir
from pixgrl.synthesis import register_cli, synthesize_volume, window_scale

SAMPLE = sample_data_dir("breast_dce") / "dcemri-jl-invivo"


def _same_geometry(a_path, b_path) -> None:
    a, b = nib.load(str(a_path)), nib.load(str(b_path))
    assert b.shape == a.shape
    np.testing.assert_allclose(b.affine, a.affine, rtol=0, atol=1e-6)
    assert nib.aff2axcodes(b.affine) == nib.aff2axcodes(a.affine)
    for key in ("sform_code", "qform_code", "xyzt_units", "dim"):
        assert np.array_equal(b.header[key], a.header[key]), key
    np.testing.assert_allclose(b.header.get_zooms(), a.header.get_zooms())
    np.testing.assert_allclose(b.get_qform(), a.get_qform(), atol=1e-5)
    assert b.header.get_data_dtype() == np.float32


def _read(path) -> np.ndarray:
    return nib.load(str(path)).get_fdata(dtype=np.float64)


@pytest.mark.parametrize("normalization", ["independent", "joint"])
def test_identity_round_trips_the_real_sample(tmp_path, normalization):
    out = tmp_path / "synth.nii.gz"
    info = synthesize_volume("identity", SAMPLE / "input.nii.gz", out, normalization=normalization,
                             target=SAMPLE / "target.nii.gz", device="cpu", progress=False)
    _same_geometry(SAMPLE / "input.nii.gz", out)
    x, y = _read(SAMPLE / "input.nii.gz"), _read(out)
    s = info["scale"]
    ref = np.clip(x, 0, s)  # the documented window: above s the input saturates at s
    np.testing.assert_allclose(y, ref, rtol=2e-7, atol=0)
    inside = x <= s
    np.testing.assert_allclose(y[inside], x[inside], rtol=2e-7, atol=0)
    assert info["n_clipped_high"] == int((x > s).sum())
    expected = window_scale(x if normalization == "independent" else _read(SAMPLE / "target.nii.gz"), 99.5)
    assert s == pytest.approx(expected)


def test_identity_exact_with_full_window(tmp_path):
    out = tmp_path / "synth.nii"
    synthesize_volume("identity", SAMPLE / "input.nii.gz", out, normalization="independent", percentile=100,
                      device="cpu", progress=False)
    np.testing.assert_allclose(_read(out), _read(SAMPLE / "input.nii.gz"), rtol=2e-7, atol=0)


class _Brighten(Agent):
    """×1.05 on every pixel at every step."""

    def act(self, obs, deterministic=True):
        return torch.full((obs.shape[0], *obs.shape[2:]), 2, dtype=torch.long, device=obs.device)


def _volume(tmp_path, shape=(24, 20, 5), name="input.nii.gz"):
    rng = np.random.default_rng(0)
    vol = rng.uniform(0, 1000, size=shape).astype(np.float32)
    affine = np.array([[0, -0.8, 0, 40.0], [1.2, 0, 0.1, -12.0], [0, 0, 3.0, 7.5], [0, 0, 0, 1]])
    img = nib.Nifti1Image(vol, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=2)
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / name
    nib.save(img, str(path))
    return path, vol


@pytest.mark.parametrize("shape", [(24, 20, 5), (24, 20), (24, 20, 3, 1)])
def test_scaled_back_agent_output_and_geometry(tmp_path, shape):
    """A non-trivial agent, batches that do not divide the slices, rotated affine, 2-D/3-D/trailing-1 shapes."""
    path, vol = _volume(tmp_path, shape)
    out = tmp_path / "out" / "synth.nii.gz"
    agent = _Brighten(EnvConfig())
    info = synthesize_volume(agent, path, out, normalization="independent", batch_size=2, progress=False)
    _same_geometry(path, out)
    s = window_scale(vol, 99.5)
    x = torch.from_numpy(np.clip(vol.astype(np.float64) / s, 0, 1).astype(np.float32))
    for _ in range(5):
        x = (x * torch.tensor(1.05, dtype=torch.float32)).clamp(0, 1)
    np.testing.assert_allclose(_read(out), x.double().numpy() * s, rtol=1e-6)
    assert info["n_slices"] == (shape[2] if len(shape) > 2 else 1)


def test_oracle_needs_the_target_and_moves_towards_it(tmp_path):
    out = tmp_path / "o.nii.gz"
    with pytest.raises(ValueError, match="target"):
        synthesize_volume("oracle", SAMPLE / "input.nii.gz", out, normalization="independent", progress=False)
    synthesize_volume("oracle", SAMPLE / "input.nii.gz", out, normalization="joint",
                      target=SAMPLE / "target.nii.gz", progress=False)
    x, y, t = _read(SAMPLE / "input.nii.gz"), _read(out), _read(SAMPLE / "target.nii.gz")
    assert np.mean((y - t) ** 2) < np.mean((x - t) ** 2)


def test_checkpoint_spec_and_defaults_from_training(tmp_path):
    env = EnvConfig(dataset="nifti", dataset_kwargs={"root": "x", "normalization": "independent",
                                                     "percentile": 99.0})
    reference.train(reference.Config(model="identity"), env, tmp_path / "run")
    info = synthesize_volume(str(tmp_path / "run"), SAMPLE / "input.nii.gz", tmp_path / "s.nii.gz", progress=False)
    assert info["normalization"] == "independent" and info["percentile"] == 99.0
    assert info["scale"] == pytest.approx(window_scale(_read(SAMPLE / "input.nii.gz"), 99.0))


def test_errors_name_the_problem(tmp_path):
    inp = SAMPLE / "input.nii.gz"
    with pytest.raises(ValueError, match="joint"):
        synthesize_volume("identity", inp, tmp_path / "a.nii.gz", normalization="joint", progress=False)
    with pytest.raises(ValueError, match="is the input file"):
        synthesize_volume("identity", inp, inp, normalization="independent", progress=False)
    with pytest.raises(ValueError, match="out.png"):
        synthesize_volume("identity", inp, tmp_path / "out.png", progress=False)
    with pytest.raises(FileNotFoundError, match="nope.nii.gz"):
        synthesize_volume("identity", tmp_path / "nope.nii.gz", tmp_path / "a.nii.gz", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        synthesize_volume("identity", inp, tmp_path / "a.nii.gz", batch_size=0, progress=False)
    with pytest.raises(ValueError, match="scale"):
        synthesize_volume("identity", inp, tmp_path / "a.nii.gz", scale=-1.0, progress=False)
    other, _ = _volume(tmp_path, (10, 10, 2), "other.nii.gz")
    with pytest.raises(DataError, match="registered"):
        synthesize_volume("identity", inp, tmp_path / "a.nii.gz", target=other, progress=False)
    series, _ = _volume(tmp_path, (10, 10, 2, 3), "series.nii.gz")
    with pytest.raises(DataError, match="4-D"):
        synthesize_volume("identity", series, tmp_path / "a.nii.gz", normalization="independent", progress=False)
    (tmp_path / "exists.nii.gz").write_bytes(b"")
    with pytest.raises(FileExistsError, match="exists"):
        synthesize_volume("identity", inp, tmp_path / "exists.nii.gz", normalization="independent",
                          overwrite=False, progress=False)


def test_corrupt_gzip_input_raises_naming_the_file(tmp_path):
    data = bytearray((SAMPLE / "input.nii.gz").read_bytes())
    data[len(data) // 2] ^= 0x10  # one flipped bit in the deflate data
    (tmp_path / "bad.nii.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"bad\.nii\.gz: cannot read voxel data: the gzip stream is corrupt"):
        synthesize_volume("identity", tmp_path / "bad.nii.gz", tmp_path / "out.nii.gz",
                          normalization="independent", progress=False)
    assert not (tmp_path / "out.nii.gz").exists()


def _synthesize(out, **kwargs):
    return synthesize_volume("identity", SAMPLE / "input.nii.gz", out, normalization="independent", progress=False,
                             **kwargs)


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "o.nii.gz"
    out.write_bytes(b"previous result")
    with pytest.raises(FileExistsError, match=r"o\.nii\.gz' exists; pass overwrite=True"):
        _synthesize(out)
    assert out.read_bytes() == b"previous result"
    _synthesize(out, overwrite=True)
    _same_geometry(SAMPLE / "input.nii.gz", out)


def test_interrupted_write_leaves_the_previous_output(tmp_path, monkeypatch):
    import pixgrl.synthesis as synthesis

    out = tmp_path / "o.nii.gz"
    _synthesize(out)
    before = out.read_bytes()

    def killed_mid_write(img, path):
        with open(path, "wb") as f:
            f.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(synthesis.nib, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        _synthesize(out, overwrite=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.nii.gz"]  # no temporary file left behind


def test_unwritable_output_fails_before_the_computation(tmp_path, monkeypatch):
    import pixgrl.outputs

    def no_computation(*args, **kwargs):
        raise AssertionError("the output should have been checked before the computation")

    monkeypatch.setattr("pixgrl.evaluation.run_trajectory", no_computation)
    (tmp_path / "a").write_text("a file")
    with pytest.raises(ValueError, match=r"a/b\.nii\.gz'.*'.*a' is a file, not a folder"):
        _synthesize(tmp_path / "a" / "b.nii.gz")
    (tmp_path / "dir.nii.gz").mkdir()
    with pytest.raises(ValueError, match=r"dir\.nii\.gz' is a folder"):
        _synthesize(tmp_path / "dir.nii.gz", overwrite=True)
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(pixgrl.outputs.os, "access", lambda path, mode: Path(path).name != "ro")  # we run as root
    with pytest.raises(PermissionError, match=r"cannot write in the folder '.*ro'"):
        _synthesize(tmp_path / "ro" / "deeper" / "o.nii.gz")


def test_cli_refuses_to_overwrite_naming_the_flag(tmp_path):
    parser = argparse.ArgumentParser(prog="pixgrl")
    register_cli(parser.add_subparsers())
    out = tmp_path / "o.nii.gz"
    out.write_bytes(b"previous result")
    argv = ["synthesize", "identity", "--input", str(SAMPLE / "input.nii.gz"), "--output", str(out),
            "--normalization", "independent", "--quiet"]
    args = parser.parse_args(argv)
    with pytest.raises(FileExistsError, match=r"--output '.*o\.nii\.gz' exists; pass --overwrite to replace it"):
        args.func(args)
    args = parser.parse_args([*argv, "--overwrite"])
    assert args.func(args) == 0 and out.read_bytes() != b"previous result"


def test_cli(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="pixgrl")
    register_cli(parser.add_subparsers())
    out = tmp_path / "cli.nii.gz"
    args = parser.parse_args(["synthesize", "identity", "--input", str(SAMPLE / "input.nii.gz"), "--output",
                              str(out), "--normalization", "independent", "--batch-size", "4", "--device", "cpu",
                              "--quiet"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out)
    _same_geometry(SAMPLE / "input.nii.gz", out)
    with pytest.raises(SystemExit):
        parser.parse_args(["synthesize", "identity", "--input", "a.nii", "--output", "b.nii", "--extra", "t2"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tmp_path):
    path, _ = _volume(tmp_path)
    outs = []
    for dev in ("cpu", "cuda"):
        agent = _Brighten(EnvConfig(), device=dev)
        outs.append(tmp_path / f"{dev}.nii.gz")
        synthesize_volume(agent, path, outs[-1], normalization="independent", device=dev, progress=False)
    np.testing.assert_allclose(_read(outs[1]), _read(outs[0]), rtol=1e-6)
