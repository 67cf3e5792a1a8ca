"""Reference agents: the identity keeps the input, the oracle is the exact per-pixel optimum of the reachable set."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

from agents.base import Agent
from agents.checkpoint import load_checkpoint
from pixgrl.registry import agent_module, load_agent
from agents.training import eval_pairs
from baselines import reference
from baselines.reference import IdentityAgent, OracleAgent, env_factors, oracle_actions, oracle_plan, plan_actions
from pixgrl_env.actions import apply_actions, factor_table
from pixgrl_env.config import EnvConfig

TOY = EnvConfig(dataset="toy", dataset_kwargs={"size": 32, "n_patients": 6}, lam=0.0)


def _final_exact(x: Fraction, seq, factors) -> Fraction:
    v = x
    for a in seq:
        v = min(Fraction(1), v * factors[a])
    return v


def _tiny_case(seed: int = 0):
    """A 2×1×4×6 image with pixels near and at 1 (to exercise the clip), near 0, and exactly 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1, 4, 6, generator=g)
    x[0, 0, 0] = torch.tensor([1.0, 0.999, 0.98, 0.96, 0.93, 0.9])
    x[0, 0, 1, :3] = torch.tensor([0.0, 1e-4, 0.02])
    y = torch.rand(2, 1, 4, 6, generator=g)
    y[0, 0, 0] = torch.tensor([0.9, 1.0, 0.97, 0.99, 1.0, 0.951])
    y[0, 0, 1, :3] = torch.tensor([0.3, 0.0, 0.02])
    y[1, 0, 0] = 1.0
    return x, y


@pytest.mark.parametrize("factors", [(0.95, 1.0, 1.05), (0.8, 1.0, 1.2), (0.9, 1.1, 1.3)])
def test_oracle_equals_exact_brute_force(factors):
    """3 actions, T=4: the oracle's plan, evaluated in rational arithmetic, reaches the minimum squared error over
    all 81 action sequences, exactly."""
    steps = 4
    x, y = _tiny_case()
    f32 = env_factors(EnvConfig(factors=factors))
    plan = oracle_plan(x, y, f32, steps)
    actions = plan_actions(plan, f32, steps)  # (T, N, H, W)
    assert (plan.saturate > 0).any(), "the case must exercise the saturate-then-walk branch"
    fr = [Fraction(f) for f in f32]
    seqs = list(itertools.product(range(len(fr)), repeat=steps))
    xs, ys = x.double().flatten().tolist(), y.double().flatten().tolist()
    acts = actions.permute(1, 2, 3, 0).reshape(-1, steps).tolist()
    for i, (xv, yv) in enumerate(zip(xs, ys)):
        xf, yf = Fraction(xv), Fraction(yv)
        best = min((_final_exact(xf, s, fr) - yf) ** 2 for s in seqs)
        got = (_final_exact(xf, acts[i], fr) - yf) ** 2
        assert got == best, (i, xv, yv, acts[i])
        # The plan's value is what the plan reaches (float64 of the exact value).
        assert plan.value.flatten()[i].item() == pytest.approx(float(_final_exact(xf, acts[i], fr)), rel=1e-14)


def test_oracle_beats_greedy_walk_somewhere():
    """A greedy walk is not optimal: the oracle is strictly better on some pixel of a fine grid."""
    steps, f32 = 3, env_factors(EnvConfig())
    x = torch.linspace(0.05, 0.7, 400).view(1, 1, 20, 20)
    y = x * 1.05 * 1.05 * 0.95
    plan = oracle_plan(x, y, f32, steps)
    greedy = _greedy(x, y, factor_table(f32), steps)
    oracle = plan.value.float()
    assert ((oracle - y) ** 2 <= (greedy - y) ** 2 + 1e-12).all()
    assert ((oracle - y) ** 2 < (greedy - y) ** 2 - 1e-9).any()


def _greedy(x: torch.Tensor, y: torch.Tensor, factors: torch.Tensor, steps: int) -> torch.Tensor:
    """Each step, each pixel takes the action whose result is closest to its target."""
    v = x
    for _ in range(steps):
        cand = (v.unsqueeze(0) * factors.view(-1, 1, 1, 1, 1)).clamp(0, 1)
        a = ((cand - y.unsqueeze(0)) ** 2).argmin(dim=0)[:, 0]
        v = apply_actions(v, a, factors)
    return v


def test_oracle_plan_runs_through_env_step_function():
    """OracleAgent's output is the plan run with apply_actions, within float32 rounding of the exact value."""
    x, y = _tiny_case(1)
    cfg = EnvConfig(episode_length=4)
    agent = OracleAgent(cfg)
    traj = agent.trajectory(x, targets=y)
    assert traj.shape == (5, *x.shape)
    torch.testing.assert_close(traj[0], x)
    plan = oracle_plan(x, y, env_factors(cfg), 4)
    torch.testing.assert_close(traj[-1].double(), plan.value, atol=1e-6, rtol=0)
    acts = oracle_actions(x, y, cfg)
    v = x
    for a in acts:
        v = apply_actions(v, a, factor_table(cfg.factors))
    assert torch.equal(v, traj[-1])
    assert torch.equal(agent.synthesize_with_target(x, y), traj[-1])


class _RandomAgent(Agent):
    def __init__(self, env_config, seed=0):
        super().__init__(env_config)
        self.g = torch.Generator().manual_seed(seed)

    def act(self, obs, deterministic=True):
        return torch.randint(0, self.env_config.n_actions, (obs.shape[0], *obs.shape[2:]), generator=self.g)


@pytest.mark.parametrize("episode_length", [5, 20])
def test_oracle_mse_below_identity_random_greedy_on_toy_pairs(episode_length):
    cfg = TOY.replace(episode_length=episode_length)
    pairs = list(eval_pairs(cfg, 3))
    x = torch.cat([p[0] for p in pairs])
    y = torch.cat([p[1] for p in pairs])
    oracle = OracleAgent(cfg).synthesize(x, targets=y)
    others = {
        "identity": IdentityAgent(cfg).synthesize(x),
        "random": _RandomAgent(cfg).synthesize(x),
        "greedy": _greedy(x, y, factor_table(cfg.factors), episode_length),
    }
    err_o = (oracle - y) ** 2
    for name, out in others.items():
        err = (out - y) ** 2
        assert err_o.mean() <= err.mean(), name
        # Per pixel, up to float32 rounding of the step-by-step products.
        assert (err_o <= err + 1e-6).all(), name
    assert err_o.mean() < ((others["identity"] - y) ** 2).mean()


def test_identity_returns_input_exactly():
    x = torch.rand(3, 1, 16, 16)
    for factors in ((0.95, 1.0, 1.05), (0.9, 1.1)):
        agent = IdentityAgent(EnvConfig(factors=factors))
        assert torch.equal(agent.synthesize(x), x)
        assert agent.trajectory(x).shape == (6, 3, 1, 16, 16)
    keep = IdentityAgent(EnvConfig())
    assert (keep.act(torch.rand(2, 1, 8, 8)) == 1).all()
    # The base-class episode loop with the ×1.0 action gives the same.
    assert torch.equal(Agent.trajectory(keep, x)[-1], x)
    with pytest.raises(NotImplementedError, match="no ×1.0 action"):
        IdentityAgent(EnvConfig(factors=(0.9, 1.1))).act(torch.rand(1, 1, 4, 4))


def test_oracle_requires_targets_and_has_no_policy():
    agent = OracleAgent(EnvConfig())
    assert agent.needs_target and not IdentityAgent(EnvConfig()).needs_target
    with pytest.raises(ValueError, match="needs the targets"):
        agent.synthesize(torch.rand(1, 1, 4, 4))
    with pytest.raises(NotImplementedError, match="no policy"):
        agent.act(torch.rand(1, 1, 4, 4))


def test_oracle_large_image_fast_and_bounded():
    """256×256 at T=20 (long preset) runs and stays in [0, 1]."""
    cfg = EnvConfig(episode_length=20)
    x, y = torch.rand(1, 1, 256, 256), torch.rand(1, 1, 256, 256)
    out = OracleAgent(cfg).synthesize(x, targets=y)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert ((out - y) ** 2).mean() < ((x - y) ** 2).mean()


@pytest.mark.parametrize("model", ["identity", "oracle"])
def test_registry_train_load_build(tmp_path, model):
    module = agent_module(model)
    assert module is reference
    cfg = reference.Config.preset("quick", model=model)
    agent = module.train(cfg, TOY, tmp_path)
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "config.json").is_file()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["agent"] == model
    loaded = load_agent(tmp_path / "checkpoint.pt")
    assert type(loaded) is type(agent) is type(reference.build(model, TOY))
    assert loaded.env_config == TOY
    with pytest.raises(ValueError):
        reference.Config(model="nope")
    x = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    if model == "identity":
        assert torch.equal(loaded.synthesize(x)[0, 0], torch.from_numpy(x))
