"""Run the benchmarks in one process and write their results as JSON with a description of the machine.

    python benchmarks/run_all.py                        # everything, CPU (and CUDA where present)
    python benchmarks/run_all.py --only env w1 phantom  # a subset
    python benchmarks/run_all.py --out benchmarks/results/my-machine.json

Speed goals are ratios measured in the same run (this machine is noisy); absolute times are reported for GPUs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402


def machine() -> dict:
    """What ran the benchmarks: CPU, cores, torch threads, GPU, library versions."""
    import gymnasium
    import numpy

    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "torch": torch.__version__, "numpy": numpy.__version__, "gymnasium": gymnasium.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["loadavg_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def _benchmarks(quick: bool) -> dict:
    from bench_agent import bench_agent
    from bench_env import bench_env
    from bench_graph import bench_graph
    from bench_graphconv import bench_graphconv
    from bench_phantom import bench_phantom
    from bench_rewards import bench_w1
    from bench_superpixels import bench_superpixels
    from bench_train_compare import bench_train_compare
    from bench_train_split import bench_train_split

    cuda = torch.cuda.is_available()
    runs = {
        "env": lambda: {"cpu_256": bench_env(num_envs=16, size=256, steps=5 if quick else 10),
                        "cpu_64": bench_env(num_envs=16, size=64, steps=20),
                        **({"cuda_256_64envs": bench_env(num_envs=64, size=256, steps=50, device="cuda", sync=False)}
                           if cuda else {})},
        "w1": lambda: {"threads_1": bench_w1(threads=1), f"threads_{torch.get_num_threads()}": bench_w1()},
        "phantom": lambda: bench_phantom(n=20 if quick else 60),
        "graphconv": lambda: {"cpu": bench_graphconv(),
                              **({"cuda": bench_graphconv(device="cuda")} if cuda else {})},
        "agent": lambda: {"cpu": bench_agent(device="cpu"), **({"cuda": bench_agent(device="cuda")} if cuda else {})},
        "superpixels": lambda: bench_superpixels(slices=16 if quick else 32),
        "graph": lambda: {"cpu": bench_graph(batch=16, size=256),
                          **({"cuda": bench_graph(batch=64, size=256, device="cuda")} if cuda else {})},
        "train_split": lambda: {"quick": bench_train_split("quick"),
                                **({} if quick else {"paper": bench_train_split("paper", graph_every=("step",))}),
                                **({"cuda_gpu": bench_train_split("gpu", "cuda")} if cuda else {})},
        "train_compare": lambda: bench_train_compare(seeds=(0,) if quick else (0, 1)),
    }
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*",
                        help="subset of: env w1 phantom graphconv agent superpixels graph train_split train_compare")
    parser.add_argument("--out", default=None, help="JSON file (default benchmarks/results/<cpu|cuda>.json)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: torch's default); 1 on a busy shared machine")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = _benchmarks(args.quick)
    names = args.only or list(runs)
    unknown = set(names) - set(runs)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; expected some of {list(runs)}")
    path = Path(args.out) if args.out else HERE / "results" / ("cuda.json" if torch.cuda.is_available() else "cpu.json")
    # A subset run updates those entries of an existing file and keeps the others (each keeps its own machine note).
    out = json.loads(path.read_text()) if path.is_file() else {"results": {}}
    out["machine"] = machine()
    for name in names:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        out["results"][name] = runs[name]()
        out["results"][name]["_wall_s"] = round(time.perf_counter() - t0, 1)
        out["results"][name]["_machine"] = out["machine"]
        print(json.dumps(out["results"][name], indent=2, default=str), flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"[bench] wrote {path}")


if __name__ == "__main__":
    main()
