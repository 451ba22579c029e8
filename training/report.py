"""The results table: built from the results files only, written as markdown + JSON + a PNG chart, and spliced
into a markdown file's block between `<!-- NAME:begin -->` and `<!-- NAME:end -->` (default NAME: results).

    python -m bioalbert.training.report --models cpu-full cpu-full-random-init --peer spacy-peer-cpu-full \
        --readme docs/research.md --block reproduce-cpu-full
    python -m bioalbert.training.report --readme docs/research.md    # only its figure blocks (tokenizer, pretraining)
    python -m bioalbert.training.report --readme docs/benchmarks.md  # only its figure blocks (throughput, tag_speed)

README.md holds the `results` block (the current models) and no figure block; docs/research.md and docs/benchmarks.md
hold the rest. Image links are written relative to the file they go into.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from .results import describe_machine, load_results, mean_std, training_seconds

BENCHMARKS = ["ncbi_disease", "bc5cdr_disease", "bc5cdr_chem", "bc4chemd", "bc2gm", "jnlpba", "linnaeus", "s800"]
REFERENCE_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_results.json"


def reference_numbers(path: Path = REFERENCE_FILE) -> dict:
    """Published BioBERT v1.1 entity-level F1 (benchmarks/reference_results.json); empty where the file is absent,
    e.g. in an installed package without the repository's benchmarks/ folder."""
    return json.loads(path.read_text())["biobert_v1.1"] if path.is_file() else {}


def _f1(block: dict | None, key: str = "f1") -> str:
    if not block or block.get(key) is None:
        return "–"
    value = 100 * block[key]
    std = block.get(f"{key}_std")
    return f"{value:.2f} ± {100 * std:.2f}" if std else f"{value:.2f}"


def _training(record: dict | None, epochs: bool = True) -> str:
    """Epochs run (of the first seed) and training minutes (all seeds; CPU minutes for a run budgeted in CPU time),
    as the results file says."""
    training = (record or {}).get("training") or {}
    seconds, clock = training_seconds(training)
    if seconds is None:
        return "–"
    minutes = f"{seconds / 60:.1f}" + (" CPU" if clock else "")
    runs = record.get("runs") or [{}]
    done = runs[0].get("epochs", training.get("epochs"))
    return f"{done:.2g} / {minutes}" if epochs and done is not None else minutes


def _dev_f1(record: dict | None) -> str:
    """Mean ± std over seeds of the devel entity F1 that model selection saw."""
    values = [run["dev_entity_f1"] for run in (record or {}).get("runs", []) if run.get("dev_entity_f1") is not None]
    if not values:
        return "–"
    mean, std = mean_std(values)
    return _f1({"f1": mean, "f1_std": std})


def _gap(record: dict | None, other: dict | None) -> str:
    """How far `record` is ahead of `other` (negative: behind) in entity F1 points; a dash where either is missing."""
    if not (record and other):
        return "–"
    return f"{100 * (record['entity']['f1'] - other['entity']['f1']):+.2f}"


def build_table(results_dir: str | Path, models: list[str], peer: str | None,
                datasets: list[str] | None = None, dev: bool = False) -> tuple[str, list[dict]]:
    """Markdown table and its rows: per benchmark (all, or `datasets`), each model's entity and token F1 (and with
    `dev`, its devel entity F1), the peer, the reference."""
    by_key = {(r["model"], r["dataset"]): r for r in load_results(results_dir)}
    reference = reference_numbers()
    header = ["dataset"]
    for model in models:
        header += [f"{model} devel entity F1"] if dev else []
        header += [f"{model} entity F1", f"{model} token F1", f"{model} epochs / train min"]
    header += [f"{models[0]} − {model} (entity F1 points)" for model in models[1:]]
    header += [f"{peer} entity F1", f"{peer} train min", f"{models[0]} − peer (entity F1 points)"] if peer else []
    header += ["BioBERT v1.1 entity F1 (published)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = []
    for dataset in datasets or BENCHMARKS:
        row = {"dataset": dataset, "reference_entity_f1": reference.get(dataset)}
        cells = [dataset]
        for model in models:
            record = by_key.get((model, dataset))
            row[model] = record and {"entity": record["entity"], "token": record["token"], "seeds": record.get("seeds"),
                                     "training": record.get("training")}
            cells += [_dev_f1(record)] if dev else []
            cells += [_f1(record and record["entity"]), _f1(record and record["token"]), _training(record)]
        first = by_key.get((models[0], dataset))
        cells += [_gap(first, by_key.get((model, dataset))) for model in models[1:]]
        if peer:
            record = by_key.get((peer, dataset))
            row[peer] = record and {"entity": record["entity"], "training": record.get("training")}
            cells += [_f1(record and record["entity"]), _training(record, epochs=False), _gap(first, record)]
        cells.append(f"{reference[dataset]:.2f}" if dataset in reference else "–")
        if any(row.get(m) for m in models + ([peer] if peer else [])):
            rows.append(row)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), rows


def summary_table(results_dir: str | Path, models: list[str], peer: str | None, labels: list[str] | None = None,
                  datasets: list[str] | None = None) -> str:
    """The one-screen table: per benchmark, each model's and the peer's test entity F1 (mean ± std over seeds) and
    BioBERT's published F1, one column each, headed by `labels` (default: the results folder names)."""
    by_key = {(r["model"], r["dataset"]): r for r in load_results(results_dir)}
    reference = reference_numbers()
    series = models + ([peer] if peer else [])
    labels = list(labels or []) + series[len(labels or []):]
    header = ["benchmark", *labels, "BioBERT v1.1 (published)"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for dataset in datasets or BENCHMARKS:
        records = [by_key.get((name, dataset)) for name in series]
        if any(records):
            cells = [_f1(record and record["entity"]) for record in records]
            lines.append("| " + " | ".join([dataset, *cells, f"{reference[dataset]:.2f}" if dataset in reference else "–"])
                         + " |")
    return "\n".join(lines)


def plot(rows: list[dict], models: list[str], peer: str | None, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = models + ([peer] if peer else [])
    width = 0.8 / (len(series) + 1)
    figure, axis = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4))
    for i, name in enumerate(series):
        values = [100 * (row[name]["entity"]["f1"] if row.get(name) else 0) for row in rows]
        axis.bar([x + i * width for x in range(len(rows))], values, width, label=name)
    reference = [row["reference_entity_f1"] or 0 for row in rows]
    axis.bar([x + len(series) * width for x in range(len(rows))], reference, width, label="BioBERT v1.1 (published)",
             color="lightgrey")
    axis.set_xticks([x + 0.4 - width / 2 for x in range(len(rows))], [row["dataset"] for row in rows], rotation=20)
    axis.set_ylabel("entity-level strict F1 (test)")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def tokenizer_table(results_dir: str | Path) -> str:
    """Markdown table of results/benchmarks/tokenizers/*.json (written by benchmarks/tokenizer_fertility.py)."""
    rows = [json.loads(p.read_text()) for p in sorted(Path(results_dir, "benchmarks", "tokenizers").glob("*.json"))]
    lines = ["| tokenizer | vocabulary | cased | pieces per word (NCBI-disease test) | `<unk>` rate |", "|---|---:|---|---:|---:|"]
    lines += [f"| `{r['tokenizer']}` | {r['vocab_size']:,} | {'yes' if r['cased'] else 'no'} | "
              f"{r['pieces_per_word']:.3f} | {100 * r['unk_rate']:.3f}% |" for r in rows]
    return "\n".join(lines) if rows else ""


def _link(target: str | Path, doc_dir: str | Path) -> str:
    """A markdown link to `target` from a file in `doc_dir` (both relative to the working folder, or absolute)."""
    return Path(os.path.relpath(target, doc_dir)).as_posix()


def pretraining_table(results_dir: str | Path, doc_dir: str | Path = ".") -> str:
    """Markdown table (and curves, linked from `doc_dir`) of results/pretraining/*.json, written by
    `bioalbert pretrain --results_dir`."""
    runs = [json.loads(p.read_text()) for p in sorted(Path(results_dir, "pretraining").glob("*.json"))]
    lines = ["| run | variant | objective | embedding / hidden / layers | positions | steps | global batch | tokens seen | "
             "epochs | train min | held-out MLM acc | held-out SOP acc | held-out RTD acc | precision | machine |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]

    def accuracy(final: dict, task: str) -> str:  # an objective the run did not train has none
        return f"{100 * final[f'eval_{task}_accuracy']:.1f}%" if f"eval_{task}_accuracy" in final else "–"

    def minutes(run: dict) -> str:  # over every session of a resumed run where its time budget counted them
        if run.get("budget_spent_minutes") is None:
            return f"{run['train_runtime_s'] / 60:.1f}"
        return f"{run['budget_spent_minutes']:.1f}" + (" CPU" if run.get("budget_clock") == "cpu" else "")

    # Runs from before `position_bias` existed had ALBERT's learned absolute positions only.
    positions = {"none": "learned", "alibi": "learned + ALiBi"}
    for run in runs:
        final, sizes = run.get("final", {}), run.get("model_sizes")
        size = f"{sizes['embedding_size']} / {sizes['hidden_size']} / {sizes['num_hidden_layers']}" if sizes else "–"
        lines.append(
            f"| `{run['name']}` | `{run['variant']}` | {run.get('objective', 'mlm-sop')} | {size} | "
            f"{positions[run.get('position_bias', 'none')]} | "
            f"{run['global_step']:,} | {run['train_batch_size_global']} | "
            f"{run['tokens_seen_non_padding'] / 1e6:.1f}M | {run['epochs']:.2f} | {minutes(run)} | "
            f"{accuracy(final, 'mlm')} | {accuracy(final, 'sop')} | {accuracy(final, 'rtd')} | "
            f"{run.get('precision', 'fp32')} | "
            f"{describe_machine(run.get('machine'))} |"
        )
    curves = [f"![Pretraining accuracy of {run['name']}]"
              f"({_link(Path(results_dir, 'pretraining', run['name'] + '.png'), doc_dir)})" for run in runs]
    return "\n".join(lines) + "\n\n" + "\n".join(curves) if runs else ""


def tag_speed_table(results_dir: str | Path, name: str = "tag_speed") -> str:
    """Markdown table of results/benchmarks/<name>.json (written by benchmarks/tag_speed.py --output)."""
    path = Path(results_dir, "benchmarks", f"{name}.json")
    return tag_speed_markdown(json.loads(path.read_text())) if path.is_file() else ""


def tag_speed_markdown(run: dict) -> str:
    """One benchmarks/tag_speed.py run as markdown: each system's words/s, memory, ratio to spaCy's best, F1."""
    spacy_best = max((r["words_per_s"] for r in run["rows"] if r["system"].startswith("spacy")), default=None)
    lines = [f"{run['words']:,} words in {run['texts']:,} texts; {run['machine']}; {run['threads']} torch threads; "
             + ", ".join(f"{k} {v}" for k, v in run["versions"].items()) + ".", "",
             "| system | batch | words/s | peak MB | vs spaCy (its best batch) | entity F1 |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in run["rows"]:
        ratio = f"{row['words_per_s'] / spacy_best:.2f}x" if spacy_best else "–"
        f1 = f"{100 * row['entity_f1']:.2f}" if "entity_f1" in row else "–"
        lines.append(f"| {row['system']} | {row['batch_size']} | {row['words_per_s']:,} | {row['peak_mb']:.0f} | "
                     f"{ratio} | {f1} |")
    scored = [row for row in run["rows"] if row.get("entity_f1_by_dataset")]
    if scored:  # the same taggers' F1 on every benchmark's test text, in the same run as the speed
        datasets = list(scored[0]["entity_f1_by_dataset"])
        lines += ["", "| system (batch " + str(scored[0]["batch_size"]) + ") | " + " | ".join(datasets) + " |",
                  "|---|" + "---:|" * len(datasets)]
        lines += [f"| {row['system']} | " + " | ".join(f"{100 * row['entity_f1_by_dataset'][d]:.2f}" for d in datasets)
                  + " |" for row in scored]
    return "\n".join(lines)


# Blocks besides the results tables, each generated from its own files under results/ (docs/research.md: tokenizer,
# pretraining; docs/benchmarks.md: throughput, tag_speed, tag_speed_all_types).
def throughput_table(results_dir: str | Path) -> str:
    """Markdown table of results/benchmarks/pretrain_throughput/*.json (benchmarks/pretrain_throughput.py --json)."""
    runs = [json.loads(p.read_text()) for p in sorted(Path(results_dir, "benchmarks", "pretrain_throughput").glob("*.json"))]
    lines = ["| preset (batch x seq) | precision | torch.compile | BioALBERT tokens/s | stock tokens/s | ratio | MFU | "
             "machine | 1-min load before / after | torch |", "|---|---|---|---:|---:|---:|---:|---|---|---|"]
    for run in sorted(runs, key=lambda r: (r["args"]["preset"] != "tiny", r["args"]["dtype"], r.get("load_average") is None)):
        args, results, machine = run["args"], run["results"], run["machine"]
        where = f"{describe_machine(machine)}, {machine.get('torch_threads')} torch threads"
        load = run.get("load_average")
        load = f"{load[0]:g} / {load[1]:g}" if load else run.get("note", "not recorded")
        for compiled in args["compile"].split(","):
            ours, stock = results[f"bioalbert/compile={compiled}"], results[f"stock/compile={compiled}"]
            mfu = f"{ours['mfu']:.1%}" if "mfu" in ours else "–"  # only where a bf16 peak is known (GPUs)
            lines.append(
                f"| {args['preset']} ({args['batch_size']} x {args['seq_len']}) | {args['dtype']} | {compiled} | "
                f"{ours['tokens_per_s']:,.0f} | {stock['tokens_per_s']:,.0f} | {results[f'ratio/compile={compiled}']:.2f}x | {mfu} | "
                f"{where} | {load} | {run['versions'].get('torch', '?')} |"
            )
    return "\n".join(lines) if runs else ""


# block name -> its table from (results folder, folder of the file it goes into)
FIGURE_BLOCKS = {
    "tokenizer": lambda results_dir, doc_dir: tokenizer_table(results_dir),
    "pretraining": pretraining_table,
    "throughput": lambda results_dir, doc_dir: throughput_table(results_dir),
    "tag_speed": lambda results_dir, doc_dir: tag_speed_table(results_dir),
    "tag_speed_all_types": lambda results_dir, doc_dir: tag_speed_table(results_dir, "tag_speed_all_types"),
}


def splice(readme: Path, content: str, block: str = "results") -> None:
    """Replaces what stands between `<!-- block:begin -->` and `<!-- block:end -->` in `readme` (any markdown file)."""
    begin, end = f"<!-- {block}:begin -->", f"<!-- {block}:end -->"
    text = readme.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise ValueError(f"{readme} has no {begin} ... {end} block to write into.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{content.strip()}\n{end}{tail}", encoding="utf-8")


def write_report(results_dir, models, peer=None, out_dir=None, readme=None, preamble: str = "", block="results",
                 datasets=None, dev=False, summary_labels=None) -> str:
    """Writes results.{md,json,png} to `out_dir` and splices the markdown into `readme`'s `block`: the full table
    with its chart, or with `summary_labels` (a list, possibly empty) the one-screen `summary_table` alone."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir or results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table, rows = build_table(results_dir, models, peer, datasets, dev)
    chart = plot(rows, models, peer, out_dir / "results.png") if rows else None
    (out_dir / "results.json").write_text(json.dumps({"models": models, "peer": peer, "rows": rows}, indent=2) + "\n")
    if summary_labels is not None:
        table, chart = summary_table(results_dir, models, peer, summary_labels, datasets), None

    def markdown(doc_dir) -> str:  # the chart's link as seen from the file the table goes into
        figure = chart and f"![entity F1 per dataset]({_link(chart, doc_dir)})"
        return "\n\n".join(filter(None, [preamble, table, figure]))

    (out_dir / "results.md").write_text(markdown(out_dir) + "\n")
    if readme:
        splice(Path(readme), markdown(Path(readme).parent), block)
        splice_figures(results_dir, Path(readme))
    return markdown(Path(readme).parent if readme else ".")


def splice_figures(results_dir, readme: Path) -> list[str]:
    """Refreshes each FIGURE_BLOCKS block that `readme` holds and that has figures under `results_dir`; returns
    their names."""
    text = readme.read_text(encoding="utf-8")
    refreshed = []
    for block, table in FIGURE_BLOCKS.items():
        content = table(results_dir, readme.parent) if f"<!-- {block}:begin -->" in text else ""
        if content:
            splice(readme, content, block)
            refreshed.append(block)
    return refreshed


QUICKSTART_TEXT = "Mutations in BRCA1 predispose to hereditary breast and ovarian cancer; tamoxifen reduces the risk in mice."


def quickstart_markdown(model: str) -> str:
    """The README's quick start: `pipeline("ner")` with `model` on an example abstract, and the output it gives."""
    from transformers import pipeline

    ner = pipeline("ner", model=model, trust_remote_code=True, aggregation_strategy="first")
    # Exactly what the printed code prints.
    printed = [" ".join(str(value) for value in (e["entity_group"], e["start"], e["end"],
                                                 repr(QUICKSTART_TEXT[e["start"]:e["end"]]), round(e["score"], 2)))
               for e in ner(QUICKSTART_TEXT)]
    return "\n".join([
        "```python", "from transformers import pipeline", "",
        f'ner = pipeline("ner", model="{model}", trust_remote_code=True, aggregation_strategy="first")',
        f'text = "{QUICKSTART_TEXT}"',
        "for entity in ner(text):",
        '    start, end = entity["start"], entity["end"]',
        '    print(entity["entity_group"], start, end, repr(text[start:end]), round(entity["score"], 2))',
        "```", "", "```text", *printed, "```",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--models", nargs="*", default=[],
                        help="results folder names to show, in order (none: only refresh the figure blocks)")
    parser.add_argument("--peer", default=None, help="results folder name of the peer baseline")
    parser.add_argument("--readme", default=None, help="markdown file to splice into: README.md (block `results`), "
                        "docs/research.md or docs/benchmarks.md; its figure blocks are refreshed too")
    parser.add_argument("--block", default="results", help="block name: <!-- NAME:begin --> ... <!-- NAME:end -->")
    parser.add_argument("--out-dir", default=None, help="where results.{md,json,png} go (default: --results-dir)")
    parser.add_argument("--preamble", default="", help="a sentence above the table (what was run, on what)")
    parser.add_argument("--datasets", nargs="*", choices=BENCHMARKS, default=None, help="rows to show (default: all)")
    parser.add_argument("--dev", action="store_true", help="also show each model's devel entity F1 (model selection)")
    parser.add_argument("--summary", nargs="*", metavar="LABEL", default=None,
                        help="the one-screen table instead: test entity F1 only, one column per model and the peer, "
                        "headed by these labels (default: the folder names)")
    parser.add_argument("--quickstart", metavar="MODEL", help="write the `quickstart` block of --readme: "
                        "pipeline('ner') with MODEL on an example abstract, with its output")
    args = parser.parse_args(argv)
    if args.quickstart:
        content = quickstart_markdown(args.quickstart)
        if args.readme:
            splice(Path(args.readme), content, "quickstart")
        print(content)
        return 0
    if not args.models:
        if not args.readme:
            parser.error("give --models, or --readme to refresh its figure blocks only")
        refreshed = splice_figures(args.results_dir, Path(args.readme))
        if not refreshed:
            parser.error(f"{args.readme} has none of the blocks {', '.join(FIGURE_BLOCKS)} with figures in "
                         f"{args.results_dir} to refresh")
        print(f"Refreshed the {', '.join(refreshed)} blocks of {args.readme} from {args.results_dir}")
        return 0
    print(write_report(args.results_dir, args.models, args.peer, args.out_dir, args.readme, args.preamble, args.block,
                       args.datasets, args.dev, args.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
