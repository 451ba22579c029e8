"""The stages of benchmarks/gpu_base_run.sh (issue #22) under one deadline: pretrain -> fp16 export -> fine-tunes.

Run by that script, which sets up the environment (wheels, this package, data) and documents the settings, the time
arithmetic and the $OUT layout. Every stage is a `bioalbert` command with its own log; $OUT is repacked after each
stage, so a run stopped at the call's limit still returns what it finished. The run's record (pretraining minutes,
tokens, tokens/s, MFU, held-out accuracy; each fine-tune; the base encoder against the tiny one) is run_summary.json
in $OUT and results/benchmarks/gpu_base_run/<run>.json in results.tar.gz (issue #39).
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ENV = os.environ
WORK, OUT, CARRY = Path(ENV["WORK"]), Path(ENV["OUT"]), Path(ENV["CARRY"])
# The settings (gpu_base_run.sh's header says what each is) and their GPU-run defaults; any can be set in the env.
S = {key: ENV.get(key, default) for key, default in {
    "BUDGET_S": "530", "PRESET": "base", "PRETRAIN_MIN": "5.5", "PRETRAIN_ARGS": "", "BF16": "true", "COMPILE": "true",
    "WORKERS": "12", "MAX_SHARD": "14MB", "FT_PARALLEL": "5", "FT_EPOCHS": "5", "FT_LR": "1e-4", "FT_ARGS": "",
    "FT_MIN_TRAIN_S": "30", "FT_STARTUP_S": "20", "FT_TAIL_S": "30", "PEAK_TFLOPS": "",
    "TINY_MODEL": "models/bioalbert-tiny-pubmed-task", "FT_TINY_LR": "5e-4",
    # start:dataset, by priority: the two benchmarks of #4 from the pretrained base, from random init and from the
    # tiny encoder (the first FT_PARALLEL jobs start together with one budget: the comparison), then the others.
    "FT_JOBS": "pretrained:ncbi_disease pretrained:bc5cdr_chem random:ncbi_disease tiny:ncbi_disease "
               "tiny:bc5cdr_chem pretrained:bc5cdr_disease pretrained:s800 pretrained:linnaeus pretrained:bc2gm "
               "pretrained:jnlpba",
}.items()}  # fmt: skip
S["RUN_NAME"] = ENV.get("RUN_NAME", f"gpu-{S['PRESET']}-pubmed-task")
DEADLINE = float(ENV["STARTED"]) + float(S["BUDGET_S"])
MODELS = {"pretrained": (WORK / "pretrained", S["RUN_NAME"]),
          "random": (WORK / "random-init", f"{S['RUN_NAME']}-random-init"),
          "tiny": (Path(S["TINY_MODEL"]).resolve(), f"{S['RUN_NAME']}-tiny-encoder")}
LOGS, RESULTS, TOKENIZER = WORK / "logs", WORK / "results", CARRY / "tokenizer"
RECORD = RESULTS / "benchmarks" / "gpu_base_run" / f"{S['RUN_NAME']}.json"  # results/benchmarks/: not a model's results
summary = {"settings": S, "stages": {}, "finetunes": []}


def elapsed() -> float:
    return time.time() - float(ENV["STARTED"])


def say(message: str) -> None:
    print(f"[{elapsed():5.0f} s] {message}", flush=True)


def launch(name: str, *args: str) -> subprocess.Popen:
    """Starts `bioalbert <args>` with its output in logs/<name>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    command = [ENV["PYTHON"], "-m", "bioalbert.cli", *args]
    summary["stages"][name] = {"command": shlex.join(command), "start_s": round(elapsed())}
    say(f"{name}: started")
    return subprocess.Popen(command, stdout=open(LOGS / f"{name}.log", "w"), stderr=subprocess.STDOUT)


def finished(name: str, process: subprocess.Popen, timeout: float | None = None) -> int:
    """Waits for a stage (killing it at `timeout` seconds from now) and records its exit status and minutes."""
    try:
        code = process.wait(timeout=None if timeout is None else max(timeout, 1))
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
        say(f"{name}: killed at the deadline")
    stage = summary["stages"][name]
    stage.update(returncode=code, minutes=round((elapsed() - stage["start_s"]) / 60, 2))
    say(f"{name}: exit {code} after {stage['minutes']} min")
    if code != 0:  # the call's output_tail then shows why, even if $OUT does not come back
        print("".join((LOGS / f"{name}.log").read_text(errors="replace").splitlines(keepends=True)[-15:]), flush=True)
    return code


def pretrain() -> subprocess.Popen:
    return launch(
        "pretrain", "pretrain", "--variant", "base-pubmed-task", "--preset", S["PRESET"],
        "--tokenizer", str(TOKENIZER), "--data_dir", str(WORK / "data"), "--data_cache_dir", str(WORK / "cache"),
        "--output_dir", str(WORK / "pretrained"), "--run_name", S["RUN_NAME"], "--results_dir", str(RESULTS),
        "--max_train_minutes", S["PRETRAIN_MIN"], "--position_bias", "alibi", "--mlm_bias_init", "unigram",
        "--bf16", S["BF16"], "--torch_compile", S["COMPILE"],
        # A 4,000-step run: beta2 0.98 (RoBERTa's) follows the gradient scale faster than 0.999 and is steadier early.
        "--adam_beta2", "0.98", "--logging_steps", "50", "--disable_tqdm", "true",
        # The n-gram masking collator is Python (about 650 examples/s per core here; a step wants 256).
        "--dataloader_num_workers", S["WORKERS"], "--preprocessing_num_workers", S["WORKERS"],
        *shlex.split(S["PRETRAIN_ARGS"]),
    )  # fmt: skip


def export_model(source: Path, target: Path) -> dict:
    """The pretrained model as fp16 safetensors shards in `target`, the other files of its folder in one tar there
    ($OUT holds 8 files at most); checks that the folder loads through the Auto classes with remote code."""
    import torch
    import transformers
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining

    import bioalbert.modeling  # noqa: F401  (registers BioAlbert with the Auto classes)
    from bioalbert.training.tokenizer import load_tokenizer

    transformers.logging.set_verbosity_error()  # the MLM head's load report lists the unused SOP head
    transformers.logging.disable_progress_bar()
    folder = WORK / "model-fp16"
    model = AutoModelForPreTraining.from_pretrained(source, dtype=torch.float32)
    model.half().save_pretrained(folder, max_shard_size=S["MAX_SHARD"])
    load_tokenizer(source).save_pretrained(folder)
    AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True)
    target.mkdir(parents=True, exist_ok=True)
    shards = sorted(folder.glob("*.safetensors"))
    for shard in shards:
        shutil.copyfile(shard, target / shard.name)
    with tarfile.open(target / "model_files.tar", "w") as tar:
        for path in sorted(set(folder.iterdir()) - set(shards)):
            tar.add(path, arcname=path.name)
    return {"parameters": model.num_parameters(), "shards": {s.name: s.stat().st_size for s in shards}}


def pack() -> None:
    """Writes the run's record (to results/ as well), results.tar.gz, logs.tar.gz and run_summary.json to $OUT (again
    after every stage)."""
    summary["elapsed_s"] = round(elapsed())
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(summary, indent=2) + "\n")
    for name, folder in (("results.tar.gz", RESULTS), ("logs.tar.gz", LOGS)):
        if folder.is_dir():
            with tarfile.open(WORK / name, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
            shutil.copyfile(WORK / name, OUT / name)
    shutil.copyfile(RECORD, OUT / "run_summary.json")


def pretraining_record(metrics: dict) -> dict:
    """Minutes, tokens seen, tokens/s and model FLOPs utilisation of the pretraining (benchmarks/pretrain_throughput.py's
    formula: matrix products, the MLM head at the masked share of positions, training = 3 x forward), held-out
    accuracy. The rate is over the whole train_runtime (compilation and held-out evaluations included), so it is
    below a steady-state step's; the tokens are the non-padding ones."""
    import argparse
    from types import SimpleNamespace

    from pretrain_throughput import gpu_bf16_peak_flops, training_flops_per_token  # this script's folder

    seconds, tokens = metrics["train_runtime_s"], metrics["tokens_seen_non_padding"]
    final, gpu = metrics.get("final") or {}, (metrics.get("machine") or {}).get("gpu")
    # PEAK_TFLOPS for a GPU not in the table (or a CPU rehearsal); else the GPU's dense bf16 peak by its name.
    peak = float(S["PEAK_TFLOPS"]) * 1e12 if S["PEAK_TFLOPS"] else gpu_bf16_peak_flops(gpu)
    record = {"train_minutes": round(seconds / 60, 2), "tokens_seen": tokens,
              "tokens_per_s": round(tokens / seconds, 1) if seconds else None, "mfu": None, "gpu": gpu,
              "peak_flops": peak, **{key: final.get(key) for key in ("eval_mlm_accuracy", "eval_sop_accuracy")}}
    config_file = WORK / "pretrained" / "config.json"
    if config_file.is_file():
        config = SimpleNamespace(**json.loads(config_file.read_text()))
        # The masked share the collator aims at (pretrain's --mlm_probability; default 0.15 unless PRETRAIN_ARGS sets it).
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--mlm_probability", type=float, default=0.15)
        masked = parser.parse_known_args(shlex.split(S["PRETRAIN_ARGS"]))[0].mlm_probability
        flops = training_flops_per_token(config, metrics["max_seq_length"], masked)
        record.update(training_flops_per_token=flops, masked_share=masked)
        if peak and record["tokens_per_s"]:
            record["mfu"] = round(flops * record["tokens_per_s"] / peak, 4)
    return record


def finetune(start: str, dataset: str, train_seconds: float) -> subprocess.Popen:
    model, name = MODELS[start]
    return launch(
        f"finetune-{name}-{dataset}", "finetune", "--model", str(model), "--dataset", dataset,
        "--data-dir", str(WORK / "data"), "--output-dir", str(WORK / "ner" / f"{name}-{dataset}"),
        "--model-name", name, "--results-dir", str(RESULTS), "--seeds", "42",
        "--num-train-epochs", S["FT_EPOCHS"], "--learning-rate", S["FT_TINY_LR"] if start == "tiny" else S["FT_LR"],
        "--max-train-minutes", f"{train_seconds / 60:.2f}", "--bf16", S["BF16"], "--disable-tqdm", "true",
        *shlex.split(S["FT_ARGS"]),
    )  # fmt: skip


def record_finetune(start: str, dataset: str, code: int, train_seconds: float) -> None:
    name = MODELS[start][1]
    entry = {"model": name, "start": start, "dataset": dataset, "returncode": code,
             "max_train_minutes": round(train_seconds / 60, 2)}
    result_file = RESULTS / name / f"{dataset}.json"
    if code == 0 and result_file.is_file():
        result = json.loads(result_file.read_text())
        run, training = result["runs"][0], result["training"]
        entry.update(test_entity_f1=result["entity"]["f1"], test_token_f1=result["token"]["f1"],
                     dev_entity_f1=run["dev_entity_f1"], epochs=run["epochs"], global_step=run["global_step"],
                     seeds=result["seeds"], max_epochs=training["max_epochs"],
                     learning_rate=training["learning_rate"], train_sentences=training["train_sentences"],
                     test_sentences=result["test_sentences"])
    summary["finetunes"].append(entry)


# What must match for two fine-tunes to be compared: benchmark, data, seed and budget. The learning rate is each
# size's own (FT_LR for base, FT_TINY_LR = the tiny encoder's shipped fine-tunes' 5e-4): one rate for both would
# under-train one of them and measure the choice of rate, not the encoder.
PROTOCOL = ("seeds", "max_epochs", "max_train_minutes", "train_sentences", "test_sentences")


def versus_tiny() -> dict:
    """Per benchmark that the tiny encoder and the pretrained base both finished: their test entity F1 (and random
    init's), whether the protocol matched, and whether the base is better: measured in this run, not assumed."""
    done = {(f["start"], f["dataset"]): f for f in summary["finetunes"] if "test_entity_f1" in f}
    table = {}
    for (start, dataset), tiny in done.items():
        base, random = done.get(("pretrained", dataset)), done.get(("random", dataset))
        if start != "tiny" or not base:
            continue
        same = all(tiny[key] == base[key] for key in PROTOCOL)
        table[dataset] = {"pretrained": base["test_entity_f1"], "random": random and random["test_entity_f1"],
                          "tiny": tiny["test_entity_f1"], "same_protocol": same,
                          "pretrained_minus_tiny": round(base["test_entity_f1"] - tiny["test_entity_f1"], 4),
                          "pretrained_better": base["test_entity_f1"] > tiny["test_entity_f1"] if same else None}
    return table


class FineTunes:
    """FT_JOBS, FT_PARALLEL at a time, each training until the time left is needed for its last evaluation."""

    def __init__(self):
        jobs = [tuple(job.split(":")) for job in S["FT_JOBS"].split()]
        ready = [(MODELS[s][0] / "config.json").is_file() and (WORK / "data" / "bioner" / d).is_dir() for s, d in jobs]
        self.pending = [job for job, ok in zip(jobs, ready) if ok]
        summary["skipped_no_model_or_data"] = [":".join(job) for job, ok in zip(jobs, ready) if not ok]
        self.running, self.budget = {}, None

    def start(self) -> None:
        # One time budget for the jobs started together (the first wave is the comparison), computed once: later
        # jobs get what is left, never more than the first wave had.
        train_seconds = DEADLINE - time.time() - float(S["FT_STARTUP_S"]) - float(S["FT_TAIL_S"])
        self.budget = train_seconds = min(train_seconds, self.budget or train_seconds)
        while self.pending and len(self.running) < int(S["FT_PARALLEL"]):
            if train_seconds < float(S["FT_MIN_TRAIN_S"]):
                summary["not_run"], self.pending = [f"{s}:{d}" for s, d in self.pending], []
                return
            start, dataset = self.pending.pop(0)
            self.running[(start, dataset)] = (finetune(start, dataset, train_seconds), train_seconds)

    def run(self) -> None:
        self.start()
        while self.running:
            time.sleep(2)
            late = time.time() > DEADLINE
            for (start, dataset), (process, train_seconds) in list(self.running.items()):
                if process.poll() is not None or late:
                    code = finished(f"finetune-{MODELS[start][1]}-{dataset}", process, timeout=0 if late else None)
                    record_finetune(start, dataset, code, train_seconds)
                    del self.running[(start, dataset)]
                    pack()
            self.start()


def main() -> int:
    say(f"budget {DEADLINE - time.time():.0f} s left; preset {S['PRESET']}, run {S['RUN_NAME']}")
    needs_random = "random:" in S["FT_JOBS"]
    random_init = needs_random and launch(
        "init-model", "init-model", "--preset", S["PRESET"], "--position-bias", "alibi", "--tokenizer", str(TOKENIZER),
        "--output-dir", str(WORK / "random-init"))
    pretraining = pretrain()
    finished("pretrain", pretraining, timeout=DEADLINE - time.time() - 10)
    if random_init:
        finished("init-model", random_init, timeout=60)
    for name in ("pretraining_metrics.json", "pretraining_curves.png"):
        if (WORK / "pretrained" / name).is_file():
            shutil.copyfile(WORK / "pretrained" / name, OUT / name)
    if (OUT / "pretraining_metrics.json").is_file():
        metrics = json.loads((OUT / "pretraining_metrics.json").read_text())
        summary["pretraining"] = {k: metrics.get(k) for k in (
            "objective", "global_step", "max_steps", "train_batch_size_global", "max_seq_length",
            "tokens_seen_non_padding", "train_runtime_s", "precision", "final", "machine", "versions")}
        try:
            summary["pretraining"] = {**pretraining_record(metrics), **summary["pretraining"]}
        except Exception as error:  # the fine-tunes go on; the summary says what failed
            summary["pretraining"]["record_error"] = repr(error)
        say("pretraining: " + json.dumps({key: summary["pretraining"].get(key) for key in (
            "train_minutes", "tokens_seen", "tokens_per_s", "mfu", "eval_mlm_accuracy")}))
    pack()

    finetunes = FineTunes()
    finetunes.start()  # the export below runs on the CPU while the first fine-tunes start up
    if (WORK / "pretrained" / "config.json").is_file():
        try:
            summary["export"] = export_model(WORK / "pretrained", OUT / "model")
            say(f"export: {summary['export']}")
        except Exception as error:  # the fine-tunes go on; the summary says what failed
            summary["export"] = {"error": repr(error)}
            say(f"export failed: {error!r}")
    finetunes.run()
    summary["versus_tiny"] = versus_tiny()
    pack()
    say("summary: " + json.dumps({k: v for k, v in summary.items() if k != "stages"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
