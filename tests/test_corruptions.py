import numpy as np
import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.experiments.corruptions import CORRUPTIONS, corrupt_images, evaluate_corruptions
from lens2logit.experiments.evaluate import evaluate_model
from lens2logit.training import save_checkpoint
from lens2logit.models import build_model


def _images(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(
        torch.rand(n, 3, size // 8, size // 8, generator=g), size=(size, size), mode="bilinear"
    )
    return (0.2 + 0.6 * smooth).float()


def test_all_fifteen_corruptions_shape_range_and_effect():
    assert len(CORRUPTIONS) == 15
    images = _images()
    for name in CORRUPTIONS:
        out = corrupt_images(images, name, 3, seed=0)
        assert out.shape == images.shape and out.dtype == torch.float32, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name
        assert (out - images).abs().mean() > 1e-3, name  # it did something


def test_identity_returns_the_input():
    images = _images()
    assert torch.equal(corrupt_images(images, "identity", 3, seed=0), images)


@pytest.mark.parametrize("name", ["gaussian_noise", "impulse_noise", "glass_blur", "frost", "elastic_transform"])
def test_deterministic_given_seed_and_independent_of_chunking(name):
    images = _images(4)
    a = corrupt_images(images, name, 3, seed=5)
    b = corrupt_images(images, name, 3, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, corrupt_images(images, name, 3, seed=6))
    # the same sample gets the same corruption when processed in another chunk
    tail = corrupt_images(images[2:], name, 3, seed=5, ids=[2, 3])
    assert torch.equal(tail, a[2:])


def test_global_numpy_rng_is_restored():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    corrupt_images(_images(), "shot_noise", 2, seed=0)
    assert np.array_equal(np.random.rand(3), expected)


def test_images_smaller_than_the_package_minimum_are_padded():
    images = _images(2, size=16)
    out = corrupt_images(images, "motion_blur", 3, seed=0)
    assert out.shape == (2, 3, 16, 16)


def test_severity_increases_damage():
    images = _images(4, size=64)
    damage = [(corrupt_images(images, "gaussian_noise", s, seed=0) - images).abs().mean() for s in (1, 3, 5)]
    assert damage[0] < damage[1] < damage[2]


def test_bad_options():
    with pytest.raises(InputError, match="corruption"):
        corrupt_images(_images(), "rain", 3)
    with pytest.raises(InputError, match="severity"):
        corrupt_images(_images(), "contrast", 6)
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        corrupt_images(torch.rand(2, 32, 32), "contrast", 3)


def test_evaluate_corruptions_table(tmp_path):
    rng = np.random.default_rng(0)
    views = rng.random((12, 3, 32, 32)).astype(np.float32)
    labels = (np.arange(12) % 3).astype(np.int64)
    np.save(tmp_path / "view.npy", views)
    np.save(tmp_path / "targets.npy", labels)
    torch.manual_seed(0)
    net = build_model("small_cnn", "classification", 3)
    ckpt = {"state_dict": net.state_dict(), "arch": "small_cnn", "task": "classification", "n_classes": 3,
            "classes": ["a", "b", "c"], "mean": [0.5] * 3, "std": [0.3] * 3, "train_indices": list(range(6)),
            "val_indices": list(range(6, 12)), "fold": 0, "history": [], "config": {}}  # fmt: skip
    save_checkpoint(tmp_path / "m.pt", ckpt)
    table = evaluate_corruptions(tmp_path / "m.pt", tmp_path / "view.npy", tmp_path / "targets.npy",
                                 ["contrast", "gaussian_noise"], severity=3, seed=0, batch_size=4)  # fmt: skip
    assert list(table.columns) == ["corruption", "metric", "value"]
    assert table["corruption"].unique().tolist() == ["identity", "contrast", "gaussian_noise"]
    assert table["value"].between(0, 1).all()
    clean = evaluate_model(tmp_path / "m.pt", [{"views": tmp_path / "view.npy", "targets": tmp_path / "targets.npy"}])
    identity = table[table.corruption == "identity"].set_index("metric")["value"]
    for metric, value in clean.set_index("metric")["value"].items():
        assert identity[metric] == pytest.approx(value)
    with pytest.raises(InputError, match="corruption"):
        evaluate_corruptions(tmp_path / "m.pt", tmp_path / "view.npy", tmp_path / "targets.npy", ["fire"], 3, 0)
