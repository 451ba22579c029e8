"""`bioalbert tag`: plain-text files in, JSONL / CoNLL / PubTator out, bad files reported one by one."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bioalbert.inference import Tagger, word_spans
from bioalbert.inference.tag import main

sys.path.insert(0, str(Path(__file__).parent))
from tagging_fixtures import one_thread, read_conll  # noqa: E402

one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


@pytest.fixture(scope="session")
def abstracts(data_dir) -> list[str]:
    """Three real abstract-sized texts (10 NCBI-disease training sentences each), with messy whitespace."""
    sentences = [" ".join(words) for words, _ in read_conll(data_dir / "bioner" / "ncbi_disease" / "train.tsv", 30)]
    texts = [" ".join(sentences[i : i + 10]) for i in range(0, 30, 10)]
    return [texts[0], texts[1].replace(" . ", " .\r\n", 3), "Title line\n" + texts[2].replace(" ", "\t", 5)]


@pytest.fixture
def files(tmp_path, abstracts) -> list[Path]:
    paths = []
    for i, text in enumerate(abstracts):
        path = tmp_path / f"doc{i}.txt"
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths


def run_main(argv, capsys) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_has_exact_offsets_per_file(ner_dir, files, abstracts, capsys):
    code, out, err = run_main(["--model", ner_dir, *files], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [str(path) for path in files]
    assert [r["text"] for r in records] == abstracts  # \r\n and tabs kept as they are
    expected = Tagger(str(ner_dir)).tag(abstracts)
    assert [r["entities"] for r in records] == [[e.to_dict() for e in doc] for doc in expected]
    assert sum(len(r["entities"]) for r in records) > 0
    for record in records:
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]


def test_lines_from_stdin_with_progress(ner_dir, abstracts, monkeypatch, capsys):
    import io

    lines = [a.replace("\r\n", " ").replace("\n", " ") for a in abstracts] * 10
    stdin = "\n".join(lines[:15]) + "\n\n   \n" + "\n".join(lines[15:]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8"))))
    code, out, err = run_main(["--model", ner_dir, "--lines", "-"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 30  # blank lines are not documents
    assert records[0]["id"] == "<stdin>:1" and records[15]["id"] == "<stdin>:18"
    assert "30doc" in err and "doc/s" in err  # the progress bar: a stream has no known total, so documents and rate


def test_conll_round_trips_through_the_benchmark_reader(ner_dir, files, abstracts, capsys, tmp_path):
    from bioalbert.training.bioner_data import read_conll as read_benchmark_file

    code, out, err = run_main(["--model", ner_dir, "--format", "conll", *files], capsys)
    assert code == 0, err
    assert out.count("-DOCSTART-") == 3
    conll = tmp_path / "tagged.tsv"
    conll.write_text(out, encoding="utf-8")
    sentences = read_benchmark_file(conll)  # validates IOB2 (an I- without its B- would raise)
    words = [w for s in sentences for w in s["tokens"]]
    assert words == [text[a:b] for text in abstracts for a, b in word_spans(text)]
    tagged = sum(tag.startswith("B-") for s in sentences for tag in s["ner_tags"])
    assert tagged == sum(len(doc) for doc in Tagger(str(ner_dir)).tag(abstracts))


def test_pubtator_offsets_index_title_and_abstract(ner_dir, files, capsys):
    code, out, err = run_main(["--model", ner_dir, "--format", "pubtator", *files], capsys)
    assert code == 0, err
    documents = [block.splitlines() for block in out.strip("\n").split("\n\n")]
    assert len(documents) == 3
    annotations = 0
    for lines in documents:
        doc_id, _, title = lines[0].partition("|t|")
        assert lines[1].startswith(f"{doc_id}|a|") and "|" not in doc_id
        full = title + " " + lines[1].partition("|a|")[2]
        for line in lines[2:]:
            fields = line.split("\t")
            # The sixth column (identifier) is "-", never empty; the seventh names the model.
            assert len(fields) == 7 and fields[0] == doc_id and fields[4] == "Disease"
            assert fields[5] == "-" and fields[6] == ner_dir.name
            assert full[int(fields[1]) : int(fields[2])] == fields[3]
            annotations += 1
    assert annotations > 0


def test_bad_files_are_reported_and_the_others_tagged(ner_dir, files, tmp_path, capsys):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Fièvre\nméditerranéenne familiale".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    missing = tmp_path / "missing.txt"
    code, out, err = run_main(["--model", ner_dir, files[0], latin1, empty, junk, missing, files[1]], capsys)
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == [str(files[0]), str(files[1])]
    assert f"{latin1}: not UTF-8 (byte 0xe8 at line 1, column 3)" in err
    assert f"{empty}: empty file" in err
    assert f"{junk}: binary file" in err
    assert f"{missing}: cannot read" in err
    assert "4 of 6 inputs could not be read" in err


def test_missing_model_folder_is_named(tmp_path, files, ner_dir, capsys):
    code, out, err = run_main(["--model", tmp_path / "no-such-model", files[0]], capsys)
    assert code == 2 and out == ""
    assert f"Model folder not found: {tmp_path / 'no-such-model'}" in err
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(ner_dir / "config.json", partial)
    code, _, err = run_main(["--model", partial, files[0]], capsys)
    assert code == 2 and "is missing: model weights (*.safetensors), tokenizer (tokenizer.json)" in err


def test_several_models_give_one_result_per_document(ner_dir, files, tmp_path, capsys):
    chemical = tmp_path / "chemical"
    shutil.copytree(ner_dir, chemical)
    config = json.loads((chemical / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-Chemical", "2": "I-Chemical"}
    config["label2id"] = {"O": 0, "B-Chemical": 1, "I-Chemical": 2}
    (chemical / "config.json").write_text(json.dumps(config))
    code, out, err = run_main(["--model", chemical, "--model", ner_dir, *files], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    # Identical weights: every overlap is a tie, which the model given first wins.
    assert {e["label"] for r in records for e in r["entities"]} == {"Chemical"}
    code, out, _ = run_main(["--model", chemical, "--model", ner_dir, "--keep-overlaps", *files], capsys)
    kept = [json.loads(line) for line in out.splitlines()]
    assert {e["label"] for r in kept for e in r["entities"]} == {"Chemical", "Disease"}


@pytest.mark.slow
def test_console_script_end_to_end(ner_dir, files):
    """The installed `bioalbert` command, in its own process."""
    bioalbert = Path(sys.executable).with_name("bioalbert")
    done = subprocess.run(
        [str(bioalbert), "tag", "--model", str(ner_dir), "--format", "pubtator", str(files[2])],
        capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{files[2]}|t|Title line\n")
    assert "Loading weights" not in done.stderr, done.stderr  # one document, one model: nothing to report


def test_tag_function_keeps_its_name_next_to_the_command_module():
    """`bioalbert.inference.tag` is both the CLI module and the function: the function must win the attribute."""
    import importlib

    import bioalbert.inference

    command = importlib.import_module("bioalbert.inference.tag")  # what `bioalbert tag` does
    assert command.main is main and callable(bioalbert.inference.tag) and bioalbert.inference.tag.__module__.endswith("tagger")
