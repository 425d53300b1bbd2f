#!/bin/bash
# Resume at scale (docs/paper-scale.md, issue 21 item 5). Start the rehearsal first, in its own process
# group, from WORKTREE (a checkout with the project importable):
#   setsid snakemake --configfile configs/paper.yaml configs/rehearsal.yaml --cores 2 --keep-going &
# then run   benchmarks/rehearsal/resume.sh WORKTREE OUT
# It waits until a render job and a model-training job run together, kills the whole Snakemake process
# group with SIGKILL, records what ran, what files existed and which temporaries were left (under OUT),
# unlocks the folder and runs the same command again (OUT/rerun.log).
set -u
cd "$1"
out=$(realpath -m "$2")
mkdir -p "$out"
CONFIGS="configs/paper.yaml configs/rehearsal.yaml"
while true; do
  r=$(pgrep -f "scripts/tmp.*render_views.py" | head -1)
  t=$(pgrep -f "scripts/tmp.*(train_models|isp_customization|train_models_intensity|drift_forensics).py" | head -1)
  if [ -n "$r" ] && [ -n "$t" ] && [ "$(ps -o etimes= -p "$r" | tr -d ' ')" -ge 8 ]; then break; fi
  sleep 2
done
pg=$(ps -o pgid= -p "$(pgrep -f "bin/snakemake --configfile $CONFIGS" | head -1)" | tr -d ' ')
ps -o pid,etimes,args -g "$pg" > "$out/running_at_kill.txt"
date -u +%FT%TZ > "$out/kill_time"
find results -type f -printf '%T@ %s %p\n' | sort -k3 > "$out/files_before.txt"
kill -9 -- "-$pg"
sleep 3
find results data -name '.*tmp*' -printf '%s %p\n' > "$out/stale_tmp.txt"
snakemake --configfile $CONFIGS --cores 2 -n > "$out/dryrun_locked.txt" 2>&1   # refused: the lock survives SIGKILL
snakemake --configfile $CONFIGS --unlock > "$out/unlock.txt" 2>&1
snakemake --configfile $CONFIGS --cores 2 -n > "$out/dryrun_after_kill.txt" 2>&1
snakemake --configfile $CONFIGS --cores 2 --printshellcmds --keep-going > "$out/rerun.log" 2>&1
echo "rerun rc=$?" >> "$out/rerun.log"
# Files of before the kill that the rerun rewrote (expected: none).
python3 - "$out/files_before.txt" <<'PY'
import os, sys
before = [line.rstrip("\n").split(" ", 2) for line in open(sys.argv[1])]
rewritten = [p for t, _, p in before if os.path.exists(p) and abs(os.path.getmtime(p) - float(t)) > 1e-6]
print(f"{len(before)} files before the kill, {len(rewritten)} rewritten:", *rewritten, sep="\n  ")
PY
