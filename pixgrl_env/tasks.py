"""The registered PixGRL tasks: the paper's task and benchmark tasks with headroom.

A task id fixes everything that defines the problem (action factors, episode length, reward, observation channels)
the Gymnasium way: ``gymnasium.make(task_id)`` and ``gymnasium.make_vec(task_id, num_envs=N)`` build it, keyword
arguments still override any :class:`~pixgrl_env.config.EnvConfig` field (data, crop, split, device, …).

=====================  ==================================  ====  ===========================================
id                     factors                             T     what it is for
=====================  ==================================  ====  ===========================================
``PixGRL-v0``          ×0.95, ×1, ×1.05                    5     the paper's task, exactly (Xu et al. 2021)
``PixGRLReach-v0``     ×0.5, ×0.9, ×1, ×1.1, ×2            3     the enhancement is reachable: a coarse ×2/×0.5
                                                                 jump plus fine ×1.1/×0.9 corrections
=====================  ==================================  ====  ===========================================

With the paper's factors no policy can reach the portal-venous target (five steps of ×1.05 give at most ×1.28,
liver needs ×1.9 and vessels ×5): its exact oracle scores SSIM ≈ 0.40 on the phantom. ``PixGRLReach-v0`` keeps
every other setting of the paper and lifts that ceiling above 0.95, so it measures how well an agent learns rather
than how far the action set lets it go. The measured identity, oracle and noise-limited ceilings of every task are
in ``docs/tasks.md`` (``python benchmarks/bench_tasks.py`` reproduces them).

``PixGRL-v0`` has no ``max_episode_steps``: it is also the configurable base of the paper's ablations
(``episode_length`` is one of their axes). Every other task registers ``max_episode_steps = episode_length``.
"""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register, registry

from pixgrl_env.config import EnvConfig

#: The paper's task id.
PAPER_TASK = "PixGRL-v0"
#: The high-ceiling benchmark task id.
REACH_TASK = "PixGRLReach-v0"

#: Task id → the EnvConfig fields it sets (over EnvConfig's defaults, which are the paper's values).
TASKS: dict[str, dict[str, Any]] = {
    PAPER_TASK: {},
    REACH_TASK: {"factors": (0.5, 0.9, 1.0, 1.1, 2.0), "episode_length": 3},
}


def register_tasks() -> None:
    """Register every task of :data:`TASKS` with Gymnasium (single and native vector entry points); idempotent."""
    for task_id, fields in TASKS.items():
        if task_id in registry:
            continue
        register(
            id=task_id,
            entry_point="pixgrl_env.env:PixGRLEnv",
            vector_entry_point="pixgrl_env.env:PixGRLVectorEnv",
            max_episode_steps=None if task_id == PAPER_TASK else fields["episode_length"],
            kwargs=dict(fields),
        )


def task_config(task_id: str, **overrides: Any) -> EnvConfig:
    """The :class:`EnvConfig` of a registered task, with field overrides (data, crop, split, device, …).

    Raises:
        ValueError: ``task_id`` is not a registered PixGRL task.

    >>> task_config("PixGRLReach-v0", crop=64).factors
    (0.5, 0.9, 1.0, 1.1, 2.0)
    """
    if task_id not in TASKS:
        raise ValueError(f"unknown task {task_id!r}; expected one of {sorted(TASKS)}")
    return EnvConfig(**{**TASKS[task_id], **overrides})


#: The EnvConfig fields that define a task: its dynamics and its reward. The observation's conditioning channels are
#: not among them: they change what an agent sees, not what it is scored on, so agents that observe more or less
#: of the episode still compete on one task.
TASK_FIELDS = ("factors", "episode_length", "lam", "pixel_weight", "patch", "distance", "reward_mode")


def same_task(a: EnvConfig, b: EnvConfig) -> bool:
    """Whether two env configs pose the same problem: their :data:`TASK_FIELDS` (actions, horizon, reward) are equal.
    Data, split, device and the observation's conditioning channels do not change the task."""
    return all(getattr(a, f) == getattr(b, f) for f in TASK_FIELDS)


def task_of(env_config: EnvConfig) -> str | None:
    """The id of the registered task ``env_config`` is an instance of, or None."""
    return next((task_id for task_id in TASKS if same_task(env_config, task_config(task_id))), None)


def with_task(env_config: EnvConfig, task_id: str) -> EnvConfig:
    """``env_config`` with the :data:`TASK_FIELDS` of registered task ``task_id``: the task's actions, horizon and
    reward, ``env_config``'s data, crop, split, device and observation."""
    return task_config(task_id, **{k: v for k, v in env_config.to_dict().items() if k not in TASK_FIELDS})
