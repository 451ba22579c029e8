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

A fine-tuned folder's config names this class under `custom_pipelines`, so
`pipeline("ner", model=folder, trust_remote_code=True)` runs it (this file must stay self-contained: it is remote
code).
"""

import re
import warnings

from transformers import TokenClassificationPipeline

WORD_RE = re.compile(r"\w+|[^\w\s]")


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

    def postprocess(self, all_outputs, **postprocess_params):
        entities = super().postprocess(all_outputs, **postprocess_params)
        sentence = all_outputs[0]["sentence"]
        for entity in entities:  # the pieces decoded would read "IL - 2" for the text "IL-2"
            if entity.get("start") is not None:
                entity["word"] = sentence[entity["start"] : entity["end"]]
        return entities
