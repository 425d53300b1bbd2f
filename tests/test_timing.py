"""lens2logit.study.timing: Snakemake benchmark files summed per rule."""

from __future__ import annotations

import pandas as pd
import pytest

from lens2logit.errors import InputError
from lens2logit.study.timing import timing_table, write_timing

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root, rel, seconds, cpu="1.0", rss="100.5"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_sums_jobs_per_rule_longest_first(tmp_path):
    b = tmp_path / "benchmarks"
    bench(b, "train_model/microscopy/weak/100/bi-s-ga/fold0.tsv", 3.0, cpu="2.5", rss="300")
    bench(b, "train_model/microscopy/weak/100/bi-s-ga/fold1.tsv", 5.0, cpu="4.5", rss="310")
    bench(b, "render_views/microscopy/static.tsv", 1.5, cpu="-", rss="-")  # unmeasured fields
    bench(b, "summarize/summary.tsv", 0.5)
    table = timing_table(b)
    assert table["rule"].tolist() == ["train_model", "render_views", "summarize"]
    row = table.iloc[0]
    assert (row.jobs, row.total_s, row.mean_s, row.max_s, row.cpu_s, row.max_rss_mb) == (2, 8.0, 4.0, 5.0, 7.0, 310.0)
    assert table.iloc[1].jobs == 1 and pd.isna(table.iloc[1].max_rss_mb)

    write_timing(b, tmp_path / "timing.csv", tmp_path / "timing.md")
    assert pd.read_csv(tmp_path / "timing.csv")["jobs"].sum() == 4
    md = (tmp_path / "timing.md").read_text()
    assert "| train_model | 2 | 8.0 |" in md and "| **total** | 4 | 10.0 |" in md


def test_no_benchmarks_gives_an_empty_table(tmp_path):
    assert timing_table(tmp_path).empty


def test_a_broken_benchmark_file_is_named(tmp_path):
    bad = tmp_path / "b" / "train_model" / "x.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("wall\n1\n")
    with pytest.raises(InputError, match="x.tsv"):
        timing_table(tmp_path / "b")
