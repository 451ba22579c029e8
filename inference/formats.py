"""Output formats of `bioalbert tag`: their names, file extensions, entity type names, and the writers of one plain
text (JSONL record, CoNLL lines). The collection writers (JSONL, PubTator, BioC XML/JSON, CoNLL for any document)
are in `writers.py`; this module imports no BioC library, so `import bioalbert.inference` (the Space) needs none.
"""

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .tagger import Entity, merge_entities, sentence_spans, word_spans

INPUT_FORMATS = ("text", "lines", "paragraphs", "jsonl", "pubtator", "bioc-xml", "bioc-json")
# File name ending (after .gz) -> format; anything else is plain text, as `bioalbert tag` always read it.
SUFFIX_FORMATS = {".txt": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".pubtator": "pubtator",
                  ".pubtator3": "pubtator", ".xml": "bioc-xml", ".bioc": "bioc-xml", ".json": "bioc-json"}
OUTPUT_FORMATS = ("jsonl", "pubtator", "bioc-xml", "bioc-json", "conll")
FORMATS = OUTPUT_FORMATS
EXTENSIONS = {"jsonl": ".jsonl", "pubtator": ".pubtator", "bioc-xml": ".xml", "bioc-json": ".json", "conll": ".conll"}


def input_format(path: str, given: str | None) -> str:
    """The format named by --input-format, or else the one the file name says (`.gz` looked through)."""
    if given:
        return given
    name = path.lower().removesuffix(".gz")
    if name.endswith(".bioc.json"):
        return "bioc-json"
    return SUFFIX_FORMATS.get(Path(name).suffix, "text")


# PubTator3's entity types are Gene, Chemical, Disease, Species, Variant and CellLine. Its Gene class is GNormPlus'
# genes *and gene products*, so the benchmarks' DNA (JNLPBA: "IL-2 gene", promoter regions) and RNA ("IL-2 mRNA")
# mentions are Gene there. PubTator3 has no cell type class: CellType keeps its own name rather than being dropped
# or passed off as CellLine (a cell line is a named culture, "HeLa"; a cell type is "T cells").
PUBTATOR3_TYPES = {"Gene": "Gene", "DNA": "Gene", "RNA": "Gene", "Chemical": "Chemical", "Disease": "Disease",
                   "Species": "Species", "CellLine": "CellLine", "CellType": "CellType"}
TYPE_NAMES = {"model": None, "pubtator3": PUBTATOR3_TYPES}


def model_name(path: str | None) -> str:
    """What outputs call a model: a local folder's name (models/bioalbert-tiny-ner -> bioalbert-tiny-ner), else the
    Hub id as given."""
    if not path:
        return "-"
    return Path(path).name if Path(path).exists() else path


def rename_types(entities: Sequence[Entity], type_names: str) -> list[Entity]:
    mapping = TYPE_NAMES[type_names]
    if mapping is None:
        return list(entities)
    return [replace(entity, label=mapping.get(entity.label, entity.label)) for entity in entities]


def to_jsonl(doc_id: str, text: str, entities: Sequence[Entity]) -> str:
    """One JSONL record for a plain text (the record `bioalbert tag` writes for a text input)."""
    record = {"id": doc_id, "text": text, "entities": [entity.to_dict() for entity in entities]}
    return json.dumps(record, ensure_ascii=False) + "\n"


def word_tags(text: str, entities: Sequence[Entity]) -> list[tuple[str, str]]:
    """(word, IOB2 tag) for every word of `text` (words as the tagger splits them). Overlapping entities (from
    `keep_overlaps`) cannot be written as IOB2: they are resolved by `merge_entities`' rule first."""
    entities = merge_entities(entities)
    words = word_spans(text)
    tags = ["O"] * len(words)
    starts = {start: i for i, (start, _) in enumerate(words)}
    for entity in entities:
        first = starts.get(entity.start)
        if first is None:
            raise ValueError(f"Entity {entity} does not start at a word of the text.")
        tags[first] = f"B-{entity.label}"
        for i in range(first + 1, len(words)):
            if words[i][0] >= entity.end:
                break
            tags[i] = f"I-{entity.label}"
    return [(text[start:end], tag) for (start, end), tag in zip(words, tags)]


def to_conll(doc_id: str, text: str, entities: Sequence[Entity]) -> str:
    """`-DOCSTART-` line, then one `word<TAB>tag` line per word and a blank line after every sentence: the format
    of the benchmarks (`bioalbert finetune --train-file` reads it back; `-DOCSTART-` lines are skipped)."""
    pairs = word_tags(text, entities)
    lines = [f"-DOCSTART-\t{doc_id}", ""]
    for first, last in sentence_spans(text, word_spans(text)):
        lines += [f"{word}\t{tag}" for word, tag in pairs[first:last]] + [""]
    return "\n".join(lines) + "\n"
