"""Evaluates a fine-tuned BioNER model on a benchmark split: entity-level strict F1 (seqeval, IOB2, micro), per
type, and token-level F1, written to `results/<model>/<dataset>.json`.

    bioalbert evaluate --model runs/ner/tiny-random-ncbi_disease --dataset ncbi_disease

Every gold word gets a prediction (long sentences are windowed and stitched back). The dataset's tags must all be
labels of the model (`config.label2id`); other tags are an error, not silently scored as wrong.
"""

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from bioalbert.ner.corpus_types import BENCHMARK_CORPUS, JOINT_DECODING, predict_corpus_tags
from bioalbert.ner.scoring import DECODING, load_model, predict_words

from .bioner_data import first_sentences, load_bioner
from .finetune import INFO_FILE, dataset_name, write_predictions
from .ner_metric import compute_ner_metrics
from .results import Result

logger = logging.getLogger(__name__)


@dataclass
class EvaluateArguments:
    model: str = field(metadata={"help": "Fine-tuned token-classification model folder or Hub id."})
    dataset: str | None = field(default=None, metadata={"help": "Benchmark name, folder of CoNLL/TSV files, or Hub dataset id."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder holding bioner/<name>/ (default: $BIOALBERT_DATA, ../shared/data)."})
    test_file: str | None = field(default=None, metadata={"help": "A CoNLL/TSV file to evaluate instead of (or as) the test split."})
    split: str = field(default="test", metadata={"help": "Split to evaluate: test, validation or train."})
    repair_iob: bool = field(default=False, metadata={"help": "Read an I-X that starts an entity as B-X instead of failing."})
    max_sentences: int | None = field(default=None, metadata={"help": "Evaluate only the first N sentences."})
    batch_size: int = field(default=64, metadata={"help": "Windows per forward pass."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Pieces per window (default: as fine-tuned, else 128)."})
    window_stride: int | None = field(default=None, metadata={"help": "Pieces of context shared by consecutive windows."})
    model_name: str | None = field(default=None, metadata={"help": "Name in results/<name>/ (default: the model folder's name)."})
    results_dir: str = field(default="results", metadata={"help": "Where results/<model>/<dataset>.json goes."})
    predictions_file: str | None = field(default=None, metadata={"help": "Also write token TAB gold TAB predicted here."})


def evaluate_model(args: EvaluateArguments) -> Result:
    started = time.perf_counter()
    raw = load_bioner(args.dataset, args.data_dir, test_file=args.test_file, repair_iob=args.repair_iob)
    if args.split not in raw:
        raise ValueError(f"The data has no {args.split!r} split (it has {list(raw)})")
    split = first_sentences(raw, {args.split: args.max_sentences})[args.split]
    names = split.features["ner_tags"].feature.names
    sentences = list(split["tokens"])
    gold = [[names[i] for i in tags] for tags in split["ner_tags"]]

    tokenizer, model = load_model(args.model)  # once per process; names the folder if it is missing or not for NER
    info_path = Path(args.model, INFO_FILE)
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    # An all-types model (`bioalbert finetune-joint`) scores a benchmark on that benchmark's own types, its
    # predictions mapped back through the corpus type table it was trained with.
    corpus_types = info.get("corpus_types", {}).get(BENCHMARK_CORPUS.get(args.dataset)) if not args.test_file else None
    unknown = sorted({tag for tags in gold for tag in tags} - set(model.config.label2id))
    if unknown and corpus_types is None:
        raise ValueError(
            f"{args.dataset or args.test_file} has tags the model {args.model} does not know: {unknown} "
            f"(model labels: {sorted(model.config.label2id)})"
        )
    max_length = args.max_seq_length or info.get("max_seq_length", 128)
    stride = args.window_stride if args.window_stride is not None else info.get("window_stride")

    predict_started = time.perf_counter()
    if corpus_types is None:
        predictions = predict_words(model, tokenizer, sentences, args.batch_size, max_length, stride)
    else:
        types = {tag[2:] for tags in gold for tag in tags if tag != "O"}
        predictions = predict_corpus_tags(model, tokenizer, sentences, BENCHMARK_CORPUS[args.dataset], corpus_types,
                                          types, args.batch_size, max_length, stride)
    predict_time = time.perf_counter() - predict_started
    metrics = compute_ner_metrics(gold, predictions)
    if args.predictions_file:
        write_predictions(Path(args.predictions_file), sentences, gold, predictions)

    seed = info.get("best_seed")
    return Result.scored(
        [metrics], model=args.model_name or Path(args.model).name, model_path=args.model,
        base_model=info.get("base_model"), dataset=dataset_name(args), split=args.split,
        decoding=DECODING if corpus_types is None else JOINT_DECODING, seeds=[seed] if seed is not None else [],
        runs=[{"seed": seed, "entity_f1": metrics["entity_f1"], "token_f1": metrics["token_f1"]}], training=None,
        sentences=len(gold), predict_wall_time_s=round(predict_time, 1),
        wall_time_s=round(time.perf_counter() - started, 1))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    (args,) = HfArgumentParser(EvaluateArguments).parse_args_into_dataclasses(argv)
    if args.dataset is None and args.test_file is None:
        print("bioalbert evaluate: error: pass --dataset NAME|PATH or --test-file FILE", file=sys.stderr)
        return 2
    if args.test_file and not args.dataset:
        args.split = "test"
    result = evaluate_model(args)  # bad input: one line from the CLI (INPUT_ERRORS)
    path = result.write(args.results_dir)
    print(
        f"{result.model} on {result.dataset} [{result.split}]: entity F1 {100 * result.entity['f1']:.2f} "
        f"(P {100 * result.entity['precision']:.2f}, R {100 * result.entity['recall']:.2f}), "
        f"token F1 {100 * result.token['f1']:.2f}; written to {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
