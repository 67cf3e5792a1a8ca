"""Users' own data: one folder per patient holding NIfTI volumes. Also the shipped sample and a folder writer.

Folder layout (also in :data:`LAYOUT`)::

    root/
      <patient_id>/                  one folder per patient; the folder name is the patient id
        input.nii.gz                 non-enhanced volume (required)
        target.nii.gz                Gd-enhanced volume, registered (resampled) to input's grid (required)
        tumor_mask.nii.gz            lesion mask, nonzero = lesion (optional)
        liver_mask.nii.gz            liver mask, nonzero = liver (optional)
        extra_<name>.nii.gz          further registered modalities, e.g. extra_t2.nii.gz (optional)
        meta.json                    {"label": "normal" | "hemangioma" | "hcc" | null} (optional)

``.nii`` (uncompressed) works everywhere ``.nii.gz`` does. Hidden folders (``.*``) and plain files in ``root`` are
skipped. Inside a patient folder, files that are not NIfTI are ignored, but an unrecognised NIfTI name (say a typo
``targt.nii.gz``) is an error.

Volumes are 3-D ``(X, Y, Z)`` or 2-D ``(X, Y)`` (one slice); trailing axes of length 1 (``(X, Y, Z, 1)``) are
dropped; a true 4-D series is refused (pick one time frame first). Every volume of a patient must have the shape of
its ``input``. All patients must have the same ``extra_<name>`` set.

Orientation: raw voxel axes, no reorientation. Slice ``z`` is ``volume[:, :, z]``; image row ``r`` and column ``c`` of
an item are voxel ``(i=r, j=c, k=z)`` of the file. So rows run along the first voxel axis, which is not how NIfTI
viewers display it (they map axes to world space with the affine; plots may look transposed or flipped). This keeps
writing results back exact: put a synthesized ``(H, W)`` image at ``vol[:, :, z]`` of an array shaped like
``input`` and save it with ``input``'s affine and header (:meth:`NiftiPairDataset.locate` gives the file and ``z``).

Intensities (``normalization``):

- ``"joint"`` (default): input and target are both divided by one per-patient scale, the ``percentile``-th
  percentile of the target volume's positive voxels, then clipped to [0, 1]. The target/input ratio (the physical
  enhancement) is kept wherever neither saturates.
- ``"independent"``: each volume is divided by its own positive-voxel percentile, then clipped to [0, 1].
- ``"none"``: the files must already be in [0, 1]; values outside raise :class:`~pixgrl_env.data.base.DataError`.

In the two windowed modes the clip is the documented intensity window: the brightest ``100 - percentile`` % of
positive voxels saturate at 1, and negative values (interpolation undershoot from resampling) become 0. Extra
modalities are always windowed by their own percentile (they have other units than input/target). Percentiles use
NumPy's default (linear) method over the whole volume. :meth:`NiftiPairDataset.intensity_scale` returns the divisors.

Masks: any nonzero voxel is True. An absent ``tumor_mask`` gives an all-False mask and an absent ``liver_mask``
an all-False mask too: "not annotated", never a guess (region metrics over such a mask are empty). When a liver mask
is present the tumour mask is OR-ed into it (the :class:`~pixgrl_env.data.base.Pair` contract: liver includes lesion).
:attr:`NiftiPairDataset.patients` says which patients have which masks.

``meta.json`` keys: ``"label"`` (a name in :data:`~pixgrl_env.data.base.LABELS`, or ``null``/absent/``"unknown"``
for unknown, label ``-1``); ``"slice_indices"`` (optional list of ``Z`` distinct ints: the original slice numbers
reported as :attr:`PairMeta.slice_index`, default ``0..Z-1``; :func:`write_nifti_folder` writes it when a patient's
slices were not ``0..Z-1``). Other keys are free-form provenance and are ignored.

Checks: the constructor reads headers, masks (only when ``slices`` needs them) and ``meta.json``, so a missing or
unreadable file, a header-level corrupt or truncated ``.nii``, a shape mismatch, a zero-size or 4-D volume, a
non-real dtype, non-positive spacing or a bad ``meta.json`` raise :class:`~pixgrl_env.data.base.DataError` at
once. Voxel-level problems need the voxels: a ``.nii.gz`` whose gzip stream is truncated or fails its CRC-32/length
check (one flipped bit, a cut-off trailer), NaN/Inf values, values that overflow float32, an all-zero volume,
values outside [0, 1] for ``"none"``. Each patient's volumes are read in full and checked once, on the first access
to one of its items, or for all patients in the constructor with ``eager=True``; a ``.nii.gz`` stream is verified
once per process (again only if the file changes). Every error names the file.

Speed: items are read one slice at a time through nibabel's ``dataobj``; ``.nii`` files are memory-mapped (fast
random access), while reading slice ``z`` of a ``.nii.gz`` decompresses the file up to that slice. Use ``.nii`` for
large volumes in training loops.

Modules: :mod:`~pixgrl_env.data.nifti.volume` (one file: header, voxels, gzip and value checks),
:mod:`~pixgrl_env.data.nifti.layout` (the patient folder and ``meta.json``), :mod:`~pixgrl_env.data.nifti.dataset`
(:class:`NiftiPairDataset`), :mod:`~pixgrl_env.data.nifti.writer` (:func:`write_nifti_folder`),
:mod:`~pixgrl_env.data.nifti.samples` (the shipped samples).
"""

from __future__ import annotations

from pixgrl_env.data.nifti.dataset import NORMALIZATIONS, SLICE_SELECTIONS, NiftiPairDataset
from pixgrl_env.data.nifti.layout import LAYOUT, PatientRecord
from pixgrl_env.data.nifti.samples import SAMPLES, build_breast_dce_sample, sample_data_dir
from pixgrl_env.data.nifti.volume import VolumeInfo, read_header, read_slice, read_volume, verify_gzip
from pixgrl_env.data.nifti.writer import DEFAULT_SLICE_MM, write_nifti_folder

__all__ = [
    "DEFAULT_SLICE_MM", "LAYOUT", "NORMALIZATIONS", "SAMPLES", "SLICE_SELECTIONS", "NiftiPairDataset",
    "PatientRecord", "VolumeInfo", "build_breast_dce_sample", "read_header", "read_slice", "read_volume",
    "sample_data_dir", "verify_gzip", "write_nifti_folder",
]
