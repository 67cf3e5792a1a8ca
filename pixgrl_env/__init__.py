"""pixgrl_env: the PixGRL Gymnasium environments for pixel-level RL on medical images.

Importing the package registers the tasks of :mod:`pixgrl_env.tasks` (``PixGRL-v0``, the paper's task, and
``PixGRLReach-v0``) with both entry points, so ``gymnasium.make("PixGRL-v0")`` gives the single env and
``gymnasium.make_vec("PixGRL-v0", num_envs=N)`` the native batched vector env.
"""

from __future__ import annotations

from pixgrl_env import workers  # noqa: F401  (one torch thread in forked children: see pixgrl_env.workers)
from pixgrl_env.config import ACTION_PRESETS, ENV_PRESETS, EnvConfig
from pixgrl_env.tasks import TASKS, register_tasks, task_config

__version__ = "0.1.0"

register_tasks()

__all__ = ["ACTION_PRESETS", "ENV_PRESETS", "TASKS", "EnvConfig", "__version__", "task_config"]
