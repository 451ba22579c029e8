"""The NER core's windows and scoring (bioalbert.ner.windows, .scoring): words become windows of whole words,
every word is scored once from its best window, first-piece labels, IOB2 decoding."""

import itertools

import numpy as np
import pytest
from transformers import AutoModelForTokenClassification, AutoTokenizer

from bioalbert.modeling.pipeline_bioalbert import decode_iob2
from bioalbert.ner.scoring import predict_words
from bioalbert.ner.windows import IGNORE_INDEX, encode, make_windows, stitch, word_pieces
from bioalbert.training.bioner_data import load_bioner


@pytest.fixture(scope="module")
def ncbi(data_dir):
    return load_bioner("ncbi_disease", data_dir=data_dir)


@pytest.fixture(scope="module")
def long_sentences(ncbi):
    """The 30 longest real test sentences (in pieces, they overflow a 24-piece window)."""
    test = ncbi["test"]
    order = sorted(range(len(test)), key=lambda i: -len(test[i]["tokens"]))[:30]
    return test.select(order)


def test_windows_cover_every_word_within_the_piece_budget(tokenizer, long_sentences):
    sentences = list(long_sentences["tokens"])
    counts = [[len(word) for word in sentence] for sentence in word_pieces(tokenizer, sentences)]
    windows = make_windows(counts, max_pieces=22, stride=6)
    assert len(windows) > len(sentences)  # long sentences were really split
    for window in windows:
        pieces = counts[window.sentence][window.start : window.end]
        assert sum(pieces) <= 22 or window.end - window.start == 1
    # Stitching each window's word indices back gives every word its own index: full, exact coverage.
    window_values = [list(range(w.start, w.end)) for w in windows]
    assert stitch(windows, window_values, [len(s) for s in sentences]) == [list(range(len(s))) for s in sentences]


def test_stitch_prefers_the_window_with_most_context(tokenizer):
    sentence = ["w"] * 10
    windows = make_windows([[1] * 10], max_pieces=6, stride=3)
    assert [(w.start, w.end) for w in windows] == [(0, 6), (3, 9), (6, 10)]
    # Word 5 is at the right edge of window 0 and in the middle of window 1: window 1 decides.
    tags = [[f"window{i}"] * (w.end - w.start) for i, w in enumerate(windows)]
    stitched = stitch(windows, tags, [len(sentence)])[0]
    assert stitched[5] == "window1" and stitched[0] == "window0" and stitched[9] == "window2"


def test_labels_sit_on_the_first_piece_of_each_word(tokenizer, long_sentences):
    sentences, tag_ids = list(long_sentences["tokens"]), list(long_sentences["ner_tags"])
    windows, features, positions = encode(tokenizer, sentences, max_length=24, stride=6, tag_ids=tag_ids)
    for window, feature, first_pieces in zip(windows, features, positions):
        labelled = [i for i, label in enumerate(feature["labels"]) if label != IGNORE_INDEX]
        assert labelled == first_pieces
        assert [feature["labels"][i] for i in labelled] == tag_ids[window.sentence][window.start : window.end]
        assert len(feature["input_ids"]) <= 24


def test_predict_words_tags_every_word(tokenizer, micro_pretrained_dir, long_sentences):
    labels = ["O", "B-Disease", "I-Disease"]
    model = AutoModelForTokenClassification.from_pretrained(
        micro_pretrained_dir, num_labels=3, id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)}
    )
    sentences = list(long_sentences["tokens"]) + [["a", " ", "b"], ["x" * 300]]  # a word with no piece, a huge word
    predicted = predict_words(model, tokenizer, sentences, batch_size=8, max_length=24, stride=6)
    assert [len(p) for p in predicted] == [len(s) for s in sentences]
    assert {tag for tags in predicted for tag in tags} <= set(labels)
    assert all(valid_iob2(tags) for tags in predicted)  # whatever the untrained head's argmax says
    # Windowed prediction of a short sentence equals its unwindowed prediction (one window, same input).
    short = [sentences[0][:8]]
    assert predict_words(model, tokenizer, short, 8, max_length=24) == predict_words(model, tokenizer, short, 8, 512)


def valid_iob2(tags: list[str]) -> bool:
    return all(not tag.startswith("I-") or (i > 0 and tags[i - 1] in ("B-" + tag[2:], tag))
               for i, tag in enumerate(tags))


def test_iob2_decoding_is_the_best_valid_sequence():
    labels = ["O", "B-X", "I-X", "B-Y", "I-Y"]
    # The argmax per word reads "O I-X I-X", an entity the strict metric drops; B-X is the first word's runner-up.
    probs = np.array([[0.5, 0.2, 0.3, 0, 0], [0.1, 0.1, 0.8, 0, 0], [0.2, 0.1, 0.6, 0.05, 0.05]]) + 1e-6
    assert [labels[i] for i in decode_iob2(np.log(probs), labels)] == ["B-X", "I-X", "I-X"]
    # Against every valid sequence of 4 words, on random scores: always the best one, and the argmax when valid.
    rng = np.random.default_rng(0)
    valid = [path for path in itertools.product(range(len(labels)), repeat=4) if valid_iob2([labels[i] for i in path])]
    for _ in range(40):
        log_probs = np.log(rng.dirichlet(np.full(len(labels), 0.5), size=4))
        best = max(valid, key=lambda path: sum(log_probs[word, label] for word, label in enumerate(path)))
        assert tuple(decode_iob2(log_probs, labels)) == best
        argmax = tuple(log_probs.argmax(-1))
        assert argmax not in valid or best == argmax
    assert decode_iob2(np.zeros((0, len(labels))), labels) == []
    assert decode_iob2(np.log([[0.2, 0.8]]), ["Disease", "Chemical"]) == [1]  # no IOB prefixes: no constraint


def test_words_are_tokenised_on_their_own_as_in_training(tokenizer):
    """Each word's pieces are those of the word alone ("▁IL ▁- ▁2", not "▁IL-2"), a word without pieces is <unk>,
    and the sentence's pieces in order are `is_split_into_words` tokenisation (the fine-tuning input)."""
    words = ["Ataxia", "-", "telangiectasia", "(", "A", "-", "T", ")", "IL", "-", "2", "α", "-", "synuclein", "5µm"]
    pieces = word_pieces(tokenizer, [words, ["a", "\u200b", "b"]])
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    assert [piece for word in pieces[0] for piece in word] == encoding["input_ids"]
    assert pieces[0] == [tokenizer(word, add_special_tokens=False)["input_ids"] for word in words]
    assert pieces[1][1] == [tokenizer.unk_token_id] and word_pieces(tokenizer, []) == []
    assert "▁" not in tokenizer.get_vocab()


def test_a_sentence_longer_than_the_model_is_windowed_without_the_tokenizers_length_warning(tokenizer_dir):
    """The tokenizer warns that a sequence longer than the model "will result in indexing errors"; windows make it
    fit, so the core tokenizes without that check (a tokenizer records the warning once it has given it)."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, model_max_length=64)
    sentence = ["cancer"] * 100
    windows, features, _ = encode(tokenizer, [sentence], max_length=64, stride=16)
    assert len(windows) > 1 and max(len(feature["input_ids"]) for feature in features) <= 64
    warned = "sequence-length-is-longer-than-the-specified-maximum"
    assert not tokenizer.deprecation_warnings.get(warned)
    tokenizer(sentence, is_split_into_words=True)
    assert tokenizer.deprecation_warnings.get(warned)  # the check this test watches for is the one that warns
