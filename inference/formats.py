"""Writers for tagged documents: JSONL, CoNLL (word TAB IOB2 tag) and PubTator.

Every writer takes (doc_id, text, entities) and returns the document's lines as one string ending in a newline.
"""

import json
import re
from collections.abc import Sequence

from .tagger import Entity, merge_entities, sentence_spans, word_spans

FORMATS = ("jsonl", "conll", "pubtator")


def to_jsonl(doc_id: str, text: str, entities: Sequence[Entity]) -> str:
    """{"id", "text", "entities": [{"start", "end", "text", "label", "score", "model"}]}: offsets index `text`."""
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


def to_pubtator(doc_id: str, text: str, entities: Sequence[Entity]) -> str:
    """PubTator: `id|t|title`, `id|a|abstract`, then `id<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>-` per entity,
    and a blank line. The title is the first line of the text and the abstract the rest, with line breaks written
    as spaces: PubTator offsets count title + one separator + abstract, so the offsets into `text` stay exact."""
    doc_id = re.sub(r"[|\s]+", "_", doc_id) or "-"
    title, _, abstract = text.partition("\n")
    one_line = str.maketrans({"\r": " ", "\n": " ", "\t": " "})
    lines = [f"{doc_id}|t|{title.translate(one_line)}", f"{doc_id}|a|{abstract.translate(one_line)}"]
    lines += [f"{doc_id}\t{e.start}\t{e.end}\t{e.text.translate(one_line)}\t{e.label}\t-" for e in entities]
    return "\n".join(lines) + "\n\n"


WRITERS = {"jsonl": to_jsonl, "conll": to_conll, "pubtator": to_pubtator}
