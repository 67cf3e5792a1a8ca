"""Pieces every trainer shares: seeding, devices, the run folder, logging with a progress bar, envs, learning-rate
schedules, a quick eval, and the env each agent preset is meant for.

Trainers (``agents.a2c``, ``baselines.*``) stay readable single files on top of these and of
:class:`agents.run.Run`, CleanRL-style.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from agents.checkpoint import atomic_write, check_budget, provenance
from pixgrl_env.config import EnvConfig
from pixgrl_env.env import PixGRLVectorEnv, env_device


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch (the one seeding block of a run); optionally make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def derived_seed(*keys: int) -> int:
    """A 32-bit seed drawn from ``keys`` (e.g. ``(seed, rank, step)``) by numpy's ``SeedSequence``: distinct key
    tuples give independent streams."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def resolve_device(device: str) -> torch.device:
    """The torch device of a trainer's ``device`` field: ``"auto"`` → CUDA when available, else the CPU (the only
    value that chooses); anything else exactly as given, never another device instead.

    Raises:
        ValueError: naming ``device``: not a device name (``"tpu"``), CUDA asked for on a machine without it, or a
            CUDA index this machine does not have.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    return env_device(device)  # the env's check: a name torch knows, a CUDA index this machine has


def check_env_device(env_config: EnvConfig, device: torch.device) -> None:
    """Check that the env config's ``device`` can run beside a run on ``device``.

    A trainer steps its env on the run's device (:func:`make_train_env`), so ``EnvConfig.device`` (default
    ``"cpu"``) is replaced; an env config that asks for an accelerator must get the run's, not be moved silently.

    Raises:
        ValueError: naming the env's ``device``: not a device, unavailable, or another device than the run's.
    """
    wanted = env_device(env_config.device)
    if wanted.type == "cpu":
        return
    if wanted.type != device.type or (None not in (wanted.index, device.index) and wanted.index != device.index):
        raise ValueError(f"the env's device={env_config.device!r} differs from the run's device {str(device)!r}: "
                         f"a trainer steps its env on the run's device; set the trainer's device instead")


def describe_device(device: torch.device, world: int = 1) -> str:
    """What a run ran on, for its budget: ``"cpu (2 threads)"``, ``"NVIDIA H200"``, with ``"4 × "`` in front for
    ``world`` processes."""
    if device.type == "cpu":
        threads = torch.get_num_threads()
        name = f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    elif device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = str(device)
    return f"{world} × {name}" if world > 1 else name


def make_train_env(env_config: EnvConfig, num_envs: int, device: torch.device | str,
                   seed: int | None = None) -> PixGRLVectorEnv:
    """The native vector env with torch outputs on ``device`` (no host round-trip per step), reset with ``seed``
    when one is given."""
    env = PixGRLVectorEnv(num_envs, env_config.replace(device=str(device)), output="torch")
    if seed is not None:
        env.reset(seed=seed)
    return env


def write_config(run_dir: Path, *, config: Any, env_config: EnvConfig, budget: dict[str, Any]) -> Path:
    """Write ``run_dir/config.json`` atomically: the resolved ``config`` and ``env_config`` and the stamps a
    checkpoint has (``budget``, ``phantom_version``, ``task``; :mod:`agents.checkpoint`)."""
    out = {"config": config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config),
           "env_config": env_config.to_dict(), "budget": check_budget(budget), **provenance(env_config)}
    text = json.dumps(out, indent=2, sort_keys=True, default=str)
    return atomic_write(Path(run_dir) / "config.json", lambda f: f.write(text.encode()))


#: Learning-rate schedules: the multiplier of the initial rate at a training progress in [0, 1]. ``"linear"`` decays
#: to 0 at the end of the budget, ``"poly"`` is PixelRL's ``(1 − progress)^0.9``.
LR_SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "linear": lambda progress: 1.0 - progress,
    "poly": lambda progress: (1.0 - progress) ** 0.9,
}


def scheduled_lr(lr: float, schedule: str, step: int, total: int) -> float:
    """The learning rate after ``step`` of ``total`` steps under ``schedule`` (a key of :data:`LR_SCHEDULES`)."""
    return lr * LR_SCHEDULES[schedule](min(step / total, 1.0))


class RunLogger:
    """TensorBoard scalars/images plus a tqdm progress bar with steps/s and ETA.

    Args:
        run_dir: TensorBoard event files go to ``run_dir/tb``.
        total: The step budget (for the bar's ETA).
        initial: Steps already done (when resuming).
        hparams: Shown once as a Markdown table under the ``hyperparameters`` text tag.
        enabled: False to write nothing and show no bar (e.g. non-zero ranks under torchrun).
    """

    def __init__(self, run_dir: Path, total: int, initial: int = 0, hparams: dict[str, Any] | None = None,
                 enabled: bool = True, desc: str = "train"):
        from torch.utils.tensorboard import SummaryWriter
        from tqdm.auto import tqdm

        self.enabled = enabled
        self.writer = SummaryWriter(str(run_dir / "tb")) if enabled else None
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, disable=not enabled)
        if self.writer is not None and hparams:
            table = "\n".join(f"|{k}|{v}|" for k, v in sorted(hparams.items()))
            self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")
        self._t0, self._n0 = time.perf_counter(), initial

    def scalars(self, step: int, **values: float) -> None:
        """Log ``group/name=value`` scalars (keys use ``__`` for ``/``, e.g. ``losses__policy``)."""
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key.replace("__", "/"), float(value), step)

    def images(self, tag: str, images: Tensor, step: int, ncol: int | None = None) -> None:
        """Log an ``(N, 1, H, W)`` batch in [0, 1] as one grid image (``ncol`` columns; default one row)."""
        if self.writer is not None:
            self.writer.add_image(tag, image_grid(images.detach().float().clamp(0, 1).cpu(), ncol), step)

    def advance(self, n: int, **postfix: float) -> None:
        self.bar.update(n)
        if postfix:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def steps_per_second(self, done: int) -> float:
        return (done - self._n0) / max(time.perf_counter() - self._t0, 1e-9)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


def image_grid(images: Tensor, ncol: int | None = None) -> Tensor:
    """Tile ``(N, 1, H, W)`` images into one ``(1, rows·H, ncol·W)`` image (no torchvision needed)."""
    n, _, h, w = images.shape
    ncol = ncol or n
    rows = -(-n // ncol)
    grid = images.new_zeros(1, rows * h, ncol * w)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[:, r * h:(r + 1) * h, c * w:(c + 1) * w] = images[i]
    return grid


def eval_pairs(env_config: EnvConfig, n: int) -> Iterator[tuple[Tensor, Tensor]]:
    """The first ``n`` whole ``(input, target)`` pairs ``(1, 1, H, W)`` of the config's validation fold (split
    ``"val"``: never the test patients)."""
    from pixgrl_env.episodes import PairSource

    source = PairSource(env_config.replace(split="val", crop=None, cache_size=0))
    for i in range(min(n, len(source))):
        pair = source.pair(i)
        yield torch.from_numpy(pair.input)[None, None], torch.from_numpy(pair.target)[None, None]


def quick_eval(agent: Any, env_config: EnvConfig, n: int = 8) -> dict[str, float]:
    """Mean SSIM and PSNR of ``agent.synthesize`` and of the identity on ``n`` validation pairs (for logging).

    The metrics are scikit-image's, called as :func:`pixgrl.metrics.ssim` and :func:`pixgrl.metrics.psnr` call
    them (float64 images, ``data_range=1``, SSIM's default 7×7 window), so the numbers are the evaluation's.

    Keys: ``ssim``, ``psnr``, ``ssim_identity``, ``psnr_identity``.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    def ssim_psnr(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        with np.errstate(divide="ignore"):  # identical images: PSNR = inf
            return (float(structural_similarity(pred, target, data_range=1.0)),
                    float(peak_signal_noise_ratio(target, pred, data_range=1.0)))

    rows = []
    for x, y in eval_pairs(env_config, n):
        synth = agent.synthesize(x.to(agent.device)).cpu()[0, 0].double().numpy()
        xs, ys = x[0, 0].double().numpy(), y[0, 0].double().numpy()
        rows.append((*ssim_psnr(synth, ys), *ssim_psnr(xs, ys)))
    ssim, psnr, ssim_id, psnr_id = (float(np.mean(c)) for c in zip(*rows))
    return {"ssim": ssim, "psnr": psnr, "ssim_identity": ssim_id, "psnr_identity": psnr_id}


def eval_grid(agent: Any, env_config: EnvConfig, n: int = 3) -> Tensor:
    """``(3n, 1, H, W)``: input, ``agent.synthesize(input)`` and target of the first ``n`` validation pairs, row by
    row (log it with ``RunLogger.images(tag, grid, step, ncol=3)``)."""
    rows = []
    for x, y in eval_pairs(env_config, n):
        rows += [x, agent.synthesize(x.to(agent.device)).cpu(), y]
    return torch.cat(rows)


#: The env settings each agent preset is meant for, applied over the env's ``paper`` preset. Every agent reads this
#: one table, so agents trained with the same preset name are trained and evaluated on the same task.
#: The phantom of the CPU presets: 128×128 slices of 40 patients, 4 slices each.
CPU_PHANTOM: dict[str, Any] = {"size": 128, "n_patients": 40, "slices_per_patient": 4}

PRESET_ENVS: dict[str, dict[str, Any]] = {
    "paper": {},
    "pixelrl": {"crop": 70},
    "quick": {"crop": 64, "dataset_kwargs": CPU_PHANTOM},
    "gpu": {"crop": 128},
    # The high-ceiling task with a Markov observation (the current image, the input and t / T).
    "reach": {"task": "PixGRLReach-v0", "crop": 64, "dataset_kwargs": CPU_PHANTOM, "conditioning": ("input", "time")},
}
PRESET_ENVS["paper-task"] = {k: v for k, v in PRESET_ENVS["reach"].items() if k != "task"}  # reach's, on PixGRL-v0


def env_config_for(preset: str, task: str | None = None, **overrides: Any) -> EnvConfig:
    """The :class:`EnvConfig` an agent preset is meant for (:data:`PRESET_ENVS`), with keyword overrides.

    Args:
        preset: An agent preset name: its data, crop and observation settings.
        task: A registered task id (:data:`pixgrl_env.tasks.TASKS`): its actions, episode length and reward. None:
            the preset's own task (``PixGRL-v0``, the paper's, unless the preset names another).
        **overrides: Any other EnvConfig field.

    >>> env_config_for("quick").crop
    64
    >>> env_config_for("quick", task="PixGRLReach-v0").episode_length
    3
    """
    from pixgrl_env.tasks import PAPER_TASK, task_config

    if preset not in PRESET_ENVS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESET_ENVS)}")
    fields = dict(PRESET_ENVS[preset])
    preset_task = fields.pop("task", PAPER_TASK)
    return task_config(task or preset_task, **{**fields, **overrides})