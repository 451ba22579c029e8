#!/usr/bin/env bash
# Issues #22 and #39: the base model pretrained and fine-tuned for real on one GPU, under a wall-clock budget this
# script enforces itself (BUDGET_S, default 530 s: about 9 minutes), beside the shipped tiny encoder fine-tuned under
# the same protocol, so that "better than the tiny encoder" is measured.
#
# On your own GPU (with network; the README's "One GPU" subsection):
#   make setup   (or: pip install -c requirements-lock.txt -e ".[train]"), then a CUDA build of torch in place of the
#                lock's CPU one (the script needs torch with CUDA, transformers, datasets, evaluate, seqeval,
#                accelerate, matplotlib, sentencepiece, protobuf: the install_requires and [train] of setup.py)
#   SKIP_WHEELS=1 bash benchmarks/gpu_base_prepare.sh        .gpu_carry/: corpus, benchmarks, 16k tokenizer
#   OUT=runs/gpu-base PYTHON=.venv/bin/python bash benchmarks/gpu_base_run.sh
#   tar -xzf runs/gpu-base/results.tar.gz                   (in the repository root: into results/)
#
# On a machine without network (the project's device call, whose image has CUDA torch 2.11 and transformers 5.17 but
# not datasets/evaluate/seqeval): `bash benchmarks/gpu_base_prepare.sh` here also downloads the wheels it lacks, at
# requirements-lock.txt's versions, into .gpu_carry/whl/, which this script installs with --no-deps into a folder of
# its own (never over the image's torch). The call: command `bash benchmarks/gpu_base_run.sh`, carry [".gpu_carry"],
# timeout_s 560; back here, unpack results.tar.gz as above, and the model folder: <files_at>/model/ plus
# `tar -xf model_files.tar` in it. The tree travels too (about 21 MB with models/, the tiny encoder included).
#
# What runs (benchmarks/gpu_base_run.py, stage by stage, each logged to logs.tar.gz):
#   pretrain  recipe base-pubmed-task (ALiBi, piece prior, task-adaptive corpus, 256 x 128, bf16, torch.compile) for
#             PRETRAIN_MIN (5.5) minutes; a random-init base model is saved meanwhile (init-model, CPU);
#   export    the pretrained model in fp16 safetensors shards of at most 15 MB (max_shard_size="14MB": 14,000,000
#             bytes of tensors, so a file stays under 15 MB with its header), checked to load through the Auto classes;
#   finetune  up to FT_PARALLEL (5) fine-tunes at once on the one GPU (each is launch-bound at batch 32, so they
#             share it well), in the order of FT_JOBS: ncbi_disease and bc5cdr_chem from the pretrained model,
#             ncbi_disease from random init, ncbi_disease and bc5cdr_chem from TINY_MODEL (the shipped tiny encoder),
#             then the other benchmarks. The jobs started together (the first FT_PARALLEL: the comparison) get one
#             time budget, the time left until the deadline (--max-train-minutes), and the same seed (42), epochs
#             and data; the learning rate is each size's own (FT_LR, FT_TINY_LR: the tiny encoder's shipped 5e-4).
#             Later jobs get what is left. The devel-selected checkpoint is scored on test. A job starts only while
#             at least FT_MIN_TRAIN_S (30) seconds of training would be left.
#   Time: about 15 s setup + 55 s pretraining start-up (imports, tokenising the corpus) + 330 s training + 10 s saving
#   leaves about 120 s of the 530 for fine-tuning: 20 s start-up, 70 s training (about 5 epochs of NCBI-disease, 170
#   steps each, if the base jobs share the GPU at half their solo speed; the tiny ones cost little: FT_EPOCHS=5, so
#   the schedule decays), 30 s for the last dev and test pass. Why 256 x 128 and 4,000 steps: the comment above
#   base-pubmed-task in training/recipes.py. Not yet run on a GPU: these are estimates.
#
# The run's record, run_summary.json (= results/benchmarks/gpu_base_run/<RUN_NAME>.json in results.tar.gz):
#   pretraining  train_minutes, tokens_seen (non-padding), tokens_per_s (= tokens_seen / train_runtime_s), mfu (the
#                formula of benchmarks/pretrain_throughput.py over the GPU's dense bf16 peak, or PEAK_TFLOPS), the
#                held-out eval_mlm_accuracy / eval_sop_accuracy, GPU, versions
#   finetunes    per job: model, start (pretrained, random, tiny), benchmark, seeds, epochs, budget, learning rate,
#                test entity / token F1, devel entity F1
#   versus_tiny  per benchmark both finished: pretrained, random-init and tiny test entity F1, same_protocol,
#                pretrained_minus_tiny, pretrained_better
#   settings, stages (command, start, minutes, exit status), export, elapsed_s
#
# $OUT (the device tool returns at most 8 files, 16 MiB each, 64 MiB in all, 2 folders deep): 8 files, about 25 MB.
#   model/model-00001-of-00002.safetensors   fp16 shards under 15 MB (< 16 MiB); base with the 16,531-piece tokenizer
#   model/model-00002-of-00002.safetensors   has 10,076,309 parameters = 20.2 MB in fp16: 2 shards (a 30k vocabulary
#                                            adds 1.7M parameters, still 2; `large`, 35 MB, would need 3: 9 files)
#   model/model_files.tar     config.json, model.safetensors.index.json, the two remote-code files, tokenizer
#   results.tar.gz            results/<model>/<dataset>.json (models <RUN_NAME>, -random-init, -tiny-encoder),
#                             results/pretraining/<RUN_NAME>.{json,png}, results/benchmarks/gpu_base_run/<RUN_NAME>.json
#   pretraining_metrics.json  the pretraining summary (also in results.tar.gz)
#   pretraining_curves.png    MLM / SOP accuracy curves (also in results.tar.gz)
#   logs.tar.gz               one log per stage
#   run_summary.json          the run's record (above)
#
# Environment (defaults are the GPU run's; tests/test_gpu_base_run.py rehearses it on CPU at the tiny preset):
#   OUT (required)  CARRY=.gpu_carry  WORK=/tmp/gpu_base_run  PYTHON=python3  BUDGET_S=530  PRESET=base
#   RUN_NAME=gpu-base-pubmed-task  PRETRAIN_MIN=5.5  PRETRAIN_ARGS (extra pretrain flags)  BF16=true  COMPILE=true
#   WORKERS=12  PEAK_TFLOPS (for MFU where the GPU is not in pretrain_throughput.py's table)
#   FT_JOBS  FT_PARALLEL=5  FT_EPOCHS=5  FT_LR=1e-4  FT_TINY_LR=5e-4  TINY_MODEL=models/bioalbert-tiny-pubmed-task
#   FT_MIN_TRAIN_S=30  FT_STARTUP_S=20  FT_TAIL_S=30  FT_ARGS (extra finetune flags)
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
