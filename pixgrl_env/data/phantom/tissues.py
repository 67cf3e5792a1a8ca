"""The phantom's tissues: their names, the masks they make up, and their nominal 1.5 T parameters.

Sources are the tables of ``docs/phantom.md``: native T1 from "Native relaxation times" (1.5 T column), T2* and
proton density from "Signal equation and sequence parameters", Gd concentrations from "Dose, timing and Gd
concentration". Per-patient jitter and texture are drawn from these nominal values in
:mod:`pixgrl_env.data.phantom.patient`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LESION_TISSUES",
    "LIVER_TISSUES",
    "TISSUES",
    "TISSUE_INDEX",
    "TISSUE_PARAMS",
    "Tissue",
    "tissue_lut",
]

#: Tissue names; label maps (:meth:`PhantomDataset.anatomy`) hold indices into this tuple.
TISSUES: tuple[str, ...] = (
    "background", "fat", "muscle", "viscera", "stomach", "liver", "spleen", "kidney_cortex", "kidney_medulla",
    "aorta", "ivc", "portal_vein", "hepatic_vessel", "vertebra", "spinal_canal", "hcc", "hcc_capsule", "necrosis",
    "hemangioma_enhancing", "hemangioma_nonenhancing", "cyst",
)
#: Tissue name → its index in :data:`TISSUES` (the value in label maps).
TISSUE_INDEX: dict[str, int] = {name: i for i, name in enumerate(TISSUES)}
#: Tissues that make up the tumour mask (the lesion of interest).
LESION_TISSUES: tuple[str, ...] = ("hcc", "hcc_capsule", "necrosis", "hemangioma_enhancing",
                                   "hemangioma_nonenhancing")
#: Tissues that make up the liver mask: parenchyma, intrahepatic vessels, lesion and cysts (not the main portal vein
#: at the hilum nor the IVC).
LIVER_TISSUES: tuple[str, ...] = ("liver", "hepatic_vessel", *LESION_TISSUES, "cyst")


@dataclass(frozen=True)
class Tissue:
    """Nominal 1.5 T parameters of one tissue.

    Attributes:
        t1_ms: Native T1 of the water compartment (ms).
        t2s_ms: T2* (ms).
        pd: Relative proton density (M0).
        c_pv: Gd concentration in the portal-venous phase (mM).
        c_delayed: Gd concentration in the delayed (3 min) phase (mM).
        fat_fraction: Fraction of the voxel signal from fat (fat relaxation, suppressed by fat-sat).
        texture: Relative amplitude (std) of the smooth intra-tissue texture on T1, PD and C.
    """

    t1_ms: float
    t2s_ms: float
    pd: float
    c_pv: float
    c_delayed: float
    fat_fraction: float = 0.0
    texture: float = 0.04


#: Per-tissue parameters (sources: see the module docstring). Values marked "assumed" are not in those tables:
#: viscera (bowel wall + contents), IVC (PV-phase mixing), kidney medulla (PV is nephrographic: medulla enhances),
#: hepatic veins (blood pool), marrow split into water + 35 % fat, CSF, HCC capsule T1. The C of "hcc" and
#: "hcc_capsule" here are nominal only: per patient they are solved from the wanted signal ratio to liver (see
#: :func:`pixgrl_env.data.phantom.patient.draw_tissue_params`), and "hemangioma_enhancing" takes the blood's.
TISSUE_PARAMS: dict[str, Tissue] = {
    "background": Tissue(1000.0, 100.0, 0.0, 0.0, 0.0, texture=0.0),
    "fat": Tissue(343.0, 40.0, 0.95, 0.05, 0.05, fat_fraction=1.0, texture=0.03),
    "muscle": Tissue(856.0, 25.0, 0.72, 0.2, 0.2, texture=0.03),
    "viscera": Tissue(1000.0, 30.0, 0.80, 0.5, 0.4, texture=0.06),  # assumed; fat fraction is a smooth map
    "stomach": Tissue(3000.0, 200.0, 1.0, 0.0, 0.05, texture=0.03),  # fluid contents
    "liver": Tissue(586.0, 28.0, 0.75, 0.6, 0.45, texture=0.04),
    "spleen": Tissue(1057.0, 40.0, 0.80, 0.7, 0.5, texture=0.03),
    "kidney_cortex": Tissue(966.0, 40.0, 0.85, 1.5, 0.8, texture=0.03),
    "kidney_medulla": Tissue(1412.0, 40.0, 0.85, 1.0, 0.9, texture=0.03),  # C assumed
    "aorta": Tissue(1441.0, 100.0, 0.85, 1.8, 1.0, texture=0.02),
    "ivc": Tissue(1441.0, 100.0, 0.85, 1.6, 1.0, texture=0.02),  # C assumed
    "portal_vein": Tissue(1441.0, 100.0, 0.85, 2.0, 1.0, texture=0.02),
    "hepatic_vessel": Tissue(1441.0, 100.0, 0.85, 1.8, 1.0, texture=0.02),  # C assumed (hepatic veins)
    "vertebra": Tissue(700.0, 30.0, 0.80, 0.3, 0.3, fat_fraction=0.35, texture=0.05),  # assumed
    "spinal_canal": Tissue(3500.0, 200.0, 1.0, 0.0, 0.05, texture=0.01),  # CSF, assumed
    "hcc": Tissue(1050.0, 60.0, 0.78, 0.4, 0.35, texture=0.05),
    "hcc_capsule": Tissue(900.0, 40.0, 0.78, 0.9, 1.0, texture=0.03),  # see note above
    "necrosis": Tissue(3000.0, 200.0, 0.95, 0.0, 0.05, texture=0.03),
    "hemangioma_enhancing": Tissue(1600.0, 150.0, 0.90, 1.6, 1.0, texture=0.03),
    "hemangioma_nonenhancing": Tissue(1600.0, 150.0, 0.90, 0.0, 0.0, texture=0.03),
    "cyst": Tissue(3500.0, 200.0, 1.0, 0.0, 0.05, texture=0.01),
}
assert tuple(TISSUE_PARAMS) == TISSUES


def tissue_lut(names: Iterable[str]) -> np.ndarray:
    """Return a ``(len(TISSUES),)`` bool lookup table, True at the tissues ``names``: ``lut[labels]`` is their mask.

    Raises:
        KeyError: A name not in :data:`TISSUES`.
    """
    lut = np.zeros(len(TISSUES), dtype=bool)
    lut[[TISSUE_INDEX[t] for t in names]] = True
    return lut
