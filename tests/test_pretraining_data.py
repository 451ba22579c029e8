"""Pretraining data: documents -> sentence-order pairs packed to max_seq_length, and the n-gram masking collator,
on real corpus text with the real tokenizer."""

import gzip
import itertools
import random

import pytest
import torch

from bioalbert.training.pretraining_data import (
    METASPACE,
    NgramMaskingCollator,
    build_pretraining_dataset,
    load_documents,
    sop_examples_from_document,
)

MAX_LEN = 64


def first_documents(path, n):
    """The first `n` documents (lists of sentence lines) of a corpus file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        text = handle.read(400_000)
    return [doc.split("\n") for doc in text.split("\n\n")[:n]]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, data_dir):
    """A small .gz corpus in the shared format: 60 real abstracts, blank line between documents."""
    docs = first_documents(data_dir / "corpus" / "pubmed_ohsumed_textgcn.txt.gz", 60)
    path = tmp_path_factory.mktemp("corpus") / "abstracts.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n\n".join("\n".join(doc) for doc in docs) + "\n")
    return path


@pytest.fixture(scope="module")
def examples(corpus_file, tokenizer, tmp_path_factory):
    documents = load_documents([corpus_file], cache_dir=str(tmp_path_factory.mktemp("hf-cache")))
    return build_pretraining_dataset(documents, tokenizer, max_seq_length=MAX_LEN, seed=1)


def occurrences(haystack, needle):
    return [i for i in range(len(haystack) - len(needle) + 1) if haystack[i : i + len(needle)] == needle]


def test_documents_are_paragraphs(corpus_file):
    documents = load_documents([corpus_file])
    assert len(documents) == 60
    assert documents[0]["text"].startswith("Infection in total joint replacement.")
    assert documents[0]["text"].count("\n") == 4  # title + 4 sentences, one per line


def test_missing_corpus_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt.gz"):
        load_documents([tmp_path / "nope.txt.gz"])


def test_pairs_are_consecutive_segments_of_one_document_and_swapped_half_the_time(tokenizer, data_dir):
    docs = first_documents(data_dir / "corpus" / "pubmed_synergy_openalex_abstracts.txt.gz", 80)
    rng = random.Random(0)
    labels = []
    for doc in docs:
        sentences = [ids for ids in tokenizer(doc, add_special_tokens=False)["input_ids"] if ids]
        stream = list(itertools.chain.from_iterable(sentences))
        for ex in sop_examples_from_document(sentences, MAX_LEN, tokenizer.cls_token_id, tokenizer.sep_token_id, rng):
            ids, types = ex["input_ids"], ex["token_type_ids"]
            assert len(ids) == len(types) <= MAX_LEN
            assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
            first_sep = ids.index(tokenizer.sep_token_id)
            segment_a, segment_b = ids[1:first_sep], ids[first_sep + 1 : -1]
            assert segment_a and segment_b and tokenizer.sep_token_id not in segment_b
            assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
            # Both segments are contiguous runs of this document; label 1 means B comes first in the document.
            # (A phrase can recur in a document, so look at every place each segment occurs.)
            starts_a, starts_b = occurrences(stream, segment_a), occurrences(stream, segment_b)
            assert starts_a and starts_b
            if ex["sentence_order_label"]:
                assert any(b + len(segment_b) <= a for a in starts_a for b in starts_b)
            else:
                assert any(a + len(segment_a) <= b for a in starts_a for b in starts_b)
            labels.append(ex["sentence_order_label"])
    assert len(labels) > 200
    assert 0.4 < sum(labels) / len(labels) < 0.6


def test_examples_are_packed_to_the_sequence_length(examples):
    lengths = [len(ids) for ids in examples["input_ids"]]
    assert max(lengths) <= MAX_LEN
    # Only the short_seq_prob share and document tails are short: most examples fill the sequence.
    assert sum(length >= 0.9 * MAX_LEN for length in lengths) / len(lengths) > 0.75


def test_examples_do_not_depend_on_num_proc_and_are_cached(corpus_file, tokenizer, examples, tmp_path):
    documents = load_documents([corpus_file])
    cache = tmp_path / "examples"
    parallel = build_pretraining_dataset(documents, tokenizer, MAX_LEN, seed=1, num_proc=2, cache_dir=cache)
    assert parallel["input_ids"] == examples["input_ids"]
    assert parallel["sentence_order_label"] == examples["sentence_order_label"]
    cached = sorted(cache.glob("sop-*.arrow"))
    assert cached and all(str(f["filename"]).startswith(str(cache)) for f in parallel.cache_files)
    mtimes = [f.stat().st_mtime_ns for f in cache.iterdir()]
    again = build_pretraining_dataset(documents, tokenizer, MAX_LEN, seed=1, num_proc=2, cache_dir=cache)
    assert [f.stat().st_mtime_ns for f in cache.iterdir()] == mtimes  # loaded, not rebuilt
    assert again["input_ids"] == examples["input_ids"]
    other_seed = build_pretraining_dataset(documents, tokenizer, MAX_LEN, seed=2, cache_dir=cache)
    assert other_seed["sentence_order_label"] != examples["sentence_order_label"]


def masked_runs(batch, word_start):
    """Lengths, in words, of the maximal runs of masked whole words in a batch."""
    runs = []
    for labels in batch["labels"]:
        masked = (labels != -100).tolist()
        starts = word_start[labels.clamp(min=0)].tolist()
        run = 0
        for is_masked, is_start in zip(masked, starts):
            if is_masked and is_start:
                run += 1
            elif not is_masked and run:
                runs.append(run)
                run = 0
        if run:
            runs.append(run)
    return runs


def test_collator_masks_whole_word_ngrams_at_15_percent(examples, tokenizer):
    collator = NgramMaskingCollator(tokenizer, seed=0)
    features = [examples[i] for i in range(64)]
    originals = [torch.tensor(f["input_ids"]) for f in features]
    batch = collator(features)
    labels, inputs = batch["labels"], batch["input_ids"]
    assert batch["sentence_order_label"].tolist() == [f["sentence_order_label"] for f in features]
    assert batch["token_type_ids"].shape == inputs.shape

    special = torch.isin(labels, torch.tensor(tokenizer.all_special_ids))
    masked = labels != -100
    assert not (masked & (batch["attention_mask"] == 0)).any()
    assert not special.any(), "special tokens and padding are never prediction targets"
    n_maskable = sum(len(o) for o in originals) - 3 * len(originals)
    assert 0.13 < masked.sum().item() / n_maskable < 0.16
    for row, original in enumerate(originals):
        assert labels[row, : len(original)][masked[row, : len(original)]].tolist() == (
            original[masked[row, : len(original)]].tolist()
        )
        # Whole words: a masked piece that continues a word has its word's first piece masked too (unless what
        # precedes it is a special token such as [SEP] or <unk>, which is never a target).
        pieces = tokenizer.convert_ids_to_tokens(original)
        for i in range(1, len(original)):
            if masked[row, i] and not pieces[i].startswith(METASPACE) and pieces[i - 1] not in tokenizer.all_special_tokens:
                assert masked[row, i - 1], f"piece {pieces[i]!r} masked without the start of its word"


def test_collator_uses_ngram_spans(examples, tokenizer):
    features = [examples[i] for i in range(64)]
    ngram = NgramMaskingCollator(tokenizer, seed=0, max_ngram=3)
    unigram = NgramMaskingCollator(tokenizer, seed=0, max_ngram=1)
    runs_ngram = masked_runs(ngram(features), ngram.word_start)
    runs_unigram = masked_runs(unigram(features), unigram.word_start)
    # p(n) ~ 1/n over n = 1..3 gives mean span 1.64 words; unigram runs are longer than 1 only by adjacency.
    assert sum(runs_ngram) / len(runs_ngram) > 1.4
    assert sum(runs_unigram) / len(runs_unigram) < 1.25


def test_collator_replaces_80_10_10(examples, tokenizer):
    collator = NgramMaskingCollator(tokenizer, seed=0)
    features = [examples[i % len(examples)] for i in range(512)]
    originals = [f["input_ids"] for f in features]
    batch = collator(features)
    labels, inputs = batch["labels"], batch["input_ids"]
    masked = labels != -100
    as_mask = (inputs == tokenizer.mask_token_id) & masked
    kept = (inputs == labels) & masked
    n = masked.sum().item()
    assert n > 4000
    assert 0.77 < as_mask.sum().item() / n < 0.83
    assert 0.08 < kept.sum().item() / n < 0.12
    assert 0.08 < (masked & ~as_mask & ~kept).sum().item() / n < 0.12
    # Unmasked positions are untouched.
    for row, original in enumerate(originals):
        unmasked = ~masked[row, : len(original)]
        assert inputs[row, : len(original)][unmasked].tolist() == torch.tensor(original)[unmasked].tolist()


def test_masks_follow_the_example_not_the_batch(examples, tokenizer):
    """With `example_id`, an example's masks depend on (seed, epoch, id) only: not on its batch or the global RNG."""
    collator = NgramMaskingCollator(tokenizer, seed=3)

    def labels_of(ids, epoch):
        collator.epoch = epoch
        batch = collator([{**examples[i], "example_id": i} for i in ids])
        return {i: row[: len(examples[i]["input_ids"])].tolist() for i, row in zip(ids, batch["labels"])}

    alone, shuffled = labels_of([5], 0), labels_of([9, 5, 2], 0)
    torch.manual_seed(123)  # the global RNG plays no part
    assert alone[5] == shuffled[5] == labels_of([5, 7], 0)[5]
    assert labels_of([5], 1)[5] != alone[5]  # a new epoch, new masks
