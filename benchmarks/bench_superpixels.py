"""Faithfulness of the torch SLIC (the agent's default superpixels) to scikit-image's SLIC on phantom slices.

Run ``python benchmarks/bench_superpixels.py [--slices 32] [--size 256] [--out results.json]``; it prints the result
dict of :func:`bench_superpixels` (``benchmarks/run_all.py --only superpixels`` records it in the results file).

Slices: the first ``slices`` slices of ``PhantomDataset(n_patients=16, slices_per_patient=4, size=size, seed=0)``
that show a lesion (up to half of them), then the first slices without one. For every method, at the same
requested segment count (``H·W / 64``: 1024 at 256², about 8×8-pixel segments), mean over the slices of:

- ``boundary_recall``: the fraction of the ground truth's boundary pixels within 0, 1 and 2 pixels of a segment
  boundary (:func:`agents.superpixels.boundary_recall`), for three truths: ``anatomy`` (every tissue border of the
  phantom's label map: organ edges), ``liver`` (the liver mask's edge) and ``tumour`` (the lesion mask's edge, on
  the lesion slices only).
- ``undersegmentation_error``: :func:`agents.superpixels.undersegmentation_error` against the tissue label map.
- ``segments``: the number of segments per slice; ``s_per_image``: CPU time per slice (batched for torch).

Methods: ``torch`` (:func:`agents.superpixels.slic_torch`, 10 and 5 iterations), ``skimage`` (scikit-image SLIC,
the reference) and ``grid`` (the plain 8×8 seed grid, which ignores intensity: the floor any method must beat).

Verdict (``faithful``): torch with the default 10 iterations has, against skimage, every boundary recall at 1 and
2 pixels at most ``margins["boundary_recall"]`` (0.02) lower for anatomy and liver and ``margins["tumour"]`` (0.03)
lower for the tumour edges (small lesions: few boundary pixels), and an undersegmentation error at most
``margins["undersegmentation_error"]`` (0.01) higher. The ``gap`` entries are torch − skimage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.superpixels import (  # noqa: E402
    boundary_recall,
    slic_skimage,
    slic_torch,
    undersegmentation_error,
)
from pixgrl_env.data.phantom import PhantomDataset  # noqa: E402

MARGINS = {"boundary_recall": 0.02, "tumour": 0.03, "undersegmentation_error": 0.01}
TOLERANCES = (0, 1, 2)


def _slices(size: int, n: int) -> tuple[torch.Tensor, list[dict[str, np.ndarray]]]:
    """``n`` phantom slices (lesion slices first, up to half) as ``(n, 1, size, size)`` and their truths."""
    ds = PhantomDataset(n_patients=16, slices_per_patient=4, size=size, seed=0)
    pairs = [ds[i] for i in range(len(ds))]
    lesion = [i for i, p in enumerate(pairs) if p.tumor_mask.any()][: n // 2]
    items = lesion + [i for i, p in enumerate(pairs) if not p.tumor_mask.any()][: n - len(lesion)]
    images = torch.stack([torch.from_numpy(pairs[i].input) for i in items])[:, None]
    truths = [{"anatomy": ds.anatomy(i), "liver": pairs[i].liver_mask,
               **({"tumour": pairs[i].tumor_mask} if pairs[i].tumor_mask.any() else {})} for i in items]
    return images, truths


def _quality(labels: torch.Tensor, truths: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Mean boundary recall per truth and tolerance, undersegmentation error and segment count."""
    labs = [lab.numpy() for lab in labels]
    recall = {name: {f"tol_{t}": float(np.mean([boundary_recall(lab, tr[name], t) for lab, tr in zip(labs, truths)
                                                if name in tr])) for t in TOLERANCES}
              for name in ("anatomy", "liver", "tumour")}
    return {"boundary_recall": recall,
            "undersegmentation_error": float(np.mean([undersegmentation_error(lab, tr["anatomy"])
                                                      for lab, tr in zip(labs, truths)])),
            "segments": float(np.mean([len(np.unique(lab)) for lab in labs]))}


def bench_superpixels(slices: int = 32, size: int = 256) -> dict[str, Any]:
    """Boundary recall, undersegmentation error, segment count and CPU time of each method; see the docstring."""
    images, truths = _slices(size, slices)
    side = 8
    yy, xx = np.mgrid[:size, :size]
    grid = torch.from_numpy((yy // side) * -(-size // side) + xx // side).expand(len(images), size, size)
    methods = {"torch": lambda: slic_torch(images), "torch_5_iter": lambda: slic_torch(images, max_num_iter=5),
               "skimage": lambda: slic_skimage(images), "grid": lambda: grid}
    result: dict[str, Any] = {"slices": len(images), "lesion_slices": sum("tumour" in t for t in truths),
                              "size": size, "requested_segments": size * size // 64, "margins": MARGINS}
    for name, run in methods.items():
        run()  # warm-up
        t0 = time.perf_counter()
        labels = run()
        seconds = time.perf_counter() - t0
        result[name] = {**_quality(labels, truths), "s_per_image": seconds / len(images)}
    gap: dict[str, Any] = {truth: {t: result["torch"]["boundary_recall"][truth][t]
                                   - result["skimage"]["boundary_recall"][truth][t] for t in result["torch"][
                                       "boundary_recall"][truth]} for truth in ("anatomy", "liver", "tumour")}
    gap["undersegmentation_error"] = (result["torch"]["undersegmentation_error"]
                                      - result["skimage"]["undersegmentation_error"])
    result["gap"] = gap
    result["faithful"] = bool(
        all(gap[truth][f"tol_{t}"] >= -MARGINS["tumour" if truth == "tumour" else "boundary_recall"]
            for truth in ("anatomy", "liver", "tumour") for t in (1, 2))
        and gap["undersegmentation_error"] <= MARGINS["undersegmentation_error"])
    result["torch_speedup_vs_skimage"] = result["skimage"]["s_per_image"] / result["torch"]["s_per_image"]
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = bench_superpixels(args.slices, args.size)
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
