"""``results.json``: strict JSON I/O of evaluation results, and the versions and device they were made with.

JSON has no NaN/Infinity: :func:`write_json` writes NaN as ``null`` and ±inf as the strings ``"inf"``/``"-inf"``;
:func:`load_results` turns them back into floats.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixgrl import metrics as M

#: ``format`` of a ``results.json`` written by :func:`~pixgrl.evaluation.evaluate`.
FORMAT = "pixgrl-evaluation-v1"
#: ``format`` of a ``cv.json`` written by :func:`~pixgrl.evaluation.cross_validate`.
CV_FORMAT = "pixgrl-cross-validation-v1"


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN → None, ±inf → ``"inf"``/``"-inf"``, numpy scalars/arrays and tuples → plain Python."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(obj, Path):
        return str(obj)
    return obj


def as_float(v: Any) -> float:
    """A metric value as read from ``results.json`` as a float: None → NaN, ``"inf"``/``"-inf"`` → ±inf."""
    if v is None:
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return float(v)


def _from_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if obj == "inf":
        return math.inf
    if obj == "-inf":
        return -math.inf
    return obj


_NUMERIC_KEYS = frozenset({*M.METRIC_NAMES, *M.CLEAN_METRIC_NAMES, *M.DATASET_METRIC_NAMES, "mean", "std", "diag_n"})


def _nulls_to_nan(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, dict):
        return {k: _nulls_to_nan(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nulls_to_nan(v, key) for v in obj]
    if obj is None and key in _NUMERIC_KEYS | {"ssim", "mse"}:
        return math.nan
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (see :func:`to_jsonable`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (or a folder holding one); metric nulls become NaN and ``"inf"`` strings inf."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, CV_FORMAT):
        raise ValueError(f"{path} is not a pixgrl evaluation result (expected format {FORMAT!r})")
    return _nulls_to_nan(_from_json(data))


def versions() -> dict[str, str]:
    """Versions of pixgrl and the libraries its numbers depend on."""
    import gymnasium
    import matplotlib
    import nibabel
    import scipy
    import skimage
    import sklearn

    import pixgrl_env

    return {"pixgrl": pixgrl_env.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "skimage": skimage.__version__, "sklearn": sklearn.__version__, "nibabel": nibabel.__version__,
            "matplotlib": matplotlib.__version__}


def device_info(dev: torch.device) -> dict[str, Any]:
    """The device (and GPU name) and platform an evaluation ran on, for ``results.json``."""
    info: dict[str, Any] = {"device": str(dev), "platform": platform.platform()}
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


__all__ = ["CV_FORMAT", "FORMAT", "as_float", "device_info", "load_results", "to_jsonable", "versions", "write_json"]
