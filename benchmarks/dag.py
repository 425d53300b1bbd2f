"""How long Snakemake takes to plan the paper-scale study (`-n`), against the embedded default.

Target here: the paper config's dry run in under 20 s. Prints both wall times, the paper run's
job count and the ratio paper / default (the baseline, measured in the same run).

    .venv/bin/python benchmarks/dag.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


# The paper config reads ImageNet weights from a local file the user provides; planning only checks
# that it exists, so the benchmark plans without it (same jobs, no weights).
NO_WEIGHTS = "training: {segmentation: {pretrained: null}}\n"


def dry_run(*configfiles: str) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(SNAKEMAKE), "--configfile", *configfiles, "-n", "--quiet", "rules", "--cores", "8"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    elapsed = time.perf_counter() - start
    total = re.search(r"^\s*total\s+(\d+)\s*$", proc.stdout, flags=re.M)
    return elapsed, int(total.group(1)) if total else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    default = min(dry_run("config.yaml") for _ in range(args.repeats))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as no_weights:
        no_weights.write(NO_WEIGHTS)
        no_weights.flush()
        paper = min(dry_run("configs/paper.yaml", no_weights.name) for _ in range(args.repeats))
    print(f"default config dry run: {default[0]:.1f} s ({default[1]} jobs)")
    print(f"paper config dry run:   {paper[0]:.1f} s ({paper[1]} jobs)  target < 20 s: {'met' if paper[0] < 20 else 'NOT met'}")
    print(f"ratio paper / default: {paper[0] / default[0]:.2f}x for {paper[1] / max(default[1], 1):.1f}x the jobs")


if __name__ == "__main__":
    main()
