"""What Stable-Baselines3 costs per environment step on PixGRL-v0, against the native torch vector env.

Run ``python benchmarks/bench_sb3.py [--size 32] [--n-envs 4] [--timesteps 2000] [--device cpu] [--threads N]``;
it prints the result dict of :func:`bench_sb3`. Rates are image-steps per second (one step of one sub-env counts
1), medians of ``repeats`` timed runs after one warm-up run; the same fully convolutional network
(:class:`baselines.sb3.PixelActorCriticPolicy`) acts everywhere.

- ``sb3_ppo_learn`` / ``sb3_a2c_learn``: ``model.learn`` end to end (collection and updates) with the
  :mod:`baselines.sb3` adapter; PPO with ``n_steps=20, batch_size=40, n_epochs=4``, A2C with ``n_steps=5``.
- ``sb3_collect``: SB3's ``collect_rollouts`` alone (policy forward, numpy round trip, ``DummyVecEnv`` of wrapped
  single envs, rollout buffer): the per-step cost without learning.
- ``sb3_env_only``: the ``DummyVecEnv`` stepped with random actions (the adapter's env cost, no policy).
- ``native_env_only``: :class:`~pixgrl_env.env.PixGRLVectorEnv` (``output="torch"``) with random actions.
- ``native_env_agent``: the native vector env plus the policy's forward and sampling (``SB3Agent.act``), i.e.
  what a native agent's collection costs: compare with ``sb3_collect``.
- ``stock_dist_ms`` / ``batched_dist_ms``: one build + log_prob + entropy + backward of SB3's per-dimension
  ``MultiCategoricalDistribution`` vs :class:`~baselines.sb3.BatchedMultiCategoricalDistribution` on a batch of
  ``n_envs`` images (milliseconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import pprint
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines import sb3  # noqa: E402
from pixgrl_env.config import EnvConfig  # noqa: E402
from pixgrl_env.env import PixGRLVectorEnv  # noqa: E402


def _median_time(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_sb3(size: int = 32, n_envs: int = 4, timesteps: int = 2000, device: str = "cpu", repeats: int = 3,
              dataset: str = "toy") -> dict[str, float | int | str]:
    """Image-steps per second of SB3 PPO/A2C and of the native vector env (see the module docstring)."""
    dev = torch.device(device)
    data = {"dataset": "toy", "dataset_kwargs": {"size": size}} if dataset == "toy" else \
        {"dataset": dataset, "crop": size}
    env_config = EnvConfig(split="all", **data)
    cfg = sb3.Config(n_envs=n_envs, n_steps=20, batch_size=40, n_epochs=4, device=device,
                     backbone_kwargs={"channels": 32, "dilations": (1, 2, 3, 2)})
    out: dict[str, float | int | str] = {"size": size, "n_envs": n_envs, "timesteps": timesteps, "device": device,
                                         "threads": torch.get_num_threads()}

    for algo, extra in (("ppo", {}), ("a2c", {"n_steps": 5})):
        venv = sb3.make_sb3_env(env_config, n_envs, 0)
        model = sb3.make_model(dataclasses.replace(cfg, algo=algo, **extra), venv, dev)
        t = _median_time(lambda: model.learn(timesteps, reset_num_timesteps=False), repeats)
        out[f"sb3_{algo}_learn_steps_per_s"] = timesteps / t
        if algo == "ppo":
            _, callback = model._setup_learn(timesteps, None, reset_num_timesteps=False)
            callback.on_training_start(locals(), globals())
            t = _median_time(lambda: model.collect_rollouts(model.env, callback, model.rollout_buffer,
                                                            n_rollout_steps=model.n_steps), repeats)
            out["sb3_collect_steps_per_s"] = model.n_steps * n_envs / t
            policy = model.policy
        venv.close()

    venv = sb3.make_sb3_env(env_config, n_envs, 0)
    venv.reset()
    rng = np.random.default_rng(0)
    n_iter = max(1, timesteps // n_envs)

    def sb3_env_only() -> None:
        for _ in range(n_iter):
            venv.step(rng.integers(0, 3, (n_envs, size * size)))

    out["sb3_env_only_steps_per_s"] = n_iter * n_envs / _median_time(sb3_env_only, repeats)

    native = PixGRLVectorEnv(n_envs, env_config.replace(device=device), output="torch")
    obs, _ = native.reset(seed=0)
    agent = sb3.SB3Agent(env_config, policy, dev)
    policy.set_training_mode(False)
    gen = torch.Generator(device=dev).manual_seed(0)

    def native_env_only() -> None:
        for _ in range(n_iter):
            native.step(torch.randint(0, 3, (n_envs, size, size), device=dev, generator=gen))

    def native_env_agent() -> None:
        o = native.step(torch.randint(0, 3, (n_envs, size, size), device=dev, generator=gen))[0]
        for _ in range(n_iter):
            o = native.step(agent.act(o, deterministic=False))[0]

    out["native_env_only_steps_per_s"] = n_iter * n_envs / _median_time(native_env_only, repeats)
    out["native_env_agent_steps_per_s"] = n_iter * n_envs / _median_time(native_env_agent, repeats)
    out["ppo_learn_vs_native_env_agent_slowdown"] = (out["native_env_agent_steps_per_s"]
                                                     / out["sb3_ppo_learn_steps_per_s"])
    out["sb3_collect_vs_native_env_agent_slowdown"] = (out["native_env_agent_steps_per_s"]
                                                       / out["sb3_collect_steps_per_s"])

    n_dims = size * size
    logits = torch.randn(n_envs, n_dims * 3, device=dev)
    actions = torch.randint(0, 3, (n_envs, n_dims), device=dev).float()
    for name, cls in (("stock", sb3.MultiCategoricalDistribution),
                      ("batched", sb3.BatchedMultiCategoricalDistribution)):
        def dist_step(cls=cls) -> None:
            x = logits.clone().requires_grad_(True)
            d = cls([3] * n_dims).proba_distribution(x)
            (d.log_prob(actions).sum() + d.entropy().sum()).backward()

        out[f"{name}_dist_ms"] = 1e3 * _median_time(dist_step, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="toy", help="'toy' (generated at --size) or e.g. 'phantom' (cropped)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pprint.pprint(bench_sb3(args.size, args.n_envs, args.timesteps, args.device, args.repeats, args.dataset),
                  sort_dicts=False)


if __name__ == "__main__":
    main()
