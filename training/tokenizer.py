"""Trains BioALBERT's tokenizer: an ALBERT-style SentencePiece-unigram vocabulary learnt from biomedical text,
wrapped as transformers' ALBERT tokenizer (`AutoTokenizer.from_pretrained` loads the saved folder).

    bioalbert train-tokenizer --corpus ../shared/data/corpus/pubmed_*.txt.gz --vocab-size 30000 --output-dir runs/tok

Casing: cased by default. Gene and protein symbols differ by case alone (the human gene "CAT" and the word "cat",
"PAX6" vs "Pax6" for human vs mouse), and BioNER taggers lose recall on lower-cased input; BioBERT's cased vocab
(and PubMedBERT's uncased one) show the trade-off is a choice. `--lowercase` gives the original BioALBERT behaviour.
"""

import gzip
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import HfArgumentParser
from transformers.models.albert import AlbertTokenizer

# load_tokenizer lives with the model code (inference needs it too); the training commands import it from here.
from bioalbert.modeling.loading import SPECIAL_TOKENS, load_tokenizer  # noqa: F401

from .datadir import check_text_file, resolve_data_dir

METASPACE = "▁"


def read_lines(paths: Iterable[str | Path], max_lines: int | None = None) -> Iterator[str]:
    """Yields the non-empty lines of plain or gzip text files; a missing or unreadable file fails before any work
    starts and a file without text fails naming it."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise FileNotFoundError("No corpus files given.")
    for path in paths:
        check_text_file(path)

    def lines() -> Iterator[str]:
        for path in paths:
            found_text = False
            with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        found_text = True
                        yield line
            if not found_text:
                raise ValueError(f"Corpus file is empty (no text): {path}")

    return itertools.islice(lines(), max_lines)


def without_lone_metaspace(vocab: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Removes the lone "▁" piece, adding "▁c" for every single-character piece c that lacks one.

    A lone "▁" stands for the space before a word, which is not in the text: its offset overlaps the next
    character's, so `pipeline("ner")` could emit an entity with an empty `word`. Without it every word starts with
    a "▁c..." piece (or one fused `<unk>`), and all offsets are exact. "▁c" gets the score of the two-piece path it
    replaces, so segmentations keep their relative probabilities.
    """
    scores = dict(vocab)
    space_score = scores.get(METASPACE)
    if space_score is None:
        return vocab
    added = [
        (METASPACE + piece, space_score + score)
        for piece, score in vocab
        if len(piece) == 1 and piece != METASPACE and METASPACE + piece not in scores
    ]
    return [(piece, score) for piece, score in vocab if piece != METASPACE] + added


def train_tokenizer(
    lines: Iterable[str], vocab_size: int = 30000, lowercase: bool = False, max_piece_length: int = 16
) -> AlbertTokenizer:
    """Learns a unigram vocabulary from `lines` and returns it as an ALBERT tokenizer."""
    # The same normalisation and pre-tokenisation as AlbertTokenizer, so training and use segment alike.
    backend = Tokenizer(models.Unigram())
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    backend.normalizer = normalizers.Sequence(steps + ([normalizers.Lowercase()] if lowercase else []))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>", max_piece_length=max_piece_length
    )
    backend.train_from_iterator(lines, trainer)
    vocab = [tuple(entry) for entry in json.loads(backend.to_str())["model"]["vocab"]]
    if len(vocab) <= len(SPECIAL_TOKENS):
        raise ValueError("The corpus gave no vocabulary: it holds no text.")
    # keep_accents: NFKD + accent stripping would rewrite characters such as "µ" and "é"; offsets stay exact either way.
    return AlbertTokenizer(
        vocab=without_lone_metaspace(vocab), do_lower_case=lowercase, keep_accents=True, model_max_length=512
    )


def pieces_per_word(tokenizer, words: list[str]) -> float:
    """Average number of pieces per word (fertility): lower means the vocabulary covers the domain better."""
    if not words:
        raise ValueError("pieces_per_word needs at least one word.")
    encoded = tokenizer(words, add_special_tokens=False)["input_ids"]
    return sum(len(ids) for ids in encoded) / len(words)


@dataclass
class TokenizerArguments:
    output_dir: str = field(metadata={"help": "Folder to save the tokenizer into (save_pretrained)."})
    corpus: list[str] = field(
        default_factory=list,
        metadata={"help": "Text files (plain or .gz). Default: <data-dir>/corpus/pubmed_*.txt.gz and pmc_*.txt.gz."},
    )
    data_dir: str | None = field(default=None, metadata={"help": "Data folder (else $BIOALBERT_DATA, ../shared/data)."})
    vocab_size: int = field(default=30000, metadata={"help": "Vocabulary size (ALBERT: 30000)."})
    lowercase: bool = field(default=False, metadata={"help": "Lower-case text (default: cased, see module doc)."})
    max_lines: int | None = field(default=None, metadata={"help": "Use only the first N non-empty lines."})


def default_corpus(data_dir: str | None) -> list[Path]:
    corpus_dir = resolve_data_dir(data_dir) / "corpus"
    files = sorted(corpus_dir.glob("pubmed_*.txt*")) + sorted(corpus_dir.glob("pmc_*.txt*"))
    if not files:
        raise FileNotFoundError(f"No pubmed_*/pmc_* text files in {corpus_dir}; pass --corpus FILE [FILE ...].")
    return files


def main(argv: list[str] | None = None) -> int:
    (args,) = HfArgumentParser(TokenizerArguments).parse_args_into_dataclasses(argv)
    files = args.corpus or default_corpus(args.data_dir)
    tokenizer = train_tokenizer(read_lines(files, args.max_lines), args.vocab_size, args.lowercase)
    tokenizer.save_pretrained(args.output_dir)
    print(f"Saved a {len(tokenizer)}-piece {'uncased' if args.lowercase else 'cased'} tokenizer to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
