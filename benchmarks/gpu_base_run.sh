#!/usr/bin/env bash
# Issue #22: the base model pretrained and fine-tuned for real in ONE device call on one GPU, under a wall-clock
# budget this script enforces itself (BUDGET_S, default 530 s; the call's timeout_s is 560).
#
#   1. here, once:  bash benchmarks/gpu_base_prepare.sh      (builds .gpu_carry/: wheels, corpus, benchmarks, tokenizer)
#   2. the device call (run tool):
#        command:   bash benchmarks/gpu_base_run.sh
#        carry:     [".gpu_carry"]
#        timeout_s: 560
#   3. back here:   tar -xzf <files_at>/results.tar.gz     (results/<model>/<dataset>.json, results/pretraining/<run>.*)
#                   model folder: <files_at>/model/ plus `tar -xf model_files.tar` in it (see below)
#
# What runs (benchmarks/gpu_base_run.py, stage by stage, each logged to logs.tar.gz):
#   pretrain  recipe base-pubmed-task (ALiBi, piece prior, task-adaptive corpus, 256 x 128, bf16, torch.compile) for
#             PRETRAIN_MIN (5.5) minutes; a random-init base model is saved meanwhile (init-model, CPU);
#   export    the pretrained model in fp16 safetensors shards of at most 15 MB (max_shard_size="14MB": 14,000,000
#             bytes of tensors, so a file stays under 15 MB with its header), checked to load through the Auto classes;
#   finetune  up to FT_PARALLEL (4) fine-tunes at once on the one GPU (each is launch-bound at batch 32, so they
#             share it well), in the order of FT_JOBS: ncbi_disease and bc5cdr_chem from the pretrained model, then
#             ncbi_disease from random init, then the other benchmarks; each gets the time left until the deadline
#             (--max-train-minutes), one seed, the devel-selected checkpoint scored on test. A job starts only while
#             at least FT_MIN_TRAIN_S (30) seconds of training would be left.
#   Time: about 15 s setup + 55 s pretraining start-up (imports, tokenising the corpus) + 330 s training + 10 s saving
#   leaves about 120 s of the 530 for fine-tuning: 20 s start-up, 70 s training (about 5 epochs of NCBI-disease, 170
#   steps each, if 4 jobs share the GPU at half their solo speed: FT_EPOCHS=5, so the schedule decays), 30 s for the
#   last dev and test pass. Why 256 x 128 and 4,000 steps: the comment above base-pubmed-task in training/recipes.py.
#
# $OUT (the tool returns at most 8 files, 16 MiB each, 64 MiB in all, 2 folders deep): 8 files, about 25 MB.
#   model/model-00001-of-00002.safetensors   fp16 shards under 15 MB (< 16 MiB); base with the 16,531-piece tokenizer
#   model/model-00002-of-00002.safetensors   has 10,076,309 parameters = 20.2 MB in fp16: 2 shards (a 30k vocabulary
#                                            adds 1.7M parameters, still 2; `large`, 35 MB, would need 3: 9 files)
#   model/model_files.tar     config.json, model.safetensors.index.json, the two remote-code files, tokenizer
#   results.tar.gz            results/<model>/<dataset>.json and results/pretraining/<run_name>.{json,png}
#   pretraining_metrics.json  the pretraining summary (also in results.tar.gz)
#   pretraining_curves.png    MLM / SOP accuracy curves (also in results.tar.gz)
#   logs.tar.gz               one log per stage
#   run_summary.json          settings, stage timings, which fine-tunes ran, their test entity F1
#
# Environment (defaults are the GPU run's; tests/test_gpu_base_run.py rehearses it on CPU at the tiny preset):
#   CARRY=.gpu_carry  WORK=/tmp/gpu_base_run  PYTHON=python3  BUDGET_S=530  PRESET=base  RUN_NAME=gpu-base-pubmed-task
#   PRETRAIN_MIN=5.5  PRETRAIN_ARGS (extra pretrain flags)  BF16=true  COMPILE=true  WORKERS=12
#   FT_JOBS  FT_PARALLEL=4  FT_EPOCHS=5  FT_LR=1e-4  FT_MIN_TRAIN_S=30  FT_STARTUP_S=20  FT_TAIL_S=30  FT_ARGS
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the output folder}"
export CARRY=${CARRY:-.gpu_carry} WORK=${WORK:-/tmp/gpu_base_run} PYTHON=${PYTHON:-python3}
export STARTED=${STARTED:-$(date +%s)} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
  TOKENIZERS_PARALLELISM=false
rm -rf "$WORK" && mkdir -p "$WORK/data" "$OUT" || exit 1
CARRY=$(cd "$CARRY" && pwd) || exit 1

# The carried wheels, as the device README says (no pip install of torch: --no-deps into a folder of their own).
if compgen -G "$CARRY/whl/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
    "$CARRY"/whl/*.whl || exit 1
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
# This package without installing it: setup.py maps each top-level code folder to bioalbert.<folder>, and
# bioalbert itself has no __init__.py (a namespace package), so links to the folders make it importable.
mkdir -p "$WORK/shim/bioalbert"
for init in */__init__.py; do ln -s "$PWD/${init%/__init__.py}" "$WORK/shim/bioalbert/"; done
export PYTHONPATH="$WORK/shim${PYTHONPATH:+:$PYTHONPATH}"

ln -s "$CARRY/data/corpus" "$WORK/data/corpus" && tar -xzf "$CARRY/data/bioner.tar.gz" -C "$WORK/data" || exit 1
"$PYTHON" -c 'import datasets, evaluate, seqeval, torch, transformers, bioalbert.training.finetune as f
print("torch", torch.__version__, "transformers", transformers.__version__, "datasets", datasets.__version__,
      "cuda", torch.cuda.is_available(), "bioalbert from", f.__file__)' || exit 1
exec "$PYTHON" benchmarks/gpu_base_run.py
