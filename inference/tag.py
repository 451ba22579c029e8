"""`bioalbert tag`: tags plain-text documents with one or more fine-tuned models and writes JSONL, CoNLL or PubTator.

    bioalbert tag abstract1.txt abstract2.txt > entities.jsonl     # the shipped all-types model
    bioalbert tag --model runs/ncbi-disease abstract1.txt abstract2.txt > entities.jsonl
    cat abstracts.txt | bioalbert tag --model runs/ncbi-disease --model runs/bc5cdr-chem --lines - --format pubtator

One document per file (id: the file name), or per non-blank line with --lines (id: FILE:LINE). Offsets are
character offsets into the decoded UTF-8 text (a leading byte-order mark is dropped). A file that cannot be read
(missing, empty, binary, not UTF-8) gets an error line on stderr naming it, and the other files are still tagged;
the exit status is then 1. Output is written as documents are tagged, so an interrupted run keeps what it did.
"""

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from .formats import FORMATS, WRITERS
from .shipped import default_ner_model

CHUNK_DOCUMENTS = 256  # documents per Tagger.tag call: enough for length-sorted batches, little held in memory


class InputError(ValueError):
    """A file that is not plain UTF-8 text; the message names it."""


def decode(name: str, data: bytes) -> str:
    if not data.strip():
        raise InputError(f"{name}: empty file (no text to tag)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{name}: binary file (NUL byte at byte offset {nul}), not plain text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise InputError(
            f"{name}: not UTF-8 (byte 0x{data[error.start]:02x} at line {line}, column {column}); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from error


def read_documents(path: str, lines: bool) -> list[tuple[str, str]]:
    """(doc id, text) pairs of one input ("-" is stdin); raises InputError for unreadable input."""
    name = "<stdin>" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise InputError(f"{name}: cannot read ({error.strerror or error})") from error
    text = decode(name, data)
    if not lines:
        return [(name, text)]
    return [(f"{name}:{number}", line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_args(argv):
    # argparse, not HfArgumentParser: the command takes positional files and a repeatable --model.
    parser = argparse.ArgumentParser(prog="bioalbert tag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", default=["-"], help="Text files, or - for stdin (default).")
    parser.add_argument("--model", action="append", help="Fine-tuned folder or Hub id; repeat for several models "
                        "(default: the shipped all-types model, models/bioalbert-tiny-ner).")
    parser.add_argument("--lines", action="store_true", help="One document per non-blank line instead of per file.")
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="Output format (default: jsonl).")
    parser.add_argument("--output", "-o", help="Output file (default: stdout).")
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
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from .tagger import Tagger  # after argument parsing: `--help` does not load torch

    hf_logging.disable_progress_bar()  # transformers' per-model "Loading weights" bar is noise on a command's stderr
    try:
        tagger = Tagger(
            args.model, batch_size=args.batch_size, device=args.device, max_length=args.max_length,
            stride=args.stride, quantize=args.quantize, compile=args.compile,
            trust_remote_code=args.trust_remote_code, keep_overlaps=args.keep_overlaps,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"bioalbert tag: error: {error}", file=sys.stderr)
        return 2
    documents, failed = [], 0
    for path in args.files:
        try:
            documents += read_documents(path, args.lines)
        except InputError as error:
            print(f"bioalbert tag: error: {error}", file=sys.stderr)
            failed += 1
    write = WRITERS[args.format]
    output = open(args.output, "w", encoding="utf-8", newline="\n") if args.output else sys.stdout
    try:
        with tqdm(total=len(documents), unit="doc", disable=args.no_progress or len(documents) < 2) as progress:
            for chunk in chunks(documents, CHUNK_DOCUMENTS):
                for (doc_id, text), entities in zip(chunk, tagger.tag([text for _, text in chunk])):
                    output.write(write(doc_id, text, entities))
                output.flush()
                progress.update(len(chunk))
    finally:
        if args.output:
            output.close()
    if failed:
        print(f"bioalbert tag: {failed} of {len(args.files)} inputs could not be read (see above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
