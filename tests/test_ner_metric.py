"""The BioNER metric: hand-checked strict entity counts, token-level F1, and agreement with an independent span
count on real benchmark tags."""

import random

import pytest

from bioalbert.training.bioner_data import load_bioner
from bioalbert.training.ner_metric import METRIC_PATH, compute_ner_metrics


def test_metric_module_ships_inside_the_package():
    assert METRIC_PATH.is_file() and METRIC_PATH.parent.name == "ner_metric"
    assert "seqeval" not in [part for part in METRIC_PATH.parent.parts]  # evaluate would look there first


def test_boundary_error_is_one_false_positive_and_one_false_negative():
    gold = [["B-Disease", "I-Disease", "O", "B-Disease"]]
    predicted = [["B-Disease", "O", "O", "B-Disease"]]  # first entity cut short, second right
    metrics = compute_ner_metrics(gold, predicted)
    # TP 1, FP 1 (the short span), FN 1 (the full span): P = R = F1 = 1/2.
    assert metrics["entity_precision"] == pytest.approx(0.5)
    assert metrics["entity_recall"] == pytest.approx(0.5)
    assert metrics["entity_f1"] == pytest.approx(0.5)
    assert metrics["entity_number"] == 2
    # Token level: 2 of 3 gold entity tokens found, no wrong token: P 1, R 2/3, F1 0.8.
    assert metrics["token_precision"] == pytest.approx(1.0)
    assert metrics["token_recall"] == pytest.approx(2 / 3)
    assert metrics["token_f1"] == pytest.approx(0.8)


def test_wrong_type_counts_against_both_levels_and_per_type():
    gold = [["B-Chemical", "O", "B-Disease", "I-Disease"]]
    predicted = [["B-Disease", "O", "B-Disease", "I-Disease"]]
    metrics = compute_ner_metrics(gold, predicted)
    assert metrics["per_type"]["Chemical"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1}
    disease = metrics["per_type"]["Disease"]
    assert disease["precision"] == pytest.approx(0.5) and disease["recall"] == pytest.approx(1.0)
    # Tokens: 2 TP (Disease), the Chemical token is both a FP (Disease predicted) and a FN.
    assert metrics["token_precision"] == pytest.approx(2 / 3) and metrics["token_recall"] == pytest.approx(2 / 3)


def test_strict_mode_ignores_entities_that_start_with_i():
    metrics = compute_ner_metrics([["O", "B-Disease", "I-Disease"]], [["O", "I-Disease", "I-Disease"]])
    assert metrics["entity_f1"] == 0.0 and metrics["entity_recall"] == 0.0  # no valid predicted entity
    assert metrics["token_f1"] == pytest.approx(1.0)  # every entity token has the right type


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="Sentence 0: 2 reference tags but 1 predicted"):
        compute_ner_metrics([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 reference sentences but 2 predicted"):
        compute_ner_metrics([["O"]], [["O"], ["O"]])


def spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """Strict IOB2 entities, counted independently of seqeval: B-X followed by I-X*."""
    found, start, kind = set(), None, None
    for position, tag in enumerate(tags + ["O"]):
        if start is not None and tag != f"I-{kind}":
            found.add((kind, start, position))
            start = None
        if tag.startswith("B-"):
            start, kind = position, tag[2:]
    return found


def corrupt(tags: list[str], rng: random.Random) -> list[str]:
    """Plausible model errors: dropped entity tokens, shifted boundaries, wrong types, stray I- tags."""
    out = list(tags)
    for position in range(len(out)):
        roll = rng.random()
        if roll < 0.05:
            out[position] = "O"
        elif roll < 0.08:
            out[position] = "B-Chemical" if out[position].endswith("Disease") else "I-Disease"
        elif roll < 0.10:
            out[position] = "I-Chemical"
    return out


def test_entity_scores_agree_with_an_independent_span_count(data_dir):
    test = load_bioner("bc5cdr", data_dir=data_dir)["test"].select(range(400))
    names = test.features["ner_tags"].feature.names
    gold = [[names[i] for i in tags] for tags in test["ner_tags"]]
    rng = random.Random(0)
    predicted = [corrupt(tags, rng) for tags in gold]
    metrics = compute_ner_metrics(gold, predicted)

    true_positives = sum(len(spans(g) & spans(p)) for g, p in zip(gold, predicted))
    n_gold = sum(len(spans(g)) for g in gold)
    n_predicted = sum(len(spans(p)) for p in predicted)
    assert 0 < true_positives < n_gold  # the corruption left some entities right and broke others
    assert metrics["entity_number"] == n_gold
    assert metrics["entity_precision"] == pytest.approx(true_positives / n_predicted)
    assert metrics["entity_recall"] == pytest.approx(true_positives / n_gold)
    for kind in ("Chemical", "Disease"):
        kind_gold = sum(1 for g in gold for span in spans(g) if span[0] == kind)
        kind_tp = sum(1 for g, p in zip(gold, predicted) for span in spans(g) & spans(p) if span[0] == kind)
        assert metrics["per_type"][kind]["number"] == kind_gold
        assert metrics["per_type"][kind]["recall"] == pytest.approx(kind_tp / kind_gold)

    assert compute_ner_metrics(gold, gold)["entity_f1"] == 1.0
