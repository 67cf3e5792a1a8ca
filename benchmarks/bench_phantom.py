"""Throughput of the physics-based liver phantom: pairs generated per second on one CPU thread.

Run ``python benchmarks/bench_phantom.py [--n 40] [--size 256] [--seed 0]``; it prints the result dict of
:func:`bench_phantom`. Goal: ``pairs_per_s >= 50`` at 256×256 on one core.

What is measured: ``PhantomDataset(size=size, seed=seed)[i]`` for ``i = 0 … n-1`` in item order, i.e. the full
``Pair`` (anatomy, parameter maps, SPGR signals, bias field, Rician noise, normalisation and ``validate()``), with
the per-patient work (one patient per ``slices_per_patient`` = 8 items) included. One warm-up item of another
dataset is generated first (it builds the cached interpolation matrices).

Single thread: the phantom is single-threaded by construction (element-wise NumPy, ``scipy.ndimage``, and BLAS
products kept below OpenBLAS's threading threshold). When run as a script, ``OMP/OPENBLAS/MKL_NUM_THREADS=1`` are
also set before NumPy is imported, and ``threadpoolctl`` (if installed) limits BLAS pools inside
:func:`bench_phantom`. Both the wall-clock rate ``pairs_per_s`` and the CPU-time rate ``pairs_per_cpu_s`` (process
CPU time, which is insensitive to other processes competing for the core) are reported; on a shared machine the
CPU-time rate is the one-core figure.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before NumPy is imported
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import contextlib
import pprint
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixgrl_env.data.phantom import PhantomDataset


def _one_thread() -> contextlib.AbstractContextManager[Any]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def bench_phantom(n: int = 40, size: int = 256, seed: int = 0) -> dict[str, Any]:
    """Generate ``n`` phantom pairs of ``size × size`` and time them.

    Args:
        n: Number of pairs (items ``0 … n-1``), >= 1.
        size: Image side in pixels.
        seed: Dataset seed.

    Returns:
        ``{"n", "size", "seconds", "cpu_seconds", "pairs_per_s", "pairs_per_cpu_s", "ms_per_pair"}``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    with _one_thread():
        PhantomDataset(n_patients=1, slices_per_patient=1, size=size, seed=seed + 1)[0]  # warm-up
        n_patients = -(-n // 8)
        ds = PhantomDataset(n_patients=n_patients, slices_per_patient=8, size=size, seed=seed)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            ds[i]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"n": n, "size": size, "seconds": wall, "cpu_seconds": cpu, "pairs_per_s": n / wall,
            "pairs_per_cpu_s": n / max(cpu, 1e-9), "ms_per_pair": 1e3 * wall / n}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point: parse ``argv``, run :func:`bench_phantom`, print and return its dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = bench_phantom(args.n, args.size, args.seed)
    pprint.pprint(out, sort_dicts=False)
    return out


if __name__ == "__main__":
    main()
