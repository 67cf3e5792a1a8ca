"""One NIfTI file: its header facts, its voxels, and the checks on both. Every error names the file.

- :func:`read_header` reads the header only (cheap): geometry, dtype, spacing, and for ``.nii`` that the file
  holds all the voxels the header promises.
- :func:`read_volume` / :func:`read_slice` read voxels as float32 and refuse NaN/Inf values, and values that
  overflow float32 (a float64 or scaled file holding magnitudes above 3.4e38), each with its own message.
- Before a ``.nii.gz`` file's voxels are used, :func:`verify_gzip` decompresses the whole stream once and checks
  its CRC-32 and length (the gzip trailer): nibabel reads voxel bytes without it, so one flipped bit or a cut-off
  trailer would otherwise load as silently different voxels. A file is verified once per process and again only
  when its size or modification time changes (about 0.3 s per 18 MB of compressed data on one core).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from pixgrl_env.data.base import DataError

#: File name endings read as NIfTI.
NIFTI_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii")
_F32_MAX = float(np.finfo(np.float32).max)
_CHUNK = 1 << 22  # bytes of decompressed data per read while verifying a gzip stream


def nifti_stem(name: str) -> str | None:
    """``"input"`` for ``"input.nii.gz"`` / ``"input.nii"``; None for non-NIfTI names."""
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


@dataclass(frozen=True)
class VolumeInfo:
    """Header facts about one NIfTI file, read without loading voxels.

    Attributes:
        path: The file.
        shape: ``(X, Y, Z)``; a 2-D file has ``Z == 1``.
        file_ndim: Number of axes stored in the file (2, 3, or more with trailing length-1 axes).
        spacing: ``(row_mm, col_mm)`` = pixdim of the first two voxel axes.
        slice_mm: pixdim of the third axis (1.0 for a 2-D file).
    """

    path: Path
    shape: tuple[int, int, int]
    file_ndim: int
    spacing: tuple[float, float]
    slice_mm: float

    def slice_index(self, z: int) -> tuple[Any, ...]:
        """The ``dataobj`` index of slice ``z``."""
        if self.file_ndim == 2:
            return (slice(None), slice(None))
        return (slice(None), slice(None), z) + (0,) * (self.file_ndim - 3)


def read_header(path: str | Path) -> VolumeInfo:
    """Open ``path`` header-only and check its geometry and dtype.

    Raises:
        DataError: naming the file: unreadable, not NIfTI-1/2, not 2-D/3-D, empty, a non-real dtype, bad spacing,
            or a ``.nii`` shorter than its header says.
    """
    path = Path(path)
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for corrupt files (ImageFileError, EOFError, OSError, ...)
        raise DataError(f"{path}: cannot read NIfTI file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise DataError(f"{path}: not a NIfTI-1/2 image (nibabel read it as {type(img).__name__})")
    shape = tuple(int(n) for n in img.shape)
    if len(shape) < 2:
        raise DataError(f"{path}: volume must be 2-D (X, Y) or 3-D (X, Y, Z), got shape {shape}")
    if len(shape) > 3 and any(n != 1 for n in shape[3:]):
        raise DataError(f"{path}: {len(shape)}-D volume of shape {shape} is not supported; volumes must be 2-D "
                        f"or 3-D (save one time frame / channel per file)")
    if any(n == 0 for n in shape):
        raise DataError(f"{path}: empty volume (shape {shape} has a zero-length axis)")
    dtype = img.header.get_data_dtype()
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise DataError(f"{path}: voxel type {dtype} is not supported (need a real integer, float or bool type)")
    zooms = tuple(float(z) for z in img.header.get_zooms())
    spacing = (zooms[0], zooms[1])
    slice_mm = zooms[2] if len(shape) >= 3 else 1.0
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise DataError(f"{path}: in-plane voxel spacing (pixdim) must be finite and positive, got {spacing}")
    # (nibabel already replaces a zero pixdim by 1 and a negative one by its absolute value, with a warning)
    if path.name.endswith(".nii") and not path.name.endswith(".nii.gz"):
        needed = int(img.dataobj.offset) + int(np.prod(shape)) * dtype.itemsize
        size = path.stat().st_size
        if size < needed:
            raise DataError(f"{path}: file is truncated ({size} bytes, header needs {needed})")
    shape3 = (shape[0], shape[1], shape[2] if len(shape) >= 3 else 1)
    return VolumeInfo(path=path, shape=shape3, file_ndim=len(shape), spacing=spacing, slice_mm=slice_mm)


# ----------------------------------------------------------------------------------------------------------------
# gzip integrity
# ----------------------------------------------------------------------------------------------------------------

_verified: set[tuple[str, int, int]] = set()  # (resolved path, mtime_ns, size) of the streams that passed


def _file_key(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def verify_gzip(path: str | Path) -> None:
    """Check that a ``.nii.gz`` file's gzip stream is complete and intact; other files pass unchecked.

    Streams the whole file through :class:`gzip.GzipFile` in chunks (constant memory), which checks every
    member's CRC-32 and length against its trailer. Passing files are remembered by path, size and modification
    time, so each is decompressed for this check once per process.

    Raises:
        DataError: naming the file, when the stream is truncated, corrupt, or fails its CRC/length check.
    """
    path = Path(path)
    if not path.name.endswith(".gz"):
        return
    try:
        key = _file_key(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read voxel data ({type(exc).__name__}: {exc})") from exc
    if key in _verified:
        return
    try:
        with gzip.GzipFile(path, "rb") as f:
            while f.read(_CHUNK):
                pass
    except EOFError as exc:
        raise DataError(f"{path}: cannot read voxel data: the gzip stream is truncated ({exc}); the file is "
                        f"incomplete (an interrupted copy or download?)") from exc
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataError(f"{path}: cannot read voxel data: the gzip stream is corrupt ({exc}); the file was "
                        f"damaged, copy it again") from exc
    _verified.add(key)


# ----------------------------------------------------------------------------------------------------------------
# voxels
# ----------------------------------------------------------------------------------------------------------------


def _load(info: VolumeInfo, index: tuple[Any, ...] | None, dtype: type, where: str) -> np.ndarray:
    """Voxels of ``info.path`` (all of them when ``index`` is None), scaled, as ``dtype``."""
    try:
        img = nib.load(str(info.path))
        with np.errstate(over="ignore"):  # float64 → float32 overflow is reported by _check_finite
            if index is None:
                return img.get_fdata(dtype=dtype, caching="unchanged")
            return np.asarray(img.dataobj[index], dtype=dtype)
    except Exception as exc:
        raise DataError(f"{info.path}: cannot read voxel data{where} ({type(exc).__name__}: {exc})") from exc


def _check_finite(arr: np.ndarray, info: VolumeInfo, index: tuple[Any, ...] | None, where: str) -> None:
    """Raise :class:`DataError` if ``arr`` (float32) holds NaN/Inf, telling overflow from NaN/Inf in the file."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    wide = _load(info, index, np.float64, where).reshape(arr.shape)  # the error path only: read at full precision
    overflow = int((bad & np.isfinite(wide)).sum())
    nonfinite = int(bad.sum()) - overflow
    problems = []
    if overflow:
        biggest = float(np.abs(wide[bad & np.isfinite(wide)]).max())
        problems.append(f"{overflow} voxel values overflow float32 (largest magnitude {biggest:.4g} > "
                        f"{_F32_MAX:.4g}; rescale the data to a smaller range)")
    if nonfinite:
        problems.append(f"{nonfinite} NaN/Inf voxel values")
    raise DataError(f"{info.path}: {' and '.join(problems)}{where}")


def read_slice(info: VolumeInfo, z: int) -> np.ndarray:
    """Slice ``z`` as float32 ``(X, Y)`` (raw values, scl_slope/inter applied), finite.

    Raises:
        DataError: naming the file and slice: a corrupt gzip stream, unreadable data, NaN/Inf or overflow.
    """
    verify_gzip(info.path)
    index, where = info.slice_index(z), f" in slice z={z}"
    arr = _load(info, index, np.float32, where)
    if arr.shape != info.shape[:2]:
        raise DataError(f"{info.path}: slice z={z} has shape {arr.shape}, header says {info.shape[:2]}")
    _check_finite(arr, info, index, where)
    return arr


def read_volume(info: VolumeInfo) -> np.ndarray:
    """The whole file as float32 ``(X, Y, Z)`` (raw values, scl_slope/inter applied), finite.

    Raises:
        DataError: naming the file: a corrupt gzip stream, unreadable data, NaN/Inf or overflow.
    """
    verify_gzip(info.path)
    arr = _load(info, None, np.float32, "")
    if arr.size != int(np.prod(info.shape)):
        raise DataError(f"{info.path}: read {arr.shape} voxels, header says {info.shape}")
    _check_finite(arr, info, None, "")
    return arr.reshape(info.shape)


__all__ = ["NIFTI_SUFFIXES", "VolumeInfo", "nifti_stem", "read_header", "read_slice", "read_volume", "verify_gzip"]
