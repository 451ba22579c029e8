#!/usr/bin/env bash
# Builds .gpu_carry/, everything benchmarks/gpu_base_run.sh reads on the GPU machine that the working tree lacks
# (issue #22), from the data folder ($BIOALBERT_DATA, else ../shared/data). On your own GPU machine, with this
# package and its requirements installed there: SKIP_WHEELS=1 (corpus, benchmarks and tokenizer only, no network).
# For a GPU machine without network: run it where pip's registry is reachable, in the repository root, and carry
# .gpu_carry/ with the working tree (the device call that benchmarks/gpu_base_run.sh's header gives).
# Rehearsal (tests/test_gpu_base_run.py): SKIP_WHEELS=1 and small TOKENIZER_VOCAB / TOKENIZER_LINES /
# MAX_CORPUS_LINES / BIONER_SETS.
#
#   .gpu_carry/whl/        wheels the device image lacks, for Python 3.12 (KINDS.md): datasets, evaluate, seqeval
#                          (built here: PyPI has only its sdist), dill and multiprocess (datasets' pins), fsspec
#                          (datasets caps it), and transformers at the lock's version (the image has 5.17; the
#                          code and tests run on this one; its pins, hub >= 1.31 and tokenizers 0.23, hold there).
#                          Versions are requirements-lock.txt's, so the device runs what the tests here run.
#   .gpu_carry/data/corpus the corpus files of the base-pubmed-task recipe (already gzip)
#   .gpu_carry/data/bioner.tar.gz   the benchmark TSVs, unpacked there (23 MB of TSV, 6.1 MB packed)
#   .gpu_carry/tokenizer   a 16k tokenizer made as the tiny models' was (train-tokenizer --vocab-size 16000
#                          --max-lines 200000: 30 s on 2 idle cores, 5 minutes on busy ones)
# Measured 2026-12-01: 35.3 MB in all (wheels 14.8, corpus 13.4, benchmarks 6.1, tokenizer 1.1); with the working
# tree (about 21 MB, models/ included: the run fine-tunes the tiny encoder) it must stay under the device's 64 MiB.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
CARRY=${CARRY:-.gpu_carry}
PY=${PYTHON:-.venv/bin/python}
DATA=${BIOALBERT_DATA:-../shared/data}
BIONER_SETS=${BIONER_SETS:-ncbi_disease bc5cdr_chem bc5cdr_disease s800 linnaeus bc2gm jnlpba}

exclude=$(git rev-parse --git-path info/exclude)
case $CARRY in /*) ;; *) grep -qxF "/$CARRY/" "$exclude" 2>/dev/null || echo "/$CARRY/" >>"$exclude" ;; esac
rm -rf "$CARRY" && mkdir -p "$CARRY/whl" "$CARRY/data/corpus"

if [ "${SKIP_WHEELS:-0}" != 1 ]; then
  # Versions from the lock (requirements-lock.txt), the ones the tests here run on.
  pins() { for p in "$@"; do grep -ixE "$p==[^ ;]+" requirements-lock.txt || { echo "requirements-lock.txt pins no $p" >&2
    return 1; }; done; }
  platforms=$(printf -- ' --platform manylinux_2_%s_x86_64' 17 27 28; echo ' --platform manylinux2014_x86_64')
  # shellcheck disable=SC2046,SC2086  # word splitting wanted
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $platforms \
    -d "$CARRY/whl" $(pins datasets evaluate dill multiprocess fsspec transformers)
  "$PY" -m pip wheel -q --no-deps -w "$CARRY/whl" "$(pins seqeval)"  # pure Python; PyPI has only its sdist
fi

# The recipe's corpus globs, resolved against the data folder; MAX_CORPUS_LINES keeps the head of each file.
corpus=$("$PY" -c 'from bioalbert.training.recipes import RECIPES; print(*RECIPES["base-pubmed-task"].corpus)')
for pattern in $corpus; do
  for file in "$DATA"/$pattern; do
    if [ -n "${MAX_CORPUS_LINES:-}" ]; then
      (zcat "$file" | head -n "$MAX_CORPUS_LINES" || true) | gzip -1 >"$CARRY/data/corpus/$(basename "$file")"
    else
      cp "$file" "$CARRY/data/corpus/"
    fi
  done
done
# shellcheck disable=SC2086
tar -czf "$CARRY/data/bioner.tar.gz" -C "$DATA" $(for s in $BIONER_SETS; do echo "bioner/$s"; done)

"$PY" -m bioalbert.cli train-tokenizer --data-dir "$DATA" --vocab-size "${TOKENIZER_VOCAB:-16000}" \
  --max-lines "${TOKENIZER_LINES:-200000}" --output-dir "$CARRY/tokenizer" >/dev/null

du -sh "$CARRY"/whl "$CARRY"/data/corpus "$CARRY"/data/bioner.tar.gz "$CARRY"/tokenizer "$CARRY"
