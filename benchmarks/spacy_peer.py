"""A spaCy NER pipeline trained from scratch on a BioNER benchmark: the CPU peer that BioALBERT is compared with.

    python benchmarks/spacy_peer.py --dataset ncbi_disease --budget-minutes 10 --output runs/spacy/ncbi_disease

What is trained: spaCy's own CPU config for an NER pipeline, `spacy init config --lang en --pipeline ner
--optimize accuracy` (tok2vec: MultiHashEmbed over NORM/PREFIX/SUFFIX/SHAPE + 8-layer MaxoutWindowEncoder of
width 256, then the transition-based NER), with one change: `include_static_vectors = false`, because the
accuracy config expects `en_core_web_lg` vectors, which cannot be downloaded here (no pretrained spaCy model is
used at all, so the comparison is "from scratch" on both sides of the words the benchmark gives). It trains on
the train split with Adam, dropout and compounding batch sizes from that config, evaluates entity F1 on the
devel split every `--eval-every` steps, keeps the best, and stops at the wall-clock budget (spaCy's `train`
loop has step/epoch limits but no time budget, hence this short loop, the one spaCy documents for custom
training). Test score: strict entity F1 with the project's metric (`compute_ner_metrics`), on the benchmark's
own tokens, exactly as BioALBERT is scored.

Writes <output>/model (spacy `nlp.to_disk`) and <output>/metrics.json. As a module: `train_peer(...)`,
`load_peer(output)` and `predict_tags(nlp, sentences)`.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

import spacy
from spacy.cli.init_config import init_config
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.batchers import minibatch_by_words
from thinc.api import compounding

from bioalbert.training.bioner_data import read_conll
from bioalbert.training.datadir import resolve_data_dir


def peer_config():
    config = init_config(lang="en", pipeline=["ner"], optimize="accuracy", gpu=False, pretraining=False, silent=True)
    config["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = False
    config["paths"]["vectors"] = None
    config["initialize"]["vectors"] = None
    return config


def to_doc(vocab, sentence: dict, with_tags: bool = True) -> Doc:
    words = sentence["tokens"]
    spaces = [True] * (len(words) - 1) + [False]
    return Doc(vocab, words=words, spaces=spaces, ents=list(sentence["ner_tags"]) if with_tags else None)


def predict_tags(nlp, sentences: list[dict]) -> list[list[str]]:
    """IOB2 tags of the benchmark's own tokens (the pipeline runs on pre-tokenised docs)."""
    docs = nlp.pipe((to_doc(nlp.vocab, s, with_tags=False) for s in sentences), batch_size=256)
    return [[f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ != "O" else "O" for t in doc] for doc in docs]


def train_peer(dataset: str, budget_minutes: float, output: str | Path, data_dir=None, seed: int = 0, eval_every: int = 200,
               max_steps: int = 20000, patience: int = 1600, max_sentences: dict | None = None) -> dict:
    """`max_sentences` ({"train": N, "dev": N, "test": N}) keeps the first N sentences of a split, as the
    fine-tuning job's --max-train/eval/test-sentences do, so that a capped comparison sees the same data."""
    folder = resolve_data_dir(data_dir) / "bioner" / dataset
    splits = {name: read_conll(folder / f"{file}.tsv") for name, file in (("train", "train"), ("dev", "devel"), ("test", "test"))}
    for name, limit in (max_sentences or {}).items():
        if limit:
            splits[name] = splits[name][:limit]
    spacy.util.fix_random_seed(seed)
    nlp = spacy.util.load_model_from_config(peer_config(), auto_fill=True, validate=True)
    train = [Example(to_doc(nlp.vocab, s, False), to_doc(nlp.vocab, s)) for s in splits["train"]]
    dev = [Example(to_doc(nlp.vocab, s, False), to_doc(nlp.vocab, s)) for s in splits["dev"]]
    optimizer = nlp.initialize(lambda: train)
    started, step, best_f1, best_step, best_bytes = time.time(), 0, -1.0, 0, None
    deadline = started + budget_minutes * 60
    sizes = compounding(100.0, 1000.0, 1.001)  # the config's batch_by_words schedule
    rng = random.Random(seed)
    done = False
    while not done:
        rng.shuffle(train)
        for batch in minibatch_by_words(train, size=sizes, tolerance=0.2):
            nlp.update(batch, drop=0.1, sgd=optimizer)
            step += 1
            if step % eval_every == 0:
                f1 = nlp.evaluate(dev)["ents_f"] or 0.0
                print(f"step {step} dev ents_f {f1:.4f} ({time.time() - started:.0f}s)", flush=True)
                if f1 > best_f1:
                    best_f1, best_step, best_bytes = f1, step, nlp.to_bytes()
            if time.time() > deadline or step >= max_steps or step - best_step > patience:
                done = True
                break
    train_seconds = time.time() - started
    if best_bytes is None or (nlp.evaluate(dev)["ents_f"] or 0.0) > best_f1:
        best_f1, best_step, best_bytes = nlp.evaluate(dev)["ents_f"] or 0.0, step, nlp.to_bytes()
    nlp.from_bytes(best_bytes)
    from bioalbert.training.ner_metric import compute_ner_metrics

    scores = compute_ner_metrics([s["ner_tags"] for s in splits["test"]], predict_tags(nlp, splits["test"]))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output / "model")
    result = {
        "dataset": dataset,
        "split": "test",
        "entity": {key.removeprefix("entity_"): scores[key] for key in ("entity_f1", "entity_precision", "entity_recall")},
        "token": {"f1": scores["token_f1"]},
        "dev_entity_f1": best_f1,
        "training": {"steps": step, "best_step": best_step, "train_wall_time_s": round(train_seconds, 1),
                     "budget_minutes": budget_minutes, "seed": seed, "train_sentences": len(splits["train"]),
                     "dev_sentences": len(splits["dev"])},
        "test_sentences": len(splits["test"]),
        "pipeline": "spacy init config --pipeline ner --optimize accuracy (CPU), include_static_vectors=false",
        "versions": {"spacy": spacy.__version__},
    }
    (output / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def load_peer(output: str | Path):
    return spacy.load(Path(output) / "model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ncbi_disease", help="Benchmark name under <data-dir>/bioner/.")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="Wall-clock training budget.")
    parser.add_argument("--output", required=True, help="Folder for the model and metrics.json.")
    parser.add_argument("--data-dir", help="Data folder (else $BIOALBERT_DATA, ../shared/data).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=200, help="Steps between devel evaluations.")
    for split, field in (("train", "train"), ("dev", "eval"), ("test", "test")):
        parser.add_argument(f"--max-{field}-sentences", type=int, dest=f"max_{split}",
                            help=f"Use only the first N {split} sentences (as the fine-tuning job's flag).")
    parser.add_argument("--model-name", help="Also write results/<model-name>/<dataset>.json for the results table.")
    parser.add_argument("--results-dir", default="results", help="Where results/<model-name>/ goes.")
    args = parser.parse_args(argv)
    caps = {split: getattr(args, f"max_{split}") for split in ("train", "dev", "test")}
    result = train_peer(args.dataset, args.budget_minutes, args.output, args.data_dir, args.seed, args.eval_every,
                        max_sentences=caps)
    if args.model_name:
        from bioalbert.training.results import write_result

        write_result({**result, "model": args.model_name, "model_path": args.output, "seeds": [args.seed]},
                     args.results_dir)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
