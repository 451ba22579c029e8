"""Writers for tagged documents: JSONL, PubTator, BioC XML, BioC JSON and CoNLL (word TAB IOB2 tag).

A writer turns a collection into text in three parts, so that a collection is written one document at a time and
a resumed run can append to what a killed one wrote: `header(collection)`, `document(tagged)` per document, and
`footer()`. Offsets are document offsets: a document's passages laid at their own offsets (`document_text`), which
for a plain-text input is its text and for PubTator is title + one character + abstract, as PubTator counts.
The input's own annotations are written back next to ours (CoNLL, one label per word, has room for ours only).
"""

import datetime
import json
import re
from dataclasses import dataclass

import bioc
from bioc.biocjson import toJSON
from bioc.biocxml.encoder import encode_document, encode_infons
from lxml import etree

from .formats import model_name, to_conll
from .readers import Document
from .tagger import Entity


@dataclass
class Tagged:
    """A document and the entities we found in it, at document offsets."""

    document: Document
    entities: list[Entity]


def document_text(document: bioc.BioCDocument) -> str:
    """The passages laid at their offsets, gaps filled with line breaks (offsets index this text)."""
    parts, end = [], 0
    for passage in document.passages:
        parts.append("\n" * (passage.offset - end) + (passage.text or ""))
        end = passage.offset + len(passage.text or "")
    return "".join(parts)


def input_annotations(document: bioc.BioCDocument) -> list[bioc.BioCAnnotation]:
    """The input's own annotations, wherever the document keeps them (document, passages, sentences)."""
    found = list(document.annotations)
    for passage in document.passages:
        found += passage.annotations
        for sentence in passage.sentences:
            found += sentence.annotations
    return found


def annotation_span(annotation: bioc.BioCAnnotation) -> tuple[int, int]:
    """(start, end) of an annotation: its location, or the span of all of them for a discontinuous one."""
    if not annotation.locations:
        return 0, 0
    return (min(location.offset for location in annotation.locations),
            max(location.offset + location.length for location in annotation.locations))


class JsonlWriter:
    """{"id", "text", "entities": [{"start", "end", "text", "label", "score", "model"}], ...}: a JSONL input's
    other fields are kept, and other inputs' own annotations go to "annotations" (with their infons)."""

    def header(self, collection: dict | None) -> str:
        return ""

    def document(self, tagged: Tagged) -> str:
        document = tagged.document
        record = {"id": document.id, "text": document_text(document.bioc),
                  "entities": [entity.to_dict() for entity in tagged.entities]}
        theirs = []
        for annotation in input_annotations(document.bioc):
            start, end = annotation_span(annotation)
            theirs.append({"id": annotation.id, "start": start, "end": end, "text": annotation.text, **annotation.infons})
        if theirs:
            record["annotations"] = theirs
        for key, value in document.fields.items():
            record.setdefault("annotations" if key == "entities" else key, value)
        return json.dumps(record, ensure_ascii=False) + "\n"

    def footer(self) -> str:
        return ""


class ConllWriter:
    def header(self, collection: dict | None) -> str:
        return ""

    def document(self, tagged: Tagged) -> str:
        return to_conll(tagged.document.id, document_text(tagged.document.bioc), tagged.entities)

    def footer(self) -> str:
        return ""


ONE_LINE = str.maketrans({"\r": " ", "\n": " ", "\t": " "})


class PubTatorWriter:
    """`id|t|title`, `id|a|abstract`, the annotation lines (the input's and ours, by position), the input's
    relation lines, and a blank line. The title is the text up to its first line break and the abstract the rest,
    with line breaks and tabs written as spaces, so offsets into the document text stay exact.

    Annotation lines: `id<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>identifier`, ours with identifier "-" (never
    empty: bioc's reader strips lines, and a line ending in an empty column would be read as a relation) and a
    seventh column naming the model. The lines are joined here rather than by bioc's `PubTatorAnn.__str__`, which
    ends every six-column line with a stray tab; what is written is checked by parsing it back with bioc."""

    def header(self, collection: dict | None) -> str:
        return ""

    def document(self, tagged: Tagged) -> str:
        document = tagged.document.bioc
        doc_id = re.sub(r"[|\s]+", "_", str(document.id)) or "-"
        title, _, abstract = document_text(document).partition("\n")
        lines = [f"{doc_id}|t|{title.translate(ONE_LINE)}", f"{doc_id}|a|{abstract.translate(ONE_LINE)}"]
        rows = []
        for annotation in input_annotations(document):
            start, end = annotation_span(annotation)
            columns = [annotation.infons.get("type", "-"), annotation.infons.get("identifier") or "-"]
            more = annotation.infons.get("pubtator_columns") or annotation.infons.get("model")  # a model's, tagged before
            if more:
                columns.append(more)
            rows.append((start, end, 0, [doc_id, str(start), str(end), (annotation.text or "").translate(ONE_LINE), *columns]))
        for entity in tagged.entities:
            rows.append((entity.start, entity.end, 1, [doc_id, str(entity.start), str(entity.end),
                                                      entity.text.translate(ONE_LINE), entity.label, "-", model_name(entity.model)]))
        lines += ["\t".join(columns) for *_, columns in sorted(rows, key=lambda row: row[:3])]
        for relation in document.relations:
            if relation.infons.get("type") and len(relation.nodes) == 2:
                neg = [relation.infons["neg"]] if "neg" in relation.infons else []
                lines.append("\t".join([doc_id, relation.infons["type"], *(node.refid for node in relation.nodes), *neg]))
        return "\n".join(lines) + "\n\n"

    def footer(self) -> str:
        return ""


def collection_fields(collection: dict | None) -> dict:
    """source, date, key and infons of the output collection: the input's when it was BioC, else ours."""
    collection = collection or {}
    return {"source": collection.get("source") or "bioalbert tag",
            "date": collection.get("date") or datetime.date.today().isoformat(),
            "key": collection.get("key") or "", "infons": dict(collection.get("infons") or {})}


def add_our_annotations(tagged: Tagged) -> bioc.BioCDocument:
    """The BioC document with our entities added to the passages they fall in: infons type, model and score;
    ids that no annotation of the input uses."""
    document = tagged.document.bioc
    taken = {annotation.id for annotation in input_annotations(document)}
    number = 0
    for entity in tagged.entities:
        passage = next(p for p in document.passages if p.offset <= entity.start < p.offset + len(p.text or "") + 1)
        while f"T{number}" in taken:
            number += 1
        annotation = bioc.BioCAnnotation()
        annotation.id = f"T{number}"
        number += 1
        annotation.infons.update({"type": entity.label, "model": model_name(entity.model), "score": f"{entity.score:.4f}"})
        annotation.add_location(bioc.BioCLocation(entity.start, entity.end - entity.start))
        annotation.text = entity.text
        passage.add_annotation(annotation)
    return document


class BiocXmlWriter:
    """A BioC XML collection, each document encoded by bioc's `encode_document`. Header and footer are written
    here because bioc's streaming BioCXMLDocumentWriter opens and closes the collection itself, and a resumed run
    must append documents to a collection a killed run left open."""

    def header(self, collection: dict | None) -> str:
        fields = collection_fields(collection)
        root = etree.Element("collection")
        for key in ("source", "date", "key"):
            etree.SubElement(root, key).text = fields[key]
        encode_infons(root, fields["infons"])
        opened = etree.tostring(root, encoding="unicode").removesuffix("</collection>")  # left open for documents
        return "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n" + opened + "\n"

    def document(self, tagged: Tagged) -> str:
        return etree.tostring(encode_document(add_our_annotations(tagged)), encoding="unicode") + "\n"

    def footer(self) -> str:
        return "</collection>\n"


class BiocJsonWriter:
    """A BioC JSON collection ({"source", "date", "key", "version", "infons", "documents": [...]}), each document
    encoded by bioc's `toJSON`, one document per line. `written` (documents already in the file) decides whether a
    document needs a leading comma; a resumed run restores it."""

    def __init__(self):
        self.written = 0

    def header(self, collection: dict | None) -> str:
        fields = collection_fields(collection)
        head = {"source": fields["source"], "date": fields["date"], "key": fields["key"], "version": "1.0",
                "infons": fields["infons"]}
        return json.dumps(head, ensure_ascii=False)[:-1] + ', "documents": [\n'

    def document(self, tagged: Tagged) -> str:
        text = json.dumps(toJSON(add_our_annotations(tagged)), ensure_ascii=False)
        self.written += 1
        return ("" if self.written == 1 else ",\n") + text

    def footer(self) -> str:
        return "\n]}\n"


WRITER_CLASSES = {"jsonl": JsonlWriter, "pubtator": PubTatorWriter, "bioc-xml": BiocXmlWriter,
                  "bioc-json": BiocJsonWriter, "conll": ConllWriter}
