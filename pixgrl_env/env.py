"""PixGRL-v0: the single environment and the native vector environment, side by side around one batched core.

Like Gymnasium's ``cartpole.py``, both shells share one implementation of the task: :class:`EpisodeBatch`
(:mod:`pixgrl_env.episodes`) holds ``N`` episodes as torch tensors and advances them all with
:func:`~pixgrl_env.dynamics.step_images`, a pure function. The single env is that core with ``N = 1`` and numpy
outputs; the vector env steps ``num_envs`` episodes as one batch on any device.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from pixgrl_env.config import EnvConfig
from pixgrl_env.data import Pair
# The step math and the episodes live in their own modules; their names stay importable from here.
from pixgrl_env.dynamics import StepResult, initial_distance, observation, step_images  # noqa: F401
from pixgrl_env.episodes import EpisodeBatch, EpisodeStart, PairSource, resolve_config  # noqa: F401
from pixgrl_env.workers import limit_worker_threads



def check_actions(actions: Any, shape: tuple[int, ...], n_actions: int, device: torch.device) -> Tensor:
    """Validate an action batch and return it as an int64 tensor on ``device``.

    Raises:
        ValueError / TypeError naming the problem: wrong shape, a non-integer dtype, or an index outside
        ``[0, n_actions)``.
    """
    if isinstance(actions, Tensor):
        a = actions
    else:
        a = np.asarray(actions)
        if a.dtype.kind not in "iu":
            raise TypeError(f"actions must be integer action indices, got dtype {a.dtype}")
        a = torch.from_numpy(a.astype(np.int64, copy=False))
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"actions must have shape {tuple(shape)} (one action index per pixel), got {tuple(a.shape)}")
    if a.dtype.is_floating_point or a.dtype.is_complex or a.dtype == torch.bool:
        raise TypeError(f"actions must be integer action indices, got dtype {a.dtype}")
    a = a.to(device=device, dtype=torch.int64)
    if device.type != "cpu":  # checked on the device, without a host synchronisation: an error surfaces at the next
        torch._assert_async(((a >= 0) & (a < n_actions)).all(),  # synchronising call (a CUDA device-side assert)
                            f"action indices must lie in [0, {n_actions - 1}] ({n_actions} actions)")
        return a
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= n_actions:
        raise ValueError(f"action indices must lie in [0, {n_actions - 1}] ({n_actions} actions), "
                         f"got values in [{lo}, {hi}]")
    return a


def env_device(device: str) -> torch.device:
    """The torch device of ``EnvConfig.device``, checked: a device name torch knows, and available here.

    Raises:
        ValueError: naming the field: not a device name (``"tpu"``), or a CUDA device this machine does not have.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; expected e.g. 'cpu', 'cuda' or 'cuda:1'") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device={device!r} but CUDA is not available on this machine; use device='cpu'")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device={device!r} but this machine has {count} CUDA device(s): cuda:0..cuda:{count - 1}")
    return dev


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` as a Python int (numpy integers are accepted), or None.

    Raises:
        TypeError: ``seed`` is not None or an integer (a float, a string, a bool...).
        ValueError: ``seed`` is negative.
    """
    if seed is None:
        return None
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"{name} must be None or an int >= 0 (numpy integers too), got {seed!r} "
                        f"({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {seed}")
    return int(seed)


def render_frame(original: np.ndarray, image: np.ndarray, target: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """``(H, 4W, 3)`` uint8: input | current | target in grey, and the reward map (red > 0 > blue) side by side."""
    from matplotlib import colormaps

    grey = [np.repeat((np.clip(x, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
            for x in (original, image, target)]
    scale = float(np.abs(reward).max()) or 1.0
    rgb = colormaps["RdBu_r"](0.5 + 0.5 * reward / scale)[..., :3]
    return np.concatenate([*grey, (rgb * 255).round().astype(np.uint8)], axis=1)


# ----------------------------------------------------------------------------------------------------------------
# The single environment
# ----------------------------------------------------------------------------------------------------------------


class PixGRLEnv(gym.Env[np.ndarray, np.ndarray]):
    """Pixel-level RL for contrast-free Gd-enhanced MR synthesis (Pix-GRL, Xu et al., Medical Image Analysis 2021).

    ## Description
    Every pixel of a non-enhanced MR slice is an agent. At each step every pixel multiplies its value by the
    factor its action selects (by default ×0.95, ×1.0 or ×1.05); after ``episode_length`` steps the image should
    look like the Gd-enhanced target. Pairs come from the embedded liver phantom or from NIfTI folders.

    ## Action Space
    ``MultiDiscrete`` of shape ``(H, W)``, ``nvec = A`` (int64): the action index of every pixel, an index into
    ``config.factors``.

    ## Observation Space
    ``Box(0, 1, (C, H, W), float32)``:

    | channel | content |
    |---|---|
    | 0 | the current image s_t |
    | 1… | ``config.conditioning`` in order: ``"input"`` (s_0), ``"time"`` (t / T), ``"extra:<name>"`` |

    ## Rewards
    Per pixel, ``r = w·r_pixel + λ·r_region`` with ``r_pixel = (y − s_t)² − (y − s_{t+1})²`` (eq. 6) and, by
    default, ``r_region = W1(P_t, P_y) − W1(P_{t+1}, P_y)``, the improvement in Wasserstein-1 distance between the
    16×16 patch distributions around the pixel (eq. 7 in the improvement reading, see the README). The scalar
    reward returned by :meth:`step` is the mean of that map; ``info`` holds ``reward_map``, ``reward_pixel`` and
    ``reward_region``, each ``(1, H, W)`` float32. The target is only needed for rewards: at test time agents act on
    observations alone.

    ## Starting State
    A pair drawn uniformly from the configured split with ``self.np_random`` (and a random window when ``crop`` is
    set); s_0 is its non-enhanced image. ``reset(options={"index": i})`` picks pair ``i`` of the split.

    ## Episode End
    ``terminated`` is True after ``episode_length`` steps: the synthesis is defined as the image after T steps
    and nothing follows it (the paper and PixelRL do not bootstrap past the last step). ``truncated`` is always
    False here; a ``TimeLimit`` (``max_episode_steps``) shorter than the episode truncates it.

    ## Arguments
    ``gymnasium.make("PixGRL-v0", config=None, render_mode=None, **overrides)``: ``config`` an
    :class:`~pixgrl_env.config.EnvConfig`, a preset name or a dict; ``overrides`` replace its fields, and
    ``dataset=`` may also be a ready :class:`~pixgrl_env.data.PairDataset` (e.g. your own) instead of a name.

    >>> import gymnasium as gym, pixgrl_env
    >>> env = gym.make("PixGRL-v0", crop=64, dataset_kwargs={"size": 128})
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (1, 64, 64)

    ## Vectorized environment
    ``gymnasium.make_vec("PixGRL-v0", num_envs=N)`` returns :class:`PixGRLVectorEnv`, which steps all N episodes
    as one torch batch on ``config.device`` with the same results as N single envs. Gymnasium's
    ``vectorization_mode="async"`` (and SB3's ``SubprocVecEnv``) run one env per process under any start method:
    each worker process uses one torch thread (:mod:`pixgrl_env.workers`).

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, config: EnvConfig | str | dict[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any):
        limit_worker_threads()
        self.config, dataset = resolve_config(config, overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.device = env_device(self.config.device)
        self.source = PairSource(self.config, dataset)
        self._batch = EpisodeBatch(self.config, self.source, 1, self.device)
        h, w = self.source.shape
        self.observation_space = spaces.Box(0.0, 1.0, (self.config.n_channels, h, w), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full((h, w), self.config.n_actions, dtype=np.int64))
        self._started = False
        self._last_reward: np.ndarray | None = None

    @property
    def pair(self) -> Pair:
        """The pair of the current episode (uncropped)."""
        if not self._started:
            raise RuntimeError("no episode yet: call reset() first")
        return self.source.pair(self._batch.starts[0].index)  # type: ignore[union-attr]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=check_seed(seed))
        options = options or {}
        if set(options) - {"index"}:
            raise ValueError(f"unknown reset options {sorted(set(options) - {'index'})}; PixGRLEnv.reset accepts only "
                             f"'index' (a pair index in [0, {len(self.source)})); 'indices' and 'reset_mask' are "
                             f"options of the native vector env (gymnasium.make_vec)")
        start = self.source.sample(self.np_random, options.get("index"))
        self._batch.load(np.array([0]), [start])
        self._started = True
        self._last_reward = None
        info = {"pair_index": start.index, "crop_origin": (start.top, start.left)}
        return self._obs(), info

    def step(self, action: np.ndarray):
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if self._batch.t[0] >= self.config.episode_length:
            raise RuntimeError(f"the episode ended after {self.config.episode_length} steps: call reset()")
        a = check_actions(action, self.action_space.shape, self.config.n_actions, self.device)
        result = self._batch.step(a.unsqueeze(0))
        reward_map = result.reward[0].cpu().numpy()
        self._last_reward = reward_map
        info = {
            "reward_map": reward_map.copy(),
            "reward_pixel": result.pixel[0].cpu().numpy(),
            "reward_region": result.region[0].cpu().numpy(),
        }
        terminated = bool(self._batch.t[0] >= self.config.episode_length)
        return self._obs(), float(reward_map.mean(dtype=np.float64)), terminated, False, info

    def _obs(self) -> np.ndarray:
        return self._batch.observe()[0].cpu().numpy()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to make()")
            return None
        if not self._started:
            raise RuntimeError("render() called before reset()")
        b = self._batch
        reward = self._last_reward[0] if self._last_reward is not None else np.zeros(self.source.shape, np.float32)
        return render_frame(b.original[0, 0].cpu().numpy(), b.image[0, 0].cpu().numpy(),
                            b.target[0, 0].cpu().numpy(), reward)


# ----------------------------------------------------------------------------------------------------------------
# The native vector environment
# ----------------------------------------------------------------------------------------------------------------


class PixGRLVectorEnv(VectorEnv):
    """``num_envs`` PixGRL-v0 episodes stepped as one torch batch on ``config.device``.

    Same task, spaces and seeding as ``num_envs`` :class:`PixGRLEnv` (sub-env ``i`` seeded with ``seed + i``, as
    ``SyncVectorEnv`` does), so trajectories are identical; Gymnasium's autoreset in ``config.autoreset_mode``:

    * ``"next_step"`` (default): the step after an episode ends resets that sub-env; its reward is 0, its
      ``terminated``/``truncated`` False, and its actions are ignored.
    * ``"same_step"``: an ending step returns the new episode's first observation; the last observation and info
      are in ``infos["final_obs"]`` / ``infos["final_info"]`` (Stable-Baselines3's convention).

    ``reset(options={"reset_mask": mask})`` resets only the sub-envs where the bool ``(num_envs,)`` mask is True.

    Args:
        num_envs: Number of episodes in the batch.
        config, **overrides: as for :class:`PixGRLEnv` (``dataset=`` a name or a ready dataset).
        output: ``"numpy"`` (default) or ``"torch"``: with ``"torch"``, observations, rewards, flags and info maps
            are tensors on ``config.device`` (``_key`` masks stay numpy), so a GPU agent never copies to the host.
        max_episode_steps: A time limit (Gymnasium's ``make_vec`` passes the registered one): an episode longer than
            this is truncated. None: no limit besides ``episode_length``.
        render_mode: None or ``"rgb_array"`` (a list of frames, one per sub-env).

    Info keys (batched with ``_key`` masks, as Gymnasium's vector envs do): ``reward_map``, ``reward_pixel``,
    ``reward_region`` ``(num_envs, 1, H, W)`` for sub-envs that stepped; ``pair_index`` ``(num_envs,)`` for those
    that were reset.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, config: EnvConfig | str | dict[str, Any] | None = None,
                 output: str = "numpy", max_episode_steps: int | None = None, render_mode: str | None = None,
                 **overrides: Any):
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, (bool, np.bool_)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        num_envs = int(num_envs)
        limit_worker_threads()
        if output not in ("numpy", "torch"):
            raise ValueError(f"output must be 'numpy' or 'torch', got {output!r}")
        if max_episode_steps is not None and (not isinstance(max_episode_steps, int) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps must be None or an int >= 1, got {max_episode_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.config, dataset = resolve_config(config, overrides)
        self.metadata = {**self.metadata, "autoreset_mode": AutoresetMode(
            {"next_step": "NextStep", "same_step": "SameStep"}[self.config.autoreset_mode])}
        self.num_envs, self.output, self.render_mode = num_envs, output, render_mode
        self.max_episode_steps = max_episode_steps
        self.device = env_device(self.config.device)
        self.source = PairSource(self.config, dataset)
        self._batch = EpisodeBatch(self.config, self.source, num_envs, self.device)
        h, w = self.source.shape
        self.single_observation_space = spaces.Box(0.0, 1.0, (self.config.n_channels, h, w), np.float32)
        self.single_action_space = spaces.MultiDiscrete(np.full((h, w), self.config.n_actions, dtype=np.int64))
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._last_reward: Tensor | None = None

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        seeds = self._seeds(seed)
        super().reset(seed=None if isinstance(seed, (list, tuple, np.ndarray)) else seeds[0])  # the base seed
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), "
                                 f"got {mask.dtype} {mask.shape}")
        if not self._rngs and not mask.all():
            raise RuntimeError("the first reset() must reset every sub-env (no reset_mask)")
        if not self._rngs:  # first reset: every sub-env gets a generator (seeded below, or from entropy)
            self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        for i in np.flatnonzero(mask):
            if seeds[i] is not None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
        indices = options.pop("indices", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; the vector env accepts 'reset_mask' (a bool "
                             f"array of shape ({self.num_envs},)) and 'indices' (one pair index per sub-env reset)")
        slots = np.flatnonzero(mask)
        if indices is not None and (not isinstance(indices, (list, tuple, np.ndarray)) or len(indices) != len(slots)):
            raise ValueError(f"options['indices'] must be a sequence of {len(slots)} pair indices (one per sub-env "
                             f"being reset), got {indices!r}")
        starts = [self.source.sample(self._rngs[i], None if indices is None else indices[k],
                                     name=f"options['indices'][{k}]") for k, i in enumerate(slots)]
        self._batch.load(slots, starts)
        self._needs_reset[slots] = False
        self._last_reward = None
        return self._out(self._batch.observe()), self._reset_info(mask)

    def step(self, actions: Any):
        if not self._rngs:
            raise RuntimeError("step() called before reset()")
        b, cfg = self._batch, self.config
        a = check_actions(actions, self.action_space.shape, cfg.n_actions, self.device)
        # Next-step autoreset: sub-envs that ended on the previous call ignore their actions and restart.
        restarting = self._needs_reset.copy()
        stepping = ~restarting
        result = b.step(a)
        self._restart(np.flatnonzero(restarting))
        reward_map = result.reward
        if restarting.any():
            reward_map = torch.where(torch.as_tensor(stepping, device=self.device).view(-1, 1, 1, 1), reward_map, 0.0)
        self._last_reward = reward_map
        rewards = reward_map.mean(dim=(1, 2, 3), dtype=torch.float64)
        terminated = stepping & (b.t >= cfg.episode_length)
        truncated = stepping & ~terminated
        truncated &= False if self.max_episode_steps is None else b.t >= self.max_episode_steps
        done = terminated | truncated
        step_info = {}
        for key, value in (("reward_map", reward_map), ("reward_pixel", result.pixel),
                           ("reward_region", result.region)):
            step_info[key], step_info[f"_{key}"] = self._out(value), stepping.copy()
        infos = {**step_info, **self._reset_info(restarting)}
        if cfg.autoreset_mode == "same_step" and done.any():
            final_obs = b.observe()
            infos["final_obs"] = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                infos["final_obs"][i] = self._out(final_obs[i])
            infos["final_info"] = {k: (v & done if k.startswith("_") else v) for k, v in step_info.items()}
            infos["_final_obs"] = infos["_final_info"] = done
            for key in ("reward_map", "reward_pixel", "reward_region"):
                infos[f"_{key}"] = stepping & ~done
            self._restart(np.flatnonzero(done))
            infos.update(self._reset_info(done | restarting))
        else:
            self._needs_reset = done
        obs = b.observe()
        return self._out(obs), self._out(rewards), self._flags(terminated), self._flags(truncated), infos

    def _seeds(self, seed: Any) -> list[int | None]:
        """One seed per sub-env from ``reset(seed=...)``: None, an int (sub-env ``i`` gets ``seed + i``) or a list."""
        if isinstance(seed, (list, tuple, np.ndarray)):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed list has {len(seed)} entries, expected num_envs={self.num_envs}")
            return [check_seed(s, f"seed[{i}]") for i, s in enumerate(seed)]
        try:
            base = check_seed(seed)
        except TypeError:
            raise TypeError(f"seed must be None, an int >= 0 (sub-env i is seeded with seed + i) or a list of "
                            f"num_envs={self.num_envs} such seeds, got {seed!r} ({type(seed).__name__})") from None
        return [None if base is None else base + i for i in range(self.num_envs)]

    def _restart(self, slots: np.ndarray) -> None:
        self._batch.load(slots, [self.source.sample(self._rngs[i]) for i in slots])

    def render(self) -> list[np.ndarray] | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        if not self._rngs:
            raise RuntimeError("render() called before reset()")
        b = self._batch
        reward = self._last_reward if self._last_reward is not None else torch.zeros_like(b.image)
        return [render_frame(*(x[i, 0].cpu().numpy() for x in (b.original, b.image, b.target, reward)))
                for i in range(self.num_envs)]

    def _reset_info(self, mask: np.ndarray) -> dict[str, Any]:
        """``pair_index`` of the sub-envs in ``mask`` (those that started an episode on this call)."""
        index = np.array([s.index if s is not None else -1 for s in self._batch.starts], dtype=np.int64)
        return {"pair_index": np.where(mask, index, 0), "_pair_index": mask.copy()}

    def _out(self, x: Tensor) -> Any:
        return x if self.output == "torch" else x.cpu().numpy()

    def _flags(self, x: np.ndarray) -> Any:
        return self._batch.device_copies(x) if self.output == "torch" else x

    def __repr__(self) -> str:
        return f"PixGRLVectorEnv(num_envs={self.num_envs}, device={self.device}, output={self.output!r})"
