import numpy as np
import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.corruptions import benchmark as C
from lens2logit.corruptions.benchmark import corrupt_images, evaluate_corruptions
from lens2logit.corruptions import presets as P
from lens2logit.corruptions.presets import IMAGENET_C, resolve_corruptions
from lens2logit.training.evaluate import evaluate_model
from lens2logit.training import save_checkpoint
from lens2logit.models import build_model


def _images(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(
        torch.rand(n, 3, size // 8, size // 8, generator=g), size=(size, size), mode="bilinear"
    )
    return (0.2 + 0.6 * smooth).float()


def _textured(n=2, size=64, seed=0):
    """Smooth colour field plus fine texture: every transform, blur included, visibly changes it."""
    g = torch.Generator().manual_seed(seed)
    return (_images(n, size, seed) + 0.1 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def test_all_fifteen_corruptions_shape_range_and_effect():
    assert len(IMAGENET_C) == 15
    images = _images()
    for name in IMAGENET_C:
        out = corrupt_images(images, name, 3, seed=0, preset="imagenet-c")
        assert out.shape == images.shape and out.dtype == torch.float32, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name
        assert (out - images).abs().mean() > 1e-3, name  # it did something


def test_static_package_names_match_the_package():
    from imagecorruptions import get_corruption_names

    assert set(P.IMAGENET_C_ALL) == set(get_corruption_names("all"))
    assert set(P.IMAGENET_C) == set(get_corruption_names("common"))
    assert set(P.PAPER_CORRUPTIONS) <= set(P.IMAGENET_C_ALL)  # the paper's ten also exist in the package


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("preset", ["paper", "imagenet-c"])
def test_every_name_of_every_preset_runs_on_a_default_tile_and_changes_it(preset, size):
    images = _textured(2, size)
    for name in ("identity",) + P.PRESET_NAMES[preset]:
        out = corrupt_images(images, name, seed=0, preset=preset)  # the preset's default severity
        assert out.shape == images.shape and out.dtype == torch.float32, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name
        change = float((out - images).abs().mean())
        if name == "identity":
            assert change == 0.0
        else:
            assert change > 1e-4, (preset, name, change)


def test_paper_preset_is_the_default_with_the_originals_ten_at_severity_one():
    resolved = resolve_corruptions({})
    assert resolved["preset"] == "paper" and resolved["severity"] == 1
    assert resolved["names"] == list(P.PAPER_CORRUPTIONS) and len(resolved["names"]) == 10
    assert resolve_corruptions({"preset": "imagenet-c"})["severity"] == 3
    assert resolve_corruptions({"preset": "imagenet-c"})["names"] == list(IMAGENET_C)
    # the three names today's check rejected are accepted by the imagenet-c preset
    names = ["speckle_noise", "gaussian_blur", "saturate", "spatter"]
    assert resolve_corruptions({"preset": "imagenet-c", "names": names, "severity": 2})["names"] == names


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"names": ["rain"]}, "'rain'"),
        ({"names": ["defocus_blur"]}, "'defocus_blur'"),  # imagenet-c only
        ({"preset": "imagenet-c", "names": ["fire"]}, "'fire'"),
        ({"preset": "cifar"}, "corruptions.preset"),
        ({"severity": 0}, "corruptions.severity"),
    ],
)
def test_unknown_names_give_one_clear_error(options, fragment):
    with pytest.raises(InputError, match="corruptions") as err:
        resolve_corruptions(options)
    message = str(err.value)
    assert fragment in message
    if "names" in options:  # the message lists the valid names of the preset
        preset = options.get("preset", "paper")
        assert "corruptions.names" in message and all(n in message for n in P.PRESET_NAMES[preset])


def test_paper_constants_follow_the_original():
    # spot checks of reference-spec §5.5, one per kind of table
    assert C.PAPER_CONSTANTS["gaussian_noise"] == (0.04, 0.06, 0.08, 0.09, 0.10)
    assert C.PAPER_CONSTANTS["shot_noise"][0] == 500 and C.PAPER_CONSTANTS["saturate"][3] == (2.0, 0.1)
    assert C.PAPER_CONSTANTS["elastic_transform"][1] == (1.6, 6.4, 2.24)
    assert all(len(v) == 5 for v in C.PAPER_CONSTANTS.values())
    assert set(C.PAPER_CONSTANTS) == set(C.PAPER_TRANSFORMS) == set(P.PAPER_CORRUPTIONS)


def test_paper_transforms_behave_as_defined():
    rng = np.random.default_rng(0)
    flat = np.full((64, 64, 3), 0.5)
    noisy = C.gaussian_noise(flat, 0.04, rng)
    assert noisy.std() == pytest.approx(0.04, rel=0.05)
    shot = C.shot_noise(flat, 500, rng)  # Poisson(250)/500: std sqrt(250)/500
    assert shot.mean() == pytest.approx(0.5, abs=0.005) and shot.std() == pytest.approx(np.sqrt(250) / 500, rel=0.05)
    speckle = C.speckle_noise(flat, 0.1, rng)
    assert speckle.std() == pytest.approx(0.05, rel=0.05)
    impulse = C.impulse_noise(flat, 0.03, rng)
    assert np.mean((impulse == 0) | (impulse == 1)) == pytest.approx(0.03, abs=0.005)
    ramp = np.repeat(np.linspace(0, 1, 64)[None, :, None], 64, axis=0).repeat(3, axis=2)
    assert C.contrast(ramp, 0.5, rng).std() == pytest.approx(0.5 * ramp.std())
    grey = C.brightness(np.full((8, 8, 3), 0.4), 0.1, rng)
    assert np.allclose(grey, 0.5)  # HSV value + 0.1 on a grey image
    colour = np.stack([np.full((8, 8), 0.8), np.full((8, 8), 0.4), np.full((8, 8), 0.4)], axis=-1)  # S = 0.5
    assert np.allclose(C.saturate(colour, (0.0, 0.0), rng), 0.8)  # saturation 0: grey at the value
    impulse_img = np.zeros((32, 32, 3))
    impulse_img[16, 16] = 1.0
    blurred = C.gaussian_blur(impulse_img, 1.0, rng)[..., 0]
    ys = np.arange(32) - 16
    assert np.sqrt((blurred.sum(axis=1) * ys**2).sum() / blurred.sum()) == pytest.approx(1.0, rel=0.05)
    # zoom blur leaves the centre pixel of a centred radial pattern nearly alone and smears the edges
    yy, xx = np.mgrid[0:64, 0:64] - 31.5
    radial = np.repeat(np.cos(np.hypot(yy, xx) / 2)[..., None] * 0.5 + 0.5, 3, axis=2)
    zoomed = C.zoom_blur(radial, 1.26, rng)
    diff = np.abs(zoomed - radial)[..., 0]
    assert diff[28:36, 28:36].mean() < diff[:8].mean()
    # elastic at severity 1 is a pure affine jitter of at most 2.56 px: a flat image stays flat
    assert np.allclose(C.elastic_transform(flat, C.PAPER_CONSTANTS["elastic_transform"][0], rng), 0.5)


def test_paper_severity_increases_damage():
    images = _textured(2, 64)
    for name in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur", "zoom_blur", "contrast", "brightness"):
        damage = [float((corrupt_images(images, name, s, seed=0) - images).abs().mean()) for s in (1, 3, 5)]
        assert damage[0] < damage[1] < damage[2], name


def test_identity_returns_the_input():
    images = _images()
    assert torch.equal(corrupt_images(images, "identity", 3, seed=0), images)


@pytest.mark.parametrize(
    "preset, name",
    [("imagenet-c", n) for n in ["gaussian_noise", "impulse_noise", "glass_blur", "frost", "elastic_transform"]]
    + [("paper", n) for n in ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "elastic_transform"]],
)
def test_deterministic_given_seed_and_independent_of_chunking(preset, name):
    images = _images(4)
    a = corrupt_images(images, name, 3, seed=5, preset=preset)
    b = corrupt_images(images, name, 3, seed=5, preset=preset)
    assert torch.equal(a, b)
    assert not torch.equal(a, corrupt_images(images, name, 3, seed=6, preset=preset))
    # the same sample gets the same corruption when processed in another chunk
    tail = corrupt_images(images[2:], name, 3, seed=5, ids=[2, 3], preset=preset)
    assert torch.equal(tail, a[2:])


def test_global_numpy_rng_is_restored():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    corrupt_images(_images(), "shot_noise", 2, seed=0, preset="imagenet-c")
    corrupt_images(_images(), "shot_noise", 2, seed=0, preset="paper")
    assert np.array_equal(np.random.rand(3), expected)


def test_images_smaller_than_the_package_minimum_are_padded():
    images = _images(2, size=16)
    out = corrupt_images(images, "motion_blur", 3, seed=0, preset="imagenet-c")
    assert out.shape == (2, 3, 16, 16)


def test_severity_increases_damage():
    images = _images(4, size=64)
    damage = [(corrupt_images(images, "gaussian_noise", s, seed=0, preset="imagenet-c") - images).abs().mean() for s in (1, 3, 5)]
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
    ckpt = {"state_dict": net.state_dict(), "arch": "small_cnn", "kind": "classification", "n_classes": 3,
            "classes": ["a", "b", "c"], "mean": [0.5] * 3, "std": [0.3] * 3, "train_indices": list(range(6)),
            "val_indices": list(range(6, 12)), "fold": 0, "history": [], "config": {}}  # fmt: skip
    save_checkpoint(tmp_path / "m.pt", ckpt)
    table = evaluate_corruptions(tmp_path / "m.pt", tmp_path / "view.npy", tmp_path / "targets.npy",
                                 ["contrast", "gaussian_noise"], severity=3, seed=0, batch_size=4)  # fmt: skip
    default = evaluate_corruptions(tmp_path / "m.pt", tmp_path / "view.npy", tmp_path / "targets.npy", batch_size=4)
    assert default["corruption"].unique().tolist() == ["identity", *P.PAPER_CORRUPTIONS]
    assert list(table.columns) == ["corruption", "metric", "value"]
    assert table["corruption"].unique().tolist() == ["identity", "contrast", "gaussian_noise"]
    assert table["value"].between(0, 1).all()
    clean = evaluate_model(tmp_path / "m.pt", [{"views": tmp_path / "view.npy", "targets": tmp_path / "targets.npy"}])
    identity = table[table.corruption == "identity"].set_index("metric")["value"]
    for metric, value in clean.set_index("metric")["value"].items():
        assert identity[metric] == pytest.approx(value)
    with pytest.raises(InputError, match="corruption"):
        evaluate_corruptions(tmp_path / "m.pt", tmp_path / "view.npy", tmp_path / "targets.npy", ["fire"], 3, 0)
