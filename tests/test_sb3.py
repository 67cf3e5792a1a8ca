"""The Stable-Baselines3 adapter: SB3's checker, the batched distribution, PPO/A2C training, checkpoints."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.distributions import MultiCategoricalDistribution  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402

from agents import run as run_module  # noqa: E402
from agents.checkpoint import load_checkpoint  # noqa: E402
from pixgrl.registry import agent_module, load_agent  # noqa: E402
from baselines import sb3  # noqa: E402
from baselines.sb3 import (  # noqa: E402
    BatchedMultiCategoricalDistribution,
    Config,
    SB3Agent,
    SB3ObsActionWrapper,
    make_sb3_env,
)
from pixgrl_env.config import EnvConfig  # noqa: E402
from pixgrl_env.env import PixGRLEnv  # noqa: E402

TOY = EnvConfig(dataset="toy", dataset_kwargs={"size": 16, "n_patients": 6}, lam=0.0)
# SB3's checker warns about every float32 3-D observation (documented in baselines/sb3.py); nothing else is allowed.
ALLOWED_WARNINGS = ("has to be `np.uint8`", "not in [0, 255]", "minimal resolution for an image is 36x36")


def _config(**kw) -> Config:
    fields = dict(n_envs=2, total_timesteps=200, n_steps=10, batch_size=10, n_epochs=2, device="cpu",
                  backbone_kwargs={"channels": 8, "dilations": (1, 2)}, checkpoint_every=100, eval_every=100,
                  eval_pairs=1)
    return Config.preset("quick", **{**fields, **kw})


@pytest.mark.parametrize("crop", [None, 8])
def test_sb3_check_env_passes_on_the_adapter(crop):
    env = SB3ObsActionWrapper(PixGRLEnv(TOY.replace(crop=crop, conditioning=("input", "time"))))
    side = crop or 16
    assert env.action_space.shape == (side * side,) and env.action_space.nvec.ndim == 1
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        check_env(env)
    unexpected = [str(w.message) for w in records if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert unexpected == []


def test_wrapper_reshapes_actions_and_returns_python_types():
    env = SB3ObsActionWrapper(PixGRLEnv(TOY))
    ref = PixGRLEnv(TOY)
    obs, _ = env.reset(seed=3)
    obs_ref, _ = ref.reset(seed=3)
    np.testing.assert_array_equal(obs, obs_ref)
    action = np.random.default_rng(0).integers(0, 3, 16 * 16)
    out = env.step(action)
    out_ref = ref.step(action.reshape(16, 16))
    np.testing.assert_array_equal(out[0], out_ref[0])
    assert type(out[1]) is float and out[1] == out_ref[1]
    assert type(out[2]) is bool and type(out[3]) is bool


def test_batched_distribution_matches_sb3_multicategorical():
    g = torch.Generator().manual_seed(0)
    b, n, a = 5, 7, 3
    logits = torch.randn(b, n * a, generator=g)
    actions = torch.randint(0, a, (b, n), generator=g).float()  # SB3's rollout buffer stores actions as floats
    stock = MultiCategoricalDistribution([a] * n).proba_distribution(logits)
    ours = BatchedMultiCategoricalDistribution([a] * n).proba_distribution(logits)
    torch.testing.assert_close(ours.log_prob(actions), stock.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), stock.entropy())
    assert torch.equal(ours.mode(), stock.mode())
    assert ours.sample().shape == (b, n)
    with pytest.raises(ValueError, match="same number of actions"):
        BatchedMultiCategoricalDistribution([3, 3, 5])


def test_policy_is_fully_convolutional_with_pixel_major_logits():
    policy = sb3.build_policy(_config(), (2, 6, 5), 3)
    n_params = sum(p.numel() for p in policy.parameters())
    assert n_params < 2_000  # no Linear over the whole image anywhere
    obs = torch.rand(3, 2, 6, 5)
    flat = policy.action_net(policy.extract_features(obs, policy.pi_features_extractor))
    maps = policy.pixel_logits(obs)  # (B, A, H, W)
    assert torch.equal(flat.view(3, 6, 5, 3), maps.permute(0, 2, 3, 1))
    assert policy.predict_values(obs).shape == (3, 1)


def test_ppo_trains_saves_loads_and_resumes(tmp_path, monkeypatch):
    cfg = _config(algo="ppo", total_timesteps=200)
    saved_steps = []
    save = run_module.save_checkpoint
    monkeypatch.setattr(run_module, "save_checkpoint",  # checkpoint.pt only (best.pt is written besides it)
                        lambda path, **kw: (path.name == "checkpoint.pt" and saved_steps.append(kw["step"]),
                                            save(path, **kw))[1])
    agent = sb3.train(cfg, TOY, tmp_path)
    assert isinstance(agent, SB3Agent) and agent.model.num_timesteps == 200
    assert saved_steps == [100, 200]  # every checkpoint_every timesteps, and at the end
    # Parameters changed, compared with the initial policy (SB3 seeds it: two fresh models are identical).
    init, again = (sb3.make_model(cfg, make_sb3_env(TOY, 2, 0), torch.device("cpu")).policy.state_dict()
                   for _ in range(2))
    assert all(torch.equal(init[k], again[k]) for k in init)
    trained = agent.state_dict()
    assert all(k in trained for k in init)
    assert any(not torch.equal(init[k], trained[k]) for k in init)
    assert list((tmp_path / "tb").iterdir())  # SB3's own TensorBoard logs
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["agent"] == "sb3" and ckpt["step"] == 200 and ckpt["obs_shape"] == [1, 16, 16]

    # Save → load (weights_only): identical actions; deterministic act == SB3's predict, reshaped.
    loaded = load_agent(tmp_path / "checkpoint.pt")
    assert isinstance(loaded, SB3Agent) and loaded.model is None
    obs = torch.rand(4, 1, 16, 16)
    a = agent.act(obs)
    assert a.shape == (4, 16, 16) and a.dtype == torch.int64
    assert torch.equal(loaded.act(obs), a)
    predicted, _ = agent.model.predict(obs.numpy(), deterministic=True)
    assert np.array_equal(predicted.reshape(4, 16, 16), a.numpy())
    # The agent acts on other sizes too (whole test slices after training on crops).
    big = loaded.synthesize(torch.rand(1, 1, 24, 20))
    assert big.shape == (1, 1, 24, 20)
    torch.manual_seed(0)
    assert loaded.act(obs, deterministic=False).shape == (4, 16, 16)

    # Resume: continues the timestep counter up to the new budget.
    resumed = sb3.train(_config(algo="ppo", total_timesteps=300), TOY, tmp_path, resume=True)
    assert resumed.model.num_timesteps == 300
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 300


def test_a2c_runs(tmp_path):
    cfg = _config(algo="a2c", total_timesteps=60, n_steps=5)
    agent = sb3.train(cfg, TOY, tmp_path)
    assert agent.model.num_timesteps == 60
    assert type(agent.model).__name__ == "A2C"
    loaded = load_agent(tmp_path / "checkpoint.pt")
    obs = torch.rand(2, 1, 16, 16)
    assert torch.equal(loaded.act(obs), agent.act(obs))


def test_env_config_for_presets():
    assert sb3.env_config_for("quick").crop == 32
    assert sb3.env_config_for("paper") == EnvConfig.preset("paper")
    with pytest.raises(ValueError):
        sb3.env_config_for("nope")


def test_registry_and_config():
    assert agent_module("sb3") is sb3
    assert Config.preset("paper").learning_rate == 1e-3
    with pytest.raises(ValueError):
        Config(algo="dqn")
    with pytest.raises(ValueError):
        Config(head_kernel=2)
    with pytest.raises(ValueError, match="SB3ObsActionWrapper"):
        from gymnasium import spaces

        sb3.PixelActorCriticPolicy(spaces.Box(0, 1, (1, 4, 4), np.float32),
                                   spaces.MultiDiscrete(np.full((4, 4), 3)), lambda _: 1e-3)
