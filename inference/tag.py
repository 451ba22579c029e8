"""`bioalbert tag`: tags documents with one or more fine-tuned models: text, PubTator or BioC in; JSONL, PubTator,
BioC XML/JSON or CoNLL out.

    bioalbert tag abstract1.txt abstract2.txt > entities.jsonl     # the shipped all-types model
    bioalbert tag --model runs/ncbi-disease --model runs/bc5cdr-chem abstracts.txt --input-format lines
    bioalbert tag pubmed.pubtator.gz --format pubtator -o tagged.pubtator --resume
    bioalbert tag corpus/ --format bioc-xml --output-dir tagged/ --workers 2
    bioalbert tag --dataset user/pubmed-abstracts --text-column abstract --id-column pmid -o tagged.jsonl

Inputs: files, folders (every file in them, recursively) or - (stdin). The format is --input-format, or else what
the file name says: .txt text (the file is one document, id: the file name), .jsonl ({"id", "text"} per line),
.pubtator, .xml (BioC XML), .json (BioC JSON); .gz files are read through gzip; anything else is text. `lines` makes
every non-blank line a document (id FILE:LINE) and `paragraphs` every block of lines between blank lines.
The input's own annotations are kept and ours added (with the model's name: BioC infon `model`, PubTator's seventh
column). Offsets are character offsets into the decoded UTF-8 text (a leading byte-order mark is dropped).

Documents are read, tagged and written a chunk at a time, never the whole collection; `-o FILE` writes one
collection, `--output-dir DIR` one output per input; `--resume` continues a killed run (docs/corpus-tagging.md).
An input that cannot be read (missing, empty, binary, not UTF-8) or a malformed document (bad PubTator line, invalid
BioC) is reported with its file and line or document id; the run goes on (--on-error skip) or stops (stop); the exit
status is then 1.
"""

import argparse
import os
import sys
from pathlib import Path

from .formats import EXTENSIONS, INPUT_FORMATS, OUTPUT_FORMATS, SUFFIX_FORMATS, TYPE_NAMES, input_format
from .shipped import default_ner_model


def parse_args(argv):
    # argparse, not HfArgumentParser: the command takes positional files and a repeatable --model.
    parser = argparse.ArgumentParser(prog="bioalbert tag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="Files, folders, or - for stdin (the default without --dataset).")
    parser.add_argument("--model", action="append", help="Fine-tuned folder or Hub id; repeat for several models "
                        "(default: the shipped all-types model, models/bioalbert-tiny-ner).")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, help="What the inputs are (default: from the file name).")
    parser.add_argument("--lines", action="store_true", help="Same as --input-format lines.")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="jsonl", help="Output format (default: jsonl).")
    parser.add_argument("--output", "-o", help="Output file: one collection of every input (default: stdout).")
    parser.add_argument("--output-dir", help="One output per input in this folder (name: the input's, with the format's extension).")
    parser.add_argument("--resume", action="store_true", help="Continue a killed run: skip the documents its outputs hold.")
    parser.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                        help="A malformed document or unreadable input: report it and go on (default) or stop.")
    parser.add_argument("--type-names", choices=tuple(TYPE_NAMES), default="model",
                        help="Entity type names: the model's own (default) or PubTator3's (DNA and RNA -> Gene).")
    parser.add_argument("--workers", type=int, default=1, help="Tagging processes, each with its own model (default 1).")
    parser.add_argument("--threads", type=int, help="Torch threads per worker (default: the CPU cores / workers).")
    parser.add_argument("--dataset", help="A Hub dataset id (or a local dataset folder) to tag instead of files, streamed.")
    parser.add_argument("--dataset-config", help="The dataset's configuration name, if it has several.")
    parser.add_argument("--split", default="train", help="The dataset split (default: train).")
    parser.add_argument("--text-column", default="text", help="The dataset column holding the text (default: text).")
    parser.add_argument("--id-column", help="The dataset column holding document ids (default: DATASET:ROW).")
    parser.add_argument("--chunk-size", type=int, default=256, help="Documents per tagging call (default 256).")
    parser.add_argument("--batch-size", type=int, default=16, help="Windows per forward pass.")
    parser.add_argument("--max-length", type=int, help="Pieces per window (default: the model's, 512).")
    parser.add_argument("--stride", type=int, help="Pieces shared by consecutive windows (default: max-length / 4).")
    parser.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda when available).")
    parser.add_argument("--quantize", action="store_true", help="Dynamic int8 quantisation (CPU speed-up).")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models (long runs).")
    parser.add_argument("--keep-overlaps", action="store_true", help="Keep overlapping entities of several models.")
    parser.add_argument("--trust-remote-code", action="store_true", help="Run a Hub model's own code.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    args = parser.parse_args(argv)
    args.model = args.model or [default_ner_model()]
    args.input_format = args.input_format or ("lines" if args.lines else None)
    if args.output and args.output_dir:
        parser.error("give -o FILE (one collection) or --output-dir DIR (one output per input), not both")
    if args.resume and not (args.output or args.output_dir):
        parser.error("--resume needs file outputs: -o FILE or --output-dir DIR")
    if args.dataset and args.files:
        parser.error("give files or --dataset, not both")
    if args.workers < 1 or (args.threads is not None and args.threads < 1) or args.chunk_size < 1:
        parser.error("--workers, --threads and --chunk-size must be at least 1")
    args.files = args.files or ([] if args.dataset else ["-"])
    return args


def expand_inputs(paths: list[str]) -> list[str]:
    """Folders become the files in them (recursively, sorted, hidden ones left out); "-" and files stay."""
    expanded = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            found = [p for p in sorted(Path(path).rglob("*")) if p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            expanded += [str(p) for p in found]
        else:
            expanded.append(path)
    return expanded


def output_name(name: str, fmt: str) -> str:
    """The output's file name for an input: abstracts.pubtator.gz -> abstracts.xml (for bioc-xml); a dataset id's
    slashes become "__"."""
    if name in ("-", "<stdin>"):
        base = "stdin"
    else:
        base = Path(name).name if Path(name).exists() else name.replace("/", "__")
    base = base.removesuffix(".gz")
    suffix = Path(base).suffix
    if suffix in SUFFIX_FORMATS or suffix in EXTENSIONS.values():
        base = base[: -len(suffix)]
    return base + EXTENSIONS[fmt]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from .corpus import InProcess, Output, WorkerPool, dataset_source, file_source, tag_corpus
    from .tagger import Tagger  # after argument parsing: `--help` does not load torch

    hf_logging.disable_progress_bar()  # transformers' per-model "Loading weights" bar is noise on a command's stderr
    if args.dataset:
        sources = [dataset_source(args.dataset, args.text_column, args.id_column, args.split, args.dataset_config)]
    else:
        sources = [file_source(path, input_format(path, args.input_format)) for path in expand_inputs(args.files)]
    if not sources:
        print(f"bioalbert tag: error: no input files in {', '.join(args.files)}", file=sys.stderr)
        return 2

    if args.output_dir:
        names = [output_name(source.name, args.format) for source in sources]
        clash = next((name for name in names if names.count(name) > 1), None)
        if clash:
            print(f"bioalbert tag: error: two inputs would both write {Path(args.output_dir) / clash}; "
                  "tag them into different --output-dir folders or use -o", file=sys.stderr)
            return 2
        outputs = [Output(Path(args.output_dir) / name, args.format, [source], args.resume) for name, source in zip(names, sources)]
        for output, source in zip(outputs, sources):
            if output.path.resolve() == Path(source.name).resolve():
                print(f"bioalbert tag: error: {source.name} would be overwritten by its own output", file=sys.stderr)
                return 2
    else:
        output = Output(Path(args.output) if args.output else None, args.format, sources, args.resume)
        outputs = [output] * len(sources)

    for output in dict.fromkeys(outputs):
        if output.complete:
            print(f"bioalbert tag: {output.path} is complete (no progress file beside it): left as it is", file=sys.stderr)
    tagger_kwargs = dict(
        models=args.model, batch_size=args.batch_size, device=args.device, max_length=args.max_length,
        stride=args.stride, quantize=args.quantize, compile=args.compile,
        trust_remote_code=args.trust_remote_code, keep_overlaps=args.keep_overlaps,
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = args.threads or max(1, cores // args.workers)
    if args.workers * threads > cores:
        print(f"bioalbert tag: warning: {args.workers} workers x {threads} threads on {cores} cores: "
              "they will slow each other down", file=sys.stderr)
    try:
        if args.workers == 1:
            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            tagger = InProcess(Tagger(**tagger_kwargs))
        else:
            tagger = WorkerPool(args.workers, threads, tagger_kwargs)
    except (FileNotFoundError, ValueError) as error:
        print(f"bioalbert tag: error: {error}", file=sys.stderr)
        return 2
    try:
        summary = tag_corpus(sources, outputs, tagger, type_names=args.type_names, on_error=args.on_error,
                             chunk_size=args.chunk_size, progress=not args.no_progress)
    finally:
        tagger.close()
    if summary.failed_inputs:
        print(f"bioalbert tag: {summary.failed_inputs} of {len(sources)} inputs could not be read (see above)", file=sys.stderr)
    if summary.malformed:
        print(f"bioalbert tag: {summary.malformed} malformed document(s) {'stopped the run' if summary.stopped else 'skipped'} "
              "(see above)", file=sys.stderr)
    if summary.stopped:
        print("bioalbert tag: stopped (--on-error stop); what was written is kept, and --resume starts again at the "
              "document that stopped it", file=sys.stderr)
    return 1 if summary.failed_inputs or summary.malformed or summary.stopped else 0


if __name__ == "__main__":
    sys.exit(main())
