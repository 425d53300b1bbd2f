"""train_on_view / fit / save_checkpoint / load_model / evaluate_model on small synthetic views."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import blob_views
from lens2logit.errors import InputError
from lens2logit.training.evaluate import evaluate_model
from lens2logit.training.splits import make_folds, save_folds
from lens2logit.training.train import train_on_view
from lens2logit.training import ArrayBatches, fit, load_model, save_checkpoint

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SIZE = 32

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _texture_views(n, seed=0):
    """Classes differ only in fine texture (none / 2-px checkerboard / 4-px grid) under random brightness.

    The textures are invariant to flips and 90° turns, so augmentation keeps the labels valid.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 3).astype(np.int64)
    ii, jj = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    patterns = (
        np.stack([np.zeros_like(ii, float), (-1.0) ** (ii + jj), np.cos(ii * np.pi / 2) + np.cos(jj * np.pi / 2)])
        * 0.06
    )
    base = rng.uniform(0.3, 0.7, size=(n, 3, 1, 1)) + rng.normal(0, 0.03, size=(n, 3, SIZE, SIZE))
    views = base + patterns[labels][:, None]
    return views.astype(np.float32), labels


@pytest.fixture(scope="module")
def cls_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    views, labels = _texture_views(120)
    np.save(root / "view.npy", views)
    np.save(root / "other.npy", np.ascontiguousarray(views[:, ::-1]))  # a "different view"
    np.save(root / "targets.npy", labels)
    save_folds(root / "folds.json", make_folds(labels, 4, seed=0, kind="classification"))
    return root


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    views, masks = blob_views(64, SIZE)
    np.save(root / "view.npy", views)
    np.save(root / "targets.npy", masks)
    save_folds(root / "folds.json", make_folds(masks, 4, seed=0, kind="segmentation"))
    return root


def _train_cls(root, **overrides):
    options = dict(device="cpu", kind="classification", arch="small_cnn", epochs=6, batch_size=16, lr=3e-3,
                   augmentation="weak", seed=0, classes=["a", "b", "c"], progress=False)  # fmt: skip
    options.update(overrides)
    return train_on_view(root / "view.npy", root / "targets.npy", root / "folds.json", 1, **options)


@pytest.fixture(scope="module")
def cls_ckpt(cls_data):
    return _train_cls(cls_data)


def test_classifier_learns_a_texture_problem(cls_ckpt):
    val = [r for r in cls_ckpt["history"] if r["split"] == "val"]
    assert len(val) == 6 and [r["epoch"] for r in val] == list(range(1, 7))
    assert val[-1]["accuracy"] > 0.7  # chance is 1/3
    assert set(val[-1]) >= {"loss", "accuracy", "precision", "recall", "f1"}


def test_checkpoint_contents(cls_ckpt, cls_data):
    folds = make_folds(np.load(cls_data / "targets.npy"), 4, seed=0, kind="classification")
    assert cls_ckpt["train_indices"] == folds[1]["train"] and cls_ckpt["val_indices"] == folds[1]["val"]
    assert cls_ckpt["fold"] == 1 and cls_ckpt["n_classes"] == 3 and cls_ckpt["classes"] == ["a", "b", "c"]
    views = np.load(cls_data / "view.npy")[folds[1]["train"]]
    assert cls_ckpt["mean"] == pytest.approx(views.mean(axis=(0, 2, 3)).tolist(), rel=1e-4)
    assert cls_ckpt["std"] == pytest.approx(views.std(axis=(0, 2, 3)).tolist(), rel=1e-3)
    assert cls_ckpt["config"]["augmentation"] == "weak" and cls_ckpt["config"]["image_shape"] == [3, SIZE, SIZE]


def test_same_seed_same_weights(cls_data):
    a = _train_cls(cls_data, epochs=2, augmentation="strong")
    b = _train_cls(cls_data, epochs=2, augmentation="strong")
    c = _train_cls(cls_data, epochs=2, augmentation="strong", seed=1)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert a["history"] == b["history"]
    assert not all(torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])


def test_load_model_round_trip(cls_ckpt, cls_data, tmp_path):
    path = tmp_path / "models" / "fold1.pt"
    save_checkpoint(path, cls_ckpt)
    assert [p.name for p in path.parent.iterdir()] == ["fold1.pt"]  # no temporary left behind
    model, ckpt = load_model(path)
    assert not model.training and ckpt["val_indices"] == cls_ckpt["val_indices"]
    x = torch.from_numpy(np.load(cls_data / "view.npy")[:8])
    from lens2logit.models import build_model, standardized

    reference = build_model("small_cnn", "classification", 3)
    reference.load_state_dict(cls_ckpt["state_dict"])
    expected = standardized(reference, cls_ckpt["mean"], cls_ckpt["std"]).eval()(x)
    assert torch.allclose(model(x), expected)


def test_evaluate_model_long_format(cls_ckpt, cls_data, tmp_path):
    path = tmp_path / "fold1.pt"
    save_checkpoint(path, cls_ckpt)
    table = evaluate_model(path, [
        {"views": cls_data / "view.npy", "targets": cls_data / "targets.npy", "test_view": "same", "test_intensity": 1.0},
        {"views": cls_data / "other.npy", "targets": cls_data / "targets.npy", "test_view": "flipped", "test_intensity": 1.0},
    ], batch_size=7)  # fmt: skip
    assert list(table.columns) == ["test_view", "test_intensity", "metric", "value"]
    assert table["metric"].tolist() == ["accuracy", "precision", "recall", "f1"] * 2
    same = table[table.test_view == "same"].set_index("metric")["value"]
    final_val = [r for r in cls_ckpt["history"] if r["split"] == "val"][-1]
    for metric in ("accuracy", "precision", "recall", "f1"):  # same samples, same model → same numbers
        assert same[metric] == pytest.approx(final_val[metric])
    assert table[table.test_view == "flipped"]["value"].between(0, 1).all()


def test_segmentation_learns_and_evaluates(seg_data, tmp_path):
    ckpt = train_on_view(seg_data / "view.npy", seg_data / "targets.npy", seg_data / "folds.json", 0,
                         device="cpu", kind="segmentation", arch="small_unet", epochs=6, batch_size=8, lr=5e-3,
                         augmentation="strong", seed=0, classes=["car"], progress=False, bce_weight=1.0)  # fmt: skip
    val = [r for r in ckpt["history"] if r["split"] == "val"]
    assert val[-1]["iou_dataset"] > 0.8 and ckpt["n_classes"] == 1
    save_checkpoint(tmp_path / "seg.pt", ckpt)
    table = evaluate_model(tmp_path / "seg.pt", [{"views": seg_data / "view.npy", "targets": seg_data / "targets.npy"}])
    assert isinstance(table, pd.DataFrame)
    assert table["metric"].tolist() == ["iou_image", "iou_dataset"]
    assert table.set_index("metric")["value"]["iou_dataset"] == pytest.approx(val[-1]["iou_dataset"])


def test_fit_trains_only_the_processor_when_model_is_frozen():
    torch.manual_seed(0)
    processor = torch.nn.Sequential(torch.nn.Unflatten(1, (1, SIZE)), torch.nn.Conv2d(1, 3, 3, padding=1))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(4 * SIZE * SIZE, 2))  # fmt: skip
    raw = torch.rand(16, SIZE, SIZE)
    labels = torch.arange(16) % 2
    batches = [(raw[:8], labels[:8]), (raw[8:], labels[8:])]
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_proc = {k: v.clone() for k, v in processor.state_dict().items()}
    epochs_seen = []
    history = fit(model, batches, lambda: iter(batches), kind="classification", epochs=2, lr=1e-2, processor=processor,
                  trainable=[processor], augmentation="weak", seed=0, progress=False,
                  on_epoch_end=lambda epoch, rows: epochs_seen.append((epoch, [r["split"] for r in rows])))  # fmt: skip
    assert epochs_seen == [(1, ["train", "val"]), (2, ["train", "val"])] and len(history) == 4
    # frozen model: weights AND BatchNorm running statistics untouched (kept in eval mode)
    assert all(torch.equal(before_model[k], v) for k, v in model.state_dict().items())
    assert not all(torch.equal(before_proc[k], v) for k, v in processor.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())  # flags restored


def test_fit_rejects_one_shot_iterators_and_nothing_to_train():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    batches = [(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]))]
    with pytest.raises(InputError, match="one-shot"):
        fit(model, iter(batches), None, kind="classification", epochs=1, lr=1e-3, seed=0, progress=False)
    with pytest.raises(InputError, match="nothing to train"):
        fit(model, batches, None, kind="classification", epochs=1, lr=1e-3, seed=0, trainable=[], progress=False)
    with pytest.raises(InputError, match="must be the model or the processor"):
        fit(model, batches, None, kind="classification", epochs=1, lr=1e-3, seed=0, trainable=[torch.nn.Linear(2, 2)], progress=False)


def test_frozen_holds_modules_fixed_and_restores_them():
    from lens2logit.training.loop import frozen

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    net.train()
    net[0].bias.requires_grad_(False)
    with frozen(net, None):
        assert not net.training and not net[1].training
        assert not any(p.requires_grad for p in net.parameters())
    assert net.training and net[1].training
    assert net[0].weight.requires_grad and not net[0].bias.requires_grad  # each flag as it was
    with pytest.raises(RuntimeError), frozen(net):
        raise RuntimeError("restored on errors too")
    assert net.training and net[0].weight.requires_grad


def test_bad_inputs_name_the_problem(cls_data, tmp_path):
    with pytest.raises(InputError, match="views file not found"):
        train_on_view(tmp_path / "missing.npy", cls_data / "targets.npy", cls_data / "folds.json", 0,
                      device="cpu", kind="classification", arch="small_cnn", epochs=1, batch_size=4, lr=1e-3,
                      augmentation="none", seed=0, classes=None, progress=False)  # fmt: skip
    np.save(tmp_path / "gray.npy", np.zeros((120, SIZE, SIZE), np.float32))
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        train_on_view(tmp_path / "gray.npy", cls_data / "targets.npy", cls_data / "folds.json", 0,
                      device="cpu", kind="classification", arch="small_cnn", epochs=1, batch_size=4, lr=1e-3,
                      augmentation="none", seed=0, classes=None, progress=False)  # fmt: skip
    np.save(tmp_path / "short.npy", np.zeros(10, np.int64))
    with pytest.raises(InputError, match="short.npy"):
        train_on_view(
            cls_data / "view.npy", tmp_path / "short.npy", cls_data / "folds.json", 0, device="cpu", kind="classification",
            arch="small_cnn", epochs=1, batch_size=4, lr=1e-3, augmentation="none", seed=0, classes=None, progress=False)  # fmt: skip
    with pytest.raises(InputError, match="labels must lie"):
        _train_cls(cls_data, classes=["a", "b"])
    with pytest.raises(InputError, match="arch"):
        _train_cls(cls_data, arch="resnet999")
    with pytest.raises(InputError, match="augmentation"):
        _train_cls(cls_data, augmentation="extreme")
    with pytest.raises(InputError, match="fold 1"):
        save_folds(tmp_path / "one.json", [{"train": [0], "val": [1]}])
        train_on_view(cls_data / "view.npy", cls_data / "targets.npy", tmp_path / "one.json", 1, device="cpu", kind="classification",
                      arch="small_cnn", epochs=1, batch_size=4, lr=1e-3, augmentation="none", seed=0, classes=None,
                      progress=False)  # fmt: skip
    with pytest.raises(InputError, match="model file not found"):
        load_model(tmp_path / "nothing.pt")


def test_evaluate_model_rejects_a_test_set_too_small_for_the_validation_indices(cls_ckpt, cls_data, tmp_path):
    save_checkpoint(tmp_path / "m.pt", cls_ckpt)
    np.save(tmp_path / "few.npy", np.load(cls_data / "view.npy")[:10])
    np.save(tmp_path / "few_targets.npy", np.load(cls_data / "targets.npy")[:10])
    with pytest.raises(InputError, match="few.npy"):
        evaluate_model(tmp_path / "m.pt", [{"views": tmp_path / "few.npy", "targets": tmp_path / "few_targets.npy"}])
    with pytest.raises(InputError, match="test set #0"):
        evaluate_model(tmp_path / "m.pt", [{"views": cls_data / "view.npy"}])


def test_a_lone_last_sample_joins_the_previous_batch():
    images = np.zeros((9, 3, 4, 4), np.float32)
    targets = np.arange(9)
    sizes = [len(y) for _, y in ArrayBatches(images, targets, range(9), 4)]
    assert sizes == [4, 5]
    assert len(ArrayBatches(images, targets, range(9), 4)) == 2
    assert [len(y) for _, y in ArrayBatches(images, targets, range(8), 4)] == [4, 4]
    assert [len(y) for _, y in ArrayBatches(images, targets, range(1), 4)] == [1]
    seen = sorted(int(v) for _, y in ArrayBatches(images, targets, range(9), 4, generator=torch.Generator().manual_seed(0)) for v in y)
    assert seen == list(range(9))


def test_float16_views_are_read_as_float32_and_train_like_float32(cls_ckpt, cls_data, tmp_path):
    """render.dtype float16: batches come out float32 (the file's values exactly), a float64 file is refused,
    and a model trained on the float16 copy scores like the float32 one (same seed, inputs rounded to 11 bits)."""
    views = np.load(cls_data / "view.npy")
    half = views.astype(np.float16)
    batches = ArrayBatches(half, np.zeros(len(half), np.int64), range(10), 4)
    x, _ = next(iter(batches))
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(half[:4].astype(np.float32)))

    np.save(tmp_path / "view.npy", half)
    for name in ("targets.npy", "folds.json"):
        (tmp_path / name).write_bytes((cls_data / name).read_bytes())
    half_ckpt = _train_cls(tmp_path)  # the options of cls_ckpt, on the float16 copy
    final = {name: [r for r in ckpt["history"] if r["split"] == "val"][-1] for name, ckpt in (("half", half_ckpt), ("full", cls_ckpt))}
    n_val = len(cls_ckpt["val_indices"])
    assert abs(final["half"]["accuracy"] - final["full"]["accuracy"]) <= 2 / n_val  # at most two images flip

    save_checkpoint(tmp_path / "fold1.pt", cls_ckpt)
    samples = {  # one model, its validation images stored both ways
        name: evaluate_model(tmp_path / "fold1.pt", [{"views": root / "view.npy", "targets": cls_data / "targets.npy"}],
                             with_samples=True)[1]
        for name, root in (("half", tmp_path), ("full", cls_data))
    }
    assert samples["half"]["prediction"].tolist() == samples["full"]["prediction"].tolist()
    assert np.abs(samples["half"]["confidence"] - samples["full"]["confidence"]).max() < 1e-3

    np.save(tmp_path / "wide.npy", views.astype(np.float64))
    with pytest.raises(InputError, match="float32 or float16, got float64"):
        evaluate_model(tmp_path / "fold1.pt", [{"views": tmp_path / "wide.npy", "targets": cls_data / "targets.npy"}])
