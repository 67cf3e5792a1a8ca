"""The device figures of the Pix-GRL hot path on one GPU, written to ``benchmarks/results/<gpu name>.json``.

Run by ``benchmarks/gpu_check.sh`` (which also runs the CUDA tests, the sync check and DDP), or alone::

    python benchmarks/gpu_bench.py [--device cuda] [--quick] [--out FILE] [--sync-report FILE] [--ddp-report FILE]

Entries (wall times with CUDA synchronised around the timed region; medians of ``repeats`` after a warm-up):

- ``synthesis``: greedy 5-step synthesis (:meth:`agents.base.Agent.synthesize`) of a batch of 64 phantom 256²
  slices with the paper's network, in ms per image: float32 (the default), ``inference_dtype`` bfloat16 and
  float16, bfloat16 + ``channels_last``, and ``graph_every="episode"``; the goal is <= 5 ms per image. Also the
  share of greedy first-step actions that each variant shares with float32 (``action_agreement``).
- ``training``: :mod:`benchmarks.bench_train_split` with the ``gpu`` setting (paper network, 64 whole 256² slices,
  whole-episode returns): image-steps/s and the time split, for torch superpixels every step and every episode,
  and scikit-image SLIC every step (the former path). Goal: >= 200 image-steps/s.
- ``env``: :func:`bench_env.bench_env` with 64 envs of 256² on the GPU (dual reward, W1 approx): env steps/s.
  Goal: >= 2,000.
- ``graphconv``: :func:`bench_graphconv.bench_graphconv` on the GPU: one GraphConv(128 → 128) against a dense 5×5
  Conv2d(128, 128), forward + backward time and memory.
- ``graph``: :func:`bench_graph.bench_graph` with a batch of 64 256² slices: the pixel-graph build time, torch
  superpixels against scikit-image SLIC.
- ``sync_check`` and ``ddp``: the JSON reports of ``sync_check.py`` and ``ddp_check.py`` when given.

``--quick`` (any device, e.g. ``--device cpu --quick`` to try the script without a GPU) shrinks every size so the
whole run takes a minute on a CPU; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_env import bench_env  # noqa: E402
from bench_graph import bench_graph, phantom_batch, timed  # noqa: E402
from bench_graphconv import bench_graphconv  # noqa: E402
from bench_train_split import bench_train_split  # noqa: E402
from run_all import machine  # noqa: E402

from agents.a2c import Config, PixGRLAgent  # noqa: E402
from pixgrl_env.config import EnvConfig  # noqa: E402

GOALS = {"synthesis_ms_per_image": 5.0, "train_image_steps_per_s": 200.0, "env_steps_per_s": 2000.0}
VARIANTS: dict[str, dict[str, Any]] = {
    "float32": {},
    "bfloat16": {"inference_dtype": "bfloat16"},
    "float16": {"inference_dtype": "float16"},
    "bfloat16_channels_last": {"inference_dtype": "bfloat16", "channels_last": True},
    "float32_graph_every_episode": {"graph_every": "episode"},
}


def bench_synthesis(device: torch.device, batch: int, size: int, net_kwargs: dict[str, Any],
                    repeats: int = 3) -> dict[str, Any]:
    """ms per image of a greedy 5-step synthesis of ``batch`` slices, per inference variant; action agreement."""
    images = phantom_batch(batch, size, device)
    torch.manual_seed(0)
    base = PixGRLAgent(EnvConfig(device=str(device)), Config(net_kwargs=net_kwargs), device)
    with torch.no_grad():
        base.net.policy_head.weight.mul_(1000)  # O(1) logits, as a trained policy's, for the agreement measure
    reference = base.act(images)
    out: dict[str, Any] = {"batch": batch, "size": size, "steps": base.env_config.episode_length}
    for name, options in VARIANTS.items():
        agent = PixGRLAgent(base.env_config, base.config.replace(**options), device)
        agent.net.load_state_dict(base.net.state_dict())
        seconds = timed(lambda: agent.synthesize(images), device, repeats)
        out[name] = {"ms_per_image": 1e3 * seconds / batch,
                     "action_agreement": float((agent.act(images) == reference).float().mean())}
    return out


def gpu_file_name(device: torch.device) -> str:
    """``benchmarks/results/<gpu name>.json`` name: the device name in lower case, runs of other characters as -."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu-quick"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: try the script (numbers meaningless)")
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/<gpu name>.json")
    parser.add_argument("--sync-report", type=Path, default=None, help="sync_check.py JSON to include")
    parser.add_argument("--ddp-report", type=Path, default=None, help="ddp_check.py JSON to include")
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    quick = args.quick
    batch, size, envs = (4, 64, 4) if quick else (64, 256, 64)
    net = {"conv_channels": 8, "graph_channels": 8} if quick else {}

    results: dict[str, Any] = {"machine": machine(), "quick": quick, "goals": GOALS}
    if dev.type == "cuda":
        results["machine"]["gpu"] = {"name": torch.cuda.get_device_name(dev), "count": torch.cuda.device_count(),
                                     "capability": ".".join(map(str, torch.cuda.get_device_capability(dev))),
                                     "memory_gib": torch.cuda.get_device_properties(dev).total_memory / 2**30,
                                     "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    stages = {
        "synthesis": lambda: bench_synthesis(dev, batch, size, net),
        "training": lambda: bench_train_split("quick" if quick else "gpu", str(dev),
                                              methods=("torch",) if quick else ("torch", "skimage")),
        "env": lambda: bench_env(num_envs=envs, size=size, steps=5 if quick else 50, device=str(dev), sync=False),
        "graphconv": lambda: bench_graphconv(size=size, device=dev),
        "graph": lambda: bench_graph(batch=batch, size=size, device=str(dev)),
    }
    failed = []
    for name, run in stages.items():
        print(f"[gpu_bench] {name} ...", flush=True)
        try:
            results[name] = run()
        except Exception as exc:  # record and go on: one failing figure must not lose the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        if dev.type == "cuda":
            results[name]["peak_memory_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
            torch.cuda.reset_peak_memory_stats(dev)
    for name, path in (("sync_check", args.sync_report), ("ddp", args.ddp_report)):
        if path is not None:
            results[name] = json.loads(path.read_text()) if path.is_file() else {"error": f"no report at {path}"}

    train = results["training"].get("torch_step", {}) if "error" not in results["training"] else {}
    summary = {
        "synthesis_ms_per_image": results["synthesis"].get("float32", {}).get("ms_per_image"),
        "synthesis_ms_per_image_best": min((v["ms_per_image"] for k, v in results["synthesis"].items()
                                            if isinstance(v, dict) and "ms_per_image" in v), default=None),
        "train_image_steps_per_s": train.get("image_steps_per_s"),
        "env_steps_per_s": results["env"].get("native_steps_per_s"),
        "graph_ms_per_image": results["graph"].get("graph_ms_per_image_torch"),
        "graphconv_time_ratio": results["graphconv"].get("time_ratio"),
    }
    summary["goals_met"] = {
        "synthesis": summary["synthesis_ms_per_image_best"] is not None
        and summary["synthesis_ms_per_image_best"] <= GOALS["synthesis_ms_per_image"],
        "training": (summary["train_image_steps_per_s"] or 0) >= GOALS["train_image_steps_per_s"],
        "env": (summary["env_steps_per_s"] or 0) >= GOALS["env_steps_per_s"],
    }
    results["summary"] = summary
    results["failed_stages"] = failed
    path = args.out or HERE / "results" / gpu_file_name(dev)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(summary, indent=2))
    print(f"[gpu_bench] wrote {path}" + (f"; FAILED stages: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
