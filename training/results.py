"""Results files: `results/<model-name>/<dataset>.json`, one per evaluated (model, dataset) pair.

They are the single source that the README's results table and the model cards are generated from. Schema
(keys other code relies on; every F1, precision and recall is a fraction in [0, 1], shown x100 in tables and cards):

    {
      "model": "tiny-pubmed",            # the results folder name
      "model_path": "runs/...",          # what was evaluated (folder or Hub id)
      "base_model": "runs/... | null",   # what was fine-tuned, when known
      "base_model_pretraining": {"objective": ..., "variant": ..., "steps": ..., "tokens": ...},  # which encoder
                                         # that was, by its pretraining record (a folder is replaced in place)
      "dataset": "ncbi_disease",
      "split": "test",
      "seeds": [13, 42],
      "entity": {"f1": ..., "f1_std": ..., "precision": ..., "recall": ...},    # strict IOB2, seqeval micro
      "token": {"f1": ..., "f1_std": ...},                                       # token level, B-/I- ignored
      "per_type": {"Disease": {"f1": ..., "precision": ..., "recall": ..., "number": ...}},
      "runs": [{"seed": 13, "entity_f1": ..., "token_f1": ..., ...}],
      "training": {"epochs": ..., "train_wall_time_s": ..., ...} | null,
      "wall_time_s": ...,
      "machine": {...}, "versions": {...},
      "created": "ISO-8601 time"
    }
"""

import json
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path("results")
# Folders under results/ that hold other figures (benchmarks, generated tables), not model results.
NOT_MODEL_RESULTS = {"benchmarks", "pretraining", "reproduce"}
REQUIRED_KEYS = ("model", "dataset", "split", "entity", "token")
# `bioalbert pretrain`'s summary in its output folder, then the copy a staged folder carries (results/), so that a
# folder staged again (models/) or pretrained further keeps its record. Read by pretraining and the model cards.
PRETRAINING_RECORDS = ("pretraining_metrics.json", "results/pretraining.json")


def pretraining_record(model: str | Path | None) -> dict | None:
    """The pretraining record of a model folder (the `pretraining_metrics.json` of a pretraining output folder, or the
    `results/pretraining.json` copy a staged folder carries), without its log, and the folder it was read from. None
    for no model, or one without a record (a Hub id, a converted checkpoint, a model never pretrained here)."""
    if not model:
        return None
    for name in PRETRAINING_RECORDS:
        path = Path(model) / name
        if path.is_file():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: not valid JSON ({error})") from error
            return {"model": str(model), **{k: v for k, v in record.items() if k != "log_history"}}
    return None


def encoder_identity(model: str | Path | None) -> dict | None:
    """Which pretrained encoder a folder holds, by its pretraining record rather than its path: models/ is replaced
    in place as pretraining goes on (issue #37), so a path alone cannot say which encoder a fine-tune started from.
    Objective, recipe, and steps and tokens over the whole pretraining (continued runs included)."""
    record = pretraining_record(model)
    if record is None:
        return None
    return {"objective": record.get("objective", "mlm-sop"), "variant": record.get("variant"),
            "steps": record.get("total_steps", record.get("global_step")),
            "tokens": record.get("total_tokens_seen", record.get("tokens_seen_non_padding"))}


def training_seconds(training: dict) -> tuple[float | None, str]:
    """What a results file's training (or one seed's run) cost, and in which time: a run budgeted in CPU time of
    one thread (`--budget-clock cpu`) may have shared its core, so its wall time is not what it cost."""
    if training.get("budget_clock") == "cpu" and "train_cpu_time_s" in training:
        return training["train_cpu_time_s"], "CPU "
    return training.get("train_wall_time_s"), ""


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (0 for one seed), as the results files store them."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class Result:
    """One results file: a model's scores on one split of one dataset, over one or more seeds (the schema above).
    Built by `Result.scored` from each seed's metrics (`compute_ner_metrics`), written by `write`."""

    model: str
    model_path: str
    base_model: str | None
    dataset: str
    split: str
    decoding: str
    seeds: list[int]
    runs: list[dict]
    training: dict | None
    entity: dict
    token: dict
    per_type: dict
    wall_time_s: float
    test_sentences: int | None = None  # of a fine-tuning job
    sentences: int | None = None  # of `bioalbert evaluate`, on any split
    predict_wall_time_s: float | None = None
    base_model_pretraining: dict | None = None  # encoder_identity(base_model) when it was fine-tuned

    @classmethod
    def scored(cls, metrics: list[dict], **fields) -> "Result":
        """Mean and standard deviation over seeds of `metrics` (one `compute_ner_metrics` dict per seed)."""
        summary = {}
        for level in ("entity", "token"):
            f1, f1_std = mean_std([scores[f"{level}_f1"] for scores in metrics])
            summary[level] = {
                "f1": f1, "f1_std": f1_std,
                "precision": statistics.fmean(scores[f"{level}_precision"] for scores in metrics),
                "recall": statistics.fmean(scores[f"{level}_recall"] for scores in metrics),
                "number": metrics[0].get(f"{level}_number"),  # the gold count: the same for every seed
            }
        types = sorted({kind for scores in metrics for kind in scores["per_type"]})
        summary["per_type"] = {
            kind: {**{key: statistics.fmean(scores["per_type"].get(kind, {}).get(key, 0.0) for scores in metrics)
                      for key in ("precision", "recall", "f1")},
                   "number": max(scores["per_type"].get(kind, {}).get("number", 0) for scores in metrics)}
            for kind in types
        }
        return cls(**fields, **summary)

    def write(self, results_dir: str | Path = RESULTS_DIR) -> Path:
        optional = ("test_sentences", "sentences", "predict_wall_time_s", "base_model_pretraining")
        return write_result({k: v for k, v in asdict(self).items() if v is not None or k not in optional}, results_dir)


def cpu_model() -> str | None:
    """The CPU's model name (Linux `/proc/cpuinfo`): machines of the same core count differ by 2-3x in train minutes."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def environment() -> dict:
    """The machine and library versions a number was measured with."""
    import os

    import torch

    versions = {}
    for package in ("torch", "transformers", "datasets", "evaluate", "seqeval", "tokenizers", "accelerate"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return {"machine": machine, "versions": versions}


def describe_machine(machine: dict | None) -> str:
    """`environment()["machine"]` in words, e.g. "2 CPU cores (x86_64, AMD EPYC), no GPU"."""
    if not machine:
        return "hardware not recorded"
    gpu = machine.get("gpu")
    cpu = ", ".join(part for part in (machine.get("processor"), machine.get("cpu_model")) if part) or "unknown CPU"
    return f"{machine.get('cpu_count', '?')} CPU cores ({cpu})" + (f" with {gpu}" if gpu else ", no GPU")


def write_result(result: dict, results_dir: str | Path = RESULTS_DIR) -> Path:
    missing = [key for key in REQUIRED_KEYS if key not in result]
    if missing:
        raise ValueError(f"Result is missing the keys {missing}")
    record = {**environment(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **result}
    path = Path(results_dir) / result["model"] / f"{result['dataset']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a killed run never leaves half a results file
    return path


def load_results(results_dir: str | Path = RESULTS_DIR, model: str | None = None) -> list[dict]:
    """All results under `results_dir` (or of one model), sorted by model then dataset."""
    pattern = f"{model}/*.json" if model else "*/*.json"
    records = []
    for path in sorted(Path(results_dir).glob(pattern)):
        if path.parent.name in NOT_MODEL_RESULTS:
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise ValueError(f"{path}: missing the keys {missing}")
        records.append(record)
    return records
