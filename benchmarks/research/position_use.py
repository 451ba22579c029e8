"""How much a pretrained BioALBERT uses word order: the evidence behind the ALiBi runs of issue #4.

    python benchmarks/research/position_use.py runs/cpu-full-task/pretrained runs/cpu-full-alibi/pretrained \
        runs/cpu-full-alibi/random-init

For each model folder it prints
- the standard deviation of the learned position table next to that of the word table (both start at 0.02): a
  position table that stayed at its start while the word table grew means the encoder never used positions much;
- per layer, the attention mass on the two adjacent pieces (|i - j| = 1), averaged over heads and queries, on the
  first 200 NCBI-disease devel sentences (a uniform head would put 2 / length there: printed as `uniform`);
- masked-piece accuracy on those sentences (each piece masked in turn, 1 in 7) with the sentence as it is and with
  the other pieces shuffled: the drop is what word order is worth to the model.

Runs on CPU in a minute per model; `--sentences N` changes the sample.
"""

import argparse
import random
from pathlib import Path

import torch

from bioalbert.modeling import BioAlbertForPreTraining
from bioalbert.training.bioner_data import read_conll
from bioalbert.training.datadir import resolve_data_dir
from bioalbert.training.tokenizer import load_tokenizer

MASK_EVERY = 7


def encode(tokenizer, data_dir: Path, limit: int) -> list[list[int]]:
    """The first `limit` NCBI-disease devel sentences as piece ids, cut to fit 128 with [CLS] and [SEP]."""
    texts = [" ".join(s["tokens"]) for s in read_conll(data_dir / "bioner/ncbi_disease/devel.tsv")][:limit]
    return [ids[:126] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def with_specials(tokenizer, ids: list[int]) -> torch.Tensor:
    return torch.tensor([[tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]])


def masked_accuracy(model, tokenizer, sentences: list[list[int]], shuffle: bool, seed: int = 0) -> float:
    """Share of masked pieces predicted exactly; each sentence is masked at offsets k, k+7, ... for k in 0..6."""
    rng = random.Random(seed)
    correct = total = 0
    for pieces in sentences:
        for offset in range(MASK_EVERY):
            targets = list(range(offset, len(pieces), MASK_EVERY))
            if not targets:
                continue
            ids = list(pieces)
            for position in targets:
                ids[position] = tokenizer.mask_token_id
            if shuffle:  # keep the masks where they are, shuffle every other piece among the unmasked positions
                kept = [i for i in range(len(ids)) if i % MASK_EVERY != offset]
                values = [ids[i] for i in kept]
                rng.shuffle(values)
                for i, value in zip(kept, values):
                    ids[i] = value
            with torch.no_grad():
                logits = model(input_ids=with_specials(tokenizer, ids)).prediction_logits[0, 1:-1]
            predicted = logits[targets].argmax(-1)
            correct += int((predicted == torch.tensor([pieces[p] for p in targets])).sum())
            total += len(targets)
    return correct / max(total, 1)


def adjacent_attention(model, tokenizer, sentences: list[list[int]]) -> tuple[list[float], float]:
    """Mean attention mass on |i - j| = 1 per layer, and what a uniform head would put there."""
    model.config._attn_implementation = "eager"  # attention probabilities are returned by eager attention only
    sums, uniform = None, 0.0
    for pieces in sentences:
        input_ids = with_specials(tokenizer, pieces)
        with torch.no_grad():
            attentions = model(input_ids=input_ids, output_attentions=True).attentions
        length = input_ids.shape[1]
        distance = (torch.arange(length)[None, :] - torch.arange(length)[:, None]).abs()
        adjacent = [float((layer[0] * (distance == 1)).sum(-1).mean()) for layer in attentions]
        sums = adjacent if sums is None else [a + b for a, b in zip(sums, adjacent)]
        uniform += float((distance == 1).sum(-1).float().mean()) / length
    return [s / len(sentences) for s in sums], uniform / len(sentences)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sentences", type=int, default=200)
    args = parser.parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    for folder in args.models:
        model = BioAlbertForPreTraining.from_pretrained(folder).eval()
        tokenizer = load_tokenizer(folder)
        sentences = encode(tokenizer, data_dir, args.sentences)
        embeddings = model.albert.embeddings
        print(f"{folder} (position_bias={model.config.position_bias})")
        print(f"  table std: positions {embeddings.position_embeddings.weight.std():.4f}, "
              f"words {embeddings.word_embeddings.weight.std():.4f}")
        per_layer, uniform = adjacent_attention(model, tokenizer, sentences)
        print(f"  attention on adjacent pieces per layer: {' '.join(f'{m:.3f}' for m in per_layer)} "
              f"(uniform {uniform:.3f})")
        model.config._attn_implementation = "sdpa"
        ordered = masked_accuracy(model, tokenizer, sentences, shuffle=False)
        shuffled = masked_accuracy(model, tokenizer, sentences, shuffle=True)
        print(f"  masked-piece accuracy: in order {100 * ordered:.1f}%, context shuffled {100 * shuffled:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
