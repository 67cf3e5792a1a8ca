"""What each evaluated agent is: the task it acts in, the budget it was trained with, and whether the agents of one
table may be compared.

**Budget.** Every trained agent's row states the budget it was trained with: ``env_steps`` (image-steps),
``wall_time_s`` and ``device``. Trainers record it in their checkpoints as ``ckpt["budget"] = {"env_steps": int, "wall_time_s":
float, "device": str}``; a checkpoint without it falls back to its ``step`` counter (``"source": "step"``: the
trainer's own unit, updates for the supervised models) with wall time and device unknown. An Agent object may carry
the same dict as a ``budget`` attribute. Reference agents (identity, oracle) have no budget. A run's ``best.pt`` (the
model of its best validation eval, :class:`agents.run.Run`) records the whole run's budget and, as ``best_step``, the
step of the model it holds.

**Task.** An agent's task is :func:`pixgrl_env.tasks.task_of` of its env_config: a registered task id, or None for a
configuration no task id names. Agents trained on different tasks do not share a table (:func:`check_tasks`): their
action sets and horizons bound them differently, so a ranking would compare tasks, not agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pixgrl_env.config import EnvConfig
from pixgrl_env.tasks import TASKS, same_task, task_config, task_of

#: Keys of a budget record.
BUDGET_KEYS: tuple[str, ...] = ("env_steps", "wall_time_s", "device")


class TaskMismatchError(ValueError):
    """Agents trained on different tasks were put in one table, or ``task`` names none of them."""


def _budget(record: Mapping[str, Any], source: str) -> dict[str, Any]:
    steps, wall, device = (record.get(k) for k in BUDGET_KEYS)
    wall_ok = isinstance(wall, (int, float)) and not isinstance(wall, bool) and math.isfinite(wall)
    return {"env_steps": int(steps) if isinstance(steps, (int, float)) and not isinstance(steps, bool) else None,
            "wall_time_s": float(wall) if wall_ok else None,
            "device": str(device) if device is not None else None, "source": source}


def checkpoint_budget(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """The training budget a checkpoint records (see the module docstring).

    Returns:
        ``{"env_steps": int | None, "wall_time_s": float | None, "device": str | None, "source": "budget" |
        "step"}``; ``source`` says whether ``env_steps`` came from ``ckpt["budget"]`` or the ``step`` counter. A
        model of the run's best validation eval (``best.pt``) adds ``best_step``: its step (the trainer's unit:
        image-steps, or batches for the supervised models), chosen by validation SSIM within the budget.
    """
    record = ckpt.get("budget")
    record = dict(record) if isinstance(record, Mapping) else {}
    if record.get("env_steps") is not None:
        budget = _budget(record, "budget")
        best = ckpt.get("best")
        if isinstance(best, Mapping) and best.get("step") == ckpt.get("step"):  # the model of the best eval
            budget["best_step"] = int(best["step"])
        return budget
    return _budget({**record, "env_steps": ckpt.get("step")}, "step")


def object_budget(agent: Any) -> dict[str, Any]:
    """The budget an Agent object carries as a ``budget`` attribute (a dict like a checkpoint's), else unknowns."""
    record = getattr(agent, "budget", None)
    if isinstance(record, Mapping):
        return _budget(record, "agent.budget")
    return {"env_steps": None, "wall_time_s": None, "device": None, "source": None}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def budget_text(budget: Mapping[str, Any] | None, reference: bool = False) -> str:
    """One table cell for a budget record: ``"4,000 env steps · 3.1 min · cpu"``; ``"none"`` for a reference agent;
    ``"n/a"`` for an unknown part (or all of it). A step count that comes from the checkpoint's ``step`` counter,
    not a recorded budget, is marked ``*`` (the trainer's own unit: updates for the supervised models); a model
    chosen by validation within the budget adds its step: ``"4,000 env steps (best val at step 2,500) · …"``."""
    if reference:
        return "none"
    if not budget or all(budget.get(k) is None for k in BUDGET_KEYS):
        return "n/a"
    steps, wall, device = (budget.get(k) for k in BUDGET_KEYS)
    mark = "*" if budget.get("source") == "step" else ""
    best = f" (best val at step {budget['best_step']:,})" if budget.get("best_step") is not None else ""
    parts = [f"{steps:,} env steps{mark}{best}" if steps is not None else "n/a env steps",
             _duration(float(wall)) if wall is not None else "n/a", str(device) if device is not None else "n/a"]
    return " · ".join(parts)


#: The footnote of :func:`budget_text`'s ``*``.
BUDGET_NOTE = ("Budget: env steps (image-steps), training wall time and device, as the checkpoint records them; "
               "* = no budget recorded, the checkpoint's step counter instead (updates for supervised models); "
               "best val at step S = the model of step S (image-steps; batches for supervised models), chosen by "
               "validation SSIM within the run (best.pt); "
               "n/a = not recorded; none = a reference agent, nothing trained.")


def describe_task(env_config: EnvConfig) -> str:
    """``"PixGRL-v0 (×0.95, ×1, ×1.05; T = 5)"``, or ``"an unregistered task (…)"``, with conditioning if any."""
    tid = task_of(env_config)
    parts = [", ".join(f"×{f:g}" for f in env_config.factors), f"T = {env_config.episode_length}"]
    if env_config.conditioning:
        parts.append("conditioning " + ", ".join(env_config.conditioning))
    return f"{tid or 'an unregistered task'} ({'; '.join(parts)})"


def check_tasks(agents: Sequence[Any], task: str | None = None) -> EnvConfig:
    """The task every agent of one table acts in; raise when they differ.

    Args:
        agents: :class:`~pixgrl.evaluation.agents.ResolvedAgent` items (``.name``, ``.agent.env_config``,
            ``.is_reference``).
        task: The evaluated task id (``pixgrl evaluate --task``), or None: the trained agents' common task (the
            reference agents' when there is no trained agent).

    Returns:
        The evaluated task's env config (of the first agent acting in it, or ``task_config(task)``).

    Raises:
        ValueError: ``task`` is not a registered task id.
        TaskMismatchError: a trained agent was trained on another task than ``task`` or than the other trained
            agents, or a reference agent was built for another task.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
    trained = [ra for ra in agents if not ra.is_reference]
    if task is not None:
        evaluated = task_config(task)
    elif trained:
        evaluated = trained[0].agent.env_config
    else:
        evaluated = agents[0].agent.env_config
    where = f"--task {task}" if task is not None else f"{trained[0].name!r}'s task" if trained else "the task"
    for ra in agents:
        cfg = ra.agent.env_config
        if same_task(cfg, evaluated):
            continue
        what = "was built for" if ra.is_reference else "was trained on"
        hint = (f"evaluate it in a table of its own (--task {task_of(cfg)})" if task_of(cfg) else
                "evaluate it in a table of its own")
        raise TaskMismatchError(
            f"agent {ra.name!r} {what} {describe_task(cfg)}, but this table evaluates {describe_task(evaluated)} "
            f"({where}): agents of different tasks are bounded by different action sets and horizons, so one "
            f"table would rank the tasks, not the agents; {hint}")
    return evaluated


__all__ = ["BUDGET_KEYS", "BUDGET_NOTE", "TaskMismatchError", "budget_text", "check_tasks",
           "checkpoint_budget", "describe_task", "object_budget", "same_task"]
