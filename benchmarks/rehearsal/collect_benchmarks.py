"""Per-job table from results/benchmarks/**/*.tsv: wall s, CPU s, peak RSS MB, MB written."""
import csv
from pathlib import Path
for tsv in sorted(Path("results/benchmarks").rglob("*.tsv")):
    rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
    r = rows[-1]
    print(f"| {tsv.relative_to('results/benchmarks').with_suffix('')} | {float(r['s']):.0f} | {float(r['cpu_time']):.0f} | {float(r['max_rss']):.0f} | {float(r['io_out']):.0f} |")
