"""`pipeline("ner")` for BioALBERT token classifiers: raw text is tagged in the words the models were trained on.

transformers' `TokenClassificationPipeline` tokenises raw text in whitespace-separated chunks and, for a tokenizer
without a continuing-subword prefix (ALBERT's unigram), decides that a piece continues a word when no space
precedes it. The BioNER corpora split punctuation off words ("mice ." ; "IL - 2") and the models are fine-tuned on
those words, each tokenised on its own. The stock pipeline therefore shows the model pieces it never saw in
training ("▁mice" + "." as one word) and returns "mice." or "cancer;" as entities. This subclass splits the text
with `WORD_RE` (the split of `bioalbert.inference.Tagger`: maximal runs of letters/digits, every other non-space
character alone), tokenises those words as fine-tuning does, and takes a piece's word from the tokenizer's
`word_ids`; aggregation strategies, `stride` windows and offsets into the original text are the stock pipeline's.
An entity's `word` is the exact text it covers, `text[start:end]`.

Words get their labels by IOB2-constrained decoding (`decode_iob2`), not one argmax per word: an argmax can say
"O I-Species", which the stock grouping turns into an entity that the strict IOB2 metric does not count (and whose
boundary is wrong). The same decoding scores the models in training (`bioalbert.ner`).

A fine-tuned folder's config names this class under `custom_pipelines`, so
`pipeline("ner", model=folder, trust_remote_code=True)` runs it (this file must stay self-contained: it is remote
code).
"""

import functools
import re
import warnings

import numpy as np
from transformers import TokenClassificationPipeline
from transformers.pipelines.token_classification import AggregationStrategy

WORD_RE = re.compile(r"\w+|[^\w\s]")


@functools.lru_cache(maxsize=32)
def iob2_transitions(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(may_start, may_follow): label j may open a sentence; label j may follow label i. The one rule of strict
    IOB2: I-X continues B-X or I-X. Labels without a B-/I- prefix are unconstrained."""
    inside = [label[2:] if label.startswith("I-") else None for label in labels]
    may_start = np.array([kind is None for kind in inside])
    may_follow = np.array([[kind is None or previous in (f"B-{kind}", f"I-{kind}") for kind in inside]
                           for previous in labels])
    return may_start, may_follow


def decode_iob2(log_probs: np.ndarray, labels: list[str]) -> list[int]:
    """The most probable valid IOB2 label sequence (label ids) for one sentence's words, given each word's
    log-probabilities (words, labels): Viterbi with hard transition constraints and no learned transition scores,
    so where the per-word argmax is already valid it is returned unchanged."""
    if len(log_probs) == 0:
        return []
    may_start, may_follow = iob2_transitions(tuple(labels))
    argmax = log_probs.argmax(axis=-1)
    if may_start[argmax[0]] and may_follow[argmax[:-1], argmax[1:]].all():
        return argmax.tolist()  # the unconstrained best is valid, hence the best valid sequence (most sentences)
    transition = np.where(may_follow, 0.0, -np.inf)
    score = np.where(may_start, log_probs[0], -np.inf)
    backpointers = []
    for word_scores in log_probs[1:]:
        total = score[:, None] + transition  # (previous label, label)
        best_previous = total.argmax(axis=0)
        score = total[best_previous, np.arange(len(labels))] + word_scores
        backpointers.append(best_previous)
    path = [int(score.argmax())]
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    return path[::-1]


class BioAlbertTokenClassificationPipeline(TokenClassificationPipeline):
    def preprocess(self, sentence, offset_mapping=None, **preprocess_params):
        # A copy: the stock preprocess adds `is_split_into_words` to this dict, which with `stride` is the pipeline's
        # own, so one pre-split call would break every later call on raw text.
        preprocess_params["tokenizer_params"] = dict(preprocess_params.get("tokenizer_params", {}))
        words = [match.span() for match in WORD_RE.finditer(sentence)] if isinstance(sentence, str) else []
        if preprocess_params.get("is_split_into_words") or offset_mapping is not None or not words:
            yield from super().preprocess(sentence, offset_mapping=offset_mapping, **preprocess_params)
            return
        # The stock pre-tokenised path, with each word's place in the original text instead of its place in the
        # words joined by spaces.
        preprocess_params = {**preprocess_params, "is_split_into_words": True, "delimiter": " "}
        for model_inputs in super().preprocess([sentence[start:end] for start, end in words], **preprocess_params):
            model_inputs["word_to_chars_map"] = words
            if model_inputs["sentence"] is not None:
                model_inputs["sentence"] = sentence
            yield model_inputs

    def gather_pre_entities(self, sentence, input_ids, scores, offset_mapping, special_tokens_mask,
                            aggregation_strategy, word_ids=None, word_to_chars_map=None):
        with warnings.catch_warnings():  # its space heuristic, replaced below where word_ids are known
            warnings.filterwarnings("ignore", message="Tokenizer does not support real words")
            pre_entities = super().gather_pre_entities(
                sentence, input_ids, scores, offset_mapping, special_tokens_mask, aggregation_strategy,
                word_ids=word_ids, word_to_chars_map=word_to_chars_map,
            )
        if word_ids is not None:
            kept = [index for index, special in enumerate(special_tokens_mask) if not special]
            for entity, index in zip(pre_entities, kept, strict=True):
                entity["is_subword"] = index > 0 and word_ids[index] is not None and word_ids[index] == word_ids[index - 1]
        return pre_entities

    def aggregate_word(self, entities: list[dict], aggregation_strategy: AggregationStrategy) -> dict:
        """The stock word, plus the score vector its strategy reads (first piece, most confident piece, mean)."""
        word = super().aggregate_word(entities, aggregation_strategy)
        if aggregation_strategy == AggregationStrategy.FIRST:
            word["scores"] = entities[0]["scores"]
        elif aggregation_strategy == AggregationStrategy.MAX:
            word["scores"] = max(entities, key=lambda entity: entity["scores"].max())["scores"]
        else:
            word["scores"] = np.nanmean(np.stack([entity["scores"] for entity in entities]), axis=0)
        return word

    def aggregate_words(self, entities: list[dict], aggregation_strategy: AggregationStrategy) -> list[dict]:
        """The stock words, labelled by one IOB2-constrained decoding over them instead of an argmax per word."""
        words = super().aggregate_words(entities, aggregation_strategy)
        if not words:
            return words
        scores = np.stack([word.pop("scores") for word in words])
        labels = [self.model.config.id2label[i] for i in range(scores.shape[-1])]
        for word, word_scores, label in zip(words, scores, decode_iob2(np.log(np.clip(scores, 1e-38, None)), labels)):
            word["entity"], word["score"] = labels[label], word_scores[label]
        return words

    def postprocess(self, all_outputs, **postprocess_params):
        entities = super().postprocess(all_outputs, **postprocess_params)
        sentence = all_outputs[0]["sentence"]
        for entity in entities:  # the pieces decoded would read "IL - 2" for the text "IL-2"
            if entity.get("start") is not None:
                entity["word"] = sentence[entity["start"] : entity["end"]]
        return entities
