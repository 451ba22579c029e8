"""A micro BioALBERT fine-tuned on a few hundred NCBI-disease sentences, shared by the tagging tests.

Built once per session into pytest's base temp folder (both test modules reuse the same folder)."""

from pathlib import Path

import torch

LABELS = ["O", "B-Disease", "I-Disease"]


def read_conll(path: Path, max_sentences: int | None = None) -> list[tuple[list[str], list[str]]]:
    sentences, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append((words, tags))
                words, tags = [], []
                if max_sentences and len(sentences) == max_sentences:
                    break
            continue
        word, tag = line.split("\t")
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append((words, tags))
    return sentences


def finetune_micro(pretrained_dir: Path, data_dir: Path, output_dir: Path, steps: int = 300) -> Path:
    """Fine-tunes the micro model with transformers' Trainer until it tags diseases (first-piece labels)."""
    if (output_dir / "config.json").is_file():
        return output_dir
    from transformers import AutoTokenizer, DataCollatorForTokenClassification, Trainer, TrainingArguments

    from bioalbert.modeling import BioAlbertForTokenClassification

    tokenizer = AutoTokenizer.from_pretrained(pretrained_dir)
    label2id = {label: i for i, label in enumerate(LABELS)}
    model = BioAlbertForTokenClassification.from_pretrained(
        pretrained_dir, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=label2id
    )
    features = []
    for words, tags in read_conll(data_dir / "bioner" / "ncbi_disease" / "train.tsv", max_sentences=300):
        encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=128)
        previous, labels = None, []
        for word in encoding.word_ids():
            labels.append(-100 if word is None or word == previous else label2id[tags[word]])
            previous = word
        features.append({**encoding, "labels": labels})
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    # One intra-op thread: on a 2-core machine shared with other jobs, 2 OpenMP threads can make training 30x slower.
    torch.set_num_threads(1)
    args = TrainingArguments(
        output_dir=str(output_dir / "trainer"), max_steps=steps, per_device_train_batch_size=16, learning_rate=3e-3,
        warmup_steps=0.1, save_strategy="no", report_to=[], use_cpu=True, seed=0, disable_tqdm=True, logging_steps=50,
    )
    try:
        collator = DataCollatorForTokenClassification(tokenizer)
        Trainer(model=model, args=args, train_dataset=features, data_collator=collator).train()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def one_thread():
    """Runs a test module with one torch thread (see `finetune_micro`), restoring the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
