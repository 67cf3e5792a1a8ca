"""Tests of the NIfTI folder source, its writer and the shipped breast_dce sample."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pixgrl_env.data import make_dataset, split_dataset
from pixgrl_env.data.base import LABELS, DataError, Pair, PairDataset, PairMeta
from pixgrl_env.data.nifti import (
    LAYOUT,
    NiftiPairDataset,
    build_breast_dce_sample,
    sample_data_dir,
    write_nifti_folder,
)

# ---------------------------------------------------------------------------------------------- helpers


def save(path: Path, arr: np.ndarray, zooms: tuple[float, ...] | None = None) -> Path:
    """Write ``arr`` as NIfTI at ``path`` (affine from ``zooms``)."""
    arr = np.asarray(arr)
    affine = np.diag(list(zooms or (1.0,) * min(arr.ndim, 3)) + [1.0] * (4 - min(arr.ndim, 3)))
    img = nib.Nifti1Image(arr, affine)
    img.header.set_data_dtype(arr.dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    return path


def make_patient(root: Path, pid: str, shape: tuple[int, ...] = (6, 5, 3), label: str | None = None,
                 seed: int = 0, ext: str = ".nii.gz", **extra_files: np.ndarray) -> Path:
    """A valid patient folder with positive random input/target; ``extra_files`` name → array are added."""
    rng = np.random.default_rng(seed)
    folder = root / pid
    inp = rng.uniform(0.1, 0.5, shape).astype(np.float32)
    save(folder / f"input{ext}", inp)
    save(folder / f"target{ext}", (inp * 1.5).astype(np.float32))
    for name, arr in extra_files.items():
        save(folder / f"{name}{ext}", arr)
    if label is not None:
        (folder / "meta.json").write_text(json.dumps({"label": label}))
    return folder


class StubDataset(PairDataset):
    """Hand-made pairs: patient ``a`` (normal, 2 slices, indices 7 and 3, masks, extra ``t2``), patient ``b``
    (unknown label, 1 slice index 0, no masks)."""

    def __init__(self) -> None:
        rng = np.random.default_rng(42)
        self.pairs = []
        for pid, label, z, has_masks in (("a", 0, 7, True), ("b", -1, 0, False), ("a", 0, 3, True)):
            inp = rng.uniform(0, 1, (4, 5)).astype(np.float32)
            tumor = np.zeros((4, 5), bool)
            liver = np.zeros((4, 5), bool)
            if has_masks:
                tumor[1, 1] = True
                liver[:3, :3] = True
            self.pairs.append(Pair(
                input=inp, target=rng.uniform(0, 1, (4, 5)).astype(np.float32), tumor_mask=tumor, liver_mask=liver,
                label=label, meta=PairMeta(patient_id=pid, slice_index=z, spacing=(0.75, 0.5), source=f"stub[{pid}]"),
                extra={"t2": rng.uniform(0, 1, (4, 5)).astype(np.float32)}))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        return self.pairs[self._check_index(index)]

    def item_index(self) -> list[tuple[str, int]]:
        return [(p.meta.patient_id, p.label) for p in self.pairs]


# ---------------------------------------------------------------------------------------------- round trip


def test_round_trip_preserves_arrays_spacing_labels_ids(tmp_path: Path) -> None:
    stub = StubDataset()
    written = write_nifti_folder(stub, tmp_path)
    assert written == [tmp_path / "a", tmp_path / "b"]
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["slice_indices"] == [3, 7]
    assert not (tmp_path / "b" / "tumor_mask.nii.gz").exists()  # masks only written when annotated

    ds = NiftiPairDataset(tmp_path, normalization="none", eager=True)
    assert len(ds) == 3 and ds.image_shape == (4, 5) and ds.extra_names == ("t2",)
    assert ds.item_index() == [("a", 0), ("a", 0), ("b", -1)]
    expected = {(p.meta.patient_id, p.meta.slice_index): p for p in stub.pairs}
    for i in range(len(ds)):
        got = ds[i]
        want = expected[(got.meta.patient_id, got.meta.slice_index)]
        for name in ("input", "target", "tumor_mask", "liver_mask"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        assert np.array_equal(got.extra["t2"], want.extra["t2"])
        assert got.label == want.label and got.meta.spacing == (0.75, 0.5)
        path, z = ds.locate(i)
        assert got.meta.source == f"{path}[z={z}]" and path.name == "input.nii.gz"
    assert nib.load(str(tmp_path / "a" / "input.nii.gz")).header.get_zooms() == (0.75, 0.5, 4.0)


def test_writer_refuses_overwrite_and_writes_subsets(tmp_path: Path) -> None:
    stub = StubDataset()
    write_nifti_folder(stub, tmp_path, patients=["b"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    with pytest.raises(FileExistsError, match=re.escape(str(tmp_path / "b"))):
        write_nifti_folder(stub, tmp_path)
    assert not (tmp_path / "a").exists()  # nothing written when refusing
    (tmp_path / "b" / "notes.txt").write_text("keep me")
    write_nifti_folder(stub, tmp_path, overwrite=True)
    assert (tmp_path / "b" / "notes.txt").exists()
    assert len(NiftiPairDataset(tmp_path, normalization="none")) == 3
    with pytest.raises(ValueError, match="not in the dataset"):
        write_nifti_folder(stub, tmp_path / "x", patients=["zz"])


# ---------------------------------------------------------------------------------------------- shipped sample


def test_breast_dce_sample_is_a_real_enhancing_pair() -> None:
    ds = make_dataset("breast_dce")
    assert isinstance(ds, NiftiPairDataset) and len(ds) == 1 and ds.image_shape == (192, 192)
    pair = ds[0]
    assert pair.meta.patient_id == "dcemri-jl-invivo" and pair.label == -1
    for img in (pair.input, pair.target):
        assert img.dtype == np.float32 and np.isfinite(img).all() and img.min() >= 0 and img.max() <= 1
    tissue = pair.input > 0.05
    enhancement = pair.target - pair.input
    assert (enhancement[tissue] > 0.3).sum() > 100  # the tumour and vessels light up
    assert pair.target[tissue].mean() > pair.input[tissue].mean()
    assert not pair.tumor_mask.any() and not pair.liver_mask.any()  # no masks shipped: all False
    assert (sample_data_dir("breast_dce") / "README.md").is_file()
    with pytest.raises(ValueError, match="unknown sample"):
        sample_data_dir("nope")


def test_build_breast_dce_sample_from_a_mat_file(tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    frames = np.stack([np.full((3, 4), 10.0 + f) for f in range(13)])
    scipy_io.savemat(tmp_path / "invivo.mat", {"DCEdata": frames})
    folder = build_breast_dce_sample(tmp_path / "invivo.mat", tmp_path / "out")
    ds = NiftiPairDataset(tmp_path / "out", normalization="independent", percentile=100)
    assert ds.intensity_scale(folder.name) == (11.0, 20.0)  # mean of frames 0-2, mean of frames 8-12
    assert np.all(ds[0].input == 1) and ds[0].input.shape == (3, 4)
    with pytest.raises(FileExistsError, match="dcemri-jl-invivo"):
        build_breast_dce_sample(tmp_path / "invivo.mat", tmp_path / "out")


def test_layout_text_mentions_every_file() -> None:
    for name in ("input.nii.gz", "target.nii.gz", "tumor_mask", "liver_mask", "extra_<name>", "meta.json"):
        assert name in LAYOUT


# ---------------------------------------------------------------------------------------------- normalisation


def _ratio_patient(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Input 1..8 and target = 3 × input except one bright voxel, with a negative undershoot voxel."""
    inp = np.arange(1, 9, dtype=np.float32).reshape(2, 2, 2)
    inp[0, 0, 0] = -2.0
    tgt = 3 * inp
    tgt[1, 1, 1] = 100.0
    save(root / "p" / "input.nii", inp)
    save(root / "p" / "target.nii", tgt)
    return inp, tgt


def test_joint_normalisation_keeps_enhancement_ratio(tmp_path: Path) -> None:
    inp, tgt = _ratio_patient(tmp_path)
    ds = NiftiPairDataset(tmp_path, normalization="joint", percentile=50)
    # positive target voxels: 6, 9, 12, 15, 18, 21, 100 -> median 15
    assert ds.intensity_scale("p") == (15.0, 15.0)
    z0, z1 = ds[0], ds[1]  # slice z=0: voxels (.., .., 0)
    np.testing.assert_allclose(z0.input, np.clip(inp[:, :, 0] / 15, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(z0.target, np.clip(tgt[:, :, 0] / 15, 0, 1), rtol=1e-6)
    assert z0.input[0, 0] == 0.0 and z0.target[0, 0] == 0.0  # negatives clip to 0
    ok = (z0.target < 1) & (z0.input > 0)
    np.testing.assert_allclose(z0.target[ok] / z0.input[ok], 3.0, rtol=1e-6)  # physical ratio kept
    assert z1.target[1, 1] == 1.0  # the bright voxel saturates


def test_independent_normalisation_uses_each_volume_percentile(tmp_path: Path) -> None:
    inp, tgt = _ratio_patient(tmp_path)
    ds = NiftiPairDataset(tmp_path, normalization="independent", percentile=100)
    assert ds.intensity_scale("p") == (8.0, 100.0)  # max of the positive voxels of each volume
    np.testing.assert_allclose(ds[1].input, np.clip(inp[:, :, 1] / 8, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(ds[1].target, np.clip(tgt[:, :, 1] / 100, 0, 1), rtol=1e-6)
    none = NiftiPairDataset(tmp_path, normalization="none")
    with pytest.raises(DataError, match=r"input\.nii.*normalization='none'"):
        none[0]


# ---------------------------------------------------------------------------------------------- slices, 2-D


def test_slice_selection_and_masks(tmp_path: Path) -> None:
    tumor = np.zeros((6, 5, 4), np.uint8)
    tumor[2, 2, 2] = 1
    liver = np.zeros((6, 5, 4), np.uint8)
    liver[:3, :3, 1:3] = 5  # label-map value: any nonzero is liver
    make_patient(tmp_path, "p1", shape=(6, 5, 4), label="hcc", tumor_mask=tumor, liver_mask=liver)
    make_patient(tmp_path, "p2", shape=(6, 5, 4), seed=1, liver_mask=liver)
    assert len(NiftiPairDataset(tmp_path)) == 8
    by_liver = NiftiPairDataset(tmp_path, slices="liver")
    assert [by_liver[i].meta.slice_index for i in range(len(by_liver))] == [1, 2, 1, 2]
    by_tumor = NiftiPairDataset(tmp_path, slices="tumor")
    assert len(by_tumor) == 1 and by_tumor.item_index() == [("p1", LABELS.index("hcc"))]
    pair = by_tumor[0]
    assert pair.tumor_mask.sum() == 1 and pair.tumor_mask[2, 2] and pair.liver_mask.sum() == 9
    assert by_tumor.patients[1].tumor_mask is None


def test_2d_files_and_trailing_singleton_axes(tmp_path: Path) -> None:
    save(tmp_path / "flat" / "input.nii", np.full((4, 3), 0.2, np.float32), zooms=(0.7, 0.8))
    save(tmp_path / "flat" / "target.nii", np.full((4, 3), 0.6, np.float32), zooms=(0.7, 0.8))
    make_patient(tmp_path, "four", shape=(4, 3, 2, 1))
    ds = NiftiPairDataset(tmp_path, normalization="none", eager=True)
    assert len(ds) == 3 and ds.image_shape == (4, 3)
    assert ds[0].meta.spacing == pytest.approx((0.7, 0.8)) and np.all(ds[0].target == np.float32(0.6))


def test_image_shape_none_when_patients_differ(tmp_path: Path) -> None:
    make_patient(tmp_path, "a", shape=(6, 5, 1))
    make_patient(tmp_path, "b", shape=(5, 5, 1))
    assert NiftiPairDataset(tmp_path).image_shape is None


# ---------------------------------------------------------------------------------------------- patient split


def test_patient_level_split_never_separates_a_patient(tmp_path: Path) -> None:
    for k in range(6):
        make_patient(tmp_path, f"pt{k}", shape=(4, 4, 2 + k % 3), label=LABELS[k % 3], seed=k)
    ds = NiftiPairDataset(tmp_path)
    owners = {pid for pid, _ in ds.item_index()}
    for fold in range(3):
        train = split_dataset(ds, "trainval", fold=fold, n_folds=3)
        test = split_dataset(ds, "test", fold=fold, n_folds=3)
        train_ids = {pid for pid, _ in train.item_index()}
        test_ids = {pid for pid, _ in test.item_index()}
        assert not train_ids & test_ids and train_ids | test_ids == owners
        assert len(train) + len(test) == len(ds)
        assert {test[i].meta.patient_id for i in range(len(test))} == test_ids


# ---------------------------------------------------------------------------------------------- malformed data


def _corrupt(root: Path) -> None:
    make_patient(root, "p")
    (root / "p" / "target.nii.gz").write_bytes(b"this is not a nifti file")


def _truncated_nii(root: Path) -> None:
    make_patient(root, "p", ext=".nii")
    data = (root / "p" / "target.nii").read_bytes()
    (root / "p" / "target.nii").write_bytes(data[:-20])


def _truncated_gz(root: Path) -> None:
    make_patient(root, "p", shape=(40, 40, 8))
    data = gzip.decompress((root / "p" / "target.nii.gz").read_bytes())
    (root / "p" / "target.nii.gz").write_bytes(gzip.compress(data)[:-300])


def _with(name: str, arr: np.ndarray, **kw: object):
    return lambda root: make_patient(root, "p", **{name: arr}, **kw)  # type: ignore[arg-type]


def _nan_target(root: Path) -> None:
    make_patient(root, "p")
    tgt = np.full((6, 5, 3), 0.5, np.float32)
    tgt[1, 2, 0] = np.nan
    save(root / "p" / "target.nii.gz", tgt)


def _inf_input(root: Path) -> None:
    make_patient(root, "p")
    inp = np.full((6, 5, 3), 0.5, np.float32)
    inp[0, 0, 2] = np.inf
    save(root / "p" / "input.nii.gz", inp)


def _zero_target(root: Path) -> None:
    make_patient(root, "p")
    save(root / "p" / "target.nii.gz", np.zeros((6, 5, 3), np.float32))


def _meta(text: str):
    def build(root: Path) -> None:
        make_patient(root, "p")
        (root / "p" / "meta.json").write_text(text)
    return build


def _missing(name: str):
    def build(root: Path) -> None:
        make_patient(root, "p")
        (root / "p" / f"{name}.nii.gz").unlink()
    return build


def _zero_size(root: Path) -> None:
    make_patient(root, "p")
    save(root / "p" / "target.nii.gz", np.zeros((6, 5, 0), np.float32))


def _above_one(root: Path) -> None:
    make_patient(root, "p")
    save(root / "p" / "target.nii.gz", np.full((6, 5, 3), 1.5, np.float32))


def _both_suffixes(root: Path) -> None:
    make_patient(root, "p")
    save(root / "p" / "input.nii", np.full((6, 5, 3), 0.3, np.float32))


def _unknown_name(root: Path) -> None:
    make_patient(root, "p")
    save(root / "p" / "targt.nii.gz", np.full((6, 5, 3), 0.3, np.float32))


def _extras_differ(root: Path) -> None:
    make_patient(root, "p", extra_t2=np.full((6, 5, 3), 0.3, np.float32))
    make_patient(root, "q")


def _root_is_patient(root: Path) -> None:
    make_patient(root.parent, root.name)


def _bad_spacing(root: Path) -> None:
    make_patient(root, "p")
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((6, 5, 3))
    hdr.set_data_dtype(np.float32)
    hdr["pixdim"][1:4] = (np.nan, 1.0, 1.0)  # nibabel itself repairs 0 (-> 1) and negative (-> abs) pixdims
    nib.save(nib.Nifti1Image(np.full((6, 5, 3), 0.3, np.float32), None, header=hdr), str(root / "p" / "input.nii.gz"))


MALFORMED = {
    # name: (builder, constructor kwargs, regex the message must match, error at construction?)
    "root missing": (lambda root: None, {}, r"missing-root.*does not exist", True),
    "root empty": (lambda root: root.mkdir(), {}, r"missing-root.*no patient folders", True),
    "root is a patient": (_root_is_patient, {}, r"missing-root.*looks like a patient folder", True),
    "no input": (_missing("input"), {}, r"[/\\]p: missing input\.nii\.gz", True),
    "no target": (_missing("target"), {}, r"[/\\]p: missing target\.nii\.gz", True),
    "corrupt file": (_corrupt, {}, r"target\.nii\.gz: cannot read NIfTI", True),
    "truncated nii": (_truncated_nii, {}, r"target\.nii: file is truncated", True),
    "truncated gz data": (_truncated_gz, {}, r"target\.nii\.gz: cannot read voxel data", False),
    "target shape": (_with("target", np.ones((6, 5, 2), np.float32)), {}, r"target\.nii\.gz: shape", True),
    "extra shape": (_with("extra_t1", np.ones((6, 4, 3), np.float32)), {}, r"extra_t1\.nii\.gz: shape", True),
    "mask shape": (_with("tumor_mask", np.ones((5, 5, 3), np.uint8)), {}, r"tumor_mask\.nii\.gz: shape", True),
    "nan": (_nan_target, {}, r"target\.nii\.gz: 1 NaN/Inf", False),
    "inf": (_inf_input, {}, r"input\.nii\.gz: 1 NaN/Inf", False),
    "all zero": (_zero_target, {}, r"target\.nii\.gz: empty volume \(all voxels are zero\)", False),
    "zero size": (_zero_size, {}, r"target\.nii\.gz: empty volume \(shape", True),
    "4-D": (_with("liver_mask", np.ones((6, 5, 3, 2), np.uint8)), {}, r"liver_mask\.nii\.gz: 4-D volume", True),
    "complex dtype": (_with("extra_c", np.ones((6, 5, 3), np.complex64)), {}, r"extra_c\.nii\.gz: voxel type", True),
    "unknown label": (_meta('{"label": "cyst"}'), {}, r"meta\.json: unknown label 'cyst'", True),
    "invalid json": (_meta("{label: hcc"), {}, r"meta\.json: cannot read JSON", True),
    "bad slice_indices": (_meta('{"slice_indices": [0, 0, 1]}'), {}, r"meta\.json: slice_indices", True),
    "range for none": (_above_one, {"normalization": "none"}, r"target\.nii\.gz: values in", False),
    "both suffixes": (_both_suffixes, {}, r"input\.nii(\.gz)?: ambiguous", True),
    "unknown file": (_unknown_name, {}, r"targt\.nii\.gz: unrecognised file name", True),
    "extras differ": (_extras_differ, {}, r"[/\\]q: has extra modalities", True),
    "liver needs mask": (_meta("{}"), {"slices": "liver"}, r"[/\\]p: slices='liver' needs liver_mask", True),
    "spacing": (_bad_spacing, {}, r"input\.nii\.gz: in-plane voxel spacing", True),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_data_raises_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    build, kwargs, pattern, at_construction = MALFORMED[case]
    root = tmp_path / "missing-root"
    build(root)
    if at_construction:
        with pytest.raises(DataError, match=pattern):
            NiftiPairDataset(root, **kwargs)
        return
    ds = NiftiPairDataset(root, **kwargs)  # lazy: headers are fine, voxels are checked on first access
    with pytest.raises(DataError, match=pattern):
        ds[0]
    with pytest.raises(DataError, match=pattern):
        NiftiPairDataset(root, eager=True, **kwargs)


def _flip_bit(path: Path, offset: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.3, 0.5, 0.7, 0.9])
def test_one_flipped_bit_in_the_gzip_data_raises(tmp_path: Path, where: float) -> None:
    """nibabel never checks the gzip CRC: a flipped bit in the deflate data loads as different voxels."""
    make_patient(tmp_path, "p", shape=(40, 40, 8))
    path = tmp_path / "p" / "target.nii.gz"
    size = path.stat().st_size
    _flip_bit(path, int(10 + where * (size - 30)), 3)  # inside the deflate data: past the header, before the trailer
    with pytest.raises(DataError, match=r"target\.nii\.gz: cannot read voxel data: the gzip stream is corrupt"):
        NiftiPairDataset(tmp_path)[0]


def test_cut_gzip_trailer_raises(tmp_path: Path) -> None:
    make_patient(tmp_path, "p", shape=(40, 40, 8))
    path = tmp_path / "p" / "input.nii.gz"
    expected = nib.load(str(path)).get_fdata()
    path.write_bytes(path.read_bytes()[:-8])  # the CRC-32 and length
    np.testing.assert_array_equal(nib.load(str(path)).get_fdata(), expected)  # what nibabel alone accepts
    with pytest.raises(DataError, match=r"input\.nii\.gz: cannot read voxel data: the gzip stream is truncated"):
        NiftiPairDataset(tmp_path, eager=True)


def test_gzip_stream_verified_once_per_file_until_it_changes(tmp_path: Path, monkeypatch) -> None:
    from pixgrl_env.data.nifti import volume

    make_patient(tmp_path, "p", shape=(8, 8, 3), tumor_mask=np.ones((8, 8, 3), np.uint8))
    opened: list[str] = []
    real = volume.gzip.GzipFile

    def counting(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(volume.gzip, "GzipFile", counting)
    for _ in range(2):
        ds = NiftiPairDataset(tmp_path)
        for i in range(len(ds)):
            ds[i]
    assert sorted(opened) == ["input.nii.gz", "target.nii.gz", "tumor_mask.nii.gz"]
    save(tmp_path / "p" / "target.nii.gz", np.full((8, 8, 3), 0.7, np.float32))  # a new file: verified again
    NiftiPairDataset(tmp_path)[0]
    assert sorted(opened) == ["input.nii.gz", "target.nii.gz", "target.nii.gz", "tumor_mask.nii.gz"]


def test_float64_values_beyond_float32_say_overflow(tmp_path: Path) -> None:
    make_patient(tmp_path, "p")
    tgt = np.full((6, 5, 3), 0.5)
    tgt[2, 2, 1] = 1e39
    tgt[0, 0, 0] = -3e40
    save(tmp_path / "p" / "target.nii.gz", tgt)
    with pytest.raises(DataError, match=r"target\.nii\.gz: 2 voxel values overflow float32 \(largest magnitude "
                                        r"3e\+40"):
        NiftiPairDataset(tmp_path)[0]
    tgt[1, 1, 1] = np.nan
    save(tmp_path / "p" / "target.nii.gz", tgt)
    with pytest.raises(DataError, match=r"2 voxel values overflow float32 .* and 1 NaN/Inf voxel values"):
        NiftiPairDataset(tmp_path)[0]


def test_bad_arguments_raise_value_error(tmp_path: Path) -> None:
    make_patient(tmp_path, "p")
    for kwargs in ({"normalization": "zscore"}, {"slices": "some"}, {"percentile": 0}, {"percentile": 101}):
        with pytest.raises(ValueError):
            NiftiPairDataset(tmp_path, **kwargs)  # type: ignore[arg-type]
