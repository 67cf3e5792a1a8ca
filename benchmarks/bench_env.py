"""Native vector env vs Gymnasium's SyncVectorEnv of single envs: env steps per second, in one run.

Both sides run the same task and data (pairs cached after a warm-up episode, as in training), with random actions
drawn up front so that only ``step`` is timed.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import torch

import pixgrl_env  # noqa: F401


def _steps_per_s(env, actions: np.ndarray | torch.Tensor, warmup: int) -> float:
    env.reset(seed=0)
    for a in actions[:warmup]:
        env.step(a)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for a in actions[warmup:]:
        env.step(a)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (len(actions) - warmup) * env.num_envs / (time.perf_counter() - t0)


def bench_env(num_envs: int = 16, size: int = 256, steps: int = 20, device: str = "cpu",
              sync: bool = True, **env_kwargs) -> dict:
    """Env steps/s (sub-env steps) of the native vector env (and of SyncVectorEnv when ``sync``) with the dual reward.

    Args:
        num_envs: Sub-envs per vector env.
        size: Image side (phantom images of ``size``; no crop).
        steps: Timed vector steps (after one warm-up episode that also fills the pair caches).
        device: Device of the native env (the SyncVectorEnv side always runs on the CPU).
    """
    kwargs = {"dataset_kwargs": {"size": size, "n_patients": 20, "slices_per_patient": 1}, "split": "all",
              **env_kwargs}
    warmup = 6
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, size=(warmup + steps, num_envs, size, size))
    native = gym.make_vec("PixGRL-v0", num_envs=num_envs, device=device, output="torch", **kwargs)
    out = {"num_envs": num_envs, "size": size, "device": device, "reward": "dual (pixel + 0.2 W1 approx, 16x16)"}
    out["native_steps_per_s"] = _steps_per_s(native, torch.as_tensor(actions, device=device), warmup)
    if sync:
        vec = gym.make_vec("PixGRL-v0", num_envs=num_envs, vectorization_mode="sync", **kwargs)
        out["sync_steps_per_s"] = _steps_per_s(vec, actions, warmup)
        out["speedup"] = out["native_steps_per_s"] / out["sync_steps_per_s"]
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(bench_env(size=64), indent=2))
