"""The phantom's anatomy: per-patient geometry in millimetres and the axial label map of each slice.

Source: ``docs/phantom.md``, section "Geometry of an axial slice". The label map (indices into
:data:`~pixgrl_env.data.phantom.tissues.TISSUES`) is in radiological convention (patient's right on the image
left, anterior at the top): a squircle-shaped body (about 340 × 260 mm), subcutaneous fat (10–35 mm), an abdominal
wall muscle ring, viscera (a smooth mix of bowel and mesenteric fat), stomach, liver (a union of three ellipses:
right lobe on the image left, medial segment, left lobe crossing the midline anteriorly, about 150 × 170 mm),
spleen (posterolateral left = image right), kidneys (cortex + medulla, in perirenal fat), aorta, IVC, portal vein,
4–7 hepatic vessels, vertebra with spinal canal, paraspinal muscles. Boundaries are perturbed by smooth random
fields (:mod:`~pixgrl_env.data.phantom.fields`).

Slices: a patient's slices sample the central 80 % of its liver's craniocaudal extent (13–17 cm). A slice is
addressed by ``u`` in ``[-SLICE_SPAN, SLICE_SPAN]`` (plus a per-patient offset), in units of the liver's half
extent, and organ sizes and positions vary smoothly with ``u``. The lesion and an optional cyst
(:mod:`~pixgrl_env.data.phantom.lesions`) are painted into the liver.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pixgrl_env.data.phantom.lesions import paint_lesion
from pixgrl_env.data.phantom.raster import Grid
from pixgrl_env.data.phantom.tissues import TISSUE_INDEX as _T

__all__ = ["SLICE_SPAN", "draw_geometry", "label_map", "liver_scale", "liver_shift"]

#: Slices sample ``u`` in ``[-SLICE_SPAN, SLICE_SPAN]`` of the liver's half craniocaudal extent.
SLICE_SPAN = 0.8


def draw_geometry(r: np.random.Generator, label: int, fov_mm: float) -> dict[str, Any]:
    """Draw one patient's geometry in mm (x: + = image right = patient left; y: + = posterior).

    Args:
        r: The patient's anatomy stream (a fixed sequence of draws).
        label: The patient's class (2 = HCC gives a more irregular, cirrhotic liver surface).
        fov_mm: Field of view in mm (the body is kept inside it).

    Returns:
        Organ ellipses and offsets keyed by organ (``"body"``, ``"fat"``, ``"rl"``/``"md"``/``"ll"`` liver lobes,
        ``"spleen"``, ``"kidneys"``, ``"vessels"``, ...), read by :func:`label_map`.
    """
    half = fov_mm / 2
    g: dict[str, Any] = {}
    g["u_offset"] = r.uniform(-0.08, 0.08)
    g["body"] = (min(170 * r.uniform(0.88, 1.06), 0.96 * half), min(130 * r.uniform(0.88, 1.08), 0.8 * half),
                 r.uniform(0.55, 0.8), r.uniform(-8, 4))  # a, b, squareness, centre y
    g["fat"] = (r.uniform(10, 30), r.uniform(10, 35), r.uniform(12, 30))  # lateral, anterior, posterior
    g["wall"] = r.uniform(7, 12)
    a, b, _, dy = g["body"]
    yv = dy + 0.36 * b  # vertebral body centre
    g["yv"] = yv
    g["liver_H"] = r.uniform(65, 85)  # half craniocaudal extent, mm (span 13-17 cm)
    g["liver_u0"] = r.uniform(-0.15, 0.15)
    g["rl"] = (-0.33 * a + r.normal(0, 5), dy + 8 + r.normal(0, 5), 75 * r.uniform(0.9, 1.08),
               85 * r.uniform(0.9, 1.08), r.uniform(-0.25, 0.15))
    g["md"] = (-22 + r.normal(0, 4), dy - 28 + r.normal(0, 4), 45 * r.uniform(0.9, 1.1), 40 * r.uniform(0.9, 1.1),
               r.uniform(-0.3, 0.3))
    g["ll"] = (8 + r.uniform(-10, 10), dy - 52 + r.uniform(-5, 5), 62 * r.uniform(0.8, 1.15),
               27 * r.uniform(0.8, 1.2), r.uniform(-0.35, -0.05))
    g["ll_taper"] = r.uniform(0.4, 0.9)
    g["liver_eps"] = r.uniform(0.03, 0.05) + (0.02 if label == 2 else 0.0)  # nodular cirrhotic surface
    g["spleen"] = (0.67 * a + r.uniform(-6, 6), yv - 10 + r.uniform(-8, 8), 45 * r.uniform(0.85, 1.15),
                   20 * r.uniform(0.85, 1.2), -1.2 + r.uniform(-0.15, 0.15), r.uniform(-0.5, 0.0))
    kab = (28 * r.uniform(0.9, 1.1), 20 * r.uniform(0.9, 1.1))
    ku = r.uniform(0.4, 0.9)
    g["kidneys"] = [(-65 + r.uniform(-6, 6), yv + 18 + r.uniform(-6, 6), *kab, -0.9 + r.uniform(-0.2, 0.2),
                     ku + 0.15),
                    (65 + r.uniform(-6, 6), yv + 15 + r.uniform(-6, 6), *kab, 0.9 + r.uniform(-0.2, 0.2), ku)]
    g["cortex_mm"] = r.uniform(6, 8)
    g["stomach"] = (55 + r.uniform(-10, 10), dy - 35 + r.uniform(-8, 8), 38 * r.uniform(0.8, 1.2),
                    28 * r.uniform(0.8, 1.2), r.uniform(0.1, 0.6), r.uniform(-0.9, -0.2))
    g["aorta"] = (14 + r.uniform(-4, 4), yv - 30, r.uniform(10, 12.5))
    g["ivc"] = (-24 + r.uniform(-4, 4), yv - 32, 12 * r.uniform(0.9, 1.15), 9 * r.uniform(0.9, 1.15))
    g["pv"] = (-22 + r.uniform(-5, 5), yv - 55 + r.uniform(-5, 5), r.uniform(6.0, 7.5), r.uniform(-0.3, 0.3))
    vessels = []
    for _ in range(int(r.integers(4, 8))):
        lobe = "rl" if r.random() < 0.75 else "ll"
        ang, rad = r.uniform(0, 2 * np.pi), 0.7 * np.sqrt(r.random())
        d_ang, speed = r.uniform(0, 2 * np.pi), r.uniform(10, 35)
        vessels.append((lobe, rad * np.cos(ang), rad * np.sin(ang), speed * np.cos(d_ang), speed * np.sin(d_ang),
                        r.uniform(2.5, 5.0), r.uniform(1.0, 2.2), r.uniform(0, np.pi)))
    g["vessels"] = vessels
    return g


def liver_scale(g: dict[str, Any], u: float) -> float:
    """In-plane scale of the liver at slice position ``u``: largest near ``liver_u0``, at least 0.5."""
    return math.sqrt(max(0.25, 1.0 - 0.55 * (u - g["liver_u0"]) ** 2))


def liver_shift(u: float) -> float:
    """Posterior drift of the liver (mm) with the slice position ``u``."""
    return 6.0 * u


def label_map(grid: Grid, g: dict[str, Any], u: float, shape: np.ndarray, fine: np.ndarray,
              cyst: dict[str, Any] | None = None, lesion: dict[str, Any] | None = None) -> np.ndarray:
    """Rasterise a patient's label map at slice position ``u``.

    Organs are painted back to front: body, fat, muscle wall, viscera, retroperitoneum, stomach, liver and its
    vessels, cyst and lesion (inside the liver), then the organs that override the liver (spleen, kidneys, IVC,
    aorta, portal vein, vertebra).

    Args:
        grid: The pixel grid.
        g: The patient's :func:`draw_geometry`.
        u: Slice position (units of the liver's half craniocaudal extent).
        shape: ``(size, size)`` smooth field perturbing organ boundaries (coarse).
        fine: ``(size, size)`` smooth field of finer boundary detail.
        cyst: The patient's cyst (:func:`~pixgrl_env.data.phantom.lesions.draw_cyst`), or None.
        lesion: The patient's lesion (:func:`~pixgrl_env.data.phantom.lesions.draw_lesion`, placed), or None.

    Returns:
        ``(size, size)`` uint8 indices into :data:`~pixgrl_env.data.phantom.tissues.TISSUES`.
    """
    n = grid.size
    paint = grid.paint
    lab = np.zeros((n, n), dtype=np.uint8)
    a, b, pw, dy = g["body"]
    s_body = 1.0 - 0.02 * u
    a, b = a * s_body, b * s_body
    fl, fa, fp = g["fat"]
    wall = g["wall"]
    paint(lab, _T["fat"], 0, dy, a, b, eps=0.01, fld=shape, square=pw)
    paint(lab, _T["muscle"], 0, dy + (fa - fp) / 2, a - fl, b - (fa + fp) / 2, eps=0.02, fld=shape, square=pw)
    paint(lab, _T["viscera"], 0, dy + (fa - fp) / 2, a - fl - wall, b - (fa + fp) / 2 - wall, eps=0.02, fld=shape,
          square=pw)
    yv = g["yv"]
    # retroperitoneum: paraspinal muscles, perirenal fat, kidneys below
    kid = []
    for kx, ky, ka, kb, kt, ku in g["kidneys"]:
        ks = math.sqrt(max(0.0, 1.0 - ((u - ku) / 0.9) ** 2))
        kid.append((kx, ky, ka * ks, kb * ks, kt))
        if ks > 0:
            paint(lab, _T["fat"], kx, ky, ka * ks + 9, kb * ks + 9, kt, eps=0.05, fld=fine)
    sx, sy, sa, sb, st, su = g["stomach"]
    ss = math.sqrt(max(0.0, 1.0 - ((u - su) / 1.2) ** 2))
    paint(lab, _T["stomach"], sx, sy, sa * ss, sb * ss, st, eps=0.05, fld=shape)
    for side in (-1, 1):
        paint(lab, _T["muscle"], side * 31, yv + 40, 23, 18, side * 0.25, eps=0.04, fld=shape)
    # liver: union of three ellipses, perturbed by the same smooth field
    sl = liver_scale(g, u)
    shift = liver_shift(u)
    eps = g["liver_eps"]
    for key, scale in (("rl", sl), ("md", sl * 0.95),
                       ("ll", sl * min(1.0, max(0.25, 1.0 - g["ll_taper"] * max(0.0, u - 0.1))))):
        cx, cy, la, lb, lt = g[key]
        paint(lab, _T["liver"], cx, cy + shift, la * scale, lb * scale, lt, eps=eps, fld=shape)
    liver_region = lab == _T["liver"]
    for lobe, ox, oy, vx, vy, vr, elong, vt in g["vessels"]:
        cx, cy, la, lb, lt = g[lobe]
        px, py = la * sl * ox + vx * u, lb * sl * oy + vy * u
        vcx, vcy = cx + px * math.cos(lt) - py * math.sin(lt), cy + shift + px * math.sin(lt) + py * math.cos(lt)
        paint(lab, _T["hepatic_vessel"], vcx, vcy, vr * elong, vr, vt, region=liver_region)
    if cyst is not None:
        cs = 1.0 - ((u - cyst["u"]) * g["liver_H"] / cyst["r"]) ** 2
        if cs > 0:
            rr = cyst["r"] * math.sqrt(cs)
            paint(lab, _T["cyst"], cyst["cx"], cyst["cy"] + shift, rr, rr, eps=0.03, fld=fine, region=liver_region)
    if lesion is not None:
        paint_lesion(grid, lab, lesion, u, shift, shape, fine, liver_region)
    # organs that override the liver
    spx, spy, spa, spb, spt, spu = g["spleen"]
    sps = math.sqrt(max(0.0, 1.0 - ((u - spu) / 1.3) ** 2))
    paint(lab, _T["spleen"], spx, spy, spa * sps, spb * sps, spt, eps=0.04, fld=shape)
    for kx, ky, ka, kb, kt in kid:
        if ka > 0:
            paint(lab, _T["kidney_cortex"], kx, ky, ka, kb, kt, eps=0.03, fld=fine)
            cm = g["cortex_mm"]
            paint(lab, _T["kidney_medulla"], kx, ky, ka - cm, kb - cm, kt, eps=0.08, fld=fine)
    ix, iy, ia, ib = g["ivc"]
    paint(lab, _T["ivc"], ix, iy, ia, ib, eps=0.05, fld=fine)
    ax, ay, ar = g["aorta"]
    paint(lab, _T["aorta"], ax, ay, ar, ar * 0.95)
    px, py, pr, pu = g["pv"]
    pvs = 1.0 - ((u - pu) / 0.35) ** 2
    if pvs > 0:
        paint(lab, _T["portal_vein"], px, py + shift, pr * (1 + 0.6 * pvs), pr, -0.5)
    paint(lab, _T["vertebra"], 0, yv, 21, 17, eps=0.02, fld=fine)
    paint(lab, _T["vertebra"], 0, yv + 36, 15, 8)
    paint(lab, _T["spinal_canal"], 0, yv + 25, 7.5, 6.5)
    return lab
