"""Supervised image-to-image baselines of the paper's Table 4: a U-Net trained with L1, and pix2pix.

Both learn ``input → target`` directly from the paired data (no RL, no actions, no episode): one forward pass
synthesizes the enhanced image. They share one generator, :class:`UNet`; pix2pix adds a conditional
:class:`PatchDiscriminator` and an adversarial loss.

- ``model="unet"``: loss ``|G(x) − y|₁``.
- ``model="pix2pix"`` (Isola et al. 2017): generator loss ``GAN(D(x, G(x)), real) + λ·|G(x) − y|₁`` with λ = 100;
  discriminator loss ``½·[GAN(D(x, y), real) + GAN(D(x, G(x)), fake)]``. ``gan_loss="bce"`` (default) is the
  paper's original BCE-with-logits objective, ``"lsgan"`` the least-squares variant (MSE to 1/0). The
  discriminator sees the input and the (unclamped) generator output stacked as channels, and classifies
  overlapping patches (a 70×70 PatchGAN with 3 strided layers at 256×256).

Training draws random batches of pairs with the env config's dataset, split, fold and crop (through
:class:`~pixgrl_env.env.PairSource`, so the U-Net sees exactly the windows the RL agents see), with Adam. No data
augmentation. Normalisation layers are GroupNorm/InstanceNorm (no batch statistics), so an image's output does not
depend on the rest of its batch. The generator is shape-agnostic: inputs whose sides are not multiples of
``2^(levels−1)`` are padded (replicate) and the output cropped back, so a model trained on crops runs on whole
slices.

Registry: ``unet`` and ``pix2pix`` both map here; ``Config.model`` selects (``Config.preset("quick",
model="pix2pix")``) and the checkpoint's ``agent`` is that name. :class:`SupervisedAgent` has no per-pixel policy:
``act`` raises; ``trajectory`` returns ``[input, output]`` (2 states, not T + 1).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents import cli
from agents.base import Agent, as_image_batch
from agents.run import Run
from agents.training import env_config_for  # noqa: F401  (the registry contract: the env each preset is meant for)
from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, param
from pixgrl_env.episodes import PairSource

MODELS = ("unet", "pix2pix")
GAN_LOSSES = ("bce", "lsgan")


# ----------------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config(BaseConfig):
    """Hyper-parameters of the U-Net and pix2pix baselines."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # A CPU-sized smoke run.
        "quick": {"levels": 3, "width": 16, "steps": 300, "batch_size": 8, "disc_width": 32, "log_every": 10,
                  "eval_every": 100, "eval_pairs": 4, "checkpoint_every": 100},
        # The same on PixGRLReach-v0's data (a supervised model ignores the actions; the env only supplies pairs).
        "reach": {"levels": 3, "width": 16, "steps": 300, "batch_size": 8, "disc_width": 32, "log_every": 10,
                  "eval_every": 40, "eval_pairs": 16, "checkpoint_every": 100},
        # pix2pix's published settings.
        "paper": {"levels": 4, "width": 64, "steps": 20_000, "batch_size": 16},
    }

    model: str = param("unet", choices=MODELS)
    """``"unet"`` (L1 only) or ``"pix2pix"`` (L1 + conditional PatchGAN)."""
    levels: int = param(3, ge=1)
    """U-Net resolution levels (2–4 sensible): ``levels − 1`` poolings."""
    width: int = param(32, ge=1)
    """Channels of the first U-Net level; doubled per level, capped at 8× width."""
    residual: bool = True
    """Predict ``input + G(x)`` (the change) rather than the image itself."""
    steps: int = param(20_000, ge=1)
    """Optimiser updates (of the generator; pix2pix also updates the discriminator once per step)."""
    batch_size: int = param(16, ge=1)
    """Pairs (crops) per update."""
    lr: float = param(2e-4, gt=0)
    """Adam learning rate (both networks)."""
    betas: tuple[float, float] = param((0.5, 0.999), ge=0, lt=1)
    """Adam betas (pix2pix's values)."""
    l1_weight: float = param(100.0, ge=0)
    """λ of pix2pix's L1 term (the U-Net's loss is plain L1)."""
    gan_loss: str = param("bce", choices=GAN_LOSSES)
    """``"bce"`` (BCE with logits, the original pix2pix) or ``"lsgan"`` (least squares)."""
    disc_width: int = param(64, ge=1)
    """Channels of the discriminator's first layer."""
    disc_layers: int = param(3, ge=1)
    """Stride-2 layers of the PatchGAN (3: 70×70 receptive field); images need sides >= 3·2^disc_layers."""
    seed: int = 0
    """Seeds torch, numpy and the batch sampler."""
    device: str = "auto"
    """``"auto"``, ``"cpu"``, ``"cuda"``…"""
    log_every: int = param(50, ge=1)
    """Log losses to TensorBoard every this many steps."""
    eval_every: int = param(1000, ge=0)
    """Log ``eval/ssim``/``eval/psnr`` (quick_eval on the validation fold) every this many steps (0: only at the
    end)."""
    eval_pairs: int = param(8, ge=0)
    """Validation pairs of that quick eval (0 disables it)."""
    checkpoint_every: int = param(1000, ge=1)
    """Write ``checkpoint.pt`` every this many steps (and at the end)."""


PRESETS = Config.PRESETS


# ----------------------------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------------------------


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


class _Block(nn.Sequential):
    """(3×3 conv → GroupNorm → LeakyReLU) × 2."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), _norm(cout), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), _norm(cout), nn.LeakyReLU(0.2, inplace=True))


class UNet(nn.Module):
    """A small U-Net: ``(N, C_in, H, W)`` → ``(N, 1, H, W)`` for any H, W (padded to a multiple of 2^(levels−1)).

    Args:
        in_channels: The input image plus any extra modalities.
        levels: Resolution levels (``levels − 1`` max-poolings, bilinear upsampling, skip connections).
        width: Channels at full resolution; ×2 per level, at most ×8.
        residual: Output ``x[:, :1] + head`` (learn the enhancement) instead of ``head``.
    """

    def __init__(self, in_channels: int = 1, levels: int = 3, width: int = 32, residual: bool = True):
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        chans = [width * min(2**i, 8) for i in range(levels)]
        self.levels, self.residual = levels, residual
        self.down = nn.ModuleList([_Block(in_channels, chans[0])] +
                                  [_Block(chans[i - 1], chans[i]) for i in range(1, levels)])
        self.up = nn.ModuleList([_Block(chans[i + 1] + chans[i], chans[i]) for i in range(levels - 1)])
        self.head = nn.Conv2d(chans[0], 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.levels - 1)
        ph, pw = -h % m, -w % m
        z = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        skips = []
        for i, block in enumerate(self.down):
            z = block(z if i == 0 else F.max_pool2d(z, 2))
            skips.append(z)
        for i in reversed(range(self.levels - 1)):
            z = F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=False)
            z = self.up[i](torch.cat([skips[i], z], dim=1))
        out = self.head(z)[..., :h, :w]
        return x[:, :1] + out if self.residual else out


class PatchDiscriminator(nn.Module):
    """pix2pix's conditional PatchGAN: ``(input, image)`` stacked → ``(N, 1, h, w)`` real/fake logits per patch.

    ``layers`` stride-2 4×4 convolutions (×2 channels each, at most ×8), one stride-1 layer, a 4×4 conv to one
    logit. InstanceNorm after all but the first layer (no batch statistics).
    """

    def __init__(self, in_channels: int = 2, width: int = 64, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for i in range(1, layers + 1):
            nxt = width * min(2**i, 8)
            mods += [nn.Conv2d(c, nxt, 4, 2 if i < layers else 1, 1), nn.InstanceNorm2d(nxt, affine=True),
                     nn.LeakyReLU(0.2, inplace=True)]
            c = nxt
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)
        self.layers = layers

    def min_size(self) -> int:
        """Smallest image side the discriminator accepts (its last maps must have more than one pixel)."""
        return 3 * 2**self.layers

    def forward(self, condition: Tensor, image: Tensor) -> Tensor:
        return self.net(torch.cat([condition, image], dim=1))


def _gan_loss(logits: Tensor, real: bool, kind: str) -> Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(logits, target)


# ----------------------------------------------------------------------------------------------------------------
# Agent
# ----------------------------------------------------------------------------------------------------------------


def _n_extra(env_config: EnvConfig) -> int:
    return sum(c.startswith("extra:") for c in env_config.conditioning)


class SupervisedAgent(Agent):
    """A trained U-Net / pix2pix generator: one forward pass from the non-enhanced image, clamped to [0, 1].

    Args:
        env_config: The task (only its ``"extra:*"`` conditioning matters: those modalities are input channels).
        generator: The :class:`UNet`.
        name: ``"unet"`` or ``"pix2pix"`` (the checkpoint's agent name).
    """

    needs_target = False

    def __init__(self, env_config: EnvConfig, generator: UNet, name: str = "unet",
                 device: torch.device | str = "cpu"):
        super().__init__(env_config, device)
        self.name = name
        self.generator = generator.to(self.device)

    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        raise NotImplementedError(f"{self.name} is a one-shot image-to-image model with no per-pixel actions: use "
                                  "synthesize(inputs) (or trajectory(), which returns [input, output])")

    def trajectory(self, inputs: Tensor, extra: Tensor | None = None, deterministic: bool = True) -> Tensor:
        """``(2, N, 1, H, W)``: the input and the synthesized image (one step, not ``episode_length``)."""
        x = as_image_batch(inputs, self.device)
        n_extra = _n_extra(self.env_config)
        if n_extra:
            if extra is None or extra.shape[1] != n_extra:
                raise ValueError(f"this model takes {n_extra} extra modalities ({self.env_config.conditioning}); "
                                 "pass extra=(N, E, H, W)")
            net_in = torch.cat([x, extra.to(x)], dim=1)
        else:
            net_in = x
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            out = self.generator(net_in).clamp(0.0, 1.0)
        self.generator.train(was_training)
        return torch.stack([x, out])

    def state_dict(self) -> dict[str, Any]:
        return self.generator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state)


def build_generator(config: Config, env_config: EnvConfig) -> UNet:
    return UNet(1 + _n_extra(env_config), config.levels, config.width, config.residual)


def load(checkpoint: dict[str, Any], device: torch.device | str = "cpu") -> SupervisedAgent:
    """Rebuild the agent from a checkpoint written by :func:`train` (loaded with ``weights_only``)."""
    config = Config.from_dict(checkpoint["config"])
    env_config = EnvConfig.from_dict(checkpoint["env_config"])
    generator = build_generator(config, env_config)
    generator.load_state_dict(checkpoint["model"])
    generator.eval()
    return SupervisedAgent(env_config, generator, checkpoint["agent"], device)


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def sample_batch(source: PairSource, rng: np.random.Generator, batch_size: int,
                 device: torch.device) -> tuple[Tensor, Tensor]:
    """A random batch of (input [+ extra modalities], target) windows: ``(B, 1 + E, H, W)``, ``(B, 1, H, W)``."""
    arrays = [source.arrays(source.sample(rng)) for _ in range(batch_size)]
    x = np.stack([np.concatenate([a[0][None], a[2]]) for a in arrays])
    y = np.stack([a[1][None] for a in arrays])
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


def train(config: Config, env_config: EnvConfig, run_dir: str | Path, *, resume: bool = False) -> SupervisedAgent:
    """Train the U-Net or pix2pix on the env config's data; write ``run_dir/checkpoint.pt``, ``config.json``, ``tb/``.

    Args:
        config: :class:`Config` (``model`` selects the baseline).
        env_config: Dataset, split, fold and crop to draw training pairs from; its validation fold is used for the
            ``eval/*`` scalars.
        run_dir: Output folder.
        resume: Continue from ``run_dir/checkpoint.pt`` (networks, optimisers, RNGs, step) up to ``config.steps``;
            a folder without one is an error (:class:`agents.run.Run`).
    """
    # TRY NOT TO MODIFY: run plumbing (seeding, device, logger, evals, checkpoints, resume); a step is one update
    with Run(config.model, config, env_config, run_dir, resume=resume, total=config.steps, seed=config.seed,
             device=config.device, eval_every=config.eval_every, eval_pairs=config.eval_pairs,
             save_every=config.checkpoint_every, log_every=config.log_every, progress=("losses__",),
             env_steps=False) as run:
        device = run.device
        source = PairSource(env_config)
        gen = build_generator(config, env_config).to(device)
        opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=config.betas)
        nets: dict[str, Any] = {"model": gen, "optimizer": opt_g}
        disc = opt_d = None
        if config.model == "pix2pix":
            disc = PatchDiscriminator(2 + _n_extra(env_config), config.disc_width, config.disc_layers).to(device)
            opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=config.betas)
            nets |= {"discriminator": disc, "d_optimizer": opt_d}
            if min(source.shape) < disc.min_size():
                raise ValueError(f"images of {source.shape} are too small for a PatchGAN with disc_layers="
                                 f"{config.disc_layers} (needs sides >= {disc.min_size()}): lower disc_layers or crop")
        rng = np.random.default_rng(config.seed)
        if run.restore(**nets):
            rng.bit_generator.state = json.loads(run.checkpoint["data_rng"])  # type: ignore[index]
        states = lambda: {**{k: v.state_dict() for k, v in nets.items()},  # noqa: E731
                          "data_rng": json.dumps(rng.bit_generator.state)}
        agent = SupervisedAgent(env_config, gen, config.model, device)

        gen.train()
        while not run.done:
            # ALGO LOGIC: one update of the generator (and the discriminator for pix2pix)
            x, y = sample_batch(source, rng, config.batch_size, device)
            fake = gen(x)
            losses = {"l1": F.l1_loss(fake, y)}
            if disc is not None:
                d_real = disc(x, y)
                d_fake = disc(x, fake.detach())
                loss_d = 0.5 * (_gan_loss(d_real, True, config.gan_loss) + _gan_loss(d_fake, False, config.gan_loss))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                losses["g_adv"] = _gan_loss(disc(x, fake), True, config.gan_loss)
                losses["d"] = loss_d.detach()
                loss_g = losses["g_adv"] + config.l1_weight * losses["l1"]
            else:
                loss_g = losses["l1"]
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()

            # TRY NOT TO MODIFY: logging, evaluation, checkpoints
            run.advance(1, **{f"losses__{k}": v.detach() for k, v in losses.items()})
            run.periodic(agent, states)
        run.finish(agent, states())
    gen.eval()
    return agent


def main(argv: Sequence[str] | None = None) -> SupervisedAgent:
    """``python -m baselines.supervised [--preset NAME] [--model unet|pix2pix] [--FIELD VALUE …] [--env KEY=VALUE …]
    --run-dir DIR [--resume]`` (:mod:`agents.cli`)."""
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
