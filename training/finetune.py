"""Fine-tunes a BioALBERT checkpoint for BioNER with the transformers `Trainer`, keeps the best checkpoint by dev
entity F1, evaluates it on test, and repeats over seeds (mean and standard deviation go to the results file).

    bioalbert finetune --model runs/tiny-random --dataset ncbi_disease --output-dir runs/ner-ncbi \
        --num-train-epochs 5 --seeds 13 42

Layout of `--output-dir`: `seed-<seed>/` holds that seed's checkpoints, its best model, `run.json` (dev and test
scores) and `test_predictions.tsv`; the best seed's model (by dev entity F1) is copied to the top folder together
with the tokenizer and `bioalbert_finetune.json`, so that `AutoModelForTokenClassification.from_pretrained` and
`pipeline("ner")` load it directly. `--resume` continues an interrupted run: finished seeds are kept, an
unfinished one restarts from its last complete checkpoint.

`bioalbert finetune-joint` shares what is here: the model and run flags, the per-seed trainer (`train_seed`, the
one place a fine-tuning `Trainer` is built), the choice of the best seed and the `training` record.
"""

import json
import logging
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from datasets import Dataset
from torch.utils.data import SequentialSampler
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)

import bioalbert.modeling  # noqa: F401  (registers BioAlbert with the Auto classes)
from bioalbert.ner.scoring import DECODING, decode_tags, predict_words
from bioalbert.ner.windows import IGNORE_INDEX, encode, sentence_scores

from .bioner_data import first_sentences, load_bioner
from .budget import CLOCK_HELP, CLOCKS, TimeBudget, budget_lr_scheduler
from .ner_metric import compute_ner_metrics
from .precision import precision_flags, precision_name
from .results import Result, encoder_identity
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)
INFO_FILE = "bioalbert_finetune.json"  # what the model in a folder was trained on; read by `bioalbert evaluate`


UNTIE_HELP = ("Untie the encoder's one shared layer group into this many copies before fine-tuning (at most "
              "num_hidden_layers): more parameters at the same compute per token.")


@dataclass
class ModelArguments:
    model: str = field(metadata={"help": "BioALBERT folder or Hub id to fine-tune (any BioAlbert checkpoint)."})
    max_seq_length: int = field(
        default=128,
        metadata={"help": "Pieces per window (with [CLS]/[SEP]); longer sentences are split into windows, no word is dropped."},
    )
    window_stride: int = field(default=32, metadata={"help": "Pieces of context that consecutive windows share."})
    num_hidden_groups: int | None = field(default=None, metadata={"help": UNTIE_HELP})


@dataclass
class DataArguments:
    dataset: str | None = field(
        default=None,
        metadata={"help": "Benchmark name (ncbi_disease, bc5cdr_chem, ...), a folder of CoNLL/TSV files, or a Hub dataset id."},
    )
    data_dir: str | None = field(default=None, metadata={"help": "Folder holding bioner/<name>/ (default: $BIOALBERT_DATA, ../shared/data)."})
    train_file: str | None = field(default=None, metadata={"help": "Training file (token TAB tag, IOB2)."})
    validation_file: str | None = field(default=None, metadata={"help": "Dev file, used to pick the best checkpoint."})
    test_file: str | None = field(default=None, metadata={"help": "Test file, evaluated once with the best checkpoint."})
    repair_iob: bool = field(default=False, metadata={"help": "Read an I-X that starts an entity as B-X instead of failing."})
    max_train_sentences: int | None = field(default=None, metadata={"help": "Use only the first N training sentences."})
    max_eval_sentences: int | None = field(default=None, metadata={"help": "Use only the first N dev sentences."})
    max_test_sentences: int | None = field(default=None, metadata={"help": "Use only the first N test sentences."})


@dataclass
class RunArguments:
    """What a fine-tuning job does with its seeds; `bioalbert finetune` and `bioalbert finetune-joint` share it."""

    seeds: list[int] = field(default_factory=lambda: [42], metadata={"help": "One run per seed; the best on dev is kept."})
    resume: bool = field(default=False, metadata={"help": "Continue an interrupted run in --output-dir."})
    model_name: str | None = field(default=None, metadata={"help": "Name in results/<name>/ (default: the output folder's name)."})
    results_dir: str = field(default="results", metadata={"help": "Where results/<model>/<dataset>.json goes."})
    max_train_minutes: float | None = field(
        default=None,
        metadata={"help": "Total training time of each seed in minutes, counted across --resume (the time before an "
                  "interruption counts); training stops there with a last evaluation and checkpoint."},
    )
    lr_schedule_over_budget: bool = field(
        default=False,
        metadata={"help": "With --max-train-minutes: warm the learning rate up and decay it linearly to zero over the "
                  "time budget (or the epochs, whichever ends first), so that a run the clock stops has annealed. "
                  "Off: the schedule spans --num-train-epochs and the clock may stop it at any learning rate."},
    )
    budget_clock: str = field(default="wall", metadata={"choices": list(CLOCKS), "help": CLOCK_HELP})


@dataclass
class NerTrainingArguments(TrainingArguments):
    """`TrainingArguments` with defaults for BioNER: evaluate and save every epoch, keep the best by dev entity F1."""

    output_dir: str = field(default=None, metadata={"help": "Where checkpoints and the best model are saved."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on dev (no, steps, epoch)."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint (no, steps, epoch, best)."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the checkpoint with the best dev score."})
    metric_for_best_model: str = field(default="entity_f1", metadata={"help": "Dev metric that picks the best checkpoint."})
    greater_is_better: bool = field(default=True, metadata={"help": "Whether a larger metric_for_best_model is better."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept (the best one is always kept)."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warmup steps (int) or fraction of all steps (float < 1)."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    logging_steps: float = field(default=50, metadata={"help": "Log the training loss every N steps."})
    train_sampling_strategy: str = field(
        default="group_by_length", metadata={"help": "random, sequential, group_by_length (less padding), batch_rebalance."}
    )


def parse_args(argv, dataclass_types=(ModelArguments, DataArguments, RunArguments, NerTrainingArguments)):
    """The argument dataclasses of a fine-tuning job (RunArguments and a NerTrainingArguments among them)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(dataclass_types)
    parsed = parser.parse_args_into_dataclasses(precision_flags() + argv)
    run_args = next(args for args in parsed if isinstance(args, RunArguments))
    training_args = next(args for args in parsed if isinstance(args, NerTrainingArguments))
    if training_args.output_dir is None:
        parser.error("--output-dir is required")
    if run_args.lr_schedule_over_budget and not run_args.max_train_minutes:
        parser.error("--lr-schedule-over-budget needs --max-train-minutes: there is no time budget to schedule over")
    if run_args.lr_schedule_over_budget and training_args.lr_scheduler_type != "linear":
        parser.error("--lr-schedule-over-budget is a linear warmup and decay; it cannot be combined with "
                     f"--lr-scheduler-type {training_args.lr_scheduler_type}")
    return parsed



def load_data(data_args):
    raw = load_bioner(
        data_args.dataset, data_args.data_dir, data_args.train_file, data_args.validation_file,
        data_args.test_file, data_args.repair_iob,
    )
    limits = {"train": data_args.max_train_sentences, "validation": data_args.max_eval_sentences,
              "test": data_args.max_test_sentences}
    return first_sentences(raw, limits)


def dataset_name(data_args) -> str:
    if data_args.dataset:
        return Path(data_args.dataset).name if Path(data_args.dataset).exists() else data_args.dataset.replace("/", "__")
    files = [getattr(data_args, name, None) for name in ("train_file", "validation_file", "test_file")]
    return Path(next(path for path in files if path)).parent.name or "custom"


class WindowedSplit:
    """One split cut into model windows, and the bookkeeping to stitch window predictions back to its words."""

    def __init__(self, split, tokenizer, max_length, stride):
        self.sentences, self.tag_ids = list(split["tokens"]), list(split["ner_tags"])  # datasets 5 gives Columns
        self.label_names = split.features["ner_tags"].feature.names
        self.tokenizer, self.max_length, self.stride = tokenizer, max_length, stride
        self.windows, features, _ = encode(tokenizer, self.sentences, max_length, stride, self.tag_ids)
        self.dataset = Dataset.from_list(features)

    def predict(self, model, batch_size: int) -> list[list[str]]:
        return predict_words(model, self.tokenizer, self.sentences, batch_size, self.max_length, self.stride)

    def score(self, model, batch_size: int) -> dict:
        """The metric of `compute_metrics`, from a saved model (to rescore a finished run)."""
        return without_per_type(compute_ner_metrics(self.gold_tags(), self.predict(model, batch_size)))

    def gold_tags(self) -> list[list[str]]:
        return [[self.label_names[i] for i in tags] for tags in self.tag_ids]

    def compute_metrics(self, eval_prediction) -> dict:
        """Trainer metric: dev scores per word (stitched over windows), not per window piece."""
        log_probs, label_ids = eval_prediction.predictions, eval_prediction.label_ids
        window_scores = [scores[labels != IGNORE_INDEX] for scores, labels in zip(log_probs, label_ids)]
        predictions = decode_tags(sentence_scores(self.windows, window_scores, [len(words) for words in self.sentences],
                                                  len(self.label_names)), self.label_names)
        return without_per_type(compute_ner_metrics(self.gold_tags(), predictions))


def without_per_type(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if key != "per_type"}


class NerTrainer(Trainer):
    """Evaluates windows in dataset order: `WindowedSplit.compute_metrics` stitches predictions back to words by
    position, and transformers 5 applies `train_sampling_strategy="group_by_length"` to evaluation as well."""

    def _get_eval_sampler(self, eval_dataset):
        return SequentialSampler(eval_dataset)

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        budget_lr_scheduler(self, num_training_steps, optimizer)
        return super().create_scheduler(num_training_steps, optimizer)


def log_softmax_logits(logits, labels):
    return logits.float().log_softmax(-1)  # the dev metric decodes (decode_tags) over every label's score


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that was fully written. `transformers.trainer_utils.get_last_checkpoint` takes the
    highest-numbered folder even when a kill interrupted its saving; `trainer_state.json` is written last."""
    complete = [path for path in folder.glob("checkpoint-*") if (path / "trainer_state.json").is_file()]
    return max(complete, key=lambda path: int(path.name.split("-")[1]), default=None)


def write_predictions(path: Path, sentences, gold, predicted):
    with open(path, "w", encoding="utf-8") as handle:
        for words, gold_tags, predicted_tags in zip(sentences, gold, predicted):
            handle.writelines(f"{w}\t{g}\t{p}\n" for w, g, p in zip(words, gold_tags, predicted_tags))
            handle.write("\n")


@dataclass
class SeedSetup:
    """What every seed of a fine-tuning job trains on and is scored with. The joint job brings its own collator,
    Trainer (its loss) and dev set; the single-task job also scores a test split into each seed's record."""

    model: str  # the checkpoint to fine-tune
    labels: list[str]
    tokenizer: object
    train: Dataset
    dev: object  # .dataset, .compute_metrics (the Trainer's dev metric) and .score(model, batch_size)
    decoding: str  # recorded in run.json: a seed finished under another decoding is rescored on --resume
    num_hidden_groups: int | None = None
    collator: object = None  # default: DataCollatorForTokenClassification
    trainer_class: type = NerTrainer
    trainer_kwargs: dict = field(default_factory=dict)
    test: "WindowedSplit | None" = None


def train_seeds(setup: SeedSetup, training_args, run_args, callbacks=()) -> list[dict]:
    """One run per seed in `<output_dir>/seed-<seed>/`, each with the whole time budget; their records."""
    output_dir, runs = Path(training_args.output_dir), []
    for seed in run_args.seeds:
        seed_args = replace(training_args, output_dir=str(output_dir / f"seed-{seed}"), seed=seed)
        budget = [TimeBudget(run_args.max_train_minutes, schedules_lr=run_args.lr_schedule_over_budget,
                             clock=run_args.budget_clock)] if run_args.max_train_minutes else []
        runs.append(train_seed(seed, setup, seed_args, run_args.resume, [*callbacks, *budget]))
        logger.info("Seed %d: dev entity F1 %.4f", seed, runs[-1]["dev"]["entity_f1"])
    return runs


def train_seed(seed: int, setup: SeedSetup, training_args, resume: bool, callbacks=()) -> dict:
    """Fine-tunes with one seed in `output_dir`, returns the run's record (also saved as `run.json`). With `resume`,
    a finished seed is kept (rescored if another decoding scored it), an unfinished one continues from its last
    complete checkpoint."""
    output_dir = Path(training_args.output_dir)
    record_path, batch_size = output_dir / "run.json", training_args.per_device_eval_batch_size
    if resume and record_path.is_file():
        record = json.loads(record_path.read_text())
        if record.get("decoding") == setup.decoding:
            logger.info("Seed %d already finished in %s; keeping it", seed, output_dir)
            return record
        logger.info("Seed %d finished in %s under another decoding; rescoring with %s", seed, output_dir,
                    setup.decoding)
        model = AutoModelForTokenClassification.from_pretrained(output_dir)
        record["dev"].update(setup.dev.score(model, batch_size))
        return finish_record(record, model, setup, batch_size, record_path)
    checkpoint = last_complete_checkpoint(output_dir) if output_dir.is_dir() else None
    if checkpoint is not None and not resume:
        raise FileExistsError(
            f"{output_dir} already holds checkpoints ({checkpoint.name}): pass --resume to continue that run, "
            f"or choose another --output-dir"
        )
    set_seed(seed)  # before the model, so that the new classifier head is seeded too
    model = AutoModelForTokenClassification.from_pretrained(
        setup.model, num_labels=len(setup.labels), id2label=dict(enumerate(setup.labels)),
        label2id={label: i for i, label in enumerate(setup.labels)},
    )
    if setup.num_hidden_groups:
        model.untie_layer_groups(setup.num_hidden_groups)  # before the Trainer, so a checkpoint resumes into its shape
    trainer = setup.trainer_class(
        model=model,
        args=training_args,
        train_dataset=setup.train,
        eval_dataset=setup.dev.dataset,
        data_collator=setup.collator or DataCollatorForTokenClassification(setup.tokenizer),
        processing_class=setup.tokenizer,
        compute_metrics=setup.dev.compute_metrics,
        preprocess_logits_for_metrics=log_softmax_logits,
        callbacks=list(callbacks),
        **setup.trainer_kwargs,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_time, train_cpu_time = time.perf_counter() - started, time.process_time() - cpu_started
    budget = next((callback for callback in callbacks if isinstance(callback, TimeBudget)), None)
    if budget is not None and budget.clock == "cpu":
        train_cpu_time = budget.elapsed_seconds()  # spent before a --resume too
    trainer.save_model(str(output_dir))  # the best checkpoint's weights (load_best_model_at_end), with tokenizer
    dev_metrics = trainer.evaluate()
    record = {
        "seed": seed,
        "global_step": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "resumed_from": str(checkpoint) if checkpoint else None,
        "train_wall_time_s": round(train_time, 1),
        "train_cpu_time_s": round(train_cpu_time, 1),  # what --budget-clock cpu counts (all torch threads)
        "train_loss": train_output.training_loss,
        "dev": {key.removeprefix("eval_"): value for key, value in dev_metrics.items()},
    }
    # Scored as it is used: in fp32. Under bf16 the Trainer's accelerator wraps forward in autocast; unwrap it.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    return finish_record(record, model, setup, batch_size, record_path)


def finish_record(record: dict, model, setup: SeedSetup, batch_size: int, record_path: Path) -> dict:
    """Adds the test scores (and test_predictions.tsv) to a seed's record and saves it as run.json."""
    if setup.test is not None:
        started = time.perf_counter()
        predictions = setup.test.predict(model, batch_size)
        record["test"] = compute_ner_metrics(setup.test.gold_tags(), predictions)
        record["test_wall_time_s"] = round(time.perf_counter() - started, 1)
        write_predictions(record_path.parent / "test_predictions.tsv", setup.test.sentences, setup.test.gold_tags(),
                          predictions)
    record["decoding"] = setup.decoding
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def keep_best_seed(runs: list[dict], output_dir: Path, info: dict) -> dict:
    """The run with the best dev entity F1: its model is copied to `output_dir`, with `info` (and `best_seed`) as
    bioalbert_finetune.json."""
    best = max(runs, key=lambda record: record["dev"]["entity_f1"])
    for path in (output_dir / f"seed-{best['seed']}").iterdir():
        if path.is_file() and path.name not in ("run.json", "test_predictions.tsv", "training_args.bin"):
            shutil.copy2(path, output_dir / path.name)
    (output_dir / INFO_FILE).write_text(json.dumps({**info, "best_seed": best["seed"]}, indent=2) + "\n")
    return best


def run(model_args, data_args, run_args, training_args, callbacks=()) -> dict:
    """The whole job; returns the results record (written to results/<model>/<dataset>.json when there is a
    test split). `callbacks` are extra `TrainerCallback`s (the resume test uses one to interrupt training)."""
    started = time.perf_counter()
    raw = load_data(data_args)
    for needed in ("train", "validation"):
        if needed not in raw:
            raise ValueError(f"Fine-tuning needs a {needed} split; the data has only {list(raw)}")
    labels = raw["train"].features["ner_tags"].feature.names
    tokenizer = load_tokenizer(model_args.model)
    position_limit = AutoConfig.from_pretrained(model_args.model).max_position_embeddings
    model_args = replace(model_args, max_seq_length=min(model_args.max_seq_length, position_limit))
    windowed = {
        split: WindowedSplit(raw[split], tokenizer, model_args.max_seq_length, model_args.window_stride)
        for split in raw
    }
    for split, data in windowed.items():
        logger.info("%s: %d sentences -> %d windows", split, len(data.sentences), len(data.windows))
    setup = SeedSetup(model_args.model, labels, tokenizer, windowed["train"].dataset, windowed["validation"], DECODING,
                      model_args.num_hidden_groups, test=windowed.get("test"))
    runs = train_seeds(setup, training_args, run_args, callbacks)
    output_dir, name = Path(training_args.output_dir), dataset_name(data_args)
    keep_best_seed(runs, output_dir, {"base_model": model_args.model, "dataset": name, "labels": labels,
                                      "seeds": run_args.seeds, "max_seq_length": model_args.max_seq_length,
                                      "window_stride": model_args.window_stride})
    fields = dict(
        model=run_args.model_name or output_dir.name, model_path=str(output_dir), base_model=model_args.model,
        base_model_pretraining=encoder_identity(model_args.model), dataset=name, split="test", decoding=DECODING,
        seeds=run_args.seeds,
        runs=[{"seed": r["seed"], "dev_entity_f1": r["dev"]["entity_f1"], "dev_token_f1": r["dev"]["token_f1"],
               **({"entity_f1": r["test"]["entity_f1"], "token_f1": r["test"]["token_f1"]} if "test" in r else {}),
               "epochs": r["epochs"], "global_step": r["global_step"], "train_wall_time_s": r["train_wall_time_s"]}
              for r in runs],
        training={**training_record(runs, run_args, training_args, model_args.max_seq_length,
                                    model_args.num_hidden_groups),
                  "train_sentences": len(windowed["train"].sentences), "train_windows": len(windowed["train"].windows),
                  "dev_sentences": len(windowed["validation"].sentences)},
        wall_time_s=round(time.perf_counter() - started, 1),
    )
    if "test" not in windowed:
        return fields
    result = Result.scored([r["test"] for r in runs], test_sentences=len(windowed["test"].sentences), **fields)
    logger.info("Results written to %s", result.write(run_args.results_dir))
    return asdict(result)


def training_record(runs: list[dict], run_args, training_args, max_seq_length: int, num_hidden_groups) -> dict:
    """How a job's seeds were trained, as the results file's `training` records it (both jobs add their data)."""
    return {
        "epochs": statistics.fmean(r["epochs"] for r in runs),
        "max_epochs": training_args.num_train_epochs,
        "max_train_minutes": run_args.max_train_minutes,
        "budget_clock": run_args.budget_clock,
        "lr_scheduler": ("linear over the time budget" if run_args.lr_schedule_over_budget
                         else getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type)),
        "learning_rate": training_args.learning_rate,
        "batch_size": training_args.per_device_train_batch_size,
        "max_seq_length": max_seq_length,
        "num_hidden_groups": num_hidden_groups,
        "precision": precision_name(training_args),
        "torch_threads": torch.get_num_threads(),
        "train_wall_time_s": round(sum(r["train_wall_time_s"] for r in runs), 1),
        **({"train_cpu_time_s": round(sum(r["train_cpu_time_s"] for r in runs), 1)}
           if all("train_cpu_time_s" in r for r in runs) else {}),
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    model_args, data_args, run_args, training_args = parse_args(argv)
    result = run(model_args, data_args, run_args, training_args)  # bad input: one line from the CLI (INPUT_ERRORS)
    if "entity" in result:
        print(
            f"{result['dataset']}: test entity F1 {100 * result['entity']['f1']:.2f} "
            f"(±{100 * result['entity']['f1_std']:.2f}), token F1 {100 * result['token']['f1']:.2f} "
            f"(±{100 * result['token']['f1_std']:.2f}) over seeds {run_args.seeds}; model in {training_args.output_dir}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
