import json

import numpy as np
import pytest

from lens2logit.errors import InputError
from lens2logit.training.splits import get_fold, load_folds, make_folds, save_folds


def _labels():
    rng = np.random.default_rng(3)
    return rng.permutation(np.repeat([0, 1, 2, 3], [40, 25, 9, 3]))


@pytest.mark.parametrize("kind", ["classification", "segmentation"])
def test_folds_partition_the_indices(kind):
    labels = _labels()
    folds = make_folds(labels, 5, seed=1, kind=kind)
    assert len(folds) == 5
    vals = [set(f["val"]) for f in folds]
    assert sorted(i for v in vals for i in v) == list(range(len(labels)))  # covering, disjoint
    for fold in folds:
        assert set(fold["train"]).isdisjoint(fold["val"])
        assert sorted(fold["train"] + fold["val"]) == list(range(len(labels)))
    sizes = [len(v) for v in vals]
    assert max(sizes) - min(sizes) <= 1


def test_classification_folds_are_stratified():
    labels = _labels()
    folds = make_folds(labels, 5, seed=7, kind="classification")
    for cls, total in zip(*np.unique(labels, return_counts=True)):
        per_fold = [int((labels[f["val"]] == cls).sum()) for f in folds]
        assert sum(per_fold) == total
        assert max(per_fold) - min(per_fold) <= 1, (cls, per_fold)


def test_folds_are_deterministic_per_seed():
    labels = _labels()
    assert make_folds(labels, 4, seed=2, kind="classification") == make_folds(labels, 4, seed=2, kind="classification")
    assert make_folds(labels, 4, seed=2, kind="classification") != make_folds(labels, 4, seed=3, kind="classification")
    assert make_folds(labels, 4, seed=2, kind="segmentation") != make_folds(labels, 4, seed=3, kind="segmentation")


@pytest.mark.parametrize("k", [0, 1])
def test_k_below_two_is_rejected(k):
    with pytest.raises(InputError, match="'k'"):
        make_folds([0, 1, 0, 1], k, seed=0, kind="classification")


def test_unknown_kind_is_rejected():
    with pytest.raises(InputError, match="kind"):
        make_folds([0, 1], 2, seed=0, kind="detection")


def test_save_and_load_round_trip(tmp_path):
    folds = make_folds(_labels(), 3, seed=0, kind="classification")
    path = tmp_path / "splits" / "microscopy.json"
    save_folds(path, folds, seed=0, kind="classification")
    data = json.loads(path.read_text())
    assert data["k"] == 3 and data["seed"] == 0 and len(data["folds"]) == 3
    assert load_folds(path) == folds
    assert get_fold(path, 2) == folds[2]
    with pytest.raises(InputError, match="fold 3"):
        get_fold(path, 3)


def test_load_folds_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_folds(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"splits": []}')
    with pytest.raises(InputError, match="bad.json"):
        load_folds(bad)


def test_fold_seed_gives_each_fold_and_run_its_own_stream():
    from lens2logit.training.splits import fold_seed

    seeds = {(s, f): fold_seed(s, f) for s in (1, 2, 3) for f in range(5)}
    assert len(set(seeds.values())) == len(seeds)  # no two (run seed, fold) pairs share a model seed
    assert fold_seed(1, 1) != fold_seed(2, 0)  # what seed + fold would give
    assert seeds == {(s, f): fold_seed(s, f) for s in (1, 2, 3) for f in range(5)}  # a pure function
    assert all(0 <= v < 2**32 for v in seeds.values())
