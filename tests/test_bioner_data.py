"""The BioNER loader on the real shared benchmarks and on malformed copies of their first sentences."""

import json
import re
from pathlib import Path

import pytest
from datasets import ClassLabel

from bioalbert.training.bioner_data import BioNERFormatError, load_bioner, read_conll

SPLIT_FILES = {"train": "train", "validation": "devel", "test": "test"}


def first_lines(path: Path, sentences: int) -> list[str]:
    """The lines of the first `sentences` sentences of a real file, blank separators included."""
    lines, seen = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            lines.append(line)
            if not line.strip():
                seen += 1
                if seen == sentences:
                    break
    return lines


@pytest.fixture
def sample_folder(tmp_path, data_dir):
    """train/devel/test with the first sentences of the real ncbi_disease files."""
    for stem in ("train", "devel", "test"):
        (tmp_path / f"{stem}.tsv").write_text("".join(first_lines(data_dir / "bioner/ncbi_disease" / f"{stem}.tsv", 20)))
    return tmp_path


def test_benchmark_matches_its_published_statistics(data_dir):
    stats = json.loads((data_dir / "bioner/stats.json").read_text())["datasets"]["bc5cdr"]
    data = load_bioner("bc5cdr", data_dir=data_dir)
    assert list(data) == ["train", "validation", "test"]
    for split, stem in SPLIT_FILES.items():
        assert len(data[split]) == stats[stem]["sentences"]
        assert sum(map(len, data[split]["tokens"])) == stats[stem]["tokens"]
        feature = data[split].features["ner_tags"].feature
        assert isinstance(feature, ClassLabel)
        begins = [feature.names[i] for tags in data[split]["ner_tags"] for i in tags if feature.names[i][:2] == "B-"]
        assert {t: begins.count("B-" + t) for t in stats[stem]["mentions_by_type"]} == stats[stem]["mentions_by_type"]
    # The same label ids in every split, O first, then B-/I- per type in sorted type order.
    assert data["train"].features == data["test"].features
    assert data["train"].features["ner_tags"].feature.names == ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


def test_tokens_and_tags_are_read_verbatim(data_dir):
    data = load_bioner("ncbi_disease", data_dir=data_dir)
    names = data["test"].features["ner_tags"].feature.names
    lines = first_lines(data_dir / "bioner/ncbi_disease/test.tsv", 1)
    expected = [line.rstrip("\n").split("\t") for line in lines if line.strip()]
    first = data["test"][0]
    assert [[token, names[tag]] for token, tag in zip(first["tokens"], first["ner_tags"])] == expected


def test_label_set_is_the_union_over_splits(tmp_path):
    (tmp_path / "train.tsv").write_text("aspirin\tB-Chemical\n\n")
    (tmp_path / "devel.tsv").write_text("cancer\tB-Disease\n\n")
    (tmp_path / "test.tsv").write_text("p53\tB-Gene\nprotein\tI-Gene\n\n")
    data = load_bioner(str(tmp_path))
    expected = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease", "B-Gene", "I-Gene"]
    for split in data.values():
        assert split.features["ner_tags"].feature.names == expected
    assert data["test"][0]["ner_tags"] == [5, 6]


def test_missing_benchmark_is_a_clear_error(data_dir):
    with pytest.raises(FileNotFoundError, match=r"bc4chemd.*not available.*bioner/bc4chemd"):
        load_bioner("bc4chemd", data_dir=data_dir)


def test_user_files_and_docstart_lines(tmp_path, sample_folder):
    lines = first_lines(sample_folder / "train.tsv", 3)
    (tmp_path / "mine.conll").write_text("-DOCSTART-\tO\n\n" + "".join(lines))
    data = load_bioner(None, train_file=str(tmp_path / "mine.conll"), test_file=str(sample_folder / "test.tsv"))
    assert list(data) == ["train", "test"]
    assert len(data["train"]) == 3 and len(data["test"]) == 20


def malformed(sample_folder: Path, line_number: int, replacement: str) -> Path:
    path = sample_folder / "train.tsv"
    lines = path.read_text().splitlines(keepends=True)
    lines[line_number - 1] = replacement
    path.write_text("".join(lines))
    return path


def first_outside_line(path: Path) -> int:
    """1-based number of the first `O` line that follows another `O` line in the same sentence."""
    lines = path.read_text().splitlines()
    return next(i + 1 for i in range(1, len(lines)) if lines[i].endswith("\tO") and lines[i - 1].endswith("\tO"))


@pytest.mark.parametrize(
    "replacement, message",
    [
        ("lonely-token\n", "expected 2 TAB-separated fields .* found 1"),
        ("token\tO\textra\n", "expected 2 TAB-separated fields .* found 3"),
        ("token\tB_Disease\n", "illegal tag 'B_Disease'"),
        ("token\tDisease\n", "illegal tag 'Disease'"),
        ("\tO\n", "empty token"),
    ],
)
def test_malformed_lines_name_file_and_line(sample_folder, replacement, message):
    path = sample_folder / "train.tsv"
    number = first_outside_line(path)
    malformed(sample_folder, number, replacement)
    with pytest.raises(BioNERFormatError, match=f"{re.escape(str(path))}:{number}: {message}"):
        load_bioner(str(sample_folder))


def test_i_after_o_is_reported_or_repaired(sample_folder):
    path = sample_folder / "train.tsv"
    number = first_outside_line(path)
    token = path.read_text().splitlines()[number - 1].split("\t")[0]
    malformed(sample_folder, number, f"{token}\tI-Disease\n")
    with pytest.raises(BioNERFormatError, match=f"{re.escape(str(path))}:{number}: I-Disease follows 'O'.*--repair-iob"):
        read_conll(path)
    repaired = read_conll(path, repair_iob=True)
    tags = [tag for sentence in repaired for tag in sentence["ner_tags"]]
    tokens = [tok for sentence in repaired for tok in sentence["tokens"]]
    original_position = sum(1 for line in path.read_text().splitlines()[: number - 1] if line.strip())
    assert tokens[original_position] == token and tags[original_position] == "B-Disease"
    assert "I-Disease" not in [tags[i] for i in range(len(tags)) if i == 0 or tags[i - 1] == "O"]


def test_i_of_another_type_is_not_iob2(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("a\tB-Chemical\nb\tI-Disease\n\n")
    with pytest.raises(BioNERFormatError, match=f"{re.escape(str(path))}:2: I-Disease follows 'B-Chemical'"):
        read_conll(path)


def test_empty_split_is_an_error(sample_folder):
    (sample_folder / "devel.tsv").write_text("\n\n")
    with pytest.raises(BioNERFormatError, match=f"{re.escape(str(sample_folder / 'devel.tsv'))}: empty split"):
        load_bioner(str(sample_folder))


def test_unknown_name_offline_says_what_was_tried(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConnectionError, match="not a known benchmark.*HF_HUB_OFFLINE.*ncbi_disease"):
        load_bioner("someone/some_ner_dataset")


def test_hub_style_dataset_with_classlabel_columns(tmp_path, monkeypatch):
    """The Hub path, fed a local parquet export (what `load_dataset` reads from a Hub repo)."""
    from datasets import Dataset, Features, List, Value

    from bioalbert.training.bioner_data import read_hub

    features = Features({"id": Value("string"), "tokens": List(Value("string")),
                         "ner_tags": List(ClassLabel(names=["O", "B-Gene", "I-Gene"]))})
    rows = {"train": [["p53", "protein"], [1, 2]], "validation": [["the", "BRCA1"], [0, 1]], "test": [["x"], [0]]}
    for split, (tokens, tags) in rows.items():
        Dataset.from_list([{"id": "0", "tokens": tokens, "ner_tags": tags}], features=features).to_parquet(
            tmp_path / f"{split}.parquet")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a local folder: nothing is fetched
    splits = read_hub(str(tmp_path), repair_iob=False)
    assert splits["train"] == [{"tokens": ["p53", "protein"], "ner_tags": ["B-Gene", "I-Gene"]}]
    assert list(splits) == ["train", "validation", "test"]

    Dataset.from_list([{"id": "0", "tokens": ["a", "b"], "ner_tags": [0, 2]}], features=features).to_parquet(
        tmp_path / "test.parquet")
    with pytest.raises(BioNERFormatError, match=r"\[test\] row 0, token 1: I-Gene follows 'O'"):
        read_hub(str(tmp_path), repair_iob=False)
