"""Output paths: checked before the work, written whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from pixgrl.outputs import atomic_path, check_output


def test_check_output_accepts_new_paths_and_names_each_problem(tmp_path, monkeypatch):
    assert check_output(tmp_path / "new" / "deeper" / "r.json", "--out") == tmp_path / "new" / "deeper" / "r.json"
    assert check_output(tmp_path / "run", "--run-dir", "folder") == tmp_path / "run"
    (tmp_path / "f.txt").write_text("x")
    check_output(tmp_path / "f.txt", "--out")  # replacing a file is allowed unless overwrite=False
    with pytest.raises(FileExistsError, match=r"--output '.*f\.txt' exists; pass --overwrite to replace it"):
        check_output(tmp_path / "f.txt", "--output", overwrite=False, overwrite_hint="--overwrite")
    with pytest.raises(ValueError, match=r"--out '.*f\.txt' is a file, not a folder"):
        check_output(tmp_path / "f.txt", "--out", "folder")
    with pytest.raises(ValueError, match=r"--out '.*f\.txt[/\\]sub[/\\]r\.json': '.*f\.txt' is a file, not a folder"):
        check_output(tmp_path / "f.txt" / "sub" / "r.json", "--out")
    with pytest.raises(ValueError, match=r"--out '.*' is a folder, not a file"):
        check_output(tmp_path, "--out")
    with pytest.raises(ValueError, match=r"kind must be one of"):
        check_output(tmp_path, "--out", "dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_output_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(PermissionError, match=r"--out '.*ro[/\\]x': cannot write in the folder '.*ro'"):
        check_output(ro / "x", "--out", "folder")


def test_check_output_refuses_an_unwritable_folder(tmp_path, monkeypatch):
    """The same check as above with os.access answering as for a non-root user (the suite may run as root)."""
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr("pixgrl.outputs.os.access", lambda path, mode: os.path.basename(path) != "ro")
    with pytest.raises(PermissionError, match=r"cannot write in the folder '.*ro'"):
        check_output(tmp_path / "ro" / "a" / "b.png", "--out")


def test_atomic_path_replaces_on_success_only(tmp_path):
    out = tmp_path / "sub" / "volume.nii.gz"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".volume.nii.gz.") and tmp.name.endswith(".nii.gz")
        tmp.write_bytes(b"first")
    assert out.read_bytes() == b"first"
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert out.read_bytes() == b"first"
    assert [p.name for p in out.parent.iterdir()] == ["volume.nii.gz"]
