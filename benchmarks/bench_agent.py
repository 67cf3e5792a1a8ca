"""Throughput of the Pix-GRL agent: A2C training on the native vector env, and greedy synthesis of 256² images.

Run ``python benchmarks/bench_agent.py [--size 256] [--num-envs N] [--batches B] [--device cpu|cuda|all]
[--threads T] [--out results.json]``; it prints the result dict of :func:`bench_agent` for the CPU and, when one is
available, for CUDA (``--device all``, the default).

What is measured (wall time, ``time.perf_counter``, CUDA synchronised before each reading):

- ``train_steps_per_s``: image-steps per second of the training loop of :mod:`agents.a2c` (the same ``collect``,
  ``nstep_returns`` and ``update`` functions ``train`` runs: env steps with the dual reward, SLIC graphs, the
  no-grad rollout forward, the recomputed forward + backward, Adam), over ``batches`` episode batches of
  ``num_envs`` images after one warm-up batch. ``train_pixel_steps_per_s`` multiplies it by the pixels of an image.
  Logging, evaluation and checkpoints are not included.
- ``synth_s_per_image``: one greedy 5-step synthesis of one ``size²`` image, SLIC included (median of
  ``repeats``); the paper reports 0.49 s per 256² image on a P100. ``synth_batch_s_per_image``: the same for a batch
  of ``synth_batch`` images, divided by the batch size. ``graph_s_per_image``: SLIC + adjacency of one image, the part
  of every step that runs on the CPU.

The network is the paper's (``Config().net_kwargs`` empty: 64/128 channels) unless ``net_kwargs`` is given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.a2c import Config, PixGRLAgent, collect, nstep_returns, update  # noqa: E402
from agents.training import resolve_device  # noqa: E402
from pixgrl_env.config import EnvConfig  # noqa: E402
from pixgrl_env.env import PixGRLVectorEnv  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Any, device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_agent(device: str = "cpu", size: int = 256, num_envs: int | None = None, batches: int | None = None,
                crop: int | None = None, backbone: str = "graph", net_kwargs: dict[str, Any] | None = None,
                synth_batch: int = 8, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Training and synthesis throughput of the Pix-GRL agent on ``device``.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        size: Side of the phantom images (``size × size``).
        num_envs: Images per training batch (default 2 on CPU, 32 on CUDA).
        batches: Timed episode batches (default 1 on CPU, 5 on CUDA), after one warm-up batch.
        crop: Train on ``crop × crop`` windows (None: whole images).
        backbone: Network backbone (:data:`agents.networks.BACKBONES`).
        net_kwargs: Network widths (default: the paper's network).
        synth_batch: Batch size of the batched-synthesis timing.
        repeats: Repeats of each synthesis timing (median reported).
        seed: Seed of torch and the env.

    Returns:
        A dict of the settings and the timings described in the module docstring.
    """
    dev = resolve_device(device)
    num_envs = num_envs or (32 if dev.type == "cuda" else 2)
    batches = batches or (5 if dev.type == "cuda" else 1)
    torch.manual_seed(seed)
    env_config = EnvConfig.preset("paper", dataset="phantom", crop=crop, device=str(dev),
                                  dataset_kwargs={"size": size, "n_patients": 10, "slices_per_patient": 2})
    config = Config(backbone=backbone, net_kwargs=net_kwargs or {}, num_envs=num_envs, device=str(dev), seed=seed)
    env = PixGRLVectorEnv(num_envs, env_config, output="torch")
    agent = PixGRLAgent(env_config, config, dev)
    optimizer = torch.optim.Adam(agent.net.parameters(), lr=config.lr)
    t_max = env_config.episode_length

    def batch(i: int) -> None:
        obs, _ = env.reset(seed=seed + 1000 * i)
        rollout = collect(agent, env, obs, t_max, config.reward_scale)
        update(agent.net, optimizer, rollout, nstep_returns(rollout.rewards, rollout.bootstrap, config.gamma), config)

    batch(0)  # warm-up: pair generation, cuDNN autotuning, allocator
    _sync(dev)
    t0 = time.perf_counter()
    for i in range(batches):
        batch(i + 1)
    _sync(dev)
    train_s = time.perf_counter() - t0
    pixels = env.source.shape[0] * env.source.shape[1]
    steps_per_s = batches * num_envs * t_max / train_s
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev)

    pairs = [env.source.dataset[i] for i in range(synth_batch)]
    images = torch.stack([torch.from_numpy(p.input) for p in pairs])[:, None].to(dev)
    graph_s = _timed(lambda: agent.graph(images[:1]), dev, repeats)
    synth_s = _timed(lambda: agent.synthesize(images[:1]), dev, repeats)
    synth_batch_s = _timed(lambda: agent.synthesize(images), dev, repeats)

    result = {
        "device": str(dev) if dev.type == "cpu" else f"{dev} ({torch.cuda.get_device_name(dev)})",
        "torch_threads": torch.get_num_threads(),
        "backbone": backbone,
        "parameters": sum(p.numel() for p in agent.net.parameters()),
        "size": size,
        "crop": crop,
        "num_envs": num_envs,
        "batches": batches,
        "train_s_per_batch": train_s / batches,
        "train_steps_per_s": steps_per_s,
        "train_pixel_steps_per_s": steps_per_s * pixels,
        "graph_s_per_image": graph_s,
        "synth_s_per_image": synth_s,
        "synth_batch": synth_batch,
        "synth_batch_s_per_image": synth_batch_s / synth_batch,
    }
    if dev.type == "cuda":
        result["train_peak_memory_gib"] = peak / 2**30
    env.close()
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="all", help='"cpu", "cuda", or "all" (CPU, and CUDA when available)')
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crop", type=int, default=None)
    parser.add_argument("--num-envs", type=int, default=None)
    parser.add_argument("--batches", type=int, default=None)
    parser.add_argument("--backbone", default="graph")
    parser.add_argument("--net-kwargs", type=json.loads, default=None, help='JSON, e.g. {"graph_channels": 32}')
    parser.add_argument("--synth-batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    results = []
    for device in devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device}: no CUDA device, skipped")
            continue
        result = bench_agent(device, args.size, args.num_envs, args.batches, args.crop, args.backbone,
                             args.net_kwargs, args.synth_batch)
        print(json.dumps(result, indent=2))
        results.append(result)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
