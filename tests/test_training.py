"""The training engine (lens2logit.training): devices, checkpoints, the shared metric accumulator,
and the paper-faithful Dice-only segmentation loss actually learning."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from conftest import blob_views
from lens2logit.errors import InputError
from lens2logit.training.splits import make_folds, save_folds
from lens2logit.training.train import train_on_view
from lens2logit.training import MetricAccumulator, load_model, read_checkpoint, resolve_device, save_checkpoint
from lens2logit.training.device import autocast, check_amp
from lens2logit.training.metrics import classification_scores, confusion_matrix, segmentation_counts, segmentation_scores

SIZE = 32

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------ device selection
def test_auto_is_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_prefers_cuda_and_the_gpu_with_most_free_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: ([5, 9, 9][i], 10))
    assert resolve_device("auto") == torch.device("cuda:1")  # ties go to the lower index


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "CPU0", "", "tpu"])
def test_unknown_device_names_the_option(spec):
    with pytest.raises(InputError, match=r"training\.device") as info:
        resolve_device(spec)
    assert repr(spec) in str(info.value)


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_requested_without_cuda_names_the_option(monkeypatch, spec):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"option 'training\.device' is .*CUDA is not available"):
        resolve_device(spec)


def test_cuda_index_beyond_the_visible_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(InputError, match=r"training\.device.*only 2 CUDA"):
        resolve_device("cuda:2")


def test_mps_requested_without_mps(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"training\.device.*MPS"):
        resolve_device("mps")


def test_amp_modes():
    assert check_amp(None) == "none" and check_amp("bf16") == "bf16"
    with pytest.raises(InputError, match=r"training\.amp"):
        check_amp("fp16")
    x = torch.ones(2, 4)
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.nn.functional.linear(x, torch.ones(3, 4)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "none"):
        assert torch.nn.functional.linear(x, torch.ones(3, 4)).dtype == torch.float32


# ------------------------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    rng = np.random.default_rng(1)
    labels = (np.arange(48) % 3).astype(np.int64)
    views = rng.normal(0.5, 0.05, size=(48, 3, SIZE, SIZE)).astype(np.float32)  # class c: channel c brighter
    for c in range(3):
        views[labels == c, c] += 0.2
    np.save(root / "cls.npy", views)
    np.save(root / "labels.npy", labels)
    save_folds(root / "cls.json", make_folds(labels, 3, seed=0, kind="classification"))
    seg_views, masks = blob_views(64, SIZE)
    np.save(root / "seg.npy", seg_views)
    np.save(root / "masks.npy", masks)
    save_folds(root / "seg.json", make_folds(masks, 4, seed=0, kind="segmentation"))
    return root


def _train(root, **overrides):
    options = dict(device="cpu", kind="classification", arch="small_cnn", epochs=2, batch_size=8, lr=2e-3, augmentation="strong",
                   seed=0, classes=["a", "b", "c"], progress=False)  # fmt: skip
    options.update(overrides)
    return train_on_view(root / "cls.npy", root / "labels.npy", root / "cls.json", 0, **options)


# ---------------------------------------------------------------------------- checkpoints
def test_same_seed_and_config_give_byte_identical_checkpoints(data, tmp_path):
    first, second = tmp_path / "a" / "fold0.pt", tmp_path / "b" / "fold0.pt"
    save_checkpoint(first, _train(data))
    save_checkpoint(second, _train(data))
    assert first.read_bytes() == second.read_bytes()
    # no file name (temporary or final) inside the archive: its root is a fixed name
    names = zipfile.ZipFile(io.BytesIO(first.read_bytes())).namelist()
    assert names and all(n.startswith("archive/") for n in names)
    save_checkpoint(tmp_path / "c.pt", _train(data, seed=1))
    assert (tmp_path / "c.pt").read_bytes() != first.read_bytes()


def test_cpu_and_auto_train_identically_here(data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    cpu, auto = _train(data, device="cpu"), _train(data, device="auto")
    assert cpu["history"] == auto["history"]
    assert all(torch.equal(cpu["state_dict"][k], auto["state_dict"][k]) for k in cpu["state_dict"])
    assert cpu["config"]["device"] == auto["config"]["device"] == "cpu"


def test_checkpoints_hold_cpu_tensors_and_load_with_map_location(data, tmp_path):
    ckpt = _train(data)
    # a state dict still on another device would be copied to the CPU by save_checkpoint;
    # simulate a non-CPU-typed tensor holder by nesting tensors inside the history
    ckpt["history"][0]["extra"] = torch.ones(2)
    save_checkpoint(tmp_path / "m.pt", ckpt)
    raw = torch.load(tmp_path / "m.pt", map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in raw["state_dict"].values())
    read = read_checkpoint(tmp_path / "m.pt")
    model, _ = load_model(tmp_path / "m.pt", "cpu")
    assert all(p.device.type == "cpu" for p in model.parameters()) and not model.training
    x = torch.from_numpy(np.load(data / "cls.npy")[:4])
    model_auto, _ = load_model(tmp_path / "m.pt", "auto" if not torch.cuda.is_available() else "cpu")
    assert torch.equal(model(x), model_auto(x))
    assert read["config"]["device"] == "cpu" and read["config"]["amp"] == "none"


def test_checkpoints_store_kind_and_dataset_and_resolve_by_them(data, tmp_path):
    """Checkpoints name the learning problem ``kind`` and the workflow ``dataset``; references are checked against both."""
    from lens2logit.tracking.references import checkpoint_identity, resolve_model

    ckpt = _train(data, epochs=1)
    ckpt["config"] = {**ckpt["config"], "dataset": "microscopy"}
    save_checkpoint(tmp_path / "new.pt", ckpt)
    read = read_checkpoint(tmp_path / "new.pt")
    assert read["kind"] == "classification" and read["config"]["dataset"] == "microscopy"
    assert all(torch.equal(read["state_dict"][k], v) for k, v in ckpt["state_dict"].items())
    assert checkpoint_identity(read) == ("task-model", "microscopy", "classification")
    path = resolve_model(str(tmp_path / "new.pt"), option="forensics.model", dataset="microscopy")
    assert path == str(tmp_path / "new.pt")
    with pytest.raises(InputError, match="is a microscopy model, but it is used for dataset drone_segmentation"):
        resolve_model(str(tmp_path / "new.pt"), option="forensics.model", dataset="drone_segmentation")
    with pytest.raises(InputError, match="is a task-model checkpoint, but customization.isp needs a isp"):
        resolve_model(str(tmp_path / "new.pt"), option="customization.isp", model_type="isp")


def test_bf16_autocast_trains_on_cpu(data):
    ckpt = _train(data, amp="bf16", epochs=1)
    assert ckpt["config"]["amp"] == "bf16"
    assert all(t.dtype == torch.float32 for t in ckpt["state_dict"].values() if t.is_floating_point())
    assert np.isfinite([r["loss"] for r in ckpt["history"]]).all()


def test_training_refuses_an_absent_gpu_before_reading_data(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"training\.device"):
        train_on_view(tmp_path / "missing.npy", tmp_path / "t.npy", tmp_path / "f.json", 0, kind="classification",
                      arch="small_cnn", epochs=1, batch_size=4, lr=1e-3, augmentation="none", seed=0, classes=None,
                      progress=False, device="cuda")  # fmt: skip


# ------------------------------------------------------------------------ metric accumulator
def test_accumulator_equals_the_metrics_of_all_batches_at_once():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(23, 4, generator=g)
    labels = torch.randint(0, 4, (23,), generator=g)
    acc = MetricAccumulator("classification")
    for start in range(0, 23, 5):
        acc.update(logits[start : start + 5], labels[start : start + 5], loss=torch.tensor(float(start)))
    scores = acc.compute()
    assert {k: scores[k] for k in ("accuracy", "precision", "recall", "f1")} == classification_scores(
        confusion_matrix(labels, logits.argmax(1), 4)
    )
    # loss: batch means weighted by batch size (5, 5, 5, 5, 3)
    assert scores["loss"] == pytest.approx((0 * 5 + 5 * 5 + 10 * 5 + 15 * 5 + 20 * 3) / 23)

    seg_logits = torch.randn(7, 1, 8, 8, generator=g)
    masks = (torch.rand(7, 8, 8, generator=g) > 0.5).to(torch.uint8)
    acc = MetricAccumulator("segmentation")
    for start in range(0, 7, 3):
        acc.update(seg_logits[start : start + 3], masks[start : start + 3], distance=torch.tensor(2.0))
    expected = segmentation_scores(*segmentation_counts(seg_logits, masks))
    assert acc.compute() == {"distance": 2.0, **expected}


def test_accumulator_without_batches():
    assert MetricAccumulator("classification", 3).compute()["accuracy"] == 0.0
    assert MetricAccumulator("segmentation").compute() == {"iou_image": 0.0, "iou_dataset": 0.0}
    with pytest.raises(InputError, match="kind"):
        MetricAccumulator("detection")


# ------------------------------------------------------------------- paper-faithful Dice loss
def test_dice_only_segmentation_learns(data):
    """bce_weight = 0 (the paper's loss, the workflow's default) learns the blob masks."""
    ckpt = train_on_view(data / "seg.npy", data / "masks.npy", data / "seg.json", 0, device="cpu", kind="segmentation",
                         arch="small_unet", epochs=6, batch_size=8, lr=5e-3, augmentation="none", seed=0,
                         classes=["car"], progress=False, bce_weight=0.0)  # fmt: skip
    val = [r for r in ckpt["history"] if r["split"] == "val"]
    assert ckpt["config"]["bce_weight"] == 0.0
    assert val[-1]["loss"] < val[0]["loss"]
    assert val[0]["iou_dataset"] < 0.7  # measured: 0.53 after one epoch, 0.98 after six
    assert val[-1]["iou_dataset"] > 0.9 and val[-1]["iou_image"] > 0.9
