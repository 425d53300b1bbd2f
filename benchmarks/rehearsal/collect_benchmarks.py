"""The per-rule table of docs/paper-scale.md from a run's Snakemake benchmark files.

Usage: python benchmarks/rehearsal/collect_benchmarks.py [RESULTS_BENCHMARKS]   (default results/benchmarks)
One row per (rule, dataset): jobs, CPU s (user + system), wall s, peak RSS GB, and each job's CPU s
when there are several; then the total CPU time.
"""

import csv
import sys
from collections import defaultdict
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/benchmarks")
groups = defaultdict(list)
for tsv in sorted(root.rglob("*.tsv")):
    rel = tsv.relative_to(root).with_suffix("")
    last = list(csv.DictReader(tsv.open(), delimiter="\t"))[-1]  # a rerun job appends its row
    rule, dataset, rest = rel.parts[0], (rel.parts[1] if len(rel.parts) > 1 else ""), "/".join(rel.parts[2:])
    groups[(rule, dataset)].append((rest, float(last["s"]), float(last["cpu_time"]), float(last["max_rss"])))
total = 0.0
for (rule, dataset), jobs in sorted(groups.items()):
    cpu = sum(j[2] for j in jobs)
    total += cpu
    each = "; ".join(f"{j[0]} {j[2]:.0f}" for j in jobs) if len(jobs) > 1 else ""
    print(f"| `{rule}` | {dataset} | {len(jobs)} | {cpu:.0f} | {sum(j[1] for j in jobs):.0f} | "
          f"{max(j[3] for j in jobs) / 1024:.1f} | {each} |")
print(f"\ntotal CPU: {total:.0f} s = {total / 3600:.2f} h")
