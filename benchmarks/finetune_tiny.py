"""Reproduces the README's tiny-model BioNER numbers on a CPU: a 16k cased tokenizer -> a randomly initialised
tiny BioALBERT -> fine-tuned on ncbi_disease and bc5cdr_chem -> test entity and token F1, epochs, wall time.

    nice -n 5 python benchmarks/finetune_tiny.py                      # ~15-25 min per dataset on 2 shared cores
    python benchmarks/finetune_tiny.py --base-model runs/tiny-pubmed  # the same, from a pretrained checkpoint

Each step is skipped when its output exists (delete runs/ner/ to start over). Scores go to
results/<name>/<dataset>.json (the source of the README table); the table printed at the end is read back from them.
"""

import argparse
import json
import sys
from pathlib import Path

from bioalbert.training import finetune, init_model, tokenizer
from bioalbert.training.results import environment

DATASETS = ("ncbi_disease", "bc5cdr_chem")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default="runs/tok16k", help="Tokenizer folder; trained (16k pieces) if absent.")
    parser.add_argument("--base-model", default="runs/ner/tiny-random", help="Model to fine-tune; a random tiny one is initialised if absent.")
    parser.add_argument("--name", default=None, help="Results name (default: the base model folder's name).")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="High: a random model learns from scratch.")
    parser.add_argument("--seeds", nargs="+", default=["42"])
    parser.add_argument("--max-train-minutes", type=float, default=None,
                        help="Stop each training run after this long (a shared CPU); the epochs done are recorded.")
    parser.add_argument("--max-eval-sentences", type=int, default=None,
                        help="Pick the best checkpoint on the first N dev sentences (saves time; test is always whole).")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--runs-dir", default="runs/ner")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not Path(args.tokenizer, "tokenizer.json").is_file():
        tokenizer.main(["--vocab-size", "16000", "--max-lines", "200000", "--output-dir", args.tokenizer])
    if not Path(args.base_model, "config.json").is_file():
        init_model.main(["--preset", "tiny", "--tokenizer", args.tokenizer, "--output-dir", args.base_model, "--seed", "42"])
    name = args.name or Path(args.base_model).name
    for dataset in args.datasets:
        if Path(args.results_dir, name, f"{dataset}.json").is_file():
            print(f"{dataset}: results exist, skipping (delete {args.results_dir}/{name}/{dataset}.json to rerun)")
            continue
        output_dir = Path(args.runs_dir, f"{name}-{dataset}")
        finetune.main([
            "--model", args.base_model, "--dataset", dataset, "--output-dir", str(output_dir),
            "--model-name", name, "--results-dir", args.results_dir, "--seeds", *args.seeds,
            "--num-train-epochs", str(args.epochs), "--learning-rate", str(args.learning_rate),
            "--disable-tqdm", "true", *(["--resume"] if output_dir.exists() else []),
            *(["--max-train-minutes", str(args.max_train_minutes), "--lr-scheduler-type", "constant_with_warmup",
               "--warmup-steps", "20"] if args.max_train_minutes else []),
            *(["--max-eval-sentences", str(args.max_eval_sentences)] if args.max_eval_sentences else []),
        ])

    env = environment()
    print(f"\nmachine: {json.dumps(env['machine'])}\nversions: {json.dumps(env['versions'])}\n")
    print(f"| model | dataset | epochs done | entity F1 (strict) | token F1 | train wall time | total wall time |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for dataset in args.datasets:
        record = json.loads(Path(args.results_dir, name, f"{dataset}.json").read_text())
        entity, token, training = record["entity"], record["token"], record["training"]
        print(
            f"| {name} | {dataset} | {training['epochs']:.2f} | {100 * entity['f1']:.2f} ± {100 * entity['f1_std']:.2f} "
            f"| {100 * token['f1']:.2f} ± {100 * token['f1_std']:.2f} | {training['train_wall_time_s'] / 60:.1f} min "
            f"| {record['wall_time_s'] / 60:.1f} min |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
