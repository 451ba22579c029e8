"""Documents/s and peak memory of `bioalbert tag` on a corpus of PubMed abstracts, at 1 and 2 workers.

    python benchmarks/corpus_tag_speed.py --documents 2000 --workers 1 2 \
        --output results/benchmarks/corpus_tag_speed.json --docs docs/benchmarks.md

Documents: the first --documents paragraphs (one abstract each: title line + sentences) of
../shared/data/corpus/pubmed_ohsumed_textgcn.txt.gz, written to a plain file and tagged with `--input-format
paragraphs -o out.jsonl` by the shipped model, each configuration in a fresh `bioalbert tag` process: what a user
runs. N workers get cores / N torch threads each (all the cores in every configuration). Reported per configuration:
- end-to-end documents/s: documents over the whole command's wall time (Python, torch and model start included);
- tagging documents/s: documents over the wall time less that of the same command on one document (the start-up);
- peak MB: the largest sum of resident memory over the command's process tree (parent + workers), sampled every
  50 ms.
The JSON records the machine, the versions and the load average before and after; --docs regenerates the table
between `<!-- corpus_tag_speed:begin -->` and `<!-- corpus_tag_speed:end -->` in docs/benchmarks.md from it.
"""

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "pubmed_ohsumed_textgcn.txt.gz"
BIOALBERT = Path(sys.executable).with_name("bioalbert")


def abstracts(count: int) -> list[str]:
    """The first `count` paragraphs of the corpus file (documents are separated by a blank line)."""
    found, lines = [], []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as corpus:
        for line in corpus:
            if line.strip():
                lines.append(line.rstrip("\n"))
            elif lines:
                found.append("\n".join(lines))
                lines = []
                if len(found) == count:
                    break
    return found


def run_tag(source: Path, workers: int, threads: int, model: str | None) -> tuple[float, float]:
    """(wall seconds, peak MB of the process tree) of one `bioalbert tag` command."""
    with tempfile.TemporaryDirectory() as folder:
        command = [str(BIOALBERT), "tag", str(source), "--input-format", "paragraphs", "-o", f"{folder}/out.jsonl",
                   "--workers", str(workers), "--threads", str(threads), "--no-progress"]
        command += ["--model", model] if model else []
        start = time.perf_counter()
        process = subprocess.Popen(command, stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        root, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            try:
                tree = [root] + root.children(recursive=True)
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            raise RuntimeError(f"bioalbert tag failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, peak / 2**20


def machine() -> dict:
    import bioc
    import torch
    import transformers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "bioc": getattr(bioc, "__version__", "2.1")}


TABLE_BEGIN, TABLE_END = "<!-- corpus_tag_speed:begin -->", "<!-- corpus_tag_speed:end -->"


def table(result: dict) -> str:
    info = result["machine"]
    lines = ["| documents | workers x threads | end-to-end docs/s | tagging docs/s | tagging words/s | peak MB | machine | load before / after | note |",
             "|---:|---|---:|---:|---:|---:|---|---|---|"]
    for row in result["runs"]:
        lines.append(
            f"| {result['documents']:,} | {row['workers']} x {row['threads']} | {row['end_to_end_docs_per_s']:.1f} | "
            f"{row['tagging_docs_per_s']:.1f} | {row['tagging_words_per_s']:,.0f} | {row['peak_mb']:,.0f} | "
            f"{info['cores']} cores ({info['cpu']}), torch {info['torch']} | {result['load_before']:.1f} / "
            f"{result['load_after']:.1f} | {result['note']} |")
    return "\n".join(lines)


def update_docs(path: Path, result: dict) -> None:
    text = path.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text:
        raise SystemExit(f"{path} has no {TABLE_BEGIN} ... {TABLE_END} block to fill")
    head, rest = text.split(TABLE_BEGIN, 1)
    tail = rest.split(TABLE_END, 1)[1]
    path.write_text(f"{head}{TABLE_BEGIN}\n{table(result)}\n{TABLE_END}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=2000, help="Abstracts to tag (default 2000).")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Worker counts (default: 1 2).")
    parser.add_argument("--model", help="Model to tag with (default: the shipped all-types model).")
    parser.add_argument("--note", default="", help="What to know about the run (e.g. other jobs on the machine).")
    parser.add_argument("--output", default=str(REPO / "results" / "benchmarks" / "corpus_tag_speed.json"))
    parser.add_argument("--docs", help="Markdown file whose corpus_tag_speed table to regenerate (docs/benchmarks.md).")
    args = parser.parse_args(argv)

    cores = len(os.sched_getaffinity(0))
    texts = abstracts(args.documents)
    words = sum(len(text.split()) for text in texts)
    load_before = os.getloadavg()[0]
    print(f"{len(texts)} abstracts, {words:,} words; {cores} cores; 1-min load {load_before:.1f}"
          + (f"; note: {args.note}" if args.note else ""), flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        corpus, single = Path(folder) / "abstracts.txt", Path(folder) / "one.txt"
        corpus.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
        single.write_text(texts[0] + "\n", encoding="utf-8")
        for workers in args.workers:
            threads = max(1, cores // workers)
            startup, _ = run_tag(single, workers, threads, args.model)
            seconds, peak = run_tag(corpus, workers, threads, args.model)
            tagging = max(seconds - startup, 1e-9)
            row = {"workers": workers, "threads": threads, "seconds": round(seconds, 2), "startup_seconds": round(startup, 2),
                   "end_to_end_docs_per_s": len(texts) / seconds, "tagging_docs_per_s": len(texts) / tagging,
                   "tagging_words_per_s": words / tagging, "peak_mb": peak}
            runs.append(row)
            print(f"workers {workers} x {threads} threads: {row['end_to_end_docs_per_s']:.1f} docs/s end to end, "
                  f"{row['tagging_docs_per_s']:.1f} docs/s tagging ({row['tagging_words_per_s']:,.0f} words/s), "
                  f"peak {peak:,.0f} MB, start-up {startup:.1f} s", flush=True)
    result = {"benchmark": "corpus_tag_speed", "documents": len(texts), "words": words, "corpus": CORPUS.name,
              "machine": machine(), "load_before": load_before, "load_after": os.getloadavg()[0],
              "note": args.note, "runs": runs}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    if args.docs:
        update_docs(Path(args.docs), result)
        print(f"regenerated the corpus_tag_speed table of {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
