"""The results layout: every artefact the lab log reads has a forward function and an inverse
built from the same template; the inverse gives back exactly the keys and refuses other paths."""

import pytest

from lens2logit import paths

MODEL_KEYS = {"dataset": "drone_segmentation", "aug": "weak", "intensity": "005", "view": "bi-s-me", "fold": 3}
FOLD_ARTEFACTS = [  # (forward, inverse) over the keys of one drift model
    (paths.model_path, paths.model_keys),
    (paths.metrics_path, paths.metrics_keys),
    (paths.samples_path, paths.samples_keys),
]


def as_strings(keys):
    return {k: str(v) for k, v in keys.items()}


@pytest.mark.parametrize(("forward", "inverse"), FOLD_ARTEFACTS)
def test_drift_model_artefacts_round_trip(forward, inverse):
    path = forward(**MODEL_KEYS)
    assert inverse(path) == as_strings(MODEL_KEYS)
    # an absolute path, or a results folder elsewhere, ending in the layout path
    assert inverse(f"/abs/run1/{path}") == as_strings(MODEL_KEYS)


def test_the_three_drift_artefacts_do_not_read_each_other():
    for i, (forward, _) in enumerate(FOLD_ARTEFACTS):
        path = forward(**MODEL_KEYS)
        assert [inverse(path) is not None for _, inverse in FOLD_ARTEFACTS] == [j == i for j in range(len(FOLD_ARTEFACTS))]


@pytest.mark.parametrize("path", [
    "results/models/microscopy/none/100/bi-s-me/fold0.csv",  # wrong suffix
    "results/models/microscopy/none/1.0/bi-s-me/fold0.pt",  # an intensity that is not a slug
    "results/models/microscopy/none/100/bi,s,me/fold0.pt",  # a view label, not its slug
    "results/models/microscopy/none/100/bi-x-me/fold0.pt",  # not a view slug
    "results/models/microscopy/none/100/bi-s-me/foldA.pt",
    "results/models/microscopy/100/bi-s-me/fold0.pt",  # a key missing
    "results/models/microscopy/none/100/bi-s-me/fold0.pt.bak",
    "results/robust/microscopy/models/bi-s-me/fold0.pt",  # another artefact
    "other/models/microscopy/none/100/bi-s-me/fold0.pt",  # not under a results folder
    "xresults/models/microscopy/none/100/bi-s-me/fold0.pt",  # not at a folder boundary
    "results/models/{dataset}/{aug}/{intensity}/{view}/fold{fold}.pt",  # a pattern, not a path
])
def test_foreign_paths_are_refused_with_none(path):
    assert paths.model_keys(path) is None


@pytest.mark.parametrize("name", ["raw.npy", "targets.npy", "meta.json"])
def test_prepared_arrays_and_views_round_trip(name):
    assert paths.data_file_keys(paths.data_file("microscopy", "050", name)) == {"dataset": "microscopy", "intensity": "050", "name": name}
    assert paths.view_keys(paths.view_path("custom", "100", "ma-u-ga")) == {"dataset": "custom", "intensity": "100", "view": "ma-u-ga"}
    assert paths.data_file_keys(paths.data_file("microscopy", "050", "other.npy")) is None
    assert paths.view_keys(paths.view_path("microscopy", "100", "ma-u-ga").replace(".npy", ".png")) is None
    assert paths.view_keys(paths.data_file("microscopy", "050", name)) is None


def test_a_checkpoint_without_a_dataset_gets_it_from_its_view_path():
    from lens2logit.tracking.references import checkpoint_identity

    def ckpt(views_path):
        return {"state_dict": {}, "arch": "small_cnn", "kind": "classification", "config": {"views_path": views_path}}

    assert checkpoint_identity(ckpt("/w/" + paths.view_path("drone_classification", "100", "bi-s-me")))[1] == "drone_classification"
    assert checkpoint_identity(ckpt(paths.view_path("custom", "100", "bi-s-me")))[1] is None  # its kind is not fixed
    assert checkpoint_identity(ckpt("/elsewhere/microscopy/views.npy"))[1] is None


def test_job_benchmarks_round_trip():
    keys = {k: v for k, v in MODEL_KEYS.items() if k != "fold"}
    path = paths.job_benchmark_path("train_models", **keys)
    assert paths.job_benchmark_keys(path) == {"rule": "train_models", **keys}
    assert path.endswith("bi-s-me.tsv")
    assert paths.job_benchmark_keys(path.replace(".tsv", ".log")) is None


@pytest.mark.parametrize("epoch", [1, 12, 250, 1000])
def test_customization_stage_names_round_trip_and_sort_by_epoch(epoch):
    name = paths.customization_stage_name("parametrized", "001", epoch)
    assert paths.customization_stage_keys(name) == {"processing": "parametrized", "intensity": "001", "epoch": f"{epoch:03d}"}
    assert int(paths.customization_stage_keys(f"results/customization/microscopy/stages/{name}")["epoch"]) == epoch
    assert name == f"parametrized_001_epoch{epoch:03d}.png"
    assert sorted(paths.customization_stage_name("neural", "100", e) for e in range(1, 100)) == [
        paths.customization_stage_name("neural", "100", e) for e in range(1, 100)]


@pytest.mark.parametrize("role", ["classifier", "isp"])
def test_customization_model_names_round_trip(role):
    name = paths.customization_model_name(role, "neural", "050", 1)
    assert name == f"{role}_neural_050_fold1.pt"
    assert paths.customization_model_keys(name) == {"role": role, "processing": "neural", "intensity": "050", "fold": "1"}


@pytest.mark.parametrize("name", [
    "model_neural_050_fold1.pt",  # unknown role
    "classifier_neural_0.5_fold1.pt",
    "classifier_neural_050_fold1.png",
    "classifier_neural_050.pt",
    "neural_050_epoch001.pt",
    "neural_050_epoch.png",
])
def test_foreign_customization_names_are_refused(name):
    assert paths.customization_model_keys(name) is None and paths.customization_stage_keys(name) is None


def test_forward_functions_take_wildcards_for_rule_patterns():
    assert paths.customization_stage_name("{processing}", "{intensity}", "{epoch}") == "{processing}_{intensity}_epoch{epoch}.png"
    assert paths.model_path("{dataset}", "{aug}", "{intensity}", "{view}", "{fold}") == paths.MODEL.text


def test_templates_only_take_known_plain_wildcards():
    with pytest.raises(ValueError, match="not a plain wildcard"):
        paths.Template("results/{colour}.png").regex
    with pytest.raises(ValueError, match="not a plain wildcard"):
        paths.Template("results/{epoch:03d}.png").regex
    assert paths.Template("{dataset}/{dataset}.json").keys("a/a.json") == {"dataset": "a"}
    assert paths.Template("{dataset}/{dataset}.json").keys("a/b.json") is None


def test_results_relative_paths():
    assert paths.under_results("results/models/x.pt") == "models/x.pt"
    assert paths.in_results("models/x.pt") == "results/models/x.pt"
    with pytest.raises(ValueError):
        paths.under_results("logs/x.log")


# ------------------------------------------------------------------ the lab log reads through them
def write_benchmark(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:01\t100.0\t{seconds / 2}\n")


def test_job_benchmark_reads_its_views_training_job(tmp_path):
    from lens2logit.tracking.collect import job_benchmark

    results = tmp_path / "elsewhere"  # a results folder under any name
    keys = ("microscopy", "none", "100", "bi-s-me")
    write_benchmark(results / paths.under_results(paths.job_benchmark_path("train_models", *keys)), 8.0)
    assert job_benchmark(results, "train_models", *keys) == {"wall_time_s": 8.0, "cpu_time_s": 4.0, "max_rss_mb": 100.0}
    assert job_benchmark(results, "evaluate_models", *keys) == {}


def test_customization_runs_get_the_stage_grids_and_models_named_by_paths(tmp_path):
    from lens2logit.tracking.collect import customization_records

    results = tmp_path / "results"
    folder = results / paths.under_results(paths.stage_file("customization", "microscopy", ""))
    folder.mkdir(parents=True)
    (folder / "curves.csv").write_text(
        "processing,intensity,epoch,fold,split,metric,value\n"
        + "".join(f"neural,0.01,{e},{k},val,accuracy,0.{e}\n" for e in (1, 2) for k in (0, 1)))
    stages = results / paths.under_results(paths.customization_stages_dir("microscopy"))
    models = results / paths.under_results(paths.customization_models_dir("microscopy"))
    stages.mkdir()
    models.mkdir()
    for epoch in (2, 1):
        (stages / paths.customization_stage_name("neural", "001", epoch)).write_bytes(b"png")
    (stages / "neural_001_last.png").write_bytes(b"not a stage grid")
    (stages / paths.customization_stage_name("neural", "005", 1)).write_bytes(b"another intensity")
    for fold in (0, 1):
        (models / paths.customization_model_name("isp", "neural", "001", fold)).write_bytes(b"isp")
    (models / "notes_neural_001_fold0.pt").write_bytes(b"not a model")

    runs = {r.key: r for r in customization_records(results)}
    first, second = runs["customization/microscopy/neural/001/fold0"], runs["customization/microscopy/neural/001/fold1"]
    assert [(p.name, d) for p, d in first.artifacts] == [("neural_001_epoch001.png", "stages/epoch_001"), ("neural_001_epoch002.png", "stages/epoch_002")]
    assert second.artifacts == []  # stage grids are of the first fold
    assert [(m.name, m.checkpoint.name) for m in first.models] == [("isp.microscopy.001.neural.fold0", "isp_neural_001_fold0.pt")]
    assert [(m.name, m.checkpoint.name) for m in second.models] == [("isp.microscopy.001.neural.fold1", "isp_neural_001_fold1.pt")]
    assert [(k, v, step) for k, v, step in first.metrics] == [("val_accuracy", 0.1, 1), ("val_accuracy", 0.2, 2)]
