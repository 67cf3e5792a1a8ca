"""make_dataset: every name builds its source, and arguments a source does not take are named with the allowed
ones (instead of a TypeError from deep inside the constructor)."""

from __future__ import annotations

import pytest

from pixgrl_env.data import DATASETS, PairDataset, make_dataset
from pixgrl_env.env import PixGRLEnv


@pytest.mark.parametrize("name, kwargs", [
    ("phantom", {"size": 32, "n_patients": 2, "slices_per_patient": 1}), ("breast_dce", {}), ("toy", {"size": 8}),
])
def test_names_build_their_source(name, kwargs):
    ds = make_dataset(name, **kwargs)
    assert isinstance(ds, PairDataset) and len(ds) > 0
    if "size" in kwargs:
        assert ds[0].shape == (kwargs["size"], kwargs["size"])


@pytest.mark.parametrize("name, kwargs, match", [
    ("phantom", {"sizee": 64}, r"^dataset 'phantom' \(PhantomDataset\) has no argument 'sizee' \(did you mean "
                               r"'size'\?\); its arguments are \[.*'n_patients'.*'size'.*\]$"),
    ("toy", {"bogus": 1, "sed": 2}, r"has no argument 'bogus', 'sed' \(did you mean 'seed'\?\); its arguments"),
    ("breast_dce", {"root": "x"}, r"dataset 'breast_dce' \(NiftiPairDataset\) has no argument 'root'"),
    ("nifti", {}, r"dataset 'nifti' \(NiftiPairDataset\) needs the argument\(s\) \['root'\]"),
    ("mnist", {}, r"unknown dataset 'mnist'; expected one of " + str(DATASETS).replace("(", r"\(").replace(")", r"\)")),
])
def test_bad_arguments_name_the_allowed_ones(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(name, **kwargs)


def test_env_dataset_kwargs_go_through_the_same_check():
    with pytest.raises(ValueError, match=r"has no argument 'sizee' \(did you mean 'size'\?\)"):
        PixGRLEnv(dataset_kwargs={"sizee": 64})
