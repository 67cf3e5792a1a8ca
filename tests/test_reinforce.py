"""REINFORCE and the shared baseline pieces: per-pixel returns by hand, the loss's baselines, per-pixel sampling,
whole-episode collection from the vector env, train/checkpoint/resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from agents.checkpoint import load_checkpoint
from agents.run import CHECKPOINT
from pixgrl.registry import agent_module, load_agent
from agents.training import make_train_env, seed_everything
from baselines import reinforce
from baselines.common import Episode, collect_episode
from pixgrl_env.actions import apply_actions, factor_table
from pixgrl_env.config import EnvConfig
from pixgrl_env.data.toy import ToyPairDataset
from pixgrl_env.rewards import pixel_reward

TINY_NET = {"channels": 8, "dilations": (1, 2)}
# 16×16 toy pairs, pixel reward only (the region reward costs more than the tiny network on a CPU).
ENV = EnvConfig(dataset="toy", dataset_kwargs={"size": 16, "n_patients": 5}, lam=0.0)


def toy_inputs(n: int) -> torch.Tensor:
    """``(n, 1, 16, 16)`` inputs of the first ``n`` toy pairs."""
    return torch.stack([torch.from_numpy(ToyPairDataset(size=16)[i].input)[None] for i in range(n)])


def tiny_config(**overrides) -> reinforce.Config:
    base = dict(total_timesteps=40, num_envs=2, device="cpu", eval_episodes=0, backbone_kwargs=TINY_NET)
    return reinforce.Config.preset("quick", **{**base, **overrides})


# ----------------------------------------------------------------------------------------------------------------
# Per-pixel returns and the loss
# ----------------------------------------------------------------------------------------------------------------


def test_discounted_returns_by_hand_2x2_three_steps():
    # rewards (T=3, N=1, 2, 2): pixel (0,0) gets 1, 2, 3; pixel (1,1) gets -1, 0, 4; others 0.
    r = torch.zeros(3, 1, 2, 2)
    r[:, 0, 0, 0] = torch.tensor([1.0, 2.0, 3.0])
    r[:, 0, 1, 1] = torch.tensor([-1.0, 0.0, 4.0])
    dones = torch.tensor([[0.0], [0.0], [1.0]])
    g = reinforce.discounted_returns(r, dones, 0.5)
    # G_2 = r_2, G_1 = r_1 + 0.5 r_2, G_0 = r_0 + 0.5 r_1 + 0.25 r_2
    assert g[:, 0, 0, 0].tolist() == [1 + 1 + 0.75, 2 + 1.5, 3.0]
    assert g[:, 0, 1, 1].tolist() == [-1 + 0 + 1.0, 2.0, 4.0]
    assert g[:, 0, 0, 1].tolist() == [0.0, 0.0, 0.0]


def test_discounted_returns_stop_at_done():
    r = torch.ones(3, 2, 2, 2)
    dones = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # image 1 ends after step 0, image 0 after step 1
    g = reinforce.discounted_returns(r, dones, 0.9)
    assert g[:, 0, 0, 0].tolist() == pytest.approx([1.9, 1.0, 1.0])
    assert g[:, 1, 0, 0].tolist() == pytest.approx([1.0, 1.9, 1.0])


def _fixed_logit_agent(logits: torch.Tensor, **config) -> reinforce.ReinforceAgent:
    """An agent whose network outputs the same per-pixel logits ``(A,)`` (and value 0) for every pixel; its
    ``action_points`` are the log of the factors (the ordinal head's) with ``policy="ordinal"``."""

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            ordinal = config.get("policy") == "ordinal"
            self.action_points = torch.tensor(ENV.factors).log() if ordinal else None
            self.logits = nn.Parameter(logits.clone())
            self.value = nn.Parameter(torch.zeros(()))

        def forward(self, obs):
            n, _, h, w = obs.shape
            return self.logits.view(1, -1, 1, 1).expand(n, -1, h, w), self.value.expand(n, 1, h, w)

    agent = reinforce.ReinforceAgent(ENV, tiny_config(**config))
    agent.network = Fixed()
    return agent


def _episode(rewards: torch.Tensor, actions: torch.Tensor) -> Episode:
    t_max, n, h, w = rewards.shape
    dones = torch.zeros(t_max, n)
    dones[-1] = 1.0
    return Episode(torch.rand(t_max + 1, n, 1, h, w), actions, rewards, dones)


def test_policy_loss_matches_the_formula_for_each_baseline():
    logits = torch.tensor([0.1, -0.3, 0.5])
    log_pi = logits.log_softmax(0)
    torch.manual_seed(0)
    rewards, actions = torch.randn(2, 3, 2, 2), torch.randint(3, (2, 3, 2, 2))
    ep = _episode(rewards, actions)
    returns = reinforce.discounted_returns(rewards, ep.dones, 0.9)
    entropy = -(log_pi.exp() * log_pi).sum()
    for baseline, advantage in (("none", returns), ("mean", returns - returns.mean(dim=1, keepdim=True)),
                                ("value", returns - 0.0)):
        agent = _fixed_logit_agent(logits, gamma=0.9, baseline=baseline, ent_coef=0.01, vf_coef=0.5, num_envs=3)
        loss, logs = reinforce.policy_loss(agent, ep, agent.config)
        expected = -(log_pi[actions] * advantage).mean() - 0.01 * entropy
        if baseline == "value":
            expected = expected + 0.5 * returns.pow(2).mean()
            assert logs["losses__value_loss"] == pytest.approx(returns.pow(2).mean().item(), rel=1e-5)
        torch.testing.assert_close(loss, expected)
        assert logs["losses__entropy"] == pytest.approx(entropy.item(), rel=1e-5)


def test_value_baseline_is_detached_from_the_policy_gradient():
    agent = _fixed_logit_agent(torch.zeros(3), baseline="value", vf_coef=0.0, ent_coef=0.0, num_envs=2)
    ep = _episode(torch.randn(2, 2, 4, 4), torch.randint(3, (2, 2, 4, 4)))
    loss, _ = reinforce.policy_loss(agent, ep, agent.config)
    loss.backward()
    assert agent.network.logits.grad.abs().sum() > 0
    assert agent.network.value.grad is None or agent.network.value.grad.abs().sum() == 0


def test_mean_baseline_needs_two_envs():
    with pytest.raises(ValueError, match="num_envs >= 2"):
        reinforce.Config(baseline="mean", num_envs=1)
    with pytest.raises(ValueError, match="baseline"):
        reinforce.Config(baseline="critic")


# ----------------------------------------------------------------------------------------------------------------
# Acting and collecting episodes
# ----------------------------------------------------------------------------------------------------------------


def test_sampled_actions_follow_the_per_pixel_softmax():
    probs = torch.tensor([0.2, 0.3, 0.5])
    agent = _fixed_logit_agent(probs.log())
    torch.manual_seed(0)
    a = agent.act(torch.rand(4, 1, 64, 64), deterministic=False)
    freq = torch.bincount(a.flatten(), minlength=3).float() / a.numel()
    assert torch.allclose(freq, probs, atol=0.01)
    assert not torch.equal(a[0], a[1])  # every pixel of every image draws on its own
    assert torch.equal(agent.act(torch.rand(2, 1, 8, 8)), torch.full((2, 8, 8), 2))  # greedy: argmax


@pytest.mark.parametrize("greedy_action, expected", [("mode", 0), ("mean", 1)])
def test_greedy_action_of_the_ordinal_head(greedy_action, expected):
    """π = 0.40, 0.25, 0.35 over ×0.95 / ×1 / ×1.05: the mode is ×0.95, the mean log-factor −0.0034 nearest ×1."""
    assert ENV.factors == (0.95, 1.0, 1.05)
    agent = _fixed_logit_agent(torch.tensor([0.40, 0.25, 0.35]).log(), policy="ordinal", greedy_action=greedy_action)
    assert torch.equal(agent.act(torch.rand(2, 1, 8, 8)), torch.full((2, 8, 8), expected))


def test_each_image_gets_its_own_action_map():
    torch.manual_seed(0)
    agent = reinforce.ReinforceAgent(ENV, tiny_config())
    x = toy_inputs(3)
    together = agent.act(x)
    assert together.shape == (3, 16, 16) and together.dtype == torch.int64
    for i in range(3):
        assert torch.equal(together[i], agent.act(x[i:i + 1])[0])
    assert not torch.equal(together[0], together[1])


def test_collect_episode_applies_each_images_actions_and_keeps_reward_maps():
    env = make_train_env(ENV, 3, torch.device("cpu"), seed=0)
    torch.manual_seed(0)
    ep = collect_episode(env, lambda obs: torch.randint(3, (obs.shape[0], *obs.shape[2:])), reward_scale=10.0)
    t_max = ENV.episode_length
    assert ep.obs.shape == (t_max + 1, 3, 1, 16, 16) and ep.actions.shape == (t_max, 3, 16, 16)
    assert ep.rewards.shape == (t_max, 3, 16, 16) and ep.dones.tolist() == [[0.0] * 3] * (t_max - 1) + [[1.0] * 3]
    factors = factor_table(ENV.factors)
    target = env._batch.target  # the episodes' targets, to check the reward maps
    for t in range(t_max):
        assert not torch.equal(ep.actions[t, 0], ep.actions[t, 1])
        for i in range(3):
            nxt = apply_actions(ep.obs[t, i:i + 1], ep.actions[t, i:i + 1], factors)
            torch.testing.assert_close(ep.obs[t + 1, i:i + 1], nxt)
        torch.testing.assert_close(ep.rewards[t], 10.0 * pixel_reward(ep.obs[t], ep.obs[t + 1], target)[:, 0])
    again = collect_episode(env, lambda obs: torch.ones(obs.shape[0], *obs.shape[2:], dtype=torch.long))
    assert again.obs.shape == ep.obs.shape  # the next call starts fresh episodes
    assert torch.equal(again.obs[-1], again.obs[0])  # ×1.0 keeps the image


# ----------------------------------------------------------------------------------------------------------------
# Training, checkpoints, resume
# ----------------------------------------------------------------------------------------------------------------


def test_registry_and_presets():
    assert agent_module("reinforce") is reinforce
    assert reinforce.Config.preset("paper").baseline == "value"
    assert reinforce.Config.preset("quick", seed=3).seed == 3


@pytest.mark.parametrize("baseline", ["mean", "value"])
def test_train_changes_parameters_and_checkpoint_reloads(tmp_path, baseline):
    config = tiny_config(baseline=baseline)
    seed_everything(config.seed)
    initial = reinforce.ReinforceAgent(ENV, config)  # the same initialisation train() starts from
    agent = reinforce.train(config, ENV, tmp_path)
    changed = [not torch.equal(p, q) for p, q in zip(initial.network.parameters(), agent.network.parameters())]
    assert sum(changed) >= len(changed) - (2 if baseline == "mean" else 0)  # the value head trains with "value"

    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["agent"] == "reinforce" and ckpt["step"] == 40 and ckpt["updates"] == 4
    loaded = load_agent(tmp_path / CHECKPOINT)
    assert isinstance(loaded, reinforce.ReinforceAgent) and loaded.config == config
    obs = torch.rand(3, 1, 16, 16)
    assert torch.equal(loaded.act(obs), agent.act(obs))


def test_resume_restores_the_step_and_continues(tmp_path):
    reinforce.train(tiny_config(total_timesteps=20), ENV, tmp_path)
    first = load_checkpoint(tmp_path / CHECKPOINT)
    assert (first["step"], first["updates"]) == (20, 2)
    again = reinforce.train(tiny_config(total_timesteps=20), ENV, tmp_path, resume=True)  # budget already spent
    for key, value in first["model"].items():
        assert torch.equal(again.network.state_dict()[key], value)
    reinforce.train(tiny_config(total_timesteps=60), ENV, tmp_path, resume=True)
    second = load_checkpoint(tmp_path / CHECKPOINT)
    assert (second["step"], second["updates"]) == (60, 6)
    assert second["optimizer"]["state"][0]["step"].item() == 6  # Adam's moments carried over


@pytest.mark.parametrize("policy", ["categorical", "ordinal"])
def test_learns_to_brighten_when_the_target_is_input_times_1_05_to_the_T(tmp_path, policy):
    """Toy pairs whose target is exactly input × 1.05^5: the greedy policy should pick ×1.05 nearly everywhere."""
    gain = 1.05 ** 5
    env = ENV.replace(dataset_kwargs={"size": 16, "n_patients": 5, "gain": (gain, gain)})
    agent = reinforce.train(tiny_config(total_timesteps=200, num_envs=4, learning_rate=3e-3, policy=policy), env,
                            tmp_path)
    assert (agent.act(toy_inputs(4)) == 2).float().mean().item() > 0.9  # index 2 is ×1.05


def test_cli_trains_from_a_preset(tmp_path):
    from pixgrl.cli import main

    assert reinforce.env_config_for("quick").crop == 64
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--agent", "reinforce", "--preset", "quick", "--run-dir", str(tmp_path),
              "--set", "total_timesteps=20", "--set", "num_envs=2", "--set", "device=cpu", "--set", "eval_episodes=0",
              "--set", 'backbone_kwargs={"channels": 8, "dilations": [1, 2]}',
              "--env", "dataset=toy", "--env", 'dataset_kwargs={"size": 16}', "--env", "crop=null", "--env", "lam=0"])
    assert exit_info.value.code == 0
    assert load_checkpoint(tmp_path / CHECKPOINT)["step"] == 20


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(tmp_path):
    agent = reinforce.train(tiny_config(device="cuda", baseline="value"), ENV, tmp_path)
    obs = torch.rand(2, 1, 16, 16, device="cuda")
    assert agent.act(obs).device.type == "cuda" and agent.act(obs, deterministic=False).device.type == "cuda"
    assert torch.equal(load_agent(tmp_path / CHECKPOINT, "cuda").act(obs), agent.act(obs))
