"""Words -> model windows -> per-word values, without ever dropping a word.

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

IGNORE_INDEX = -100  # the label that CrossEntropyLoss (and Trainer's metrics) skip


@dataclass
class Window:
    sentence: int  # index of the sentence in the input list
    start: int  # first word of the window (index in the sentence)
    end: int  # one past the last word


def word_pieces(tokenizer, sentences: list[list[str]]) -> list[list[list[int]]]:
    """Piece ids of every word of every sentence, each word tokenised on its own (`is_split_into_words`, as the
    models are fine-tuned: "▁IL ▁- ▁2"). A word that becomes no piece at all (a lone control or zero-width
    character) is the unknown token, so that it still has a position to carry its tag."""
    if not sentences:
        return []
    # verbose=False: a sentence longer than the model is windowed below, so the tokenizer's warning that it is too
    # long for the model does not apply.
    encoding = tokenizer(sentences, is_split_into_words=True, add_special_tokens=False, verbose=False)
    pieces = []
    for i, words in enumerate(sentences):
        per_word = [[] for _ in words]
        for piece, word in zip(encoding["input_ids"][i], encoding.word_ids(i)):
            per_word[word].append(piece)
        pieces.append([word or [tokenizer.unk_token_id] for word in per_word])
    return pieces


def make_windows(counts: list[list[int]], max_pieces: int, stride: int) -> list[Window]:
    """Cuts each sentence (`counts`: pieces per word) into windows of whole words holding at most `max_pieces`
    pieces; consecutive windows of a long sentence overlap by up to `stride` pieces of context. A single word
    longer than `max_pieces` gets a window of its own (its tail pieces are cut; its first piece, which carries the
    tag, stays)."""
    windows = []
    for sentence, per_word in enumerate(counts):
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


def encode(tokenizer, sentences: list[list[str]], max_length: int, stride: int, tag_ids=None):
    """(windows, features, positions) of `sentences` cut into windows of at most `max_length` pieces ([CLS] and
    [SEP] included): per window, `input_ids` and `attention_mask`, with `tag_ids` (per-sentence lists of label ids)
    also `labels` on the first piece of each word and -100 elsewhere, and the positions of the words' first pieces."""
    budget = max_length - tokenizer.num_special_tokens_to_add()
    pieces = word_pieces(tokenizer, sentences)
    windows = make_windows([[len(word) for word in sentence] for sentence in pieces], budget, stride)
    features, positions = [], []
    for window in windows:
        ids, first, labels = [tokenizer.cls_token_id], [], [IGNORE_INDEX]
        for word in range(window.start, window.end):
            word_ids = pieces[window.sentence][word][:budget]  # only a word alone in its window can be too long
            first.append(len(ids))
            ids += word_ids
            if tag_ids is not None:
                labels += [tag_ids[window.sentence][word]] + [IGNORE_INDEX] * (len(word_ids) - 1)
        ids.append(tokenizer.sep_token_id)
        feature = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if tag_ids is not None:
            feature["labels"] = labels + [IGNORE_INDEX]
        features.append(feature)
        positions.append(first)
    return windows, features, positions


def stitch(windows: list[Window], window_values: list[list], sentence_lengths: list[int]) -> list[list]:
    """Per-word values from per-window values (`window_values[i][k]` is for word `windows[i].start + k`): each word
    takes the value from the window where it is farthest from an edge (ties: the earlier window)."""
    result = [[None] * length for length in sentence_lengths]
    best = [[-1] * length for length in sentence_lengths]
    for window, values in zip(windows, window_values):
        if len(values) != window.end - window.start:
            raise ValueError(f"Window {window} has {len(values)} predictions for {window.end - window.start} words")
        for offset, value in enumerate(values):
            word = window.start + offset
            context = min(word - window.start, window.end - 1 - word)
            if context > best[window.sentence][word]:
                best[window.sentence][word], result[window.sentence][word] = context, value
    missing = [(s, w) for s, row in enumerate(result) for w, value in enumerate(row) if value is None]
    if missing:
        raise RuntimeError(f"No prediction for (sentence, word) {missing[:5]}: windows do not cover every word")
    return result


def sentence_scores(windows: list[Window], window_scores: list[np.ndarray], sentence_lengths: list[int],
                    num_labels: int) -> list[np.ndarray]:
    """(words, labels) scores of every sentence from per-window ones (`window_scores[i]`: (words of window i,
    labels)), each word's row from its best window (`stitch`)."""
    rows = stitch(windows, window_scores, sentence_lengths)
    return [np.array(sentence).reshape(len(sentence), num_labels) for sentence in rows]


def window_length_defaults(model, max_length: int | None, stride: int | None) -> tuple[int, int]:
    """Pieces per window (at most the model's positions) and pieces shared by consecutive windows (a quarter)."""
    limit = getattr(model.config, "max_position_embeddings", 512)
    max_length = min(max_length or limit, limit)
    return max_length, max_length // 4 if stride is None else stride
