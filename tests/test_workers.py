"""The env in worker processes: Gymnasium's AsyncVectorEnv under fork, forkserver and spawn, SB3's SubprocVecEnv.

Each case runs in a fresh interpreter with a deadline, so a deadlock fails the test instead of stalling the suite:
the parent first runs a parallel torch op on two threads (the state in which a forked child used to hang), then
steps the async vector env and checks it against the sync one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 240

SCRIPT = textwrap.dedent("""
    import os
    import sys

    import gymnasium as gym
    import numpy as np
    import torch

    import pixgrl_env  # noqa: F401


    def make(mode, **kwargs):
        return gym.make_vec("PixGRL-v0", num_envs=2, vectorization_mode=mode, crop=16,
                            dataset="toy", dataset_kwargs={"size": 24}, **kwargs)


    def rollout(env):
        obs, _ = env.reset(seed=3)
        out, rng = [obs], np.random.default_rng(0)
        for _ in range(6):
            obs, reward, *_ = env.step(rng.integers(0, 3, size=(2, 16, 16)))
            out += [obs, reward]
        env.close()
        return out


    def worker_threads(_):
        from pixgrl_env.env import PixGRLEnv

        PixGRLEnv(dataset="toy", dataset_kwargs={"size": 24})
        return torch.get_num_threads()


    if __name__ == "__main__":
        context = sys.argv[1]
        torch.set_num_threads(2)
        (torch.rand(1 << 21) * 2).sum()  # the parent's OpenMP pool is started, as in a training script
        if context == "fork":  # first a plain fork, no env in the child: the at-fork hook alone
            pid = os.fork()
            if pid == 0:
                (torch.rand(1 << 21) * 2).sum()
                os._exit(0 if torch.get_num_threads() == 1 else 1)
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        if context == "sb3":
            from stable_baselines3.common.vec_env import SubprocVecEnv

            env = SubprocVecEnv([lambda: gym.make("PixGRL-v0", crop=16, dataset="toy",
                                                  dataset_kwargs={"size": 24})] * 2)
            env.reset()
            env.step(np.ones((2, 16, 16), dtype=np.int64))
            env.close()
        else:
            got = rollout(make("async", vector_kwargs={"context": context}))
            want = rollout(make("sync"))
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
            import multiprocessing

            with multiprocessing.get_context(context).Pool(1) as pool:
                assert pool.map(worker_threads, [0]) == [1]
        assert torch.get_num_threads() == 2, "the main process keeps its threads"
        print("ok")
""")


def _run(context: str, tmp_path: Path) -> None:
    script = tmp_path / "workers.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.Popen([sys.executable, str(script), context], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the workers too: a deadlocked worker never exits
        out, _ = proc.communicate()
        pytest.fail(f"{context}: no result after {DEADLINE_S} s (deadlock?)\n{out[-3000:]}")
    assert proc.returncode == 0 and out.strip().endswith("ok"), out[-3000:]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_workers_do_not_hang(tmp_path):
    _run("fork", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("context", ["forkserver", "spawn"])
def test_async_vector_env_under_forkserver_and_spawn(tmp_path, context):
    _run(context, tmp_path)


@pytest.mark.slow
def test_sb3_subproc_vec_env(tmp_path):
    pytest.importorskip("stable_baselines3")
    _run("sb3", tmp_path)


def test_limit_worker_threads_leaves_the_main_process_alone(monkeypatch):
    import torch

    from pixgrl_env import workers

    before = torch.get_num_threads()
    monkeypatch.setitem(workers._state, "limited", False)
    torch.set_num_threads(2)
    try:
        workers.limit_worker_threads()
        assert torch.get_num_threads() == 2 and not workers._state["limited"]
    finally:
        torch.set_num_threads(before)
