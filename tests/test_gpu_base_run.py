"""Rehearsal on CPU of the one-shot GPU run of issue #22 (benchmarks/gpu_base_prepare.sh, then gpu_base_run.sh): the
same scripts at the tiny preset, a 1-minute pretraining budget and one-epoch fine-tunes on a few hundred sentences,
checked for the $OUT layout the device tool can return, for a model folder that loads through the Auto classes, and
for the run's record of issue #39 (throughput and MFU, the base against the shipped tiny encoder)."""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from types import SimpleNamespace

import pytest

from conftest import REPO

MAX_SHARD = 1_500_000  # bytes; splits the tiny rehearsal model in two, as 14MB splits the base model
# This machine's fp32 peak, the MFU denominator of the rehearsal: 2 cores x 2.45 GHz x 32 FLOP a cycle (two 256-bit
# FMA pipes, AVX2); a formula off by a factor puts the MFU outside (0, 1).
PEAK_TFLOPS = 0.16


@pytest.mark.slow
def test_gpu_base_run_rehearsal(tmp_path, data_dir):
    carry, out, work = tmp_path / "carry", tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "PYTHON": sys.executable, "CARRY": str(carry), "BIOALBERT_DATA": str(data_dir)}
    prepare = {"SKIP_WHEELS": "1", "TOKENIZER_VOCAB": "2000", "TOKENIZER_LINES": "5000", "MAX_CORPUS_LINES": "1000",
               "BIONER_SETS": "ncbi_disease"}
    subprocess.run(["bash", "benchmarks/gpu_base_prepare.sh"], cwd=REPO, env={**env, **prepare}, check=True)
    # A deadline far off: the one-epoch fine-tunes end by themselves (about 3-4 minutes in all), and a busy machine
    # (imports alone took minutes here once) does not starve the later stages.
    rehearsal = {
        "OUT": str(out), "WORK": str(work), "BUDGET_S": "900", "PRESET": "tiny", "PRETRAIN_MIN": "1", "BF16": "false",
        # torch.compile is left to the GPU: on 2 busy CPU cores its first step alone outlasts the 1-minute budget.
        "COMPILE": "false", "WORKERS": "2", "RUN_NAME": "rehearsal",
        # One thread a process: two fine-tunes at once beside other jobs on 2 cores otherwise spin in OpenMP barriers
        # (a 19-step tiny fine-tune took 9 minutes so here).
        "OMP_NUM_THREADS": "1", "MAX_SHARD": f"{MAX_SHARD // 1000}KB",
        "PRETRAIN_ARGS": "--per_device_train_batch_size 16 --per_device_eval_batch_size 16 --max_steps 200 "
                         "--warmup_steps 10 --eval_steps 20 --logging_steps 5 --validation_documents 20",
        "PEAK_TFLOPS": str(PEAK_TFLOPS),
        "FT_JOBS": "pretrained:ncbi_disease random:ncbi_disease tiny:ncbi_disease", "FT_PARALLEL": "3", "FT_EPOCHS": "1",
        "FT_LR": "1e-3", "FT_MIN_TRAIN_S": "10", "FT_STARTUP_S": "30",
        "FT_ARGS": "--max-train-sentences 200 --max-eval-sentences 100 --max-test-sentences 200 "
                   "--per-device-train-batch-size 16",
    }  # fmt: skip
    run = subprocess.run(["bash", "benchmarks/gpu_base_run.sh"], cwd=REPO, env={**env, **rehearsal},
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"bioalbert from {work}/shim/bioalbert/" in run.stdout  # the package came from the tree, not an install

    # What the device tool returns: at most 8 files, 2 folders deep, 16 MiB each, 64 MiB together.
    files = {path.relative_to(out).as_posix(): path.stat().st_size for path in out.rglob("*") if path.is_file()}
    assert len(files) <= 8 and all(name.count("/") <= 2 for name in files)
    assert max(files.values()) <= 16 * 2**20 and sum(files.values()) <= 64 * 2**20
    shards = sorted(name for name in files if name.endswith(".safetensors"))
    assert shards == ["model/model-00001-of-00002.safetensors", "model/model-00002-of-00002.safetensors"]
    assert all(files[name] <= MAX_SHARD for name in shards)
    assert {"pretraining_metrics.json", "pretraining_curves.png", "results.tar.gz", "logs.tar.gz",
            "run_summary.json", "model/model_files.tar"} <= set(files)

    pretraining = json.loads((out / "pretraining_metrics.json").read_text())
    assert (pretraining["variant"], pretraining["position_bias"], pretraining["mlm_bias_init"]) == (
        "base-pubmed-task", "alibi", "unigram")
    assert pretraining["model_sizes"]["hidden_size"] == 256 and pretraining["global_step"] > 0
    assert pretraining["max_train_minutes"] == 1.0
    with tarfile.open(out / "results.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "results/pretraining/rehearsal.json").is_file()
    for model in ("rehearsal", "rehearsal-random-init", "rehearsal-tiny-encoder"):
        result = json.loads((tmp_path / "results" / model / "ncbi_disease.json").read_text())
        assert 0 <= result["entity"]["f1"] <= 1 and result["training"]["max_epochs"] == 1
    tiny_result = json.loads((tmp_path / "results/rehearsal-tiny-encoder/ncbi_disease.json").read_text())
    assert tiny_result["base_model"] == str(REPO / "models" / "bioalbert-tiny-pubmed-task")
    summary = json.loads((out / "run_summary.json").read_text())
    # The run's record goes to results/ too, as the same file.
    assert json.loads((tmp_path / "results/benchmarks/gpu_base_run/rehearsal.json").read_text()) == summary

    # Pretraining: minutes, tokens, tokens/s and MFU from the pretraining record, with pretrain_throughput.py's formula.
    record = summary["pretraining"]
    seconds, tokens = pretraining["train_runtime_s"], pretraining["tokens_seen_non_padding"]
    assert record["tokens_seen"] == tokens > 0 and record["train_minutes"] == pytest.approx(seconds / 60, abs=0.01)
    assert record["tokens_per_s"] == pytest.approx(tokens / seconds, rel=1e-3)
    throughput = load_benchmark("pretrain_throughput")
    config = SimpleNamespace(**json.loads((tmp_path / "work/pretrained/config.json").read_text()))
    assert record["training_flops_per_token"] == throughput.training_flops_per_token(config, 128, 0.15)
    assert record["peak_flops"] == PEAK_TFLOPS * 1e12
    assert record["mfu"] == pytest.approx(record["training_flops_per_token"] * tokens / seconds / record["peak_flops"],
                                          rel=1e-2, abs=1e-4)
    assert 0 < record["mfu"] < 1
    assert record["eval_mlm_accuracy"] == pretraining["final"]["eval_mlm_accuracy"]
    assert 0 <= record["eval_mlm_accuracy"] <= 1 and record["objective"] == "mlm-sop"

    # Fine-tunes: the base, random init and the tiny encoder on the same benchmark, seed, data and time budget (each
    # with its own learning rate), and the comparison computed from them.
    finetunes = {f["start"]: f for f in summary["finetunes"]}
    assert sorted((f["model"], f["returncode"]) for f in finetunes.values()) == [
        ("rehearsal", 0), ("rehearsal-random-init", 0), ("rehearsal-tiny-encoder", 0)]
    protocol = {(f["dataset"], tuple(f["seeds"]), f["max_epochs"], f["max_train_minutes"], f["train_sentences"],
                 f["test_sentences"]) for f in finetunes.values()}
    assert len(protocol) == 1 and next(iter(protocol))[:3] == ("ncbi_disease", (42,), 1)
    assert (finetunes["pretrained"]["learning_rate"], finetunes["tiny"]["learning_rate"]) == (1e-3, 5e-4)
    assert finetunes["tiny"]["test_entity_f1"] == tiny_result["entity"]["f1"]
    versus = summary["versus_tiny"]["ncbi_disease"]
    base_f1, tiny_f1 = finetunes["pretrained"]["test_entity_f1"], finetunes["tiny"]["test_entity_f1"]
    assert versus == {"pretrained": base_f1, "random": finetunes["random"]["test_entity_f1"], "tiny": tiny_f1,
                      "same_protocol": True, "pretrained_minus_tiny": round(base_f1 - tiny_f1, 4),
                      "pretrained_better": base_f1 > tiny_f1}

    # The model folder as it comes back (shards + the tar of the other files) loads with remote code only:
    # the subprocess never imports bioalbert, so the classes come from the folder.
    model_dir = out / "model"
    with tarfile.open(model_dir / "model_files.tar") as tar:
        tar.extractall(model_dir, filter="data")
    load = (
        "import sys, torch; from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer\n"
        "path = sys.argv[1]\n"
        "mlm = AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True, dtype=torch.float32)\n"
        "encoder = AutoModel.from_pretrained(path, trust_remote_code=True)\n"
        "batch = AutoTokenizer.from_pretrained(path, trust_remote_code=True)('BRCA1 mutations cause cancer.', "
        "return_tensors='pt')\n"
        "logits = mlm(**batch).logits\n"
        "assert 'bioalbert' not in sys.modules and 'transformers_modules' in type(mlm).__module__\n"
        "assert mlm.config.position_bias == 'alibi' and encoder.dtype == torch.float16\n"
        "assert logits.shape == (1, batch['input_ids'].shape[1], mlm.config.vocab_size)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", load, str(model_dir)], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")})
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
