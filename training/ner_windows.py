"""Words -> model windows -> per-word tags, without ever dropping a word.

A sentence whose pieces do not fit the model's length is cut into overlapping windows of whole words; each word
is then predicted from the window where it has the most context on both sides (as in BERT's SQuAD sliding
windows), so every input word gets exactly one tag.

Why not the tokenizer's own `return_overflowing_tokens=True, stride=...`: it cuts windows between pieces, so a
window can start in the middle of a word and the "first piece of the word" (which carries the label) is no longer
known inside that window. Cutting between words keeps label alignment trivial: the first piece of every word in a
window carries the word's label, the other pieces -100.
"""

from dataclasses import dataclass

import numpy as np
import torch
from transformers import DataCollatorForTokenClassification

from bioalbert.modeling.pipeline_bioalbert import decode_iob2

IGNORE_INDEX = -100  # the label that CrossEntropyLoss (and Trainer's metrics) skip
DECODING = "iob2-viterbi"  # recorded with every score; runs scored before it (per-word argmax) are rescored on resume


@dataclass
class Window:
    sentence: int  # index of the sentence in the input list
    start: int  # first word of the window (index in the sentence)
    end: int  # one past the last word


def piece_counts(tokenizer, sentences: list[list[str]]) -> list[list[int]]:
    """Number of pieces of every word (without special tokens)."""
    counts = []
    for words in sentences:
        encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        per_word = [0] * len(words)
        for word_id in encoding.word_ids():
            if word_id is not None:
                per_word[word_id] += 1
        counts.append(per_word)
    return counts


def model_words(tokenizer, words: list[str], counts: list[int]) -> list[str]:
    """The words as fed to the model: a word that the tokenizer turns into no piece at all (a lone control or
    zero-width character) becomes the unknown token, so that it still has a position to carry its tag."""
    return [word if count else tokenizer.unk_token for word, count in zip(words, counts)]


def make_windows(counts: list[list[int]], max_pieces: int, stride: int) -> list[Window]:
    """Cuts each sentence into windows of whole words holding at most `max_pieces` pieces; consecutive windows of
    a long sentence overlap by up to `stride` pieces of context. A single word longer than `max_pieces` gets a
    window of its own (the tokenizer truncates its tail pieces; its first piece, which carries the tag, stays)."""
    windows = []
    for sentence, per_word in enumerate(counts):
        per_word = [max(count, 1) for count in per_word]  # empty words become <unk>: 1 piece
        start = 0
        while True:
            end, total = start, 0
            while end < len(per_word) and (end == start or total + per_word[end] <= max_pieces):
                total += per_word[end]
                end += 1
            windows.append(Window(sentence, start, end))
            if end >= len(per_word):
                break
            # Step back over up to `stride` pieces of context, but always move forward by at least one word.
            next_start, overlap = end, 0
            while next_start - 1 > start and overlap + per_word[next_start - 1] <= stride:
                next_start -= 1
                overlap += per_word[next_start]
            start = next_start
    return windows


def encode_windows(
    tokenizer, sentences, windows, max_length, tag_ids=None, counts=None
) -> tuple[list[dict], list[list[int]]]:
    """Tokenizes every window; with `tag_ids` (per-sentence lists of label ids) adds `labels` on the first piece
    of each word and -100 elsewhere. Also returns, per window, the positions of the words' first pieces."""
    counts = piece_counts(tokenizer, sentences) if counts is None else counts
    features, positions = [], []
    for window in windows:
        words = model_words(tokenizer, sentences[window.sentence], counts[window.sentence])[window.start : window.end]
        encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        feature = {key: encoding[key] for key in ("input_ids", "attention_mask")}
        positions.append(first_piece_positions(encoding.word_ids()))
        if tag_ids is not None:
            tags = tag_ids[window.sentence][window.start : window.end]
            labels, previous = [], None
            for word_id in encoding.word_ids():
                labels.append(tags[word_id] if word_id is not None and word_id != previous else IGNORE_INDEX)
                previous = word_id
            feature["labels"] = labels
        features.append(feature)
    return features, positions


def first_piece_positions(word_ids: list[int | None]) -> list[int]:
    """Positions of the first piece of each word, in word order."""
    positions, previous = [], None
    for position, word_id in enumerate(word_ids):
        if word_id is not None and word_id != previous:
            positions.append(position)
        previous = word_id
    return positions


def stitch(windows: list[Window], window_tags: list[list], sentence_lengths: list[int]) -> list[list]:
    """Per-word values from per-window values (`window_tags[i][k]` is for word `windows[i].start + k`): each word
    takes the value from the window where it is farthest from an edge (ties: the earlier window)."""
    result = [[None] * length for length in sentence_lengths]
    best = [[-1] * length for length in sentence_lengths]
    for window, tags in zip(windows, window_tags):
        if len(tags) != window.end - window.start:
            raise ValueError(f"Window {window} has {len(tags)} predictions for {window.end - window.start} words")
        for offset, tag in enumerate(tags):
            word = window.start + offset
            context = min(word - window.start, window.end - 1 - word)
            if context > best[window.sentence][word]:
                best[window.sentence][word], result[window.sentence][word] = context, tag
    missing = [(s, w) for s, row in enumerate(result) for w, tag in enumerate(row) if tag is None]
    if missing:
        raise RuntimeError(f"No prediction for (sentence, word) {missing[:5]}: windows do not cover every word")
    return result


def window_length_defaults(model, tokenizer, max_length: int | None, stride: int | None) -> tuple[int, int]:
    limit = getattr(model.config, "max_position_embeddings", 512)
    max_length = min(max_length or limit, limit)
    stride = max_length // 4 if stride is None else stride
    return max_length, stride


def sentence_scores(windows: list[Window], window_scores: list[np.ndarray], sentence_lengths: list[int],
                    num_labels: int) -> list[np.ndarray]:
    """(words, labels) scores of every sentence from per-window ones (`window_scores[i]`: (words of window i,
    labels)), each word's row from its best window (`stitch`)."""
    rows = stitch(windows, window_scores, sentence_lengths)
    return [np.array(sentence).reshape(len(sentence), num_labels) for sentence in rows]


def decode_tags(sentence_scores: list[np.ndarray], labels: list[str]) -> list[list[str]]:
    """Tags of every word from each sentence's (words, labels) log-probabilities: one IOB2-constrained decoding per
    sentence."""
    return [[labels[i] for i in decode_iob2(scores, labels)] for scores in sentence_scores]


@torch.no_grad()
def predict_scores(
    model, tokenizer, sentences: list[list[str]], batch_size: int = 32, max_length: int | None = None,
    stride: int | None = None,
) -> list[np.ndarray]:
    """(words, labels) log-probabilities of every sentence over the model's `id2label` tags (windowed, each word
    from its best window)."""
    max_length, stride = window_length_defaults(model, tokenizer, max_length, stride)
    counts = piece_counts(tokenizer, sentences)
    windows = make_windows(counts, max_length - tokenizer.num_special_tokens_to_add(), stride)
    features, positions = encode_windows(tokenizer, sentences, windows, max_length, counts=counts)
    collator = DataCollatorForTokenClassification(tokenizer)
    model.eval()
    device = next(model.parameters()).device
    window_scores: list[np.ndarray | None] = [None] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: len(features[i]["input_ids"]))  # less padding
    for batch_start in range(0, len(order), batch_size):
        indices = order[batch_start : batch_start + batch_size]
        batch = collator([features[i] for i in indices]).to(device)
        log_probs = model(**batch).logits.float().log_softmax(-1).cpu().numpy()
        for i, row in zip(indices, log_probs):
            window_scores[i] = row[positions[i]]
    return sentence_scores(windows, window_scores, [len(words) for words in sentences], model.config.num_labels)


def predict_words(
    model, tokenizer, sentences: list[list[str]], batch_size: int = 32, max_length: int | None = None,
    stride: int | None = None,
) -> list[list[str]]:
    """Tags every word of every sentence with the model's `id2label` tags, decoded per sentence."""
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return decode_tags(predict_scores(model, tokenizer, sentences, batch_size, max_length, stride), labels)
