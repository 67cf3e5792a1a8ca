"""Several processes under torchrun: joining the process group, wrapping a model in DDP, gathering RNG states.

``torchrun --nproc_per_node=N -m agents.a2c ...`` starts N processes with ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK`` set; :func:`setup` joins them (NCCL on CUDA, gloo on the CPU), each on ``cuda:LOCAL_RANK`` when the
run's device is CUDA. A single process (no ``WORLD_SIZE``) gets rank 0 of 1 and no process group.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn

from agents.checkpoint import capture_rng
from agents.training import resolve_device


class Processes(NamedTuple):
    """This process's place among the run's processes."""

    rank: int
    world: int  #: number of processes
    device: torch.device
    owns_group: bool  #: we initialised the process group (and :func:`teardown` destroys it)

    @property
    def lead(self) -> bool:
        """Rank 0: the process that logs, evaluates and writes files."""
        return self.rank == 0


def setup(device: str) -> Processes:
    """Detect torchrun (``WORLD_SIZE`` > 1, or a process group already initialised) and join the process group.

    Args:
        device: The run's device (``"auto"``, ``"cpu"``, ``"cuda"``…; see
            :func:`agents.training.resolve_device`). Under torchrun a CUDA device becomes ``cuda:LOCAL_RANK``.
    """
    dev = resolve_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 and not (dist.is_available() and dist.is_initialized()):
        return Processes(0, 1, dev, False)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), dev, owns)


def wrap(model: nn.Module, procs: Processes) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` when there are several processes (gradients averaged on backward),
    else ``model`` itself."""
    if procs.world == 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[procs.device.index] if procs.device.type == "cuda"
                                               else None)


def gather_rng(world: int) -> list[dict[str, Any]]:
    """Every process's RNG states (:func:`agents.checkpoint.capture_rng`), in rank order; collective under DDP."""
    rng = capture_rng()
    if world == 1:
        return [rng]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, {k: (v.cpu() if isinstance(v, Tensor) else
                                     [s.cpu() for s in v] if isinstance(v, list) else v) for k, v in rng.items()})
    return out


def teardown(procs: Processes) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if procs.owns_group and dist.is_initialized():
        dist.destroy_process_group()
