"""Tags raw documents of any length with one or more fine-tuned BioALBERT NER models.

    from bioalbert.inference import Tagger
    tagger = Tagger(["runs/ncbi-disease", "runs/bc5cdr-chem"])
    for entity in tagger.tag([abstract])[0]:
        print(entity.start, entity.end, entity.text, entity.label, entity.score)

How a text becomes entities (and why not `pipeline("ner", stride=...)`, which also works on these folders):

1. Words. The raw text is split into words with `WORD_RE` (maximal runs of letters/digits, every other
   non-space character alone): exactly how the LINNAEUS/S800 benchmarks are tokenised and, on the test splits,
   identical to the given tokens of NCBI-disease, BC5CDR and BC2GM on every sentence. Models are fine-tuned on
   those words, each tokenised on its own ("▁IL ▁- ▁2", not "▁IL - 2"); feeding the training-time words keeps
   `tag()` on raw text in agreement with the word-level benchmark evaluation, and entity boundaries can only fall
   on word boundaries. Offsets come from the regex matches, so `text == original[start:end]` always. A model
   folder's own `pipeline("ner")` (pipeline_bioalbert.py, which defines `WORD_RE`) splits words the same way.
2. Windows. Words are grouped into sentences (`sentence_spans`) and every sentence is one model input, the unit
   the models were trained on. A sentence longer than `max_length` pieces is cut into windows of whole words
   that overlap by `stride` pieces; each word takes its label from the window where it has the most context on
   both sides (the SQuAD "max context" rule), so every word is labelled exactly once and an entity on a window
   border is found once, whole. Nothing is truncated: a 20,000-word document is tagged to its last word. This is
   the windowing of the fine-tuning evaluation (`bioalbert.ner.windows`), reused as is.
3. Labels. A word's label scores are its first piece's (as in training); each sentence's labels are the most
   probable valid IOB2 sequence (`decode_iob2`: an I-X only after B-X or I-X), the decoding the models are scored
   with, and are turned into entities as the project's metric reads them (seqeval, strict IOB2), so raw-text
   tagging scores like the word-level benchmark evaluation.
   `score` is the mean probability of the chosen label over the entity's words.
4. Speed. Windows of all texts are sorted by length and batched with dynamic padding under
   `torch.inference_mode` (`bioalbert.ner.scoring.predict_scores`, the function fine-tuning scores with); optional
   dynamic int8 quantisation and `torch.compile`.
"""

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bioalbert.modeling.pipeline_bioalbert import WORD_RE, decode_iob2
from bioalbert.ner.scoring import load_model, model_labels, predict_scores
from bioalbert.ner.windows import window_length_defaults

SENTENCE_END = {".", "!", "?"}
# Words after which a full stop does not end a sentence ("et al. Smith", "Fig. 2", "E. coli" is lower-case anyway).
ABBREVIATIONS = {"al", "e", "i", "g", "fig", "figs", "vs", "sp", "spp", "dr", "mr", "mrs", "no", "nos", "ref", "cf"}
PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")


@dataclass(frozen=True)
class Entity:
    """An entity mention: `text == original[start:end]` (character offsets into the text given to `tag`)."""

    start: int
    end: int
    text: str
    label: str
    score: float
    model: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of `text`, in order (see module doc, step 1)."""
    return [match.span() for match in WORD_RE.finditer(text)]


def sentence_spans(text: str, words: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Splits word indices into sentences: [(first_word, last_word + 1), ...] covering every word once.

    A sentence ends after ".", "!" or "?" followed by a word that starts with a capital letter, a digit or an
    opening bracket (but not after a known abbreviation or a single capital letter such as "J. Smith"), and at a
    blank line. Deliberately conservative: a missed split only makes an input longer; a wrong split could cut an
    entity's context in two.
    """
    bounds, start = [], 0
    for i in range(len(words) - 1):
        gap = text[words[i][1] : words[i + 1][0]]
        word, next_word = text[slice(*words[i])], text[slice(*words[i + 1])]
        ends = False
        if PARAGRAPH_BREAK.search(gap):
            ends = True
        elif word in SENTENCE_END and gap and (next_word[0].isupper() or next_word[0].isdigit() or next_word in "([{"):
            previous = text[slice(*words[i - 1])] if i > 0 else ""
            adjacent = i > 0 and words[i - 1][1] == words[i][0]
            abbreviation = adjacent and (previous.lower() in ABBREVIATIONS or (len(previous) == 1 and previous.isupper()))
            ends = not abbreviation
        if ends:
            bounds.append((start, i + 1))
            start = i + 1
    if words:
        bounds.append((start, len(words)))
    return bounds


def iob_chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first, last + 1) of every entity in a tag sequence, read as the project's metric reads it (seqeval,
    strict IOB2): an entity is a B-X followed by any I-X; an I-X that does not continue a B-X/I-X is dropped.
    Labels without a B-/I- prefix (a model trained on plain type labels) form one entity per run of equal labels.
    """
    chunks, current = [], None  # current: [type, first]
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = (tag[0], tag[2:]) if tag[:2] in ("B-", "I-") else ("O", "") if tag == "O" else ("bare", tag)
        continues = current is not None and current[0] == kind and (prefix == "I" or prefix == "bare")
        if current is not None and not continues:
            chunks.append((current[0], current[1], i))
            current = None
        if current is None and (prefix == "B" or prefix == "bare"):
            current = [kind, i]
    return chunks


def entity_type(label: str) -> str:
    """The entity type of a tag: "B-Disease" -> "Disease", "O" -> ""."""
    return "" if label == "O" else label[2:] if label[:2] in ("B-", "I-") else label


class Tagger:
    """One or more NER models applied to raw texts; see the module doc for how texts become entities.

    models: folders or Hub ids (e.g. a disease and a chemical model); several are merged by `merge_entities`.
    batch_size: windows per forward pass.
    max_length, stride: pieces per window ([CLS] and [SEP] included) and pieces shared by consecutive windows
        of a sentence that does not fit; by default the model's length (512) and a quarter of it, as in the
        fine-tuning evaluation (`bioalbert.ner.windows`, whose windowing this reuses).
    quantize: dynamic int8 quantisation of the linear layers (CPU; see benchmarks/tag_speed.py for its F1 cost).
    compile: `torch.compile` the models (pays off on long runs only: the first batches compile).
    keep_overlaps: with several models, keep overlapping entities of different types instead of resolving them.
    """

    def __init__(
        self,
        models: str | Sequence[str],
        batch_size: int = 16,
        device: str | None = None,
        max_length: int | None = None,
        stride: int | None = None,
        quantize: bool = False,
        compile: bool = False,
        trust_remote_code: bool = False,
        keep_overlaps: bool = False,
    ):
        self.paths = [str(models)] if isinstance(models, (str, Path)) else [str(path) for path in models]
        if not self.paths:
            raise ValueError("Tagger needs at least one model.")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size, self.keep_overlaps = batch_size, keep_overlaps
        self.models = [load_model(path, self.device, quantize, compile, trust_remote_code) for path in self.paths]
        self.lengths = [window_length_defaults(model, max_length, stride) for _, model in self.models]

    @property
    def labels(self) -> list[str]:
        """The entity types the models tag (e.g. ["Chemical", "Disease"])."""
        types = {entity_type(label) for _, model in self.models for label in model.config.id2label.values()}
        return sorted(types - {""})

    def tag(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities of each text, sorted by position; one list per text (empty for a text without entities)."""
        if isinstance(texts, str):
            raise TypeError("Tagger.tag takes a list of texts; wrap one text as [text].")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is a {type(text).__name__}, not a str.")
        words = [word_spans(text) for text in texts]
        # Every sentence of every text, as (text index, first word, last word + 1): the model's input units.
        sentences = [(d, *span) for d, text in enumerate(texts) for span in sentence_spans(text, words[d])]
        per_model = []
        for path, (tokenizer, model), (max_length, stride) in zip(self.paths, self.models, self.lengths):
            tags = self._predict(tokenizer, model, texts, words, sentences, max_length, stride)
            per_model.append(self._entities(path, model.config.id2label, texts, words, sentences, tags))
        if len(per_model) == 1:
            return per_model[0]
        return [merge_entities(*entities, keep_overlaps=self.keep_overlaps) for entities in zip(*per_model)]

    def _predict(self, tokenizer, model, texts, words, sentences, max_length, stride) -> list[list[tuple[int, float]]]:
        """(label id, probability) of every word of every sentence, scored as the models were (`predict_scores`) and
        decoded per sentence under IOB2's constraints (`decode_iob2`)."""
        sentence_words = [[texts[d][start:end] for start, end in words[d][first:last]] for d, first, last in sentences]
        scores = predict_scores(model, tokenizer, sentence_words, self.batch_size, max_length, stride)
        labels = model_labels(model)
        return [[(label, float(np.exp(sentence[word, label]))) for word, label in enumerate(decode_iob2(sentence, labels))]
                for sentence in scores]

    @staticmethod
    def _entities(path, id2label, texts, words, sentences, tags) -> list[list[Entity]]:
        per_text = [[] for _ in texts]
        for (d, first, _), sentence_tags in zip(sentences, tags):
            per_text[d].extend(sentence_tags)  # sentences come in text order: this rebuilds each text's words
        results = []
        for d, text in enumerate(texts):
            entities = []
            for kind, first, last in iob_chunks([id2label[label] for label, _ in per_text[d]]):
                start, end = words[d][first][0], words[d][last - 1][1]
                score = sum(p for _, p in per_text[d][first:last]) / (last - first)
                entities.append(Entity(start, end, text[start:end], kind, round(score, 4), path))
            results.append(entities)
        return results


def merge_entities(*entity_lists: Sequence[Entity], keep_overlaps: bool = False) -> list[Entity]:
    """Merges the entities that several models found in one text.

    Overlap rule: entities that share at least one character conflict; the one with the higher score is kept,
    a tie goes to the longer span, then to the model listed first. Entities without a conflict are all kept
    (so one model's output passes through unchanged). With keep_overlaps=True every entity is kept (nested and
    overlapping mentions of different types, as PubTator allows), except exact duplicates (same span and label).
    Returns entities sorted by (start, end).
    """
    candidates = [(entity, rank) for rank, entities in enumerate(entity_lists) for entity in entities]
    candidates.sort(key=lambda item: (-item[0].score, -(item[0].end - item[0].start), item[1], item[0].start))
    kept: list[Entity] = []
    for entity, _ in candidates:
        if keep_overlaps:
            clash = any((k.start, k.end, k.label) == (entity.start, entity.end, entity.label) for k in kept)
        else:
            clash = any(k.start < entity.end and entity.start < k.end for k in kept)
        if not clash:
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.end, e.label))


def tag(texts: Sequence[str], model: str | Sequence[str], **kwargs) -> list[list[Entity]]:
    """`Tagger(model, **kwargs).tag(texts)`; models stay loaded between calls."""
    return Tagger(model, **kwargs).tag(texts)
