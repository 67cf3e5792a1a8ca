"""Where the time of a Pix-GRL training step goes: env, pixel graph, network forward and backward, optimiser.

Run ``python benchmarks/bench_train_split.py [--setting quick|paper] [--device cpu] [--threads 1]``; it prints the
result dict of :func:`bench_train_split` (``benchmarks/run_all.py --only train_split`` records it).

One episode batch of the training loop of :mod:`agents.a2c` (the same ``collect``, ``nstep_returns`` and ``update``
that ``train`` runs) is timed after one warm-up batch, for every combination of ``superpixel_method``
(``"skimage"``: host copy and scikit-image SLIC, the former path; ``"torch"``: on the device) and ``graph_every``
(``"step"``, ``"episode"``). Stages are timed by wrapping the callables the loop uses (CUDA synchronised around
each), so the code measured is the code that trains:

- ``env``: ``env.reset`` and ``env.step`` (pair loading, action application, the dual reward with W1);
- ``graph``: ``PixGRLAgent.graph`` (superpixels + adjacency);
- ``rollout_forward``: the network's forward passes without gradient (action sampling, bootstrap values);
- ``update_forward``: the forward passes recomputed with gradient in ``update``;
- ``backward``: the rest of ``update`` (losses, backward, gradient clipping) less the optimiser;
- ``optimizer``: ``Adam.step``;
- ``other``: the remainder of the batch (returns, bookkeeping).

Settings: ``quick`` is the ``quick`` preset (narrow network, 8 crops of 64², one update per step); ``paper`` the
paper's network on 2 whole 256² slices, whole-episode returns (``paper`` preset, fewer images so a CPU finishes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents import a2c  # noqa: E402
from agents.training import env_config_for  # noqa: E402
from pixgrl_env.env import PixGRLVectorEnv  # noqa: E402

SETTINGS: dict[str, dict[str, Any]] = {
    "quick": {"preset": "quick", "env": {}},
    "paper": {"preset": "paper", "agent": {"num_envs": 2},
              "env": {"split": "all", "dataset_kwargs": {"size": 256, "n_patients": 4, "slices_per_patient": 1}}},
    "gpu": {"preset": "gpu", "agent": {"num_envs": 64},
            "env": {"crop": None, "split": "all",
                    "dataset_kwargs": {"size": 256, "n_patients": 64, "slices_per_patient": 1}}},
}


class StageTimer:
    """Accumulates the wall time of wrapped callables per stage name (CUDA synchronised before and after)."""

    def __init__(self, device: torch.device):
        self.seconds: dict[str, float] = defaultdict(float)
        self._sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def wrap(self, fn: Callable[..., Any], stage: str | Callable[[], str]) -> Callable[..., Any]:
        """``fn`` timed under ``stage`` (or the name ``stage()`` returns at call time)."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            self._sync()
            self.seconds[stage() if callable(stage) else stage] += time.perf_counter() - t0
            return out

        return timed


def _one_split(setting: str, device: torch.device, method: str, graph_every: str, seed: int = 0) -> dict[str, Any]:
    spec = SETTINGS[setting]
    config = a2c.Config.preset(spec["preset"], **spec.get("agent", {}), superpixel_method=method,
                               graph_every=graph_every, device=str(device), seed=seed,
                               slic_threads=torch.get_num_threads())  # scikit-image gets the threads torch has
    env_config = env_config_for(spec["preset"], **spec["env"]).replace(device=str(device))
    torch.manual_seed(seed)
    env = PixGRLVectorEnv(config.num_envs, env_config, output="torch")
    agent = a2c.PixGRLAgent(env_config, config, device)
    optimizer = torch.optim.Adam(agent.net.parameters(), lr=config.lr)
    clock = StageTimer(device)
    env.reset = clock.wrap(env.reset, "env")
    env.step = clock.wrap(env.step, "env")
    agent.graph = clock.wrap(agent.graph, "graph")
    agent.net.forward = clock.wrap(agent.net.forward,
                                   lambda: "update_forward" if torch.is_grad_enabled() else "rollout_forward")
    optimizer.step = clock.wrap(optimizer.step, "optimizer")
    update = clock.wrap(a2c.update, "update")
    t_max, n_step = env_config.episode_length, config.n_step or env_config.episode_length

    def batch(i: int) -> None:
        obs, _ = env.reset(seed=seed + 1000 * i)
        t = 0
        while t < t_max:
            rollout = a2c.collect(agent, env, obs, min(n_step, t_max - t), config.reward_scale)
            update(agent.net, optimizer, rollout, a2c.nstep_returns(rollout.rewards, rollout.bootstrap, config.gamma),
                   config)
            obs, t = rollout.next_obs, t + len(rollout.obs)

    batch(0)  # warm-up: pair generation, allocator, kernels
    clock.seconds.clear()
    t0 = time.perf_counter()
    batch(1)
    total = time.perf_counter() - t0
    s = dict(clock.seconds)
    s["backward"] = s.pop("update") - s.get("update_forward", 0.0) - s.get("optimizer", 0.0)
    s["other"] = total - sum(s.values())
    env.close()
    image_steps = config.num_envs * t_max
    return {"total_s": total, "image_steps_per_s": image_steps / total,
            "seconds": {k: round(v, 4) for k, v in sorted(s.items())},
            "percent": {k: round(100 * v / total, 1) for k, v in sorted(s.items())}}


def bench_train_split(setting: str = "quick", device: str = "cpu",
                      methods: tuple[str, ...] = ("skimage", "torch"),
                      graph_every: tuple[str, ...] = ("step", "episode")) -> dict[str, Any]:
    """The time split of one training episode batch for each superpixel method and graph frequency."""
    dev = torch.device(device)
    spec = SETTINGS[setting]
    result: dict[str, Any] = {"setting": setting, "device": str(dev), "torch_threads": torch.get_num_threads(),
                              "preset": spec["preset"], "overrides": {**spec.get("agent", {}), **spec["env"]}}
    for method in methods:
        for every in graph_every:
            result[f"{method}_{every}"] = _one_split(setting, dev, method, every)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", default="quick", choices=sorted(SETTINGS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench_train_split(args.setting, args.device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
