"""Does the graph's source change what the agent learns? Short trainings with each superpixel method and frequency.

Run ``python benchmarks/bench_train_compare.py [--preset quick] [--seeds 0 1] [--eval-pairs 32] [--threads 1]``; it
prints the result dict of :func:`bench_train_compare` (``benchmarks/run_all.py --only train_compare`` records it).

For every variant (``superpixel_method``, ``graph_every``): torch every step (the default), scikit-image every step
(the former default) and torch once per episode, and every seed, :func:`agents.a2c.train` runs the ``preset``
(``quick``: 100 episode batches of 8 crops of 64², a few minutes on a CPU) in a temporary folder; then the greedy
agent synthesises ``eval_pairs`` whole validation slices (:func:`agents.training.quick_eval`). Reported per run:
SSIM and PSNR against the enhanced target (and the identity's), training wall time; per variant: the mean and the
spread (max − min) over the seeds. A variant learns "the same" when its mean SSIM lies within the seeds' spread of
the default's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents import a2c  # noqa: E402
from agents.training import env_config_for, quick_eval  # noqa: E402

VARIANTS = {"torch_step": ("torch", "step"), "skimage_step": ("skimage", "step"), "torch_episode": ("torch", "episode")}


def bench_train_compare(preset: str = "quick", seeds: tuple[int, ...] = (0, 1), eval_pairs: int = 32,
                        variants: tuple[str, ...] = tuple(VARIANTS)) -> dict[str, Any]:
    """Validation SSIM/PSNR after training each variant with each seed; see the module docstring."""
    env_config = env_config_for(preset)
    result: dict[str, Any] = {"preset": preset, "seeds": list(seeds), "eval_pairs": eval_pairs,
                              "torch_threads": torch.get_num_threads()}
    for name in variants:
        method, every = VARIANTS[name]
        runs = []
        for seed in seeds:
            config = a2c.Config.preset(preset, superpixel_method=method, graph_every=every, seed=seed, eval_pairs=0,
                                       checkpoint_every=0, torch_threads=torch.get_num_threads(),
                                       slic_threads=torch.get_num_threads())
            with tempfile.TemporaryDirectory() as run_dir:
                t0 = time.perf_counter()
                agent = a2c.train(config, env_config, run_dir)
                wall = time.perf_counter() - t0
            runs.append({"seed": seed, "train_s": wall, **quick_eval(agent, env_config, eval_pairs)})
        ssim = [r["ssim"] for r in runs]
        result[name] = {"runs": runs, "ssim_mean": statistics.mean(ssim), "ssim_spread": max(ssim) - min(ssim),
                        "psnr_mean": statistics.mean(r["psnr"] for r in runs),
                        "train_s_mean": statistics.mean(r["train_s"] for r in runs)}
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", choices=sorted(a2c.PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--eval-pairs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench_train_compare(args.preset, tuple(args.seeds), args.eval_pairs)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
