"""`bioalbert tag-ray` on a local Ray cluster (two tagger actors on this machine, offline) finds the same entities
as the single-process `bioalbert tag` on the same shards."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bioalbert.inference.shipped import SHIPPED_NER_DIR
from bioalbert.inference.tag import main

sys.path.insert(0, str(Path(__file__).parent))
from test_corpus_formats import corpus_abstracts  # noqa: E402

MODEL = str(SHIPPED_NER_DIR)
BIOALBERT = Path(sys.executable).with_name("bioalbert")


@pytest.mark.slow
def test_ray_data_actors_find_what_one_process_finds(tmp_path, data_dir, capsys):
    pytest.importorskip("ray", reason="the `ray` extra is not installed")
    abstracts = corpus_abstracts(data_dir, 90)
    shards = tmp_path / "shards"
    shards.mkdir()
    for shard in range(3):  # three shards, so that both actors get work
        rows = [{"pmid": pmid, "abstract": f"{title}\n{abstract}", "journal": "J"}
                for pmid, title, abstract in abstracts[shard * 30 : shard * 30 + 30]]
        (shards / f"part-{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    out = tmp_path / "tagged"
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    done = subprocess.run(
        [str(BIOALBERT), "tag-ray", "--input", str(shards / "*.jsonl"), "--output-dir", str(out), "--format", "parquet",
         "--text-column", "abstract", "--id-column", "pmid", "--model", MODEL, "--actors", "2", "--threads", "1",
         "--batch-size", "16"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "90 documents tagged" in done.stderr
    assert "Actors: 2" in done.stderr  # Ray Data ran the tagger as a pool of two actors

    rows = [row for path in sorted(out.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]
    by_ray = {row["id"]: row["entities"] for row in rows}
    assert sorted(by_ray) == sorted(pmid for pmid, _, _ in abstracts)

    # The single-process path on the same shards (JSONL in, the abstract column as text).
    single = tmp_path / "single.jsonl"
    converted = tmp_path / "single-in.jsonl"
    converted.write_text("".join(json.dumps({"id": r["pmid"], "text": r["abstract"]}) + "\n"
                                 for path in sorted(shards.glob("*.jsonl"))
                                 for r in map(json.loads, path.read_text().splitlines())), encoding="utf-8")
    assert main(["--model", MODEL, str(converted), "-o", str(single), "--no-progress"]) == 0
    capsys.readouterr()
    by_one = {r["id"]: r["entities"] for r in map(json.loads, single.read_text().splitlines())}
    assert by_ray == by_one
    assert sum(len(entities) for entities in by_one.values()) > 200
