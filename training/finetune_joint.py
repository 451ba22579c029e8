"""Joint BioNER fine-tuning: one token classifier for the entity types of all benchmark corpora at once.

    bioalbert finetune-joint --model models/bioalbert-tiny-pubmed-task --output-dir runs/joint \
        --max-train-minutes 40 --seeds 42 --model-name bioalbert-tiny-ner

Each corpus annotates only its own types: an NCBI-disease sentence marks its diseases and tags a chemical in it `O`.
Cross-entropy over the union of labels would teach "chemicals are O" from every corpus but BC5CDR. So the target of
a word is the *set* of union labels its corpus tag is consistent with, and the loss is -log of the probability the
model puts on that set (the marginal likelihood of partial annotation; Greenberg et al., 2018, "Marginal likelihood
training of BiLSTM-CRF for biomedical named entity recognition from disjoint label sets"). A word that NCBI-disease
tags `O` may be `O` or any tag of a type NCBI-disease does not annotate; a word it tags `B-Disease` must be
`B-Disease`. One softmax over the union keeps the result a standard `AutoModelForTokenClassification`, so
`pipeline("ner")`, `bioalbert tag` and the Space use it as they are, and all types come out of one forward pass.

Every benchmark is then scored on its own test split and its own types (`CORPUS_TYPES` maps predictions back), in
the results-file schema of `bioalbert finetune`, so the report shows it beside the single-task models.
"""

import json
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from datasets import Dataset, concatenate_datasets, interleave_datasets
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    HfArgumentParser,
    set_seed,
)

import bioalbert.modeling  # noqa: F401  (registers BioAlbert with the Auto classes)

from .bioner_data import BioNERFormatError, label_list, load_bioner
from .finetune import (
    INFO_FILE,
    NerTrainer,
    NerTrainingArguments,
    TimeBudget,
    copy_model_files,
    last_complete_checkpoint,
    log_softmax_logits,
    summarize,
)
from .ner_metric import compute_ner_metrics
from .ner_windows import (
    DECODING, IGNORE_INDEX, decode_sentences, encode_windows, make_windows, piece_counts, predict_words,
)
from .precision import precision_flags, precision_name
from .results import write_result
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)

# Training corpus -> {its tag type: the union types that tag may stand for}. The union types follow HunFlair's
# names. BC2GM's GENE marks genes and their products, which JNLPBA splits into protein, DNA and RNA: a BC2GM mention
# may be any of the three, so JNLPBA's finer types are kept apart in the model and merged back into Gene only when
# BC2GM is scored. JNLPBA's protein is a gene product, the model's Gene. LINNAEUS also tags people named by role
# (`patients`) as species where Species-800 tags them O; a Person type for them took common species names too (`mice`)
# and was not kept (docs/research.md, "The Person type").
CORPUS_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "ncbi_disease": {"Disease": ("Disease",)},
    "bc5cdr": {"Chemical": ("Chemical",), "Disease": ("Disease",)},
    "bc2gm": {"Gene": ("Gene", "DNA", "RNA")},
    "jnlpba": {"protein": ("Gene",), "DNA": ("DNA",), "RNA": ("RNA",), "cell_line": ("CellLine",),
               "cell_type": ("CellType",)},
    "linnaeus": {"Species": ("Species",)},
    "s800": {"Species": ("Species",)},
}
# Benchmark scored -> the training corpus whose map it uses. BC5CDR-chem and -disease are the two halves of BC5CDR
# (the same sentences), trained on once as the combined corpus.
BENCHMARK_CORPUS = {"ncbi_disease": "ncbi_disease", "bc5cdr_disease": "bc5cdr", "bc5cdr_chem": "bc5cdr",
                    "bc2gm": "bc2gm", "jnlpba": "jnlpba", "linnaeus": "linnaeus", "s800": "s800"}


def union_labels() -> list[str]:
    types = {union for mapping in CORPUS_TYPES.values() for unions in mapping.values() for union in unions}
    return label_list([{f"B-{t}" for t in types}])


def allowed_labels(corpus: str, tag: str, labels: list[str]) -> frozenset[int]:
    """The union label ids that the corpus's `tag` is consistent with."""
    mapping = CORPUS_TYPES[corpus]
    if tag == "O":
        annotated = {union for unions in mapping.values() for union in unions}
        return frozenset(i for i, label in enumerate(labels) if label == "O" or label[2:] not in annotated)
    prefix, corpus_type = tag[:2], tag[2:]
    if corpus_type not in mapping:
        raise ValueError(f"{corpus}: tag {tag!r} has a type that CORPUS_TYPES does not map")
    return frozenset(labels.index(prefix + union) for union in mapping[corpus_type])


def to_corpus_tags(union_tags: list[str], corpus_types: dict, types: set[str]) -> list[str]:
    """Predicted union tags as a corpus's own tags (`corpus_types`: its CORPUS_TYPES entry), restricted to
    `types`; other types become O."""
    back = {union: corpus_type for corpus_type, unions in corpus_types.items() if corpus_type in types
            for union in unions}
    return [tag[:2] + back[tag[2:]] if tag != "O" and tag[2:] in back else "O" for tag in union_tags]


class LabelSets:
    """Interns each distinct set of allowed labels; a word's training label is its set's index."""

    def __init__(self, labels: list[str]):
        self.labels, self.sets, self.index = labels, [], {}

    def id(self, corpus: str, tag: str) -> int:
        allowed = allowed_labels(corpus, tag, self.labels)
        if allowed not in self.index:
            self.index[allowed] = len(self.sets)
            self.sets.append(allowed)
        return self.index[allowed]

    def mask(self) -> torch.Tensor:
        """(number of sets, number of labels) bool: row s marks the labels of set s."""
        mask = torch.zeros(len(self.sets), len(self.labels), dtype=torch.bool)
        for row, allowed in enumerate(self.sets):
            mask[row, list(allowed)] = True
        return mask


class CorpusSplit:
    """One split of one corpus in model windows, with partial labels (set ids) on each word's first piece."""

    def __init__(self, corpus, split, tokenizer, label_sets, max_length, stride):
        self.corpus = corpus
        names = split.features["ner_tags"].feature.names
        self.sentences = list(split["tokens"])
        self.gold = [[names[i] for i in tags] for tags in split["ner_tags"]]
        self.types = {tag[2:] for tags in self.gold for tag in tags if tag != "O"}
        set_ids = [[label_sets.id(corpus, tag) for tag in tags] for tags in self.gold]
        counts = piece_counts(tokenizer, self.sentences)
        self.windows = make_windows(counts, max_length - tokenizer.num_special_tokens_to_add(), stride)
        self.features, _ = encode_windows(tokenizer, self.sentences, self.windows, max_length, set_ids, counts)

    def entity_f1(self, union_tags: list[list[str]]) -> float:
        """Entity F1 of predicted union tags on this corpus's own types."""
        predicted = [to_corpus_tags(tags, CORPUS_TYPES[self.corpus], self.types) for tags in union_tags]
        return compute_ner_metrics(self.gold, predicted)["entity_f1"]


def partial_label_loss(logits: torch.Tensor, set_ids: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Mean over labelled words of -log P(label in the word's allowed set)."""
    keep = set_ids != IGNORE_INDEX
    logits = logits[keep].float()
    allowed_rows = allowed.to(logits.device)[set_ids[keep]]
    on_set = torch.logsumexp(logits.masked_fill(~allowed_rows, float("-inf")), dim=-1)
    return (torch.logsumexp(logits, dim=-1) - on_set).mean()


class JointTrainer(NerTrainer):
    """`labels` hold label-set ids, not label ids: the model runs without them and the loss is the partial-label one."""

    def __init__(self, *args, allowed: torch.Tensor, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = allowed

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
        loss = partial_label_loss(outputs.logits, inputs["labels"], self.allowed)
        return (loss, outputs) if return_outputs else loss


class JointDev:
    """The dev splits of all corpora as one evaluation set; the metric scores each corpus on its own types and
    averages the entity F1s (macro), so that the largest corpus does not choose the checkpoint alone."""

    def __init__(self, splits: list[CorpusSplit], labels: list[str]):
        self.splits, self.labels = splits, labels
        self.dataset = Dataset.from_list([feature for split in splits for feature in split.features])

    def compute_metrics(self, eval_prediction) -> dict:
        log_probs, label_ids = eval_prediction.predictions, eval_prediction.label_ids
        metrics, offset = {}, 0
        for split in self.splits:
            rows = range(offset, offset + len(split.windows))
            offset += len(split.windows)
            window_scores = [log_probs[r][label_ids[r] != IGNORE_INDEX] for r in rows]
            union = decode_sentences(split.windows, window_scores, [len(words) for words in split.sentences],
                                     self.labels)
            metrics[f"{split.corpus}_entity_f1"] = split.entity_f1(union)
        metrics["entity_f1"] = statistics.fmean(metrics.values())
        return metrics

    def score(self, model, tokenizer, batch_size: int, max_length: int, stride: int) -> dict:
        """The metric of `compute_metrics`, computed from a saved model (to rescore a finished run)."""
        metrics = {f"{split.corpus}_entity_f1": split.entity_f1(
            predict_words(model, tokenizer, split.sentences, batch_size, max_length, stride)) for split in self.splits}
        return {**metrics, "entity_f1": statistics.fmean(metrics.values())}


@dataclass
class JointArguments:
    model: str = field(metadata={"help": "Pretrained BioALBERT folder or Hub id to fine-tune."})
    corpora: list[str] = field(default_factory=lambda: list(CORPUS_TYPES), metadata={"help": "Training corpora."})
    benchmarks: list[str] = field(default_factory=lambda: list(BENCHMARK_CORPUS),
                                  metadata={"help": "Benchmarks scored on their test splits at the end."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder holding bioner/<name>/ (default: $BIOALBERT_DATA, ../shared/data)."})
    seeds: list[int] = field(default_factory=lambda: [42], metadata={"help": "One run per seed; the best on dev is kept."})
    max_eval_sentences: int | None = field(default=1000, metadata={"help": "Dev sentences per corpus for checkpoint choice."})
    max_train_sentences: int | None = field(default=None, metadata={"help": "Training sentences per corpus (default: all)."})
    corpus_sampling_exponent: float | None = field(default=None, metadata={
        "help": "Draw each corpus with probability proportional to (its training windows)^exponent, until every "
                "corpus has been seen once per epoch (0: uniform, 0.5: small corpora upsampled). Default: the corpora "
                "concatenated once per epoch."})
    max_test_sentences: int | None = field(default=None, metadata={"help": "Test sentences per benchmark (default: all)."})
    max_seq_length: int = field(default=128, metadata={"help": "Pieces per window."})
    window_stride: int = field(default=32, metadata={"help": "Pieces of context that consecutive windows share."})
    max_train_minutes: float | None = field(default=None, metadata={"help": "Stop each seed's training after this many minutes."})
    model_name: str | None = field(default=None, metadata={"help": "Name in results/<name>/ (default: the output folder's name)."})
    results_dir: str = field(default="results", metadata={"help": "Where results/<model>/<benchmark>.json go."})
    resume: bool = field(default=False, metadata={"help": "Continue an interrupted run in --output-dir."})


@dataclass
class JointTrainingArguments(NerTrainingArguments):
    eval_strategy: str = field(default="steps", metadata={"help": "When to evaluate on dev (no, steps, epoch)."})
    save_strategy: str = field(default="steps", metadata={"help": "When to save a checkpoint."})
    eval_steps: float = field(default=1000, metadata={"help": "Evaluate (and save) every N steps."})
    save_steps: float = field(default=1000, metadata={"help": "Save every N steps (keep equal to --eval-steps)."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=3, metadata={"help": "Epochs over the concatenated corpora."})


def load_corpus(name: str, data_dir, limits: dict) -> dict:
    raw = load_bioner(name, data_dir)
    for split, limit in limits.items():
        if limit is not None and split in raw:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))
    return raw


def mix_corpora(splits: list[Dataset], exponent: float | None, seed: int) -> Dataset:
    """One epoch of training windows. Concatenated, each corpus weighs by its size: JNLPBA's 17k sentences against
    BC5CDR's 4.6k. Sampling proportional to size^exponent (exponent < 1) upsamples the small corpora, as
    multilingual models do with languages; "all_exhausted" cycles the smaller ones, so each is seen whole."""
    if exponent is None:
        return concatenate_datasets(splits)
    weights = [len(split) ** exponent for split in splits]
    return interleave_datasets(splits, probabilities=[w / sum(weights) for w in weights], seed=seed,
                               stopping_strategy="all_exhausted")


def train_seed(seed, args, training_args, tokenizer, labels, label_sets, train, dev) -> dict:
    output_dir = Path(training_args.output_dir)
    record_path = output_dir / "run.json"
    if args.resume and record_path.is_file():
        record = json.loads(record_path.read_text())
        if record.get("decoding") != DECODING:  # scored by per-word argmax: rescore dev (test is scored afresh)
            model = AutoModelForTokenClassification.from_pretrained(output_dir)
            record["dev"].update(dev.score(model, tokenizer, training_args.per_device_eval_batch_size,
                                           args.max_seq_length, args.window_stride))
            record["decoding"] = DECODING
            record_path.write_text(json.dumps(record, indent=2) + "\n")
        return record
    checkpoint = last_complete_checkpoint(output_dir) if output_dir.is_dir() else None
    if checkpoint is not None and not args.resume:
        raise FileExistsError(f"{output_dir} already holds checkpoints ({checkpoint.name}): pass --resume")
    set_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    trainer = JointTrainer(
        model=model, args=training_args, train_dataset=train, eval_dataset=dev.dataset,
        data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer,
        compute_metrics=dev.compute_metrics, preprocess_logits_for_metrics=log_softmax_logits,
        callbacks=[TimeBudget(args.max_train_minutes)] if args.max_train_minutes else [], allowed=label_sets.mask(),
    )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_time = time.perf_counter() - started
    trainer.save_model(str(output_dir))
    dev_metrics = {key.removeprefix("eval_"): value for key, value in trainer.evaluate().items()}
    record = {"seed": seed, "global_step": trainer.state.global_step, "epochs": trainer.state.epoch,
              "best_checkpoint": trainer.state.best_model_checkpoint, "train_wall_time_s": round(train_time, 1),
              "dev": dev_metrics, "decoding": DECODING}
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def score_benchmark(model, tokenizer, benchmark: str, args, batch_size: int) -> dict:
    """Test scores of the joint model on one benchmark, on that benchmark's own types."""
    test = load_corpus(benchmark, args.data_dir, {"test": args.max_test_sentences})["test"]
    names = test.features["ner_tags"].feature.names
    gold = [[names[i] for i in tags] for tags in test["ner_tags"]]
    types = {tag[2:] for tags in gold for tag in tags if tag != "O"}
    started = time.perf_counter()
    union = predict_words(model, tokenizer, list(test["tokens"]), batch_size, args.max_seq_length, args.window_stride)
    predictions = [to_corpus_tags(tags, CORPUS_TYPES[BENCHMARK_CORPUS[benchmark]], types) for tags in union]
    return {**compute_ner_metrics(gold, predictions), "sentences": len(gold),
            "predict_wall_time_s": round(time.perf_counter() - started, 1)}


def run(args: JointArguments, training_args: JointTrainingArguments) -> list[dict]:
    labels = union_labels()
    label_sets = LabelSets(labels)
    tokenizer = load_tokenizer(args.model)
    limits = {"train": args.max_train_sentences, "validation": args.max_eval_sentences}
    train_splits, dev_splits, train_sentences = [], [], {}
    for corpus in args.corpora:
        if corpus not in CORPUS_TYPES:
            raise ValueError(f"--corpora: unknown corpus {corpus!r}; CORPUS_TYPES maps {', '.join(CORPUS_TYPES)}")
        raw = load_corpus(corpus, args.data_dir, limits)
        train = CorpusSplit(corpus, raw["train"], tokenizer, label_sets, args.max_seq_length, args.window_stride)
        train_splits.append(Dataset.from_list(train.features))
        train_sentences[corpus] = len(train.sentences)
        dev_splits.append(CorpusSplit(corpus, raw["validation"], tokenizer, label_sets, args.max_seq_length,
                                      args.window_stride))
        logger.info("%s: %d training sentences -> %d windows", corpus, len(train.sentences), len(train.windows))
    for benchmark in args.benchmarks:
        if BENCHMARK_CORPUS.get(benchmark) not in args.corpora:
            raise ValueError(f"--benchmarks: {benchmark!r} needs training corpus {BENCHMARK_CORPUS.get(benchmark)!r}")
    train = mix_corpora(train_splits, args.corpus_sampling_exponent, training_args.seed)
    dev = JointDev(dev_splits, labels)

    output_dir = Path(training_args.output_dir)
    runs = []
    for seed in args.seeds:
        seed_args = replace(training_args, output_dir=str(output_dir / f"seed-{seed}"), seed=seed)
        runs.append(train_seed(seed, args, seed_args, tokenizer, labels, label_sets, train, dev))
        logger.info("Seed %d: dev macro entity F1 %.4f", seed, runs[-1]["dev"]["entity_f1"])
    best = max(runs, key=lambda record: record["dev"]["entity_f1"])
    copy_model_files(output_dir / f"seed-{best['seed']}", output_dir)
    info = {"base_model": args.model, "dataset": "all-types", "corpora": args.corpora, "labels": labels,
            "corpus_types": {corpus: CORPUS_TYPES[corpus] for corpus in args.corpora}, "seeds": args.seeds,
            "best_seed": best["seed"], "max_seq_length": args.max_seq_length, "window_stride": args.window_stride}
    (output_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")

    training = {"corpora": args.corpora, "train_sentences": train_sentences, "max_epochs": training_args.num_train_epochs,
                "max_train_minutes": args.max_train_minutes, "corpus_sampling_exponent": args.corpus_sampling_exponent,
                "train_windows_per_epoch": len(train), "learning_rate": training_args.learning_rate,
                "batch_size": training_args.per_device_train_batch_size, "max_seq_length": args.max_seq_length,
                "precision": precision_name(training_args), "torch_threads": torch.get_num_threads(),
                "epochs": statistics.fmean(r["epochs"] for r in runs),
                "train_wall_time_s": round(sum(r["train_wall_time_s"] for r in runs), 1),
                "loss": "partial-label marginal likelihood over the union of types (training/finetune_joint.py)"}
    models = {r["seed"]: AutoModelForTokenClassification.from_pretrained(output_dir / f"seed-{r['seed']}") for r in runs}
    results = []
    for benchmark in args.benchmarks:
        started = time.perf_counter()
        per_seed = {seed: score_benchmark(model, tokenizer, benchmark, args, training_args.per_device_eval_batch_size)
                    for seed, model in models.items()}
        result = {"model": args.model_name or output_dir.name, "model_path": str(output_dir),
                  "base_model": args.model, "dataset": benchmark, "split": "test", "decoding": DECODING,
                  "seeds": args.seeds,
                  "runs": [{"seed": r["seed"], "dev_entity_f1": r["dev"][f"{BENCHMARK_CORPUS[benchmark]}_entity_f1"],
                            "dev_macro_entity_f1": r["dev"]["entity_f1"],
                            "entity_f1": per_seed[r["seed"]]["entity_f1"], "token_f1": per_seed[r["seed"]]["token_f1"],
                            "epochs": r["epochs"], "global_step": r["global_step"],
                            "train_wall_time_s": r["train_wall_time_s"]} for r in runs],
                  "training": training, "test_sentences": per_seed[best["seed"]]["sentences"],
                  "wall_time_s": round(time.perf_counter() - started, 1)}
        result.update(summarize([{"test": scores} for scores in per_seed.values()]))  # as `bioalbert finetune`
        write_result(result, args.results_dir)
        logger.info("%s: test entity F1 %.2f", benchmark, 100 * result["entity"]["f1"])
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    parser = HfArgumentParser((JointArguments, JointTrainingArguments))
    argv = list(sys.argv[1:] if argv is None else argv)
    args, training_args = parser.parse_args_into_dataclasses(precision_flags() + argv)
    if training_args.output_dir is None:
        parser.error("--output-dir is required")
    try:
        results = run(args, training_args)
    except (FileNotFoundError, FileExistsError, ConnectionError, BioNERFormatError, ValueError) as error:
        print(f"bioalbert finetune-joint: error: {error}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result['dataset']:<16} test entity F1 {100 * result['entity']['f1']:.2f} "
              f"(±{100 * result['entity']['f1_std']:.2f}) on its own types")
    print(f"model in {training_args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
