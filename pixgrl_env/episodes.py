"""Episodes: the configured split of a dataset as episode starts (pair and crop window), and ``N`` episodes held as
one torch batch that :func:`pixgrl_env.dynamics.step_images` advances."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pixgrl_env.actions import factor_table
from pixgrl_env.config import ENV_PRESETS, EnvConfig
from pixgrl_env.data import DataError, Pair, PairDataset, make_dataset, split_dataset
from pixgrl_env.dynamics import StepResult, initial_distance, observation, step_images



@dataclass(frozen=True)
class EpisodeStart:
    """Which pair and window an episode uses."""

    index: int
    top: int
    left: int


def resolve_config(config: EnvConfig | str | dict[str, Any] | None,
                   overrides: dict[str, Any]) -> tuple[EnvConfig, PairDataset | None]:
    """An :class:`EnvConfig` from a config, a preset name, a dict of fields or None (default), plus overrides.

    ``overrides["dataset"]`` may be a ready :class:`~pixgrl_env.data.PairDataset` instead of a name: it is returned
    beside the config (whose ``dataset`` field then reads ``"custom"``).
    """
    instance = None
    if isinstance(overrides.get("dataset"), PairDataset):
        overrides = dict(overrides)
        instance = overrides.pop("dataset")
        overrides["dataset"] = "custom"
    return _resolve(config, overrides), instance


def _resolve(config: EnvConfig | str | dict[str, Any] | None, overrides: dict[str, Any]) -> EnvConfig:
    if config is None:
        return EnvConfig(**overrides)
    if isinstance(config, str):
        return EnvConfig.preset(config, **overrides)
    if isinstance(config, dict):
        return EnvConfig.from_dict({**config, **overrides})
    if isinstance(config, EnvConfig):
        return config.replace(**overrides) if overrides else config
    raise TypeError(f"config must be an EnvConfig, a preset name in {sorted(ENV_PRESETS)}, a dict or None; "
                    f"got {type(config).__name__}")


class PairSource:
    """The episodes' data: the configured split of the dataset, an LRU cache of loaded pairs, and crop sampling.

    Args:
        config: The env config (dataset, split, fold, crop, conditioning, cache size; ``patch`` is checked against
            the image size here, the only place that knows it).
        dataset: A ready :class:`~pixgrl_env.data.PairDataset` to use instead of ``config.dataset``; the split
            is still applied.
    """

    def __init__(self, config: EnvConfig, dataset: PairDataset | None = None):
        self.config = config
        full = dataset if dataset is not None else make_dataset(config.dataset, **config.dataset_kwargs)
        self.dataset = split_dataset(full, config.split, config.fold, config.n_folds, config.split_seed) \
            if config.split != "all" else full
        if len(self.dataset) == 0:
            raise DataError(f"split {config.split!r} (fold {config.fold}) of dataset {full!r} holds no pairs")
        shape = self.dataset.image_shape
        if config.crop is not None:
            if shape is not None and (config.crop > shape[0] or config.crop > shape[1]):
                raise ValueError(f"crop={config.crop} is larger than the dataset's images {shape}")
            shape = (config.crop, config.crop)
        if shape is None:
            raise ValueError("the dataset's images differ in size: set crop=<int> to train on fixed-size windows")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        side = min(self.shape)
        if config.lam > 0 and config.patch > side:
            size = f"{self.shape[0]} × {self.shape[1]}"
            window = f"crop={config.crop} windows" if config.crop is not None else f"dataset's {size} images"
            raise ValueError(f"patch={config.patch} is larger than the {window}: the region reward's patch must be at "
                             f"most {side} pixels (the shorter image side); set patch <= {side}")
        self._cache: OrderedDict[int, Pair] = OrderedDict()

    def __len__(self) -> int:
        return len(self.dataset)

    def pair(self, index: int) -> Pair:
        """Pair ``index`` of the split, from the cache when possible."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        pair = self.dataset[index]
        if self.config.cache_size:
            self._cache[index] = pair
            if len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return pair

    def sample(self, rng: np.random.Generator, index: int | None = None, name: str = "options['index']"
               ) -> EpisodeStart:
        """Draw a pair (unless ``index`` is given) and a crop window from ``rng``: the env's only randomness.

        ``name`` is how error messages call ``index`` (the reset option it came from).
        """
        if index is None:
            index = int(rng.integers(len(self.dataset)))
        elif (not isinstance(index, (int, np.integer)) or isinstance(index, (bool, np.bool_))
              or not 0 <= index < len(self.dataset)):
            raise ValueError(f"{name} must be a pair index, an int in [0, {len(self.dataset)}) (the split holds "
                             f"{len(self.dataset)} pairs), got {index!r}")
        pair = self.pair(int(index))
        h, w = pair.shape
        ch, cw = self.shape
        if (ch, cw) == (h, w):
            return EpisodeStart(int(index), 0, 0)
        if h < ch or w < cw:
            raise DataError(f"{pair.meta.source}: image {pair.shape} is smaller than the crop {self.shape}")
        return EpisodeStart(int(index), int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1)))

    def arrays(self, start: EpisodeStart) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(input, target, extra)`` of an episode, cropped: ``(H, W)``, ``(H, W)``, ``(E, H, W)`` float32."""
        pair = self.pair(start.index)
        if pair.shape != self.dataset.image_shape and self.config.crop is None:
            raise DataError(f"{pair.meta.source}: image {pair.shape} differs from the env's {self.shape}")
        win = (slice(start.top, start.top + self.shape[0]), slice(start.left, start.left + self.shape[1]))
        extra = []
        for channel in self.config.conditioning:
            if channel.startswith("extra:"):
                name = channel[len("extra:"):]
                if name not in pair.extra:
                    raise DataError(f"{pair.meta.source}: conditioning channel {channel!r} asks for modality "
                                    f"{name!r}, but the pair has {sorted(pair.extra) or 'no extra modalities'}")
                extra.append(pair.extra[name][win])
        extra_arr = np.stack(extra) if extra else np.zeros((0, *self.shape), np.float32)
        return pair.input[win], pair.target[win], extra_arr


class DeviceCopies:
    """Small host arrays (step counters, done flags) as tensors on ``device``, each distinct value copied once.

    The vector env knows its episodes' step counts and end flags on the host (they never need a device
    synchronisation), but a torch-output env on a GPU must hand them out as device tensors. They repeat from step to
    step, so an LRU cache of their device copies makes a steady-state step free of host-to-device copies; callers
    get a clone (a device-side copy), so changing it in place cannot change the cache. On the CPU the array itself
    is wrapped (no copy, no cache).

    Args:
        device: The device of the copies.
        size: How many distinct arrays to keep.
    """

    def __init__(self, device: torch.device, size: int = 64):
        self.device, self.size = device, size
        self._cache: OrderedDict[tuple[str, tuple[int, ...], bytes], Tensor] = OrderedDict()

    def __call__(self, x: np.ndarray) -> Tensor:
        if self.device.type == "cpu":
            return torch.as_tensor(x)
        key = (x.dtype.str, x.shape, x.tobytes())
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            self._cache[key] = torch.as_tensor(x, device=self.device)
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return self._cache[key].clone()


class EpisodeBatch:
    """``N`` episodes held as torch tensors on one device and stepped together.

    Attributes:
        image: ``(N, 1, H, W)`` the current states s_t. ``original``, ``target``: the inputs and targets.
        extra: ``(N, E, H, W)`` dataset modalities used as conditioning channels.
        t: ``(N,)`` numpy int steps taken in the current episodes (kept on the host: episode ends never need a
            device synchronisation).
    """

    def __init__(self, config: EnvConfig, source: PairSource, n: int, device: torch.device):
        self.config, self.source, self.n, self.device = config, source, n, device
        h, w = source.shape
        n_extra = sum(c.startswith("extra:") for c in config.conditioning)
        self.factors = factor_table(config.factors, device)
        self.image = torch.zeros(n, 1, h, w, device=device)
        self.original = torch.zeros_like(self.image)
        self.target = torch.zeros_like(self.image)
        self.distance = torch.zeros_like(self.image)
        self.extra = torch.zeros(n, n_extra, h, w, device=device)
        self.t = np.zeros(n, dtype=np.int64)
        self.device_copies = DeviceCopies(device)
        self.starts: list[EpisodeStart | None] = [None] * n

    def load(self, slots: np.ndarray, starts: list[EpisodeStart]) -> None:
        """Start new episodes in ``slots`` (int indices) from ``starts``."""
        if len(slots) == 0:
            return
        arrays = [self.source.arrays(s) for s in starts]
        idx = torch.as_tensor(slots, device=self.device)
        to = dict(device=self.device, dtype=torch.float32)
        inputs = torch.as_tensor(np.stack([a[0] for a in arrays])[:, None], **to)
        targets = torch.as_tensor(np.stack([a[1] for a in arrays])[:, None], **to)
        self.original[idx] = inputs
        self.image[idx] = inputs
        self.target[idx] = targets
        if self.extra.shape[1]:
            self.extra[idx] = torch.as_tensor(np.stack([a[2] for a in arrays]), **to)
        self.distance[idx] = initial_distance(inputs, targets, self.config)
        self.t[slots] = 0
        for slot, start in zip(slots, starts):
            self.starts[int(slot)] = start

    def observe(self) -> Tensor:
        """``(N, C, H, W)`` float32 in [0, 1]: the current image, then the conditioning channels in config order."""
        time = self.device_copies(self.t.astype(np.float32) / np.float32(self.config.episode_length))
        return observation(self.image, self.original, time, self.config.conditioning, self.extra)

    def step(self, actions: Tensor) -> StepResult:
        """Advance every episode by one step with ``actions`` ``(N, H, W)`` int64 (validated by the caller)."""
        result = step_images(self.image, self.target, actions, self.factors, self.config, self.distance)
        self.image, self.distance = result.image, result.distance
        self.t += 1
        return result
