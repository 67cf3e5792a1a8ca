"""The plumbing of a training run, shared by every trainer (Pix-GRL's A2C and all the baselines).

A :class:`Run` owns what is not the algorithm: processes (one, or several under torchrun), seeding, the device,
``run_dir/config.json``, the TensorBoard logger and progress bar, the step counter, periodic quick evals, atomic
checkpoints with every process's RNG states, and resuming from them. A trainer reads like this:

    with Run("dqn", config, env_config, run_dir, resume=resume, total=config.total_timesteps, seed=config.seed,
             save_every=config.save_every, eval_every=config.eval_every, eval_pairs=config.eval_episodes) as run:
        env = run.make_env(config.num_envs)
        agent, optimizer = ..., ...
        run.restore(model=agent.network, optimizer=optimizer)      # no-op unless resuming
        states = lambda: {"model": agent.network.state_dict(), "optimizer": optimizer.state_dict()}
        while not run.done:
            ...                                                      # ALGO LOGIC
            run.advance(image_steps, losses__loss=loss)              # count, log, progress bar
            run.periodic(agent, states)                              # eval / checkpoint when due
        run.finish(agent, states())                                  # final eval and checkpoint

Checkpoints (:mod:`agents.checkpoint`, ``weights_only``-loadable) hold the trainer's ``states``, the step, both
configs, ``rng`` (rank 0's RNG states), ``rng_ranks`` (every rank's), ``world_size``, and the stamps ``budget``
(image-steps, wall time summed over resumes, device), ``phantom_version`` and ``task``; ``config.json`` has the
configs and stamps of the last checkpoint.

With periodic evals, ``run_dir/best.pt`` keeps the model of the best one (SB3's ``EvalCallback`` keeps a best model
the same way): the highest validation SSIM of greedy synthesis, never a test patient. Its ``best`` key says at which
step and on how many pairs; once the run finishes its ``budget`` is the whole run's, since choosing it took the
whole run. ``checkpoint.pt`` stays the last state, for resuming and as the run folder's default agent.

Resuming continues the run in the folder (:mod:`agents.resume`): ``resume=True`` needs its checkpoint, and configs
that change a field outside the config class's ``RESUMABLE`` set (the task, the data, the network…) are refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn

from agents.base import Agent
from agents.checkpoint import BEST, CHECKPOINT, STAMPS, load_checkpoint, restore_rng, save_checkpoint
from agents.distributed import Processes, gather_rng, setup, teardown, wrap
from agents.resume import ResumeError, check_unchanged, load_state, require_checkpoint
from agents.training import (
    RunLogger,
    check_env_device,
    derived_seed,
    describe_device,
    eval_grid,
    make_train_env,
    quick_eval,
    resolve_device,
    seed_everything,
    write_config,
)
from pixgrl_env.config import EnvConfig
from pixgrl_env.env import PixGRLVectorEnv

__all__ = ["BEST", "CHECKPOINT", "Run"]


class Run:
    """One training run in ``run_dir``: processes, seeding, device, logger, step counter, evals and checkpoints.

    On creation it joins the torchrun process group (``distributed=True``), seeds Python, numpy and torch with
    ``seed + rank``, writes ``config.json`` and opens the logger (rank 0 only), and with ``resume=True`` loads
    ``run_dir/checkpoint.pt``: :attr:`step` and the budget continue from it and :meth:`restore` puts its states
    back into the trainer's modules. Use it as a context manager: leaving closes the logger, the envs of
    :meth:`make_env` and the process group, also on errors.

    Args:
        name: The agent's registry name, stored in checkpoints (a checkpoint of another agent is refused).
        config: The trainer's config (saved in ``config.json`` and checkpoints; its ``to_dict`` is logged).
        env_config: The task.
        run_dir: Folder of ``checkpoint.pt``, ``config.json`` and ``tb/``.
        resume: Continue the run of ``run_dir/checkpoint.pt``: ``FileNotFoundError`` without one, and
            :class:`agents.resume.ResumeError` when ``config``/``env_config`` change a field that is not resumable.
        total: The budget, in the trainer's steps (image-steps, updates…): :attr:`done` once reached.
        seed: Base seed (each process adds its rank).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``… (an unavailable one raises,
            :func:`~agents.training.resolve_device`); under torchrun CUDA means ``cuda:LOCAL_RANK``.
        env_steps: Whether a step is one image-step of the env (the RL trainers), so the checkpoints' budget counts
            ``env_steps = step``; False for trainers that never step the env (their budget's ``env_steps`` is 0).
        deterministic: Make cuDNN deterministic.
        threads: torch intra-op CPU threads (0: torch's default).
        distributed: Join torchrun's processes (:mod:`agents.distributed`); False: always a single process.
        eval_every, save_every: Quick eval / checkpoint every this many steps (0: only at the end).
        eval_pairs: Validation pairs of the quick eval (0 disables it); ``eval_images``: pairs in its image grid.
        log_every: Write the scalars of every this many :meth:`advance` calls.
        progress: Prefixes of the scalar keys shown on the progress bar.

    Attributes:
        step: Steps done; :meth:`advance` moves it.
        wall_time: Seconds of training so far, summed over every resumed part of the run.
        procs: This process's rank, the number of processes, its device (:class:`agents.distributed.Processes`).
        device: The resolved torch device. ``lead``: whether this is rank 0.
        checkpoint: The loaded checkpoint when resuming, else None.
        best: The best quick eval so far, ``{"ssim", "step", "pairs"}`` (restored when resuming), or None.
        logger: The :class:`~agents.training.RunLogger` (disabled on ranks > 0).
    """

    def __init__(self, name: str, config: Any, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False,
                 total: int, seed: int, device: str = "auto", deterministic: bool = False, threads: int = 0,
                 distributed: bool = False, eval_every: int = 0, eval_pairs: int = 0, eval_images: int = 0,
                 save_every: int = 0, log_every: int = 1, progress: tuple[str, ...] = ("losses__", "charts__episodic"),
                 env_steps: bool = True):
        self.name, self.config, self.env_config, self.run_dir = name, config, env_config, Path(run_dir)
        self.total, self.seed, self.env_steps = total, seed, env_steps
        self.eval_every, self.eval_pairs, self.eval_images = eval_every, eval_pairs, eval_images
        self.save_every, self.log_every, self.progress = save_every, max(log_every, 1), progress
        self.checkpoint: dict[str, Any] | None = None
        path = require_checkpoint(self.run_dir) if resume else None
        self.procs = setup(device) if distributed else Processes(0, 1, resolve_device(device), False)
        self.device, self.lead = self.procs.device, self.procs.lead
        try:
            check_env_device(env_config, self.device)
            # TRY NOT TO MODIFY: seeding
            seed_everything(seed + self.procs.rank, deterministic)
            if threads:
                torch.set_num_threads(threads)
            if path is not None:
                self.checkpoint = load_checkpoint(path, self.device)
                if self.checkpoint["agent"] != name:
                    raise ValueError(f"{path} holds a {self.checkpoint['agent']!r} checkpoint, not {name!r}")
                check_unchanged(self.checkpoint, config, env_config, self.run_dir)
        except BaseException:
            teardown(self.procs)
            raise
        self.step = int(self.checkpoint["step"]) if self.checkpoint is not None else 0
        budget = self.checkpoint.get("budget") if self.checkpoint is not None else None
        self._wall0 = float(budget["wall_time_s"]) if isinstance(budget, dict) else 0.0
        self.best: dict[str, Any] | None = self.checkpoint.get("best") if self.checkpoint is not None else None
        if self.lead and not resume:
            (self.run_dir / BEST).unlink(missing_ok=True)  # a new run in the folder: an old best is not this run's
        self._t0 = time.perf_counter()
        self.device_name = describe_device(self.device, self.procs.world)
        if self.lead:
            write_config(self.run_dir, config=config, env_config=env_config, budget=self.budget())
        hparams = config.to_dict() if hasattr(config, "to_dict") else None
        self.logger = RunLogger(self.run_dir, total, initial=self.step, hparams=hparams, enabled=self.lead, desc=name)
        self._envs: list[PixGRLVectorEnv] = []
        self._last = self._calls = 0

    # -- set-up ------------------------------------------------------------------------------------------------

    def make_env(self, num_envs: int, seed: int | None = None) -> PixGRLVectorEnv:
        """The native vector env of :attr:`env_config` with torch outputs on the run's device (reset with ``seed``
        when given); closed with the run."""
        env = make_train_env(self.env_config, num_envs, self.device, seed)
        self._envs.append(env)
        return env

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in ``DistributedDataParallel`` under torchrun, else ``model`` itself."""
        return wrap(model, self.procs)

    def restore(self, **objects: Any) -> dict[str, Any]:
        """Load ``objects`` (modules, optimisers: anything with ``load_state_dict``) from the checkpoint under their
        keyword names, then this process's RNG states. Returns the checkpoint ({} when starting fresh).

        With another process count than the checkpoint's, the RNGs are re-seeded from ``(seed, rank, step)``.

        Raises:
            agents.resume.ResumeError: a saved state does not fit (another network width or action set), naming
                the mismatching parameters and their shapes.
        """
        if self.checkpoint is None:
            return {}
        for key, obj in objects.items():
            if key not in self.checkpoint:
                raise ResumeError(f"{str(self.run_dir / CHECKPOINT)!r} holds no {key!r} state to restore")
            load_state(obj, self.checkpoint[key], key, self.run_dir / CHECKPOINT)
        rngs = self.checkpoint.get("rng_ranks") or [self.checkpoint["rng"]]
        if len(rngs) == self.procs.world:
            restore_rng(rngs[self.procs.rank])
        else:
            seed_everything(derived_seed(self.seed, self.procs.rank, self.step))
        return self.checkpoint

    # -- the loop ----------------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.step >= self.total

    @property
    def wall_time(self) -> float:
        return self._wall0 + time.perf_counter() - self._t0

    def budget(self) -> dict[str, Any]:
        """What the run has cost so far: ``{"env_steps", "wall_time_s", "device"}`` (:mod:`agents.checkpoint`)."""
        return {"env_steps": self.step if self.env_steps else 0, "wall_time_s": round(self.wall_time, 3),
                "device": self.device_name}

    def advance(self, n: int, **scalars: float | Tensor) -> None:
        """Count ``n`` steps; every ``log_every`` calls (and at the end) log ``scalars`` (keys ``group__name``, e.g.
        ``losses__policy``; tensors are read only then) with ``charts/SPS``, and show those whose key starts with
        one of ``progress`` on the progress bar."""
        self.step += n
        self._last, self._calls = n, self._calls + 1
        postfix = {}
        if self.lead and (self._calls % self.log_every == 0 or self.done):
            values = {k: float(v) for k, v in scalars.items()}
            self.logger.scalars(self.step, **values, charts__SPS=self.logger.steps_per_second(self.step))
            postfix = {k.split("__")[-1]: v for k, v in values.items() if k.startswith(self.progress)}
        self.logger.advance(n, **postfix)

    def crossed(self, every: int) -> bool:
        """Whether the last :meth:`advance` crossed a multiple of ``every`` steps."""
        return every > 0 and self.step // every > (self.step - self._last) // every

    def periodic(self, agent: Agent, states: Callable[[], dict[str, Any]]) -> None:
        """Quick eval every ``eval_every`` and checkpoint every ``save_every`` steps, except at the end (that is
        :meth:`finish`). ``states()`` gives the trainer's state dicts (``model``, ``optimizer``…). Every process
        must call it (the checkpoint gathers their RNG states)."""
        if self.done:
            return
        if self.crossed(self.eval_every):
            self.keep_best(self.evaluate(agent), states)
        if self.crossed(self.save_every):
            self.save(states())

    def evaluate(self, agent: Agent) -> dict[str, float]:
        """On rank 0: log SSIM/PSNR of greedy synthesis on ``eval_pairs`` validation pairs under ``eval/`` (and the
        image grid ``eval/input_synth_target`` of ``eval_images`` pairs). Skipped ({}) without pairs, on other
        ranks, and for agents conditioned on extra modalities (the quick eval passes none)."""
        if not (self.lead and self.eval_pairs) or any(c.startswith("extra:") for c in self.env_config.conditioning):
            return {}
        result = quick_eval(agent, self.env_config, self.eval_pairs)
        self.logger.scalars(self.step, **{f"eval__{k}": v for k, v in result.items()})
        if self.eval_images:
            self.logger.images("eval/input_synth_target", eval_grid(agent, self.env_config, self.eval_images),
                               self.step, ncol=3)
        return result

    def keep_best(self, result: dict[str, float], states: Callable[[], dict[str, Any]]) -> None:
        """On rank 0: when ``result`` (a quick eval) beats :attr:`best` on SSIM, record it and write ``best.pt``
        atomically with ``states()`` (without RNG states: it is for evaluation, not resuming)."""
        if not result or (self.best is not None and result["ssim"] <= self.best["ssim"]):
            return
        self.best = {"ssim": float(result["ssim"]), "step": self.step, "pairs": self.eval_pairs}
        save_checkpoint(self.run_dir / BEST, agent=self.name, step=self.step, config=self.config,
                        env_config=self.env_config, budget=self.budget(), best=self.best, **states())

    def save(self, states: dict[str, Any]) -> Path:
        """Write ``run_dir/checkpoint.pt`` atomically (rank 0) with ``states``, the step, the configs, every
        process's RNG states and the stamps (:meth:`budget`, ``phantom_version``, ``task``), then ``config.json``
        with the same stamps. Every process must call it."""
        rngs = gather_rng(self.procs.world)
        path = self.run_dir / CHECKPOINT
        if self.lead:
            budget = self.budget()
            save_checkpoint(path, agent=self.name, step=self.step, config=self.config, env_config=self.env_config,
                            budget=budget, rng=rngs[0], rng_ranks=rngs, world_size=self.procs.world, best=self.best,
                            **states)
            write_config(self.run_dir, config=self.config, env_config=self.env_config, budget=budget)
        return path

    def finish(self, agent: Agent, states: dict[str, Any]) -> dict[str, float]:
        """The final quick eval, then the final checkpoint; ``best.pt`` gets the whole run's budget. Returns the
        eval result."""
        result = self.evaluate(agent)
        self.keep_best(result, lambda: states)
        self.save(states)
        best = self.run_dir / BEST
        if self.lead and self.best is not None and self.best["step"] != self.step and best.is_file():
            ckpt = load_checkpoint(best, self.device)  # an earlier eval's model: restamp it with the run's budget
            kept = {k: v for k, v in ckpt.items() if k not in STAMPS}
            save_checkpoint(best, agent=self.name, step=ckpt["step"], config=self.config, env_config=self.env_config,
                            budget=self.budget(), **kept)
        return result

    # -- tear-down ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the logger and the envs; leave the process group if the run joined it."""
        self.logger.close()
        for env in self._envs:
            env.close()
        teardown(self.procs)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

