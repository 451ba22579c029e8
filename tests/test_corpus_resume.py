"""Resume and workers: a `bioalbert tag` process killed with SIGKILL halfway and resumed writes what an
uninterrupted run writes, losing at most the chunk in flight; completed outputs are left alone; two worker processes
write what one process writes. Real model, real processes, real kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bioc import biocxml

from bioalbert.inference.shipped import SHIPPED_NER_DIR
from bioalbert.inference.tag import main

sys.path.insert(0, str(Path(__file__).parent))
from tagging_fixtures import one_thread  # noqa: E402
from test_corpus_formats import corpus_abstracts, write_pubtator  # noqa: E402

one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)
MODEL = str(SHIPPED_NER_DIR)
BIOALBERT = Path(sys.executable).with_name("bioalbert")
CHUNK = 16


@pytest.fixture(scope="module")
def abstracts(data_dir):
    return corpus_abstracts(data_dir, 300)


def tag_args(source, out, *extra) -> list[str]:
    return [str(a) for a in ["--model", MODEL, source, "--format", "bioc-xml", "-o", out, "--chunk-size", CHUNK,
                             "--no-progress", *extra]]


@pytest.mark.slow
def test_sigkill_then_resume_writes_what_an_uninterrupted_run_writes(tmp_path, abstracts, capsys):
    source = write_pubtator(tmp_path / "abstracts.pubtator.gz", abstracts)
    killed, progress = tmp_path / "killed.xml", tmp_path / "killed.xml.progress.json"
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([str(BIOALBERT), "tag", *tag_args(source, killed, "--threads", 1)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state, deadline = {}, time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if progress.exists():
            state = json.loads(progress.read_text())
            if state["consumed"][0] >= 3 * CHUNK:
                break
        time.sleep(0.02)
    assert process.poll() is None, f"finished before it could be killed: {process.stderr.read().decode()[-2000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    state = json.loads(progress.read_text())
    consumed = state["consumed"][0]
    assert 3 * CHUNK <= consumed < len(abstracts) and state["finished"] == [False]
    written = killed.read_bytes()
    assert b"</collection>" not in written  # killed: the collection was never closed
    # At most the chunk in flight is lost: the file holds the recorded documents and at most one chunk more.
    assert consumed <= written.count(b"</document>") <= consumed + CHUNK
    recorded = written[: state["bytes"]]

    code = main(tag_args(source, killed, "--resume"))
    _, err = capsys.readouterr()
    assert code == 0, err
    assert not progress.exists()
    resumed = killed.read_bytes()
    assert resumed.startswith(recorded)  # the recorded documents were kept, not tagged again

    whole = tmp_path / "whole.xml"
    assert main(tag_args(source, whole)) == 0
    assert resumed == whole.read_bytes()
    assert [d.id for d in biocxml.load(killed.open("rb")).documents] == [pmid for pmid, _, _ in abstracts]


def test_resume_leaves_complete_outputs_alone(tmp_path, abstracts, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_pubtator(folder / f"part{i}.pubtator", abstracts[i * 5 : i * 5 + 5])
    out = tmp_path / "out"
    args = ["--model", MODEL, folder, "--output-dir", out, "--format", "pubtator", "--no-progress"]
    assert main([str(a) for a in args]) == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert sorted(before) == ["part0.pubtator", "part1.pubtator", "part2.pubtator"]
    (out / "part1.pubtator").unlink()
    time.sleep(0.01)
    assert main([str(a) for a in args + ["--resume"]]) == 0
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert after["part0.pubtator"] == before["part0.pubtator"] and after["part2.pubtator"] == before["part2.pubtator"]
    assert after["part1.pubtator"][0] == before["part1.pubtator"][0]  # rewritten, the same
    capsys.readouterr()


@pytest.mark.slow
def test_two_workers_write_what_one_process_writes(tmp_path, abstracts, capsys):
    source = write_pubtator(tmp_path / "abstracts.pubtator", abstracts[:60])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    common = ["--model", MODEL, source, "--chunk-size", 8, "--no-progress"]
    assert main([str(a) for a in common + ["-o", one]]) == 0
    assert main([str(a) for a in common + ["-o", two, "--workers", 2]]) == 0
    _, err = capsys.readouterr()
    assert "warning" not in err  # 2 workers x 1 thread fit 2 cores
    assert two.read_text() == one.read_text()
    assert len(one.read_text().splitlines()) == 60
