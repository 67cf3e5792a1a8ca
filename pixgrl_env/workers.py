"""Torch threads in worker processes: the env runs under ``fork``, ``forkserver`` and ``spawn`` without hanging.

Vectorised training runs one env per worker process (Gymnasium's ``AsyncVectorEnv``, Stable-Baselines3's
``SubprocVecEnv``, :mod:`multiprocessing`). With torch's defaults two things go wrong there:

* **fork deadlocks.** Torch's CPU ops run on an OpenMP thread pool (GNU ``libgomp`` in the Linux wheels) that is
  not fork-safe: once the parent has run one parallel op, the first parallel op in a forked child waits forever
  for pool threads that were not copied. Importing :mod:`pixgrl_env` registers :func:`one_thread_after_fork`
  with :func:`os.register_at_fork`, so a child forked afterwards from a process that has imported torch starts
  with one torch thread, which never touches the pool (the setting of PyTorch's ``DataLoader`` workers).
* **Oversubscription.** A ``spawn`` or ``forkserver`` worker imports torch afresh with one thread per core, so
  ``W`` workers run ``W × cores`` busy threads on ``cores`` cores and the env's small per-step ops spend their time
  waiting on each other (measured 10-40× slower per step with 2 workers on 2 cores). :func:`limit_worker_threads`,
  called by the env constructors, gives a worker process one torch thread unless ``OMP_NUM_THREADS`` is set.

The main process is never changed: there torch's threads stay as configured.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

_state = {"forked": False, "limited": False}


def one_thread_after_fork() -> None:
    """The ``os.register_at_fork(after_in_child=...)`` hook: one torch intra-op thread in a forked child.

    Does nothing when the parent had not imported torch (then there is no thread pool to inherit).
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    _state["forked"] = True
    torch.set_num_threads(1)


def in_worker_process() -> bool:
    """True in a process started by :mod:`multiprocessing` (any start method) or forked after torch was imported."""
    return _state["forked"] or multiprocessing.parent_process() is not None


def limit_worker_threads() -> None:
    """In a worker process, set one torch intra-op thread, once, unless ``OMP_NUM_THREADS`` is set.

    Does nothing in the main process, when ``OMP_NUM_THREADS`` chose the count, or after the first call in this
    process (so a later ``torch.set_num_threads`` by the user stands). With it, ``W`` env workers use ``W`` threads
    in all, whatever the start method.
    """
    if _state["limited"] or not in_worker_process() or "OMP_NUM_THREADS" in os.environ:
        return
    _state["limited"] = True
    import torch

    torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=one_thread_after_fork)

__all__ = ["in_worker_process", "limit_worker_threads", "one_thread_after_fork"]
