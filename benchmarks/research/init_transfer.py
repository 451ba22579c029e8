"""Which part of a pretrained BioALBERT helps (or hurts) NER fine-tuning: fine-tunes the same benchmark from
starting points mixed from a pretrained and a random-init model, and prints dev / test entity F1 per start.

    python benchmarks/research/init_transfer.py --pretrained runs/reproduce/cpu-full/pretrained \\
        --random runs/reproduce/cpu-full/random-init --dataset ncbi_disease --seeds 13 \\
        --out runs/init_transfer --starts random pretrained embeddings-only encoder-only reinit-qk shrink:0.5

Starts (each saved as a model folder under --out, then fine-tuned with `bioalbert finetune` and --finetune-flags):
    random            the random-init model
    pretrained        the pretrained model
    ckpt:PATH         another pretrained model folder (e.g. an earlier pretraining checkpoint)
    embeddings-only   pretrained embeddings (albert.embeddings.*), everything else random
    encoder-only      pretrained encoder and heads, random embeddings
    reinit-qk         pretrained, with the attention query/key weights of the random model (uniform attention)
    shrink:L          L * pretrained + (1 - L) * random, weight by weight (Ash & Adams' shrink-and-perturb)

Model selection on devel only; the test score is that of the best dev checkpoint. Issue #4's diagnosis; results go
to --out/results.jsonl, one line per (start, seed).

Measured 2026-11-27 on 2 CPU cores (torch 2.13 CPU, transformers 5): ncbi_disease, seed 13, the cpu-full recipe's
fine-tuning (3 epochs, lr 5e-4, batch 32), the cpu-full tiny models (16k pieces; pretrained = the 8,000-step
`cpu-full-tiny-pubmed-rerun`, held-out MLM 11.7%; ckpt-N = its checkpoints at step N). Entity F1, dev / test:

    random            47.02 / 49.15      ckpt-500     39.95 / 43.94      embeddings-only   46.49 / 51.46
    pretrained        33.68 / 38.47      ckpt-1000    41.46 / 46.66      reinit-qk         41.50 / 45.72
                                         ckpt-2000    40.33 / 43.92      shrink:0.5        42.09 / 46.67
                                         ckpt-4000    34.33 / 38.73

Mean training loss over the 3 epochs: random 0.148, embeddings-only 0.152, pretrained 0.185, ckpt-4000 0.195: the
pretrained starts fit the training set worse, not better (no overfitting to blame). The pretrained encoder is what
hurts, and it hurts from the first 500 steps on, more the longer it trains: the pretrained embeddings alone are as
good a start as random ones, while every start that keeps the pretrained encoder (all of it, half of it, or all but
its attention patterns) is worse than random.

The learning rate decides the comparison. With the model pretrained with the piece prior in its MLM bias
(`cpu-full-tiny-pubmed-unigram`, `--starts pretrained random` with `--finetune-flags`), same dataset and seed:

    fine-tuning                 pretrained (dev / test)   random (dev / test)
    3 epochs, lr 2e-4           34.85 / 36.13             36.56 / 41.57
    3 epochs, lr 5e-4           42.64 / 45.43             47.02 / 49.15
    3 epochs, lr 1.5e-3         47.50 / 49.68             43.47 / 46.28
    10 epochs, lr 5e-4          48.78 / 47.99             58.47 / 57.80

The pretrained encoder wants a larger learning rate than random weights (its mean training loss: 0.207 at 2e-4,
0.147 at 1.5e-3). A likely reason: its weights are up to twice as large (norms), and an Adam step of the same size
moves them relatively less. At the cpu-full recipe's 5e-4 it is the one that underfits, and ten epochs at 5e-4 do
not close the gap; 3e-3 is too much (bc5cdr_chem, seed 13: the pretrained model predicts O everywhere, entity F1
0.00). The prior matters here: the zero-bias model above, at 3 epochs and lr 1.5e-3, reaches only
35.65 / 39.90.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from bioalbert.modeling import BioAlbertForPreTraining
from bioalbert.training import finetune
from bioalbert.training.tokenizer import load_tokenizer


def mix(pretrained: dict, random: dict, start: str) -> dict:
    """The state dict of a named start, built weight by weight from the two models."""
    if start == "embeddings-only":
        return {k: (pretrained if k.startswith("albert.embeddings.") else random)[k] for k in random}
    if start == "encoder-only":
        return {k: (random if k.startswith("albert.embeddings.") else pretrained)[k] for k in random}
    if start == "reinit-qk":
        return {k: (random if ".attention.query." in k or ".attention.key." in k else pretrained)[k] for k in random}
    if start.startswith("shrink:"):
        weight = float(start.split(":", 1)[1])
        return {k: weight * pretrained[k] + (1 - weight) * random[k] for k in random}
    raise ValueError(f"unknown start {start!r}")


def start_model(start: str, args, out: Path) -> str:
    if start == "random":
        return args.random
    if start == "pretrained":
        return args.pretrained
    if start.startswith("ckpt:"):
        return start.split(":", 1)[1]
    folder = out / "starts" / start.replace(":", "-")
    if not (folder / "model.safetensors").is_file():
        pretrained = BioAlbertForPreTraining.from_pretrained(args.pretrained)
        random = BioAlbertForPreTraining.from_pretrained(args.random)
        pretrained.load_state_dict(mix(pretrained.state_dict(), random.state_dict(), start))
        pretrained.save_pretrained(folder)
        load_tokenizer(args.pretrained).save_pretrained(folder)
    return str(folder)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", required=True)
    parser.add_argument("--random", required=True)
    parser.add_argument("--dataset", default="ncbi_disease")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", nargs="+", default=["13"])
    parser.add_argument("--starts", nargs="+", default=["random", "pretrained"])
    parser.add_argument("--finetune-flags", default="--num-train-epochs 3 --learning-rate 5e-4",
                        help="extra `bioalbert finetune` flags, one string (default: the cpu-full recipe's)")
    parser.add_argument("--out", default="runs/init_transfer")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for start in args.starts:
        model = start_model(start, args, out)
        name = start.replace(":", "-").replace("/", "_")
        output_dir = out / "ner" / f"{name}-{args.dataset}"
        flags = ["--model", model, "--dataset", args.dataset, "--output-dir", str(output_dir), "--model-name", name,
                 "--results-dir", str(out / "results"), "--seeds", *args.seeds, "--disable-tqdm", "true",
                 *shlex.split(args.finetune_flags)] + (["--data-dir", args.data_dir] if args.data_dir else [])
        if output_dir.exists():
            flags.append("--resume")
        finetune.main(flags)
        record = json.loads((out / "results" / name / f"{args.dataset}.json").read_text())
        with open(out / "results.jsonl", "a") as log:
            for run in record["runs"]:
                seed_run = json.loads((output_dir / f"seed-{run['seed']}" / "run.json").read_text())
                line = {"start": start, "dataset": args.dataset, "seed": run["seed"], "flags": args.finetune_flags,
                        "train_loss": round(seed_run["train_loss"], 4),
                        "dev_entity_f1": round(100 * run["dev_entity_f1"], 2),
                        "test_entity_f1": round(100 * run["entity_f1"], 2)}
                log.write(json.dumps(line) + "\n")
                print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
