"""The BioNER metric: `compute_ner_metrics(references, predictions)` through the `evaluate` module kept next to this
file (`bioner_seqeval.py`, loaded by path: the Hub's "seqeval" module cannot be fetched offline)."""

from functools import lru_cache
from pathlib import Path

METRIC_PATH = Path(__file__).resolve().with_name("bioner_seqeval.py")


@lru_cache(maxsize=1)
def load_metric():
    import evaluate

    return evaluate.load(str(METRIC_PATH))


def compute_ner_metrics(references: list[list[str]], predictions: list[list[str]]) -> dict:
    """Entity-level strict IOB2 micro P/R/F1 (seqeval), `per_type` scores, and token-level P/R/F1.

    Keys: entity_precision, entity_recall, entity_f1, entity_number, per_type, token_precision, token_recall,
    token_f1, token_number. Tags are IOB2 strings; each predicted sentence must match its reference's length.
    """
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} reference sentences but {len(predictions)} predicted sentences")
    return load_metric().compute(references=references, predictions=predictions)


__all__ = ["METRIC_PATH", "compute_ner_metrics", "load_metric"]
