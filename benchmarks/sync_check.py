"""Prove that the hot path makes no host synchronisation: the pixel graph, agent acting and env stepping on CUDA.

Run ``python benchmarks/sync_check.py [--device cuda] [--quick]``. Every stage below runs once to warm up, then once
under ``torch.cuda.set_sync_debug_mode("warn")`` with every warning recorded together with the innermost frame of
this repository that caused it; a stage passes when it caused none (``"error"`` mode would stop at the first one;
"warn" lists them all, and any would be an error). A synchronisation is any blocking device-to-host read
(``.item()``, ``bool(t)``, ``.cpu()``, ``nonzero``…) *and* any blocking host-to-device copy of pageable memory
(``torch.as_tensor(numpy_array, device="cuda")``, ``torch.tensor(..., device="cuda")``): both stall the CPU until
the GPU has drained its queue.

Required stages (the exit status is 1 when one of them synchronises):

- ``superpixels``: :func:`agents.superpixels.slic_torch` of the batch;
- ``pixel_graph``: :func:`agents.a2c.pixel_graph` (torch superpixels + adjacency), the graph of every step;
- ``act_greedy`` and ``act_sampled``: :meth:`agents.a2c.PixGRLAgent.act` on the env's observations;
- ``env_step``: one :meth:`pixgrl_env.env.PixGRLVectorEnv.step` with ``output="torch"``, dual reward, W1 approx.

Reported, not required (their synchronisations are once per rollout or per update, for control flow and logging):
``collect`` (:func:`agents.a2c.collect`, one rollout) and ``synthesize`` (:meth:`agents.base.Agent.synthesize`,
which validates its input range).

With ``--device cpu`` there is no sync debug mode: the stages run once each (a dry run of this script) and are
reported ``"not checked"``. Prints a summary and a JSON line; ``--out`` also writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.a2c import Config, PixGRLAgent, collect, pixel_graph  # noqa: E402
from agents.superpixels import slic_torch  # noqa: E402
from pixgrl_env.config import EnvConfig  # noqa: E402
from pixgrl_env.env import PixGRLVectorEnv  # noqa: E402

REQUIRED = ("superpixels", "pixel_graph", "act_greedy", "act_sampled", "env_step")


def _site() -> str:
    """The innermost frame of this repository (outside this script) on the current stack, as ``path:line code``."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if path.is_relative_to(ROOT) and path.name != Path(__file__).name:
            return f"{path.relative_to(ROOT)}:{frame.lineno} {frame.line}"
    return "outside the repository"


def sync_sites(fn: Callable[[], Any]) -> list[str]:
    """The distinct repository lines at which ``fn()`` made CUDA synchronise (sync debug mode "warn")."""
    sites: list[str] = []

    def record(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if "synchroniz" in str(message):
            site = _site()
            if site not in sites:
                sites.append(site)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sites


def stages(device: torch.device, size: int, num_envs: int) -> dict[str, Callable[[], Any]]:
    """The stages to check, on warm objects: env (dual reward, W1 approx), paper-network agent, torch graph."""
    env_config = EnvConfig.preset("paper", dataset="phantom", device=str(device), w1_method="approx", split="all",
                                  dataset_kwargs={"size": size, "n_patients": num_envs, "slices_per_patient": 1})
    env = PixGRLVectorEnv(num_envs, env_config, output="torch")
    config = Config(superpixel_method="torch", device=str(device))
    agent = PixGRLAgent(env_config, config, device)
    obs, _ = env.reset(seed=0)
    images = obs[:, :1].clone()
    actions = agent.act(obs)

    def env_step() -> None:
        env.step(actions)

    rollout_env = PixGRLVectorEnv(num_envs, env_config, output="torch")
    state = {"obs": rollout_env.reset(seed=1)[0]}

    def collect_one() -> None:  # one step of an episode (two calls: warm-up and check, within the 5 steps)
        state["obs"] = collect(agent, rollout_env, state["obs"], 1, config.reward_scale).next_obs

    return {
        "superpixels": lambda: slic_torch(images),
        "pixel_graph": lambda: pixel_graph(images, config, device),
        "act_greedy": lambda: agent.act(obs),
        "act_sampled": lambda: agent.act(obs, deterministic=False),
        "env_step": env_step,
        "collect": collect_one,
        "synthesize": lambda: agent.synthesize(images),
    }


def check(device: str = "cuda", quick: bool = False) -> dict[str, Any]:
    """Run every stage and return ``{"device", "stages": {name: {"required", "syncs" | "status"}}, "ok"}``."""
    dev = torch.device(device)
    size, num_envs = (64, 4) if quick else (256, 64)
    checks = stages(dev, size, num_envs)
    report: dict[str, Any] = {"device": str(dev), "size": size, "num_envs": num_envs, "stages": {}}
    for name, fn in checks.items():
        fn()  # warm-up: allocator, kernels, caches
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            report["stages"][name] = {"required": name in REQUIRED, "syncs": sync_sites(fn)}
        else:
            fn()
            report["stages"][name] = {"required": name in REQUIRED, "status": "not checked (no CUDA)"}
    report["checked"] = dev.type == "cuda"
    report["ok"] = all(not s.get("syncs") for s in report["stages"].values() if s["required"])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="64² images, 4 envs (instead of 256², 64 envs)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    report = check(args.device, args.quick)
    for name, stage in report["stages"].items():
        tag = "required" if stage["required"] else "reported"
        if "syncs" not in stage:
            print(f"[sync] {name:12s} {tag}: {stage['status']}")
            continue
        found = f"{len(stage['syncs'])} sync site(s)" if stage["syncs"] else "no sync"
        print(f"[sync] {name:12s} {tag}: {found}")
        for site in stage["syncs"]:
            print(f"         {site}")
    if not report["checked"]:
        print("[sync] DRY RUN: every stage ran; nothing can be checked without CUDA")
    else:
        print(f"[sync] {'OK' if report['ok'] else 'FAILED'}: required stages free of host synchronisation")
    print(json.dumps(report))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
