"""The workflow's configuration, checked when the workflow is planned (``snakemake -n`` fails); the
schema's own checks, defaults and the typing of ``--config`` strings are :mod:`lens2logit.schema`.

* ``check_config(config)``: every option that could otherwise only fail inside a job — views with a
  differentiable twin, architectures and encoders (names only, nothing is downloaded), weight files,
  tile size vs data size, intensities on disk, class counts vs folds. Each problem names the full key
  (``forensics.view``; ``intensity_drift.intensities[2]`` for a list item), the bad value and the
  allowed ones; all problems are reported together in one ``InputError``.
* ``override(pairs)``: ``["drift.folds=3", "data.source=path"]`` → nested dict (``lens2logit config``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from lens2logit.errors import InputError
from lens2logit.data.registry import dataset_kind, dataset_names, dataset_source
from lens2logit.schema import with_defaults

REFERENCE_INTENSITY = 1.0
# Full drone images of the synthetic data are this many tiles high and wide.
SYNTH_DRONE_TILES = (6, 8)
# small_unet pools twice: its input side must be a multiple of this.
SMALL_UNET_MULTIPLE = 4


# ---------------------------------------------------------------- config files

def read_config_file(path: str | Path) -> dict:
    """The options of a YAML config file; a syntax error is one InputError line naming file, line and column."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(yaml_error_line(path, exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable YAML file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of options")
    return data


def yaml_error_line(path: Path, exc) -> str:
    """``FILE:LINE:COLUMN: YAML syntax error: problem`` (1-based, as editors count)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{where}: YAML syntax error: {problem}"


# ---------------------------------------------------------------- dotted overrides

def override(pairs: list[str]) -> dict:
    """``["drift.folds=3", "views=[bi,s,ga]"]`` → ``{"drift": {"folds": 3}, "views": ["bi,s,ga"]}`` (values YAML)."""
    import yaml

    result: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(p.strip() for p in parts):
            raise InputError(f"override {pair!r}: expected key.path=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise InputError(f"override {pair!r}: value is not YAML ({exc.problem})") from None
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part.strip(), {})
            if not isinstance(node, dict):
                raise InputError(f"override {pair!r}: {part} is set to a value and used as a section")
        node[parts[-1].strip()] = value
    return result


# ---------------------------------------------------------------- plan-time checks

# Drift needs a view to train on and another to test on (the matrix's off-diagonal cells).
MIN_VIEWS = 2


def trained_folds_problems(key: str, value: int, folds: int) -> list[str]:
    """A stage that reuses the drift models may not ask for more folds than were trained (``folds``)."""
    if value <= folds:
        return []
    return [f"{key}: {value} exceeds the trained drift folds ({folds}: drift.use_folds, else drift.folds)"]


def _views(config: dict) -> list[str]:
    from lens2logit.isp.views import VIEWS

    return list(VIEWS) if config["views"] == "all" else list(config["views"])


# Answers of ``known_encoder`` per installed smp/timm version: importing them costs seconds per plan.
ENCODER_CACHE = Path(".snakemake") / "lens2logit" / "encoders.json"


def known_encoder(name: str, *, cache: Path | None = ENCODER_CACHE) -> bool:
    """An smp encoder name (``tu-<timm model>`` for timm), checked without building or downloading."""
    import json
    from importlib.metadata import PackageNotFoundError, version

    try:
        key = f"smp {version('segmentation_models_pytorch')}, timm {version('timm')}"
    except PackageNotFoundError:
        key = None
    known: dict = {}
    if cache is not None and key is not None:
        try:
            known = json.loads(Path(cache).read_text())
        except (OSError, ValueError):
            known = {}
        if isinstance(known.get(key), dict) and name in known[key]:
            return bool(known[key][name])
    import segmentation_models_pytorch as smp

    if name.startswith("tu-"):
        import timm

        answer = name[3:] in timm.list_models()
    else:
        answer = name in smp.encoders.get_encoder_names()
    if cache is not None and key is not None:
        from lens2logit.io import write_json

        entries = known.get(key) if isinstance(known.get(key), dict) else {}
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        write_json(cache, {key: {**entries, name: answer}})
    return answer


def _arch_problems(kind: str, arch: Any) -> list[str]:
    """The syntax of :func:`lens2logit.models.build_model`'s ``arch``, checked without building."""
    from lens2logit.architectures import CLASSIFICATION_ARCHS, DEFAULT_UNET_ENCODER, RESNET_LAYERS, SEGMENTATION_ARCHS

    key = f"training.{kind}.arch"
    allowed = CLASSIFICATION_ARCHS if kind == "classification" else SEGMENTATION_ARCHS
    base, *options = [part.strip() for part in str(arch).split(":")]
    base = base.lower()
    if base not in allowed:
        shown = [*allowed, "unet:<encoder>[:<width>]", "unetplusplus:<encoder>[:<width>]"] if kind == "segmentation" else [*allowed, "resnet18:<width>"]
        return [f"{key}: {arch!r} is not a {kind} architecture; allowed: {shown}"]
    width_ok = lambda text: text.isdigit() and int(text) >= 4 and int(text) % 4 == 0  # noqa: E731
    if options and base in ("small_cnn", "small_unet", "resnet50"):
        return [f"{key}: {arch!r}: {base} takes no ':' option"]
    if base in RESNET_LAYERS and (len(options) > 1 or (options and not width_ok(options[0]))):
        return [f"{key}: {arch!r}: expected '{base}' or '{base}:<width>' with a width that is a multiple of 4"]
    if base in ("unet", "unetplusplus"):
        if len(options) > 2:
            return [f"{key}: {arch!r}: expected '{base}:<encoder>[:<width>]'"]
        encoder = options[0] if options else DEFAULT_UNET_ENCODER
        if len(options) == 2 and (encoder not in RESNET_LAYERS or not width_ok(options[1])):
            return [f"{key}: {arch!r}: only the {sorted(RESNET_LAYERS)} encoders take a width, a multiple of 4"]
        if len(options) < 2 and not known_encoder(encoder):
            return [f"{key}: {arch!r}: unknown encoder {encoder!r}; allowed: smp encoder names (segmentation_models_pytorch.encoders.get_encoder_names()) or tu-<timm model>"]
    return []


def _intensities_needed(config: dict) -> list[tuple[str, float]]:
    """(config key, intensity) of every intensity the workflow reads from the data."""
    needed = [("reference intensity", REFERENCE_INTENSITY)]
    drift = config["intensity_drift"]
    if drift["enabled"]:
        needed += [(f"intensity_drift.intensities[{i}]", v) for i, v in enumerate(drift["intensities"])]
    custom = config["customization"]
    if custom["enabled"]:
        needed += [(f"customization.intensities[{i}]", v) for i, v in enumerate(custom["intensities"])]
    return needed


def _path_data_problems(config: dict, datasets: list[str], folds: int) -> list[str]:
    """What the loaders would refuse in path data, asked of each dataset's registry layout (the folders
    and files the jobs read): missing intensity folders, pre-tiled labels of another tile size, a tile
    larger than the full frames, and microscopy class counts from the label file."""
    from lens2logit.data.files import list_files, tiff_shape
    from lens2logit.data.layout import DRONE_IMAGE_SUFFIXES, drone_is_pre_tiled
    from lens2logit.data.registry import dataset_layout

    problems = []
    data_root = Path(config["data"]["root"])
    tile = config["data"]["tile_size"]
    for source in sorted({dataset_source(t) for t in datasets} - {"custom"}):
        root = data_root / source
        if not root.is_dir():
            problems.append(f"data.root: {str(data_root)!r} has no folder {source}/ (data.source: path reads {root})")
            continue
        # the datasets read from this folder, by kind (both drone datasets share drone/)
        names = sorted({t for t in datasets if dataset_source(t) == source}, key=dataset_kind)
        pre_tiled = source == "drone" and drone_is_pre_tiled(root)
        wrong_size = _pre_tiled_problems(root, names, tile) if pre_tiled else {}
        problems += list(wrong_size.values())
        for name in names:
            if name in wrong_size:
                continue
            layout = dataset_layout(name)
            present = layout.intensities(root, tile)
            for key, value in _intensities_needed(config):
                missing = f"{key}: {value} — {layout.image_folder(root, value, tile)} not found; present: {present}"
                if not any(abs(value - p) < 1e-9 for p in present) and missing not in problems:
                    problems.append(missing)
        if source == "drone" and not pre_tiled:
            layout = dataset_layout(names[0])
            present = layout.intensities(root, tile)
            first = next(iter(list_files(layout.image_folder(root, present[0], tile), DRONE_IMAGE_SUFFIXES)), None) if present else None
            shape = tiff_shape(first) if first is not None else None
            if shape is not None and tile > min(shape[:2]):
                problems.append(f"data.tile_size: {tile} is larger than the drone images ({first}: {shape[0]}×{shape[1]})")
        if source == "microscopy" and "microscopy" in datasets and dataset_layout("microscopy").label_path(root).is_file():
            problems += _microscopy_label_problems(config, root, folds)
    return problems


def _microscopy_label_problems(config: dict, root: Path, folds: int) -> list[str]:
    """Class counts of the label file, read by the loader's own reader (a line it refuses is named here)."""
    from lens2logit.data.layout import MICROSCOPY_EXCLUDED_STEMS, MICROSCOPY_MIN_CLASS_SAMPLES
    from lens2logit.data.microscopy import read_label_lines
    from lens2logit.data.registry import dataset_layout

    labels = dataset_layout("microscopy").label_path(root)
    try:
        entries = read_label_lines(labels)
    except InputError as exc:
        return [str(exc)]
    counts = Counter(code for stem, code, _ in entries if stem not in MICROSCOPY_EXCLUDED_STEMS)
    problems = _class_problems(counts, folds, str(labels), MICROSCOPY_MIN_CLASS_SAMPLES)
    if strict_labels(config):
        problems += _label_problems(root)
    return problems


# data.source values whose datasets are the published ones (class counts checked, labels lenient).
PUBLISHED_SOURCES = ("zenodo", "b2")


def strict_labels(config: dict) -> bool:
    """``data.strict_labels``, with null resolved: on except for the published datasets."""
    value = config["data"].get("strict_labels")
    return config["data"]["source"] not in PUBLISHED_SOURCES if value is None else bool(value)


def _label_problems(root: Path) -> list[str]:
    """data.strict_labels: every image a microscopy folder would leave out, one line each (the
    loader's own errors are left to the job that reads the folder)."""
    from lens2logit.data.microscopy import label_problems, microscopy_selection

    try:
        dropped = microscopy_selection(root)[3]
    except InputError:
        return []
    return [f"data.strict_labels: {line} (fix it, or set data.strict_labels: false to leave it out)"
            for line in label_problems(dropped)]


def _pre_tiled_problems(root: Path, names: list[str], tile: int) -> dict[str, str]:
    """{dataset: problem} where a pre-tiled drone root holds no labels of tiles of ``data.tile_size``."""
    from lens2logit.data.layout import DRONE_TILED_IMAGES
    from lens2logit.data.registry import dataset_layout

    problems = {}
    for name in names:
        labels = dataset_layout(name).label_path(root, tile)
        if not labels.exists():
            sizes = sorted({p.name for p in root.rglob(DRONE_TILED_IMAGES.format(tile_size="*")) if p.is_dir()})
            hint = f" (found {sizes}: set data.tile_size to their tile size)" if sizes else ""
            problems[name] = f"data.tile_size: {tile} — {labels} not found in the pre-tiled drone layout{hint}"
    return problems


def _class_problems(counts: Counter, folds: int, where: str, minimum: int) -> list[str]:
    kept = {c: n for c, n in counts.items() if n > minimum}
    if len(kept) < 2:
        return [f"{where}: fewer than 2 classes with more than {minimum} samples ({dict(counts)}); nothing to classify"]
    few = {c: n for c, n in sorted(kept.items()) if n < folds}
    if few:
        return [f"drift.folds: {folds} folds need at least {folds} samples per class; {where} has {few}"]
    return []


def _synthetic_problems(config: dict, datasets: list[str], folds: int) -> list[str]:
    from lens2logit.data.layout import MICROSCOPY_CLASSES, MICROSCOPY_MIN_CLASS_SAMPLES

    problems = []
    synth = config["data"]["synthetic"]
    if "microscopy" in datasets:
        n, counts = synth["microscopy"]["n"], synth["microscopy"].get("class_counts")
        where = "data.synthetic.microscopy." + ("class_counts" if counts else "n")
        problems += _class_problems(Counter(counts or {c: n for c in MICROSCOPY_CLASSES}), folds, where, MICROSCOPY_MIN_CLASS_SAMPLES)
    if any(dataset_source(t) == "drone" for t in datasets):
        size = synth["drone"]["size"]
        tile = config["data"]["tile_size"]
        frame = synth["drone"].get("frame")
        height, width = frame if frame else (k * size for k in SYNTH_DRONE_TILES)
        if tile > height:
            problems.append(
                f"data.tile_size: {tile} is larger than the synthetic drone images ({height}×{width}, "
                f"data.synthetic.drone.size {size}); allowed: up to {height}"
            )
    return problems


STUDIES_WITH_DATASETS = ("forensics", "customization", "robust")  # sections with a `datasets` option


def study_datasets(datasets: Sequence[str], selected: Sequence[str] | None) -> list[str]:
    """The run's ``datasets`` a study runs on: those ``selected`` names (its ``datasets`` option), or
    every one when it is null or empty. Names the run does not train are skipped, so a config that
    overrides the top-level ``datasets`` keeps working."""
    return [t for t in datasets if not selected or t in selected]


def study_datasets_problems(config: Mapping[str, Any]) -> list[str]:
    """One line per enabled study whose ``datasets`` option names an unknown dataset."""
    problems = []
    for study in STUDIES_WITH_DATASETS:
        section = config[study]
        unknown = [t for t in (section["datasets"] or []) if t not in dataset_names()]
        if section["enabled"] and unknown:
            problems.append(f"{study}.datasets: {unknown} are not datasets; known: {list(dataset_names())}")
    return problems


def check_config(config: dict, *, workdir: str | Path = ".") -> None:
    """Raise one InputError listing every problem (one line each) that would otherwise fail a job.

    The schema validates and fills every option (:func:`with_defaults`); this adds, once, what it
    cannot express: cross-field rules, views with a differentiable twin, names of architectures and
    encoders, files and class counts on disk.
    """
    from lens2logit.customization.options import customization_problems, start_model_problems
    from lens2logit.isp.views import TWIN_VIEWS, twin_view_problems

    config = with_defaults(config)
    problems: list[str] = []
    datasets = list(config["datasets"])
    views = _views(config)
    folds = int(config["drift"]["folds"])
    if len(views) < MIN_VIEWS:
        problems.append(
            f"views: {views} — the drift matrix tests each model on the other views, so it needs at least "
            f"{MIN_VIEWS} views (or \"all\"); one view would train every model and then have no drift to report"
        )
    use_folds = config["drift"]["use_folds"]
    if use_folds is not None and use_folds > folds:
        problems.append(f"drift.use_folds: {use_folds} exceeds drift.folds ({folds})")
    folds = folds if use_folds is None else min(int(use_folds), folds)  # the folds trained

    drift = config["intensity_drift"]
    if drift["enabled"]:
        if REFERENCE_INTENSITY not in [float(i) for i in drift["intensities"]]:
            problems.append(f"intensity_drift.intensities: {drift['intensities']} must include the reference intensity 1.0")
        if drift["view"] not in views:
            problems.append(f"intensity_drift.view: {drift['view']!r} is not among the trained views; allowed: {views} (config views)")
        if drift["folds"] is not None:
            problems += trained_folds_problems("intensity_drift.folds", drift["folds"], folds)
    problems += study_datasets_problems(config)
    forensics = config["forensics"]
    if forensics["enabled"]:
        problems += twin_view_problems(forensics["view"], "forensics.view")
        view = forensics["view"]
        if view in TWIN_VIEWS and view not in views:
            problems.append(f"forensics.view: {view!r} is not among the trained views; allowed: {[v for v in views if v in TWIN_VIEWS]}")
        problems += trained_folds_problems("forensics.folds", forensics["folds"], folds)
    robust = config["robust"]
    if robust["enabled"]:
        if len(views) < 3:  # one held out, a mix of the others to train on
            problems.append(f"robust.enabled: leaving one view out needs at least 3 views (option views), got {len(views)}")
        problems += trained_folds_problems("robust.folds", int(robust["folds"]), folds)
    custom = config["customization"]
    if custom["enabled"]:
        problems += customization_problems(custom) + start_model_problems(custom)
        problems += trained_folds_problems("customization.folds", custom["folds"], folds)
        encoder = custom["neural"]["encoder"]
        if "neural" in custom["processings"] and not known_encoder(encoder):
            problems.append(
                f"customization.neural.encoder: {encoder!r} is not an smp encoder; allowed: names of "
                "segmentation_models_pytorch.encoders.get_encoder_names() or tu-<timm model>"
            )

    kinds = sorted({dataset_kind(t, config) for t in datasets})
    training = config["training"]
    for kind in kinds:
        options = training[kind]
        problems += _arch_problems(kind, options["arch"])
        weights = options["pretrained"]
        if weights is not None and not (Path(workdir) / weights).is_file():
            problems.append(f"training.{kind}.pretrained: {weights!r}: file not found (weights are read from a local file only)")
    tile = config["data"]["tile_size"]
    if "drone_segmentation" in datasets and str(training["segmentation"]["arch"]).startswith("small_unet") and tile % SMALL_UNET_MULTIPLE:
        problems.append(f"data.tile_size: {tile} — small_unet needs a multiple of {SMALL_UNET_MULTIPLE}")

    source = config["data"]["source"]
    if source == "path":
        problems += _path_data_problems(config, datasets, folds)
    elif source == "synthetic":
        problems += _synthetic_problems(config, datasets, folds)
    if problems:
        raise InputError("config " + "\nconfig ".join(problems))

