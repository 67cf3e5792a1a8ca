"""pixgrl_env: the PixGRL-v0 Gymnasium environment for pixel-level RL on medical images.

Importing the package registers ``PixGRL-v0`` with both entry points, so ``gymnasium.make("PixGRL-v0")`` gives the
single env and ``gymnasium.make_vec("PixGRL-v0", num_envs=N)`` the native batched vector env.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from pixgrl_env.config import ACTION_PRESETS, ENV_PRESETS, EnvConfig

__version__ = "0.1.0"

if "PixGRL-v0" not in registry:
    register(
        id="PixGRL-v0",
        entry_point="pixgrl_env.env:PixGRLEnv",
        vector_entry_point="pixgrl_env.env:PixGRLVectorEnv",
    )

__all__ = ["ACTION_PRESETS", "ENV_PRESETS", "EnvConfig", "__version__"]
