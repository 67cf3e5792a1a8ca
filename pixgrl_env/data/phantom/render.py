"""Rendering of one phantom slice: parameter maps → SPGR pre/post signals → acquisition → :class:`PhantomSlice`.

Steps (``docs/phantom.md``, "Suggested phantom recipe", steps 3–5 and the scales of step 6), with the equations of
:mod:`~pixgrl_env.data.phantom.signal`:

1. **Parameter maps.** Per pixel, the patient's tissue T1, PD·exp(−TE/T2*) and C with a smooth per-slice texture
   (3–5 % on T1, PD and C; fine texture in cirrhotic livers); fat fractions (fat 1, marrow 0.35, viscera a smooth
   0–0.9 map); fat keeps the fat relaxation parameters.
2. **Signal.** R1 = 1/T1 + r1·C; SPGR with a B1-scaled flip angle (shared by pre and post); the fat signal is
   fat-suppressed in the target, and in the input only with ``fat_suppress_input``; a [1, 2, 1]/4 point-spread
   blur. With the defaults, liver enhances ×1.9 in the PV phase, vessels ×5.5, the HCC core is darker than liver
   and the enhanced hemangioma matches the blood pool (``docs/phantom.md``, "Expected enhancement").
3. **Acquisition.** Optional misregistration (``misregistration_px`` > 0) moves the patient between the two
   breath-holds: the noiseless post image is translated by up to 0.7·m px and rotated about the image centre by an
   angle that moves the body edge by up to 0.3·m px, before the coil bias and noise (which are scanner-fixed). A
   smooth multiplicative receive bias exp(g) shared by pre and post, with an independent ±3 % perturbation on the
   post image; Rician noise with σ set so that the pre-contrast liver SNR is ~ U(``snr_range``) (the same σ on the
   post image, whose SNR therefore grows with its signal); optional zero background (``background_mask``). The
   label map always describes the INPUT geometry.
4. **Scales.** The divisors of the normalisation: ``"joint"`` divides input and target by one scale, the 99.5th
   percentile of the noisy target inside the body, so the physical enhancement ratio is kept (liver
   target/input ≈ 1.9); ``"independent"`` divides each image by its own 99.5th body percentile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixgrl_env.data.base import LABELS
from pixgrl_env.data.phantom.fields import SmoothFields
from pixgrl_env.data.phantom.patient import SLICE_TAG, Patient, rng
from pixgrl_env.data.phantom.raster import Grid
from pixgrl_env.data.phantom.signal import (
    coil_profile,
    fat_suppression,
    move_patient,
    psf_blur,
    radial_r4,
    rician_magnitude,
)
from pixgrl_env.data.phantom.tissues import TISSUE_INDEX as _T
from pixgrl_env.data.phantom.tissues import TISSUE_PARAMS, TISSUES, tissue_lut
from pixgrl_env.data.phantom.version import PHANTOM_VERSION

__all__ = ["PhantomSlice", "SliceRenderer"]

# Slice-level RNG streams.
_S_TEXTURE, _S_NOISE = range(2)
_FLOAT = np.float32


@dataclass
class PhantomSlice:
    """The raw rendering of one item, before normalisation.

    Attributes:
        labels: ``(H, W)`` uint8 indices into :data:`~pixgrl_env.data.phantom.tissues.TISSUES`, input geometry.
        pre: ``(H, W)`` float32, the non-enhanced signal (arbitrary units, ≥ 0) after bias, noise and masking.
        post: ``(H, W)`` float32, the enhanced signal, likewise (misregistered when ``misregistration_px`` > 0).
        pre_clean: ``(H, W)`` float32, ``pre`` without noise.
        post_clean: ``(H, W)`` float32, ``post`` without noise.
        sigma: Noise standard deviation per channel (0 when ``noise=False``).
        scale_input: The divisor applied to ``pre`` before clipping to [0, 1].
        scale_target: The divisor applied to ``post`` (and ``post_clean``) before clipping to [0, 1].
        params: Patient and sequence parameters (class, TR, flip angle, r1, SNR, lesion size, ...) and the
            generator's ``phantom_version``.
    """

    labels: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    pre_clean: np.ndarray
    post_clean: np.ndarray
    sigma: float
    scale_input: float
    scale_target: float
    params: dict[str, Any] = field(default_factory=dict)


class SliceRenderer:
    """Renders slices of patients on one grid with one set of acquisition options (see the module docstring).

    Args:
        grid: The pixel grid.
        fields: The smooth-field generator of that grid.
        seed: The dataset seed (slice-level streams).
        phase, normalization, misregistration_px, fat_suppress_input, background_mask, noise, bias_field,
            snr_range: As in :class:`~pixgrl_env.data.phantom.dataset.PhantomDataset` (already validated).
    """

    def __init__(self, grid: Grid, fields: SmoothFields, seed: int, *, phase: str, normalization: str,
                 misregistration_px: float, fat_suppress_input: bool, background_mask: bool, noise: bool,
                 bias_field: bool, snr_range: tuple[float, float]):
        self.grid, self.fields, self.seed = grid, fields, seed
        self.phase, self.normalization = phase, normalization
        self.misregistration_px = misregistration_px
        self.fat_suppress_input, self.background_mask = fat_suppress_input, background_mask
        self.noise, self.bias_field, self.snr_range = noise, bias_field, snr_range
        self._r4 = radial_r4(grid.x, grid.y, grid.fov_mm)
        self._ap = coil_profile(grid.y, grid.fov_mm)
        self._fat_fraction = np.array([TISSUE_PARAMS[t].fat_fraction for t in TISSUES], dtype=_FLOAT)
        self._is_body = tissue_lut(TISSUES[1:])

    def __call__(self, pat: Patient, patient: int, k: int, u: float, lab: np.ndarray) -> PhantomSlice:
        """Render slice ``k`` (position ``u``, label map ``lab``) of patient number ``patient``."""
        seq = pat.seq
        fields = self.fields
        rt = rng(self.seed, SLICE_TAG, patient, k, _S_TEXTURE)
        tex = fields(16, rt.standard_normal((3, 16, 16), dtype=_FLOAT))
        tex_fine = fields(32, rt.standard_normal((1, 32, 32), dtype=_FLOAT))[0]
        dbias = fields(4, rt.standard_normal((1, 4, 4), dtype=_FLOAT))[0]
        tr, te, r1 = seq["tr_ms"], seq["te_ms"], seq["r1"]
        # per-tissue tables, then per-pixel maps with texture
        li = lab.astype(np.intp)  # faster gathers than uint8
        m0 = (pat.pd * np.exp(-te / pat.t2s)).astype(_FLOAT)  # PD·exp(-TE/T2*)
        amp = pat.tex[li]
        fine_tex = pat.fine_tex[li] * tex_fine
        r1_pre = _FLOAT(1000.0) / (pat.t1[li] * (1 + amp * tex[0] + fine_tex))  # s^-1
        r1_post = r1_pre + _FLOAT(r1) * pat.c[li] * (1 + _FLOAT(1.5) * amp * tex[2] + fine_tex)
        m0 = m0[li] * (1 + amp * tex[1])
        ff = self._fat_fraction[li]
        vis = lab == _T["viscera"]
        ff[vis] = np.clip(0.45 + 0.35 * pat.field(fields, "viscera", u)[vis], 0.0, 0.9)
        alpha = math.radians(seq["alpha_deg"])
        if self.bias_field:
            alpha = _FLOAT(alpha) * np.clip(1 + seq["b1_amp"] * pat.field(fields, "b1", u), 0.9, 1.1)
        sin_a, cos_a = np.sin(alpha), np.cos(alpha)
        trs = _FLOAT(-tr * 1e-3)

        def spgr(m_sin: Any, r1map: Any) -> Any:  # spgr_signal with PD·exp(-TE/T2*)·sin(α) folded into m_sin
            e1 = np.exp(trs * r1map)
            return m_sin * (1 - e1) / (1 - cos_a * e1)

        fi = _T["fat"]
        fat_m0 = float(pat.pd[fi]) * math.exp(-te / float(pat.t2s[fi]))
        fat_pre = spgr(fat_m0 * sin_a, 1000.0 / float(pat.t1[fi]))
        fat_post = spgr(fat_m0 * sin_a, 1000.0 / float(pat.t1[fi]) + r1 * float(pat.c[fi]))
        fs = fat_suppression(seq["fs"], seq["fs_edge"], self._r4)
        m0 *= sin_a
        water_pre, water_post = spgr(m0, r1_pre), spgr(m0, r1_post)
        pre = water_pre + ff * ((fat_pre * fs if self.fat_suppress_input else fat_pre) - water_pre)
        post = water_post + ff * (fat_post * fs - water_post)
        pre, post = psf_blur(pre), psf_blur(post)

        body = self._is_body[lab]
        body_post = body
        if self.misregistration_px > 0:
            post, body_post = move_patient(post, body, self.misregistration_px, seq)
        if self.bias_field:
            g = seq["bias_std"] * pat.field(fields, "bias", u) + seq["bias_ap"] * self._ap
            bias = np.exp(g)
            pre *= bias
            post *= bias * np.exp(_FLOAT(0.015) * dbias)
        liver = lab == _T["liver"]
        snr = self.snr_range[0] + seq["snr_u"] * (self.snr_range[1] - self.snr_range[0])
        sigma = float(pre[liver if liver.any() else body].mean()) / snr
        if self.background_mask:
            pre[~body] = 0
            post[~body_post] = 0
        if self.noise:
            pre_n, post_n = rician_magnitude(rng(self.seed, SLICE_TAG, patient, k, _S_NOISE), (pre, post), sigma)
            if self.background_mask:
                pre_n[~body] = 0
                post_n[~body_post] = 0
        else:
            pre_n, post_n, sigma = pre.copy(), post.copy(), 0.0
        s_post = max(float(np.percentile(post_n[body], 99.5)), 1e-12)
        s_pre = s_post if self.normalization == "joint" else max(float(np.percentile(pre_n[body], 99.5)), 1e-12)
        les = pat.lesion or {}
        params = {
            "label": LABELS[pat.label], "patient": patient, "slice": k, "u": u, "phase": self.phase,
            "tr_ms": tr, "te_ms": te, "alpha_deg": seq["alpha_deg"], "r1": r1, "snr": snr,
            "fat_suppression": seq["fs"], "lesion": les.get("kind"), "lesion_diameter_mm": les.get("diameter_mm"),
            "hemangioma_fill": les.get("fill"), "pixel_mm": self.grid.pixel_mm,
            "liver_t1_ms": float(pat.t1[_T["liver"]]), "liver_c_mM": float(pat.c[_T["liver"]]),
            "phantom_version": PHANTOM_VERSION,
        }
        return PhantomSlice(lab, pre_n, post_n, pre, post, sigma, s_pre, s_post, params)
