"""Apply a trained agent to a NIfTI volume, slice by slice, and write the synthesized volume as NIfTI.

    >>> from pixgrl.synthesis import synthesize_volume
    >>> info = synthesize_volume("runs/a2c/checkpoint.pt", "pre.nii.gz", "synth.nii.gz",
    ...                          normalization="independent")  # doctest: +SKIP

Geometry. Slices are ``volume[:, :, z]`` in raw voxel axes, exactly as :class:`~pixgrl_env.data.nifti.NiftiPairDataset`
reads them (no reorientation), processed in batches of ``batch_size`` slices. The output has the input's shape
(2-D, 3-D, or 3-D with trailing length-1 axes), affine, sform/qform (and their codes), voxel sizes and units; its data
type is float32 (``scl_slope``/``scl_inter`` are reset, ``cal_min``/``cal_max`` cleared).

Intensities, as the NIfTI dataset normalises them (``normalization``):

- ``"independent"``: ``s`` = the ``percentile``-th percentile of the input volume's positive voxels; the agent sees
  ``clip(x / s, 0, 1)``.
- ``"joint"``: ``s`` = the ``percentile``-th percentile of the positive voxels of the registered ENHANCED volume
  (``target=``), the one scale the dataset divides both input and target by; without a target, pass ``scale=``
  (e.g. from :meth:`NiftiPairDataset.intensity_scale` of comparable training data). Joint normalisation keeps the
  physical enhancement ratio, so an agent trained with it expects exactly this scale; there is no way to infer it
  from the input alone, and guessing would silently shift every intensity, so it is an error to give neither.
- ``"none"``: the file must already hold values in [0, 1]; ``s`` = 1.

The output is the synthesized image times ``s``: in the input's intensity units (for ``"joint"`` also the
target's). Where the input was clipped by the window (values above ``s``, the brightest ``100 − percentile`` % of
positive voxels, or negative values), the agent saw the clipped value: an identity agent returns the input exactly
(to float rounding) everywhere else, ``s`` above the window and 0 below zero. Use ``percentile=100`` to avoid any
clipping of the input's top values.

Default ``normalization`` and ``percentile``: those of the agent's training data (its env_config's
``dataset_kwargs``), else ``"joint"`` and 99.5 as in the datasets. Agents that need the target (the oracle) need
``target=``; agents conditioned on extra modalities (``"extra:<name>"``) need ``extra={name: path}`` (each windowed
by its own percentile, like the dataset's extras). Runs on CPU or GPU (``device``); the same code on both.

Output: the folder is checked for writing before any computation; an existing output is kept unless
``overwrite=True`` (``--overwrite``); the file is written whole or not at all (a temporary file in the same folder,
fsync'ed, then renamed over the output, as checkpoints are).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch

from pixgrl_env.data.nifti import NORMALIZATIONS, VolumeInfo, read_header, read_volume
from pixgrl_env.data.nifti.volume import NIFTI_SUFFIXES
from pixgrl.outputs import atomic_path, check_output


def _check_path(path: str | Path, name: str, must_exist: bool) -> Path:
    if not isinstance(path, (str, Path)) or not str(path):
        raise ValueError(f"{name} must be a file path, got {path!r}")
    p = Path(path).expanduser()
    if not str(p.name).endswith(NIFTI_SUFFIXES):
        raise ValueError(f"{name} {str(p)!r} must be a NIfTI file ending in .nii or .nii.gz")
    if must_exist and not p.is_file():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist")
    return p


def _read(path: Path) -> tuple[Any, VolumeInfo, np.ndarray]:
    """``(image, header facts, (X, Y, Z) float32 voxels)``, checked (gzip stream, finite values); DataError names
    the file."""
    info = read_header(path)
    return nib.load(str(path)), info, read_volume(info)


def window_scale(volume: np.ndarray, percentile: float, path: Any = "volume") -> float:
    """The ``percentile``-th percentile of the positive voxels (NumPy's linear method), as the datasets use it."""
    from pixgrl_env.data.base import DataError

    positive = volume[volume > 0]
    if positive.size == 0:
        raise DataError(f"{path}: no positive voxels, so no intensity window can be computed")
    return float(np.percentile(positive, percentile))


def _defaults(agent: Any, normalization: str | None, percentile: float | None) -> tuple[str, float]:
    kw = dict(getattr(getattr(agent, "env_config", None), "dataset_kwargs", {}) or {})
    if normalization is None:
        normalization = kw.get("normalization") if kw.get("normalization") in NORMALIZATIONS else "joint"
    if percentile is None:
        p = kw.get("percentile", 99.5)
        percentile = float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else 99.5
    return normalization, percentile


def synthesize_volume(agent: Any, input_path: str | Path, output_path: str | Path, *,
                      normalization: str | None = None, percentile: float | None = None,
                      target: str | Path | None = None, scale: float | None = None,
                      extra: Mapping[str, str | Path] | None = None, batch_size: int = 16, device: str = "auto",
                      progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Synthesize an enhanced volume from a non-enhanced NIfTI volume (conventions: module docstring).

    Args:
        agent: An :class:`~agents.base.Agent`, or a spec as for :func:`pixgrl.evaluation.resolve_agent`
            (a checkpoint path or run folder, ``"identity"``, ``"oracle"``, ``"module:callable"``).
        input_path: The non-enhanced volume (``.nii`` / ``.nii.gz``; 2-D or 3-D).
        output_path: Where to write the synthesized volume (``.nii`` / ``.nii.gz``); parent folders are created.
            The file is written whole or not at all (a temporary file in the same folder, fsync'ed, then renamed),
            and the folder is checked for writing before any computation.
        normalization: ``"joint"``, ``"independent"`` or ``"none"``; default: the agent's training data's.
        percentile: Window percentile in (0, 100]; default: the agent's training data's, else 99.5.
        target: The registered enhanced volume: the scale of ``"joint"``, and the oracle's target.
        scale: The ``"joint"`` scale, when there is no target (it overrides the target's percentile).
        extra: ``{name: path}`` of the modalities of ``"extra:<name>"`` conditioning channels.
        batch_size: Slices per forward batch.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``…; for spec-loaded agents.
        progress: Show a tqdm progress bar over slices.
        overwrite: Replace an existing output file (default: refuse, with :class:`FileExistsError`).

    Returns:
        A summary: paths, agent, normalization, percentile, ``scale``, shape, number of input voxels clipped
        above/below the window, device.
    """
    from tqdm.auto import tqdm

    from agents.training import resolve_device
    from pixgrl_env.data.base import DataError
    from pixgrl.evaluation import is_agent, resolve_agent, run_trajectory

    in_path = _check_path(input_path, "input_path", must_exist=True)
    out_path = _check_path(output_path, "output_path", must_exist=False)
    if out_path.resolve() == in_path.resolve():
        raise ValueError(f"output_path {str(out_path)!r} is the input file; choose another path")
    check_output(out_path, "output_path", overwrite=overwrite)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if percentile is not None and (isinstance(percentile, bool) or not isinstance(percentile, (int, float))
                                   or not 0 < percentile <= 100):
        raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                              or not math.isfinite(scale) or scale <= 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")

    dev = resolve_device(str(device))
    if is_agent(agent):
        ra_name, spec, ag = getattr(agent, "name", type(agent).__name__), "<object>", agent
    else:
        ra = resolve_agent(str(agent), dev)
        ra_name, spec, ag = ra.name, ra.spec, ra.agent
    normalization, percentile = _defaults(ag, normalization, percentile)

    img, info, vol = _read(in_path)
    tgt_vol = None
    if target is not None:
        tgt_path = _check_path(target, "target", must_exist=True)
        _, tinfo, tgt_vol = _read(tgt_path)
        if tinfo.shape != info.shape:
            raise DataError(f"{tgt_path}: shape {tinfo.shape} differs from the input's {info.shape} "
                            f"(the target must be registered to the input's voxel grid)")
    if normalization == "none":
        s_in = s_tg = 1.0
        for name, v in (("input", vol), ("target", tgt_vol)):
            if v is not None and (v.min() < 0 or v.max() > 1):
                raise DataError(f"{name} has values in [{v.min():.4g}, {v.max():.4g}] but normalization='none' "
                                f"needs data in [0, 1]; use 'joint' or 'independent'")
    elif normalization == "independent":
        s_in = window_scale(vol, percentile, in_path)
        s_tg = window_scale(tgt_vol, percentile, target) if tgt_vol is not None else s_in
    else:
        if scale is not None:
            s_in = float(scale)
        elif tgt_vol is not None:
            s_in = window_scale(tgt_vol, percentile, target)
        else:
            raise ValueError("normalization='joint' divides by the percentile of the ENHANCED volume, which needs "
                             "target= (a registered enhanced volume) or scale= (e.g. from "
                             "NiftiPairDataset.intensity_scale on comparable data); or use "
                             "normalization='independent' (the input's own percentile)")
        s_tg = s_in
    if getattr(ag, "needs_target", False) and tgt_vol is None:
        raise ValueError(f"agent {ra_name!r} needs the target (it is a reference ceiling): pass target=")

    extras: list[np.ndarray] = []
    extra = dict(extra or {})
    wanted = [c[len("extra:"):] for c in ag.env_config.conditioning if c.startswith("extra:")]
    missing = [n for n in wanted if n not in extra]
    if missing:
        raise ValueError(f"agent {ra_name!r} is conditioned on modalities {wanted}; pass extra= with {missing}")
    for name in wanted:
        e_path = _check_path(extra[name], f"extra[{name!r}]", must_exist=True)
        _, einfo, evol = _read(e_path)
        if einfo.shape != info.shape:
            raise DataError(f"{e_path}: shape {einfo.shape} differs from the input's {info.shape}")
        extras.append(np.clip(evol / window_scale(evol, percentile, e_path), 0, 1).astype(np.float32))

    x = np.clip(vol.astype(np.float64) / s_in, 0.0, 1.0).astype(np.float32)
    y = np.clip(tgt_vol.astype(np.float64) / s_tg, 0.0, 1.0).astype(np.float32) if tgt_vol is not None else None
    n_z = info.shape[2]
    out = np.empty(info.shape, dtype=np.float32)
    agent_dev = getattr(ag, "device", dev)
    bar = tqdm(total=n_z, desc="synthesize", unit="slice", disable=not progress, dynamic_ncols=True)
    for z0 in range(0, n_z, batch_size):
        zs = slice(z0, min(z0 + batch_size, n_z))
        inputs = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x[:, :, zs], 2, 0)))[:, None].to(agent_dev)
        targets = (torch.from_numpy(np.ascontiguousarray(np.moveaxis(y[:, :, zs], 2, 0)))[:, None].to(agent_dev)
                   if y is not None else None)
        ex = (torch.from_numpy(np.ascontiguousarray(np.stack([np.moveaxis(e[:, :, zs], 2, 0) for e in extras],
                                                             axis=1))).to(agent_dev) if extras else None)
        with torch.no_grad():
            synth = run_trajectory(ag, inputs, ex, targets)[-1]
        out[:, :, zs] = np.moveaxis(synth[:, 0].float().cpu().numpy(), 0, 2)
        bar.update(zs.stop - zs.start)
    bar.close()
    result = (out.astype(np.float64) * s_in).astype(np.float32)

    _save_like(img, result.reshape(img.shape), out_path, f"pixgrl synthesize {ra_name}")
    return {
        "input": str(in_path), "output": str(out_path), "target": str(target) if target is not None else None,
        "agent": ra_name, "spec": spec, "normalization": normalization, "percentile": percentile, "scale": s_in,
        "shape": list(img.shape), "n_slices": n_z, "batch_size": batch_size, "device": str(agent_dev),
        "n_clipped_high": int((vol > s_in).sum()), "n_clipped_low": int((vol < 0).sum()),
    }


def _save_like(ref: Any, data: np.ndarray, path: Path, description: str) -> None:
    """Save ``data`` (float32) with ``ref``'s affine, header, sform/qform codes and image class, atomically: to a
    temporary file in the same folder, fsync'ed, then renamed over ``path`` (a crash leaves the old file or none)."""
    header = ref.header.copy()
    header.set_data_dtype(np.float32)
    out = type(ref)(data.astype(np.float32), ref.affine, header=header)
    out.set_sform(ref.get_sform(), code=int(ref.header["sform_code"]))
    out.set_qform(ref.get_qform(), code=int(ref.header["qform_code"]))
    out.header["cal_min"] = 0
    out.header["cal_max"] = 0
    out.header.set_slope_inter(np.nan, np.nan)
    out.header["descrip"] = description.encode("ascii", "replace")[:79]
    with atomic_path(path) as tmp:  # nibabel compresses by the name, which keeps its .nii.gz
        nib.save(out, tmp)


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------
def _extra_arg(text: str) -> tuple[str, str]:
    import argparse

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--extra must look like NAME=PATH (e.g. t2=t2.nii.gz), got {text!r}")
    return name, path


def register_cli(subparsers: Any) -> None:
    """Add ``pixgrl synthesize`` to an argparse ``subparsers``."""
    p = subparsers.add_parser(
        "synthesize", help="apply an agent to a NIfTI volume slice by slice and write the synthesized NIfTI",
        description="Synthesize a Gd-enhanced volume from a non-enhanced NIfTI volume with a trained agent. The "
                    "output keeps the input's shape, affine and header, in the input's intensity units (see "
                    "pixgrl.synthesis for the normalisation).")
    p.add_argument("agent", metavar="CKPT", help="checkpoint file or run folder, 'identity', 'oracle' or "
                                                "'module:callable'")
    p.add_argument("--input", required=True, help="non-enhanced volume (.nii or .nii.gz)")
    p.add_argument("--output", required=True, help="output volume (.nii or .nii.gz)")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default=None,
                   help="default: the agent's training data's (else joint)")
    p.add_argument("--percentile", type=float, default=None, help="window percentile (default 99.5)")
    p.add_argument("--target", default=None, help="registered enhanced volume (joint scale; needed by the oracle)")
    p.add_argument("--scale", type=float, default=None, help="joint-normalisation scale when there is no target")
    p.add_argument("--extra", type=_extra_arg, action="append", default=[], metavar="NAME=PATH",
                   help="extra modality for 'extra:NAME' conditioning (repeatable)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cli_synthesize)


def _cli_synthesize(args: Any) -> int:
    check_output(args.output, "--output", overwrite=args.overwrite, overwrite_hint="--overwrite")
    info = synthesize_volume(args.agent, args.input, args.output, normalization=args.normalization,
                             percentile=args.percentile, target=args.target, scale=args.scale,
                             extra=dict(args.extra), batch_size=args.batch_size, device=args.device,
                             progress=not args.quiet, overwrite=args.overwrite)
    print(json.dumps(info, indent=1))
    return 0


__all__ = ["register_cli", "synthesize_volume", "window_scale"]
