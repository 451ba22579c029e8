"""The `bioalbert` command dispatches to every job's module."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bioalbert.cli import COMMANDS, TRACEBACK_VAR, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_main(command):
    module = importlib.import_module(COMMANDS[command][0])
    assert callable(module.main), f"{COMMANDS[command][0]} has no main(argv)"


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    printed = capsys.readouterr().out
    assert all(command in printed for command in COMMANDS)


def test_unknown_command_exits_2_and_names_it(capsys):
    assert main(["pretrian"]) == 2
    assert "'pretrian'" in capsys.readouterr().err


def test_console_script_runs_a_subcommand_help():
    completed = subprocess.run([sys.executable, "-m", "bioalbert.cli", "finetune", "--help"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "--dataset" in completed.stdout and "--seeds" in completed.stdout


# ------------------------------------------------------------------------------------------- bad input, one line


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tokenizer_dir, micro_pretrained_dir) -> dict[str, Path]:
    """Bad (and a few good) inputs, by name: files of the wrong kind, a tokenizer-only folder, a pretrained model,
    and a randomly initialised NER model (a real fine-tuned folder's layout and labels)."""
    from bioalbert.modeling import BioAlbertConfig, BioAlbertForTokenClassification

    root = tmp_path_factory.mktemp("bad-input")
    files = {
        "missing": root / "no-such-file.txt",
        "empty": root / "empty.txt",
        "latin1": root / "latin1.txt",
        "not_gzip": root / "corpus.txt.gz",
        "empty_folder": root / "empty-folder",
        "train": root / "train.tsv",
        "foo_tags": root / "foo.tsv",
    }
    files["empty"].write_text("")
    files["latin1"].write_bytes("Ménière's disease\tB-Disease\n".encode("latin-1"))
    files["not_gzip"].write_text("plain text named .gz\n")
    files["empty_folder"].mkdir()
    files["train"].write_text("Ataxia\tB-Disease\n-\tI-Disease\ntelangiectasia\tI-Disease\nis\tO\nrare\tO\n")
    files["foo_tags"].write_text("Ataxia\tB-Foo\nis\tO\n")
    labels = ["O", "B-Disease", "I-Disease"]
    config = BioAlbertConfig.from_pretrained(micro_pretrained_dir, num_labels=3, id2label=dict(enumerate(labels)),
                                             label2id={label: i for i, label in enumerate(labels)})
    ner = root / "random-ner"
    BioAlbertForTokenClassification(config).save_pretrained(ner)
    shutil.copy(tokenizer_dir / "tokenizer.json", ner)
    shutil.copy(tokenizer_dir / "tokenizer_config.json", ner)
    return {**files, "tokenizer": tokenizer_dir, "pretrained": micro_pretrained_dir, "ner": ner, "out": root / "out"}


FINETUNE = ["--num-train-epochs", "1", "--report-to", "none", "--seeds", "1", "--output-dir", "{out}"]
BAD_INPUT = {  # case -> (argv with {input} names, what the one line says)
    "tokenizer-corpus-missing": ("train-tokenizer --output-dir {out} --corpus {missing}", "Corpus file not found: {missing}"),
    "tokenizer-corpus-empty": ("train-tokenizer --output-dir {out} --corpus {empty}", "Corpus file is empty (no text): {empty}"),
    "tokenizer-corpus-latin1": ("train-tokenizer --output-dir {out} --corpus {latin1}", "Corpus file {latin1} is not UTF-8 text (byte 0xe9"),
    "tokenizer-corpus-not-gzip": ("train-tokenizer --output-dir {out} --corpus {not_gzip}", "Corpus file {not_gzip} cannot be read: Not a gzipped file"),
    "init-model-missing-folder": ("init-model --output-dir {out} --tokenizer {missing}", "Folder not found: {missing}"),
    "init-model-no-tokenizer": ("init-model --output-dir {out} --tokenizer {empty_folder}", "{empty_folder} holds no tokenizer"),
    "init-model-unknown-preset": ("init-model --output-dir {out} --tokenizer {tokenizer} --preset huge", "Unknown BioALBERT preset 'huge'"),
    "pretrain-unknown-variant": ("pretrain --output_dir {out} --variant huge-pubmed", "Unknown pretraining variant 'huge-pubmed'"),
    "pretrain-corpus-not-gzip": ("pretrain --output_dir {out} --tokenizer {tokenizer} --corpus {not_gzip}", "Corpus file {not_gzip} cannot be read"),
    "finetune-missing-model": ("finetune --model {missing} --dataset ncbi_disease", "Folder not found: {missing}"),
    "finetune-tokenizer-only": ("finetune --model {tokenizer} --dataset ncbi_disease", "Unrecognized model in {tokenizer}"),
    "finetune-unknown-dataset": ("finetune --model {pretrained} --dataset ncbi-disease", "'ncbi-disease' is not a known benchmark"),
    "finetune-no-validation": ("finetune --model {pretrained} --train-file {train} --test-file {train}", "Fine-tuning needs a validation split; the data has only ['train', 'test']"),
    "finetune-empty-file": ("finetune --model {pretrained} --train-file {empty} --validation-file {train}", "{empty}: empty split (no sentences)"),
    "finetune-latin1": ("finetune --model {pretrained} --train-file {latin1} --validation-file {train}", "{latin1}:1: not UTF-8 text (byte 0xe9)"),
    "evaluate-missing-model": ("evaluate --model {missing} --test-file {train}", "Model folder not found: {missing}"),
    "evaluate-tokenizer-only": ("evaluate --model {tokenizer} --test-file {train}", "Model folder {tokenizer} is missing: config.json"),
    "evaluate-pretrained-model": ("evaluate --model {pretrained} --test-file {train}", "{pretrained}: config.json has no id2label names"),
    "evaluate-unknown-tags": ("evaluate --model {ner} --test-file {foo_tags}", "{foo_tags} has tags the model {ner} does not know: ['B-Foo']"),
    "evaluate-no-data": ("evaluate --model {ner}", "pass --dataset NAME|PATH or --test-file FILE"),
    "tag-missing-model": ("tag --model {missing} {train}", "Model folder not found: {missing}"),
    "tag-pretrained-model": ("tag --model {pretrained} {train}", "{pretrained}: config.json has no id2label names"),
    "release-missing-model": ("release stage --model {missing} --variant bioalbert-tiny-pubmed --out {out}", "Model folder not found: {missing}"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_naming_it_and_exit_status_2(case, inputs, capsys):
    argv, expected = BAD_INPUT[case]
    argv = [part.format(**inputs) for part in argv.split()]
    if argv[0] == "finetune":
        argv += [part.format(**inputs) for part in FINETUNE]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    reported = [line for line in err.splitlines() if line.startswith("bioalbert ")]
    assert len(reported) == 1 and reported[0].startswith(f"bioalbert {argv[0]}"), err[-2000:]
    assert expected.format(**inputs) in reported[0]


def test_the_console_script_reports_bad_input_without_a_traceback(inputs):
    """The issue's case, as a user runs it: evaluating on data whose tags the model does not know."""
    done = subprocess.run([Path(sys.executable).parent / "bioalbert", "evaluate", "--model", str(inputs["ner"]),
                           "--test-file", str(inputs["foo_tags"])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"bioalbert evaluate: error: {inputs['foo_tags']} has tags")


def test_the_traceback_variable_shows_the_error_itself(inputs, monkeypatch):
    monkeypatch.setenv(TRACEBACK_VAR, "1")
    with pytest.raises(FileNotFoundError, match="Folder not found"):
        main(["init-model", "--tokenizer", str(inputs["missing"]), "--output-dir", str(inputs["out"])])
