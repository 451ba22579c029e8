#!/usr/bin/env bash
# Pretraining that keeps going (issue #37, part 3): one segment of continued pretraining on one core, which any later
# session picks up where it stopped. runs/ is scratch: while the segment's checkpoints are there it resumes from the
# last one (the CPU time already spent counts); when they are gone it starts again from START, the encoder in models/
# that lasts, with a fresh optimizer and a short warm-up. The learning rate decays to zero over the segment's CPU
# minutes, so every finished segment is an annealed encoder the probe can score.
#
#   benchmarks/research/keep_pretraining.sh NAME START OBJECTIVE VARIANT CPU_MINUTES [--probe] [PRETRAIN FLAGS...]
#   benchmarks/research/keep_pretraining.sh task-1 models/bioalbert-tiny-pubmed-task mlm-sop tiny-pubmed-task 120
#   python benchmarks/research/encoder_probe.py --encoder runs/keep/task-1 --name probe-keep-task-1
# --probe runs that probe on the same core once the segment is finished (each fine-tune resumes as well), so one
# command per core carries a segment through to its measurement across sessions. Other flags go to `bioalbert
# pretrain` after the segment's own (e.g. --learning_rate 3e-4); give the same ones again to resume.
#
# Two segments from one START on VARIANT tiny-pubmed-task and tiny-pubmed-pmc-task, side by side, measure widening
# the corpus with PMC text against repeating the task-adaptive words at equal CPU time.
#
# The budget is CPU time, so a segment may share its core: what it learns does not depend on what else runs. To let a
# segment take only the CPU that other jobs leave, lower its scheduling group, not its nice value (a job started
# with setsid has an autogroup of its own, inside which nice changes nothing): echo 19 > /proc/PID/autogroup
set -euo pipefail
if [ $# -lt 5 ]; then
  sed -n '8,9p' "$0" >&2
  exit 2
fi
name=$1 start=$2 objective=$3 variant=$4 minutes=$5 probe=
shift 5
flags=()
for flag in "$@"; do
  if [ "$flag" = --probe ]; then probe=1; else flags+=("$flag"); fi
done
out=runs/keep/$name
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
bin=$(dirname "$(command -v bioalbert || echo .venv/bin/bioalbert)")  # the checkout's venv (make setup) unless one is active
if [ -f "$out/pretraining_metrics.json" ]; then
  echo "$out is finished (pretraining_metrics.json)." >&2
else
  resume=()
  if compgen -G "$out/checkpoint-*" > /dev/null; then
    resume=(--resume)
  fi
  "$bin/bioalbert" pretrain --variant "$variant" --model_name_or_path "$start" --objective "$objective" \
    --output_dir "$out" --run_name "keep-$name" --max_train_minutes "$minutes" --budget_clock cpu \
    --lr_schedule_over_budget true --warmup_steps 100 --results_dir results "${resume[@]}" "${flags[@]}"
fi
if [ -n "$probe" ]; then
  exec "$bin/python" benchmarks/research/encoder_probe.py --encoder "$out" --name "probe-keep-$name"
fi
echo "Probe it (--probe, or encoder_probe.py) or start the next segment from it." >&2
