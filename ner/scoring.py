"""A fine-tuned NER model over sentences of words: loading it once, each word's label scores, IOB2 tags.

`predict_scores` is the one scoring path: fine-tuning scores dev and test with it, `bioalbert evaluate` and the
demo score benchmarks with it, and `bioalbert.inference.Tagger` tags raw text with it.
"""

import contextlib
import functools
import warnings

import numpy as np
import torch
from transformers import DataCollatorForTokenClassification
from transformers.utils import logging as hf_logging

from bioalbert.modeling.loading import load_ner_model
from bioalbert.modeling.pipeline_bioalbert import decode_iob2

from .windows import encode, sentence_scores, window_length_defaults

DECODING = "iob2-viterbi"  # recorded with every score; runs scored before it (per-word argmax) are rescored on resume


@contextlib.contextmanager
def no_progress_bars():
    """transformers' "Loading weights" bar, off while a model loads: a command loads its model once, and a bar for a
    sub-second step reads as trouble."""
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_model(path: str, device: str | None = None, quantize: bool = False, compile: bool = False,
               trust_remote_code: bool = False):
    """(tokenizer, model) of a fine-tuned folder or Hub id in eval mode on `device` (default: CUDA if there is
    one), loaded once per process and options: evaluation, the demo and the tagger share it."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return _load_model(str(path), device, quantize, compile, trust_remote_code)


@functools.lru_cache(maxsize=8)
def _load_model(path: str, device: str, quantize: bool, compile: bool, trust_remote_code: bool):
    with no_progress_bars():
        tokenizer, model = load_ner_model(path, trust_remote_code=trust_remote_code)
    model.eval().to(device)
    if quantize:
        with warnings.catch_warnings():  # torch.ao is deprecated in favour of torchao, which is not installed here
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if compile:
        model = torch.compile(model, dynamic=True)
    return tokenizer, model


def model_labels(model) -> list[str]:
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


@torch.inference_mode()
def predict_scores(model, tokenizer, sentences: list[list[str]], batch_size: int = 32, max_length: int | None = None,
                   stride: int | None = None) -> list[np.ndarray]:
    """(words, labels) log-probabilities of every sentence over the model's `id2label` tags, each word's from its
    first piece in the window where it has the most context (`bioalbert.ner.windows`)."""
    max_length, stride = window_length_defaults(model, max_length, stride)
    windows, features, positions = encode(tokenizer, sentences, max_length, stride)
    collator = DataCollatorForTokenClassification(tokenizer)
    model.eval()
    device = next(model.parameters()).device
    window_scores = [None] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: len(features[i]["input_ids"]))  # similar lengths: less padding
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        inputs = collator([features[i] for i in batch]).to(device)
        log_probs = model(**inputs).logits.float().log_softmax(-1).cpu().numpy()
        for i, row in zip(batch, log_probs):
            window_scores[i] = row[positions[i]]
    return sentence_scores(windows, window_scores, [len(words) for words in sentences], model.config.num_labels)


def decode_tags(sentence_scores: list[np.ndarray], labels: list[str]) -> list[list[str]]:
    """Tags of every word from each sentence's (words, labels) log-probabilities: one IOB2-constrained decoding per
    sentence (`decode_iob2`)."""
    return [[labels[i] for i in decode_iob2(scores, labels)] for scores in sentence_scores]


def predict_words(model, tokenizer, sentences: list[list[str]], batch_size: int = 32, max_length: int | None = None,
                  stride: int | None = None) -> list[list[str]]:
    """Tags every word of every sentence with the model's `id2label` tags, decoded per sentence."""
    return decode_tags(predict_scores(model, tokenizer, sentences, batch_size, max_length, stride), model_labels(model))
