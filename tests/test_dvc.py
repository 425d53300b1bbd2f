"""DVC: the session's study (configs/test.yaml, run by Snakemake) is versioned and pushed with
`make share`, and pulled into fresh clones, where `snakemake -n` has nothing to do.

Everything happens in temp copies: the real repository's .dvc cache, remote and results are
never touched. Remotes: the committed default local-directory remote (path overridden in
.dvc/config.local) and the committed S3-compatible `b2` remote pointed at a moto server on
127.0.0.1. The real workflow runs; nothing is mocked.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, free_port, run, snakemake_has_nothing_to_do, tool_env

sys.path.insert(0, str(REPO / "scripts" / "dvc"))
from tracked import tracked_outs  # noqa: E402

pytestmark = pytest.mark.slow


def clone(study, name: str, remote_url: Path | None = None) -> Path:
    dest = study.base / name
    run(["git", "clone", "-q", str(study.origin), str(dest)], study.base)
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote_url or study.remote)], dest)
    return dest


def pull(repo: Path, *args: str, env=None, check=True):
    """`make pull`: dvc pull, clear errors about corrupted objects, one mtime for all outputs."""
    return run([str(BIN / "python"), "scripts/dvc/pull.py", *args], repo, env=env, check=check)


def workspace_vs_dvc_files(repo: Path) -> tuple[list[str], list[str], list[str]]:
    """(correct, wrong, missing) files of every output of the committed .dvc files, by content hash."""
    correct, wrong, missing = [], [], []
    cache = repo / ".dvc/cache/files/md5"

    def check(path: Path, md5: str):
        if not path.exists():
            missing.append(str(path))
        elif hashlib.md5(path.read_bytes()).hexdigest() == md5:
            correct.append(str(path))
        else:
            wrong.append(str(path))

    for out in tracked_outs(repo):
        md5 = out["md5"]
        if md5.endswith(".dir"):
            manifest = cache / md5[:2] / md5[2:]
            if not manifest.exists():  # directory never fetched: all of it is missing
                missing.append(out["name"])
                continue
            for entry in json.loads(manifest.read_text()):
                check(out["path"] / entry["relpath"], entry["md5"])
        else:
            check(out["path"], md5)
    return correct, wrong, missing


def dvc_status(repo: Path) -> dict:
    return json.loads(run(["dvc", "status", "--json"], repo).stdout or "{}")


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a Snakemake dry run."""
    counts, in_table = {}, False
    for line in dry_run_output.splitlines():
        if line.startswith("Job stats"):
            in_table = True
        elif in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
                counts[parts[0]] = int(parts[1])
            elif parts and parts[0] == "total":
                break
    return counts


# ---- the study itself --------------------------------------------------------------------


def test_share_versions_the_study_with_metrics_and_plots(dvc_study):
    origin = dvc_study.origin
    assert dvc_status(origin) == {}, "dvc status must be clean right after make share"
    nothing, out = snakemake_has_nothing_to_do(origin)
    assert nothing, out[-3000:]
    committed = set(run(["git", "ls-files", "*.dvc"], origin).stdout.split())
    assert committed == {"data/test.dvc", "results.dvc", ".snakemake/metadata.dvc"}, committed
    assert "git add data/test.dvc results.dvc .snakemake/metadata.dvc" in dvc_study.seconds["share_output"]
    assert run(["git", "status", "--porcelain"], origin).stdout == "", "sharing leaves the git tree clean"
    # the lab log's index stays local (absolute paths), its ingest record travels
    names = {Path(o["name"]) for o in tracked_outs(origin)}
    assert Path("results") in names
    results_md5 = next(o["md5"] for o in tracked_outs(origin) if o["name"] == "results")
    manifest = json.loads((origin / ".dvc/cache/files/md5" / results_md5[:2] / results_md5[2:]).read_text())
    relpaths = {e["relpath"] for e in manifest}
    assert "mlflow/ingest.json" in relpaths and not any(r.startswith("mlflow/") and r != "mlflow/ingest.json" for r in relpaths)

    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], origin).stdout)
    summary = metrics[""]["data"]["results/drift/microscopy/summary.json"]["data"]
    for key in ("metric", "diagonal_mean", "off_diagonal_mean"):
        assert key in summary, summary
    assert 0.0 <= summary["diagonal_mean"] <= 1.0

    plots = run(["dvc", "plots", "show", "--json"], origin).stdout
    data = json.loads(plots)["data"]  # "errors" lists the datasets this config does not run
    rendered = data["results/drift/microscopy/matrix.csv"][0]["content"]
    values = rendered["data"]["values"]
    matrix = (origin / "results/drift/microscopy/matrix.csv").read_text().splitlines()
    assert len(values) == len(matrix) - 1
    assert {"train_view", "test_view", "mean"} <= set(values[0])
    print(f"\n[timing] copy {dvc_study.seconds['copy']:.1f}s, make share (dvc add + push) {dvc_study.seconds['share']:.1f}s")


def test_share_refuses_a_study_with_work_left(dvc_study):
    """A fresh clone without its results: `snakemake -n` has jobs, so nothing is added or pushed."""
    repo = clone(dvc_study, "clone_unpulled")
    proc = run([str(BIN / "python"), "scripts/dvc/share.py"], repo, check=False)
    assert proc.returncode == 1 and "is not complete" in proc.stderr and "make run" in proc.stderr, proc.stderr[-2000:]
    assert run(["git", "status", "--porcelain"], repo).stdout == "" and not (repo / "results").exists()


# ---- fresh clone + pull from the local-directory remote ----------------------------------


@pytest.fixture(scope="module")
def pulled(dvc_study):
    """A fresh clone and a bare `dvc pull`: no helper script, no time fixing."""
    repo = clone(dvc_study, "clone_local")
    assert not (repo / "results").exists()
    t = time.monotonic()
    run(["dvc", "pull"], repo)
    print(f"\n[timing] clone + dvc pull {time.monotonic() - t:.1f}s")
    return repo


def test_pull_restores_every_artifact(pulled):
    correct, wrong, missing = workspace_vs_dvc_files(pulled)
    assert not wrong and not missing, (wrong, missing)
    assert len(correct) > 50
    assert (pulled / ".snakemake/metadata").is_dir()
    assert dvc_status(pulled) == {}


def test_pulled_study_has_nothing_to_do(pulled):
    nothing, out = snakemake_has_nothing_to_do(pulled)
    assert nothing, out[-3000:]


def test_pulled_file_times_do_not_matter_contents_do(pulled):
    """Whatever order a pull writes files in, Snakemake compares contents (checksums recorded in the
    versioned metadata), not times; a changed file still reruns what depends on it."""
    import random

    files = sorted(p for p in (pulled / "results").rglob("*") if p.is_file())
    files += sorted(p for p in (pulled / "data").rglob("*") if p.is_file())
    rng = random.Random(0)
    now = time.time()  # never before the clone: older outputs than scripts count as code changes
    for path in files:
        t = now + rng.uniform(0, 1000)
        os.utime(path, (t, t))
    nothing, out = snakemake_has_nothing_to_do(pulled)
    assert nothing, out[-3000:]

    # a file with other content reruns its dependents; its old content back, nothing to do
    splits = pulled / "results/splits/microscopy.json"
    original = splits.read_bytes()
    splits.write_bytes(original + b"\n")
    edited = now + 2000  # an edit after the pull: newer than every pulled file
    os.utime(splits, (edited, edited))
    try:
        nothing, out = snakemake_has_nothing_to_do(pulled)
        assert not nothing and "train_models" in job_counts(out), out[-3000:]
    finally:
        splits.write_bytes(original)
        os.utime(splits, (edited, edited))
    nothing, out = snakemake_has_nothing_to_do(pulled)
    assert nothing, out[-3000:]

    # files too large to be checksummed (as with `--max-checksum-file-size 1`) fall back to
    # times: then `make pull`'s sync_mtimes is what makes the pulled study current
    nothing, out = snakemake_has_nothing_to_do(pulled, "--max-checksum-file-size", "1")
    assert not nothing and job_counts(out).keys() & {"render_views", "render_views_unsharp"}, out[-3000:]
    run([str(BIN / "python"), "scripts/dvc/sync_mtimes.py"], pulled)
    nothing, out = snakemake_has_nothing_to_do(pulled, "--max-checksum-file-size", "1")
    assert nothing, out[-3000:]


def test_config_change_reruns_exactly_the_affected_jobs(pulled):
    config = yaml.safe_load((pulled / "config.yaml").read_text())
    config["corruptions"]["severity"] = config["corruptions"]["severity"] % 5 + 1
    (pulled / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    _, out = snakemake_has_nothing_to_do(pulled)
    datasets = len(config["datasets"])
    assert job_counts(out) == {
        "score_corruptions": datasets * len(config["views"]),  # one job per view
        "aggregate_corruptions": datasets,
        "qa": datasets,  # reads the corruption scoring's per-sample records
        "bootstrap_findings": datasets,  # the corruption ÷ ISP-drift ratio reads them too
        "summarize": 1,
        "timing": 1,
        "ingest_mlflow": 1,  # the lab log takes in the new corruption tables
        "all": 1,
    }, out[-3000:]

    untouched = sorted((pulled / "results/models").rglob("*.pt")) + sorted((pulled / "results/metrics").rglob("*.csv"))
    before = {p: p.stat().st_mtime_ns for p in untouched}
    # per-sample confidences change with the corrupted inputs even where a tiny test model's accuracy does not
    records = sorted((pulled / "results/corruption_samples/microscopy").rglob("*.csv"))
    old_records = [p.read_bytes() for p in records]
    t = time.monotonic()
    run(["snakemake", "--cores", "2"], pulled, timeout=1200)
    print(f"\n[timing] snakemake after one config change {time.monotonic() - t:.1f}s")
    assert {p: p.stat().st_mtime_ns for p in untouched} == before, "models/metrics must not be recomputed"
    assert all(new != old for new, old in zip((p.read_bytes() for p in records), old_records, strict=True))
    assert "results.dvc" in json.dumps(dvc_status(pulled)), "DVC sees the new results"
    run(["git", "commit", "-q", "-am", "corruption severity"], pulled)
    run([str(BIN / "python"), "scripts/dvc/share.py"], pulled)
    assert dvc_status(pulled) == {}
    nothing, out = snakemake_has_nothing_to_do(pulled)
    assert nothing, out[-3000:]


# ---- the same round trip over the S3 protocol (moto server on loopback) ------------------


@pytest.fixture(scope="module")
def moto_s3(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        import boto3

        url = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        for _ in range(100):
            try:
                s3.list_buckets()
                break
            except Exception:
                if proc.poll() is not None:
                    pytest.fail(f"moto_server exited with {proc.returncode}")
                time.sleep(0.1)
        s3.create_bucket(Bucket="lens2logit-test")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def use_moto(repo: Path, url: str):
    """Point the committed `b2` remote at moto, in the git-ignored .dvc/config.local only."""
    run(["dvc", "remote", "modify", "--local", "b2", "url", "s3://lens2logit-test/cache"], repo)
    run(["dvc", "remote", "modify", "--local", "b2", "endpointurl", url], repo)


def test_s3_round_trip(dvc_study, moto_s3):
    env = tool_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    use_moto(dvc_study.origin, moto_s3)
    t = time.monotonic()
    run(["dvc", "push", "-r", "b2"], dvc_study.origin, env=env)
    pushed = time.monotonic() - t

    repo = clone(dvc_study, "clone_s3", remote_url=dvc_study.base / "no-such-remote")
    use_moto(repo, moto_s3)
    t = time.monotonic()
    pull(repo, "-r", "b2", env=env)
    print(f"\n[timing] S3 push {pushed:.1f}s, pull {time.monotonic() - t:.1f}s")
    correct, wrong, missing = workspace_vs_dvc_files(repo)
    assert not wrong and not missing and correct, (wrong, missing)
    assert dvc_status(repo) == {}
    nothing, out = snakemake_has_nothing_to_do(repo)
    assert nothing, out[-3000:]
    committed = run(["git", "show", "HEAD:.dvc/config"], repo).stdout
    assert "verify = true" in committed and "testing" not in committed and "127.0.0.1" not in committed


# ---- failures: corrupted remote object, interrupted pull ---------------------------------


def test_corrupted_remote_object_is_detected(dvc_study):
    bad_remote = dvc_study.base / "remote_corrupted"
    subprocess.run(["cp", "-a", str(dvc_study.remote), str(bad_remote)], check=True)
    victim = dvc_study.origin / "results/drift/microscopy/summary.json"  # inside the tracked results folder
    md5 = hashlib.md5(victim.read_bytes()).hexdigest()
    obj = bad_remote / "files/md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_text('{"metric": "accuracy", "diagonal_mean": 1.0}')

    repo = clone(dvc_study, "clone_corrupted", remote_url=bad_remote)
    proc = pull(repo, check=False)
    assert proc.returncode != 0
    assert "failed verification" in proc.stderr and md5 in proc.stderr, proc.stderr[-3000:]
    assert "results/drift/microscopy/summary.json" in proc.stderr
    correct, wrong, missing = workspace_vs_dvc_files(repo)
    assert not wrong, wrong
    assert not (repo / "results/drift/microscopy/summary.json").exists()
    assert dvc_status(repo) != {}


def test_interrupted_pull_leaves_nothing_that_looks_complete(dvc_study):
    repo = clone(dvc_study, "clone_interrupted")
    proc = subprocess.Popen([str(BIN / "python"), "scripts/dvc/pull.py"], cwd=repo, env=tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if any((repo / "results").glob("*/*")):  # checkout has begun
                time.sleep(0.02)
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    correct, wrong, missing = workspace_vs_dvc_files(repo)
    if proc.returncode == 0 or not missing:
        pytest.skip("the pull finished before it could be interrupted")
    assert not wrong, f"files with wrong content after an interrupted pull: {wrong}"
    assert dvc_status(repo) != {}
    # partial files may remain, but only under DVC's temporary names, never an output's name
    names = {p.name for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert all(not n.endswith(".tmp") or re.search(r"\.[A-Za-z0-9_-]{22}\.tmp$", n) for n in names)
    pull(repo)
    correct, wrong, missing = workspace_vs_dvc_files(repo)
    assert not wrong and not missing
    assert dvc_status(repo) == {}
