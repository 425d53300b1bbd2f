#!/bin/bash
# Resume at scale (docs/paper-scale.md; run from the worktree after the rehearsal's microscopy jobs, files under measure/): kill (SIGKILL, whole process group) a running training job and a running render job, rerun.
set -u
cd /work/wt/rehearsal
export PYTHONPATH=$PWD/src PATH=/work/main/.venv/bin:$PATH HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1 PYTHONHASHSEED=0 MLFLOW_DISABLE_TELEMETRY=true
CF="configs/paper.yaml configs/rehearsal.yaml measure/run-override.yaml measure/micro-only.yaml"
T="results/models/microscopy/none/100/bi-s-ga/fold0.pt results/views/microscopy/100/bi-u-ga.npy"
rm -f results/views/microscopy/100/bi-u-ga.npy
find results -type f ! -path "*/benchmarks/*" -printf "%p %T@\n" | sort > measure/resume_before.txt
setsid nice -n 5 snakemake --configfile $CF --cores 4 $T > measure/resume_run1.log 2>&1 &
PGID=$!
for i in $(seq 1 120); do
  sleep 5
  if pgrep -g $PGID -f train_models >/dev/null && pgrep -g $PGID -f render_views >/dev/null; then break; fi
done
sleep 10
echo "killing at $(date -u +%T): $(pgrep -g $PGID -fa 'train_models|render_views' | cut -c1-100)"
kill -9 -- -$PGID
sleep 3
ls -la results/models/microscopy/none/100/bi-s-ga/ results/views/microscopy/100/ 2>&1
nice -n 5 snakemake --configfile $CF --unlock > measure/resume_unlock.log 2>&1  # a SIGKILL leaves the lock
nice -n 5 snakemake --configfile $CF --cores 4 $T > measure/resume_run2.log 2>&1
echo "rerun rc $? at $(date -u +%T)"
grep -E "^(rule|localrule) " measure/resume_run2.log
find results -type f ! -path "*/benchmarks/*" -printf "%p %T@\n" | sort > measure/resume_after.txt
echo "changed files:"; diff measure/resume_before.txt measure/resume_after.txt | grep "^[<>]" | cut -c1-200
python -c "
import numpy as np, torch
v = np.load('results/views/microscopy/100/bi-u-ga.npy', mmap_mode='r'); print('view', v.shape, v.dtype, float(v[-1].mean()))
c = torch.load('results/models/microscopy/none/100/bi-s-ga/fold0.pt', map_location='cpu', weights_only=False); print('checkpoint keys', sorted(c)[:6])
"
