"""The ``pixgrl`` command line: input errors are one line on stderr, exit status 2, no traceback, and they come
before any long computation."""

from __future__ import annotations

import os
import re

import pytest

from pixgrl.cli import main
from pixgrl_env.data.nifti import sample_data_dir

SAMPLE_INPUT = sample_data_dir("breast_dce") / "dcemri-jl-invivo" / "input.nii.gz"


def _error(argv: list[str], capsys) -> str:
    """Run ``pixgrl argv``; return its one-line stderr after checking the exit status and the absent traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize("argv, expected", [
    (["train", "--set", "lr=abc"], r"^pixgrl train: error: --set lr=abc: lr must be a number > 0 and finite, got 'abc'$"),
    (["train", "--set", "total_steps=10", "--set", "lr=abc"], r"^pixgrl train: error: --set lr=abc: lr must be"),
    (["train", "--set", "nonexistent=1"], r"--set nonexistent=1: there is no field 'nonexistent'; `pixgrl train "
                                          r"--agent pixgrl --list-config` lists the fields"),
    (["train", "--set", "lrr=0.1"], r"there is no field 'lrr' \(did you mean 'lr'\?\)"),
    (["train", "--env", "crop=abc"], r"--env crop=abc: crop must be an int >= 1 or None, got 'abc'"),
    (["train", "--env", "sizee=64"], r"--env sizee=64: there is no field 'sizee'; the EnvConfig fields are \["),
    (["train", "--set", "device=tpu"], r"--set device=tpu: 'tpu' is not a device; expected 'auto', 'cpu', 'cuda'"),
    (["evaluate", "identity", "--device", "tpu", "--out", "{tmp}/e"],
     r"^pixgrl evaluate: error: --device: 'tpu' is not a device; expected 'auto', 'cpu', 'cuda' or 'cuda:N'$"),
    (["evaluate", "identity", "--dataset-kwargs", '{"sizee": 64}', "--out", "{tmp}/e", "--quiet"],
     r"dataset 'phantom' \(PhantomDataset\) has no argument 'sizee' \(did you mean 'size'\?\); its arguments are "
     r"\[.*'size'"),
    (["evaluate", "identity", "--out", "{tmp}/a_file/e"], r"--out '.*a_file[/\\]e': '.*a_file' is a file, not a folder"),
    (["train", "--run-dir", "{tmp}/a_file"], r"--run-dir '.*a_file' is a file, not a folder"),
    (["synthesize", "identity", "--input", str(SAMPLE_INPUT), "--output", "{tmp}/a_file/b.nii.gz"],
     r"^pixgrl synthesize: error: --output '.*a_file[/\\]b\.nii\.gz': '.*a_file' is a file, not a folder$"),
    (["synthesize", "identity", "--input", str(SAMPLE_INPUT), "--output", "{tmp}/old.nii.gz"],
     r"--output '.*old\.nii\.gz' exists; pass --overwrite to replace it$"),
    (["data", "preview", "--set", "sizee=3", "--out", "{tmp}/p.png"],
     r"^pixgrl data preview: error: dataset 'phantom' \(PhantomDataset\) has no argument 'sizee'"),
])
def test_input_errors_are_one_line(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written outside tmp_path
    (tmp_path / "a_file").write_text("a file")
    (tmp_path / "old.nii.gz").write_bytes(b"previous result")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert re.search(expected, _error(argv, capsys))
    assert (tmp_path / "old.nii.gz").read_bytes() == b"previous result"


def test_unwritable_output_folder_fails_before_the_computation(tmp_path, capsys, monkeypatch):
    import pixgrl.evaluation

    def no_computation(*args, **kwargs):
        raise AssertionError("the output folder should have been checked before the computation")

    monkeypatch.setattr(pixgrl.evaluation.commands, "evaluate", no_computation)
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr("pixgrl.outputs.os.access", lambda path, mode: os.path.basename(path) != "ro")  # as non-root
    err = _error(["evaluate", "identity", "--out", str(tmp_path / "ro" / "eval")], capsys)
    assert err == f"pixgrl evaluate: error: --out '{tmp_path / 'ro' / 'eval'}': cannot write in the folder " \
                  f"'{tmp_path / 'ro'}'"


def test_export_refuses_existing_patients_naming_the_flag(tmp_path, capsys):
    argv = ["data", "export-nifti", "--out", str(tmp_path), "--n-patients", "1", "--set", "size=32",
            "--set", "n_patients=2", "--set", "slices_per_patient=1"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    (written,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    before = sorted(p.name for p in written.iterdir())
    capsys.readouterr()
    err = _error(argv, capsys)
    assert f"--out '{tmp_path}' already holds the patient folders ['{written.name}']; pass --overwrite" in err
    assert sorted(p.name for p in written.iterdir()) == before


def test_debug_shows_the_traceback(capsys, monkeypatch):
    with pytest.raises(ValueError, match=r"--set lr=abc: lr must be"):
        main(["--debug", "train", "--set", "lr=abc"])
    monkeypatch.setenv("PIXGRL_DEBUG", "1")
    with pytest.raises(ValueError, match=r"--set lr=abc"):
        main(["train", "--set", "lr=abc"])
