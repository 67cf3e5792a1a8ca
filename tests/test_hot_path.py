"""The agent's hot path: torch superpixels by default, the graph once per step or per episode, no host reads,
reduced-precision inference, channels-last; and the same code on CUDA (tests marked ``cuda``)."""

from __future__ import annotations

import pytest
import skimage.segmentation
import torch

from agents import a2c
from agents.a2c import Config, PixGRLAgent, collect, nstep_returns, pixel_graph, update
from pixgrl_env.actions import apply_actions, factor_table
from pixgrl_env.config import EnvConfig
from pixgrl_env.data.phantom import PhantomDataset
from pixgrl_env.env import PixGRLVectorEnv

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
NET = {"conv_channels": 8, "graph_channels": 8}


def _env_config(device: str = "cpu") -> EnvConfig:
    return EnvConfig.preset("paper", dataset="toy", crop=24, device=device,
                            dataset_kwargs={"n_patients": 8, "slices_per_patient": 1, "size": 32})


@pytest.fixture(scope="module")
def phantom() -> torch.Tensor:
    """Eight 64² phantom input slices, ``(8, 1, 64, 64)``."""
    ds = PhantomDataset(n_patients=4, slices_per_patient=2, size=64, seed=0)
    return torch.stack([torch.from_numpy(ds[i].input) for i in range(8)])[:, None]


def _train_once(agent: PixGRLAgent, env: PixGRLVectorEnv) -> a2c.Rollout:
    obs, _ = env.reset(seed=0)
    rollout = collect(agent, env, obs, env.config.episode_length, agent.config.reward_scale)
    optimizer = torch.optim.Adam(agent.net.parameters(), lr=1e-3)
    update(agent.net, optimizer, rollout, nstep_returns(rollout.rewards, rollout.bootstrap, 0.5), agent.config)
    return rollout


def test_default_path_never_calls_skimage_slic(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fail(*args, **kwargs):
        calls.append(1)
        raise AssertionError("scikit-image SLIC called")

    monkeypatch.setattr(skimage.segmentation, "slic", fail)
    env_config = _env_config()
    agent = PixGRLAgent(env_config, Config(net_kwargs=NET))
    assert agent.config.superpixel_method == "torch"
    env = PixGRLVectorEnv(2, env_config, output="torch")
    _train_once(agent, env)
    agent.synthesize(torch.rand(2, 1, 24, 24))
    agent.net(torch.rand(1, 1, 24, 24))  # the network's own graph (no graph given)
    assert not calls
    with pytest.raises(AssertionError, match="scikit-image"):  # the patch works: the reference option does call it
        PixGRLAgent(env_config, Config(net_kwargs=NET, superpixel_method="skimage")).act(torch.rand(1, 1, 24, 24))


@pytest.mark.parametrize("every", ["step", "episode"])
def test_graph_every_step_or_episode(monkeypatch: pytest.MonkeyPatch, every: str) -> None:
    env_config = _env_config()
    agent = PixGRLAgent(env_config, Config(net_kwargs=NET, graph_every=every))
    built = []
    real = a2c.pixel_graph
    monkeypatch.setattr(a2c, "pixel_graph", lambda images, *args: built.append(images.clone()) or real(images, *args))
    env = PixGRLVectorEnv(2, env_config, output="torch")
    obs, _ = env.reset(seed=0)
    rollout = collect(agent, env, obs, 3, agent.config.reward_scale)
    rest = collect(agent, env, rollout.next_obs, 2, agent.config.reward_scale)  # the same episode goes on
    assert bool(rest.terminated.all())
    if every == "step":
        assert len(built) == 3 + 1 + 2  # every state, and the bootstrap state s_3 of the first rollout
        states = [o[:, :1] for o in rollout.obs + [rollout.next_obs] + rest.obs]
        assert all(torch.equal(b, o) for b, o in zip(built, states))
    else:
        assert len(built) == 1 and torch.equal(built[0], obs[:, :1])
        assert all(g is rollout.graphs[0] for g in rollout.graphs + rest.graphs)
        collect(agent, env, env.reset(seed=1)[0], 1, agent.config.reward_scale)  # a new episode: a new graph
        assert len(built) == 2
    built.clear()
    images = torch.rand(2, 1, 24, 24)
    out = agent.synthesize(images)
    assert len(built) == (env_config.episode_length if every == "step" else 1)
    assert torch.equal(built[0], images)
    if every == "episode":  # the same result as every step acting with the graph of s_0
        graph, image = real(images, agent.config, "cpu"), images
        for _ in range(env_config.episode_length):
            logits, _ = agent.net(image, graph)
            image = apply_actions(image, logits.argmax(dim=1), factor_table(env_config.factors))
        torch.testing.assert_close(out, image)


def test_acting_and_graph_read_nothing_back_to_the_host(monkeypatch: pytest.MonkeyPatch,
                                                         phantom: torch.Tensor) -> None:
    """A CPU stand-in for CUDA's sync debug mode: Python-level host reads of a tensor raise on the hot path."""
    agent = PixGRLAgent(EnvConfig(), Config(net_kwargs=NET))
    images = phantom[:2]

    def forbidden(name: str):
        def read(self, *args, **kwargs):
            raise AssertionError(f"host read Tensor.{name} on the hot path")
        return read

    for name in ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden(name))
    agent.act(images)
    agent.act(images, deterministic=False)
    pixel_graph(images, agent.config, "cpu")
    with pytest.raises(AssertionError, match="host read"):  # the guard works: the skimage path copies to the host
        pixel_graph(images, agent.config.replace(superpixel_method="skimage"), "cpu")


@pytest.mark.parametrize(("dtype", "threshold"), [("bfloat16", 0.99), ("float16", 0.998)])
def test_reduced_precision_greedy_actions_agree(phantom: torch.Tensor, dtype: str, threshold: float) -> None:
    """Greedy actions under autocast agree with float32 on >= 99 % (bf16) and >= 99.8 % (fp16) of pixels. The
    policy head of the random network is scaled so that its logits are O(1), as a trained policy's are (measured on
    this CPU: 99.2 % and 99.9 %; an untrained network's near-uniform ones flip less)."""
    torch.manual_seed(0)
    ref = PixGRLAgent(EnvConfig(), Config(net_kwargs={"conv_channels": 16, "graph_channels": 32}))
    with torch.no_grad():
        ref.net.policy_head.weight.mul_(1000)
    low = PixGRLAgent(EnvConfig(), ref.config.replace(inference_dtype=dtype))
    low.net.load_state_dict(ref.net.state_dict())
    greedy = ref.act(phantom)
    assert len(greedy.unique()) == 3  # a policy that uses every action
    assert (low.act(phantom) == greedy).float().mean() >= threshold


def test_channels_last_acts_the_same(phantom: torch.Tensor) -> None:
    torch.manual_seed(0)
    ref = PixGRLAgent(EnvConfig(), Config(net_kwargs=NET))
    fast = PixGRLAgent(EnvConfig(), ref.config.replace(channels_last=True))
    fast.net.load_state_dict(ref.net.state_dict())
    assert fast.net.convs[0].weight.is_contiguous(memory_format=torch.channels_last)
    logits, _ = ref.forward(phantom[:2])
    torch.testing.assert_close(fast.forward(phantom[:2])[0], logits, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------------------------------------
# CUDA: the same code on the device
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.cuda
@cuda
def test_cuda_acting_never_synchronises(phantom: torch.Tensor) -> None:
    agent = PixGRLAgent(EnvConfig(device="cuda"), Config(net_kwargs=NET), "cuda")
    images = phantom.cuda()
    agent.act(images)
    agent.act(images, deterministic=False)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        agent.act(images)
        agent.act(images, deterministic=False)
        pixel_graph(images, agent.config, "cuda")
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.cuda
@cuda
def test_cuda_agent_matches_cpu_and_trains(phantom: torch.Tensor) -> None:
    torch.manual_seed(0)
    cpu = PixGRLAgent(EnvConfig(), Config(net_kwargs=NET))
    gpu = PixGRLAgent(EnvConfig(device="cuda"), cpu.config, "cuda")
    gpu.net.load_state_dict(cpu.net.state_dict())
    torch.testing.assert_close(gpu.graph(phantom.cuda()).cpu(), cpu.graph(phantom), rtol=0, atol=1e-6)
    assert (gpu.act(phantom.cuda()).cpu() == cpu.act(phantom)).float().mean() > 0.999
    env_config = _env_config("cuda")
    agent = PixGRLAgent(env_config, Config(net_kwargs=NET, inference_dtype="bfloat16", channels_last=True), "cuda")
    rollout = _train_once(agent, PixGRLVectorEnv(4, env_config, output="torch"))
    assert rollout.rewards.device.type == "cuda" and all(g.device.type == "cuda" for g in rollout.graphs)
