"""The downstream probe that decides between encoders (issue #37): the `cpu-full` fine-tuning of one encoder on
NCBI-disease, BC2GM and Species-800 with two seeds, scored by the mean devel entity F1 over those six runs (test is
reported beside it, never used to choose).

    python benchmarks/research/encoder_probe.py --encoder runs/rtd-cmp/rtd --name probe-rtd-90min
    python benchmarks/research/encoder_probe.py --encoder ENC --name NAME --datasets s800 &   # one core each
    python benchmarks/research/encoder_probe.py --encoder ENC --name NAME --datasets ncbi_disease bc2gm
    python benchmarks/research/encoder_probe.py --table probe-mlm-sop-90min probe-rtd-90min   # compare
    python benchmarks/research/encoder_probe.py --table NAME ... --plot results/benchmarks/encoder_probe/curve.png \
        --doc docs/research.md --block encoder-curve       # the tokens-vs-F1 curve, spliced into the docs

Each fine-tune writes results/<name>/<dataset>.json as `bioalbert finetune` does and resumes after a kill; the probe
then writes results/benchmarks/encoder_probe/<name>.json: the six runs' devel and test F1 and the encoder's
pretraining record (objective, steps, tokens seen, held-out accuracies), one point of the tokens-vs-F1 curve.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bioalbert.training.report import splice
from bioalbert.training.reproduce import RECIPES
from bioalbert.training.results import environment, load_results, pretraining_record

DATASETS = ("ncbi_disease", "bc2gm", "s800")
SEEDS = ("13", "42")
OUT = Path("results/benchmarks/encoder_probe")
# The recipe's 15 minutes per seed counted in CPU time: two probes side by side (one torch thread each) get the
# compute of one idle core each, whatever else the machine runs. Compare probes made on one kind of CPU only: on one
# with native bf16 the same minutes hold more epochs.
CLOCK_FLAGS = ("--budget-clock", "cpu")


def pretraining_summary(encoder: Path) -> dict:
    record = pretraining_record(encoder)
    if record is None:
        return {}
    keys = ("objective", "variant", "global_step", "tokens_seen_non_padding", "train_runtime_s", "budget_clock",
            "max_train_minutes", "total_steps", "total_tokens_seen", "generator_hidden_size")
    return {**{key: record.get(key) for key in keys}, "final": record.get("final", {}), "machine": record.get("machine")}


def probe(encoder: Path, name: str, runs_dir: Path, results_dir: Path, datasets=DATASETS) -> dict | None:
    """Runs the fine-tunes of `datasets` not finished yet; once all of DATASETS are, writes and returns the summary."""
    recipe = RECIPES["cpu-full"]

    def finished(dataset: str) -> bool:
        return (results_dir / name / f"{dataset}.json").is_file()

    for dataset in datasets:
        output = runs_dir / f"{name}-{dataset}"
        command = [sys.executable, "-m", "bioalbert.cli", "finetune", "--model", str(encoder), "--dataset", dataset,
                   "--output-dir", str(output), "--model-name", name, "--results-dir", str(results_dir),
                   "--seeds", *SEEDS, "--disable-tqdm", "true", *recipe.finetune_flags, *CLOCK_FLAGS,
                   *recipe.finetune_flags_by_dataset.get(dataset, ())]
        if not finished(dataset):
            subprocess.run(command + (["--resume"] if output.exists() else []), check=True)
    missing = [dataset for dataset in DATASETS if not finished(dataset)]
    if missing:
        print(f"{name}: {', '.join(missing)} not fine-tuned yet; the summary waits for them.")
        return None
    runs = [{"dataset": record["dataset"], "seed": run["seed"], "dev_entity_f1": run.get("dev_entity_f1"),
             "test_entity_f1": run["entity_f1"]}
            for record in load_results(results_dir, model=name) if record["dataset"] in DATASETS
            for run in record["runs"]]
    summary = {"name": name, "encoder": str(encoder), "datasets": list(DATASETS), "seeds": [int(s) for s in SEEDS],
               "finetune_flags": [*recipe.finetune_flags, *CLOCK_FLAGS], "runs": runs,
               "mean_dev_entity_f1": statistics.mean(run["dev_entity_f1"] for run in runs),
               "mean_test_entity_f1": statistics.mean(run["test_entity_f1"] for run in runs),
               "pretraining": pretraining_summary(encoder), **environment()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def table(names: list[str]) -> str:
    lines = ["| probe | objective, corpus | pretraining steps / tokens | held-out accuracy | " +
             " | ".join(f"{d} devel / test" for d in DATASETS) + " | mean devel | mean test |",
             "|---|---|---|---|" + "---|" * len(DATASETS) + "---|---|"]
    for name in names:
        summary = json.loads((OUT / f"{name}.json").read_text())
        pre, final = summary["pretraining"], summary["pretraining"].get("final", {})
        accuracy = ", ".join(f"{task.upper()} {100 * final[f'eval_{task}_accuracy']:.1f}%" for task in ("mlm", "rtd")
                             if f"eval_{task}_accuracy" in final)
        cells = []
        for dataset in DATASETS:
            runs = [run for run in summary["runs"] if run["dataset"] == dataset]
            cells.append(f"{100 * statistics.mean(r['dev_entity_f1'] for r in runs):.2f} / "
                         f"{100 * statistics.mean(r['test_entity_f1'] for r in runs):.2f}")
        tokens = tokens_seen(summary)
        lines.append(f"| {name} | {lineage(summary)} | {pre.get('total_steps') or pre.get('global_step')} / "
                     f"{tokens / 1e6:.1f}M | {accuracy or '–'} | " + " | ".join(cells) +
                     f" | {100 * summary['mean_dev_entity_f1']:.2f} | {100 * summary['mean_test_entity_f1']:.2f} |")
    return "\n".join(lines)


def lineage(summary: dict) -> str:
    """Objective and pretraining corpus (the recipe's variant): the encoders one curve connects."""
    pre = summary["pretraining"]
    return f"{pre.get('objective') or 'mlm-sop'}, {pre.get('variant') or '?'}"


def tokens_seen(summary: dict) -> float:
    pre = summary["pretraining"]
    return pre.get("total_tokens_seen") or pre.get("tokens_seen_non_padding") or 0


def steps_in_all(summary: dict) -> int:
    pre = summary["pretraining"]
    return pre.get("total_steps") or pre.get("global_step") or 0


def branch_point(first: dict, summaries: list[dict]) -> dict | None:
    """The probed encoder a line's first point continued pretraining from (its steps in all are the first point's
    minus its own run's), so a corpus that branches off mid-curve starts where it branched."""
    pre = first["pretraining"]
    if not pre.get("total_steps") or not pre.get("global_step"):
        return None
    start = pre["total_steps"] - pre["global_step"]
    return next((s for s in summaries if s is not first and steps_in_all(s) == start), None)


def plot(names: list[str], path: Path) -> Path:
    """Mean devel entity F1 of the probe and held-out pretraining accuracy against pretraining tokens, one line per
    objective and corpus (the curve of issue #37: where more pretraining stops paying)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = sorted((json.loads((OUT / f"{name}.json").read_text()) for name in names), key=tokens_seen)
    fig, (f1_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for label in sorted({lineage(s) for s in summaries}):
        points = [s for s in summaries if lineage(s) == label]
        tokens = [tokens_seen(s) / 1e6 for s in points]
        line, = f1_axis.plot(tokens, [100 * s["mean_dev_entity_f1"] for s in points], "o-", label=label)
        start = branch_point(points[0], summaries)
        if start is not None:  # the probe compares across corpora; held-out accuracies (other documents) do not
            f1_axis.plot([tokens_seen(start) / 1e6, tokens[0]],
                         [100 * start["mean_dev_entity_f1"], 100 * points[0]["mean_dev_entity_f1"]], "--",
                         color=line.get_color())
        task = "rtd" if label.startswith("rtd") else "mlm"
        accuracy = [100 * s["pretraining"].get("final", {}).get(f"eval_{task}_accuracy", float("nan")) for s in points]
        accuracy_axis.plot(tokens, accuracy, "o-", label=f"{label}: held-out {task.upper()}")
    f1_axis.set(xlabel="pretraining tokens (millions)", ylabel="probe mean devel entity F1",
                title="Downstream probe (NCBI, BC2GM, S800 x 2 seeds)")
    accuracy_axis.set(xlabel="pretraining tokens (millions)", ylabel="accuracy (%)", title="Held-out pretraining accuracy")
    for axis in (f1_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, help="pretrained encoder folder to probe")
    parser.add_argument("--name", help="results name of the probe (results/<name>/)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=DATASETS,
                        help="fine-tune only these (two processes can share one probe's datasets, one core each)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/encoder-probe"))
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--table", nargs="+", metavar="NAME", help="print the comparison of finished probes")
    parser.add_argument("--plot", type=Path, help="with --table: also draw their tokens-vs-F1 curve to this PNG")
    parser.add_argument("--doc", type=Path, help="with --table: splice the table (and plot) into this markdown file")
    parser.add_argument("--block", default="encoder-curve", help="the --doc block: <!-- NAME:begin --> ... :end -->")
    args = parser.parse_args(argv)
    if args.table:
        content = table(args.table)
        if args.plot:
            image = plot(args.table, args.plot)
            if args.doc:
                content += f"\n\n![probe F1 and held-out accuracy against pretraining tokens]" \
                           f"({Path(os.path.relpath(image, args.doc.parent)).as_posix()})"
        if args.doc:
            splice(args.doc, content, args.block)
        print(content)
        return 0
    if not (args.encoder and args.name):
        parser.error("give --encoder and --name, or --table NAME ...")
    summary = probe(args.encoder, args.name, args.runs_dir, args.results_dir, args.datasets)
    if summary:
        print(table([summary["name"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
