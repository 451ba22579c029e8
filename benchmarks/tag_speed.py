"""Speed and peak memory of `Tagger.tag` on raw text, against a spaCy NER pipeline on the same text.

    python benchmarks/tag_speed.py --tokenizer runs/tok --presets tiny base --batch-sizes 1 8 32 \
        --spacy runs/spacy/ncbi_disease [--model runs/ncbi-tiny] [--quantize] [--output results/tag_speed.json]

Text: the NCBI-disease test split, one raw text per sentence (its tokens joined by spaces), 24,497 words.
Speed does not depend on the weights, so each preset is a randomly initialised token-classification model
built on `--tokenizer`. With `--model` (a fine-tuned folder) the script also measures that model's speed and
its strict entity F1 through `tag()`, in fp32 and with dynamic int8 quantisation (the F1 cost of `--quantize`).
Every configuration runs in its own process, so "peak MB" is that process's maximum resident memory (model,
tokenizer and Python included). spaCy runs `nlp.pipe` over the same raw texts (its own tokenizer) in the same
run, with the pipeline trained by `benchmarks/spacy_peer.py`. The tag-speed table of docs/benchmarks.md is generated
from the `--output` JSON (`python -m bioalbert.training.report --readme docs/benchmarks.md`).
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: on Linux ru_maxrss survives exec,
    so a spawned child would report its parent's peak whenever that is higher."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_sentences(data_dir, dataset):
    from bioalbert.training.bioner_data import read_conll
    from bioalbert.training.datadir import resolve_data_dir

    return read_conll(resolve_data_dir(data_dir) / "bioner" / dataset / "test.tsv")


def run_tagger(queue, model, batch_size, texts, threads, quantize, compile, gold=None):
    import torch

    torch.set_num_threads(threads)
    from bioalbert.inference import Tagger

    tagger = Tagger(model, batch_size=batch_size, quantize=quantize, compile=compile)
    tagger.tag(texts[:32])  # warm-up (and compilation)
    started = time.perf_counter()
    results = tagger.tag(texts)
    seconds = time.perf_counter() - started
    record = {"seconds": seconds, "peak_mb": peak_mb()}
    if gold is not None:
        from bioalbert.inference.formats import word_tags
        from bioalbert.training.ner_metric import compute_ner_metrics

        predicted = [[t for _, t in word_tags(text, entities)] for text, entities in zip(texts, results)]
        record["entity_f1"] = compute_ner_metrics(gold, predicted)["entity_f1"]
    queue.put(record)


def run_spacy(queue, folder, batch_size, texts, threads):
    import spacy

    nlp = spacy.load(Path(folder) / "model")
    list(nlp.pipe(texts[:32]))
    started = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "peak_mb": peak_mb(),
               "entities": sum(len(doc.ents) for doc in docs)})


def in_process(target, *args) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(queue, *args))
    process.start()
    record = queue.get()
    process.join()
    return record


def random_model(tokenizer_dir, preset, folder) -> str:
    from transformers import AutoTokenizer

    from bioalbert.modeling import BioAlbertConfig, BioAlbertForTokenClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    labels = ["O", "B-Disease", "I-Disease"]
    config = BioAlbertConfig.from_preset(preset, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                         num_labels=3, id2label=dict(enumerate(labels)),
                                         label2id={label: i for i, label in enumerate(labels)})
    path = Path(folder) / preset
    BioAlbertForTokenClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", help="Tokenizer folder for the random preset models.")
    parser.add_argument("--presets", nargs="*", default=["tiny", "base"])
    parser.add_argument("--model", help="A fine-tuned folder: also measure its F1 in fp32 and int8.")
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 8, 32])
    parser.add_argument("--spacy", help="Output folder of benchmarks/spacy_peer.py (its model/).")
    parser.add_argument("--dataset", default="ncbi_disease")
    parser.add_argument("--data-dir")
    parser.add_argument("--max-sentences", type=int, help="Only the first N test sentences (quick runs).")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch intra-op threads.")
    parser.add_argument("--quantize", action="store_true", help="Also time the presets with int8 quantisation.")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models.")
    parser.add_argument("--output", help="Write the figures as JSON here.")
    args = parser.parse_args(argv)

    sentences = test_sentences(args.data_dir, args.dataset)[: args.max_sentences]
    texts = [" ".join(s["tokens"]) for s in sentences]
    gold = [s["ner_tags"] for s in sentences]
    words = sum(len(s["tokens"]) for s in sentences)
    import spacy
    import torch
    import transformers

    header = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "spacy": spacy.__version__},
              "threads": args.threads, "texts": len(texts), "words": words}
    print(json.dumps(header))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        models = [(preset, random_model(args.tokenizer, preset, folder), None) for preset in args.presets] if args.tokenizer else []
        if args.model:
            models.append((Path(args.model).name, args.model, gold))
        for name, path, model_gold in models:
            for quantize in [False, True] if (args.quantize or model_gold) else [False]:
                for batch_size in args.batch_sizes:
                    record = in_process(run_tagger, path, batch_size, texts, args.threads, quantize, args.compile, model_gold)
                    rows.append({"system": f"bioalbert-{name}{'-int8' if quantize else ''}", "batch_size": batch_size,
                                 "words_per_s": round(words / record["seconds"]), **record})
                    print(json.dumps(rows[-1]), flush=True)
    if args.spacy:
        for batch_size in args.batch_sizes:
            record = in_process(run_spacy, args.spacy, batch_size, texts, args.threads)
            rows.append({"system": "spacy", "batch_size": batch_size, "words_per_s": round(words / record["seconds"]), **record})
            print(json.dumps(rows[-1]), flush=True)
    from bioalbert.training.report import tag_speed_markdown

    run = {**header, "rows": rows}
    print("\n" + tag_speed_markdown(run))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(run, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
