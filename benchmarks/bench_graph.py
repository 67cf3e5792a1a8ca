"""Time to build the Pix-GRL pixel graph of a batch: torch superpixels against scikit-image SLIC, in one run.

Run ``python benchmarks/bench_graph.py [--batch 16] [--size 256] [--device cpu] [--threads 1]``; it prints the result
dict of :func:`bench_graph` (``benchmarks/run_all.py --only graph`` records it in the results file).

What is timed (median wall time of ``repeats`` rounds after a warm-up round, each round running every variant
once in turn; CUDA synchronised around each): the agent's own :func:`agents.a2c.pixel_graph` of ``batch`` phantom
slices of ``size²`` already on ``device``, with ``superpixel_method="torch"`` (:func:`agents.superpixels.slic_torch`
on the device) and ``"skimage"`` (host copy, scikit-image SLIC over ``slic_threads`` threads = the torch thread
count, adjacency back on the device), and its two parts: the superpixels alone and the adjacency
(:func:`agents.graph.adjacency_weights`) alone.

The goal on the CPU is ``ratio_torch_over_skimage <= 1`` (torch no slower), measured in one run so that the load of
a shared machine affects both alike.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.a2c import Config, pixel_graph  # noqa: E402
from agents.graph import adjacency_weights  # noqa: E402
from agents.superpixels import superpixels  # noqa: E402
from pixgrl_env.data.phantom import PhantomDataset  # noqa: E402


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after one warm-up run (CUDA synchronised)."""
    return timed_together({"fn": fn}, device, repeats)["fn"]


def timed_together(fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int) -> dict[str, float]:
    """Median wall time of each ``fn()`` over ``repeats`` rounds that run every function once in turn (after one
    warm-up round), so that a shared machine's changing load weighs on all of them alike."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def phantom_batch(batch: int, size: int, device: torch.device | str) -> torch.Tensor:
    """``(batch, 1, size, size)`` phantom input slices on ``device`` (patients 0.., two slices each)."""
    ds = PhantomDataset(n_patients=max(1, -(-batch // 2)), slices_per_patient=2, size=size, seed=0)
    return torch.stack([torch.from_numpy(ds[i].input) for i in range(batch)])[:, None].to(device)


def bench_graph(batch: int = 16, size: int = 256, device: str = "cpu", repeats: int = 5) -> dict[str, Any]:
    """Pixel-graph build time with torch and scikit-image superpixels, and its parts; see the module docstring."""
    dev = torch.device(device)
    images = phantom_batch(batch, size, dev)
    threads = torch.get_num_threads()
    result: dict[str, Any] = {"device": str(dev), "batch": batch, "size": size, "torch_threads": threads}
    configs = {m: Config(superpixel_method=m, slic_threads=threads) for m in ("torch", "skimage")}
    labels = superpixels(images)
    fns = {**{f"graph_s_{m}": functools.partial(pixel_graph, images, c, dev) for m, c in configs.items()},
           **{f"superpixels_s_{m}": functools.partial(superpixels, images, method=m) for m in configs},
           "adjacency_s": functools.partial(adjacency_weights, labels)}
    result.update(timed_together(fns, dev, repeats))
    result["graph_ms_per_image_torch"] = 1e3 * result["graph_s_torch"] / batch
    result["ratio_torch_over_skimage"] = result["graph_s_torch"] / result["graph_s_skimage"]
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench_graph(args.batch, args.size, args.device, args.repeats)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
