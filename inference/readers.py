"""Readers for `bioalbert tag`: each turns one input into a stream of `Document`s, one at a time.

Formats: text (the whole file is one document), lines (one per non-blank line), paragraphs (one per block of
lines between blank lines, as in ../shared/data/corpus), jsonl ({"id", "text", ...} per line), pubtator and
bioc-xml / bioc-json. PubTator and BioC are parsed by the `bioc` package (the BioC reference library); what is
ours is only cutting a stream into documents, so that a collection is never held whole, and naming the file and
line of a malformed document. Files ending in .gz are read through gzip.

Every document is a `bioc.BioCDocument` whose passages carry the text (a plain-text document is one passage at
offset 0; a PubTator document is its title at 0 and its abstract one character after the title, as PubTator counts),
so one tagging loop and one set of writers serve every format, and the input's own annotations ride along.
"""

import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bioc
from bioc import pubtator
from bioc.biocjson.decoder import parse_doc
from bioc.biocxml.decoder import BioCXMLDecoder
from lxml import etree

from .formats import INPUT_FORMATS, SUFFIX_FORMATS, input_format  # noqa: F401 - the names of what is read


class InputError(ValueError):
    """An input that cannot be read (any further): missing, empty, binary, not UTF-8, broken XML or JSON. The
    message names the file (and line)."""


class MalformedDocument(ValueError):
    """One document that cannot be parsed; `where` is "FILE:LINE" or "FILE:LINE: document ID". Readers yield it in
    the document's place (they do not raise it), so that the documents after it can still be read."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


@dataclass
class Document:
    """A document to tag: `bioc` holds its id, passages (offset + text) and the input's own annotations.
    `fields`: a JSONL record's other keys, written back to JSONL output."""

    bioc: bioc.BioCDocument
    fields: dict = field(default_factory=dict)
    collection: dict | None = None  # a BioC input's collection fields (source, date, key, infons)

    @property
    def id(self) -> str:
        return self.bioc.id


def plain_document(doc_id: str, text: str, fields: dict | None = None) -> Document:
    document = bioc.BioCDocument()
    document.id = doc_id
    document.add_passage(bioc.BioCPassage.of_text(text, 0))
    return Document(document, fields or {})


def open_binary(path: str):
    """The input's bytes: stdin for "-", gunzipped for a .gz file; raises InputError if it cannot be opened."""
    if path == "-":
        return sys.stdin.buffer
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from error
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.open(handle, "rb")
    handle.seek(0)
    return handle


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def decode(name: str, data: bytes, first_line: int = 1) -> str:
    """UTF-8 text of `data` (a leading byte-order mark dropped), or InputError naming the line and column."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{name}: binary file (NUL byte at byte offset {nul}), not plain text")
    try:
        return data.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise InputError(
            f"{name}: not UTF-8 (byte 0x{data[error.start]:02x} at line {line}, column {column}); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from error


def numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a text input, streamed; a bad encoding names its line."""
    name = display_name(path)
    handle = open_binary(path)
    try:
        seen_text = False
        for number, raw in enumerate(handle, 1):
            line = decode(name, raw, number).rstrip("\r\n")
            seen_text = seen_text or bool(line.strip())
            yield number, line
        if not seen_text:
            raise InputError(f"{name}: empty file (no text to tag)")
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def read_text(path: str) -> Iterator[Document]:
    name = display_name(path)
    handle = open_binary(path)
    try:
        data = handle.read()
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    if not data.strip():
        raise InputError(f"{name}: empty file (no text to tag)")
    yield plain_document(name, decode(name, data))


def read_lines(path: str) -> Iterator[Document]:
    name = display_name(path)
    for number, line in numbered_lines(path):
        if line.strip():
            yield plain_document(f"{name}:{number}", line)


def read_paragraphs(path: str) -> Iterator[Document]:
    """Blocks of non-blank lines, kept with their line breaks; id FILE:LINE of the block's first line."""
    name, block, first = display_name(path), [], 0
    for number, line in numbered_lines(path):
        if line.strip():
            first = first or number
            block.append(line)
        elif block:
            yield plain_document(f"{name}:{first}", "\n".join(block))
            block, first = [], 0
    if block:
        yield plain_document(f"{name}:{first}", "\n".join(block))


def read_jsonl(path: str) -> Iterator[Document | MalformedDocument]:
    """{"id": ..., "text": ..., other keys kept}; a record without an id gets FILE:LINE."""
    name = display_name(path)
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield MalformedDocument(f"{name}:{number}", f"not JSON: {error.msg} (column {error.colno})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield MalformedDocument(f"{name}:{number}", 'a JSONL record needs a string "text" field')
            continue
        doc_id = str(record.pop("id", f"{name}:{number}"))
        text = record.pop("text")
        yield plain_document(doc_id, text, record)


# PubTator: `PMID|t|title`, `PMID|a|abstract`, then `PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>id[<TAB>more]`
# annotation lines and `PMID<TAB>type<TAB>id1<TAB>id2` relation lines; a blank line ends a document.
TEXT_LINE = re.compile(r"^([^|\t]*)\|([ta])\|")


def check_pubtator_line(line: str) -> str:
    """The line as bioc should see it, or ValueError saying what is wrong. bioc strips lines, so an annotation
    whose id column is empty would lose a column and be read as a relation: it gets the id "-" instead."""
    if TEXT_LINE.match(line):
        return line
    fields = line.rstrip("\r").split("\t")
    if len(fields) >= 6:
        if not (fields[1].isdigit() and fields[2].isdigit()):
            raise ValueError(f"annotation offsets {fields[1]!r}, {fields[2]!r} are not whole numbers")
        if int(fields[1]) > int(fields[2]):
            raise ValueError(f"annotation starts after it ends ({fields[1]} > {fields[2]})")
        fields[5] = fields[5] or "-"
        return "\t".join(fields)
    if len(fields) in (4, 5):
        return line
    raise ValueError("neither a |t|/|a| text line, an annotation (6+ tab-separated fields) nor a relation (4-5)")


def pubtator_to_bioc(document: pubtator.PubTator) -> bioc.BioCDocument:
    """PubTator -> BioC as PubTator3 does it: title and abstract passages at the offsets PubTator counts,
    annotations as document-level annotations (type, identifier; further columns kept in `pubtator_columns`)."""
    result = bioc.BioCDocument()
    result.id = document.pmid
    title = bioc.BioCPassage.of_text(document.title or "", 0)
    title.infons["type"] = "title"
    abstract = bioc.BioCPassage.of_text(document.abstract or "", len(title.text) + 1)
    abstract.infons["type"] = "abstract"
    result.add_passage(title)
    result.add_passage(abstract)
    for i, annotation in enumerate(document.annotations):
        converted = bioc.BioCAnnotation()
        converted.id = str(i)
        converted.infons["type"] = annotation.type
        converted.infons["identifier"] = annotation.id
        if annotation.others:
            converted.infons["pubtator_columns"] = "\t".join(annotation.others)
        converted.add_location(bioc.BioCLocation(annotation.start, annotation.end - annotation.start))
        converted.text = annotation.text
        result.add_annotation(converted)
    for i, relation in enumerate(document.relations):
        converted = bioc.BioCRelation()
        converted.id = f"R{i}"
        converted.infons["type"] = relation.type
        if relation.neg is not None:
            converted.infons["neg"] = relation.neg
        converted.add_node(bioc.BioCNode(relation.id1, "role1"))
        converted.add_node(bioc.BioCNode(relation.id2, "role2"))
        result.add_relation(converted)
    return result


def parse_pubtator_block(name: str, block: list[tuple[int, str]]) -> Document | MalformedDocument:
    """One PubTator document from its (line number, line) pairs, parsed by bioc; errors name the bad line."""
    first = block[0][0]
    if not TEXT_LINE.match(block[0][1]):
        return MalformedDocument(f"{name}:{first}", "a PubTator document starts with an `ID|t|title` line")
    lines = []
    for number, line in block:
        try:
            lines.append(check_pubtator_line(line))
        except ValueError as error:
            return MalformedDocument(f"{name}:{number}", f"bad PubTator line ({error})")
    documents = list(pubtator.iterparse_s(lines))
    if len(documents) != 1:
        return MalformedDocument(f"{name}:{first}", "not one PubTator document")
    document = documents[0]
    length = len(document.title or "") + 1 + len(document.abstract or "")
    for (number, _), line in zip(block, lines):
        fields = line.split("\t")
        if len(fields) >= 6 and int(fields[2]) > length:
            return MalformedDocument(f"{name}:{number}", f"annotation ends at {fields[2]}, after the text ({length})")
    return Document(pubtator_to_bioc(document))


def read_pubtator(path: str) -> Iterator[Document | MalformedDocument]:
    name, block = display_name(path), []
    for number, line in numbered_lines(path):
        if line.strip():
            block.append((number, line))
        elif block:
            yield parse_pubtator_block(name, block)
            block = []
    if block:
        yield parse_pubtator_block(name, block)


def check_bioc_document(document: bioc.BioCDocument) -> None:
    """What the tagging and the writers rely on: an id, and passages with text at increasing, non-overlapping
    offsets (so that one document text holds every passage at its offset)."""
    if document.id is None:
        raise ValueError("the document has no id")
    end = 0
    for passage in document.passages:
        if not isinstance(passage.offset, int) or isinstance(passage.offset, bool) or passage.offset < 0:
            raise ValueError(f"a passage has no valid offset ({passage.offset!r})")
        if not isinstance(passage.text or "", str):
            raise ValueError(f"the passage at offset {passage.offset} has a text that is not a string")
        if passage.offset < end:
            raise ValueError(f"the passage at offset {passage.offset} overlaps the one before it (ending at {end})")
        end = passage.offset + len(passage.text or "")


def read_bioc_xml(path: str) -> Iterator[Document | MalformedDocument]:
    """lxml's iterparse cuts the collection at every </document>, which bioc's own BioC XML decoder then decodes,
    and the parsed element is cleared. (bioc's BioCXMLDocumentReader streams too, but never clears what it has
    parsed, so a 30 GB collection would end up in memory.) Broken XML ends the input: it cannot be resynchronised."""
    name = display_name(path)
    handle = open_binary(path)
    decoder, collection_info = BioCXMLDecoder(), {"infons": {}}
    try:
        events = etree.iterparse(handle, events=("end",), tag=("document", "source", "date", "key", "infon"),
                                 huge_tree=True, resolve_entities=False, no_network=True)
        for _, element in events:
            parent = element.getparent()
            if element.tag != "document":
                if parent is not None and parent.tag == "collection":  # the collection's own fields
                    if element.tag == "infon":
                        collection_info["infons"][element.get("key")] = element.text or ""
                    else:
                        collection_info[element.tag] = element.text or ""
                continue
            where = f"{name}:{element.sourceline}: document {element.findtext('id') or '?'}"
            bad_offset = next((passage for passage in element.iter("passage")
                               if not (passage.findtext("offset") or "").strip().isdigit()), None)
            try:
                if bad_offset is not None:  # bioc would fail on int() of it, with a message that names nothing
                    offset = bad_offset.findtext("offset")
                    found = "no <offset>" if offset is None else f"the <offset> {offset.strip()!r}, not a whole number"
                    yield MalformedDocument(where, f"invalid BioC: the passage at line {bad_offset.sourceline} has {found}")
                    continue
                xml = etree.tostring(element, encoding="unicode", with_tail=False)
                document = decoder.decodes(f"<collection>{xml}</collection>").documents[0]
                check_bioc_document(document)
                yield Document(document, collection=collection_info)
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                yield MalformedDocument(where, f"invalid BioC ({error or type(error).__name__})")
            finally:
                element.clear()  # what makes this streaming: a parsed document leaves the tree
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        raise InputError(f"{name}:{error.lineno}: not XML ({error.msg}); the documents before it were read") from None
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def read_bioc_json(path: str) -> Iterator[Document | MalformedDocument]:
    """A BioC JSON collection ({"source", ..., "documents": [...]}) or BioC JSON lines (one document per line,
    bioc's `biocjson.iterwriter` format). Each document object is decoded by bioc's `biocjson.parse_doc`."""
    name = display_name(path)
    binary = open_binary(path)
    handle = io.TextIOWrapper(binary, encoding="utf-8-sig")
    stream = JsonDocumentStream(handle, name)
    try:
        for line, obj in stream.documents():
            where = f"{name}:{line}: document {obj.get('id', '?') if isinstance(obj, dict) else '?'}"
            try:
                document = parse_doc(obj)
                check_bioc_document(document)
                yield Document(document, collection=stream.header)
            except (KeyError, TypeError, ValueError) as error:
                reason = f"missing {error}" if isinstance(error, KeyError) else str(error) or type(error).__name__
                yield MalformedDocument(where, f"invalid BioC JSON ({reason})")
    except UnicodeDecodeError as error:
        raise InputError(f"{name}: not UTF-8 ({error.reason})") from None
    finally:
        if binary is not sys.stdin.buffer:
            handle.close()


class JsonDocumentStream:
    """The document objects of a BioC JSON collection, one at a time, holding only a window of the text
    (`json.JSONDecoder.raw_decode` on a buffer): the items of the collection's "documents" array, or, when the
    input is a sequence of document objects (JSON lines), each of them. Other collection keys go to `header`."""

    CHUNK = 1 << 20

    def __init__(self, handle, name: str):
        self.handle, self.name = handle, name
        self.buffer, self.position, self.line = "", 0, 1  # self.line: the line number at buffer[0]
        self.decoder = json.JSONDecoder()
        self.header: dict = {"infons": {}}

    def fill(self) -> bool:
        chunk = self.handle.read(self.CHUNK)
        if chunk:
            self.line += self.buffer.count("\n", 0, self.position)
            self.buffer, self.position = self.buffer[self.position :] + chunk, 0
        return bool(chunk)

    def peek(self) -> str:
        """The next non-space character ("" at the end), without consuming it."""
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in " \t\r\n":
                self.position += 1
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if not self.fill():
                return ""

    def current_line(self) -> int:
        return self.line + self.buffer.count("\n", 0, self.position)

    def error(self, reason: str, at: int | None = None) -> InputError:
        at = self.position if at is None else at
        line = self.line + self.buffer.count("\n", 0, at)
        return InputError(f"{self.name}:{line}: not a BioC JSON collection ({reason}); the documents before it were read")

    def value(self):
        """The next JSON value, reading more input until it is complete."""
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as error:
                if self.fill():
                    continue
                raise self.error(error.msg, error.pos) from None
            # A number cut at the window's end decodes too early: read on until the value is followed by more.
            if end == len(self.buffer) and self.fill():
                continue
            self.position = end
            return obj

    def expect(self, characters: str) -> str:
        found = self.peek()
        if not found or found not in characters:
            raise self.error(f"expected {' or '.join(characters)}, found {found or 'the end'!r}")
        self.position += 1
        return found

    def documents(self) -> Iterator[tuple[int, object]]:
        """(line where the object starts, decoded object) for every document."""
        if not self.peek():
            raise InputError(f"{self.name}: empty file (no text to tag)")
        while self.peek():
            line = self.current_line()
            self.expect("{")
            fields, collection = {}, False
            while self.peek() != "}":
                key = self.value()
                self.expect(":")
                if key == "documents" and self.peek() == "[":
                    collection = True
                    self.header.update(fields)  # source, date... when they come before the documents
                    self.expect("[")
                    while self.peek() != "]":
                        yield self.current_line(), self.value()
                        if self.peek() == ",":
                            self.position += 1
                    self.expect("]")
                else:
                    fields[key] = self.value()
                if self.expect(",}") == "}":
                    self.position -= 1
                    break
            self.expect("}")
            if collection:
                self.header.update(fields)
                if self.peek():
                    raise self.error("text after the collection")
                return
            yield line, fields  # JSON lines: the object was itself a document


def iter_documents(path: str, fmt: str) -> Iterator[Document | MalformedDocument]:
    """The documents of one input in format `fmt`, streamed; a document that cannot be parsed comes as a
    MalformedDocument in its place. Raises InputError when the input cannot be read (any further)."""
    readers = {"text": read_text, "lines": read_lines, "paragraphs": read_paragraphs, "jsonl": read_jsonl,
               "pubtator": read_pubtator, "bioc-xml": read_bioc_xml, "bioc-json": read_bioc_json}
    return readers[fmt](path)
