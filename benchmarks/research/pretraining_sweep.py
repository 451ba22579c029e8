"""Short tiny-model pretraining runs under changed architectures and settings, on the exact examples and masks of the
`cpu-full` recipe: the experiment behind issue #4's unigram plateau (held-out MLM accuracy stuck near 12%).

    python benchmarks/research/pretraining_sweep.py prepare --tokenizer runs/reproduce/cpu-full/tokenizer --out sweep.pt
    python benchmarks/research/pretraining_sweep.py run --examples sweep.pt --out sweep.jsonl base bert preln lr3e-3
    python benchmarks/research/pretraining_sweep.py prepare ... --piece-masking  # then: run ... base (logged as "base+piecemask")
    python benchmarks/research/pretraining_sweep.py bigram --examples sweep.pt  # count-based reference on the same masks

`prepare` builds the SOP examples as `bioalbert pretrain --variant tiny-pubmed` does (same corpus, tokenizer, seed 42,
200 held-out documents, first 256 held-out examples) and masks `--epochs` epochs with the pretraining collator
(`--piece-masking`: independent pieces instead of whole-word n-grams, for the training epochs only; held-out
masks stay whole-word, so accuracies compare). `run` trains each named config in turn, in one process (on a GPU,
parallel processes share it badly), with the recipe's optimizer and schedule (AdamW, batch 32, lr 1e-3, warmup 400,
linear decay over 8,000 steps, clip 1.0, bf16 autocast), and logs held-out MLM/SOP accuracy as JSON lines.
A config not in CONFIGS is an error; `--max-seconds` caps each run.

Measured (2026-11-26; `results/benchmarks/pretraining_sweep/`; the runs there came from this script's first
version, same settings and examples), held-out MLM accuracy at step 4,000 / last step, H100, bf16, ~20 ms a step:
BioALBERT tiny 11.5% / 11.2% (step 4,153); transformers' BERT of the same size (unshared, no factorisation)
11.8% / 12.0% (4,834); BioALBERT with pre-LN layers 12.0% / 12.2% (4,627); pre-LN at lr 3e-3 12.2% / 12.4% (4,952);
lr 3e-3 post-LN collapses to 3.1% (one constant prediction); independent-piece masking for training 12.2% / 12.6%
(8,000), with a *training* accuracy of only 13% on those far easier piece masks. With piece masking at step 1,000: BioALBERT 8.7% (H100); on this CPU torch.nn's encoder
post-LN 8.6%, pre-LN 4.0%. lr 3e-4 on this CPU: 4.9% at step 500 (lr 1e-3: 6.0%). So the plateau is not specific to
ALBERT's factorisation, sharing, post-LN order, masking scheme or transformers' attention: every model of this
size stays near it at the recipe's budget of 8,000 steps of 32 x 128 pieces.
The plateau is the bigram level: count-based predictors built from the same training examples (`bigram`, scored on
the same held-out masks, 3,988 pieces) reach 3.3% (most frequent piece), 9.6% (left neighbour's most frequent
follower) and 12.5% (both neighbours).
"""

import argparse
import glob
import json
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

LENGTH = 128
SEED = 42  # TrainingArguments' default, which `bioalbert pretrain` uses
CONFIGS = {
    "base": {},
    "lr3e-3": {"lr": 3e-3, "warmup": 800},
    "lr3e-4": {"lr": 3e-4},
    "preln": {"pre_layer_norm": True},
    "preln_lr3e-3": {"pre_layer_norm": True, "lr": 3e-3, "warmup": 800},
    "unshared": {"model": {"num_hidden_groups": 4}},
    "emb256": {"model": {"embedding_size": 256}},
    "mlm_only": {"sop_weight": 0.0},
    "bert": {"arch": "bert"},
    "torch_preln": {"arch": "torch", "norm_first": True},
    "torch_postln": {"arch": "torch", "norm_first": False},
}


def prepare(args) -> None:
    from bioalbert.training.datadir import resolve_data_dir
    from bioalbert.training.pretrain import PretrainArguments
    from bioalbert.training.pretraining_data import NgramMaskingCollator, build_pretraining_dataset, load_documents
    from bioalbert.training.recipes import get_recipe
    from bioalbert.training.tokenizer import load_tokenizer

    recipe = get_recipe("tiny-pubmed")
    data_dir = resolve_data_dir(args.data_dir)
    files = sorted(f for pattern in recipe.corpus for f in glob.glob(str(data_dir / pattern)))
    if not files:
        raise SystemExit(f"no corpus files under {data_dir} for {recipe.corpus}")
    tokenizer = load_tokenizer(args.tokenizer)
    defaults = PretrainArguments()  # the pretraining job's data settings, so the examples and masks are its own
    split = load_documents(files).train_test_split(test_size=defaults.validation_documents, seed=SEED)
    examples = {}
    for name, documents in (("train", split["train"]), ("eval", split["test"])):
        dataset = build_pretraining_dataset(documents, tokenizer, max_seq_length=LENGTH, seed=SEED,
                                            short_seq_prob=defaults.short_seq_prob)
        if name == "eval":
            dataset = dataset.select(range(min(defaults.max_eval_examples, len(dataset))))
        columns = dataset.select_columns(["input_ids", "token_type_ids", "sentence_order_label"])
        rows = [dict(row, example_id=i) for i, row in enumerate(columns)]
        epochs = args.epochs if name == "train" else 1
        ids = torch.zeros(epochs, len(rows), LENGTH, dtype=torch.int16)
        labels = torch.full((epochs, len(rows), LENGTH), -100, dtype=torch.int16)
        token_types = torch.zeros(len(rows), LENGTH, dtype=torch.int8)
        collator = NgramMaskingCollator(tokenizer=tokenizer, mlm_probability=defaults.mlm_probability,
                                        max_ngram=defaults.max_ngram, seed=SEED)
        if name == "train" and args.piece_masking:
            collator.word_start, collator.ngram_probs = torch.ones_like(collator.word_start), torch.tensor([1.0])
        for epoch in range(epochs):
            collator.epoch = epoch
            for start in range(0, len(rows), 1024):
                batch = collator([dict(row) for row in rows[start : start + 1024]])  # the collator pops example_id
                stop, width = start + len(batch["input_ids"]), batch["input_ids"].shape[1]
                ids[epoch, start:stop, :width] = batch["input_ids"]
                labels[epoch, start:stop, :width] = batch["labels"]
                token_types[start:stop, :width] = batch["token_type_ids"]
        examples[name] = dict(ids=ids, labels=labels, token_type_ids=token_types,
                              length=torch.tensor([len(row["input_ids"]) for row in rows], dtype=torch.int16),
                              sop=torch.tensor(columns["sentence_order_label"], dtype=torch.int8))
        print(f"{name}: {len(rows)} examples, {epochs} epoch(s) of masks", flush=True)
    examples.update(pad_id=tokenizer.pad_token_id, vocab_size=len(tokenizer), piece_masking=args.piece_masking)
    torch.save(examples, args.out)


class BertPretraining(nn.Module):
    """transformers' BERT of the tiny size (unshared layers, no factorised embeddings), with BioALBERT's outputs."""

    def __init__(self, vocab_size: int, pad_id: int):
        super().__init__()
        from transformers import BertConfig, BertForPreTraining

        self.bert = BertForPreTraining(BertConfig(
            vocab_size=vocab_size, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=pad_id, max_position_embeddings=512))

    def forward(self, input_ids, labels, token_type_ids, attention_mask, sentence_order_label):
        output = self.bert(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
        return _outputs(output.prediction_logits[labels != -100], output.seq_relationship_logits, labels,
                        sentence_order_label)


class TorchPretraining(nn.Module):
    """torch.nn.TransformerEncoder of the tiny size (learned absolute positions, GELU), post- or pre-LN."""

    def __init__(self, vocab_size: int, norm_first: bool):
        super().__init__()
        self.norm_first = norm_first
        self.tokens, self.positions, self.types = (nn.Embedding(n, 256) for n in (vocab_size, 512, 2))
        for embedding in (self.tokens, self.positions, self.types):
            nn.init.normal_(embedding.weight, std=0.02)
        layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True, norm_first=norm_first,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.norm, self.readout, self.sop = nn.LayerNorm(256), nn.Linear(256, vocab_size), nn.Linear(256, 2)

    def forward(self, input_ids, labels, token_type_ids, attention_mask, sentence_order_label):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        embedded = self.tokens(input_ids) + self.positions(positions) + self.types(token_type_ids)
        hidden = self.encoder(embedded if self.norm_first else self.norm(embedded),
                              src_key_padding_mask=attention_mask == 0)
        hidden = self.norm(hidden) if self.norm_first else hidden
        return _outputs(self.readout(hidden[labels != -100]), self.sop(hidden[:, 0]), labels, sentence_order_label)


def _outputs(mlm_logits, sop_logits, labels, sop_labels):
    cross_entropy = nn.functional.cross_entropy
    return types.SimpleNamespace(prediction_logits=mlm_logits, sop_logits=sop_logits,
                                 mlm_loss=cross_entropy(mlm_logits.float(), labels[labels != -100]),
                                 sop_loss=cross_entropy(sop_logits.float(), sop_labels))


def build_model(settings: dict, examples: dict) -> nn.Module:
    torch.manual_seed(42)
    if settings.get("arch") == "bert":
        return BertPretraining(examples["vocab_size"], examples["pad_id"])
    if settings.get("arch") == "torch":
        return TorchPretraining(examples["vocab_size"], settings["norm_first"])
    from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining

    config = BioAlbertConfig.from_preset("tiny", vocab_size=examples["vocab_size"], pad_token_id=examples["pad_id"],
                                         max_position_embeddings=512, **settings["model"])
    model = BioAlbertForPreTraining(config)
    if settings.get("pre_layer_norm"):
        from positional_probe import PreLNTransformer

        model.albert.encoder = PreLNTransformer(config)
        model.albert.encoder.apply(model._init_weights)
    return model


def recipe_settings() -> dict:
    """The tiny-pubmed recipe's optimisation settings, which every config starts from."""
    from bioalbert.training.recipes import get_recipe

    recipe = get_recipe("tiny-pubmed")
    return {"batch": recipe.per_device_batch_size * recipe.gradient_accumulation_steps, "lr": recipe.learning_rate,
            "warmup": recipe.warmup_steps, "steps": recipe.max_steps, "weight_decay": recipe.weight_decay,
            "beta2": 0.999, "sop_weight": 1.0, "model": {}}  # AdamW's default beta2, as the Trainer's


def train(name: str, examples: dict, out: Path, max_seconds: float, eval_every: int) -> None:
    settings = {**recipe_settings(), **CONFIGS[name]}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = build_model(settings, examples).to(device).train()
    # As the Trainer: no weight decay on biases and LayerNorm weights; ALBERT's Adam epsilon (pretrain.py).
    groups = {True: [], False: []}
    for parameter_name, parameter in model.named_parameters():
        groups["bias" in parameter_name or "norm" in parameter_name.lower()].append(parameter)
    optimizer = torch.optim.AdamW([{"params": groups[False], "weight_decay": settings["weight_decay"]},
                                   {"params": groups[True], "weight_decay": 0.0}],
                                  lr=settings["lr"], betas=(0.9, settings["beta2"]), eps=1e-6)
    steps, warmup = settings["steps"], settings["warmup"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    train_set, eval_set = examples["train"], examples["eval"]
    label = f"{name}+piecemask" if examples["piece_masking"] else name

    def batch_of(part, rows, epoch=0):
        width = (int(part["length"][rows].max()) + 7) // 8 * 8
        attention_mask = (torch.arange(width)[None, :] < part["length"][rows].long()[:, None]).long()
        input_ids = part["ids"][epoch, rows, :width].long()
        input_ids[attention_mask == 0] = examples["pad_id"]
        batch = dict(input_ids=input_ids, labels=part["labels"][epoch, rows, :width].long(),
                     token_type_ids=part["token_type_ids"][rows, :width].long(), attention_mask=attention_mask,
                     sentence_order_label=part["sop"][rows].long())
        return {key: value.to(device) for key, value in batch.items()}

    def evaluate() -> dict:
        model.eval()
        correct = total = sop_correct = 0
        loss_sum = 0.0
        rows = torch.arange(len(eval_set["length"]))
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16):
            for start in range(0, len(rows), 64):
                batch = batch_of(eval_set, rows[start : start + 64])
                output = model(**batch)
                target = batch["labels"][batch["labels"] != -100]
                correct += (output.prediction_logits.argmax(-1) == target).sum().item()
                total += target.numel()
                loss_sum += output.mlm_loss.item() * target.numel()
                sop_correct += (output.sop_logits.argmax(-1) == batch["sentence_order_label"]).sum().item()
        model.train()
        return {"mlm_accuracy": round(correct / total, 4), "mlm_loss": round(loss_sum / total, 4),
                "sop_accuracy": round(sop_correct / len(rows), 4)}

    def log(record: dict) -> None:
        line = json.dumps({"config": label, "device": device, **record})
        print(line, flush=True)
        with out.open("a") as handle:
            handle.write(line + "\n")

    n_epochs, n_rows = train_set["ids"].shape[:2]
    start, step, epoch, position = time.time(), 0, 0, 0
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(42))
    train_correct = train_total = 0
    while step < steps:
        if position + settings["batch"] > n_rows:
            epoch, position = epoch + 1, 0
            order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(42 + epoch))
        batch = batch_of(train_set, order[position : position + settings["batch"]], epoch % n_epochs)
        position += settings["batch"]
        with torch.autocast(device, dtype=torch.bfloat16):
            output = model(**batch)
            loss = output.mlm_loss + settings["sop_weight"] * output.sop_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step % 100 == 0:  # training accuracy on a sample of steps, to tell fitting from generalising
            target = batch["labels"][batch["labels"] != -100]
            train_correct += (output.prediction_logits.argmax(-1) == target).sum().item()
            train_total += target.numel()
        stop = time.time() - start > max_seconds
        if step % eval_every == 0 or step == steps or stop:
            log({"step": step, "seconds": round(time.time() - start, 1),
                 "train_mlm_accuracy": round(train_correct / max(1, train_total), 4), **evaluate()})
            train_correct = train_total = 0
        if stop:
            break


def bigram_reference(examples: dict) -> dict:
    """Held-out masked-piece accuracy of count-based predictors built from the training examples' original text:
    the most frequent piece; the most frequent follower of the visible left neighbour; and both neighbours,
    argmax_x P(x | left) P(x | right) / P(x) (add-0.1 smoothing). The reference a model that uses only the adjacent
    pieces reaches, so a neural model near it has learnt no more than bigram statistics."""
    from collections import Counter, defaultdict

    train = examples["train"]
    text = torch.where(train["labels"][0] != -100, train["labels"][0], train["ids"][0]).long()
    unigram, after, before = Counter(), defaultdict(Counter), defaultdict(Counter)
    for row, length in zip(text.tolist(), train["length"].tolist()):
        row = row[:length]
        unigram.update(row[1:-1])
        for left, right in zip(row[:-1], row[1:]):
            after[left][right] += 1
            before[right][left] += 1
    total, top = sum(unigram.values()), unigram.most_common(1)[0][0]
    held_out = examples["eval"]
    hits = Counter()
    for ids, labels in zip(held_out["ids"][0].long().tolist(), held_out["labels"][0].long().tolist()):
        for position, target in enumerate(labels):
            if target == -100:
                continue
            hits["masked"] += 1
            hits["unigram"] += target == top
            following = after.get(ids[position - 1])
            hits["left"] += (following.most_common(1)[0][0] if following else top) == target
            preceding = before.get(ids[position + 1]) if position + 1 < len(ids) else None
            scores = {}
            if following:
                scores = {x: (c + 0.1) / following.total() for x, c in following.items()}
            if preceding:
                scores = {x: scores.get(x, 1e-6) * (preceding.get(x, 0) + 0.1) / preceding.total()
                          / (unigram.get(x, 1) / total) for x in set(scores) | set(preceding)}
            hits["both"] += (max(scores, key=scores.get) if scores else top) == target
    return {"masked_pieces": hits["masked"], "train_pieces": total,
            **{f"{name}_accuracy": round(hits[name] / hits["masked"], 4) for name in ("unigram", "left", "both")}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument("--tokenizer", required=True)
    prep.add_argument("--data-dir", default=None, help="default: $BIOALBERT_DATA, else ../shared/data")
    prep.add_argument("--epochs", type=int, default=6, help="epochs of masks (8,000 x 32 rows are ~6 epochs)")
    prep.add_argument("--piece-masking", action="store_true")
    prep.add_argument("--out", type=Path, required=True)
    run = commands.add_parser("run")
    run.add_argument("--examples", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--max-seconds", type=float, default=float("inf"), help="wall-clock cap per config")
    run.add_argument("--eval-every", type=int, default=500)
    run.add_argument("configs", nargs="+", choices=sorted(CONFIGS))
    bigram = commands.add_parser("bigram", help="count-based unigram/bigram reference on the same held-out masks")
    bigram.add_argument("--examples", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args)
        return 0
    if args.command == "bigram":
        print(json.dumps(bigram_reference(torch.load(args.examples))))
        return 0
    examples = torch.load(args.examples)
    for name in args.configs:
        train(name, examples, args.out, args.max_seconds, args.eval_every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
