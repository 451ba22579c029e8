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

Every type at once (issue #21): the all-types model in one pass, against one model per benchmark on the same encoder
run one after another, and against one spaCy pipeline per benchmark run one after another:

    python benchmarks/tag_speed.py --presets --batch-sizes 32 --all-types models/bioalbert-tiny-ner \
        --single-task-encoder models/bioalbert-tiny-pubmed-task --spacy-root runs/reproduce/cpu-full/spacy \
        --output results/benchmarks/tag_speed_all_types.json
"""

import argparse
import functools
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


@functools.lru_cache
def benchmark_types(model: str, dataset: str) -> tuple[dict, set] | None:
    """An all-types model's union label -> `dataset`'s own type, and the types `dataset` annotates; None for a
    single-task model."""
    from bioalbert.ner.corpus_types import BENCHMARK_CORPUS

    info = Path(model, "bioalbert_finetune.json")
    table = json.loads(info.read_text()).get("corpus_types") if info.is_file() else None
    if not table:
        return None
    own = {union: kind for kind, unions in table[BENCHMARK_CORPUS[dataset]].items() for union in unions}
    types = {tag[2:] for sentence in test_sentences(None, dataset) for tag in sentence["ner_tags"] if tag != "O"}
    return own, types


def benchmark_entities(entities, model: str, dataset: str) -> list:
    """`tag()`'s entities as `dataset` annotates them: an all-types model's labels renamed to the benchmark's own
    types through the type table it was trained with (`corpus_types` in bioalbert_finetune.json), labels the
    benchmark does not annotate dropped; a single-task model's entities as they are."""
    import dataclasses

    mapping = benchmark_types(model, dataset)
    if mapping is None:
        return entities
    own, types = mapping
    return [dataclasses.replace(entity, label=own[entity.label]) for entity in entities
            if own.get(entity.label) in types]


def token_tags(tokens: list[str], entities) -> list[str]:
    """IOB2 tags of the benchmark's own tokens from entities found in `" ".join(tokens)`: a token takes the type of
    the entity it overlaps (B- on the first). The tagger splits words more finely than some corpora (`IL-2` is one
    JNLPBA token, three tagger words), so its word tags cannot be compared with the gold ones directly."""
    from bioalbert.inference.tagger import merge_entities

    spans, start = [], 0
    for token in tokens:
        spans.append((start, start + len(token)))
        start += len(token) + 1
    tags = ["O"] * len(tokens)
    for entity in merge_entities(entities):
        inside = [i for i, (begin, end) in enumerate(spans) if begin < entity.end and entity.start < end and tags[i] == "O"]
        for position, i in enumerate(inside):
            tags[i] = f"{'B' if position == 0 else 'I'}-{entity.label}"
    return tags


def tag_f1(tagger, model: str, dataset: str, data_dir=None) -> float:
    """Strict entity F1 of `tagger.tag` on `dataset`'s test text (one raw text per sentence, tokens joined by
    spaces), on the benchmark's own types and tokens."""
    from bioalbert.training.ner_metric import compute_ner_metrics

    sentences = test_sentences(data_dir, dataset)
    texts = [" ".join(s["tokens"]) for s in sentences]
    predicted = [token_tags(s["tokens"], benchmark_entities(entities, model, dataset))
                 for s, entities in zip(sentences, tagger.tag(texts))]
    return compute_ner_metrics([s["ner_tags"] for s in sentences], predicted)["entity_f1"]


def run_tagger(queue, models, batch_size, texts, threads, quantize, compile, gold=None, f1_datasets=()):
    """Tags `texts` with each of `models` in turn (one model: one tagger; several: what a user runs to get all
    their types from single-type models) and reports the total time; with `gold` (a one-model run), also the
    entity F1 on `texts` and, untimed, on each of `f1_datasets`' test text."""
    import torch

    torch.set_num_threads(threads)
    from bioalbert.inference import Tagger

    taggers = [Tagger(model, batch_size=batch_size, quantize=quantize, compile=compile) for model in models]
    for tagger in taggers:
        tagger.tag(texts[:32])  # warm-up (and compilation)
    started = time.perf_counter()
    results = [tagger.tag(texts) for tagger in taggers]
    seconds = time.perf_counter() - started
    record = {"seconds": seconds, "peak_mb": peak_mb()}
    if gold is not None:
        from bioalbert.training.ner_metric import compute_ner_metrics

        dataset, gold_tags = gold  # texts are the benchmark's tokens joined by spaces
        predicted = [token_tags(text.split(" "), benchmark_entities(entities, models[0], dataset))
                     for text, entities in zip(texts, results[0])]
        record["entity_f1"] = compute_ner_metrics(gold_tags, predicted)["entity_f1"]
        record["entity_f1_by_dataset"] = {name: tag_f1(taggers[0], models[0], name) for name in f1_datasets}
    queue.put(record)


def run_spacy(queue, folders, batch_size, texts, threads):
    import spacy

    pipelines = [spacy.load(Path(folder) / "model") for folder in folders]
    for nlp in pipelines:
        list(nlp.pipe(texts[:32]))
    started = time.perf_counter()
    docs = [doc for nlp in pipelines for doc in nlp.pipe(texts, batch_size=batch_size)]
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


def single_task_models(encoder, folder, data_dir) -> list[str]:
    """One token classifier per benchmark on `encoder`, each with its benchmark's labels: the models a user runs one
    after another to get every type without the all-types model. Their heads are untrained; speed does not depend
    on the weights."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from bioalbert.training.bioner_data import load_bioner
    from bioalbert.ner.corpus_types import BENCHMARK_CORPUS

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    paths = []
    for benchmark in BENCHMARK_CORPUS:
        labels = load_bioner(benchmark, data_dir)["train"].features["ner_tags"].feature.names  # as `finetune` has them
        model = AutoModelForTokenClassification.from_pretrained(
            encoder, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)})
        path = Path(folder) / f"single-{benchmark}"
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(str(path))
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", help="Tokenizer folder for the random preset models.")
    parser.add_argument("--presets", nargs="*", default=["tiny", "base"])
    parser.add_argument("--model", help="A fine-tuned folder: also measure its F1 in fp32 and int8.")
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 8, 32])
    parser.add_argument("--spacy", help="Output folder of benchmarks/spacy_peer.py (its model/).")
    parser.add_argument("--all-types", help="An all-types model (bioalbert finetune-joint): one pass for every type.")
    parser.add_argument("--single-task-encoder",
                        help="Also time one model per benchmark on this encoder, run one after another.")
    parser.add_argument("--spacy-root", help="A folder of spacy_peer.py outputs, one per benchmark: all of them in turn.")
    parser.add_argument("--dataset", default="ncbi_disease")
    parser.add_argument("--data-dir")
    parser.add_argument("--max-sentences", type=int, help="Only the first N test sentences (quick runs).")
    parser.add_argument("--f1-datasets", nargs="*", default=[],
                        help="With --model: also its entity F1 through tag() on these benchmarks' test text, measured "
                        "at the largest batch size (an all-types model on each benchmark's own types).")
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
        models = [(f"bioalbert-{preset}", [random_model(args.tokenizer, preset, folder)], None)
                  for preset in (args.presets if args.tokenizer else [])]
        if args.model:
            name = Path(args.model).name
            models.append((name if name.startswith("bioalbert") else f"bioalbert-{name}", [args.model], (args.dataset, gold)))
        if args.all_types:
            models.append((f"{Path(args.all_types).name} (all types, one pass)", [args.all_types], None))
        if args.single_task_encoder:
            singles = single_task_models(args.single_task_encoder, folder, args.data_dir)
            models.append((f"{Path(args.single_task_encoder).name} x{len(singles)} single-type models, one after "
                           "another", singles, None))
        for system, paths, model_gold in models:
            for quantize in [False, True] if (args.quantize or model_gold) else [False]:
                for batch_size in args.batch_sizes:
                    f1_datasets = args.f1_datasets if model_gold and batch_size == max(args.batch_sizes) else ()
                    record = in_process(run_tagger, paths, batch_size, texts, args.threads, quantize, args.compile,
                                        model_gold, f1_datasets)
                    rows.append({"system": f"{system}{'-int8' if quantize else ''}", "batch_size": batch_size,
                                 "words_per_s": round(words / record["seconds"]), **record})
                    print(json.dumps(rows[-1]), flush=True)
    if args.spacy:
        for batch_size in args.batch_sizes:
            record = in_process(run_spacy, [args.spacy], batch_size, texts, args.threads)
            rows.append({"system": "spacy", "batch_size": batch_size, "words_per_s": round(words / record["seconds"]), **record})
            print(json.dumps(rows[-1]), flush=True)
    if args.spacy_root:
        folders = sorted(p for p in Path(args.spacy_root).iterdir() if (p / "model").is_dir())
        for batch_size in args.batch_sizes:
            record = in_process(run_spacy, folders, batch_size, texts, args.threads)
            rows.append({"system": f"spacy x{len(folders)} single-type pipelines, one after another",
                         "batch_size": batch_size, "words_per_s": round(words / record["seconds"]), **record})
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
