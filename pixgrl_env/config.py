"""The environment's configuration: one dataclass, named presets, and the paper's action sets (Table 5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from pixgrl_env.config_base import BaseConfig, Constraint, check_int, check_number, param
from pixgrl_env.data.base import SPLITS

__all__ = ["ACTION_PRESETS", "AUTORESET_MODES", "BUILTIN_CONDITIONING", "DISTANCES", "ENV_PRESETS", "EnvConfig",
           "REWARD_MODES", "W1_METHODS", "check_int"]

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


def _check_factors(name: str, value: Any) -> tuple[float, ...]:
    """An :data:`ACTION_PRESETS` name, or at least two distinct finite factors > 0, as a tuple of floats."""
    if isinstance(value, str):
        if value not in ACTION_PRESETS:
            raise ValueError(f"unknown action preset {value!r}; expected one of {sorted(ACTION_PRESETS)}")
        return ACTION_PRESETS[value]
    if not isinstance(value, Iterable):
        raise ValueError(f"{name} must be at least two distinct positive numbers, got {value!r}")
    factors = tuple(check_number(f"{name}[{i}]", f, Constraint(gt=0)) for i, f in enumerate(value))
    if len(factors) < 2 or len(set(factors)) != len(factors):
        raise ValueError(f"{name} must be at least two distinct positive numbers, got {value!r}")
    return factors  # type: ignore[return-value]


def _check_conditioning(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of channel names, got {value!r}")
    for c in value:
        if c not in BUILTIN_CONDITIONING and not (isinstance(c, str) and c.startswith("extra:") and len(c) > 6):
            raise ValueError(f"unknown conditioning channel {c!r}; expected 'input', 'time' or 'extra:<name>'")
    return tuple(value)


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


@dataclass(frozen=True)
class EnvConfig(BaseConfig):
    """Everything that defines a PixGRL-v0 task. Build with keywords, from a preset (:data:`ENV_PRESETS`), or both:
    ``EnvConfig.preset("paper", crop=64)``. Every field is checked when a config is made (see
    :mod:`pixgrl_env.config_base`): a bad value raises ``ValueError`` naming the field."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = ENV_PRESETS

    factors: tuple[float, ...] | str = param(ACTION_PRESETS["paper"], check=_check_factors)
    """the multiplicative factor of every action index, e.g. (0.95, 1.0, 1.05): at least two distinct finite
    numbers > 0, or an ACTION_PRESETS name"""
    episode_length: int = param(5, ge=1)
    """steps per episode (the paper: 5); after it, terminated is True"""
    lam: float = param(0.2, ge=0)
    """λ, the weight of the region reward: r = w·r_pixel + λ·r_region (Table 5 best: 0.2)"""
    pixel_weight: float = param(1.0, ge=0)
    """w, the weight of the pixel reward (1; 0 gives the region-only reward of Fig. 16)"""
    patch: int = param(16, ge=1)
    """side of the square patch of the region reward (Table 5 best: 16)"""
    distance: str = param("wasserstein", choices=DISTANCES)
    """region distance, one of DISTANCES (the paper: Wasserstein-1)"""
    reward_mode: str = param("improvement", choices=REWARD_MODES)
    """"improvement" (D(s_t, target) − D(s_{t+1}, target)) or "literal" (eq. 7 as printed, D(s_t, s_{t+1})); see
    docs/paper.md, section 'Region reward'"""
    w1_method: str = param("approx", choices=W1_METHODS)
    """"approx" (fast, binned CDF; error ≤ 2e-3) or "exact" (the sort-based reference)"""
    crop: int | None = param(None, ge=1)
    """train on random crop × crop windows of each pair (None: whole images)"""
    dataset: str = "phantom"
    """name for pixgrl_env.data.make_dataset ("phantom", "nifti", "breast_dce", "toy"); "custom" when the env was
    given a dataset object"""
    dataset_kwargs: dict[str, Any] = param({})
    """keyword arguments of that dataset, e.g. {"root": "my_data/"}, {"size": 128}"""
    split: str = param("train", choices=SPLITS)
    """which patient-level fold(s) episodes are drawn from: "train", "val" (carved from the training folds),
    "trainval", "test" or "all" (pixgrl_env.data.base.SPLITS)"""
    fold: int = param(0, ge=0)
    """index of the test fold"""
    n_folds: int = param(5, ge=2)
    """number of patient-level folds"""
    split_seed: int = 0
    """seed of the patients' shuffle into folds"""
    conditioning: tuple[str, ...] = param((), check=_check_conditioning)
    """extra observation channels after the current image (BUILTIN_CONDITIONING or "extra:<name>")"""
    device: str = "cpu"
    """torch device of the native vector env's batch ("cpu", "cuda", "cuda:1"…)"""
    autoreset_mode: str = param("next_step", choices=AUTORESET_MODES)
    """vector env autoreset: "next_step" (Gymnasium's default) or "same_step" (SB3's)"""
    cache_size: int = param(512, ge=0)
    """how many loaded pairs to keep in memory (an LRU cache; 0 disables it). Generating a phantom pair costs
    ~10–20 ms, an episode step far less, so episodes reuse cached pairs"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fold >= self.n_folds:
            raise ValueError(f"fold must be in [0, n_folds={self.n_folds}), got {self.fold}")
        if self.lam == 0 and self.pixel_weight == 0:
            raise ValueError("lam and pixel_weight are both 0: the reward would be identically zero")

    @property
    def n_actions(self) -> int:
        return len(self.factors)

    @property
    def n_channels(self) -> int:
        """Observation channels: the current image plus the conditioning channels."""
        return 1 + len(self.conditioning)
