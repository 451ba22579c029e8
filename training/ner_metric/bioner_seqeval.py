"""BioNER metric (an `evaluate` module): entity-level strict F1 with seqeval, plus token-level F1.

Kept in this repository because the Hub's "seqeval" module cannot be fetched offline; `evaluate.load` takes it
by path (see `bioalbert.training.ner_metric.load_metric`). It imports nothing from bioalbert, so `evaluate` can copy
it into its module cache and run it anywhere seqeval is installed.
"""

import datasets
import evaluate
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

_CITATION = """\
@inproceedings{ramshaw-marcus-1995-text, title={Text Chunking using Transformation-Based Learning},
  author={Ramshaw, Lance and Marcus, Mitch}, booktitle={Third Workshop on Very Large Corpora}, year={1995}}
@misc{seqeval, title={{seqeval}: A Python framework for sequence labeling evaluation},
  author={Hiroki Nakayama}, year={2018}, url={https://github.com/chakki-works/seqeval}}
"""

_DESCRIPTION = """\
Entity level (the standard BioNER score, BioBERT's): seqeval in strict mode with the IOB2 scheme. An entity is
a maximal B-X I-X* run; a predicted entity counts only if its type, start and end all equal a gold entity's, so a
boundary error is one false positive and one false negative. Predicted I-X tags that do not continue a B-X/I-X
start no entity (strict mode). Micro-averaged precision, recall and F1 over all entities, and the same per type.

Token level (reported separately, labelled as such; it is what BioALBERT's published ~97 F1 on NCBI-disease most
likely measured): every token's tag is reduced to its entity type (B-/I- prefix dropped, O stays O). A token is a
true positive when gold and predicted types are equal and not O, a false positive when the predicted type is not
O and differs from the gold one, a false negative when the gold type is not O and differs from the predicted one
(a wrong type is both). Micro precision, recall and F1 over tokens.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: list of sentences, each a list of IOB2 tag strings.
    references: list of sentences, each a list of IOB2 tag strings, of the same lengths.
Returns:
    entity_precision, entity_recall, entity_f1, token_precision, token_recall, token_f1 (floats in [0, 1]),
    per_type: {type: {precision, recall, f1, number}} where number is the count of gold entities,
    entity_number: gold entities in all, token_number: gold entity tokens in all.
Example:
    >>> metric = evaluate.load("training/ner_metric/bioner_seqeval.py")
    >>> metric.compute(predictions=[["B-Disease", "O"]], references=[["B-Disease", "I-Disease"]])["entity_f1"]
    0.0
"""


def _prf(true_positives: int, false_positives: int, false_negatives: int) -> tuple[float, float, float]:
    precision = true_positives / (true_positives + false_positives) if true_positives + false_positives else 0.0
    recall = true_positives / (true_positives + false_negatives) if true_positives + false_negatives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def token_scores(references, predictions) -> dict:
    true_positives = false_positives = false_negatives = 0
    for gold_sentence, predicted_sentence in zip(references, predictions):
        for gold, predicted in zip(gold_sentence, predicted_sentence):
            gold_type, predicted_type = gold[2:] or "O", predicted[2:] or "O"
            if gold_type == predicted_type:
                true_positives += gold_type != "O"
                continue
            false_positives += predicted_type != "O"
            false_negatives += gold_type != "O"
    precision, recall, f1 = _prf(true_positives, false_positives, false_negatives)
    return {"token_precision": precision, "token_recall": recall, "token_f1": f1,
            "token_number": true_positives + false_negatives}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class BioNERSeqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references):
        for index, (gold, predicted) in enumerate(zip(references, predictions)):
            if len(gold) != len(predicted):
                raise ValueError(
                    f"Sentence {index}: {len(gold)} reference tags but {len(predicted)} predicted tags"
                )
        report = classification_report(
            references, predictions, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
        micro = report.pop("micro avg")
        for average in ("macro avg", "weighted avg"):
            report.pop(average, None)
        per_type = {
            entity: {"precision": float(scores["precision"]), "recall": float(scores["recall"]),
                     "f1": float(scores["f1-score"]), "number": int(scores["support"])}
            for entity, scores in sorted(report.items())
        }
        return {
            "entity_precision": float(micro["precision"]),
            "entity_recall": float(micro["recall"]),
            "entity_f1": float(micro["f1-score"]),
            "entity_number": int(micro["support"]),
            "per_type": per_type,
            **token_scores(references, predictions),
        }
