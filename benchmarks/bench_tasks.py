"""The ceilings of every registered task on the phantom: identity, exact oracle and the noise-limited ceiling.

Run ``python benchmarks/bench_tasks.py [--split test] [--out benchmarks/results/tasks.json]``. For each task of
:data:`pixgrl_env.tasks.TASKS`, on the whole 128×128 slices of the phantom's held-out patients (the ``quick``
data settings, fold 0), it reports mean SSIM and PSNR (scikit-image, data range 1) of:

- ``identity``: the input unchanged;
- ``oracle``: the best image the task's actions can reach in one episode, towards the noisy target
  (:class:`baselines.reference.OracleAgent`): the task's ceiling;
- ``clean_oracle``: the best reachable image towards the *noise-free* target, scored against the noisy one: what a
  perfect policy that predicts the enhancement (and cannot see the target's noise) would score;
- ``noise_ceiling``: the noise-free target scored against the noisy target: the ceiling of any method that sees
  only the input, since the two images' noise is independent.

These are the numbers of ``docs/tasks.md``. Quality, not speed: the results do not depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.reference import OracleAgent  # noqa: E402
from pixgrl_env.data.phantom import PHANTOM_VERSION  # noqa: E402
from pixgrl_env.episodes import PairSource  # noqa: E402
from pixgrl_env.tasks import TASKS, task_config  # noqa: E402

DATA = {"size": 128, "n_patients": 40, "slices_per_patient": 4}


def _scores(images: torch.Tensor, targets: np.ndarray) -> dict[str, float]:
    a = images[:, 0].double().numpy()
    ssim = [structural_similarity(x, y, data_range=1.0) for x, y in zip(a, targets)]
    psnr = [peak_signal_noise_ratio(y, x, data_range=1.0) for x, y in zip(a, targets)]
    return {"ssim": float(np.mean(ssim)), "ssim_std": float(np.std(ssim)), "psnr": float(np.mean(psnr))}


def bench_tasks(split: str = "test", fold: int = 0) -> dict:
    """Identity, oracle, clean-target oracle and noise-limited ceiling of every task on ``split`` (see module doc)."""
    out: dict = {"data": {**DATA, "split": split, "fold": fold, "phantom_version": PHANTOM_VERSION}, "tasks": {}}
    for task_id in TASKS:
        config = task_config(task_id, dataset_kwargs=DATA, split=split, fold=fold)
        source = PairSource(config)
        pairs = [source.pair(i) for i in range(len(source))]
        x = torch.from_numpy(np.stack([p.input for p in pairs]))[:, None]
        y = np.stack([p.target for p in pairs]).astype(np.float64)
        clean = torch.from_numpy(np.stack([p.target_clean for p in pairs]))[:, None]
        oracle = OracleAgent(config)
        out["tasks"][task_id] = {
            "factors": list(config.factors), "episode_length": config.episode_length, "pairs": len(pairs),
            "identity": _scores(x, y),
            "oracle": _scores(oracle.synthesize_with_target(x, torch.from_numpy(y).float()[:, None]), y),
            "clean_oracle": _scores(oracle.synthesize_with_target(x, clean), y),
            "noise_ceiling": _scores(clean, y),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--out", default=None, help="write the JSON here (default: print only)")
    args = parser.parse_args()
    result = bench_tasks(args.split)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
