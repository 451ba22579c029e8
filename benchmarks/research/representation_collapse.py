"""How alike a model makes the pieces of one sentence: the mean cosine similarity between the hidden states of
different pieces of the same sentence, after the embeddings and after each layer, on benchmark sentences.

    python benchmarks/research/representation_collapse.py runs/reproduce/cpu-full/random-init runs/reproduce/cpu-full/pretrained

A value near 1 means every piece carries (nearly) the same vector, so the tagger on top has almost nothing
piece-specific to read; `--center` subtracts the mean hidden state over all pieces first, which shows whether what
the pieces share is one common offset.

Measured 2026-11-27 on 64 NCBI-disease devel sentences (embeddings, then layers 1-4), tiny models:

    random init (16k pieces)                               0.358 0.365 0.374 0.386 0.399
    cpu-full-tiny-pubmed-rerun, 8,000 steps, zero bias     0.187 0.357 0.504 0.617 0.723   (centred: ... 0.109)
    cpu-demo, 150 steps, zero MLM bias                     0.466 0.931 0.995 1.000 1.000   (centred: ... -0.005)
    cpu-demo, 150 steps, bias at the unigram prior         0.064 0.084 0.123 0.173 0.232
    cpu-full-tiny-pubmed-unigram, 7,863 steps, prior       0.286 0.508 0.586 0.679 0.752

Pretraining that starts the MLM output bias at zero drives the pieces towards one shared vector (the centred values
stay near 0: the pieces differ only by a small residue next to a large common offset), and NER fine-tuned from such a
model trails random init (`benchmarks/research/init_transfer.py`); starting the bias at the log piece frequencies
(`bioalbert pretrain --mlm_bias_init unigram`, the default) removes the offset early on; over a 45-minute run the
similarity climbs by the last layer with or without it.
"""

import argparse
import sys

import torch

from bioalbert.modeling import BioAlbertModel
from bioalbert.training.bioner_data import read_conll
from bioalbert.training.datadir import resolve_data_dir
from bioalbert.training.tokenizer import load_tokenizer


def layer_similarities(model_dir: str, sentences: list[str], center: bool) -> list[float]:
    tokenizer = load_tokenizer(model_dir)
    model = BioAlbertModel.from_pretrained(model_dir, output_hidden_states=True).eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        hidden_states = model(**batch).hidden_states
    mask = batch["attention_mask"].bool()
    means = []
    for hidden in hidden_states:
        if center:
            hidden = hidden - hidden[mask].mean(0)
        per_sentence = []
        for states, keep in zip(hidden, mask):
            unit = torch.nn.functional.normalize(states[keep], dim=-1)
            n = len(unit)
            per_sentence.append(((unit @ unit.T).sum() - n) / (n * n - n))
        means.append(torch.stack(per_sentence).mean().item())
    return means


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders (any BioALBERT checkpoint)")
    parser.add_argument("--dataset", default="ncbi_disease")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--center", action="store_true")
    args = parser.parse_args(argv)
    examples = read_conll(resolve_data_dir(args.data_dir) / "bioner" / args.dataset / "devel.tsv")
    sentences = [" ".join(example["tokens"]) for example in examples[: args.sentences]]
    print(f"mean within-sentence cosine similarity, embeddings then each layer ({args.dataset} devel, "
          f"{len(sentences)} sentences{', centred' if args.center else ''})")
    for model_dir in args.models:
        print(f"{model_dir:60s}", " ".join(f"{value:.3f}" for value in layer_similarities(model_dir, sentences,
                                                                                           args.center)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
