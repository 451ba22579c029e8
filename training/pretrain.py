"""Pretrains BioALBERT with masked LM (n-gram spans) + sentence-order prediction on `transformers.Trainer`.

    bioalbert pretrain --variant tiny-pubmed-pmc --tokenizer runs/tok16k --output_dir runs/tiny-pubmed-pmc \
        --max_train_minutes 45
    bioalbert pretrain --variant tiny-pubmed-pmc ... --resume          # continue from the last checkpoint
    accelerate launch --config_file training/configs/accelerate_1node_8gpu.yaml -m bioalbert.training.pretrain \
        --variant base-pubmed-pmc --tokenizer runs/tok30k --output_dir runs/base-pubmed-pmc

A `--variant` (see `recipes.py`) sets the corpus, model size, sequence length, batch, optimizer and schedule; any
flag given on the command line overrides it. Every `TrainingArguments` flag works (`--deepspeed ds.json`,
`--torch_compile`, `--save_steps`, ...). The output folder gets the model + tokenizer, `pretraining_metrics.json`
(recipe, steps, tokens seen, wall time, last MLM/SOP accuracies, full log history) and `pretraining_curves.png`.
"""

import argparse
import glob
import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining, BioAlbertForReplacedTokenDetection
from bioalbert.modeling.configuration_bioalbert import PRESETS

from .budget import CLOCK_HELP, CLOCKS, TimeBudget, budget_lr_scheduler
from .datadir import resolve_data_dir
from .init_model import init_model
from .precision import precision_flags, precision_name
from .pretraining_data import EpochSetter, NgramMaskingCollator, build_pretraining_dataset, load_documents
from .recipes import get_recipe
from .results import environment, pretraining_record
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)



@dataclass
class PretrainArguments:
    variant: str = field(default="tiny-pubmed-pmc", metadata={"help": "Recipe name (recipes.py); flags override it."})
    tokenizer: str | None = field(default=None, metadata={"help": "Tokenizer folder (bioalbert train-tokenizer)."})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from this BioAlbertForPreTraining instead of random weights."}
    )
    preset: str | None = field(default=None, metadata={"help": "Model size override: tiny, base, large."})
    corpus: list[str] = field(
        default_factory=list, metadata={"help": "Text files (plain/.gz) instead of the recipe's corpus globs."}
    )
    data_dir: str | None = field(default=None, metadata={"help": "Data folder (else $BIOALBERT_DATA, ../shared/data)."})
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset instead of text files."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration name."})
    text_column: str = field(default="text", metadata={"help": "Its column holding one document per row."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Pieces per example (recipe default)."})
    short_seq_prob: float = field(default=0.1, metadata={"help": "Share of examples packed to a shorter length."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of pieces to mask."})
    max_ngram: int = field(default=3, metadata={"help": "Longest masked span, in words."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "num_proc for datasets.map."})
    data_cache_dir: str | None = field(
        default=None, metadata={"help": "Where tokenised examples are cached (default: the datasets cache)."}
    )
    validation_documents: int = field(default=200, metadata={"help": "Documents held out for eval MLM/SOP accuracy."})
    max_eval_examples: int = field(default=256, metadata={"help": "Cap on held-out examples per evaluation."})
    max_train_minutes: float | None = field(
        default=None,
        metadata={"help": "Training-time budget of the run, counted across --resume: evaluate, save and stop once it "
                  "is spent."},
    )
    budget_clock: str = field(default="wall", metadata={"choices": list(CLOCKS), "help": CLOCK_HELP})
    lr_schedule_over_budget: bool = field(
        default=False,
        metadata={"help": "With --max_train_minutes: warm up and decay the learning rate linearly over the budget (or "
                  "--max_steps, whichever is further along), so a budgeted run ends at zero."},
    )
    resume: bool = field(default=False, metadata={"help": "Continue from the last checkpoint in --output_dir."})
    mlm_bias_init: str | None = field(
        default=None,
        metadata={"choices": ["unigram", "zero"],
                  "help": "Start of the MLM output bias of a new model: 'unigram' (log piece frequencies of the "
                  "training examples) or 'zero' (transformers' default). Default: the recipe's."},
    )
    position_bias: str | None = field(
        default=None,
        metadata={"choices": ["none", "alibi"],
                  "help": "Attention position bias of a new model (BioAlbertConfig.position_bias): 'none' (ALBERT's "
                  "learned absolute positions only) or 'alibi' (docs/research.md, ALiBi). Default: the recipe's."},
    )
    objective: str | None = field(
        default=None,
        metadata={"choices": ["mlm-sop", "rtd", "rtd-sop"],
                  "help": "'mlm-sop': ALBERT's masked LM + sentence order; 'rtd': ELECTRA's replaced-token detection, "
                  "a small MLM generator corrupting the input for the encoder (BioAlbertForReplacedTokenDetection); "
                  "'rtd-sop': rtd plus sentence order. Default: the recipe's."},
    )
    generator_hidden_size: int | None = field(
        default=None, metadata={"help": "rtd: the generator's width (default a quarter of the encoder's, ELECTRA's "
                                "best ratio for small models)."}
    )
    rtd_weight: float = field(default=50.0, metadata={"help": "rtd: weight of the replaced-token loss (ELECTRA's 50)."})
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "A new model's config fields over the preset's, as in transformers' run_mlm.py: e.g. "
                  "'num_hidden_groups=4,hidden_dropout_prob=0.1' (an rtd generator follows them)."},
    )
    results_dir: str | None = field(
        default=None,
        metadata={"help": "Also write the summary and curves to RESULTS_DIR/pretraining/<run_name>.{json,png} (run_name "
                  "defaults to the output folder's name); the pretraining table of docs/research.md comes from them."},
    )


def lineage_totals(summary: dict) -> dict:
    """Steps, tokens and train seconds over the whole pretraining: this run's plus those of the model it continued."""
    start = summary.get("continued_from") or {}

    def total(key: str, own: str) -> float | None:
        before = start.get(key, start.get(own))
        return None if before is None or summary.get(own) is None else before + summary[own]

    return {"total_steps": total("total_steps", "global_step"),
            "total_tokens_seen": total("total_tokens_seen", "tokens_seen_non_padding"),
            "total_train_runtime_s": total("total_train_runtime_s", "train_runtime_s")}


def unigram_log_prior(dataset, tokenizer, max_examples: int = 20_000) -> torch.Tensor:
    """Log relative frequency of each piece (add-one smoothed; special tokens, never MLM targets, at the floor) over
    the first `max_examples` training examples."""
    counts = torch.ones(len(tokenizer), dtype=torch.float64)
    for ids in dataset.select(range(min(max_examples, len(dataset))))["input_ids"]:
        counts += torch.bincount(torch.tensor(ids), minlength=len(counts)).double()
    counts[tokenizer.all_special_ids] = 1.0
    return (counts / counts.sum()).log().float()


# Objectives of `--objective`: the model class each trains, and whether sentence order is part of its loss.
OBJECTIVES = {
    "mlm-sop": (BioAlbertForPreTraining, True),  # ALBERT's: masked LM + sentence-order prediction
    "rtd": (BioAlbertForReplacedTokenDetection, False),  # ELECTRA's replaced-token detection (+ generator MLM)
    "rtd-sop": (BioAlbertForReplacedTokenDetection, True),  # the same, with ALBERT's sentence order on the encoder
}
LOSSES = ("mlm_loss", "sop_loss", "rtd_loss")
# Masked pieces / sentence pairs / every real token (replaced or original) / the replaced tokens only. The last is
# the discriminator's recall: a discriminator that calls every token original (collapsed) scores the share of
# originals on "rtd", which looks like learning, and 0 here.
ACCURACIES = ("mlm", "sop", "rtd", "rtd_replaced")


def batch_metric_sums(outputs, inputs) -> torch.Tensor:
    """Per batch: each of LOSSES (0 where the objective has none), then (correct, total) for each of ACCURACIES
    (the first three have the loss of the same position in LOSSES)."""
    labels = inputs["labels"]
    masked_labels = labels[labels != -100]
    zero = torch.zeros((), device=labels.device)
    values = [getattr(outputs, name, None) for name in LOSSES]
    values = [zero if value is None else value.detach().float() for value in values]
    order, rtd_labels = inputs.get("sentence_order_label"), getattr(outputs, "rtd_labels", None)
    active = rtd_labels != -100 if rtd_labels is not None else None
    hits = [outputs.prediction_logits.argmax(-1) == masked_labels,  # one per ACCURACIES entry; None: not trained
            outputs.sop_logits.argmax(-1) == order if outputs.sop_logits is not None and order is not None else None,
            (outputs.rtd_logits[active] > 0).long() == rtd_labels[active] if active is not None else None,
            outputs.rtd_logits[rtd_labels == 1] > 0 if active is not None else None]
    for hit in hits:
        values += [zero, zero] if hit is None else [hit.sum().float(), torch.tensor(float(hit.numel()), device=zero.device)]
    return torch.stack(values)


class PretrainingTrainer(Trainer):
    """`Trainer` that also logs each objective's losses and accuracies (train and eval) next to `loss`: MLM and SOP,
    and replaced-token detection where the model does it."""

    def __init__(self, *args, eval_data_collator=None, sentence_order: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_data_collator = eval_data_collator
        self.sentence_order = sentence_order
        # The model's forward takes **kwargs (for attention options), which makes Trainer think it averages the
        # loss over `num_items_in_batch` itself; it does not, so let Trainer scale for gradient accumulation.
        self.model_accepts_loss_kwargs = False
        size = len(LOSSES) + 2 * len(ACCURACIES)
        self._sums = {"train": torch.zeros(size), "eval": torch.zeros(size)}
        self._steps = {"train": 0, "eval": 0}

    def get_eval_dataloader(self, eval_dataset=None):
        """Held-out batches use `eval_data_collator`, whose epoch stays 0: the same masks at every evaluation."""
        if self.eval_data_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        train_collator, self.data_collator = self.data_collator, self.eval_data_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = train_collator

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.sentence_order:
            inputs = {key: value for key, value in inputs.items() if key != "sentence_order_label"}
        outputs = model(**inputs)
        with torch.no_grad():
            sums = batch_metric_sums(outputs, inputs)
            split = "train" if model.training else "eval"
            self._sums[split] = self._sums[split].to(sums.device) + sums
            self._steps[split] += 1
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _pop_metrics(self, split: str) -> dict[str, float]:
        steps = torch.tensor(float(self._steps[split]), device=self._sums[split].device)
        totals = self.accelerator.reduce(torch.cat([self._sums[split], steps.view(1)]), reduction="sum").tolist()
        self._sums[split] = torch.zeros_like(self._sums[split])
        self._steps[split] = 0
        *values, n_steps = totals
        if n_steps == 0:
            return {}
        losses, counts = values[: len(LOSSES)], values[len(LOSSES):]
        metrics = {}
        for index, task in enumerate(ACCURACIES):
            correct, total = counts[2 * index], counts[2 * index + 1]
            if total > 0:  # an objective this run does not train has no loss and no accuracy to log
                if index < len(LOSSES):
                    metrics[f"{task}_loss"] = round(losses[index] / n_steps, 4)
                metrics[f"{task}_accuracy"] = round(correct / total, 4)
        return metrics

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        budget_lr_scheduler(self, num_training_steps, optimizer)
        return super().create_scheduler(num_training_steps, optimizer)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "eval_loss" in logs:
            logs.update({f"eval_{name}": value for name, value in self._pop_metrics("eval").items()})
        elif "loss" in logs:
            logs.update(self._pop_metrics("train"))
        super().log(logs, start_time)


def recipe_flags(variant: str) -> list[str]:
    """The recipe as command-line flags, put before the user's so that the user's win (argparse: last one wins)."""
    recipe = get_recipe(variant)
    return [
        "--per_device_train_batch_size", str(recipe.per_device_batch_size),
        "--per_device_eval_batch_size", str(recipe.per_device_batch_size),
        "--gradient_accumulation_steps", str(recipe.gradient_accumulation_steps),
        "--learning_rate", str(recipe.learning_rate),
        "--max_steps", str(recipe.max_steps),
        "--warmup_steps", str(recipe.warmup_steps),
        "--weight_decay", str(recipe.weight_decay),
        "--optim", recipe.optimizer,
        "--lr_scheduler_type", "linear",
        "--adam_epsilon", "1e-6",  # ALBERT/BERT's epsilon
        "--max_grad_norm", "1.0",
        "--logging_steps", str(max(1, recipe.eval_steps // 5)),
        "--save_steps", str(recipe.save_steps),
        "--save_total_limit", "3",
        "--eval_strategy", "steps",
        "--eval_steps", str(recipe.eval_steps),
        "--report_to", "none",
        "--dataloader_drop_last", "true",
        "--remove_unused_columns", "false",  # keep `example_id`: the collator seeds each example's masks with it
        *precision_flags(),
    ]  # fmt: skip


def parse_args(argv: list[str] | None) -> tuple[PretrainArguments, TrainingArguments]:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--variant", default=PretrainArguments.variant)
    variant = pre.parse_known_args(argv)[0].variant
    get_recipe(variant)  # fails early, naming the known recipes
    parser = HfArgumentParser((PretrainArguments, TrainingArguments))
    if "-h" in argv or "--help" in argv:
        parser.parse_args_into_dataclasses(argv)
    args, training_args = parser.parse_args_into_dataclasses(recipe_flags(variant) + argv)
    if not any(a.split("=")[0] in ("--output_dir", "--output-dir") for a in argv):
        raise SystemExit("bioalbert pretrain: --output_dir is required.")
    # Tokens seen (padding excluded) go into the logs. Set here: HfArgumentParser reads this str|bool field as bool.
    if training_args.include_num_input_tokens_seen == "no":
        training_args.include_num_input_tokens_seen = "non_padding"
    return args, training_args


def corpus_files(args: PretrainArguments, recipe) -> list[Path]:
    if args.corpus:
        return [Path(p) for p in args.corpus]
    data_dir = resolve_data_dir(args.data_dir)
    files = []
    for pattern in recipe.corpus:
        matches = sorted(glob.glob(str(data_dir / pattern)))
        if not matches:
            raise FileNotFoundError(f"Recipe {recipe.name}: no file matches {data_dir / pattern}.")
        files += [Path(m) for m in matches]
    return files


def parse_config_overrides(text: str, preset: str) -> dict:
    """`--config_overrides` as config fields, typed by transformers' own parser (`update_from_string`), which names
    a field the config does not have."""
    config = BioAlbertConfig.from_preset(preset)
    try:
        config.update_from_string(text)
    except (ValueError, TypeError) as error:  # an unknown field, or one whose preset value gives no type to parse by
        raise ValueError(f"--config_overrides {text!r}: {error}") from None
    return {key: getattr(config, key) for key in (item.split("=")[0] for item in text.split(","))}


def model_sizes(config) -> dict[str, int]:
    """The size fields of a config (those the presets set), for the pretraining table."""
    return {key: getattr(config, key) for key in PRESETS["tiny"]}


def plot_curves(log_history: list[dict], path: Path) -> Path | None:
    """Writes each logged objective's accuracy (MLM, SOP, RTD; train and held-out) against step as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [task for task in ACCURACIES if any(f"{task}_accuracy" in entry for entry in log_history)] or ["mlm"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for prefix, label, style in (("", "train", "-"), ("eval_", "held-out", "o-")):
            points = [(e["step"], e[f"{prefix}{task}_accuracy"]) for e in log_history if f"{prefix}{task}_accuracy" in e]
            if points:
                ax.plot(*zip(*points), style, label=label, markersize=3)
        ax.set_title("RTD recall (replaced tokens found)" if task == "rtd_replaced" else f"{task.upper()} accuracy")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    args, training_args = parse_args(argv)
    recipe = get_recipe(args.variant)
    max_seq_length = args.max_seq_length or recipe.max_seq_length
    set_seed(training_args.seed)
    started = time.time()

    last_checkpoint = None
    output_dir = Path(training_args.output_dir)
    if args.resume:
        last_checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last_checkpoint is None:
            raise FileNotFoundError(f"--resume: no checkpoint-* folder in {output_dir}.")
        logger.info("Resuming from %s", last_checkpoint)
    elif output_dir.is_dir() and get_last_checkpoint(str(output_dir)) is not None:
        raise FileExistsError(f"{output_dir} already holds checkpoints: pass --resume, or another --output_dir.")

    tokenizer_source = args.tokenizer or args.model_name_or_path
    if tokenizer_source is None:
        raise SystemExit("bioalbert pretrain: pass --tokenizer DIR (or --model_name_or_path with a tokenizer).")
    tokenizer = load_tokenizer(tokenizer_source)
    objective = args.objective or recipe.objective
    model_class, sentence_order = OBJECTIVES[objective]
    rtd = {"rtd_weight": args.rtd_weight} if model_class is BioAlbertForReplacedTokenDetection else {}
    if args.model_name_or_path:
        if args.config_overrides:  # as in run_mlm.py: a saved model's config is its weights' shape
            raise ValueError("--config_overrides sets up a new model; it cannot change --model_name_or_path's config.")
        model = model_class.from_pretrained(args.model_name_or_path, **rtd)
    else:
        preset = args.preset or recipe.preset
        overrides = {"max_position_embeddings": max(512, max_seq_length)}
        if rtd:
            overrides["generator_hidden_size"] = args.generator_hidden_size or PRESETS[preset]["hidden_size"] // 4
        if args.config_overrides:
            overrides.update(parse_config_overrides(args.config_overrides, preset))
        model = init_model(tokenizer, preset, training_args.seed, args.position_bias or recipe.position_bias,
                           model_class=model_class, **rtd, **overrides)

    with training_args.main_process_first(desc="pretraining data"):
        documents = load_documents(
            [] if args.dataset_name else corpus_files(args, recipe),
            args.dataset_name,
            args.dataset_config_name,
            args.text_column,
            cache_dir=args.data_cache_dir,
        )
        n_heldout = min(args.validation_documents, len(documents) // 10)
        eval_dataset = None
        if n_heldout > 0:
            split = documents.train_test_split(test_size=n_heldout, seed=training_args.seed)
            documents = split["train"]
        build = dict(
            tokenizer=tokenizer,
            max_seq_length=max_seq_length,
            seed=training_args.seed,
            short_seq_prob=args.short_seq_prob,
            num_proc=args.preprocessing_num_workers,
            cache_dir=args.data_cache_dir,
        )
        train_dataset = build_pretraining_dataset(documents, **build)
        if n_heldout > 0:
            eval_dataset = build_pretraining_dataset(split["test"], **build)
            eval_dataset = eval_dataset.select(range(min(args.max_eval_examples, len(eval_dataset))))
    # Row numbers seed each example's masks (see NgramMaskingCollator): resuming reproduces them exactly.
    train_dataset = train_dataset.add_column("example_id", list(range(len(train_dataset))))
    if eval_dataset is None:
        training_args.eval_strategy = "no"
    else:
        eval_dataset = eval_dataset.add_column("example_id", list(range(len(eval_dataset))))
    logger.info("%d training examples of up to %d pieces; %s held-out", len(train_dataset), max_seq_length,
                len(eval_dataset) if eval_dataset is not None else 0)

    mlm_bias_init = args.mlm_bias_init or recipe.mlm_bias_init
    if mlm_bias_init == "unigram" and not args.model_name_or_path and last_checkpoint is None:
        # With the prior in the bias, the encoder has no reason to learn it as one vector shared by every position
        # (the collapse that recipes.Recipe.mlm_bias_init describes).
        with torch.no_grad():
            model.get_output_embeddings().bias.copy_(unigram_log_prior(train_dataset, tokenizer))

    collate = dict(tokenizer=tokenizer, mlm_probability=args.mlm_probability, max_ngram=args.max_ngram,
                   pad_to_multiple_of=8, seed=training_args.seed)
    train_collator = NgramMaskingCollator(**collate)
    budget = ([TimeBudget(args.max_train_minutes, clock=args.budget_clock, schedules_lr=args.lr_schedule_over_budget)]
              if args.max_train_minutes else [])
    trainer = PretrainingTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=train_collator,
        processing_class=tokenizer,
        callbacks=[EpochSetter(train_collator), *budget],
        eval_data_collator=NgramMaskingCollator(**collate),
        sentence_order=sentence_order,
    )

    # The start's record as the weights were loaded: a start folder in models/ is replaced in place as pretraining
    # goes on, possibly while this run (or a pause before its --resume) lasts.
    start_file = output_dir / "continued_from.json"
    if last_checkpoint is not None and start_file.is_file():
        continued_from = json.loads(start_file.read_text(encoding="utf-8"))
    else:
        continued_from = pretraining_record(args.model_name_or_path)
        if trainer.is_world_process_zero():
            output_dir.mkdir(parents=True, exist_ok=True)
            start_file.write_text(json.dumps(continued_from, indent=2) + "\n", encoding="utf-8")
    result = trainer.train(resume_from_checkpoint=last_checkpoint)
    trainer.save_model()
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(output_dir)
        history = trainer.state.log_history
        last = {k: v for entry in history for k, v in entry.items() if "accuracy" in k or k.endswith("_loss")}
        summary = {
            "variant": args.variant,
            "objective": objective,
            "recipe": recipe.to_dict(),
            "trained_on": recipe.trained_on,
            "corpus_files": [str(p) for p in ([] if args.dataset_name else corpus_files(args, recipe))],
            "dataset_name": args.dataset_name,
            "train_examples": len(train_dataset),
            "max_seq_length": max_seq_length,
            "mlm_bias_init": mlm_bias_init if not args.model_name_or_path else "from " + args.model_name_or_path,
            "global_step": trainer.state.global_step,
            "max_steps": training_args.max_steps,
            "train_batch_size_global": training_args.train_batch_size
            * training_args.gradient_accumulation_steps
            * training_args.world_size,
            "epochs": trainer.state.epoch,
            "tokens_seen_non_padding": trainer.state.num_input_tokens_seen,
            "wall_minutes_this_session": round((time.time() - started) / 60, 2),
            "max_train_minutes": args.max_train_minutes,
            "budget_clock": args.budget_clock,
            "lr_schedule_over_budget": args.lr_schedule_over_budget,
            # The budget's clock over every session of the run (train_runtime_s is this session's wall time only).
            "budget_spent_minutes": round(budget[0].elapsed_seconds() / 60, 2) if budget else None,
            "stopped_by_budget": bool(budget) and budget[0].elapsed_seconds() > budget[0].seconds,
            "train_runtime_s": result.metrics.get("train_runtime"),
            "precision": precision_name(training_args),
            "model_sizes": model_sizes(model.config),
            "position_bias": model.config.position_bias or "none",
            "generator_hidden_size": model.config.generator_hidden_size,
            "final": last,
            **environment(),
            "continued_from": continued_from,
            "log_history": history,
        }
        if summary["continued_from"]:
            summary.update(lineage_totals(summary))
        (output_dir / "pretraining_metrics.json").write_text(json.dumps(summary, indent=2))
        plot_curves(history, output_dir / "pretraining_curves.png")
        if args.results_dir:
            published = Path(args.results_dir) / "pretraining"
            published.mkdir(parents=True, exist_ok=True)
            name = training_args.run_name or output_dir.name
            (published / f"{name}.json").write_text(json.dumps({"name": name, **summary}, indent=2) + "\n")
            shutil.copyfile(output_dir / "pretraining_curves.png", published / f"{name}.png")
        logger.info("Saved model, tokenizer, pretraining_metrics.json and pretraining_curves.png to %s", output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
