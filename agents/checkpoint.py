"""Checkpoints every agent shares: atomic writes, loading without pickle, RNG state capture.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: no code from a file someone sent you is ever executed. Keys:

- ``format``: ``"pixgrl-checkpoint-v1"``; ``agent``: the registry name of the agent (``"pixgrl"``, ``"dqn"``…);
- ``step``: environment steps (or updates) done; ``config`` / ``env_config``: the resolved configs as JSON strings;
- ``model`` (and ``target_model``, ``discriminator``… as an agent needs): ``state_dict`` s; ``optimizer``: likewise;
- ``rng``: Python, numpy and torch RNG states (see :func:`capture_rng`); trainers on :class:`agents.run.Run` also
  write ``rng_ranks`` (every process's, in rank order) and ``world_size`` (the number of processes);
- ``budget``: what the training cost, ``{"env_steps": int, "wall_time_s": float, "device": str}``: image-steps of
  the env (0 for trainers that never step it), wall time summed over every resumed part of the run, and the device
  it ran on (``"cpu (2 threads)"``, ``"NVIDIA H200"``, ``"4 × NVIDIA H200"``; :func:`agents.training.describe_device`);
- ``phantom_version``: :data:`pixgrl_env.data.phantom.PHANTOM_VERSION` when the env's dataset is the phantom, else
  None; ``task``: the registered task id of the env config (:func:`pixgrl_env.tasks.task_of`), or None;
- ``best`` (trainers on :class:`agents.run.Run` with periodic evals): the best quick eval so far, ``{"ssim", "step",
  "pairs"}`` (validation SSIM of greedy synthesis on that many validation pairs, at that step), or None. A run's
  ``best.pt`` holds the model of that eval, with ``best`` and, once the run has finished, the whole run's budget.

``run_dir/config.json`` (:func:`agents.training.write_config`) holds the same configs and stamps as JSON.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from pixgrl_env.config import EnvConfig
from pixgrl_env.data.phantom.version import PHANTOM_VERSION
from pixgrl_env.tasks import task_of

FORMAT = "pixgrl-checkpoint-v1"
#: The checkpoint's file name in a run folder.
CHECKPOINT = "checkpoint.pt"
#: The file name of a run's best checkpoint by validation SSIM (:class:`agents.run.Run`).
BEST = "best.pt"
#: The keys :func:`save_checkpoint` writes itself; a checkpoint's other keys are the trainer's states.
STAMPS = frozenset({"format", "agent", "step", "config", "env_config", "budget", "phantom_version", "task"})
#: The keys of a checkpoint's ``budget``.
BUDGET_KEYS = ("env_steps", "wall_time_s", "device")


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


def provenance(env_config: EnvConfig) -> dict[str, str | None]:
    """``{"phantom_version": ..., "task": ...}`` of ``env_config`` (see the module docstring)."""
    return {"phantom_version": PHANTOM_VERSION if env_config.dataset == "phantom" else None,
            "task": task_of(env_config)}


def check_budget(budget: Mapping[str, Any]) -> dict[str, Any]:
    """``budget`` as a plain dict with exactly :data:`BUDGET_KEYS`: ``env_steps`` an int >= 0, ``wall_time_s`` a
    finite float >= 0, ``device`` a string; else ``ValueError`` naming the key."""
    if set(budget) != set(BUDGET_KEYS):
        raise ValueError(f"budget must have the keys {BUDGET_KEYS}, got {sorted(budget)}")
    steps, wall, device = (budget[k] for k in BUDGET_KEYS)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"budget['env_steps'] must be an int >= 0, got {steps!r}")
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not np.isfinite(wall) or wall < 0:
        raise ValueError(f"budget['wall_time_s'] must be a finite number >= 0, got {wall!r}")
    if not isinstance(device, str):
        raise ValueError(f"budget['device'] must be a string, got {device!r}")
    return {"env_steps": int(steps), "wall_time_s": float(wall), "device": device}


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write to; fsync'ed and renamed over ``path`` on success.

    The temporary name keeps ``path``'s file name endings (``.nii.gz``…), for writers that choose the format by
    name, and starts with a dot. On any exception (a ``KeyboardInterrupt`` too) it is removed and ``path`` is left
    as it was. Parent folders are created.

    >>> with atomic_path("out/result.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    endings = "".join(path.suffixes[-2:]) if path.name.endswith(".gz") else path.suffix
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{endings}")  # created with the umask's mode
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file in ``path``'s folder (:func:`atomic_path`): a crash during the write
    leaves the previous file intact. Parent folders are created."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return Path(path)


def save_checkpoint(path: str | Path, *, agent: str, step: int, config: Any, env_config: EnvConfig,
                    budget: Mapping[str, Any], **states: Any) -> Path:
    """Write a checkpoint atomically (:func:`atomic_write`): a crash during the write leaves the previous one intact.

    Args:
        path: Destination file (``.pt``).
        agent: Registry name of the agent.
        step: Progress counter to resume from.
        config: Dataclass (or dict) of the agent's resolved config.
        env_config: The env's resolved config (its ``phantom_version`` and ``task`` are stamped too).
        budget: ``{"env_steps", "wall_time_s", "device"}`` (see the module docstring; checked by
            :func:`check_budget`).
        **states: ``model=...``, ``optimizer=...``, ``rng=capture_rng()``, any weights_only-safe values.
    """
    payload = {"format": FORMAT, "agent": agent, "step": int(step), "config": _to_json(config),
               "env_config": _to_json(env_config), "budget": check_budget(budget), **provenance(env_config),
               **states}
    return atomic_write(path, lambda f: torch.save(payload, f))


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
