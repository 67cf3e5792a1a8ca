"""A tiny, fast, deterministic pair source for tests and examples (the role SB3's ``FakeImageEnv`` plays).

Each item is a smooth random "input" image and a "target" that is the input times a smooth gain field with a
bright disc "lesion": cheap to generate, yet with the structure the rewards and agents need. Not a physical
model: use :class:`~pixgrl_env.data.phantom.PhantomDataset` for that.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pixgrl_env.data.base import LABELS, Pair, PairDataset, PairMeta


class ToyPairDataset(PairDataset):
    """``n_patients × slices_per_patient`` items of ``size × size`` pairs, deterministic per ``(seed, index)``.

    Args:
        n_patients: Number of patients (labels cycle through :data:`LABELS`).
        slices_per_patient: Items per patient.
        size: Image side in pixels.
        seed: Seed of the whole dataset.
        gain: ``(low, high)`` range of the target/input gain field.
    """

    def __init__(self, n_patients: int = 6, slices_per_patient: int = 2, size: int = 32, seed: int = 0,
                 gain: tuple[float, float] = (0.8, 1.25)):
        for name, value, low in (("n_patients", n_patients, 1), ("slices_per_patient", slices_per_patient, 1),
                                 ("size", size, 8)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not 0 < gain[0] <= gain[1]:
            raise ValueError(f"gain must be (low, high) with 0 < low <= high, got {gain!r}")
        self.n_patients, self.slices_per_patient, self.size, self.seed, self.gain = (
            n_patients, slices_per_patient, size, seed, gain)

    def __len__(self) -> int:
        return self.n_patients * self.slices_per_patient

    def item_index(self) -> list[tuple[str, int]]:
        return [(f"toy-{i // self.slices_per_patient:04d}", (i // self.slices_per_patient) % len(LABELS))
                for i in range(len(self))]

    @property
    def image_shape(self) -> tuple[int, int]:
        return (self.size, self.size)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        index = self._check_index(index)
        rng = np.random.default_rng([self.seed, index])
        n = self.size
        smooth = lambda sigma: ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")  # noqa: E731
        image = smooth(n / 8)
        image = 0.15 + 0.6 * (image - image.min()) / (np.ptp(image) + 1e-12)
        gain_field = smooth(n / 6)
        lo, hi = self.gain
        gain_field = lo + (hi - lo) * (gain_field - gain_field.min()) / (np.ptp(gain_field) + 1e-12)
        yy, xx = np.mgrid[:n, :n]
        cy, cx = rng.uniform(0.3 * n, 0.7 * n, size=2)
        tumor = (yy - cy) ** 2 + (xx - cx) ** 2 <= (n / 8) ** 2
        patient, label = self.item_index()[index]
        if label == 0:
            tumor[:] = False
        target = np.clip(image * gain_field * np.where(tumor, hi, 1.0), 0, 1)
        liver = (yy - n / 2) ** 2 / (0.4 * n) ** 2 + (xx - n / 2) ** 2 / (0.45 * n) ** 2 <= 1
        meta = PairMeta(patient, index % self.slices_per_patient, (1.5, 1.5), f"toy(seed={self.seed}, index={index})")
        return Pair(image.astype(np.float32), target.astype(np.float32), tumor, liver | tumor, label, meta).validate()

    def __repr__(self) -> str:
        return f"ToyPairDataset(n={len(self)}, size={self.size}, seed={self.seed})"
