"""PixGRL-v0: Gymnasium's checker, the vector env against single envs, autoreset, rewards and bad input."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import pixgrl_env  # noqa: F401  (registers PixGRL-v0)
from pixgrl_env.config import ACTION_PRESETS, EnvConfig
from pixgrl_env.data.toy import ToyPairDataset
from pixgrl_env.env import PixGRLEnv, PixGRLVectorEnv, step_images
from pixgrl_env.rewards import pixel_reward, region_reward

TOY = {"dataset": "toy", "dataset_kwargs": {"size": 32, "n_patients": 6}, "split": "all"}
# The checker warns about MultiDiscrete len() on 2-D spaces; nothing else is allowed.
ALLOWED_WARNINGS = ("len() is not defined for MultiDiscrete",)


def _unexpected(records) -> list[str]:
    return [str(w.message) for w in records if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]


def test_check_env_default_config():
    env = gym.make("PixGRL-v0", dataset_kwargs={"n_patients": 10, "slices_per_patient": 1})
    assert env.observation_space.shape == (1, 256, 256)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert _unexpected(records) == []


@pytest.mark.parametrize("conditioning", [(), ("input", "time")])
def test_check_env_toy_with_conditioning(conditioning):
    env = gym.make("PixGRL-v0", conditioning=conditioning, crop=16, **TOY)
    assert env.observation_space.shape == (1 + len(conditioning), 16, 16)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert _unexpected(records) == []


def test_make_vec_returns_native_vector_env():
    venv = gym.make_vec("PixGRL-v0", num_envs=8, **TOY)
    assert isinstance(venv, PixGRLVectorEnv)
    assert venv.num_envs == 8
    assert venv.observation_space.shape == (8, 1, 32, 32)
    sync = gym.make_vec("PixGRL-v0", num_envs=2, vectorization_mode="sync", **TOY)
    assert isinstance(sync, gym.vector.SyncVectorEnv)


def _random_actions(rng, n, shape, n_actions):
    return rng.integers(0, n_actions, size=(n, *shape))


@pytest.mark.parametrize("crop", [None, 16])
def test_vector_trajectories_equal_single_envs_with_autoreset(crop):
    """8 native sub-envs == 8 single envs seeded seed+i, over several episodes (next-step autoreset)."""
    n, seed, steps = 8, 123, 13  # 13 steps of 5-step episodes: two autoresets
    cfg = EnvConfig(crop=crop, **TOY)
    venv = PixGRLVectorEnv(n, cfg)
    singles = [PixGRLEnv(cfg) for _ in range(n)]
    obs_v, info_v = venv.reset(seed=seed)
    obs_s = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    np.testing.assert_array_equal(obs_v, np.stack(obs_s))
    done_prev = np.zeros(n, dtype=bool)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = _random_actions(rng, n, venv.single_action_space.shape, cfg.n_actions)
        obs_v, rew_v, term_v, trunc_v, info_v = venv.step(actions)
        for i, env in enumerate(singles):
            if done_prev[i]:
                o, info = env.reset()
                r, term, trunc = 0.0, False, False
                assert info_v["_pair_index"][i] and info_v["pair_index"][i] == info["pair_index"]
                assert not info_v["_reward_map"][i]
            else:
                o, r, term, trunc, info = env.step(actions[i])
                # batched vs single float sums may differ in the last bits; observations must match exactly
                np.testing.assert_allclose(info_v["reward_map"][i], info["reward_map"], rtol=0, atol=1e-7)
                assert info_v["_reward_map"][i]
            np.testing.assert_array_equal(obs_v[i], o)
            assert rew_v[i] == pytest.approx(r, abs=1e-7)
            assert term_v[i] == term and trunc_v[i] == trunc
        done_prev = term_v | trunc_v
    assert done_prev.sum() == 0  # 13 = 2·(5 + 1) + 1: mid-episode


def test_sync_vector_env_matches_native():
    n = 3
    native = gym.make_vec("PixGRL-v0", num_envs=n, **TOY)
    sync = gym.make_vec("PixGRL-v0", num_envs=n, vectorization_mode="sync", **TOY)
    o1, _ = native.reset(seed=7)
    o2, _ = sync.reset(seed=7)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(1)
    for _ in range(12):
        a = _random_actions(rng, n, (32, 32), 3)
        r1, r2 = native.step(a), sync.step(a)
        for x, y in zip(r1[:4], r2[:4]):
            np.testing.assert_allclose(x, y, atol=1e-7)
        expected_mask = r2[4].get("_reward_map", np.zeros(n, dtype=bool))  # absent when every sub-env restarted
        np.testing.assert_array_equal(r1[4]["_reward_map"], expected_mask)


def test_same_step_autoreset():
    cfg = EnvConfig(autoreset_mode="same_step", episode_length=2, **TOY)
    venv = PixGRLVectorEnv(2, cfg)
    single = PixGRLEnv(cfg)
    venv.reset(seed=3)
    single.reset(seed=3)
    a = np.full((2, 32, 32), 2)
    venv.step(a)
    single.step(a[0])
    obs, rew, term, trunc, info = venv.step(a)
    last, r, *_ , last_info = single.step(a[0])
    assert term.all() and info["_final_obs"].all()
    np.testing.assert_array_equal(info["final_obs"][0], last)
    np.testing.assert_allclose(info["final_info"]["reward_map"][0], last_info["reward_map"], rtol=0, atol=1e-7)
    first, _ = single.reset()
    np.testing.assert_array_equal(obs[0], first)  # already the next episode's first observation
    assert rew[0] == pytest.approx(r, abs=1e-7)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP


def test_reset_mask_resets_only_masked_envs():
    venv = PixGRLVectorEnv(3, EnvConfig(**TOY))
    obs0, _ = venv.reset(seed=0)
    obs1, *_ = venv.step(np.full((3, 32, 32), 2))
    obs2, info = venv.reset(options={"reset_mask": np.array([True, False, False])})
    np.testing.assert_array_equal(obs2[1:], obs1[1:])
    assert info["_pair_index"].tolist() == [True, False, False]
    assert not np.array_equal(obs2[0], obs1[0])


def test_max_episode_steps_truncates():
    venv = PixGRLVectorEnv(2, EnvConfig(**TOY), max_episode_steps=3)
    venv.reset(seed=0)
    flags = [venv.step(np.ones((2, 32, 32), dtype=np.int64))[2:4] for _ in range(3)]
    assert [f[1].tolist() for f in flags] == [[False, False], [False, False], [True, True]]
    assert not any(f[0].any() for f in flags)


def test_identity_action_keeps_image_and_pays_zero():
    env = PixGRLEnv(**TOY)
    obs, _ = env.reset(seed=0)
    keep = ACTION_PRESETS["paper"].index(1.0)
    obs2, reward, *_, info = env.step(np.full((32, 32), keep))
    np.testing.assert_array_equal(obs2, obs)
    assert reward == 0.0
    assert np.all(info["reward_map"] == 0)


def test_reward_map_equals_reference_functions():
    cfg = EnvConfig(lam=0.3, **TOY)
    env = PixGRLEnv(cfg)
    obs, _ = env.reset(seed=5)
    target = torch.from_numpy(env.pair.target)[None, None]
    prev = torch.from_numpy(obs)[None]
    a = np.random.default_rng(0).integers(0, 3, (32, 32))
    obs2, reward, _, _, info = env.step(a)
    cur = torch.from_numpy(obs2)[None]
    expected_cur = torch.clamp(prev * torch.tensor(cfg.factors)[torch.from_numpy(a)], 0, 1)
    torch.testing.assert_close(cur, expected_cur, rtol=0, atol=0)
    pix = pixel_reward(prev, cur, target)
    reg = region_reward(prev, cur, target, patch=16, distance="wasserstein", mode="improvement",
                        method=cfg.w1_method)
    torch.testing.assert_close(torch.from_numpy(info["reward_pixel"])[None], pix)
    torch.testing.assert_close(torch.from_numpy(info["reward_region"])[None], reg, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.from_numpy(info["reward_map"])[None], pix + 0.3 * reg, atol=1e-6, rtol=0)
    assert reward == pytest.approx(float((pix + 0.3 * reg).mean()), abs=1e-7)


def test_moving_onto_target_earns_the_pixel_error():
    """A step that lands exactly on the target earns (y − s_t)² per pixel (eq. 6 limit case)."""
    x = torch.full((1, 1, 4, 4), 0.5)
    y = x * 1.05
    factors = torch.tensor(ACTION_PRESETS["paper"])
    res = step_images(x, y, torch.full((1, 4, 4), 2), factors, EnvConfig(lam=0.0))
    torch.testing.assert_close(res.image, y)
    torch.testing.assert_close(res.reward, (y - x) ** 2)


def test_values_clip_at_one():
    x = torch.full((1, 1, 2, 2), 0.99)
    res = step_images(x, x, torch.full((1, 2, 2), 2), torch.tensor(ACTION_PRESETS["paper"]), EnvConfig(lam=0))
    assert torch.all(res.image == 1.0)


def test_episode_end_and_step_errors():
    env = PixGRLEnv(episode_length=2, **TOY)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.ones((32, 32), dtype=np.int64))
    env.reset(seed=0)
    a = np.ones((32, 32), dtype=np.int64)
    assert env.step(a)[2] is False
    assert env.step(a)[2] is True
    with pytest.raises(RuntimeError, match="ended after 2 steps"):
        env.step(a)


@pytest.mark.parametrize("action, error, match", [
    (np.ones((31, 32), dtype=np.int64), ValueError, r"shape \(32, 32\)"),
    (np.ones((32, 32), dtype=np.float32), TypeError, "integer action indices"),
    (np.full((32, 32), 3), ValueError, r"\[0, 2\]"),
    (np.full((32, 32), -1), ValueError, r"got values in \[-1, -1\]"),
])
def test_bad_actions_raise(action, error, match):
    env = PixGRLEnv(**TOY)
    env.reset(seed=0)
    with pytest.raises(error, match=match):
        env.step(action)


@pytest.mark.parametrize("field, value, match", [
    ("distance", "l1", "distance must be one of"),
    ("factors", "step9", "unknown action preset"),
    ("factors", (1.0, 1.0), "distinct positive"),
    ("episode_length", 0, "episode_length must be an int >= 1"),
    ("lam", -1.0, "lam must be a number >= 0"),
    ("conditioning", ("T2",), "unknown conditioning channel 'T2'"),
    ("dataset", "mnist", "unknown dataset 'mnist'"),
    ("crop", 64, r"crop=64 is larger"),
])
def test_bad_config_raises(field, value, match):
    with pytest.raises(ValueError, match=match):
        PixGRLEnv(**{**TOY, field: value})


@pytest.mark.parametrize("overrides, match", [
    ({"patch": 64, "crop": 16}, r"patch=64 is larger than the crop=16 windows: .* at most 16 pixels .*patch <= 16"),
    ({"patch": 33}, r"patch=33 is larger than the dataset's 32 × 32 images: .* at most 32 pixels"),
])
def test_patch_larger_than_the_image_raises(overrides, match):
    for make in (lambda: PixGRLEnv(**{**TOY, **overrides}), lambda: PixGRLVectorEnv(2, **{**TOY, **overrides})):
        with pytest.raises(ValueError, match=match):
            make()
    PixGRLEnv(**{**TOY, **overrides, "lam": 0.0})  # no region reward: the patch is unused
    PixGRLEnv(**{**TOY, "patch": 32})  # the whole image is allowed


def test_numpy_integer_seeds_equal_python_ints():
    for make in (lambda: PixGRLEnv(crop=16, **TOY), lambda: PixGRLVectorEnv(np.int64(2), crop=16, **TOY)):
        a, b = make(), make()
        np.testing.assert_array_equal(a.reset(seed=np.int64(3))[0], b.reset(seed=3)[0])
    venv = PixGRLVectorEnv(2, crop=16, **TOY)
    np.testing.assert_array_equal(venv.reset(seed=np.array([3, 4]))[0], PixGRLVectorEnv(2, crop=16, **TOY).reset(
        seed=3)[0])


@pytest.mark.parametrize("vector, kwargs, error, match", [
    (False, {"seed": "abc"}, TypeError, r"seed must be None or an int >= 0 \(numpy integers too\), got 'abc' \(str\)"),
    (False, {"seed": 1.5}, TypeError, r"seed must be None or an int >= 0 .*got 1\.5 \(float\)"),
    (False, {"options": {"indices": [0]}}, ValueError,
     r"unknown reset options \['indices'\]; PixGRLEnv\.reset accepts only 'index' .*native vector env"),
    (False, {"options": {"index": 99}}, ValueError, r"options\['index'\] must be a pair index, an int in \[0, 12\)"),
    (True, {"seed": "abc"}, TypeError, r"seed must be None, an int >= 0 \(sub-env i is seeded with seed \+ i\) or a "
                                       r"list of num_envs=2 such seeds, got 'abc'"),
    (True, {"seed": 1.5}, TypeError, r"seed must be None, an int >= 0 .*got 1\.5 \(float\)"),
    (True, {"seed": -1}, ValueError, r"seed must be an int >= 0, got -1"),
    (True, {"seed": [1, "x"]}, TypeError, r"seed\[1\] must be None or an int >= 0"),
    (True, {"options": {"index": 0}}, ValueError,
     r"unknown reset options \['index'\]; the vector env accepts 'reset_mask' .* and 'indices'"),
    (True, {"options": {"indices": [0, 99]}}, ValueError,
     r"options\['indices'\]\[1\] must be a pair index, an int in \[0, 12\)"),
    (True, {"options": {"indices": 3}}, ValueError, r"options\['indices'\] must be a sequence of 2 pair indices"),
])
def test_bad_reset_arguments_say_what_is_allowed(vector, kwargs, error, match):
    env = PixGRLVectorEnv(2, **TOY) if vector else PixGRLEnv(**TOY)
    with pytest.raises(error, match=match):
        env.reset(**kwargs)


@pytest.mark.parametrize("num_envs", [0, -1, 1.5, True])
def test_vector_env_num_envs_must_be_a_positive_int(num_envs):
    with pytest.raises(ValueError, match=rf"num_envs must be an int >= 1, got {num_envs!r}"):
        gym.make_vec("PixGRL-v0", num_envs=num_envs, **TOY)


@pytest.mark.parametrize("device, match", [
    ("tpu", r"device='tpu' is not a torch device; expected e\.g\. 'cpu', 'cuda' or 'cuda:1'"),
    ("cuda:99", r"device='cuda:99' but (CUDA is not available on this machine|this machine has \d+ CUDA device)"),
])
def test_unusable_device_is_named(device, match):
    for make in (lambda: PixGRLEnv(device=device, **TOY), lambda: PixGRLVectorEnv(2, device=device, **TOY)):
        with pytest.raises(ValueError, match=match):
            make()


def test_unknown_config_field_raises():
    with pytest.raises(TypeError, match="colour"):
        gym.make("PixGRL-v0", colour="red")


def test_nan_dataset_raises():
    class NaNPairs(ToyPairDataset):
        def __getitem__(self, index):
            pair = super().__getitem__(index)
            pair.input[3, 3] = np.nan
            return pair.validate()

    env = PixGRLEnv(dataset=NaNPairs(), split="all")
    with pytest.raises(ValueError, match=r"toy\(seed=0, index=\d+\): input contains 1 NaN/Inf"):
        env.reset(seed=0)


def test_extra_conditioning_needs_the_modality():
    env = PixGRLEnv(conditioning=("extra:T2",), **TOY)
    with pytest.raises(ValueError, match="modality 'T2'"):
        env.reset(seed=0)


def test_render_rgb_array():
    env = gym.make("PixGRL-v0", render_mode="rgb_array", **TOY)
    env.reset(seed=0)
    env.step(np.full((32, 32), 2))
    frame = env.render()
    assert frame.shape == (32, 128, 3) and frame.dtype == np.uint8
    venv = PixGRLVectorEnv(2, EnvConfig(**TOY), render_mode="rgb_array")
    venv.reset(seed=0)
    assert [f.shape for f in venv.render()] == [(32, 128, 3)] * 2


def test_torch_output_and_seeding_determinism():
    venv = PixGRLVectorEnv(2, EnvConfig(**TOY), output="torch")
    obs, _ = venv.reset(seed=11)
    assert isinstance(obs, torch.Tensor) and obs.dtype == torch.float32
    a = torch.randint(0, 3, (2, 32, 32), generator=torch.Generator().manual_seed(0))
    obs2, rew, term, trunc, info = venv.step(a)
    assert isinstance(rew, torch.Tensor) and isinstance(info["reward_map"], torch.Tensor)
    other = PixGRLVectorEnv(2, EnvConfig(**TOY))
    np.testing.assert_array_equal(other.reset(seed=11)[0], obs.numpy())
    np.testing.assert_array_equal(other.step(a.numpy())[0], obs2.numpy())


def test_split_episodes_come_from_the_split_only():
    ds = ToyPairDataset(n_patients=10)
    patients = {}
    for split in ("train", "val", "test", "trainval"):
        env = PixGRLEnv(dataset=ds, split=split, fold=1)
        patients[split] = {env.source.dataset.item_index()[i][0] for i in range(len(env.source))}
        assert patients[split], split
    # train, val and test partition the patients; val is carved from the training folds
    assert not patients["test"] & patients["train"] and not patients["test"] & patients["val"]
    assert not patients["train"] & patients["val"]
    assert patients["train"] | patients["val"] | patients["test"] == {p for p, _ in ds.item_index()}
    assert patients["trainval"] == patients["train"] | patients["val"]
    # val is the fold after the test fold, deterministically
    assert PixGRLEnv(dataset=ds, split="val", fold=0).source.dataset.item_index() == \
        PixGRLEnv(dataset=ds, split="test", fold=1).source.dataset.item_index()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_vector_env_matches_cpu():
    cpu = PixGRLVectorEnv(4, EnvConfig(**TOY), output="torch")
    gpu = PixGRLVectorEnv(4, EnvConfig(device="cuda", **TOY), output="torch")
    o1, _ = cpu.reset(seed=0)
    o2, _ = gpu.reset(seed=0)
    torch.testing.assert_close(o2.cpu(), o1)
    a = torch.randint(0, 3, (4, 32, 32))
    for _ in range(6):
        r1, r2 = cpu.step(a), gpu.step(a.cuda())
        assert r2[0].device.type == "cuda"
        torch.testing.assert_close(r2[0].cpu(), r1[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(r2[1].cpu(), r1[1], atol=1e-6, rtol=0)


def test_device_copies_are_made_once_per_value_and_cannot_be_changed_through_a_result() -> None:
    """The vector env's flags and time channel on an accelerator come from an LRU of device copies (here the cache is
    exercised with the 'meta' device, which allocates nothing): one copy per distinct array, clones handed out."""
    from pixgrl_env.episodes import DeviceCopies

    copies = DeviceCopies(torch.device("meta"), size=2)
    a, b, c = np.array([True, False]), np.array([False, False]), np.array([True, True])
    first = copies(a)
    assert first.device.type == "meta" and first.shape == (2,) and first.dtype == torch.bool
    assert len(copies._cache) == 1 and copies(a.copy()) is not first and len(copies._cache) == 1
    copies(b), copies(c)  # a third value evicts the least recently used one
    assert len(copies._cache) == 2 and (a.dtype.str, a.shape, a.tobytes()) not in copies._cache
    cpu = DeviceCopies(torch.device("cpu"))
    assert np.shares_memory(cpu(a).numpy(), a) and not cpu._cache  # the CPU wraps the array itself
