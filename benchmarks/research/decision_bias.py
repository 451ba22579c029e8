"""Is a model's entity F1 held back by too few entity tags? Adds a bias b to the log-probability of every entity
tag (B-X, I-X) before the IOB2 decoding, for a grid of b, and prints devel and test entity F1 per b, the b that is
best on devel and what it changes on test. Issue #21's diagnosis: the all-types model matches the single-task
models' precision and trails their recall.

    python benchmarks/research/decision_bias.py models/bioalbert-tiny-ner --json runs/decision_bias/joint.json
    python benchmarks/research/decision_bias.py runs/.../cpu-full-linnaeus --benchmarks linnaeus

An all-types model (`bioalbert finetune-joint`) is read on each benchmark's own tags, as its scores are
(`corpus_tag_scores`); a single-task model on its own labels. b = 0 is the scoring of the results files.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from bioalbert.modeling.loading import load_ner_model
from bioalbert.ner.corpus_types import BENCHMARK_CORPUS, corpus_tag_scores
from bioalbert.ner.scoring import decode_tags, predict_scores
from bioalbert.training.bioner_data import load_bioner
from bioalbert.training.finetune import INFO_FILE
from bioalbert.training.ner_metric import compute_ner_metrics
from bioalbert.training.results import describe_machine, environment

BIASES = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


def split_f1_by_bias(model, tokenizer, info: dict, benchmark: str, split, biases: list[float]) -> dict[float, float]:
    names = split.features["ner_tags"].feature.names
    gold = [[names[i] for i in tags] for tags in split["ner_tags"]]
    scores = predict_scores(model, tokenizer, list(split["tokens"]), 32, info.get("max_seq_length", 128),
                            info.get("window_stride"))
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    corpus = BENCHMARK_CORPUS.get(benchmark)
    corpus_types = info.get("corpus_types", {}).get(corpus)
    if corpus_types is not None:
        types = {tag[2:] for tags in gold for tag in tags if tag != "O"}
        labels, scores = corpus_tag_scores(scores, labels, corpus, types, {corpus: corpus_types})
    entity = np.array([0.0 if label == "O" else 1.0 for label in labels])
    return {bias: compute_ner_metrics(gold, decode_tags([s + bias * entity for s in scores], labels))["entity_f1"]
            for bias in biases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Fine-tuned model folder (all-types or single-task).")
    parser.add_argument("--benchmarks", nargs="+", default=None,
                        help="Default: every benchmark of an all-types model, the fine-tuning dataset of another.")
    parser.add_argument("--data-dir", default=None, help="Folder holding bioner/<name>/ (default: ../shared/data).")
    parser.add_argument("--biases", nargs="+", type=float, default=BIASES)
    parser.add_argument("--json", default=None, help="Also write the figures here.")
    args = parser.parse_args()
    biases = sorted({0.0, *args.biases})  # b = 0, the recorded scoring, is what each b is measured against

    tokenizer, model = load_ner_model(args.model)
    info_path = Path(args.model, INFO_FILE)
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    benchmarks = args.benchmarks or (list(BENCHMARK_CORPUS) if "corpus_types" in info else [info["dataset"]])
    env = environment()
    print(f"{args.model}; {describe_machine(env['machine'])}, {env['machine']['torch_threads']} torch threads; "
          + ", ".join(f"{package} {version}" for package, version in env["versions"].items()))
    figures = {}
    for benchmark in benchmarks:
        data = load_bioner(benchmark, args.data_dir)
        by_split = {split: split_f1_by_bias(model, tokenizer, info, benchmark, data[split], biases)
                    for split in ("validation", "test")}
        chosen = max(biases, key=lambda bias: by_split["validation"][bias])
        figures[benchmark] = {"devel": by_split["validation"], "test": by_split["test"], "devel_best_bias": chosen}
        for split, f1 in by_split.items():
            print(f"{benchmark:15s} {split:10s} " + "  ".join(f"{b:+.2f}: {100 * v:5.2f}" for b, v in f1.items()))
        print(f"{benchmark:15s} devel-best bias {chosen:+.2f}: test {100 * by_split['test'][chosen]:.2f} "
              f"({100 * (by_split['test'][chosen] - by_split['test'][0.0]):+.2f}), devel "
              f"{100 * (by_split['validation'][chosen] - by_split['validation'][0.0]):+.2f}", flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"model": args.model, **env, "benchmarks": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
