"""A run's device is the one asked for, or a one-line error naming the field; only "auto" chooses, and the env's device
is checked too, never moved silently to the run's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agents import a2c
from agents.run import Run
from agents.training import check_env_device, resolve_device
from command_lines import last_line, pixgrl, trainer
from pixgrl_env.config import EnvConfig


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the messages of a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_naming_the_device(tmp_path: Path, capsys) -> None:
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ValueError) as info:
            resolve_device(device)
        assert str(info.value) == f"device={device!r} requested but CUDA is not available; use 'cpu' or 'auto'"
        with pytest.raises(ValueError, match=f"device={device!r} requested but CUDA is not available"):
            Run("pixgrl", a2c.Config(), EnvConfig(dataset="toy"), tmp_path / "r", total=1, seed=0, device=device)
    assert trainer("--run-dir", str(tmp_path / "a"), "--device", "cuda", "--env", "dataset=toy") == 2
    err = capsys.readouterr().err
    assert last_line(err) == ("python -m agents.a2c: error: device='cuda' requested but CUDA is not available; use "
                              "'cpu' or 'auto'") and err.count("\n") == 1
    assert pixgrl("train", "--run-dir", str(tmp_path / "b"), "--set", "device=cuda", "--env", "dataset=toy") == 2
    assert "device='cuda'" in capsys.readouterr().err
    # The env config's device is checked too, not replaced by the run's CPU.
    assert trainer("--run-dir", str(tmp_path / "c"), "--device", "cpu", "--env", "device=cuda") == 2
    assert "device='cuda' but CUDA is not available" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in "abc") and not (tmp_path / "r").exists()


def test_unknown_and_conflicting_devices_are_refused(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="device='tpu' is not a torch device"):
        resolve_device("tpu")
    assert trainer("--run-dir", str(tmp_path / "a"), "--device", "tpu") == 2
    err = capsys.readouterr().err
    assert "device='tpu' is not a torch device" in err and err.count("\n") == 1
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    # An env config asking for another accelerator than the run's is refused, not moved to the run's device.
    check_env_device(EnvConfig(device="cpu"), torch.device("cpu"))
    with pytest.raises(ValueError, match="the env's device='meta' differs from the run's device 'cpu'"):
        check_env_device(EnvConfig(device="meta"), torch.device("cpu"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_devices_are_used_as_asked(tmp_path: Path) -> None:
    count = torch.cuda.device_count()
    with pytest.raises(ValueError, match=f"device='cuda:{count}' but this machine has {count} CUDA device"):
        resolve_device(f"cuda:{count}")
    assert resolve_device("auto").type == "cuda" and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="the env's device='cuda' differs from the run's device 'cpu'"):
        check_env_device(EnvConfig(device="cuda"), torch.device("cpu"))
    check_env_device(EnvConfig(device="cuda"), torch.device("cuda", 0))
    with Run("pixgrl", a2c.Config(), EnvConfig(dataset="toy"), tmp_path, total=1, seed=0, device="cuda") as run:
        assert run.device.type == "cuda" and run.budget()["device"] == torch.cuda.get_device_name(run.device)
