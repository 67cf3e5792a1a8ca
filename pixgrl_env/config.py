"""The environment's configuration: one dataclass, named presets, and the paper's action sets (Table 5)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixgrl_env.data.base import SPLITS

#: Action factor sets. ``stepS`` are the paper's Table 5 step sizes "×±S" (S and 2 − S, plus ×1.0 to keep);
#: ``n3``/``n5``/``n7`` its action counts. ``paper`` = ``step1.05`` = ``n3``, the best setting (SSIM 0.85).
ACTION_PRESETS: dict[str, tuple[float, ...]] = {
    "paper": (0.95, 1.0, 1.05),
    "step1.5": (0.5, 1.0, 1.5),
    "step1.2": (0.8, 1.0, 1.2),
    "step1.1": (0.9, 1.0, 1.1),
    "step1.07": (0.93, 1.0, 1.07),
    "step1.05": (0.95, 1.0, 1.05),
    "step1.01": (0.99, 1.0, 1.01),
    "n3": (0.95, 1.0, 1.05),
    "n5": (0.9, 0.95, 1.0, 1.05, 1.1),
    "n7": (0.5, 0.9, 0.95, 1.0, 1.05, 1.1, 1.5),
}

DISTANCES = ("wasserstein", "kl", "js", "mse")
REWARD_MODES = ("improvement", "literal")
W1_METHODS = ("exact", "approx")
#: Conditioning channels besides the current image: ``"input"`` (the original non-enhanced image), ``"time"``
#: (a constant map t / episode_length, which makes the state Markov), or ``"extra:<name>"`` for a dataset modality.
BUILTIN_CONDITIONING = ("input", "time")
AUTORESET_MODES = ("next_step", "same_step")


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines a PixGRL-v0 task. Build with keywords, from a preset, or both:
    ``EnvConfig.preset("paper", crop=64)``.

    Attributes:
        factors: The multiplicative factor of every action index, e.g. ``(0.95, 1.0, 1.05)``, or an
            :data:`ACTION_PRESETS` name.
        episode_length: Steps per episode (the paper: 5). After it, ``terminated`` is True.
        lam: λ, the weight of the region reward: ``r = w·r_pixel + λ·r_region`` (Table 5 best: 0.2).
        pixel_weight: w, the weight of the pixel reward (1; 0 gives the region-only reward of Fig. 16).
        patch: Side of the square patch of the region reward (Table 5 best: 16).
        distance: Region distance, one of :data:`DISTANCES` (paper: Wasserstein-1).
        reward_mode: ``"improvement"`` (default; D(s_t, target) − D(s_{t+1}, target)) or ``"literal"`` (eq. 7 as
            printed, D(s_t, s_{t+1})); see ``paper/NOTES.md``.
        w1_method: ``"approx"`` (fast, binned-CDF; error ≤ 2e-3) or ``"exact"`` (sort-based reference).
        crop: Train on random ``crop × crop`` windows of each pair (None: whole images).
        dataset: Name for :func:`pixgrl_env.data.make_dataset` (``"phantom"``, ``"nifti"``, ``"breast_dce"``,
            ``"toy"``); ``"custom"`` when the env was given a dataset object.
        dataset_kwargs: Keyword arguments for that dataset (e.g. ``{"root": "my_data/"}``, ``{"size": 128}``).
        split: ``"train"``, ``"val"``, ``"trainval"``, ``"test"`` or ``"all"``: which patient-level fold(s) episodes
            are drawn from (:data:`pixgrl_env.data.base.SPLITS`; ``"val"`` is carved from the training folds).
        fold: Index of the test fold; ``n_folds``: number of patient-level folds; ``split_seed``: their shuffle.
        conditioning: Extra observation channels after the current image (see :data:`BUILTIN_CONDITIONING`).
        device: Torch device of the native vector env's batch (``"cpu"``, ``"cuda"``, ``"cuda:1"``…).
        autoreset_mode: Vector env autoreset, ``"next_step"`` (Gymnasium's default) or ``"same_step"`` (SB3's).
        cache_size: How many loaded pairs to keep in memory (an LRU cache; 0 disables it). Generating a phantom
            pair costs ~10–20 ms, an episode step far less, so episodes reuse cached pairs.
    """

    factors: tuple[float, ...] | str = ACTION_PRESETS["paper"]
    episode_length: int = 5
    lam: float = 0.2
    pixel_weight: float = 1.0
    patch: int = 16
    distance: str = "wasserstein"
    reward_mode: str = "improvement"
    w1_method: str = "approx"
    crop: int | None = None
    dataset: str = "phantom"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    split: str = "train"
    fold: int = 0
    n_folds: int = 5
    split_seed: int = 0
    conditioning: tuple[str, ...] = ()
    device: str = "cpu"
    autoreset_mode: str = "next_step"
    cache_size: int = 512

    def __post_init__(self) -> None:
        if isinstance(self.factors, str):
            if self.factors not in ACTION_PRESETS:
                raise ValueError(f"unknown action preset {self.factors!r}; expected one of {sorted(ACTION_PRESETS)}")
            object.__setattr__(self, "factors", ACTION_PRESETS[self.factors])
        factors = tuple(float(f) for f in self.factors)
        if len(factors) < 2 or any(not f > 0 for f in factors) or len(set(factors)) != len(factors):
            raise ValueError(f"factors must be at least two distinct positive numbers, got {self.factors!r}")
        object.__setattr__(self, "factors", factors)
        object.__setattr__(self, "conditioning", tuple(self.conditioning))
        object.__setattr__(self, "dataset_kwargs", dict(self.dataset_kwargs))
        check_int("episode_length", self.episode_length, 1)
        check_int("patch", self.patch, 1)
        check_int("n_folds", self.n_folds, 2)
        check_int("fold", self.fold, 0)
        check_int("cache_size", self.cache_size, 0)
        if self.fold >= self.n_folds:
            raise ValueError(f"fold must be in [0, n_folds={self.n_folds}), got {self.fold}")
        if self.crop is not None:
            check_int("crop", self.crop, 1)
        for name in ("lam", "pixel_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.lam == 0 and self.pixel_weight == 0:
            raise ValueError("lam and pixel_weight are both 0: the reward would be identically zero")
        for name, value, choices in (
            ("distance", self.distance, DISTANCES),
            ("reward_mode", self.reward_mode, REWARD_MODES),
            ("w1_method", self.w1_method, W1_METHODS),
            ("split", self.split, SPLITS),
            ("autoreset_mode", self.autoreset_mode, AUTORESET_MODES),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        for c in self.conditioning:
            if c not in BUILTIN_CONDITIONING and not (isinstance(c, str) and c.startswith("extra:") and len(c) > 6):
                raise ValueError(f"unknown conditioning channel {c!r}; expected 'input', 'time' or 'extra:<name>'")

    @property
    def n_actions(self) -> int:
        return len(self.factors)

    @property
    def n_channels(self) -> int:
        """Observation channels: the current image plus the conditioning channels."""
        return 1 + len(self.conditioning)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> EnvConfig:
        """A named preset (:data:`ENV_PRESETS`) with keyword overrides."""
        if name not in ENV_PRESETS:
            raise ValueError(f"unknown env preset {name!r}; expected one of {sorted(ENV_PRESETS)}")
        return cls(**{**ENV_PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> EnvConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvConfig:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown EnvConfig fields {sorted(unknown)}")
        d = dict(d)
        for key in ("factors", "conditioning"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)


def check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int ``>= minimum`` (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}{' or None' if allow_none else ''}, got {value!r}")


#: Named presets. ``default`` = ``paper``: the paper's values (λ = 0.2 and 16×16 patches from Table 5,
#: ×0.95/×1/×1.05, 5 steps); ``paper_text``: λ = 0.15 as printed in section 4; ``long``: 20-step episodes, which
#: lift the reachability cap of the paper's action set (see the README); ``small``: 64×64 crops for CPU training.
ENV_PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {},
    "paper_text": {"lam": 0.15},
    "long": {"episode_length": 20},
    "small": {"crop": 64},
}
