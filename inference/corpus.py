"""Tagging a corpus: inputs streamed document by document, tagged a chunk at a time (in this process or in worker
processes, each with its own Tagger), written in input order as chunks come back.

Resume. Every output file has a progress file beside it (`OUT.progress.json`), rewritten after each chunk once the
chunk is on disk: how many documents of each input are in the output, and the output's length in bytes at that
point. `--resume` truncates the output to that length and skips those documents, so a kill (even SIGKILL) loses at
most the chunks in flight. The progress file is deleted when the output is complete; an output without one is
complete and `--resume` leaves it alone. A run that stops early (an error with --on-error stop, Ctrl-C) still closes
its outputs (a BioC collection ends with </collection>) and keeps the progress file, so they are valid and resumable.
"""

import itertools
import json
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.auto import tqdm

from .formats import rename_types
from .readers import Document, InputError, MalformedDocument, display_name, iter_documents, plain_document
from .writers import WRITER_CLASSES, Tagged

CHUNK_DOCUMENTS = 256  # documents per Tagger.tag call: enough for length-sorted batches, little held in memory


@dataclass
class Source:
    """One input: a file (or "-"), or a dataset. `documents(skip)` streams its documents after the first `skip`."""

    name: str
    documents: Callable[[int], Iterator[Document | MalformedDocument]]


def file_source(path: str, fmt: str) -> Source:
    return Source(display_name(path), lambda skip: itertools.islice(iter_documents(path, fmt), skip, None))


def dataset_source(dataset: str, text_column: str, id_column: str | None = None, split: str = "train",
                   config: str | None = None) -> Source:
    """A Hub dataset (or a local dataset folder / data files), streamed with `datasets` (`streaming=True`: rows are
    fetched as they are tagged, nothing is downloaded whole). Ids: the id column, else DATASET:ROW."""

    def documents(skip: int) -> Iterator[Document | MalformedDocument]:
        from datasets import load_dataset

        try:
            rows = load_dataset(dataset, config, split=split, streaming=True)
        except (FileNotFoundError, ValueError, ConnectionError) as error:
            raise InputError(f"{dataset}: cannot load the dataset ({' '.join(str(error).split())})") from None
        for number, row in enumerate(rows.skip(skip) if skip else rows, skip):
            if text_column not in row:
                raise InputError(f"{dataset}: no column {text_column!r} (columns: {', '.join(row)}); see --text-column")
            text = row[text_column]
            doc_id = str(row[id_column]) if id_column else f"{dataset}:{number}"
            if not isinstance(text, str):
                yield MalformedDocument(f"{dataset}: row {number} (id {doc_id})", f"{text_column!r} is not a string")
                continue
            yield plain_document(doc_id, text)

    return Source(dataset, documents)


@dataclass
class End:
    """Every document of the source has been read."""


@dataclass
class Failed:
    """The source could not be read (any further)."""

    error: InputError


class Output:
    """Where the documents of one or more sources go: a file (resumable, see the module doc) or stdout."""

    def __init__(self, path: Path | None, fmt: str, sources: list[Source], resume: bool = False):
        self.path, self.fmt, self.writer = path, fmt, WRITER_CLASSES[fmt]()
        self.names = [source.name for source in sources]
        self.state = {"inputs": self.names, "consumed": [0] * len(sources), "finished": [False] * len(sources),
                      "bytes": 0, "written": 0, "header": False}
        self.handle, self.closed, self.complete, self.resuming = None, False, False, False
        self.progress = path.with_name(path.name + ".progress.json") if path else None
        if path is None:
            return
        if resume and self.progress.exists():
            saved = json.loads(self.progress.read_text(encoding="utf-8"))
            if saved.get("inputs") != self.names:
                raise ValueError(f"{path}: cannot resume: {self.progress} was written for other inputs "
                                 f"({', '.join(saved.get('inputs', []))}); run without --resume to start over")
            self.state, self.resuming = saved, True
            self.writer.written = saved["written"]
        elif resume and path.exists():
            self.complete = True  # finished by an earlier run: its progress file was deleted at the end

    @property
    def consumed(self) -> int:
        return sum(self.state["consumed"])

    def open(self) -> None:
        if self.handle is not None or self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.resuming and self.state["bytes"] and not self.path.exists():
            raise ValueError(f"{self.path}: cannot resume: the output is missing, but {self.progress} says "
                             f"{self.state['written']} documents were written; delete {self.progress} to start over")
        if self.resuming and self.path.exists():
            self.handle = open(self.path, "r+b")
            self.handle.truncate(self.state["bytes"])  # what a killed run wrote after its last saved chunk goes
            self.handle.seek(self.state["bytes"])
        else:
            self.save_progress()  # first, so that a kill before the first chunk leaves an output that resumes
            self.handle = open(self.path, "wb")

    def write(self, text: str) -> None:
        if self.path is None:
            sys.stdout.write(text)
        else:
            self.open()
            self.handle.write(text.encode("utf-8"))

    def write_document(self, tagged: Tagged, source: int) -> None:
        text = self.writer.document(tagged)  # raises ValueError for a document the format cannot hold
        if not self.state["header"]:
            self.write(self.writer.header(tagged.document.collection))
            self.state["header"] = True
        self.write(text)
        self.state["consumed"][source] += 1
        self.state["written"] += 1

    def skip_document(self, source: int) -> None:
        self.state["consumed"][source] += 1

    def save_progress(self) -> None:
        temporary = self.progress.with_name(self.progress.name + ".tmp")
        temporary.write_text(json.dumps(self.state), encoding="utf-8")
        os.replace(temporary, self.progress)

    def commit(self) -> None:
        """The chunk is on disk: flush, fsync, then record it (never the other way round)."""
        if self.path is None:
            sys.stdout.flush()
            return
        if self.handle is None:
            self.open()
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.state["bytes"] = self.handle.tell()
        self.save_progress()

    def close(self, complete: bool) -> None:
        """Ends the collection (header if nothing was written, footer). A complete output loses its progress file;
        an incomplete one keeps it, and the footer lies after the recorded length, so --resume cuts it off."""
        if self.closed:
            return
        self.closed = True
        if self.path is not None and self.handle is None:
            self.open()
        if self.path is not None and not complete:
            self.handle.truncate(self.state["bytes"])  # a chunk cut short by an exception is not kept half-written
            self.handle.seek(self.state["bytes"])
        text = "" if self.state["header"] else self.writer.header(None)
        self.write(text + self.writer.footer())
        if self.path is None:
            sys.stdout.flush()
            return
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        if complete:
            self.progress.unlink(missing_ok=True)


@dataclass
class Done:
    result: list

    def get(self) -> list:
        return self.result


class InProcess:
    """Tags in this process: a chunk is done when submitted."""

    window = 1

    def __init__(self, tagger):
        self.tagger = tagger

    def submit(self, texts: list[str]) -> Done:
        return Done(self.tagger.tag(texts))

    def close(self):
        pass


WORKER_TAGGER = None
WORKER_ERROR = None


def start_worker(threads: int, tagger_kwargs: dict) -> None:
    # An exception here would make multiprocessing restart the worker forever: keep it for the first chunk instead.
    global WORKER_TAGGER, WORKER_ERROR
    import torch
    from transformers.utils import logging as hf_logging

    from .tagger import Tagger

    torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()
    try:
        WORKER_TAGGER = Tagger(**tagger_kwargs)
    except Exception as error:  # noqa: BLE001 - re-raised in the parent by tag_in_worker
        WORKER_ERROR = error


def tag_in_worker(texts: list[str]):
    if WORKER_ERROR is not None:
        raise WORKER_ERROR
    return WORKER_TAGGER.tag(texts)


class WorkerPool:
    """`workers` processes, each with its own Tagger and `threads` torch threads. Started with "spawn": a forked
    copy of a process that has run torch can deadlock in OpenMP. Chunks go out in order and come back in order;
    at most two per worker are in flight, so a long input is never read far ahead of what is written."""

    def __init__(self, workers: int, threads: int, tagger_kwargs: dict):
        context = multiprocessing.get_context("spawn")
        self.pool = context.Pool(workers, initializer=start_worker, initargs=(threads, tagger_kwargs))
        self.window = 2 * workers

    def submit(self, texts: list[str]):
        return self.pool.apply_async(tag_in_worker, (texts,))

    def close(self):
        self.pool.terminate()
        self.pool.join()


def chunked(items: Iterator, size: int) -> Iterator[list]:
    """Lists of items holding at most `size` documents each (other items ride along in order)."""
    chunk, documents = [], 0
    for item in items:
        chunk.append(item)
        documents += isinstance(item[1], Document)
        if documents == size:
            yield chunk
            chunk, documents = [], 0
    if chunk:
        yield chunk


@dataclass
class Summary:
    documents: int = 0
    malformed: int = 0
    failed_inputs: int = 0
    stopped: bool = False


def tag_corpus(sources: list[Source], outputs: list[Output], tagger, *, type_names: str = "model",
               on_error: str = "skip", chunk_size: int = CHUNK_DOCUMENTS, progress: bool = True,
               report: Callable[[str], None] | None = None) -> Summary:
    """Tags every source into its output (`outputs[i]` for `sources[i]`; several sources may share one).
    `tagger`: an InProcess or WorkerPool. Malformed documents and unreadable inputs are reported and skipped, or
    end the run with on_error="stop"; what was written before is kept either way."""
    report = report or (lambda message: tqdm.write(f"bioalbert tag: error: {message}", file=sys.stderr))
    summary = Summary()
    slots = []  # (output, index of the source within its output)
    for i, output in enumerate(outputs):
        slots.append((output, sum(o is output for o in outputs[:i])))

    def items() -> Iterator[tuple[int, object]]:
        for i, source in enumerate(sources):
            output, slot = slots[i]
            if output.complete or output.state["finished"][slot]:
                continue
            try:
                for item in source.documents(output.state["consumed"][slot]):
                    yield i, item
            except InputError as error:
                yield i, Failed(error)
                continue
            yield i, End()

    def tag_chunk(chunk):
        documents = [item for _, item in chunk if isinstance(item, Document)]
        texts = [passage.text or "" for document in documents for passage in document.bioc.passages]
        return documents, tagger.submit(texts)

    def write_chunk(documents, future) -> bool:
        """Writes one tagged chunk in input order; False when the run must stop."""
        found = iter(future.get())
        entities = {}
        for document in documents:
            per_document = []
            for passage in document.bioc.passages:
                shift = passage.offset
                per_document += [replace(e, start=e.start + shift, end=e.end + shift) for e in next(found)]
            entities[id(document)] = rename_types(per_document, type_names)
        touched, go_on = [], True
        for i, item in pending_items.popleft():
            output, slot = slots[i]
            if output not in touched:
                touched.append(output)
            if isinstance(item, Document):
                try:
                    output.write_document(Tagged(item, entities[id(item)]), slot)
                    summary.documents += 1
                    bar.update(1)
                    continue
                except ValueError as error:  # e.g. a character that XML cannot hold
                    item = MalformedDocument(f"{sources[i].name}: document {item.id}", f"cannot be written ({error})")
            if isinstance(item, MalformedDocument):
                report(str(item))
                summary.malformed += 1
                if on_error == "skip":  # when it stops the run, --resume starts again at this document
                    output.skip_document(slot)
            elif isinstance(item, Failed):
                report(str(item.error))
                summary.failed_inputs += 1
            elif isinstance(item, End):
                output.state["finished"][slot] = True
            if isinstance(item, (MalformedDocument, Failed)) and on_error == "stop":
                go_on = False
                break
        for output in touched:
            output.commit()
            if all(output.state["finished"]):
                output.close(complete=True)
        return go_on

    resumed = sum(output.consumed for output in dict.fromkeys(outputs))
    pending_items, in_flight = deque(), deque()
    bar = tqdm(unit="doc", initial=resumed, disable=not progress, desc="tagging", dynamic_ncols=True, file=sys.stderr)
    completed = False
    try:
        for chunk in chunked(items(), chunk_size):
            pending_items.append(chunk)
            in_flight.append(tag_chunk(chunk))
            if len(in_flight) >= tagger.window and not write_chunk(*in_flight.popleft()):
                summary.stopped = True
                break
        while in_flight and not summary.stopped:
            if not write_chunk(*in_flight.popleft()):
                summary.stopped = True
        completed = True
    finally:
        bar.close()
        for output in dict.fromkeys(outputs):
            if output.complete or output.closed:
                continue
            if output.handle is None and output.path is not None and not output.progress.exists():
                continue  # never started (its inputs could not be read): no file at all
            output.close(complete=completed and all(output.state["finished"]))
    return summary
