import os

import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.models import Standardize, build_model, standardized

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("n_classes", [2, 9])
def test_default_narrow_resnet_output_shape(n_classes):
    net = build_model("resnet18:16", "classification", n_classes)
    assert net(torch.rand(3, 3, 96, 80)).shape == (3, n_classes)


def test_narrow_resnet_is_resnet18_with_a_stride_4_stem():
    """Stem: 7×7 stride-2 conv + stride-2 max-pool before the first block; widths w, 2w, 4w, 8w;
    at width 64 the state dict is torchvision's resnet18 (same keys and shapes)."""
    import torchvision

    net = build_model("resnet18:16", "classification", 3).eval()
    assert (net.conv1.kernel_size, net.conv1.stride, net.maxpool.stride) == ((7, 7), (2, 2), 2)
    first = net.stages(torch.rand(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in first] == [(16, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    wide = build_model("resnet18:64", "classification", 10).state_dict()
    reference = torchvision.models.resnet18(num_classes=10).state_dict()
    assert {k: v.shape for k, v in wide.items()} == {k: v.shape for k, v in reference.items()}


def test_default_unet_has_the_narrow_resnet_as_smp_encoder():
    """smp U-Net: the narrow ResNet-18 encoder, decoder channels smp's defaults × 16/64, full-res logits."""
    net = build_model("unet:resnet18:16", "segmentation", 1).eval()
    assert net.encoder.out_channels == [3, 16, 16, 32, 64, 128]
    assert [block.conv1[0].out_channels for block in net.decoder.blocks] == [64, 32, 16, 8, 4]
    assert net(torch.rand(2, 3, 64, 96)).shape == (2, 1, 64, 96)


@pytest.mark.parametrize("n_classes", [2, 9])
def test_small_cnn_output_shape(n_classes):
    net = build_model("small_cnn", "classification", n_classes)
    assert net(torch.rand(3, 3, 64, 64)).shape == (3, n_classes)


def test_small_unet_output_shape_and_size_check():
    net = build_model("small_unet", "segmentation", 1)
    assert net(torch.rand(2, 3, 32, 48)).shape == (2, 1, 32, 48)
    with pytest.raises(InputError, match="divisible by 4"):
        net(torch.rand(1, 3, 30, 32))


@pytest.mark.parametrize("arch, width", [("resnet18", 512), ("resnet50", 2048)])
def test_resnet_heads_have_the_backbone_width(arch, width):
    net = build_model(arch, "classification", 5)
    assert net.fc.in_features == width and net.fc.out_features == 5
    assert net.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 5)


def test_unetplusplus_with_encoder_option():
    net = build_model("unetplusplus:resnet18", "segmentation", 1)
    assert net.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 1, 64, 64)
    with pytest.raises(InputError, match="encoder"):
        build_model("unetplusplus:no_such_encoder", "segmentation", 1)
    narrow = build_model("unetplusplus:resnet34:8", "segmentation", 1)
    assert narrow.encoder.out_channels == [3, 8, 8, 16, 32, 64]


@pytest.mark.parametrize(
    "arch, kind, match",
    [("vgg16", "classification", "arch"), ("small_unet", "classification", "arch"),
     ("small_cnn", "segmentation", "arch"), ("small_cnn:x", "classification", "arch"),
     ("small_cnn", "detection", "kind"), ("resnet18:15", "classification", "width"),
     ("resnet18:wide", "classification", "width"), ("resnet50:16", "classification", "arch"),
     ("unet:efficientnet-b0:16", "segmentation", "width"), ("unet:resnet18:16:2", "segmentation", "arch")],
)  # fmt: skip
def test_bad_arch_or_kind_is_input_error(arch, kind, match):
    with pytest.raises(InputError, match=match):
        build_model(arch, kind, 3)


def test_standardize_and_wrapper():
    s = Standardize([0.1, 0.2, 0.3], [0.5, 1.0, 2.0])
    out = s(torch.ones(1, 3, 2, 2))
    assert out[0, :, 0, 0].tolist() == pytest.approx([1.8, 0.8, 0.35])
    model = standardized(torch.nn.Identity(), [0.5] * 3, [0.5] * 3)
    assert "0.mean" in model.state_dict() and "0.std" in model.state_dict()
    with pytest.raises(InputError, match="std"):
        Standardize([0, 0, 0], [1, 0, 1])


def test_pretrained_narrow_resnet_round_trip(tmp_path):
    torch.manual_seed(0)
    source = build_model("resnet18:16", "classification", 4)
    path = tmp_path / "resnet.pt"
    torch.save(source.state_dict(), path)
    other = build_model("resnet18:16", "classification", 7, pretrained=str(path))  # new head width
    assert torch.equal(other.conv1.weight, source.conv1.weight) and other.fc.out_features == 7


def test_pretrained_from_local_file(tmp_path):
    torch.manual_seed(0)
    source = build_model("small_cnn", "classification", 4)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(1)
    loaded = build_model("small_cnn", "classification", 4, pretrained=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    # a different head width is allowed: backbone loads, head stays fresh
    other = build_model("small_cnn", "classification", 7, pretrained=str(path))
    assert torch.equal(other.features[0][0].weight, source.features[0][0].weight)
    assert other.head.out_features == 7


def test_pretrained_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        build_model("small_cnn", "classification", 3, pretrained=str(tmp_path / "nope.pt"))
    wrong = tmp_path / "unet.pt"
    torch.save(build_model("small_unet", "segmentation", 1).state_dict(), wrong)
    with pytest.raises(InputError, match="do not match"):
        build_model("small_cnn", "classification", 3, pretrained=str(wrong))
