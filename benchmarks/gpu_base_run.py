"""The stages of benchmarks/gpu_base_run.sh (issue #22) under one deadline: pretrain -> fp16 export -> fine-tunes.

Run by that script, which sets up the environment (wheels, this package, data) and documents the settings, the time
arithmetic and the $OUT layout. Every stage is a `bioalbert` command with its own log; $OUT is repacked after each
stage, so a run stopped at the call's limit still returns what it finished.
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
    "WORKERS": "12", "MAX_SHARD": "14MB", "FT_PARALLEL": "4", "FT_EPOCHS": "5", "FT_LR": "1e-4", "FT_ARGS": "",
    "FT_MIN_TRAIN_S": "30", "FT_STARTUP_S": "20", "FT_TAIL_S": "30",
    # start:dataset, by priority: the two benchmarks of #4, the same from random init, then the other benchmarks.
    "FT_JOBS": "pretrained:ncbi_disease pretrained:bc5cdr_chem random:ncbi_disease pretrained:bc5cdr_disease "
               "pretrained:s800 pretrained:linnaeus pretrained:bc2gm pretrained:jnlpba",
}.items()}  # fmt: skip
S["RUN_NAME"] = ENV.get("RUN_NAME", f"gpu-{S['PRESET']}-pubmed-task")
DEADLINE = float(ENV["STARTED"]) + float(S["BUDGET_S"])
MODELS = {"pretrained": (WORK / "pretrained", S["RUN_NAME"]),
          "random": (WORK / "random-init", f"{S['RUN_NAME']}-random-init")}
LOGS, RESULTS, TOKENIZER = WORK / "logs", WORK / "results", CARRY / "tokenizer"
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
    """Writes results.tar.gz, logs.tar.gz and run_summary.json to $OUT (again after every stage)."""
    for name, folder in (("results.tar.gz", RESULTS), ("logs.tar.gz", LOGS)):
        if folder.is_dir():
            with tarfile.open(WORK / name, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
            shutil.copyfile(WORK / name, OUT / name)
    summary["elapsed_s"] = round(elapsed())
    (OUT / "run_summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def finetune(start: str, dataset: str, train_seconds: float) -> subprocess.Popen:
    model, name = MODELS[start]
    return launch(
        f"finetune-{name}-{dataset}", "finetune", "--model", str(model), "--dataset", dataset,
        "--data-dir", str(WORK / "data"), "--output-dir", str(WORK / "ner" / f"{name}-{dataset}"),
        "--model-name", name, "--results-dir", str(RESULTS), "--seeds", "42",
        "--num-train-epochs", S["FT_EPOCHS"], "--learning-rate", S["FT_LR"],
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
        run = result["runs"][0]
        entry.update(test_entity_f1=result["entity"]["f1"], test_token_f1=result["token"]["f1"],
                     dev_entity_f1=run["dev_entity_f1"], epochs=run["epochs"], global_step=run["global_step"])
    summary["finetunes"].append(entry)


class FineTunes:
    """FT_JOBS, FT_PARALLEL at a time, each training until the time left is needed for its last evaluation."""

    def __init__(self):
        jobs = [tuple(job.split(":")) for job in S["FT_JOBS"].split()]
        ready = [(MODELS[s][0] / "config.json").is_file() and (WORK / "data" / "bioner" / d).is_dir() for s, d in jobs]
        self.pending = [job for job, ok in zip(jobs, ready) if ok]
        summary["skipped_no_model_or_data"] = [":".join(job) for job, ok in zip(jobs, ready) if not ok]
        self.running = {}

    def start(self) -> None:
        while self.pending and len(self.running) < int(S["FT_PARALLEL"]):
            train_seconds = DEADLINE - time.time() - float(S["FT_STARTUP_S"]) - float(S["FT_TAIL_S"])
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
        summary["pretraining"] = {k: metrics.get(k) for k in ("global_step", "max_steps", "tokens_seen_non_padding",
                                  "train_runtime_s", "precision", "final", "machine")}
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
    pack()
    say("summary: " + json.dumps({k: v for k, v in summary.items() if k != "stages"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
