"""Per-pixel DQN: TD targets by hand, replay ring buffer, ε schedule, per-image actions, train/checkpoint/resume."""

from __future__ import annotations

import pytest
import torch

from agents.checkpoint import load_checkpoint
from agents.run import CHECKPOINT
from pixgrl.registry import agent_module, load_agent
from agents.training import make_train_env, seed_everything
from baselines import dqn
from baselines.common import collect_episode
from pixgrl_env.config import EnvConfig
from pixgrl_env.data.toy import ToyPairDataset

TINY_NET = {"channels": 8, "dilations": (1, 2)}
# 16×16 toy pairs, pixel reward only (the region reward costs more than the tiny network on a CPU).
ENV = EnvConfig(dataset="toy", dataset_kwargs={"size": 16, "n_patients": 5}, lam=0.0)


def toy_inputs(n: int) -> torch.Tensor:
    """``(n, 1, 16, 16)`` inputs of the first ``n`` toy pairs."""
    return torch.stack([torch.from_numpy(ToyPairDataset(size=16)[i].input)[None] for i in range(n)])


def tiny_config(**overrides) -> dqn.Config:
    base = dict(total_timesteps=40, num_envs=2, device="cpu", buffer_size=64, batch_size=4, learning_starts=10,
                gradient_steps=2, target_network_frequency=2, eval_episodes=0, backbone_kwargs=TINY_NET)
    return dqn.Config.preset("quick", **{**base, **overrides})


# ----------------------------------------------------------------------------------------------------------------
# TD targets
# ----------------------------------------------------------------------------------------------------------------


def test_td_target_by_hand_2x2():
    reward = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[0.5, 0.5], [0.5, 0.5]]])  # (B=2, 2, 2)
    done = torch.tensor([0.0, 1.0])
    # next_q_target (B, A=2, 2, 2): action 0 and action 1 values per pixel
    next_q = torch.tensor([
        [[[1.0, 5.0], [2.0, 0.0]], [[3.0, 4.0], [1.0, -2.0]]],
        [[[9.0, 9.0], [9.0, 9.0]], [[9.0, 9.0], [9.0, 9.0]]],
    ])
    y = dqn.td_target(reward, done, 0.5, next_q)
    # image 0: r + 0.5·max(q0, q1) = [[1 + 1.5, 2 + 2.5], [0 + 1, -1 + 0]]; image 1 is terminal: y = r.
    expected = torch.tensor([[[2.5, 4.5], [1.0, -1.0]], [[0.5, 0.5], [0.5, 0.5]]])
    torch.testing.assert_close(y, expected)


def test_double_dqn_target_takes_the_online_argmax():
    reward = torch.zeros(1, 1, 2)
    done = torch.zeros(1)
    next_q_target = torch.tensor([[[[10.0, 1.0]], [[0.0, 7.0]], [[5.0, 3.0]]]])  # (1, A=3, 1, 2)
    next_q_online = torch.tensor([[[[0.0, 9.0]], [[1.0, 0.0]], [[2.0, 0.0]]]])  # argmax: pixel 0 → 2, pixel 1 → 0
    plain = dqn.td_target(reward, done, 1.0, next_q_target)
    double = dqn.td_target(reward, done, 1.0, next_q_target, next_q_online)
    torch.testing.assert_close(plain, torch.tensor([[[10.0, 7.0]]]))  # max of the target net
    torch.testing.assert_close(double, torch.tensor([[[5.0, 1.0]]]))  # target net at the online argmax


def test_dqn_loss_gathers_each_pixels_own_action():
    torch.manual_seed(0)
    agent = dqn.DQNAgent(ENV, tiny_config())
    obs = torch.rand(2, 1, 4, 4)
    actions = torch.randint(3, (2, 4, 4))
    data = dqn.ReplaySample(obs, actions, torch.zeros(2, 4, 4), obs, torch.ones(2))  # terminal: y = r = 0
    loss, q_sa = dqn.dqn_loss(agent, agent.network, data, agent.config.replace(loss="mse"))
    q = agent.q_values(obs).detach()
    manual = torch.stack([q[n, actions[n, i, j], i, j] for n in range(2) for i in range(4) for j in range(4)])
    torch.testing.assert_close(q_sa.flatten(), manual)
    torch.testing.assert_close(loss.detach(), manual.pow(2).mean())


def test_dueling_q_is_value_plus_centred_advantage():
    out, value = torch.tensor([[[[1.0]], [[2.0]], [[6.0]]]]), torch.tensor([[[[10.0]]]])
    q = dqn.q_from_outputs(out, value, True)
    torch.testing.assert_close(q.flatten(), torch.tensor([8.0, 9.0, 13.0]))  # 10 + adv − mean adv (3)
    assert dqn.q_from_outputs(out, value, False) is out


def test_target_update_hard_and_polyak():
    online, target = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = target.weight.detach().clone()
    dqn.update_target(target, online, 0.25)
    torch.testing.assert_close(target.weight, 0.75 * before + 0.25 * online.weight)
    dqn.update_target(target, online, 1.0)
    assert torch.equal(target.weight, online.weight)


# ----------------------------------------------------------------------------------------------------------------
# Replay buffer, ε schedule, ε-greedy
# ----------------------------------------------------------------------------------------------------------------


def _transitions(start: int, n: int):
    v = torch.arange(start, start + n, dtype=torch.float32)
    return (v.view(n, 1, 1, 1).expand(n, 1, 2, 2), (v.long() % 3).view(n, 1, 1).expand(n, 2, 2),
            v.view(n, 1, 1).expand(n, 2, 2), (v + 0.5).view(n, 1, 1, 1).expand(n, 1, 2, 2), v % 2)


def test_replay_buffer_wraps_around_and_overwrites_the_oldest():
    rb = dqn.ReplayBuffer(5, (1, 2, 2), 3, "cpu")
    rb.add(*_transitions(0, 3))
    assert (len(rb), rb.pos) == (3, 3)
    rb.add(*_transitions(3, 4))  # 3, 4 fill slots 3, 4; 5, 6 overwrite slots 0, 1
    assert (len(rb), rb.pos) == (5, 2)
    assert rb.obs[:, 0, 0, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert rb.next_obs[:, 0, 0, 0].tolist() == [5.5, 6.5, 2.5, 3.5, 4.5]
    assert rb.rewards[:, 0, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert rb.actions[:, 0, 0].tolist() == [2, 0, 2, 0, 1] and rb.actions.dtype == torch.uint8
    assert rb.dones.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    rb.add(*_transitions(10, 7))  # more than the capacity: the last 5 (12…16) are kept
    assert sorted(rb.obs[:, 0, 0, 0].tolist()) == [12.0, 13.0, 14.0, 15.0, 16.0] and len(rb) == 5
    sample = rb.sample(32)
    assert sample.obs.shape == (32, 1, 2, 2) and sample.actions.dtype == torch.int64
    assert torch.equal(sample.next_obs, sample.obs + 0.5)  # fields of one transition stay together
    assert set(sample.obs[:, 0, 0, 0].tolist()) <= {12.0, 13.0, 14.0, 15.0, 16.0}


def test_replay_buffer_add_episode_pairs_each_state_with_its_successor():
    env = make_train_env(ENV, 2, torch.device("cpu"), seed=0)
    episode = collect_episode(env, lambda obs: torch.randint(3, (obs.shape[0], *obs.shape[2:])))
    rb = dqn.ReplayBuffer(100, (1, 16, 16), 3, "cpu")
    rb.add_episode(episode)
    t_max, n = episode.actions.shape[:2]
    assert len(rb) == t_max * n
    assert torch.equal(rb.obs[n:2 * n], episode.obs[1]) and torch.equal(rb.next_obs[:n], episode.obs[1])
    assert rb.dones[:t_max * n].tolist() == [0.0] * (t_max - 1) * n + [1.0] * n


def test_linear_schedule_endpoints():
    assert dqn.linear_schedule(1.0, 0.05, 100, 0) == 1.0
    assert dqn.linear_schedule(1.0, 0.05, 100, 50) == pytest.approx(0.525)
    assert dqn.linear_schedule(1.0, 0.05, 100, 100) == pytest.approx(0.05)
    assert dqn.linear_schedule(1.0, 0.05, 100, 10_000) == pytest.approx(0.05)
    assert dqn.linear_schedule(1.0, 0.05, 0, 0) == 0.05


def test_epsilon_greedy_is_per_pixel():
    torch.manual_seed(0)
    q = torch.zeros(2, 3, 32, 32)
    q[:, 1] = 1.0  # greedy action 1 everywhere
    assert torch.equal(dqn.epsilon_greedy(q, 0.0), torch.ones(2, 32, 32, dtype=torch.long))
    a = dqn.epsilon_greedy(q, 1.0)
    counts = torch.bincount(a.flatten(), minlength=3).float() / a.numel()
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)  # uniform per pixel
    assert not torch.equal(a[0], a[1])  # each image draws its own coins
    half = dqn.epsilon_greedy(q, 0.5)
    assert (half == 1).float().mean().item() == pytest.approx(0.5 + 0.5 / 3, abs=0.04)


def test_each_image_gets_its_own_action_map():
    torch.manual_seed(0)
    agent = dqn.DQNAgent(ENV, tiny_config())
    x = toy_inputs(3)
    together = agent.act(x)
    assert together.shape == (3, 16, 16) and together.dtype == torch.int64
    for i in range(3):
        assert torch.equal(together[i], agent.act(x[i:i + 1])[0])
    assert not torch.equal(together[0], together[1])


# ----------------------------------------------------------------------------------------------------------------
# Training, checkpoints, resume
# ----------------------------------------------------------------------------------------------------------------


def test_registry_and_presets():
    assert agent_module("dqn") is dqn
    assert dqn.Config.preset("paper").batch_size == 32
    assert dqn.Config.preset("quick", seed=3).seed == 3
    with pytest.raises(ValueError, match="unknown preset"):
        dqn.Config.preset("nope")
    with pytest.raises(ValueError, match="loss"):
        dqn.Config(loss="l1")


def test_train_changes_parameters_and_checkpoint_reloads(tmp_path):
    config = tiny_config()
    seed_everything(config.seed)
    initial = dqn.DQNAgent(ENV, config)  # the same initialisation train() starts from
    agent = dqn.train(config, ENV, tmp_path)
    changed = [not torch.equal(p, q) for p, q in zip(initial.network.parameters(), agent.network.parameters())
               if p.requires_grad]
    assert sum(changed) >= len(changed) - 2  # all but the unused value head (no dueling)
    assert (tmp_path / "config.json").is_file() and any((tmp_path / "tb").iterdir())

    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["agent"] == "dqn" and ckpt["step"] == 40 and ckpt["updates"] > 0
    assert set(ckpt) >= {"model", "target_model", "optimizer", "rng"}
    loaded = load_agent(tmp_path / CHECKPOINT)
    assert isinstance(loaded, dqn.DQNAgent) and loaded.epsilon == config.end_e
    obs = torch.rand(3, 1, 16, 16)
    assert torch.equal(loaded.act(obs), agent.act(obs))
    assert torch.equal(loaded.synthesize(obs[:, :1]), agent.synthesize(obs[:, :1]))


def test_resume_restores_the_step_and_continues(tmp_path):
    dqn.train(tiny_config(total_timesteps=20), ENV, tmp_path)
    first = load_checkpoint(tmp_path / CHECKPOINT)
    assert first["step"] == 20
    again = dqn.train(tiny_config(total_timesteps=20), ENV, tmp_path, resume=True)  # budget already spent
    for key, value in first["model"].items():
        assert torch.equal(again.network.state_dict()[key], value)
    dqn.train(tiny_config(total_timesteps=60), ENV, tmp_path, resume=True)
    second = load_checkpoint(tmp_path / CHECKPOINT)
    assert second["step"] == 60 and second["updates"] > first["updates"]
    assert any(not torch.equal(second["model"][k], first["model"][k]) for k in first["model"])


def test_learns_to_brighten_when_the_target_is_input_times_1_05_to_the_T(tmp_path):
    """Toy pairs whose target is exactly input × 1.05^5: the greedy policy should pick ×1.05 nearly everywhere."""
    gain = 1.05 ** 5
    env = ENV.replace(dataset_kwargs={"size": 16, "n_patients": 5, "gain": (gain, gain)})
    x = toy_inputs(4)
    config = tiny_config(total_timesteps=200, num_envs=4, learning_starts=40, batch_size=4, gradient_steps=4)
    agent = dqn.train(config, env, tmp_path)
    assert (agent.act(x) == 2).float().mean().item() > 0.9  # index 2 is ×1.05


def test_cli_trains_from_a_preset(tmp_path):
    from pixgrl.cli import main

    assert dqn.env_config_for("quick").crop == 64
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--agent", "dqn", "--preset", "quick", "--run-dir", str(tmp_path),
              "--set", "total_timesteps=20", "--set", "num_envs=2", "--set", "device=cpu", "--set", "eval_episodes=0",
              "--set", 'backbone_kwargs={"channels": 8, "dilations": [1, 2]}',
              "--env", "dataset=toy", "--env", 'dataset_kwargs={"size": 16}', "--env", "crop=null", "--env", "lam=0"])
    assert exit_info.value.code == 0
    assert load_checkpoint(tmp_path / CHECKPOINT)["step"] == 20


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(tmp_path):
    agent = dqn.train(tiny_config(device="cuda"), ENV, tmp_path)
    obs = torch.rand(2, 1, 16, 16, device="cuda")
    assert agent.act(obs).device.type == "cuda"
    assert torch.equal(load_agent(tmp_path / CHECKPOINT, "cuda").act(obs), agent.act(obs))
