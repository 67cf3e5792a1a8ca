"""Checkpoints every agent shares: atomic writes, loading without pickle, RNG state capture.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: no code from a file someone sent you is ever executed. Keys:

- ``format``: ``"pixgrl-checkpoint-v1"``; ``agent``: the registry name of the agent (``"pixgrl"``, ``"dqn"``…);
- ``step``: environment steps (or updates) done; ``config`` / ``env_config``: the resolved configs as JSON strings;
- ``model`` (and ``target_model``, ``discriminator``… as an agent needs): ``state_dict`` s; ``optimizer``: likewise;
- ``rng``: Python, numpy and torch RNG states (see :func:`capture_rng`); trainers on :class:`agents.run.Run` also
  write ``rng_ranks`` (every process's, in rank order) and ``world_size`` (the number of processes).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "pixgrl-checkpoint-v1"


def capture_rng() -> dict[str, Any]:
    """The state of Python's, numpy's global and torch's (CPU and CUDA) generators, weights_only-loadable."""
    state = {
        "python": json.dumps(random.getstate()),
        "numpy": json.dumps(np.random.get_state(legacy=False), default=_ndarray_to_list),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng` captured."""
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = json.loads(state["numpy"])
    np_state["state"]["key"] = np.asarray(np_state["state"]["key"], dtype=np.uint32)  # MT19937 key: a uint32 array
    np.random.set_state(np_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, agent: str, step: int, config: Any, env_config: Any,
                    **states: Any) -> Path:
    """Write a checkpoint atomically: to a temporary file in the same folder, fsync'ed, then renamed over ``path``.

    A crash during the write leaves the previous checkpoint intact.

    Args:
        path: Destination file (``.pt``).
        agent: Registry name of the agent.
        step: Progress counter to resume from.
        config, env_config: Dataclasses (or dicts) of the agent's and the env's resolved configs.
        **states: ``model=...``, ``optimizer=...``, ``rng=capture_rng()``, any weights_only-safe values.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "agent": agent, "step": int(step), "config": _to_json(config),
               "env_config": _to_json(env_config), **states}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; ``config``/``env_config`` come back as dicts.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a pixgrl checkpoint (or holds objects that need unpickling).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError or RuntimeError for foreign/corrupt files
        raise ValueError(f"{path} is not a loadable pixgrl checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pixgrl checkpoint (expected format {FORMAT!r})")
    ckpt["config"] = json.loads(ckpt["config"])
    ckpt["env_config"] = json.loads(ckpt["env_config"])
    return ckpt


def _ndarray_to_list(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot serialise {type(x).__name__} to JSON")


def _to_json(config: Any) -> str:
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    elif hasattr(config, "__dataclass_fields__"):
        import dataclasses

        config = dataclasses.asdict(config)
    return json.dumps(config, sort_keys=True, default=str)
