"""The Gradio demo Space: a real server on 127.0.0.1 queried with gradio_client, the staged Space folder run without
the repository, and the Space metadata. The browser test is test_space_browser.py; latency is measured by
benchmarks/space_load.py, not here."""

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client
from huggingface_hub import SpaceCard

sys.path.insert(0, str(Path(__file__).parent))
from space_fixtures import app, chem_dir, demo_url, free_port  # noqa: E402,F401
from tagging_fixtures import read_conll  # noqa: E402

from bioalbert.hub import isolated  # noqa: E402
from bioalbert.hub.space import (  # noqa: E402
    LOCK_FILE, SPACE_SOURCE, SpaceError, locked_versions, pinned_space_files, stage, vendored_modules,
)
from bioalbert.inference import Tagger  # noqa: E402


@pytest.fixture(scope="module")
def abstract(data_dir) -> str:
    """Ten NCBI-disease training sentences: text the micro model has learnt to find diseases in."""
    sentences = read_conll(data_dir / "bioner" / "ncbi_disease" / "train.tsv", max_sentences=10)
    return " ".join(" ".join(words) for words, _ in sentences)


@pytest.fixture(scope="module")
def client(demo_url) -> Client:
    return Client(demo_url, verbose=False)


def rows_of(table: dict) -> list[tuple]:
    return [tuple(row) for row in table["data"]]


def expected_rows(paths: list[Path], names: list[str], text: str) -> list[tuple]:
    """What the tagging API itself returns for `text`, as table rows."""
    by_path = dict(zip(map(str, paths), names))
    entities = Tagger([str(path) for path in paths]).tag([text])[0]
    return [(e.text, e.label, e.start, e.end, e.score, by_path[e.model]) for e in entities]


def test_tagging_returns_the_apis_entities_with_exact_offsets(client, abstract, ner_dir):
    highlighted, table, files, note = client.predict(abstract, ["micro-ncbi"], api_name="/tag")
    rows = rows_of(table)
    assert rows, "the fine-tuned micro model finds no disease in its own training sentences"
    assert table["headers"] == ["text", "type", "start", "end", "score", "model"]
    assert rows == expected_rows([ner_dir], ["micro-ncbi"], abstract)
    for text, label, start, end, score, model in rows:
        assert abstract[start:end] == text and label == "Disease" and 0 < score <= 1 and model == "micro-ncbi"
    # The highlighted text is the whole input, with exactly the table's spans labelled.
    assert "".join(span["token"] for span in highlighted) == abstract
    position, labelled = 0, []
    for span in highlighted:
        if span["class_or_confidence"]:
            labelled.append((position, position + len(span["token"]), span["class_or_confidence"]))
        position += len(span["token"])
    assert labelled == [(start, end, label) for _, label, start, end, _, _ in rows]
    # Downloads: JSON with the text and entity records, CSV with the table's rows.
    json_path, csv_path = sorted(files, key=lambda path: Path(path).suffix != ".json")
    record = json.loads(Path(json_path).read_text(encoding="utf-8"))
    assert record["text"] == abstract and record["models"] == [str(ner_dir)]
    assert [(e["text"], e["label"], e["start"], e["end"], e["score"]) for e in record["entities"]] == [r[:5] for r in rows]
    with open(csv_path, encoding="utf-8", newline="") as handle:
        csv_rows = list(csv.reader(handle))
    assert csv_rows[0] == table["headers"]
    assert [(r[0], r[1], int(r[2]), int(r[3]), float(r[4])) for r in csv_rows[1:]] == [r[:5] for r in rows]
    assert f"{len(rows)} entities" in note and "micro-ncbi" in note and " s**" in note


def test_several_models_are_merged_as_the_tagging_api_merges_them(client, abstract, ner_dir, chem_dir):
    # Same weights, two type names: every mention clashes and the tie goes to the model chosen first.
    for names, paths in ((["micro-chem", "micro-ncbi"], [chem_dir, ner_dir]), (["micro-ncbi", "micro-chem"], [ner_dir, chem_dir])):
        _, table, _, note = client.predict(abstract, names, api_name="/tag")
        assert rows_of(table) == expected_rows(paths, names, abstract)
        assert {row[1] for row in rows_of(table)} == {"Chemical" if names[0] == "micro-chem" else "Disease"}
        assert "merged" in note


@pytest.mark.parametrize(
    "text, models, message",
    [
        ("", ["micro-ncbi"], "The text box is empty"),
        (" \n\t  \n", ["micro-ncbi"], "The text box is empty"),
        ("Ataxia " * 7_143, ["micro-ncbi"], "The text has 50,001 characters; this demo tags at most 50,000"),
        ("Ataxia-telangiectasia.", ["micro-ncbi", "biobert-disease"], "Unknown model 'biobert-disease'. Available: micro-ncbi, micro-chem"),
        ("Ataxia-telangiectasia.", [], "No model chosen"),
    ],
    ids=["empty", "whitespace", "over-cap", "unknown-model", "no-model"],
)
def test_bad_input_gets_a_friendly_message(client, text, models, message):
    started = time.perf_counter()
    highlighted, table, files, note = client.predict(text, models, api_name="/tag")
    assert note.startswith("⚠️ ") and message in note
    assert "Traceback" not in note and 'File "' not in note
    assert highlighted is None and table["data"] == [] and files is None
    assert time.perf_counter() - started < 60  # answered, not stuck (a loose bound: this is no timing test)


def test_twenty_concurrent_requests_all_succeed(client, abstract):
    """More requests than the queue's concurrency limit at once: all are answered, each with the right entities."""
    texts = [abstract[i * 37 :] for i in range(20)]  # different texts, so no answer can be another's
    jobs = [client.submit(text, ["micro-ncbi", "micro-chem"], api_name="/tag") for text in texts]
    results = [job.result(timeout=300) for job in jobs]
    for text, (highlighted, table, _, note) in zip(texts, results):
        assert "".join(span["token"] for span in highlighted) == text
        assert all(text[start:end] == mention for mention, _, start, end, _, _ in rows_of(table))
        assert not note.startswith("⚠️")


def test_space_metadata_is_pinned_to_the_lock():
    """The Space runs the versions the lock gives (and so the tests ran): requirements.txt and sdk_version are what
    `make lock` writes from requirements-lock.txt."""
    card = SpaceCard.load(SPACE_SOURCE / "README.md")
    assert (card.data.sdk, card.data.app_file) == ("gradio", "app.py")
    versions = locked_versions()
    assert card.data.sdk_version == versions["gradio"]
    pins = [line.split("==") for line in (SPACE_SOURCE / "requirements.txt").read_text().splitlines() if "==" in line]
    assert pins, "requirements.txt pins nothing"
    for name, pinned in pins:
        assert versions[name.lower().replace("_", "-")] == pinned, f"requirements.txt pins {name}=={pinned}"
    generated = pinned_space_files()
    assert {name: (SPACE_SOURCE / name).read_text() for name in generated} == generated


def test_space_pins_follow_a_new_lock(tmp_path):
    """A lock with a newer transformers and gradio rewrites exactly those pins; a package missing from it is named."""
    lock = tmp_path / "lock.txt"
    locked = locked_versions()
    lock.write_text(LOCK_FILE.read_text().replace(f"transformers=={locked['transformers']}", "transformers==9.9.9")
                    .replace(f"gradio=={locked['gradio']}", "gradio==9.8.7"))
    files = pinned_space_files(lock)
    assert "transformers==9.9.9" in files["requirements.txt"].splitlines()
    assert "sdk_version: 9.8.7" in files["README.md"].splitlines()
    assert files["requirements.txt"].count("\n") == (SPACE_SOURCE / "requirements.txt").read_text().count("\n")
    lock.write_text("\n".join(line for line in LOCK_FILE.read_text().splitlines() if not line.startswith("tqdm==")))
    with pytest.raises(SpaceError, match="tqdm is not in"):
        pinned_space_files(lock)


def test_vendored_code_is_what_the_entry_file_imports(tmp_path):
    """The copy is computed from import statements, function-level ones included, through every module reached."""
    entry = tmp_path / "app.py"
    entry.write_text("def tagger():\n    from bioalbert.inference import Tagger\n    return Tagger\n")
    modules = vendored_modules(entry)
    assert {"bioalbert.inference", "bioalbert.inference.tagger", "bioalbert.modeling.loading",
            "bioalbert.modeling.modeling_bioalbert", "bioalbert.ner.scoring", "bioalbert.ner.windows"} <= set(modules)
    assert not any(name.startswith("bioalbert.training") for name in modules)  # no training code, tokenizer's included
    assert all(path.is_file() for path in modules.values())
    assert modules == vendored_modules(SPACE_SOURCE / "app.py")  # the demo needs exactly what the tagging API needs
    entry.write_text("import bioalbert.inference.nonesuch\n")
    with pytest.raises(SpaceError, match="imports bioalbert.inference.nonesuch, which is not a module"):
        vendored_modules(entry)


@pytest.mark.slow  # stages the Space and starts its server in a fresh Python
def test_staged_space_runs_where_bioalbert_is_not_installed(tmp_path, ner_dir, abstract, normal_mode):
    """`bioalbert space --stage` output, started as a Space starts it (`python app.py` in the folder) by a Python
    where bioalbert is not installed and nothing of this checkout can be imported or read (bioalbert.hub.isolated,
    which ends the process at the first file it opens here), serves the page and tags like the tagging API."""
    folder = stage(tmp_path / "space", [str(ner_dir)])
    assert (folder / "models.txt").read_text().splitlines()[-1] == "models/micro-ncbi"
    assert not list(folder.rglob("__pycache__")), "staging left bytecode in the folder to push"
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HOME": str(tmp_path / "hf-home")}
    for name in ("BIOALBERT_SPACE_MODELS", "BIOALBERT_SPACE_MODEL_DIR"):
        env.pop(name, None)
    app_py = "import runpy, sys; sys.argv = ['app.py']; runpy.run_path('app.py', run_name='__main__')"
    log_path = tmp_path / "space.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(isolated.isolated_argv(app_py, path=[folder]), cwd=folder, env=env,
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = None
        for _ in range(240):
            if server.poll() is not None:
                break
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # not listening yet
                time.sleep(0.5)
        assert client is not None, f"the staged Space did not start:\n{log_path.read_text()[-3000:]}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
            assert page.status == 200 and "BioALBERT" in page.read().decode("utf-8")
        _, table, _, _ = client.predict(abstract, ["micro-ncbi"], api_name="/tag")
        rows = rows_of(table)
        assert rows and rows == expected_rows([ner_dir], ["micro-ncbi"], abstract)
        assert all(abstract[start:end] == text for text, _, start, end, _, _ in rows)
        assert server.poll() is None, f"the staged Space stopped:\n{log_path.read_text()[-3000:]}"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert isolated.LEAK_MESSAGE not in log_path.read_text()
    assert oct(folder.stat().st_mode & 0o777) == oct(normal_mode)  # not mkdtemp's 0700


def test_cli_reports_a_missing_model_folder_in_one_line(tmp_path):
    result = subprocess.run(
        [Path(sys.executable).parent / "bioalbert", "space", "--model", str(tmp_path / "no-such-model")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"bioalbert space: error: Model folder not found: {tmp_path / 'no-such-model'}"
