"""Everything the phantom draws once per patient: geometry, lesion, cyst, tissue and sequence parameters, fields.

Determinism: every draw comes from an RNG stream seeded with ``np.random.SeedSequence([seed, tag, patient,
stream])`` (slice-level draws, in :mod:`~pixgrl_env.data.phantom.render`, add the slice index). Each stream draws a
fixed sequence whatever the options, so a patient is the same whatever the access order, and options such as
``noise`` or ``phase`` change only what they control.

Parameter maps (``docs/phantom.md``, sections "Native relaxation times", "Signal equation and sequence parameters",
"Dose, timing and Gd concentration", "Jitter and texture"): per tissue, the nominal values of
:data:`~pixgrl_env.data.phantom.tissues.TISSUE_PARAMS`; per patient, T1/T2*/PD jittered by ±8 % and C by ±20 %
(uniform), texture amplitudes by ×0.75–1.25; per slice, a smooth texture of 3–5 % on T1, PD and C (6–10 %
fine-grained extra texture in cirrhotic livers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixgrl_env.data.phantom.anatomy import SLICE_SPAN, draw_geometry, label_map, liver_shift
from pixgrl_env.data.phantom.fields import SmoothFields
from pixgrl_env.data.phantom.lesions import draw_cyst, draw_lesion, place_lesion
from pixgrl_env.data.phantom.raster import Grid
from pixgrl_env.data.phantom.signal import draw_sequence, spgr_signal
from pixgrl_env.data.phantom.tissues import TISSUE_INDEX as _T
from pixgrl_env.data.phantom.tissues import TISSUE_PARAMS, TISSUES

__all__ = ["Patient", "draw_tissue_params", "make_patient", "rng"]

# RNG tags: patient-level streams, slice-level streams, the class permutation (changing any changes every pixel).
PATIENT_TAG = 0x50A7
SLICE_TAG = 0x51CE
CLASS_TAG = 0xC1A5
# Patient-level RNG streams.
_S_ANATOMY, _S_TISSUE, _S_SEQUENCE, _S_LESION, _S_CYST, _S_FIELDS = range(6)
#: The per-patient smooth fields: name → (coarse noise size, index of its rotation phase).
FIELDS: dict[str, tuple[int, int]] = {"shape": (10, 0), "fine": (24, 1), "viscera": (14, 2), "bias": (4, 4),
                                      "b1": (4, 3)}

_FLOAT = np.float32


def rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of stream ``key`` of the dataset ``seed``: ``default_rng(SeedSequence([seed, *key]))``."""
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


@dataclass
class Patient:
    """Everything drawn once per patient (see :func:`make_patient`).

    Attributes:
        label: Class, index into :data:`~pixgrl_env.data.base.LABELS`.
        u: ``(slices,)`` slice positions in units of the liver's half craniocaudal extent.
        geo: Geometry (:func:`~pixgrl_env.data.phantom.anatomy.draw_geometry`).
        lesion: The placed lesion (:func:`~pixgrl_env.data.phantom.lesions.draw_lesion`) or None.
        cyst: The cyst (:func:`~pixgrl_env.data.phantom.lesions.draw_cyst`) or None.
        t1, t2s, pd, c: ``(len(TISSUES),)`` float32 per-tissue T1 (ms), T2* (ms), PD and Gd concentration (mM)
            for the dataset's phase.
        tex: ``(len(TISSUES),)`` float32 texture amplitude per tissue.
        fine_tex: ``(len(TISSUES),)`` float32 fine (cirrhotic) texture amplitude per tissue.
        seq: Sequence parameters (:func:`~pixgrl_env.data.phantom.signal.draw_sequence`).
        noise_pairs: Coarse white noise ``(2, m, m)`` per field of :data:`FIELDS`, and ``"phase"`` (5,) angles.
    """

    label: int
    u: np.ndarray
    geo: dict[str, Any]
    lesion: dict[str, Any] | None
    cyst: dict[str, Any] | None
    t1: np.ndarray
    t2s: np.ndarray
    pd: np.ndarray
    c: np.ndarray
    tex: np.ndarray
    fine_tex: np.ndarray
    seq: dict[str, float]
    noise_pairs: dict[str, np.ndarray]

    def field(self, fields: SmoothFields, name: str, u: float) -> np.ndarray:
        """The patient's smooth field ``name`` (a key of :data:`FIELDS`) at slice position ``u``, ``(size, size)``."""
        return fields.rotating(self.noise_pairs[name], self.noise_pairs["phase"][FIELDS[name][1]], u)

    def label_map(self, grid: Grid, fields: SmoothFields, u: float) -> np.ndarray:
        """The patient's ``(size, size)`` uint8 label map at slice position ``u``
        (:func:`~pixgrl_env.data.phantom.anatomy.label_map`)."""
        return label_map(grid, self.geo, u, self.field(fields, "shape", u), self.field(fields, "fine", u),
                         self.cyst, self.lesion)


def draw_tissue_params(r: np.random.Generator, label: int, seq: dict[str, float],
                       phase: str) -> tuple[np.ndarray, ...]:
    """Per-tissue parameter vectors for one patient: ±8 % T1/T2*/PD, ±20 % C.

    Two concentrations are then set from the signal they must give (``docs/phantom.md``, "Enhancement patterns per
    class"), by inverting the SPGR equation with this patient's parameters at the nominal flip angle: the HCC
    core's, so that it is 0.55–0.85 × the liver in the target (washout, whatever the jitter; C = 0 if even that is
    too bright), and the capsule's, 1.1–1.4 × the liver (enhancing capsule). The enhancing hemangioma takes
    0.85–1.0 × the aorta's C.

    Args:
        r: The patient's tissue stream.
        label: The patient's class (2 = HCC: cirrhotic liver texture).
        seq: The patient's sequence parameters.
        phase: ``"portal_venous"`` or ``"delayed"`` (which concentration column).

    Returns:
        ``(t1, t2s, pd, c, tex, fine)``, each ``(len(TISSUES),)`` float32.
    """
    n = len(TISSUES)
    base = [TISSUE_PARAMS[t] for t in TISSUES]
    jit = r.uniform(-0.08, 0.08, (3, n))
    cj = r.uniform(-0.2, 0.2, n)
    hyper_hcc, hyper_t1 = r.random(), r.uniform(550, 700)
    tex_draw = r.uniform(0.75, 1.25, n)
    washout, capsule, c_rel_hem = r.uniform(0.55, 0.85), r.uniform(1.1, 1.4), r.uniform(0.85, 1.0)
    cirr = r.uniform(0.06, 0.10)
    t1 = np.array([t.t1_ms for t in base]) * (1 + jit[0])
    t2s = np.array([t.t2s_ms for t in base]) * (1 + jit[1])
    pd = np.array([t.pd for t in base]) * (1 + jit[2])
    col = "c_pv" if phase == "portal_venous" else "c_delayed"
    c = np.array([getattr(t, col) for t in base]) * (1 + cj)
    if hyper_hcc < 0.15:  # iso/hyper-intense HCC on pre-contrast T1 (10-20 % of HCCs)
        t1[_T["hcc"]] = hyper_t1
    tr, te, r1, alpha = seq["tr_ms"], seq["te_ms"], seq["r1"], math.radians(seq["alpha_deg"])
    liv = _T["liver"]
    s_liver = spgr_signal(pd[liv], 1000.0 / t1[liv] + r1 * c[liv], t2s[liv], tr, te, alpha)
    for name, ratio in (("hcc", washout), ("hcc_capsule", capsule)):
        i = _T[name]
        y = ratio * s_liver / (pd[i] * math.exp(-te / t2s[i]) * math.sin(alpha))  # (1-E1)/(1-cos(a)E1), < 1
        e1 = (1 - y) / (1 - y * math.cos(alpha))
        c[i] = max(0.0, (-math.log(e1) / (tr * 1e-3) - 1000.0 / t1[i]) / r1)
    c[_T["hemangioma_enhancing"]] = c_rel_hem * c[_T["aorta"]]  # blood pool
    tex = np.array([t.texture for t in base]) * tex_draw
    fine = np.zeros(n)
    fine[[_T["hcc"], _T["hcc_capsule"]]] = 0.04
    if label == 2:  # cirrhotic background liver
        fine[liv] = cirr
    return (t1.astype(_FLOAT), t2s.astype(_FLOAT), pd.astype(_FLOAT), c.astype(_FLOAT), tex.astype(_FLOAT),
            fine.astype(_FLOAT))


def make_patient(seed: int, p: int, label: int, slices_per_patient: int, phase: str, cyst_prob: float,
                 grid: Grid, fields: SmoothFields) -> Patient:
    """Draw patient ``p`` of the dataset ``seed``.

    Args:
        seed: The dataset seed.
        p: Patient index (0-based).
        label: The patient's class.
        slices_per_patient: Slices, evenly spread over the central ``2·SLICE_SPAN`` of the liver (plus an offset).
        phase: ``"portal_venous"`` or ``"delayed"``.
        cyst_prob: Probability of a simple cyst.
        grid: The pixel grid.
        fields: The smooth-field generator of that grid.
    """
    geo = draw_geometry(rng(seed, PATIENT_TAG, p, _S_ANATOMY), label, grid.fov_mm)
    n = slices_per_patient
    u = -SLICE_SPAN + 2 * SLICE_SPAN * (np.arange(n) + 0.5) / n + geo["u_offset"]
    seq = draw_sequence(rng(seed, PATIENT_TAG, p, _S_SEQUENCE))
    t1, t2s, pd, c, tex, fine = draw_tissue_params(rng(seed, PATIENT_TAG, p, _S_TISSUE), label, seq, phase)
    cyst = draw_cyst(rng(seed, PATIENT_TAG, p, _S_CYST), geo["rl"], cyst_prob)
    rf = rng(seed, PATIENT_TAG, p, _S_FIELDS)
    noise_pairs = {name: rf.standard_normal((2, m, m)).astype(_FLOAT) for name, (m, _) in FIELDS.items()}
    noise_pairs["phase"] = rf.uniform(0, 2 * np.pi, 5).astype(_FLOAT)
    pat = Patient(label, u, geo, None, cyst, t1, t2s, pd, c, tex, fine, seq, noise_pairs)
    les = draw_lesion(rng(seed, PATIENT_TAG, p, _S_LESION), label, phase, geo["liver_H"], u, 2 * SLICE_SPAN / n)
    if les is not None:
        lab = pat.label_map(grid, fields, les["u"])  # lesion-free anatomy at the lesion's centre slice
        x, y = place_lesion(les, (lab == _T["liver"]) | (lab == _T["hepatic_vessel"]), grid)
        les["cx"], les["cy"] = x, y - liver_shift(les["u"])  # in the liver's frame: moves with the liver
    pat.lesion = les
    return pat
