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

With `--teachers`, single-task models of the benchmarks label their training corpora with soft targets, and the
joint model learns from those as well as the gold tags (BAM, Clark et al., 2019, "Born-Again Multi-Task Networks"):
a teacher that passed over its small corpus many times in its budget hands on what the joint run's few passes over
everything cannot see (docs/research.md, "Single-task teachers and per-corpus conventions"). Each teacher's distribution over its own tags enters the same partial-label loss (its `O`
still allows the types it does not know), weighted against gold by teacher annealing: gold weight rises linearly
from 0 at the first step to 1 at the last, so the model ends on the gold annotation.

Every benchmark is then scored on its own test split and its own types (`CORPUS_TYPES` maps predictions back), in
the results-file schema of `bioalbert finetune`, so the report shows it beside the single-task models.
"""

import itertools
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, concatenate_datasets, interleave_datasets
from transformers import AutoConfig, AutoModelForTokenClassification, DataCollatorForTokenClassification

import bioalbert.modeling  # noqa: F401  (registers BioAlbert with the Auto classes)
from bioalbert.ner.corpus_types import (
    BENCHMARK_CORPUS, CORPUS_TYPES, JOINT_DECODING, allowed_labels, decode_corpus_tags, predict_corpus_tags,
    separate_conventions, union_labels,
)
from bioalbert.ner.scoring import predict_scores
from bioalbert.ner.windows import IGNORE_INDEX, encode, sentence_scores

from .bioner_data import first_sentences, load_bioner
from .finetune import (
    ModelArguments, NerTrainer, NerTrainingArguments, RunArguments, SeedSetup, keep_best_seed, parse_args,
    train_seeds, training_record,
)
from .ner_metric import compute_ner_metrics
from .results import Result, encoder_identity
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)


class LabelSets:
    """Interns each distinct set of allowed labels; a word's training label is its set's index."""

    def __init__(self, labels: list[str], table: dict = CORPUS_TYPES):
        self.labels, self.table, self.sets, self.index = labels, table, [], {}

    def id(self, corpus: str, tag: str, types: set[str] | None = None) -> int:
        allowed = allowed_labels(corpus, tag, self.labels, types, self.table)
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
        self.corpus, self.corpus_types = corpus, label_sets.table[corpus]
        self.tokenizer, self.max_length, self.stride = tokenizer, max_length, stride
        names = split.features["ner_tags"].feature.names
        self.sentences = list(split["tokens"])
        self.gold = [[names[i] for i in tags] for tags in split["ner_tags"]]
        self.types = {tag[2:] for tags in self.gold for tag in tags if tag != "O"}
        set_ids = [[label_sets.id(corpus, tag) for tag in tags] for tags in self.gold]
        self.windows, self.features, self.positions = encode(tokenizer, self.sentences, max_length, stride, set_ids)

    def with_teacher_rows(self, first_row: int | None) -> list[dict]:
        """The features with `teacher_rows`: on each word's first piece the row of the teacher-target table that
        holds the word's targets (rows numbered from `first_row` in sentence and word order), elsewhere -100
        (everywhere for `first_row=None`: a corpus without teacher)."""
        if first_row is None:
            return [{**feature, "teacher_rows": [IGNORE_INDEX] * len(feature["input_ids"])} for feature in self.features]
        sentence_rows = [first_row + offset for offset in
                         [0] + list(itertools.accumulate(len(words) for words in self.sentences))[:-1]]
        features = []
        for feature, window, positions in zip(self.features, self.windows, self.positions):
            rows = [IGNORE_INDEX] * len(feature["input_ids"])
            for word, position in enumerate(positions):
                rows[position] = sentence_rows[window.sentence] + window.start + word
            features.append({**feature, "teacher_rows": rows})
        return features

    def entity_f1(self, sentence_scores: list[np.ndarray], labels: list[str]) -> float:
        """Entity F1 on this corpus's own types, from the model's (words, union labels) log-probabilities."""
        predicted = decode_corpus_tags(sentence_scores, labels, self.corpus, self.types,
                                       {self.corpus: self.corpus_types})
        return compute_ner_metrics(self.gold, predicted)["entity_f1"]


def partial_label_loss(logits: torch.Tensor, set_ids: torch.Tensor, allowed: torch.Tensor,
                       teacher: "TeacherTargets | None" = None, teacher_rows: torch.Tensor | None = None,
                       gold_weight: float = 1.0) -> torch.Tensor:
    """Mean over labelled words of -log P(label in the word's allowed set). A word with a teacher row adds the
    teacher's soft targets, -sum_k w_k log P(set_k), at weight 1 - `gold_weight`."""
    keep = set_ids != IGNORE_INDEX
    log_probs = logits[keep].float().log_softmax(-1)
    allowed = allowed.to(log_probs.device)
    # log P(set) for every label set: (words, sets)
    log_set_probs = torch.logsumexp(log_probs[:, None, :].masked_fill(~allowed[None], float("-inf")), dim=-1)
    gold = -log_set_probs.gather(1, set_ids[keep][:, None]).squeeze(1)
    if teacher is None or teacher_rows is None or gold_weight >= 1.0:
        return gold.mean()
    rows = teacher_rows[keep]
    taught = rows != IGNORE_INDEX
    sets, weights = teacher.sets.to(log_probs.device)[rows[taught]], teacher.weights.to(log_probs.device)[rows[taught]]
    soft = -(weights * log_set_probs[taught].gather(1, sets)).sum(-1)
    loss = gold.clone()
    loss[taught] = gold_weight * gold[taught] + (1.0 - gold_weight) * soft
    return loss.mean()


@dataclass
class TeacherTargets:
    """Soft targets of every taught training word: row r holds up to K (label-set id, weight) pairs, weights
    summing to 1 (padding: set 0, weight 0)."""

    sets: torch.Tensor  # (rows, K) long
    weights: torch.Tensor  # (rows, K) float


def teacher_probs(path: str, corpus: str, sentences: list[list[str]], batch_size: int, cache: Path) -> tuple[list[str], np.ndarray]:
    """A single-task model's tags and its (words, tags) probabilities for every word of `sentences`, in order.
    Cached in `cache` (.npz), which a run with the same teacher and sentences reuses (seeds run as separate
    processes, a resumed run)."""
    key = {"teacher": str(path), "corpus": corpus, "sentences": len(sentences),
           "words": sum(len(words) for words in sentences)}
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if json.loads(str(stored["key"])) == key:
            return json.loads(str(stored["tags"])), stored["probs"].astype(np.float32)
    model = AutoModelForTokenClassification.from_pretrained(path)
    tags = [model.config.id2label[i] for i in range(model.config.num_labels)]
    started = time.perf_counter()
    scores = predict_scores(model, load_tokenizer(path), sentences, batch_size)
    probs = np.exp(np.concatenate(scores)).astype(np.float16)  # as cached: a resumed run learns the same targets
    logger.info("Teacher %s on %s: %d words in %.0f s", path, corpus, len(probs), time.perf_counter() - started)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.npz")
    np.savez(partial, key=json.dumps(key), tags=json.dumps(tags), probs=probs)
    os.replace(partial, cache)  # whole or absent for another process reading it
    return tags, probs.astype(np.float32)


def corpus_teacher_targets(corpus: str, split: "CorpusSplit", teachers: dict[str, str], label_sets: LabelSets,
                           batch_size: int, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(words, K) label-set ids and weights from the corpus's teachers, each teacher weighing 1/len(teachers)."""
    sets, weights = [], []
    for benchmark, path in teachers.items():
        known = {tag[2:] for tag in AutoConfig.from_pretrained(path).id2label.values() if tag != "O"}
        if not known <= set(CORPUS_TYPES[corpus]):
            raise ValueError(f"--teachers {benchmark}={path}: the model tags {sorted(known)}, but {corpus} "
                             f"annotates {sorted(CORPUS_TYPES[corpus])}")
        tags, probs = teacher_probs(path, benchmark, split.sentences, batch_size, cache_dir / f"{benchmark}.npz")
        set_ids = [label_sets.id(corpus, tag, known) for tag in tags]
        sets.append(np.broadcast_to(np.array(set_ids), probs.shape))
        weights.append(probs / len(teachers))
    return np.hstack(sets), np.hstack(weights)


class JointTrainer(NerTrainer):
    """`labels` hold label-set ids, not label ids: the model runs without them and the loss is the partial-label one."""

    def __init__(self, *args, allowed: torch.Tensor, teacher: TeacherTargets | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed, self.teacher = allowed, teacher

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**{key: value for key, value in inputs.items() if key not in ("labels", "teacher_rows")})
        gold_weight = self.state.global_step / self.state.max_steps if self.state.max_steps else 1.0  # annealing
        loss = partial_label_loss(outputs.logits, inputs["labels"], self.allowed, self.teacher,
                                  inputs.get("teacher_rows"), gold_weight)
        return (loss, outputs) if return_outputs else loss


class JointCollator(DataCollatorForTokenClassification):
    """Pads `teacher_rows` like `labels` (the tokenizer's pad does not know the field)."""

    def torch_call(self, features):
        if "teacher_rows" not in features[0]:
            return super().torch_call(features)
        rows = [feature["teacher_rows"] for feature in features]
        batch = super().torch_call([{k: v for k, v in feature.items() if k != "teacher_rows"} for feature in features])
        length = batch["input_ids"].shape[1]
        padded = [r + [IGNORE_INDEX] * (length - len(r)) if self.tokenizer.padding_side == "right"
                  else [IGNORE_INDEX] * (length - len(r)) + r for r in rows]
        batch["teacher_rows"] = torch.tensor(padded, dtype=torch.long)
        return batch


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
            scores = sentence_scores(split.windows, window_scores, [len(words) for words in split.sentences],
                                     len(self.labels))
            metrics[f"{split.corpus}_entity_f1"] = split.entity_f1(scores, self.labels)
        metrics["entity_f1"] = statistics.fmean(metrics.values())
        return metrics

    def score(self, model, batch_size: int) -> dict:
        """The metric of `compute_metrics`, computed from a saved model (to rescore a finished run)."""
        metrics = {f"{split.corpus}_entity_f1": split.entity_f1(predict_scores(
            model, split.tokenizer, split.sentences, batch_size, split.max_length, split.stride), self.labels)
            for split in self.splits}
        return {**metrics, "entity_f1": statistics.fmean(metrics.values())}


@dataclass
class JointArguments:
    """The joint job's data; the model, seed and budget flags are `bioalbert finetune`'s (ModelArguments,
    RunArguments), and mean the same here."""

    corpora: list[str] = field(default_factory=lambda: list(CORPUS_TYPES), metadata={"help": "Training corpora."})
    benchmarks: list[str] = field(default_factory=lambda: list(BENCHMARK_CORPUS),
                                  metadata={"help": "Benchmarks scored on their test splits at the end."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder holding bioner/<name>/ (default: $BIOALBERT_DATA, ../shared/data)."})
    max_eval_sentences: int | None = field(default=1000, metadata={"help": "Dev sentences per corpus for checkpoint choice."})
    max_train_sentences: int | None = field(default=None, metadata={"help": "Training sentences per corpus (default: all)."})
    corpus_sampling_exponent: float | None = field(default=None, metadata={
        "help": "Draw each corpus with probability proportional to (its training windows)^exponent, until every "
                "corpus has been seen once per epoch (0: uniform, 0.5: small corpora upsampled). Default: the corpora "
                "concatenated once per epoch."})
    max_test_sentences: int | None = field(default=None, metadata={"help": "Test sentences per benchmark (default: all)."})
    separate_conventions: list[str] = field(default_factory=list, metadata={
        "help": "Union types to split into one label per corpus (e.g. Species Disease): each corpus trains and is "
                "scored with its own convention of the type."})
    teachers: list[str] = field(default_factory=list, metadata={
        "help": "Single-task models to learn from besides the gold tags, as BENCHMARK=MODEL (e.g. "
                "bc5cdr_chem=runs/reproduce/cpu-full/ner/cpu-full-bc5cdr_chem); each labels its benchmark's "
                "training corpus with soft targets (teacher annealing: gold weight 0 -> 1 over training)."})


@dataclass
class JointTrainingArguments(NerTrainingArguments):
    eval_strategy: str = field(default="steps", metadata={"help": "When to evaluate on dev (no, steps, epoch)."})
    save_strategy: str = field(default="steps", metadata={"help": "When to save a checkpoint."})
    eval_steps: float = field(default=1000, metadata={"help": "Evaluate (and save) every N steps."})
    save_steps: float = field(default=1000, metadata={"help": "Save every N steps (keep equal to --eval-steps)."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=3, metadata={"help": "Epochs over the concatenated corpora."})


def mix_corpora(splits: list[Dataset], exponent: float | None, seed: int) -> Dataset:
    """One epoch of training windows. Concatenated, each corpus weighs by its size: JNLPBA's 17k sentences against
    BC5CDR's 4.6k. Sampling proportional to size^exponent (exponent < 1) upsamples the small corpora, as
    multilingual models do with languages; "all_exhausted" cycles the smaller ones, so each is seen whole."""
    if exponent is None:
        return concatenate_datasets(splits)
    weights = [len(split) ** exponent for split in splits]
    return interleave_datasets(splits, probabilities=[w / sum(weights) for w in weights], seed=seed,
                               stopping_strategy="all_exhausted")


def parse_teachers(entries: list[str]) -> dict[str, dict[str, str]]:
    """--teachers BENCHMARK=MODEL ... -> {training corpus: {benchmark: model}}."""
    by_corpus: dict[str, dict[str, str]] = {}
    for entry in entries:
        benchmark, _, path = entry.partition("=")
        if not path or benchmark not in BENCHMARK_CORPUS:
            raise ValueError(f"--teachers: {entry!r} is not BENCHMARK=MODEL with a benchmark of "
                             f"{', '.join(BENCHMARK_CORPUS)}")
        by_corpus.setdefault(BENCHMARK_CORPUS[benchmark], {})[benchmark] = path
    return by_corpus


def teacher_targets(splits: list[CorpusSplit], teachers: dict[str, dict[str, str]], label_sets: LabelSets,
                    batch_size: int, cache_dir: Path) -> tuple[TeacherTargets, list[list[dict]]]:
    """The teacher-target table of every taught word, and each corpus's training features with `teacher_rows`."""
    sets, weights, features, first_row = [], [], [], 0
    for split in splits:
        if split.corpus not in teachers:
            features.append(split.with_teacher_rows(None))
            continue
        corpus_sets, corpus_weights = corpus_teacher_targets(split.corpus, split, teachers[split.corpus], label_sets,
                                                             batch_size, cache_dir)
        features.append(split.with_teacher_rows(first_row))
        sets.append(corpus_sets)
        weights.append(corpus_weights)
        first_row += len(corpus_sets)
    width = max(table.shape[1] for table in sets)
    pad = lambda table: np.pad(table, ((0, 0), (0, width - table.shape[1])))  # noqa: E731 (set 0 at weight 0)
    return TeacherTargets(torch.from_numpy(np.vstack([pad(t) for t in sets])).long(),
                          torch.from_numpy(np.vstack([pad(t) for t in weights])).float()), features


def score_benchmark(model, tokenizer, benchmark: str, args: JointArguments, model_args, batch_size: int,
                    table: dict) -> dict:
    """Test scores of the joint model on one benchmark, on that benchmark's own types."""
    test = first_sentences(load_bioner(benchmark, args.data_dir), {"test": args.max_test_sentences})["test"]
    names = test.features["ner_tags"].feature.names
    gold = [[names[i] for i in tags] for tags in test["ner_tags"]]
    types = {tag[2:] for tags in gold for tag in tags if tag != "O"}
    corpus = BENCHMARK_CORPUS[benchmark]
    predictions = predict_corpus_tags(model, tokenizer, list(test["tokens"]), corpus, table[corpus], types, batch_size,
                                      model_args.max_seq_length, model_args.window_stride)
    return {**compute_ner_metrics(gold, predictions), "sentences": len(gold)}


def run(model_args: ModelArguments, run_args: RunArguments, args: JointArguments,
        training_args: JointTrainingArguments) -> list[dict]:
    table = separate_conventions(args.separate_conventions) if args.separate_conventions else CORPUS_TYPES
    labels = union_labels(table)
    label_sets = LabelSets(labels, table)
    tokenizer = load_tokenizer(model_args.model)
    limits = {"train": args.max_train_sentences, "validation": args.max_eval_sentences}
    max_length, stride = model_args.max_seq_length, model_args.window_stride
    train_splits, dev_splits, train_sentences = [], [], {}
    for corpus in args.corpora:
        if corpus not in CORPUS_TYPES:
            raise ValueError(f"--corpora: unknown corpus {corpus!r}; CORPUS_TYPES maps {', '.join(CORPUS_TYPES)}")
        raw = first_sentences(load_bioner(corpus, args.data_dir), limits)
        train = CorpusSplit(corpus, raw["train"], tokenizer, label_sets, max_length, stride)
        train_splits.append(train)
        train_sentences[corpus] = len(train.sentences)
        dev_splits.append(CorpusSplit(corpus, raw["validation"], tokenizer, label_sets, max_length, stride))
        logger.info("%s: %d training sentences -> %d windows", corpus, len(train.sentences), len(train.windows))
    for benchmark in args.benchmarks:
        if BENCHMARK_CORPUS.get(benchmark) not in args.corpora:
            raise ValueError(f"--benchmarks: {benchmark!r} needs training corpus {BENCHMARK_CORPUS.get(benchmark)!r}")
    output_dir = Path(training_args.output_dir)
    teachers = parse_teachers(args.teachers)
    if set(teachers) - set(args.corpora):
        raise ValueError(f"--teachers: no training corpus {sorted(set(teachers) - set(args.corpora))} in --corpora")
    to_train = [s for s in run_args.seeds if not (run_args.resume and (output_dir / f"seed-{s}" / "run.json").is_file())]
    teacher, features = None, [split.features for split in train_splits]
    if teachers and to_train:
        teacher, features = teacher_targets(train_splits, teachers, label_sets,
                                            training_args.per_device_eval_batch_size, output_dir / "teacher-probs")
    train = mix_corpora([Dataset.from_list(f) for f in features], args.corpus_sampling_exponent, training_args.seed)
    setup = SeedSetup(model_args.model, labels, tokenizer, train, JointDev(dev_splits, labels), JOINT_DECODING,
                      model_args.num_hidden_groups, collator=JointCollator(tokenizer), trainer_class=JointTrainer,
                      trainer_kwargs={"allowed": label_sets.mask(), "teacher": teacher})
    runs = train_seeds(setup, replace(training_args, remove_unused_columns=teacher is None), run_args)  # keep teacher_rows
    keep_best_seed(runs, output_dir, {"base_model": model_args.model, "dataset": "all-types", "corpora": args.corpora,
                                      "labels": labels, "corpus_types": {corpus: table[corpus] for corpus in args.corpora},
                                      "seeds": run_args.seeds, "max_seq_length": max_length, "window_stride": stride})
    training = {**training_record(runs, run_args, training_args, max_length, model_args.num_hidden_groups),
                "corpora": args.corpora, "train_sentences": train_sentences, "train_windows_per_epoch": len(train),
                "corpus_sampling_exponent": args.corpus_sampling_exponent,
                "loss": "partial-label marginal likelihood over the union of types (training/finetune_joint.py)"
                        + (", with teacher annealing from single-task teachers" if teachers else ""),
                "teachers": {b: p for corpus_teachers in teachers.values() for b, p in corpus_teachers.items()},
                "separate_conventions": args.separate_conventions}
    models = {r["seed"]: AutoModelForTokenClassification.from_pretrained(output_dir / f"seed-{r['seed']}") for r in runs}
    results = []
    for benchmark in args.benchmarks:
        started = time.perf_counter()
        per_seed = {seed: score_benchmark(model, tokenizer, benchmark, args, model_args,
                                          training_args.per_device_eval_batch_size, table)
                    for seed, model in models.items()}
        result = Result.scored(
            list(per_seed.values()), model=run_args.model_name or output_dir.name, model_path=str(output_dir),
            base_model=model_args.model, base_model_pretraining=encoder_identity(model_args.model), dataset=benchmark,
            split="test", decoding=JOINT_DECODING, seeds=run_args.seeds,
            runs=[{"seed": r["seed"], "dev_entity_f1": r["dev"][f"{BENCHMARK_CORPUS[benchmark]}_entity_f1"],
                   "dev_macro_entity_f1": r["dev"]["entity_f1"], "entity_f1": per_seed[r["seed"]]["entity_f1"],
                   "token_f1": per_seed[r["seed"]]["token_f1"], "epochs": r["epochs"],
                   "global_step": r["global_step"], "train_wall_time_s": r["train_wall_time_s"]} for r in runs],
            training=training, test_sentences=per_seed[runs[0]["seed"]]["sentences"],
            wall_time_s=round(time.perf_counter() - started, 1))
        result.write(run_args.results_dir)
        logger.info("%s: test entity F1 %.2f", benchmark, 100 * result.entity["f1"])
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    model_args, run_args, args, training_args = parse_args(
        argv, (ModelArguments, RunArguments, JointArguments, JointTrainingArguments))
    for result in run(model_args, run_args, args, training_args):  # bad input: one line from the CLI (INPUT_ERRORS)
        print(f"{result.dataset:<16} test entity F1 {100 * result.entity['f1']:.2f} "
              f"(±{100 * result.entity['f1_std']:.2f}) on its own types")
    print(f"model in {training_args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
