"""One source of defaults: the schema. The library's defaults that map to an option equal the schema's,
and Snakemake's validate() fills every option a config leaves out."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from lens2logit.config import SCHEMA_PATH, load_schema, schema_default, with_defaults
from lens2logit.errors import InputError

REPO = Path(__file__).resolve().parents[1]
# Fields of the option objects taken from other sections than the experiment's own.
CONTEXT = {
    "seed": "seed",
    "bce_weight": "training.segmentation.bce_weight",
    "segmentation_headline": "report.segmentation_headline",
    "device": "training.device",
}


def _plain(value):
    """Tuples, dataclasses and mappings as the YAML schema writes them."""
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _field_default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _compare_options(cls, section: str, no_default=()):
    checked = []
    for f in dataclasses.fields(cls):
        if f.name in no_default:
            assert _field_default(f) is dataclasses.MISSING, f"{cls.__name__}.{f.name} should have no default"
            continue
        key = CONTEXT.get(f.name, f"{section}.{f.name}")
        assert _plain(_field_default(f)) == schema_default(key), f"{cls.__name__}.{f.name} vs schema {key}"
        checked.append(f.name)
    return checked


def test_forensics_options_defaults_are_the_schemas():
    from lens2logit.experiments.forensics import ForensicsOptions

    checked = _compare_options(ForensicsOptions, "forensics")
    schema_keys = set(load_schema(SCHEMA_PATH)["properties"]["forensics"]["properties"])
    # every option of the section is a field, or one the workflow uses to choose the inputs
    assert schema_keys == (set(checked) - set(CONTEXT)) | set(ForensicsOptions.WORKFLOW_KEYS)


def test_customization_options_defaults_are_the_schemas():
    from lens2logit.experiments.customization import CustomizationOptions, NeuralOptions

    checked = _compare_options(CustomizationOptions, "customization", no_default=("arch",))
    _compare_options(NeuralOptions, "customization.neural")
    schema_keys = set(load_schema(SCHEMA_PATH)["properties"]["customization"]["properties"])
    assert schema_keys == (set(checked) - set(CONTEXT)) | set(CustomizationOptions.WORKFLOW_KEYS)
    # the section's own default object agrees with its properties' defaults
    assert schema_default("customization.neural") == _plain(NeuralOptions())


@pytest.mark.parametrize(
    ("function", "keys"),
    [
        ("lens2logit.experiments.train:train_on_view",
         {"pretrained": "training.classification.pretrained", "threads": "training.threads", "progress": "training.progress",
          "bce_weight": "training.segmentation.bce_weight", "amp": "training.amp"}),
        ("lens2logit.training.loop:fit", {"bce_weight": "training.segmentation.bce_weight"}),
        ("lens2logit.training.losses:task_loss", {"bce_weight": "training.segmentation.bce_weight"}),
        ("lens2logit.experiments.forensics:attack_isp", {"bce_weight": "training.segmentation.bce_weight"}),
    ],
)  # fmt: skip
def test_keyword_defaults_that_map_to_options_are_the_schemas(function, keys):
    import importlib

    module, name = function.split(":")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    for parameter, key in keys.items():
        assert parameters[parameter].default == schema_default(key), f"{function}({parameter}) vs schema {key}"


def test_train_on_view_takes_the_device_from_its_caller():
    """No second default for training.device: the workflow always passes it, tests say "cpu"."""
    from lens2logit.experiments.train import train_on_view

    assert inspect.signature(train_on_view).parameters["device"].default is inspect.Parameter.empty


def test_other_library_defaults_are_the_schemas():
    from lens2logit.data.synth import DEFAULT_N, DEFAULT_SIZE
    from lens2logit.experiments.corruptions import DEFAULT_PRESET
    from lens2logit.stages.statistics import DEFAULT_SEGMENTATION_HEADLINE

    for source in ("microscopy", "drone"):
        assert DEFAULT_N[source] == schema_default(f"data.synthetic.{source}.n")
        assert DEFAULT_SIZE[source] == schema_default(f"data.synthetic.{source}.size")
    assert DEFAULT_PRESET == schema_default("corruptions.preset")
    assert DEFAULT_SEGMENTATION_HEADLINE == schema_default("report.segmentation_headline")


def test_with_defaults_fills_every_section_like_snakemake_validate():
    from snakemake.utils import validate

    minimal = {
        "datasets": ["microscopy"],
        "data": {"source": "synthetic", "root": "data/x"},
        "drift": {"folds": 2, "augmentations": ["none"]},
        "training": {
            "classification": {"arch": "small_cnn", "epochs": 1, "batch_size": 4, "lr": 1e-3},
            "segmentation": {"arch": "small_unet", "epochs": 1, "batch_size": 4, "lr": 1e-3},
        },
    }
    ours = with_defaults(minimal)
    theirs = yaml.safe_load(yaml.safe_dump(minimal))
    validate(theirs, str(SCHEMA_PATH))  # Snakemake's own (set_default=True), as in rules/common.smk
    assert ours == theirs
    assert "render" not in minimal  # a copy: the input is left alone
    # every section and option the rules read is there without a default in the rules
    assert ours["render"]["batch_size"] == 64 and ours["evaluation"]["batch_size"] == 64
    assert ours["intensity_drift"]["folds"] is None and ours["intensity_drift"]["view"] == "ma,s,ga"
    assert ours["forensics"]["steps"] == 6 and ours["forensics"]["lr"] == 0.02
    assert ours["customization"]["neural"]["encoder"] == "tu-mobilenetv3_small_050"
    assert ours["data"]["synthetic"] == {"microscopy": {"n": 20, "size": 128, "class_counts": None},
                                         "drone": {"n": 4, "size": 128, "frame": None}}
    assert ours["training"]["segmentation"]["bce_weight"] == 0
    assert "bce_weight" not in ours["training"]["classification"]  # Dice + BCE is a segmentation option
    assert ours["report"]["segmentation_headline"] == "iou_image" and ours["tracking"]["enabled"] is True
    assert ours["report"]["bootstrap_replicates"] == 2000


def test_bce_weight_is_a_segmentation_option_only():
    config = yaml.safe_load((REPO / "configs" / "test.yaml").read_text())
    config["training"]["segmentation"]["bce_weight"] = 0.5
    assert with_defaults(config)["training"]["segmentation"]["bce_weight"] == 0.5
    config["training"]["classification"]["bce_weight"] = 0.5
    with pytest.raises(InputError, match="training.classification: .*'bce_weight' was unexpected"):
        with_defaults(config)
    config["training"]["classification"].pop("bce_weight")
    config["training"]["segmentation"]["bce_weight"] = -1
    with pytest.raises(InputError, match="training.segmentation.bce_weight"):
        with_defaults(config)


def test_rules_restate_no_defaults():
    """The rules read the validated config: no `config.get(key, default)` left in rules/."""
    import re

    for path in sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]:
        text = path.read_text()
        assert not re.search(r"config(\[[^\]]+\])*\.get\(", text), path.name
        assert not re.search(r"(FORENSICS|CUSTOMIZATION|INTENSITY|TRACKING)\.get\(", text), path.name


def test_every_optional_option_has_a_default_in_the_schema():
    """An option is required, or the schema says its default (data.custom: only with datasets [custom])."""
    schema = load_schema(SCHEMA_PATH)
    missing = []

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            key = f"{path}{name}"
            if "default" not in sub and name not in node.get("required", []) and key != "data.custom":
                missing.append(key)
            walk(sub, f"{key}.")

    walk(schema, "")
    assert missing == []
