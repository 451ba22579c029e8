"""ALBERT pretraining data: documents -> pairs of consecutive segments (sentence-order prediction) -> examples
packed to `max_seq_length`, and the n-gram masking collator.

    documents (one per paragraph, one sentence per line)
      -> tokenised sentences                       (datasets `map`, batched, num_proc, cached)
      -> [CLS] A [SEP] B [SEP], A/B swapped with p=0.5 (sentence_order_label 1 = swapped)
      -> NgramMaskingCollator at batch time: spans of 1-3 whole words, 15% of the pieces, 80/10/10

Follows ALBERT's `create_pretraining_data.py` (Lan et al., 2019): segments fill the sequence (a `short_seq_prob`
share is shorter, so the model also sees short inputs), and n-gram lengths are drawn with p(n) proportional to 1/n.
Unlike ALBERT, masks are drawn at batch time rather than baked in `dupe_factor` times: each epoch sees fresh masks.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset, load_dataset
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase, TrainerCallback

from .datadir import check_text_file

METASPACE = "▁"
# Part of the cache file names: bump it when the example-building code changes, so stale caches are not reused.
DATA_FORMAT_VERSION = 2


def load_documents(
    corpus: Sequence[str | Path] = (),
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    text_column: str = "text",
    cache_dir: str | None = None,
) -> Dataset:
    """Loads documents as a `Dataset` with one `text` row per document (sentences separated by newlines).

    Text files (plain or .gz) hold one document per paragraph, documents separated by a blank line; datasets' own
    `text` builder splits them (`sample_by="paragraph"`) and caches the result. A Hub dataset gives one document per
    row of `text_column`.
    """
    if dataset_name:
        documents = load_dataset(dataset_name, dataset_config, split="train", cache_dir=cache_dir)
        if text_column not in documents.column_names:
            raise ValueError(f"Dataset {dataset_name} has no column {text_column!r}; it has {documents.column_names}.")
        return documents.select_columns([text_column]).rename_column(text_column, "text")
    files = [Path(path) for path in corpus]
    if not files:
        raise FileNotFoundError("No corpus files given (pass --corpus FILE [FILE ...] or a recipe with corpus globs).")
    for path in files:
        check_text_file(path)
        if path.stat().st_size == 0:
            raise ValueError(f"Corpus file is empty: {path}")
    return load_dataset(
        "text", data_files=[str(p) for p in files], sample_by="paragraph", split="train", cache_dir=cache_dir
    )


def tokenize_documents(batch: dict, tokenizer: PreTrainedTokenizerBase) -> dict:
    """`map` function: each document becomes a list of tokenised sentences (piece ids, no special tokens)."""
    sentences_per_doc = [[line for line in text.split("\n") if line.strip()] for text in batch["text"]]
    flat = [sentence for sentences in sentences_per_doc for sentence in sentences]
    ids = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    out, start = [], 0
    for sentences in sentences_per_doc:
        out.append([piece_ids for piece_ids in ids[start : start + len(sentences)] if piece_ids])
        start += len(sentences)
    return {"sentences": out}


def _truncate_pair(tokens_a: list[int], tokens_b: list[int], max_tokens: int, rng: random.Random) -> None:
    """Trims the longer segment, from its front or back at random (as in BERT/ALBERT), until the pair fits."""
    while len(tokens_a) + len(tokens_b) > max_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        del longer[0 if rng.random() < 0.5 else -1]


def sop_examples_from_document(
    sentences: list[list[int]],
    max_seq_length: int,
    cls_id: int,
    sep_id: int,
    rng: random.Random,
    short_seq_prob: float = 0.1,
) -> list[dict]:
    """Packs one document's consecutive sentences into `[CLS] A [SEP] B [SEP]` examples of up to `max_seq_length`.

    A and B are consecutive spans of sentences from the same document; with probability 0.5 they are swapped
    (`sentence_order_label` 1). A chunk of a single long sentence is cut in two at a random piece.
    """
    max_tokens = max_seq_length - 3  # [CLS], [SEP], [SEP]
    examples = []

    def emit(chunk: list[list[int]]) -> None:
        if len(chunk) >= 2:
            a_end = rng.randint(1, len(chunk) - 1)
            tokens_a = [t for sentence in chunk[:a_end] for t in sentence]
            tokens_b = [t for sentence in chunk[a_end:] for t in sentence]
        else:
            pieces = chunk[0][: 2 * max_tokens]  # a single sentence: cut it; the rest would be truncated anyway
            if len(pieces) < 2:
                return
            cut = rng.randint(1, len(pieces) - 1)
            tokens_a, tokens_b = pieces[:cut], pieces[cut:]
        _truncate_pair(tokens_a, tokens_b, max_tokens, rng)
        swapped = rng.random() < 0.5
        if swapped:
            tokens_a, tokens_b = tokens_b, tokens_a
        examples.append(
            {
                "input_ids": [cls_id, *tokens_a, sep_id, *tokens_b, sep_id],
                "token_type_ids": [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1),
                "sentence_order_label": int(swapped),
            }
        )

    target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    chunk, length = [], 0
    for sentence in sentences:
        chunk.append(sentence)
        length += len(sentence)
        if length >= target:
            emit(chunk)
            chunk, length = [], 0
            target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    if chunk:
        emit(chunk)
    return examples


def build_sop_examples(
    batch: dict,
    indices: list[int],
    max_seq_length: int,
    cls_id: int,
    sep_id: int,
    seed: int,
    short_seq_prob: float,
) -> dict:
    """Batched `map` function: documents in, SOP examples out (a different number of rows)."""
    out = {"input_ids": [], "token_type_ids": [], "sentence_order_label": []}
    for index, sentences in zip(indices, batch["sentences"]):
        # One generator per document, seeded by its row: the examples do not depend on batching or num_proc.
        rng = random.Random(seed * 1_000_003 + index)
        for example in sop_examples_from_document(sentences, max_seq_length, cls_id, sep_id, rng, short_seq_prob):
            for key, value in example.items():
                out[key].append(value)
    return out


def build_pretraining_dataset(
    documents: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int = 512,
    seed: int = 42,
    short_seq_prob: float = 0.1,
    num_proc: int | None = None,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Tokenises documents and packs them into SOP examples; both `map` steps are cached and reused.

    With `cache_dir`, the cache files are named by the inputs (tokenizer, length, seed), so a second run, or a
    resumed one, loads them instead of tokenising again; without it, datasets' fingerprint cache next to the
    source files does the same.
    """
    if max_seq_length < 8:
        raise ValueError(f"max_seq_length must be at least 8, got {max_seq_length}.")
    if len(documents) == 0:
        raise ValueError("The corpus holds no documents.")
    cache_files = {}
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = f"v{DATA_FORMAT_VERSION}-{documents._fingerprint}-{tokenizer.name_or_path.replace('/', '_')[-40:]}-{len(tokenizer)}"
        cache_files = {
            "tok": str(cache_dir / f"sentences-{key}.arrow"),
            "sop": str(cache_dir / f"sop-{key}-L{max_seq_length}-s{seed}-p{short_seq_prob}.arrow"),
        }
    sentences = documents.map(
        tokenize_documents,
        batched=True,
        batch_size=256,
        fn_kwargs={"tokenizer": tokenizer},
        remove_columns=documents.column_names,
        num_proc=num_proc,
        cache_file_name=cache_files.get("tok"),
        desc="Tokenising documents",
    )
    return sentences.map(
        build_sop_examples,
        batched=True,
        batch_size=64,
        with_indices=True,
        fn_kwargs=dict(
            max_seq_length=max_seq_length,
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            seed=seed,
            short_seq_prob=short_seq_prob,
        ),
        remove_columns=sentences.column_names,
        num_proc=num_proc,
        cache_file_name=cache_files.get("sop"),
        desc="Packing sentence-order pairs",
    )


@dataclass
class NgramMaskingCollator(DataCollatorForLanguageModeling):
    """transformers' MLM collator (padding, special-token handling, 80/10/10 replacement) with ALBERT's n-gram span
    selection in place of independent per-piece masking.

    Spans are 1..`max_ngram` whole words (a word starts at a piece beginning with "▁"), n drawn with p(n) ~ 1/n,
    until `mlm_probability` of the non-special pieces are chosen. Each chosen piece is then replaced by [MASK]
    (80%), a random piece (10%) or kept (10%). `sentence_order_label` and `token_type_ids` pass through.

    Examples that carry an `example_id` are masked with a generator seeded by (`seed`, `epoch`, example_id): the
    masks then depend on nothing else, so a run resumed from a checkpoint masks exactly as the uninterrupted run
    (Trainer's dataloader collates a batch ahead, so masks drawn from the global RNG would shift by a batch), and
    each epoch still sees new masks. `EpochSetter` keeps `epoch` in step with the Trainer. Without `example_id`,
    the seeded generator (`seed`) or the global RNG is used, as in the parent class.
    """

    max_ngram: int = 3
    epoch: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.max_ngram < 1:
            raise ValueError(f"max_ngram must be at least 1, got {self.max_ngram}.")
        pieces = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        self.word_start = torch.tensor([piece.startswith(METASPACE) for piece in pieces])
        self.special_ids = torch.tensor(sorted(set(self.tokenizer.all_special_ids)))
        weights = torch.tensor([1.0 / n for n in range(1, self.max_ngram + 1)])
        self.ngram_probs = weights / weights.sum()
        self._example_ids = None

    def torch_call(self, examples):
        has_ids = isinstance(examples[0], dict) and "example_id" in examples[0]
        self._example_ids = [example.pop("example_id") for example in examples] if has_ids else None
        return super().torch_call(examples)

    def _row_generator(self, example_id: int) -> torch.Generator:
        key = ((self.seed or 0) * 1_000_003 + self.epoch) * 10_000_019 + int(example_id)
        return torch.Generator().manual_seed(key % (2**63))

    def _select_spans(self, input_ids: torch.Tensor, maskable: torch.Tensor, generator) -> torch.Tensor:
        """Returns a bool mask of the pieces chosen for one sequence."""
        positions = maskable.nonzero().flatten().tolist()
        chosen = torch.zeros_like(maskable)
        if not positions:
            return chosen
        # Group maskable positions into words: a new word at each "▁" piece or after a gap (a special token).
        starts = self.word_start[input_ids[positions]].tolist()
        words, previous = [], None
        for position, is_start in zip(positions, starts):
            if not words or is_start or position != previous + 1:
                words.append([position])
            else:
                words[-1].append(position)
            previous = position
        budget = max(1, round(len(positions) * self.mlm_probability))
        order = torch.randperm(len(words), generator=generator).tolist()
        lengths = torch.multinomial(self.ngram_probs, len(words), replacement=True, generator=generator) + 1
        covered = [False] * len(words)
        n_chosen = 0
        for first, n in zip(order, lengths.tolist()):
            if n_chosen >= budget:
                break
            # Shorten the span until it fits the budget and stays inside the sequence (ALBERT does the same).
            while n > 1 and (
                first + n > len(words) or n_chosen + sum(len(w) for w in words[first : first + n]) > budget
            ):
                n -= 1
            span = range(first, min(first + n, len(words)))
            if any(covered[i] for i in span):
                continue
            span_pieces = [p for i in span for p in words[i]]
            if n_chosen + len(span_pieces) > budget and n_chosen > 0:
                continue  # one word longer than what is left: try another start
            for i in span:
                covered[i] = True
            chosen[span_pieces] = True
            n_chosen += len(span_pieces)
        return chosen

    def _mask_rows(self, inputs, labels, generator) -> None:
        """Chooses spans and applies 80/10/10 in place, for the rows of `inputs` (all drawn from `generator`)."""
        maskable = ~torch.isin(inputs, self.special_ids)
        masked = torch.stack([self._select_spans(ids, ok, generator) for ids, ok in zip(inputs, maskable)])
        labels[~masked] = -100
        replaced = torch.bernoulli(torch.full(labels.shape, self.mask_replace_prob), generator=generator).bool()
        replaced &= masked
        inputs[replaced] = self.tokenizer.mask_token_id
        leftover = 1 - self.mask_replace_prob
        if self.random_replace_prob > 0 and leftover > 0:
            scaled = torch.full(labels.shape, self.random_replace_prob / leftover)
            randomised = torch.bernoulli(scaled, generator=generator).bool() & masked & ~replaced
            random_ids = torch.randint(len(self.tokenizer), labels.shape, dtype=torch.long, generator=generator)
            inputs[randomised] = random_ids[randomised]

    def torch_mask_tokens(self, inputs, special_tokens_mask=None, offset_mapping=None):
        labels = inputs.clone()
        if self._example_ids is None:
            self._mask_rows(inputs, labels, self.generator)
        else:
            for row, example_id in enumerate(self._example_ids):
                self._mask_rows(inputs[row : row + 1], labels[row : row + 1], self._row_generator(example_id))
        return inputs, labels


class EpochSetter(TrainerCallback):
    """Tells the collator which epoch starts, so that its per-example masks change from epoch to epoch."""

    def __init__(self, collator: NgramMaskingCollator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = int(state.epoch or 0)
