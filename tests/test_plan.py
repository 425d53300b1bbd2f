"""The workflow's plan (lens2logit.workflow.plan) without Snakemake: test sets, render jobs, targets,
robust datasets, job granularity, model references; and the results layout (workflow.paths)."""

from __future__ import annotations

import copy
import re

import pytest

from conftest import TEST_CONFIG
from lens2logit.schema import with_defaults
from lens2logit import paths
from lens2logit.workflow.plan import build_plan, fetched_sources, other_intensity_views

REF = "100"
# configs/test.yaml: views bi,s,ga (intensity drift, forensics, customization), ma,s,ga, me,u,ga (unsharp).
BI, MA, ME = "bi-s-ga", "ma-s-ga", "me-u-ga"
EVERY_DATASET = ["microscopy", "drone_segmentation", "drone_classification"]


def plan_of(**sections):
    """The plan of configs/test.yaml with ``sections`` merged in (one level deep), schema defaults filled."""
    config = copy.deepcopy(TEST_CONFIG)
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return build_plan(with_defaults(config))


def test_models_at_the_reference_intensity_are_scored_on_every_view():
    plan = plan_of()
    assert plan.view_slugs == [BI, MA, ME] and plan.primary_aug == "weak"
    assert plan.test_sets("weak", REF, MA) == [(BI, REF), (MA, REF), (ME, REF)]


def test_the_intensity_drift_models_are_also_scored_at_every_intensity():
    plan = plan_of()  # intensity_drift: view bi,s,ga at 0.05 and 1.0
    # trained at full light: every view, plus its own view at 0.05 (full light listed once)
    assert plan.test_sets("weak", REF, BI) == [(BI, REF), (MA, REF), (ME, REF), (BI, "005")]
    # trained at 0.05: its own view at each intensity only
    assert plan.test_sets("weak", "005", BI) == [(BI, "005"), (BI, REF)]
    # another augmentation than the primary one is no intensity-drift model
    assert plan_of(drift={"augmentations": ["weak", "none"]}).test_sets("none", REF, BI) == [(BI, REF), (MA, REF), (ME, REF)]


def test_no_intensity_test_sets_when_intensity_drift_is_disabled():
    plan = plan_of(intensity_drift={"enabled": False})
    assert plan.test_sets("weak", REF, BI) == [(BI, REF), (MA, REF), (ME, REF)]
    assert plan.test_sets("weak", "005", BI) == []


def test_one_evaluation_job_per_dataset_scores_every_model_on_its_test_sets():
    plan = plan_of()  # intensity_drift: view bi,s,ga at 0.05 and 1.0
    keys = plan.evaluation_keys()
    n_drift = len(plan.view_slugs) * len(plan.folds)
    # the drift models (every view and fold at full light), then the intensity-drift models below it, each once
    assert keys[:n_drift] == [("weak", REF, v, k) for v in (BI, MA, ME) for k in plan.folds]
    assert keys[n_drift:] == [("weak", "005", BI, k) for k in plan.intensity_folds]
    assert plan.evaluation_models("microscopy")[-1] == f"results/models/microscopy/weak/005/{BI}/fold{plan.intensity_folds[-1]}.pt"
    assert plan.evaluation_files(paths.metrics_path)[0] == f"results/metrics/{{dataset}}/weak/100/{BI}/fold0.csv"
    jobs = plan.evaluation_jobs("microscopy")
    assert len(jobs) == len(keys)
    low = jobs[keys.index(("weak", "005", BI, 0))]
    assert low["train"] == {"train_view": "bi,s,ga", "train_intensity": 0.05, "augmentation": "weak", "fold": 0}
    assert [(t["views"], t["targets"], t["test_view"], t["test_intensity"]) for t in low["test_sets"]] == [
        ("results/views/microscopy/005/bi-s-ga.npy", "results/data/microscopy/005/targets.npy", "bi,s,ga", 0.05),
        ("results/views/microscopy/100/bi-s-ga.npy", "results/data/microscopy/100/targets.npy", "bi,s,ga", 1.0)]
    # the job reads each test set once: 3 views at full light and bi,s,ga at 0.05
    test_sets = plan.evaluation_test_sets("microscopy")
    assert len(test_sets) == len(set(test_sets)) == 4
    assert ("results/views/microscopy/005/bi-s-ga.npy", "results/data/microscopy/005/targets.npy") in test_sets
    # without intensity drift, the drift models alone
    assert plan_of(intensity_drift={"enabled": False}).evaluation_keys() == keys[:n_drift]


def test_render_jobs_split_static_unsharp_and_other_intensities():
    plan = plan_of()
    assert (plan.ref_static_slugs, plan.ref_unsharp_slugs) == ([BI, MA], [ME])
    # intensity drift and customization both need bi,s,ga at 0.05: one file; full light is the reference jobs'
    assert plan.other_intensity_views == {"005": [BI]}
    assert plan.other_intensity_view_files() == ["results/views/{dataset}/005/bi-s-ga.npy"]
    assert plan.other_intensity_data("raw.npy") == ["results/data/{dataset}/005/raw.npy"]
    assert plan.other_intensity_unsharp == "paper"
    assert plan.ref_view_files(plan.ref_unsharp_slugs) == ["results/views/{dataset}/100/me-u-ga.npy"]


def test_the_other_intensity_job_takes_the_unsharp_option_only_for_an_unsharp_view():
    assert plan_of(unsharp="2d").other_intensity_unsharp == "paper"  # bi,s,ga is not unsharp-masked
    plan = plan_of(unsharp="2d", intensity_drift={"view": "me,u,ga"})
    assert plan.other_intensity_views == {"005": [ME, BI]}
    assert plan.other_intensity_unsharp == "2d"


def test_other_intensity_views_sorted_deduplicated_without_the_reference():
    views = other_intensity_views([("100", "a"), ("050", "a"), ("005", "a")], [("050", "b"), ("050", "a")])
    assert views == {"005": ["a"], "050": ["a", "b"]}
    assert other_intensity_views([], []) == {}


def test_no_other_intensity_views_when_neither_study_needs_them():
    plan = plan_of(intensity_drift={"enabled": False}, customization={"enabled": False})
    assert plan.other_intensity_views == {}
    assert plan.rendered_view_outputs() == plan.view_outputs()
    assert len(plan.view_outputs()) == len(plan.datasets) * 3 == 6  # 2 datasets × 3 views


def test_rendered_views_add_the_other_intensities_once():
    plan = plan_of()
    extra = [p for p in plan.rendered_view_outputs() if "/005/" in p]
    assert extra == [f"results/views/{t}/005/bi-s-ga.npy" for t in plan.datasets]


def test_targets_follow_the_enabled_stages():
    every = plan_of(datasets=EVERY_DATASET, tracking={"enabled": False})
    final = every.final_outputs()
    assert "results/corruptions/microscopy/comparison.csv" in final
    assert "results/intensity/drone_segmentation/matrix.png" in final
    assert "results/customization/drone_classification/verdict.csv" in final
    assert final[-1] == "results/summary.md"
    assert every.summary_inputs("corruptions") == [f"results/corruptions/{t}/comparison.csv" for t in every.datasets]

    none = plan_of(corruptions={"enabled": False}, intensity_drift={"enabled": False}, forensics={"enabled": False},
                   customization={"enabled": False}, qa={"enabled": False}, tracking={"enabled": False})
    assert none.final_outputs() == none.drift_outputs() + none.findings_outputs() + ["results/summary.md"]
    assert all(none.summary_inputs(s) == [] for s in ("corruptions", "intensity", "forensics", "customization", "qa"))
    assert none.corruption_samples("microscopy") == []
    assert every.corruption_samples("microscopy") == [f"results/corruption_samples/microscopy/weak/{v}.csv" for v in (BI, MA, ME)]


def test_tracking_adds_the_ingest_target_and_its_inputs_pair_metrics_with_models():
    plan = plan_of(tracking={"enabled": True})
    assert plan.final_outputs()[-1] == "results/mlflow/ingest.json"
    files = plan.tracking_inputs()
    assert files == sorted(set(files))
    metrics = [f for f in files if f.startswith("results/metrics/")]
    models = [f for f in files if f.startswith("results/models/")]
    # 2 datasets × (3 views × 2 folds + intensity drift at 0.05 × 1 fold; at full light it is a drift model)
    assert len(metrics) == len(models) == 2 * (3 * 2 + 1)
    assert [m.replace("results/metrics/", "").removesuffix(".csv") for m in metrics] == [
        m.replace("results/models/", "").removesuffix(".pt") for m in models]
    assert "results/models/microscopy/weak/005/bi-s-ga/fold0.pt" in models
    assert "results/models/microscopy/weak/005/bi-s-ga/fold1.pt" not in models  # intensity_drift.folds: 1
    assert {f"results/forensics/{t}/attacks.json" for t in plan.datasets} <= set(files)
    no_intensity = plan_of(tracking={"enabled": True}, intensity_drift={"enabled": False}).tracking_inputs()
    assert not [f for f in no_intensity if "/005/" in f]


def test_robust_datasets_are_filtered_and_targets_only_when_enabled():
    assert plan_of(robust={"enabled": True}).robust_outputs() == [
        "results/robust/microscopy/matrix.csv", "results/robust/microscopy/summary.json"]
    assert plan_of(robust={"enabled": False}).robust_outputs() == []
    for every in (None, []):
        assert plan_of(robust={"enabled": True, "datasets": every}).robust_datasets == TEST_CONFIG["datasets"]
    # a dataset the run does not train is skipped
    plan = plan_of(datasets=["drone_segmentation"], robust={"enabled": True, "datasets": ["microscopy", "drone_segmentation"]})
    assert plan.robust_datasets == ["drone_segmentation"]


def test_forensics_and_customization_run_on_their_datasets_only():
    plan = plan_of(datasets=EVERY_DATASET, forensics={"enabled": True, "datasets": ["microscopy"]},
                   customization={"enabled": True, "datasets": ["drone_segmentation", "drone_classification"]})
    assert plan.forensics_datasets == ["microscopy"]
    assert plan.forensics_outputs() == [f"results/forensics/microscopy/{n}" for n in ("table.csv", "figure.png")]
    assert plan.customization_datasets == ["drone_segmentation", "drone_classification"]
    assert {p.split("/")[2] for p in plan.customization_outputs()} == {"drone_segmentation", "drone_classification"}
    assert "results/forensics/microscopy/attacks.json" in plan.tracking_inputs()
    assert "results/forensics/drone_segmentation/attacks.json" not in plan.tracking_inputs()
    # the customization views below full light are targets only where the study runs
    only_drone = plan_of(intensity_drift={"enabled": False}, customization={"enabled": True, "datasets": ["drone_segmentation"]})
    low = [p for p in only_drone.rendered_view_outputs() if f"/{REF}/" not in p]
    assert low and all(p.startswith("results/views/drone_segmentation/") for p in low)
    # null or [] = every dataset; a name the run does not train is skipped
    for every in (None, []):
        assert plan_of(forensics={"enabled": True, "datasets": every}).forensics_datasets == TEST_CONFIG["datasets"]
    assert plan_of(datasets=["microscopy"], customization={"enabled": True, "datasets": ["microscopy", "drone_segmentation"]}
                   ).customization_datasets == ["microscopy"]


def test_robust_inputs_use_the_robust_folds_and_leave_one_view_out():
    plan = plan_of(drift={"folds": 3}, robust={"enabled": True, "folds": 2})
    assert plan.folds == [0, 1, 2] and plan.robust_folds == [0, 1]
    assert plan.robust_static_metrics("microscopy") == [
        f"results/metrics/microscopy/weak/100/{v}/fold{k}.csv" for v in (BI, MA, ME) for k in (0, 1)]
    # one job per dataset: every held-out view, every robust fold, view after view
    assert plan.robust_files(paths.robust_metrics_path) == [
        f"results/robust/{{dataset}}/metrics/{v}/fold{k}.csv" for v in (BI, MA, ME) for k in (0, 1)]
    assert plan.robust_training_inputs("microscopy") == {}
    isp_random = plan_of(robust={"enabled": True, "regime": "isp_random"})
    assert isp_random.robust_training_inputs("microscopy") == {"raw": "results/data/microscopy/100/raw.npy"}


def test_use_folds_limits_every_study_to_the_first_folds():
    plan = plan_of(drift={"folds": 4, "use_folds": 2})
    assert plan.folds == [0, 1]
    assert plan.drift_metrics("microscopy")[-1] == "results/metrics/microscopy/weak/100/me-u-ga/fold1.csv"
    assert plan.corruption_models("microscopy", "weak", MA) == [f"results/models/microscopy/weak/100/{MA}/fold{k}.pt" for k in (0, 1)]


def test_one_training_job_per_view_writes_its_folds():
    plan = plan_of(intensity_drift={"enabled": True, "folds": 1})
    assert plan.fold_files(paths.model_path, plan.folds) == [
        "results/models/{dataset}/{aug}/{intensity}/{view}/fold0.pt", "results/models/{dataset}/{aug}/{intensity}/{view}/fold1.pt"]
    assert plan.fold_files(paths.model_path, plan.intensity_folds) == ["results/models/{dataset}/{aug}/{intensity}/{view}/fold0.pt"]
    # the twin rule (the intensity-drift models) takes every intensity but the reference
    assert re.fullmatch(plan.other_intensity, "010") and not re.fullmatch(plan.other_intensity, REF)


def test_model_references_become_per_dataset_files_of_the_resolving_rule(tmp_path):
    config = copy.deepcopy(TEST_CONFIG)
    config["forensics"]["model"] = "models:/m/1"
    local = tmp_path / "isp.pt"
    local.write_bytes(b"")
    config["customization"]["isp"] = {"microscopy": str(local)}
    plan = build_plan(with_defaults(config))  # planning resolves nothing: no tracking server here
    assert plan.forensics_models("drone_segmentation") == ["results/references/drone_segmentation/forensics.model.pt"]
    assert plan.customization_start("microscopy") == {"isp": "results/references/microscopy/customization.isp.pt"}
    assert plan.customization_start("drone_segmentation") == {}
    assert plan.reference_files("microscopy", "customization.isp") == [str(local)]  # the rule's input
    assert plan.reference_files("microscopy", "forensics.model") == []  # fetched from the registry
    assert plan.model_references[("microscopy", "forensics.model")] == "models:/m/1"

    config["forensics"]["enabled"] = False
    assert not any(option == "forensics.model" for _, option in build_plan(with_defaults(config)).model_references)
    config["customization"]["isp"] = {"nowhere": "x.pt"}
    with pytest.raises(ValueError, match="customization.isp: unknown dataset"):
        build_plan(with_defaults(config))
    config["customization"]["isp"] = "missing/isp.pt"
    with pytest.raises(ValueError, match="customization.isp: missing/isp.pt: checkpoint file not found"):
        build_plan(with_defaults(config))
    config["customization"]["isp"] = "results/models/microscopy/weak/100/bi-s-ga/fold0.pt"  # made by the workflow
    assert build_plan(with_defaults(config)).reference_files("microscopy", "customization.isp") == [config["customization"]["isp"]]


def test_forensics_without_a_reference_attacks_the_trained_static_models():
    plan = plan_of()
    assert plan.forensics_models("microscopy") == ["results/models/microscopy/weak/100/bi-s-ga/fold0.pt"]


def test_fetched_sources_are_the_registry_folders_the_workflow_can_make():
    assert fetched_sources() == ["microscopy", "drone"]


def test_paths_of_one_model_share_their_keys_and_take_wildcards():
    keys = ("microscopy", "none", "005", BI, 1)
    assert paths.model_path(*keys) == "results/models/microscopy/none/005/bi-s-ga/fold1.pt"
    assert paths.metrics_path(*keys) == "results/metrics/microscopy/none/005/bi-s-ga/fold1.csv"
    assert paths.samples_path(*keys) == "results/samples/microscopy/none/005/bi-s-ga/fold1.csv"
    assert paths.view_path("{dataset}", REF, "{view}") == "results/views/{dataset}/100/{view}.npy"


def test_planning_imports_neither_torch_nor_pandas():
    """What the Snakefile and rules/common.smk import, the plan-time checks and the plan of the default
    and the test config load no PyTorch, pandas or smp: `snakemake -n` stays quick, and every cluster
    job, which parses the workflow again before its script starts, pays none of it."""
    import subprocess
    import sys

    from conftest import REPO

    modules = sorted({m for name in ("Snakefile", "rules/common.smk")
                      for m in re.findall(r"^from (lens2logit[\w.]*) import", (REPO / name).read_text(), re.M)})  # fmt: skip
    assert "lens2logit.workflow.plan" in modules
    code = "\n".join([
        "import importlib, sys, yaml", *(f"importlib.import_module({m!r})" for m in modules),
        "from lens2logit.workflow.config import check_config",
        "from lens2logit.schema import with_defaults",
        "from lens2logit.data.registry import check_datasets", "from lens2logit.workflow.plan import build_plan",
        *(f"config = with_defaults(yaml.safe_load(open({str(REPO / name)!r})))\n"
          "check_config(config); check_datasets(config); build_plan(config)" for name in ("config.yaml", "configs/test.yaml")),
        "print(sorted({'torch', 'pandas', 'segmentation_models_pytorch'} & set(sys.modules)))",
    ])  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
