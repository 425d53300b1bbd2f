"""One source of defaults: the schema. Snakemake's validate() and with_defaults fill every option a
config leaves out; the experiments' option objects have no defaults of their own (they are built from
the filled section); the rules and scripts restate none."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from lens2logit.schema import SCHEMA_PATH, load_schema, with_defaults
from lens2logit.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_train_on_view_takes_the_device_from_its_caller():
    """No second default for training.device: the workflow always passes it, tests say "cpu"."""
    from lens2logit.training.train import train_on_view

    assert inspect.signature(train_on_view).parameters["device"].default is inspect.Parameter.empty


@pytest.mark.parametrize("name", ["ForensicsOptions", "CustomizationOptions", "NeuralOptions"])
def test_option_objects_have_no_defaults_and_take_every_option_of_their_section(name):
    """Built from the schema-filled section only: a field default would be a second copy of the schema's,
    and an option the schema has but the object lacks would never reach the run."""
    import lens2logit.customization.joint as customization
    import lens2logit.forensics.attack as forensics
    from lens2logit.training.options import CONTEXT_KEYS

    cls = getattr(forensics, name, None) or getattr(customization, name)
    fields = dataclasses.fields(cls)
    assert [f.name for f in fields if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING] == []
    node = load_schema(SCHEMA_PATH)
    for part in cls.SECTION.split("."):
        node = node["properties"][part]
    options = set(node["properties"]) - set(getattr(cls, "WORKFLOW_KEYS", ()))
    assert options == {f.name for f in fields} - set(CONTEXT_KEYS) - {"arch"}


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
    """The rules and scripts read the validated config: no `config.get(key, default)` left in them."""
    import re

    for path in sorted((REPO / "rules").glob("*.smk")) + sorted((REPO / "scripts").glob("*.py")) + [REPO / "Snakefile"]:
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
