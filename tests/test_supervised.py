"""U-Net and pix2pix baselines: smoke training, checkpoints, resume, the registry contract."""

from __future__ import annotations

import json

import pytest
import torch

from agents.checkpoint import load_checkpoint
from pixgrl.registry import agent_module, load_agent
from baselines import supervised
from baselines.supervised import Config, PatchDiscriminator, SupervisedAgent, UNet
from pixgrl_env.config import EnvConfig

TOY = EnvConfig(dataset="toy", dataset_kwargs={"size": 32, "n_patients": 6}, lam=0.0)


def _config(model: str, steps: int, **kw) -> Config:
    fields = dict(levels=2, width=8, disc_width=8, steps=steps, batch_size=4, device="cpu", log_every=1,
                  eval_every=2, eval_pairs=1, checkpoint_every=2)
    return Config.preset("quick", model=model, **{**fields, **kw})


@pytest.mark.parametrize("model", ["unet", "pix2pix"])
def test_train_checkpoint_load_and_resume(tmp_path, model):
    """Smoke training changes the parameters; save → load gives identical outputs; 2 steps + resume to 4 equals
    4 uninterrupted steps bit for bit (networks, optimisers, RNGs and the batch sampler are all restored)."""
    cfg = _config(model, steps=4)
    torch.manual_seed(cfg.seed)
    init = supervised.build_generator(cfg, TOY).state_dict()
    agent = supervised.train(cfg, TOY, tmp_path / "a")
    assert isinstance(agent, SupervisedAgent) and agent.name == model
    trained = agent.state_dict()
    assert any(not torch.equal(init[k], trained[k]) for k in init)
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    assert ckpt["agent"] == model and ckpt["step"] == 4
    assert ("discriminator" in ckpt) == ("d_optimizer" in ckpt) == (model == "pix2pix")
    assert {"optimizer", "rng", "data_rng"} <= set(ckpt)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["config"]["model"] == model
    assert list((tmp_path / "a" / "tb").iterdir())

    loaded = load_agent(tmp_path / "a" / "checkpoint.pt")
    assert type(loaded) is SupervisedAgent and loaded.name == model
    x = torch.rand(2, 1, 40, 36)  # another size than the training images: the generator pads and crops
    out = agent.synthesize(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(loaded.synthesize(x), out)
    traj = loaded.trajectory(x)
    assert traj.shape == (2, *x.shape) and torch.equal(traj[0], x)
    with pytest.raises(NotImplementedError, match="no per-pixel actions"):
        loaded.act(x)

    supervised.train(_config(model, steps=2, eval_every=100), TOY, tmp_path / "b")
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 2
    resumed = supervised.train(_config(model, steps=4, eval_every=100), TOY, tmp_path / "b", resume=True)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 4
    for k, v in resumed.state_dict().items():
        torch.testing.assert_close(v, trained[k], rtol=0, atol=0)
    # A different model name is refused.
    other = "pix2pix" if model == "unet" else "unet"
    with pytest.raises(ValueError, match="holds a"):
        supervised.train(_config(other, steps=5), TOY, tmp_path / "b", resume=True)


def test_outputs_do_not_depend_on_the_batch():
    gen = UNet(1, levels=3, width=8).eval()
    x = torch.rand(3, 1, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(gen(x)[1:2], gen(x[1:2]))


def test_env_config_for_presets():
    assert supervised.env_config_for("quick").crop == 64
    assert supervised.env_config_for("paper") == EnvConfig.preset("paper")
    with pytest.raises(ValueError):
        supervised.env_config_for("nope")


def test_registry_names_and_config_validation(tmp_path):
    assert agent_module("unet") is agent_module("pix2pix") is supervised
    assert Config.preset("paper", model="pix2pix").l1_weight == 100
    with pytest.raises(ValueError):
        Config(model="cyclegan")
    with pytest.raises(ValueError):
        Config(gan_loss="wgan")
    with pytest.raises(ValueError, match="too small"):
        supervised.train(_config("pix2pix", steps=1, disc_layers=3), TOY.replace(crop=16), tmp_path)
    d = PatchDiscriminator(2, 8, 2)
    assert d(torch.rand(1, 1, d.min_size(), d.min_size()), torch.rand(1, 1, d.min_size(), d.min_size())).numel() == 1


def test_lsgan_runs(tmp_path):
    agent = supervised.train(_config("pix2pix", steps=1, gan_loss="lsgan", eval_every=100), TOY, tmp_path)
    assert agent.synthesize(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def test_extra_modalities_are_input_channels():
    env_config = TOY.replace(conditioning=("input", "extra:t2"))
    cfg = _config("unet", steps=1)
    gen = supervised.build_generator(cfg, env_config)
    assert gen.down[0][0].in_channels == 2  # the image and t2; "input" is the image itself for a one-shot model
    agent = SupervisedAgent(env_config, gen, "unet")
    x, t2 = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    out = agent.synthesize(x, extra=t2)
    assert out.shape == x.shape
    assert not torch.equal(out, agent.synthesize(x, extra=1 - t2))
    with pytest.raises(ValueError, match="extra modalities"):
        agent.synthesize(x)


@pytest.mark.slow
def test_unet_beats_identity_on_phantom(tmp_path):
    """A few hundred steps on 64×64 phantom slices beat the identity on the test fold. (Not on the toy data: its
    target gain field is random, unpredictable from the input.)"""
    from agents.training import quick_eval

    env_config = EnvConfig(dataset="phantom", dataset_kwargs={"size": 64, "n_patients": 10, "slices_per_patient": 2},
                           lam=0.0)
    cfg = Config.preset("quick", model="unet", device="cpu", steps=300, eval_every=0)
    agent = supervised.train(cfg, env_config, tmp_path)
    ev = quick_eval(agent, env_config, 4)
    assert ev["ssim"] > ev["ssim_identity"], ev
