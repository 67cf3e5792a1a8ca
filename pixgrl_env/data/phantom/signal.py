"""MR signal and acquisition: the spoiled-GRE equation, fat suppression, bias fields, motion and Rician noise.

Sources: ``docs/phantom.md``, sections "Gadolinium relaxivity" (r1), "Signal equation and sequence parameters"
(SPGR, TR, TE, flip angle, "Fat suppression") and "Bias field and noise" (receive bias, B1, Rician noise,
misregistration).

- **Signal.** R1 = 1/T1 + r1·C with r1 ~ U(3.3, 5.2) mM⁻¹s⁻¹; spoiled gradient echo
  S = PD·sin(α)(1 − E1)/(1 − cos(α)E1)·exp(−TE/T2*), E1 = exp(−TR·R1) (:func:`spgr_signal`), TR ~ U(3.5, 5.5) ms,
  TE 2 ms, α ~ U(10°, 15°) scaled per pixel by a smooth B1 map in [0.9, 1.1] (shared by pre and post).
- **Fat suppression.** Fat signal is multiplied by a residual factor ~ U(0.05, 0.15) that rises toward the FOV
  edges (failing B0 homogeneity; :func:`fat_suppression`).
- **Point spread.** A 3-tap [1, 2, 1]/4 blur softens the rasterised edges (:func:`psf_blur`).
- **Receive bias.** A smooth multiplicative field exp(g) (std 0.1–0.2, brighter anteriorly and posteriorly:
  :func:`coil_profile`), shared by pre and post.
- **Noise.** Rician magnitude |S + n_r + i·n_i| (:func:`rician_magnitude`).
- **Misregistration.** A rigid motion of the patient between the two breath-holds (:func:`move_patient`).

All functions are pure; the random numbers come in as arguments (:func:`draw_sequence` draws a patient's).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "coil_profile",
    "draw_sequence",
    "fat_suppression",
    "move_patient",
    "psf_blur",
    "radial_r4",
    "rician_magnitude",
    "spgr_signal",
]

_FLOAT = np.float32


def spgr_signal(pd: Any, r1_per_s: Any, t2s_ms: Any, tr_ms: float, te_ms: float, alpha_rad: Any) -> Any:
    """Spoiled gradient-echo signal: ``PD·sin(α)(1 − E1)/(1 − cos(α)E1)·exp(−TE/T2*)``, ``E1 = exp(−TR·R1)``.

    Args:
        pd: Proton density (any broadcastable shape).
        r1_per_s: Longitudinal relaxation rate R1 in s⁻¹ (1/T1 + r1·C).
        t2s_ms: T2* in ms.
        tr_ms: Repetition time in ms.
        te_ms: Echo time in ms.
        alpha_rad: Flip angle in radians (scalar or per-pixel map).

    Returns:
        The signal, broadcast over the inputs.
    """
    e1 = np.exp(-(tr_ms * 1e-3) * r1_per_s)
    return pd * np.sin(alpha_rad) * (1.0 - e1) / (1.0 - np.cos(alpha_rad) * e1) * np.exp(-te_ms / t2s_ms)


def draw_sequence(r: np.random.Generator) -> dict[str, float]:
    """Draw one patient's sequence and acquisition parameters.

    Uniform draws are mapped to ranges at use time for options (SNR, misregistration) so that options never
    change other draws: ``snr_u``, ``mis_t`` are in [0, 1), ``mis_rot`` in [-1, 1).

    Returns:
        ``tr_ms``, ``te_ms``, ``alpha_deg``, ``r1`` (mM⁻¹s⁻¹), ``snr_u``, ``fs`` (residual fat fraction after
        fat-sat at the centre), ``fs_edge`` (its rise at the FOV edge), ``bias_std``, ``bias_ap`` (receive bias),
        ``b1_amp`` (flip-angle map amplitude), ``mis_t``, ``mis_dir`` (radians), ``mis_rot``.
    """
    return {
        "tr_ms": r.uniform(3.5, 5.5), "te_ms": 2.0, "alpha_deg": r.uniform(10.0, 15.0), "r1": r.uniform(3.3, 5.2),
        "snr_u": r.random(), "fs": r.uniform(0.05, 0.15), "fs_edge": r.uniform(0.05, 0.2),
        "bias_std": r.uniform(0.1, 0.2), "bias_ap": r.uniform(0.1, 0.25), "b1_amp": r.uniform(0.03, 0.06),
        "mis_t": r.random(), "mis_dir": r.uniform(0, 2 * np.pi), "mis_rot": r.uniform(-1, 1),
    }


def radial_r4(x_mm: np.ndarray, y_mm: np.ndarray, fov_mm: float) -> np.ndarray:
    """``(H, W)`` float32 ``(r / (fov/2))⁴`` on the pixel grid: 0 at the centre, 1 at the FOV's inscribed circle.

    Args:
        x_mm: ``(W,)`` column coordinates in mm (0 at the centre).
        y_mm: ``(H,)`` row coordinates in mm.
        fov_mm: Field of view in mm.
    """
    return (((x_mm[None, :] ** 2 + y_mm[:, None] ** 2) / (fov_mm / 2) ** 2) ** 2).astype(_FLOAT)


def coil_profile(y_mm: np.ndarray, fov_mm: float) -> np.ndarray:
    """``(H, 1)`` float32 anterior/posterior receive profile ``(y / (fov/2))² − 0.3``: the coil arrays lie in front
    of and behind the patient, so the log-bias rises toward the top and bottom of the image."""
    return ((y_mm[:, None] / (fov_mm / 2)) ** 2 - 0.3).astype(_FLOAT)


def fat_suppression(residual: float, edge: float, r4: np.ndarray) -> np.ndarray:
    """``(H, W)`` residual fat signal fraction after fat-sat: ``residual`` at the centre, rising by ``edge`` toward
    the FOV edges (``r4`` from :func:`radial_r4`), at most 1."""
    return np.minimum(residual + edge * r4, 1.0)


def psf_blur(img: np.ndarray) -> np.ndarray:
    """3-tap [1, 2, 1]/4 point-spread blur along both axes, edges replicated (softens rasterised edges).

    Args:
        img: ``(H, W)`` float32 image.

    Returns:
        ``(H, W)`` float32, C-contiguous.
    """
    for axis in (0, 1):
        a = np.moveaxis(img, axis, 0)
        out = a * _FLOAT(0.5)
        q = a * _FLOAT(0.25)
        out[1:] += q[:-1]
        out[:-1] += q[1:]
        out[0] += q[0]
        out[-1] += q[-1]
        img = np.moveaxis(out, 0, axis)
    return np.ascontiguousarray(img, dtype=_FLOAT)


def move_patient(image: np.ndarray, body: np.ndarray, max_px: float,
                 seq: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Move the patient between breath-holds: a rigid motion of ``image`` and its ``body`` mask.

    Translation by ``0.7·max_px·mis_t`` px in direction ``mis_dir``, and a rotation about the image centre that
    moves the body edge (radius 0.45 × the image side) by ``0.3·max_px·mis_rot`` px; bilinear for the image, nearest
    for the mask, zero outside.

    Args:
        image: ``(H, W)`` float32, square.
        body: ``(H, W)`` bool body mask.
        max_px: The maximum displacement, ``misregistration_px``.
        seq: The patient's :func:`draw_sequence` (``mis_t``, ``mis_dir``, ``mis_rot``).

    Returns:
        ``(moved image float32, moved body mask bool)``.
    """
    size = image.shape[0]
    t = 0.7 * max_px * seq["mis_t"]
    ty, tx = t * math.sin(seq["mis_dir"]), t * math.cos(seq["mis_dir"])
    radius = 0.5 * size * 0.9
    th = 0.3 * max_px * seq["mis_rot"] / radius
    rot_inv = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
    centre = np.array([(size - 1) / 2, (size - 1) / 2])
    offset = centre - rot_inv @ (centre + np.array([ty, tx]))
    moved = ndimage.affine_transform(image, rot_inv, offset=offset, order=1, mode="constant", cval=0.0)
    moved_body = ndimage.affine_transform(body.astype(_FLOAT), rot_inv, offset=offset, order=0, mode="constant",
                                          cval=0.0) > 0.5
    return moved.astype(_FLOAT), moved_body


def rician_magnitude(rng: np.random.Generator, images: tuple[np.ndarray, ...], sigma: float) -> list[np.ndarray]:
    """Magnitude of complex Gaussian noise, ``|S + n_r + i·n_i|`` with ``n ~ N(0, σ²)``, for each image.

    Drawn in polar form, which is exact and cheaper: the complex noise is R·e^{iθ} with R² = 2σ²E,
    E ~ Exp(1), θ ~ U(0, 2π), so |S + n|² = S² + 2·S·R·cos θ + R².

    Args:
        rng: The generator (one draw of ``(len(images), H, W)`` exponentials, then uniforms).
        images: Noise-free float32 images of one shape.
        sigma: Noise standard deviation per channel, >= 0.

    Returns:
        The noisy float32 images, in order.
    """
    shape = (len(images), *images[0].shape)
    e = rng.standard_exponential(shape, dtype=_FLOAT)
    # cos θ for θ ~ U(0, 2π) has the arcsine law of sin φ, φ ~ U(-π/2, π/2): same law, 3× cheaper in float32
    cos_t = np.sin((rng.random(shape, dtype=_FLOAT) - _FLOAT(0.5)) * _FLOAT(np.pi))
    two_r_cos = np.sqrt(e) * cos_t * _FLOAT(2.0 * math.sqrt(2.0) * sigma)
    e *= _FLOAT(2.0 * sigma * sigma)  # R²
    return [np.sqrt(s * (s + two_r_cos[i]) + e[i]) for i, s in enumerate(images)]
