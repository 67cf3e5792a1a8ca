"""DistributedDataParallel with NCCL on the GPUs present: Pix-GRL training steps, throughput, identical weights.

Run under torchrun, one process per GPU (``benchmarks/gpu_check.sh`` does)::

    torchrun --standalone --nproc_per_node=$(nvidia-smi -L | wc -l) benchmarks/ddp_check.py --out ddp.json

Every process joins an NCCL process group (also with a single GPU, so NCCL itself is exercised), wraps the paper's
network in ``DistributedDataParallel`` and runs the training loop's ``collect``/``nstep_returns``/``update`` of
:mod:`agents.a2c` on its own ``num_envs`` whole 256² phantom slices: one warm-up episode batch, then ``batches``
timed ones. Rank 0 writes the JSON: image-steps per second over all processes, and whether the weights are still
identical on every rank (DDP averages the gradients, so they must be). Exits 1 when they are not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.a2c import Config, PixGRLAgent, collect, nstep_returns, update  # noqa: E402
from pixgrl_env.config import EnvConfig  # noqa: E402
from pixgrl_env.env import PixGRLVectorEnv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=64, help="images per process")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=2, help="timed episode batches (after one warm-up batch)")
    parser.add_argument("--out", type=Path, default=None, help="JSON written by rank 0")
    args = parser.parse_args(argv)

    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local)
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", device_id=device)
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    env_config = EnvConfig.preset("paper", dataset="phantom", device=str(device), split="all",
                                  dataset_kwargs={"size": args.size, "n_patients": args.num_envs,
                                                  "slices_per_patient": 1, "seed": rank})
    config = Config(num_envs=args.num_envs, device=str(device))
    env = PixGRLVectorEnv(args.num_envs, env_config, output="torch")
    agent = PixGRLAgent(env_config, config, device)
    model = nn.parallel.DistributedDataParallel(agent.net, device_ids=[local])
    optimizer = torch.optim.Adam(agent.net.parameters(), lr=config.lr)
    t_max = env_config.episode_length

    def batch(i: int) -> None:
        obs, _ = env.reset(seed=1000 * i + rank)
        rollout = collect(agent, env, obs, t_max, config.reward_scale)
        update(model, optimizer, rollout, nstep_returns(rollout.rewards, rollout.bootstrap, config.gamma), config)

    batch(0)
    torch.cuda.synchronize(device)
    dist.barrier()
    t0 = time.perf_counter()
    for i in range(args.batches):
        batch(i + 1)
    torch.cuda.synchronize(device)
    dist.barrier()
    seconds = time.perf_counter() - t0

    flat = torch.cat([p.detach().flatten() for p in agent.net.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    max_diff = max(float((g - flat).abs().max()) for g in gathered)
    result = {"world_size": world, "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
              "backend": dist.get_backend(), "nccl_version": ".".join(map(str, torch.cuda.nccl.version())),
              "num_envs_per_process": args.num_envs, "size": args.size, "batches": args.batches,
              "image_steps_per_s": world * args.num_envs * t_max * args.batches / seconds,
              "weights_max_abs_diff_across_ranks": max_diff, "weights_identical": max_diff == 0.0}
    if rank == 0:
        print(json.dumps(result, indent=2))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=2))
    env.close()
    dist.destroy_process_group()
    return 0 if result["weights_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
