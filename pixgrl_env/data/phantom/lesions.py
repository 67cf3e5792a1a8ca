"""Focal liver lesions by class, and simple cysts: their per-patient draw, placement and rasterisation.

Source: ``docs/phantom.md``, section "Enhancement patterns per class". One lesion per lesion patient, a 3-D
ellipsoid cut by each slice: the cross-section shrinks toward the lesion's ends and is absent beyond them, so some
slices of a lesion patient have an empty tumour mask (they keep the patient's class label; about 1 in 4 slices
shows the lesion with 8 slices per patient). The lesion is centred near one slice, on a liver pixel at least one
radius from the liver's edge in that slice (or as deep as possible for lesions too large to fit), so it is always
seen at least once and rarely truncated (:func:`place_lesion`).

- *HCC*: diameter 1–10 cm log-uniform; capsule rim 1–3 mm (75 %); necrotic core (80 % above 5 cm, 20 % for
  2–5 cm); "washout": its Gd concentration is solved from the SPGR equation so that the core is 0.55–0.85 × the
  liver's signal in the PV/delayed target whatever the jitter, and the capsule's so that it is 1.1–1.4 ×
  (enhancing capsule); T1 1050 ms, or 550–700 ms (iso/hyper-intense pre-contrast) in 15 % of patients; the
  background liver is cirrhotic (fine nodular texture of 6–10 %, more irregular surface). The concentrations and
  textures are drawn in :func:`pixgrl_env.data.phantom.patient.draw_tissue_params`.
- *Hemangioma*: lobulated, 0.5–5 cm log-uniform (15 % giant, 5–10 cm, with a central non-enhancing scar);
  peripheral nodular enhancement: 3–8 nodules on the rim whose radius is the fill fraction f of the lesion radius,
  f_PV ~ U(0.3, 0.7), f_delayed ~ U(0.7, 1.0); flash filling (f = 1) for 70 % of lesions < 15 mm. Enhancing voxels
  take the blood-pool concentration (×0.85–1.0 of the aorta's), the rest keep C = 0 and the native T1 of 1600 ms.
- *Normal*: no focal lesion. Optionally (``cyst_prob``) any patient gets a small simple cyst, which is part of the
  liver mask but never of the tumour mask: the tumour mask is the lesion of interest only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from pixgrl_env.data.phantom.raster import Grid
from pixgrl_env.data.phantom.tissues import TISSUE_INDEX as _T

__all__ = ["draw_cyst", "draw_lesion", "paint_lesion", "place_lesion"]


def draw_lesion(r: np.random.Generator, label: int, phase: str, liver_half_mm: float, u_slices: np.ndarray,
                slice_step: float) -> dict[str, Any] | None:
    """Draw the lesion of interest of a patient of class ``label``, all but its in-plane centre.

    The stream ``r`` always draws the same sequence whatever the class and phase.

    Args:
        r: The patient's lesion stream.
        label: 0 normal (no lesion), 1 hemangioma, 2 HCC.
        phase: ``"portal_venous"`` or ``"delayed"`` (the hemangioma's fill fraction).
        liver_half_mm: Half craniocaudal extent of the liver in mm (sets the lesion's extent in ``u``).
        u_slices: The patient's slice positions.
        slice_step: Spacing of the slice positions in ``u``.

    Returns:
        None for a normal patient; else a dict with ``kind`` (``"hcc"``/``"hemangioma"``), ``diameter_mm``,
        ``r`` (mm), ``aspect``, ``theta``, ``u`` (centre slice position), ``hz`` (half extent in ``u``), ``pos``
        (the uniform draw of :func:`place_lesion`) and the class's features (``capsule_mm``, ``necrosis`` for HCC;
        ``fill``, ``nodules``, ``lobes``, ``scar`` for hemangioma). ``cx``/``cy`` are set by the caller.
    """
    draws = {"k": int(r.integers(len(u_slices))), "dz": r.uniform(-0.4, 0.4), "pos": r.random(),
             "aspect": r.uniform(0.75, 1.0), "theta": r.uniform(0, np.pi), "zaspect": r.uniform(0.8, 1.2),
             "logd": r.random(), "giant": r.random(), "hcc_d": r.random(),
             "capsule": r.random(), "cap_mm": r.uniform(1, 3), "nec": r.random(), "nec_r": r.uniform(0.25, 0.5),
             "f_pv": r.uniform(0.3, 0.7), "f_del": r.uniform(0.7, 1.0), "flash": r.random(),
             "nodules": int(r.integers(3, 9)), "nod_ang": r.uniform(0, 2 * np.pi, 8),
             "nod_r": r.uniform(0.7, 1.2, 8), "lobes": r.uniform(-1, 1, (3, 3)), "scar": r.uniform(0.15, 0.25)}
    if label == 0:
        return None
    if label == 2:
        d = math.exp(math.log(10) + draws["hcc_d"] * (math.log(100) - math.log(10)))
    elif draws["giant"] < 0.15:
        d = 50 + 50 * draws["logd"]
    else:
        d = math.exp(math.log(5) + draws["logd"] * (math.log(50) - math.log(5)))
    rad = d / 2
    les: dict[str, Any] = {"kind": "hcc" if label == 2 else "hemangioma", "diameter_mm": d, "r": rad,
                           "aspect": draws["aspect"], "theta": draws["theta"], "pos": draws["pos"]}
    hz = rad * draws["zaspect"] / liver_half_mm  # z half-extent in u units
    les["u"] = float(u_slices[draws["k"]] + draws["dz"] * min(slice_step, hz))
    les["hz"] = hz
    if label == 2:
        les["capsule_mm"] = draws["cap_mm"] if draws["capsule"] < 0.75 else 0.0
        p_nec = 0.8 if d > 50 else (0.2 if d > 20 else 0.0)
        les["necrosis"] = draws["nec_r"] if draws["nec"] < p_nec else 0.0
    else:
        f = draws["f_pv"] if phase == "portal_venous" else draws["f_del"]
        if d < 15 and draws["flash"] < 0.7:
            f = 1.0
        les["fill"] = f
        k = draws["nodules"]
        les["nodules"] = [(draws["nod_ang"][i] + 2 * np.pi * i / k, draws["nod_r"][i]) for i in range(k)]
        les["lobes"] = [(0.35 * lx, 0.35 * ly, 0.55 + 0.15 * lr) for lx, ly, lr in draws["lobes"]]
        les["scar"] = draws["scar"] if d > 50 else 0.0
    return les


def place_lesion(les: dict[str, Any], liver: np.ndarray, grid: Grid) -> tuple[float, float]:
    """Choose the lesion's in-plane centre among the liver pixels of its centre slice; return ``(x, y)`` in mm.

    Candidates are the pixels of ``liver`` at least one lesion radius (chessboard distance) from the liver's edge,
    or the deepest ones (within 85 % of the largest such distance) when the lesion is too large to fit; the
    lesion's uniform draw ``pos`` picks one in raster order. So the lesion is always visible.

    Args:
        les: A lesion of :func:`draw_lesion`.
        liver: ``(size, size)`` bool liver mask (parenchyma and vessels) at the lesion's centre slice, with the other
            organs painted and without the lesion.
        grid: The pixel grid.
    """
    dist = ndimage.distance_transform_cdt(np.pad(liver, 1), metric="chessboard")[1:-1, 1:-1] * grid.pixel_mm
    dmax = float(dist.max())
    cand = np.flatnonzero(dist >= min(les["r"], 0.85 * dmax)) if dmax > 0 else np.array([grid.size**2 // 2])
    row, col = divmod(int(cand[min(int(les["pos"] * len(cand)), len(cand) - 1)]), grid.size)
    return float(grid.x[col]), float(grid.y[row])


def draw_cyst(r: np.random.Generator, right_lobe: tuple[float, ...], cyst_prob: float) -> dict[str, Any] | None:
    """Draw a simple cyst (5–20 mm) in the right liver lobe with probability ``cyst_prob``, else None.

    Args:
        r: The patient's cyst stream (a fixed sequence of draws whatever ``cyst_prob``).
        right_lobe: The right lobe's ellipse ``(cx, cy, a, b, theta)`` of the patient's geometry.
        cyst_prob: Probability in [0, 1].

    Returns:
        ``{"r", "u", "cx", "cy"}`` (radius mm, centre slice position, centre mm in the liver frame) or None.
    """
    draws = r.random(), r.uniform(5, 20), r.uniform(-0.6, 0.6), r.uniform(0, 1, 2)
    if draws[0] >= cyst_prob:
        return None
    cx, cy, la, lb, lt = right_lobe
    ang, rr = 2 * np.pi * draws[3][0], 0.75 * math.sqrt(draws[3][1])
    px, py = la * rr * math.cos(ang), lb * rr * math.sin(ang)
    return {"r": draws[1] / 2, "u": draws[2], "cx": cx + px * math.cos(lt) - py * math.sin(lt),
            "cy": cy + px * math.sin(lt) + py * math.cos(lt)}


def paint_lesion(grid: Grid, lab: np.ndarray, les: dict[str, Any], u: float, shift: float, shape: np.ndarray,
                 fine: np.ndarray, region: np.ndarray) -> None:
    """Paint the lesion's cross-section at slice position ``u`` into ``lab``, restricted to ``region``.

    HCC: core, capsule, necrosis. Hemangioma: lobulated, enhancing rim nodules, optional scar.

    Args:
        grid: The pixel grid.
        lab: ``(size, size)`` uint8 label map, modified in place.
        les: A placed lesion (:func:`draw_lesion` with ``cx``, ``cy``).
        u: Slice position.
        shift: The liver's posterior shift at ``u`` in mm (the lesion moves with the liver).
        shape: ``(size, size)`` coarse smooth field (necrosis and scar outlines).
        fine: ``(size, size)`` fine smooth field (lesion outline).
        region: ``(size, size)`` bool, the liver before its vessels.
    """
    cs = 1.0 - ((u - les["u"]) / les["hz"]) ** 2
    if cs <= 0:
        return
    rr = les["r"] * math.sqrt(cs)
    if rr < 0.75 * grid.pixel_mm:
        return
    a, b, th = rr, rr * les["aspect"], les["theta"]
    cx, cy = les["cx"], les["cy"] + shift
    win = grid.window(cx, cy, rr * 1.4 + 2 * grid.pixel_mm)
    if win is None:
        return
    reg = region[win]
    sub = lab[win]
    x2, y2 = grid.q(win, cx, cy, a, b, th)
    q = x2 + y2
    if les["kind"] == "hcc":
        rho = np.sqrt(q) / (1 + 0.05 * fine[win])
        inside = (rho < 1) & reg
        sub[inside] = _T["hcc"]
        if les["capsule_mm"] > 0:
            sub[inside & (rho >= 1 - les["capsule_mm"] / b)] = _T["hcc_capsule"]
        if les["necrosis"] > 0:
            rho_n = np.sqrt(q) / (1 + 0.2 * shape[win] + 0.1 * fine[win])
            sub[inside & (rho_n < les["necrosis"])] = _T["necrosis"]
        return
    # hemangioma: lobulated union of circles, nodular peripheral enhancement
    rho = np.sqrt(q) / (1 + 0.05 * fine[win])
    inside = rho < 0.8
    dx, dy = grid.offsets(win, cx, cy)
    for lx, ly, lr in les["lobes"]:
        inside |= (dx - lx * rr) ** 2 + (dy - ly * rr) ** 2 < (lr * rr) ** 2
    inside &= reg
    f = les["fill"]
    if f >= 0.999:
        enh = inside
    else:
        enh = np.zeros_like(inside)
        for ang, nr in les["nodules"]:
            nx, ny = 0.85 * rr * math.cos(ang), 0.85 * rr * math.sin(ang)
            enh |= (dx - nx) ** 2 + (dy - ny) ** 2 < (f * nr * rr) ** 2
        enh &= inside
    sub[inside] = _T["hemangioma_nonenhancing"]
    sub[enh] = _T["hemangioma_enhancing"]
    if les["scar"] > 0:
        sub[inside & (np.sqrt(dx**2 + dy**2) / rr < les["scar"] * (1 + 0.3 * shape[win]))] = _T["necrosis"]
