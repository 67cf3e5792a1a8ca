"""Time and memory of one GraphConv(128 → 128) layer against a dense 5×5 nn.Conv2d(128, 128), forward + backward.

Run ``python benchmarks/bench_graphconv.py [--size 256] [--batch 1] [--channels 128] [--repeats 3] [--device cpu]``;
it prints the result dict of :func:`bench_graphconv`. Goals: time ratio <= 1.5 and memory ratio <= 2 (GraphConv /
Conv2d).

What is measured, per layer, with the input requiring grad (as inside a network) and one backward of a fixed
upstream gradient:

- ``time_s``: median wall time of forward + backward over ``repeats`` runs after one warm-up run.
- ``saved_bytes``: bytes of the tensors autograd keeps between forward and backward (captured with
  ``torch.autograd.graph.saved_tensors_hooks``, parameters excluded) plus the output, each storage counted once.
  This is the activation memory a layer adds to a training step, and it is exact and device-independent.
- ``peak_bytes``: the peak of memory allocated during the whole forward + backward, above what was allocated
  before it (input, upstream gradient and parameters excluded), i.e. including temporaries and the input gradient.
  On CUDA: ``torch.cuda.max_memory_allocated``. On CPU: the running sum of the allocation and free events that
  ``torch.profiler`` records with ``profile_memory=True``, replayed in time order: the CPU analogue of
  ``max_memory_allocated``. It counts what torch's CPU allocator hands out (including oneDNN's reorder buffers, which
  go through it), not the process's resident set: glibc keeps freed blocks below its mmap threshold (up to 32 MiB)
  on its heap, so peak RSS over-stated the peak by up to four feature maps in trials and is not used.

The GraphConv timed includes its bias and ReLU; the Conv2d reference is the bare convolution (with bias), so the
ratios are slightly conservative for GraphConv. The graph is built from a synthetic image with SLIC
(``agents.graph.graph_weights``), outside the timed region, and treated as a constant as in training.
"""

from __future__ import annotations

import argparse
import pprint
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.graph import graph_weights  # noqa: E402
from agents.networks import GraphConv  # noqa: E402


def _cpu_peak_bytes(run: Callable[[], None]) -> int:
    """Peak of live bytes allocated through torch's CPU allocator during ``run``, above the level before it.

    Replays the allocation/free events recorded by ``torch.profiler`` (``profile_memory=True``) in time order.
    """
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        if e.device_type() == torch._C._autograd.DeviceType.CPU:
            live += e.nbytes()
            peak = max(peak, live)
    return peak


def _synthetic_image(size: int, batch: int) -> torch.Tensor:
    """Disc-and-ring phantom with mild noise, (batch, 1, size, size) in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    r = (xx**2 + yy**2).sqrt()
    img = 0.2 + 0.5 * (r < 0.6) + 0.2 * ((r > 0.3) & (r < 0.4))
    img = img + 0.03 * torch.randn((batch, 1, size, size), generator=g)
    return img.clamp(0, 1)


def _saved_bytes(step: Callable[[], torch.Tensor], params: set[int]) -> int:
    """Bytes of tensors saved for backward (once per storage, parameters excluded) plus the output."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in params:
            s = t.untyped_storage()
            storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = step()
    s = out.untyped_storage()
    storages[s.data_ptr()] = s.nbytes()  # the output, unless already saved (e.g. by ReLU)
    return sum(storages.values())


def _measure(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, grad: torch.Tensor, repeats: int, params: set[int]
) -> dict[str, float | int]:
    device = x.device

    def run() -> None:
        x.grad = None
        forward(x).backward(grad)

    run()  # warm-up (kernel selection, thread pools)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)

    x.grad = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = _cpu_peak_bytes(run)
    x.grad = None
    saved = _saved_bytes(lambda: forward(x), params)
    return {"time_s": statistics.median(times), "saved_bytes": saved, "peak_bytes": peak}


def bench_graphconv(
    size: int = 256, batch: int = 1, channels: int = 128, repeats: int = 3, device: str | torch.device = "cpu"
) -> dict[str, object]:
    """Compare one GraphConv(channels → channels) with nn.Conv2d(channels, channels, 5, padding=2).

    Args:
        size: Image side H = W.
        batch: Batch size N.
        channels: Input and output channels of both layers.
        repeats: Timed forward + backward runs per layer (median reported), after one warm-up.
        device: Device to run on.

    Returns:
        Dict with the settings, ``graphconv`` and ``conv`` results (``time_s``, ``saved_bytes``, ``peak_bytes``) and
        the ratios ``time_ratio``, ``saved_ratio``, ``peak_ratio`` (GraphConv / Conv2d) and whether they meet the
        goals (time <= 1.5, memory <= 2).
    """
    device = torch.device(device)
    torch.manual_seed(0)
    graph = graph_weights(_synthetic_image(size, batch), device=device)
    x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
    grad = torch.randn(batch, channels, size, size, device=device)

    gconv = GraphConv(channels, channels).to(device)
    conv = nn.Conv2d(channels, channels, 5, padding=2).to(device)
    results = {
        "graphconv": _measure(lambda t: gconv(t, graph), x, grad, repeats, {p.data_ptr() for p in gconv.parameters()}),
        "conv": _measure(conv, x, grad, repeats, {p.data_ptr() for p in conv.parameters()}),
    }
    g, c = results["graphconv"], results["conv"]
    time_ratio = g["time_s"] / c["time_s"]
    saved_ratio = g["saved_bytes"] / c["saved_bytes"]
    peak_ratio = g["peak_bytes"] / c["peak_bytes"]
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "size": size,
        "batch": batch,
        "channels": channels,
        "repeats": repeats,
        "feature_map_bytes": batch * channels * size * size * 4,
        **results,
        "time_ratio": time_ratio,
        "saved_ratio": saved_ratio,
        "peak_ratio": peak_ratio,
        "meets_time_goal": time_ratio <= 1.5,
        "meets_memory_goal": saved_ratio <= 2.0 and peak_ratio <= 2.0,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: print the result dict."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    result = bench_graphconv(args.size, args.batch, args.channels, args.repeats, args.device)
    pprint.pprint(result, sort_dicts=False)


if __name__ == "__main__":
    main()
