"""The biomedical tokenizer: training, saving/loading, exact offsets, casing, bad input."""

import gzip

import pytest
from transformers import AutoTokenizer

from bioalbert.training.tokenizer import (
    load_tokenizer,
    main,
    pieces_per_word,
    read_lines,
    train_tokenizer,
    without_lone_metaspace,
)

TRICKY_TEXTS = [
    "IL-2 (α-chain) and TNF-α",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n  and   runs of spaces",
    "β2-microglobulin, Ca2+/calmodulin; 5'-UTR [3H]thymidine ≥ 10 µM ζζζ ☃☃",
    "p53-/- mice (n=12) vs. wild-type: P<0.001",
]


def test_saved_tokenizer_loads_with_auto_tokenizer_and_round_trips(tokenizer_dir, tokenizer):
    reloaded = AutoTokenizer.from_pretrained(tokenizer_dir)
    text = "Mutations in BRCA1 cause hereditary breast cancer."
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert reloaded.decode(reloaded(text)["input_ids"], skip_special_tokens=True) == text
    assert reloaded.model_max_length == 512


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_every_offset_points_at_the_characters_of_its_piece(tokenizer, text):
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    pieces = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    previous_end = 0
    for piece, (start, end), token_id in zip(pieces, encoding["offset_mapping"], encoding["input_ids"]):
        assert end > start, f"empty span for {piece!r}"
        assert start >= previous_end, f"{piece!r} overlaps the piece before it"
        if token_id != tokenizer.unk_token_id:
            assert text[start:end] == piece.lstrip("▁"), (piece, text[start:end])
        previous_end = end
    # Every non-space character is covered by exactly one piece.
    covered = {i for start, end in encoding["offset_mapping"] for i in range(start, end)}
    assert covered == {i for i, char in enumerate(text) if not char.isspace()}


def test_no_lone_metaspace_piece_in_vocabulary(tokenizer):
    assert "▁" not in tokenizer.get_vocab()


def test_without_lone_metaspace_adds_prefixed_single_characters():
    vocab = [("<unk>", 0.0), ("▁", -2.0), ("a", -3.0), ("▁a", -4.0), ("b", -5.0)]
    assert without_lone_metaspace(vocab) == [("<unk>", 0.0), ("a", -3.0), ("▁a", -4.0), ("b", -5.0), ("▁b", -7.0)]


def test_cased_by_default_and_lowercase_on_request(tokenizer):
    assert tokenizer.tokenize("BRCA1") != tokenizer.tokenize("brca1")
    lines = ["The BRCA1 gene and the Brca1 gene.", "TNF and tnf levels."] * 50
    uncased = train_tokenizer(lines, vocab_size=60, lowercase=True)
    assert uncased.tokenize("BRCA1 TNF") == uncased.tokenize("brca1 tnf")


def test_frequent_biomedical_words_are_single_pieces(tokenizer):
    assert pieces_per_word(tokenizer, ["breast", "cancer", "patients", "protein", "expression"]) == 1.0
    assert pieces_per_word(tokenizer, ["qxzvkw", "zzqjx"]) > 2.0


def test_missing_corpus_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        list(read_lines([tmp_path / "nope.txt"]))


def test_empty_corpus_file_is_named(tmp_path):
    empty = tmp_path / "empty.txt.gz"
    with gzip.open(empty, "wt"):
        pass
    with pytest.raises(ValueError, match="empty.*empty.txt.gz"):
        main(["--corpus", str(empty), "--output-dir", str(tmp_path / "out")])
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n")
    with pytest.raises(ValueError, match="empty.*blank.txt"):
        main(["--corpus", str(blank), "--output-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_folder_without_tokenizer_is_an_error_not_an_empty_tokenizer(micro_pretrained_dir, tmp_path):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((micro_pretrained_dir / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="holds no tokenizer"):
        load_tokenizer(tmp_path)
    assert len(load_tokenizer(micro_pretrained_dir)) > 1000


def test_cli_trains_and_saves(tmp_path, data_dir):
    corpus = data_dir / "corpus" / "pubmedqa_pqal_abstracts.txt.gz"
    assert main(["--corpus", str(corpus), "--output-dir", str(tmp_path), "--vocab-size", "500", "--max-lines", "800"]) == 0
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert 500 <= len(tokenizer) < 800  # the requested size plus "▁c" pieces for single characters
    assert tokenizer.do_lower_case is False
