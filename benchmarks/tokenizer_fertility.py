"""Vocabulary size and pieces per word (fertility) of a tokenizer on the NCBI-disease test words.

Lower fertility means the vocabulary holds more of the domain's words whole, so a fixed max length covers more
text and the model sees fewer fragments. Prints a table and writes results/benchmarks/tokenizers/<name>.json, from
which the tokenizer table of docs/research.md is generated (`python -m bioalbert.training.report --readme
docs/research.md`).

    python benchmarks/tokenizer_fertility.py runs/tokenizer [more tokenizer folders or Hub ids]
"""

import argparse
import json
import platform
import sys
from pathlib import Path

from bioalbert.training.datadir import resolve_data_dir
from bioalbert.training.tokenizer import load_tokenizer, pieces_per_word


def ncbi_test_words(data_dir) -> list[str]:
    path = resolve_data_dir(data_dir) / "bioner" / "ncbi_disease" / "test.tsv"
    return [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokenizers", nargs="+", help="tokenizer folders or Hub ids")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results-dir", default="results/benchmarks/tokenizers")
    args = parser.parse_args(argv)
    words = ncbi_test_words(args.data_dir)
    print(f"NCBI-disease test: {len(words):,} words; python {platform.python_version()}, {platform.platform()}")
    print(f"{'tokenizer':<40} {'vocab':>7} {'cased':>6} {'pieces/word':>12} {'unk rate':>9}")
    for name in args.tokenizers:
        tokenizer = load_tokenizer(name)
        ids = [i for word_ids in tokenizer(words, add_special_tokens=False)["input_ids"] for i in word_ids]
        result = {
            "tokenizer": name,
            "vocab_size": len(tokenizer),
            "cased": not getattr(tokenizer, "do_lower_case", False),
            "pieces_per_word": round(pieces_per_word(tokenizer, words), 4),
            "unk_rate": round(ids.count(tokenizer.unk_token_id) / len(ids), 6),
            "words": len(words),
            "dataset": "ncbi_disease/test",
        }
        print(f"{name:<40} {result['vocab_size']:>7} {str(result['cased']):>6} "
              f"{result['pieces_per_word']:>12.3f} {result['unk_rate']:>9.4%}")
        out = Path(args.results_dir) / f"{Path(name).name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
