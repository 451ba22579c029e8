"""`bioalbert evaluate` and `bioalbert demo`: scores of a saved model on a benchmark, and a quiet first run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tagging_fixtures import read_conll  # noqa: E402

BIOALBERT = [sys.executable, "-m", "bioalbert.cli"]
NOISE = ("Loading weights", "Token indices sequence length is longer than the specified maximum sequence length")


def small_benchmark(data_dir: Path, folder: Path, name: str = "ncbi_disease", sentences: int = 12) -> Path:
    """The first sentences of each split of a benchmark, the test split with one sentence longer than the model."""
    target = folder / "bioner" / name
    target.mkdir(parents=True)
    for split in ("train", "devel", "test"):
        rows = read_conll(data_dir / "bioner" / name / f"{split}.tsv", max_sentences=sentences)
        if split == "test":
            rows.append((["cancer", "in", "mice", "."] * 150, ["B-Disease", "O", "O", "O"] * 150))  # 600 words
        text = "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, tags)) for words, tags in rows)
        (target / f"{split}.tsv").write_text(text + "\n", encoding="utf-8")
    return folder


@pytest.mark.slow  # three commands end to end, the demo scoring a benchmark
def test_demo_evaluate_and_tag_print_no_loading_bar_and_no_length_warning(data_dir, tmp_path):
    """The commands a newcomer runs first load the model once, quietly, and window a sentence longer than the model
    without the tokenizer's warning that it is too long; the demo shows one progress bar for its scoring."""
    data = small_benchmark(data_dir, tmp_path / "data")
    env = {**os.environ, "BIOALBERT_DATA": str(data)}
    long_text = tmp_path / "long.txt"
    long_text.write_text(" ".join(["Breast cancer in BRCA1 carriers and mice"] * 120) + ".\n", encoding="utf-8")
    commands = {
        "demo": ["demo", "--datasets", "ncbi_disease", "--results-dir", str(tmp_path / "demo")],
        "evaluate": ["evaluate", "--model", "models/bioalbert-tiny-ner", "--dataset", "ncbi_disease",
                     "--results-dir", str(tmp_path / "evaluated")],
        "tag": ["tag", str(long_text)],
    }
    repo = Path(__file__).resolve().parents[1]
    for name, argv in commands.items():
        done = subprocess.run(BIOALBERT + argv, capture_output=True, text=True, env=env, cwd=repo, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        for noise in NOISE:
            assert noise not in done.stdout + done.stderr, f"bioalbert {name} printed {noise!r}:\n{done.stderr[-2000:]}"
        if name == "demo":
            assert done.stderr.count("Scoring the test sets") >= 1 and "| ncbi_disease |" in done.stdout
        if name == "tag":
            assert '"label": "Disease"' in done.stdout


def test_demo_sets_the_folders_seed_beside_its_recorded_score():
    from bioalbert.training.demo import f1

    # A results file gives the mean over seeds; the model folder holds the best seed's weights (best_seed).
    record = {"entity": {"f1": 0.70}, "runs": [{"seed": 13, "entity_f1": 0.69}, {"seed": 42, "entity_f1": 0.71}]}
    assert f1(record, 42) == "71.00" and f1(record, 13) == "69.00"
    assert f1(record, None) == "70.00" and f1(record, 87) == "70.00" and f1(None, 42) == "–"


def test_demo_refuses_a_model_that_is_not_all_types_in_one_line(micro_pretrained_dir, capsys):
    from bioalbert.training.demo import main as demo_main

    assert demo_main(["--model", str(micro_pretrained_dir)]) == 2
    assert "not an all-types model" in capsys.readouterr().err
