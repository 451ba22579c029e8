"""Joint fine-tuning over all corpora: the partial-label loss, teacher targets, corpus mixing, and real runs on the
shared data (slow: they train)."""

import json
from collections import Counter

import pytest
import torch
from datasets import Dataset

from bioalbert.cli import main as cli_main
from bioalbert.ner.corpus_types import separate_conventions, union_labels
from bioalbert.training.demo import main as demo_main
from bioalbert.training.evaluate import main as evaluate_main
from bioalbert.training.finetune_joint import (
    CorpusSplit,
    JointCollator,
    LabelSets,
    TeacherTargets,
    main,
    mix_corpora,
    partial_label_loss,
)

LABELS = union_labels()


def logits_for(label: str, strength: float = 20.0) -> torch.Tensor:
    logits = torch.zeros(1, 1, len(LABELS))
    logits[0, 0, LABELS.index(label)] = strength
    return logits


def loss_of(corpus: str, tag: str, predicted: str) -> float:
    sets = LabelSets(LABELS)
    set_ids = torch.tensor([[sets.id(corpus, tag)]])
    return partial_label_loss(logits_for(predicted), set_ids, sets.mask()).item()


def test_a_word_a_corpus_leaves_unannotated_is_not_taught_O():
    # NCBI-disease tags a chemical O: predicting Chemical there costs nothing, predicting Disease does.
    assert loss_of("ncbi_disease", "O", "B-Chemical") < 1e-3
    assert loss_of("ncbi_disease", "O", "O") < 1e-3
    assert loss_of("ncbi_disease", "O", "B-Disease") > 10
    # A tagged word must get its own type.
    assert loss_of("ncbi_disease", "B-Disease", "B-Disease") < 1e-3
    assert loss_of("ncbi_disease", "B-Disease", "B-Chemical") > 10


def test_bc2gm_genes_may_be_jnlpba_dna_or_rna_but_not_species():
    assert loss_of("bc2gm", "I-Gene", "I-DNA") < 1e-3
    assert loss_of("bc2gm", "B-Gene", "B-Species") > 10
    assert loss_of("jnlpba", "B-protein", "B-DNA") > 10


def test_singleton_sets_give_plain_cross_entropy():
    sets = LabelSets(LABELS)
    logits = torch.randn(2, 3, len(LABELS))
    tags = [["B-Disease", "I-Disease", "B-Chemical"], ["O", "B-Chemical", "I-Chemical"]]
    set_ids = torch.tensor([[sets.id("bc5cdr", tag) for tag in row] for row in tags])
    set_ids[1, 0] = -100  # O in BC5CDR still allows Gene, Species... : leave it out of this comparison
    targets = torch.tensor([[LABELS.index(tag) for tag in row] for row in tags])
    targets[1, 0] = -100
    expected = torch.nn.functional.cross_entropy(logits.view(-1, len(LABELS)), targets.view(-1), ignore_index=-100)
    assert partial_label_loss(logits, set_ids, sets.mask()).item() == pytest.approx(expected.item(), rel=1e-5)


def test_teacher_targets_enter_the_partial_label_loss_with_annealed_weight():
    sets = LabelSets(LABELS)
    # A BC5CDR-chem teacher knows only chemicals: its O leaves the word free to be a disease.
    chem_o = sets.id("bc5cdr", "O", {"Chemical"})
    assert LABELS.index("B-Disease") in sets.sets[chem_o] and LABELS.index("B-Chemical") not in sets.sets[chem_o]
    gold = sets.id("bc5cdr", "O")  # the gold O of BC5CDR: neither chemical nor disease
    teacher = TeacherTargets(sets=torch.tensor([[sets.id("bc5cdr", "B-Chemical", {"Chemical"}), chem_o]]),
                             weights=torch.tensor([[0.7, 0.3]]))
    logits = torch.randn(1, 1, len(LABELS))
    mask = sets.mask()
    log_probs = logits[0, 0].log_softmax(-1)
    log_p = lambda set_id: torch.logsumexp(log_probs[mask[set_id]], dim=0)  # noqa: E731
    soft = -(0.7 * log_p(teacher.sets[0, 0]) + 0.3 * log_p(chem_o))
    set_ids, rows = torch.tensor([[gold]]), torch.tensor([[0]])
    for gold_weight in (0.0, 0.25, 1.0):
        expected = gold_weight * -log_p(gold) + (1 - gold_weight) * soft
        loss = partial_label_loss(logits, set_ids, mask, teacher, rows, gold_weight)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # A word without a teacher row learns from gold alone.
    assert partial_label_loss(logits, set_ids, mask, teacher, torch.tensor([[-100]]), 0.0).item() == pytest.approx(
        -log_p(gold).item(), rel=1e-5)


def test_teacher_rows_point_at_each_words_row_and_pad_like_labels(tokenizer, data_dir):
    from bioalbert.training.bioner_data import load_bioner

    sets = LabelSets(LABELS)
    raw = load_bioner("ncbi_disease", data_dir)["train"].select(range(30))
    split = CorpusSplit("ncbi_disease", raw, tokenizer, sets, max_length=24, stride=8)  # long sentences: windows
    assert len(split.windows) > len(split.sentences)
    features = split.with_teacher_rows(first_row=100)
    starts = [100 + sum(len(words) for words in split.sentences[:i]) for i in range(len(split.sentences))]
    seen = set()
    for feature, window in zip(features, split.windows):
        rows = [row for row in feature["teacher_rows"] if row != -100]
        assert rows == list(range(starts[window.sentence] + window.start, starts[window.sentence] + window.end))
        assert [r != -100 for r in feature["teacher_rows"]] == [label != -100 for label in feature["labels"]]
        seen.update(rows)
    assert seen == set(range(100, 100 + sum(len(words) for words in split.sentences)))  # every word, once
    batch = JointCollator(tokenizer)(features[:4])
    assert batch["teacher_rows"].shape == batch["labels"].shape
    assert torch.equal(batch["teacher_rows"] != -100, batch["labels"] != -100)


def test_separate_conventions_give_each_corpus_its_own_species_labels():
    table = separate_conventions(["Species"])
    labels = union_labels(table)
    assert table["linnaeus"] == {"Species": ("Species@linnaeus",)} and table["s800"] == {"Species": ("Species@s800",)}
    assert "B-Species" not in labels and {"B-Species@linnaeus", "B-Species@s800", "B-Disease"} <= set(labels)
    sets = LabelSets(labels, table)

    def loss(corpus, tag, predicted):
        logits = torch.zeros(1, 1, len(labels))
        logits[0, 0, labels.index(predicted)] = 20.0
        return partial_label_loss(logits, torch.tensor([[sets.id(corpus, tag)]]), sets.mask()).item()

    # LINNAEUS's `patients` (Species) and Species-800's (O) no longer contradict each other:
    assert loss("linnaeus", "B-Species", "B-Species@linnaeus") < 1e-3
    assert loss("s800", "O", "B-Species@linnaeus") < 1e-3
    assert loss("s800", "O", "B-Species@s800") > 10 and loss("linnaeus", "B-Species", "B-Species@s800") > 10



def test_sampling_exponent_upsamples_small_corpora_and_keeps_every_window():
    small = Dataset.from_dict({"id": [f"small{i}" for i in range(10)]})
    large = Dataset.from_dict({"id": [f"large{i}" for i in range(90)]})
    every = [*small["id"], *large["id"]]
    assert Counter(mix_corpora([small, large], None, seed=1)["id"]) == Counter(every)
    mixed = list(mix_corpora([small, large], 0.5, seed=1)["id"])
    assert set(mixed) == set(every)  # every window of both, once per epoch at least
    share = sum(window.startswith("small") for window in mixed) / len(mixed)
    assert 0.2 < share < 0.3  # 10^0.5 / (10^0.5 + 90^0.5) = 0.25 of the draws, against 0.1 concatenated


JOINT_FLAGS = ["--corpora", "ncbi_disease", "bc5cdr", "--max-train-sentences", "200", "--max-eval-sentences", "40",
               "--max-test-sentences", "60", "--use-cpu", "true", "--model-name", "joint-micro"]


@pytest.fixture(scope="module")
def joint_run(micro_pretrained_dir, data_dir, tmp_path_factory):
    """A micro all-types model, 40 steps over NCBI-disease and BC5CDR, scored on two benchmarks: (output, results)."""
    folder = tmp_path_factory.mktemp("joint")
    output, results = folder / "joint", folder / "results"
    assert main(["--model", str(micro_pretrained_dir), *JOINT_FLAGS, "--benchmarks", "ncbi_disease", "bc5cdr_chem",
                 "--data-dir", str(data_dir), "--output-dir", str(output), "--max-steps", "40", "--eval-steps", "20",
                 "--save-steps", "20", "--learning-rate", "3e-3", "--per-device-train-batch-size", "16",
                 "--report-to", "none", "--disable-tqdm", "true", "--results-dir", str(results),
                 "--num-hidden-groups", "2"]) == 0
    return output, results


@pytest.mark.slow
def test_joint_run_trains_one_model_over_all_types_and_scores_each_benchmark(joint_run):
    output, results = joint_run
    config = json.loads((output / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == LABELS
    assert config["num_hidden_groups"] == 2  # each layer its own copy of the shared group, saved as such
    run = json.loads((output / "seed-42" / "run.json").read_text())
    assert set(run["dev"]) >= {"ncbi_disease_entity_f1", "bc5cdr_entity_f1", "entity_f1"}
    assert run["dev"]["entity_f1"] == pytest.approx((run["dev"]["ncbi_disease_entity_f1"] + run["dev"]["bc5cdr_entity_f1"]) / 2)
    for benchmark in ("ncbi_disease", "bc5cdr_chem"):
        record = json.loads((results / "joint-micro" / f"{benchmark}.json").read_text())
        assert record["test_sentences"] == 60 and record["split"] == "test"
        assert 0.0 <= record["entity"]["f1"] <= 1.0
        assert set(record["per_type"]) <= ({"Disease"} if benchmark == "ncbi_disease" else {"Chemical"})
        assert record["training"]["num_hidden_groups"] == 2
    info = json.loads((output / "bioalbert_finetune.json").read_text())
    assert info["corpus_types"]["bc5cdr"] == {"Chemical": ["Chemical"], "Disease": ["Disease"]}


@pytest.mark.slow
def test_a_seed_scored_by_an_earlier_decoding_is_rescored_on_resume(joint_run, micro_pretrained_dir, data_dir):
    output, results = joint_run
    run = json.loads((output / "seed-42" / "run.json").read_text())
    assert run["decoding"] == "iob2-viterbi-corpus-tags"
    stale = {**run, "dev": {**run["dev"], "entity_f1": -1.0}}
    del stale["decoding"]  # scored by per-word argmax
    (output / "seed-42" / "run.json").write_text(json.dumps(stale))
    assert main(["--model", str(micro_pretrained_dir), *JOINT_FLAGS, "--benchmarks", "ncbi_disease", "--data-dir",
                 str(data_dir), "--output-dir", str(output), "--results-dir", str(results), "--resume", "true"]) == 0
    rescored = json.loads((output / "seed-42" / "run.json").read_text())
    assert rescored["decoding"] == "iob2-viterbi-corpus-tags"
    assert rescored["dev"]["entity_f1"] == pytest.approx(run["dev"]["entity_f1"], abs=0.02)


@pytest.mark.slow
def test_evaluate_scores_an_all_types_model_as_the_joint_run_did(joint_run, data_dir):
    output, results = joint_run
    assert evaluate_main(["--model", str(output), "--dataset", "bc5cdr_chem", "--data-dir", str(data_dir),
                          "--max-sentences", "60", "--model-name", "joint-evaluated", "--results-dir", str(results)]) == 0
    evaluated = json.loads((results / "joint-evaluated" / "bc5cdr_chem.json").read_text())
    joint = json.loads((results / "joint-micro" / "bc5cdr_chem.json").read_text())
    assert evaluated["entity"]["f1"] == pytest.approx(joint["entity"]["f1"])


@pytest.mark.slow
def test_demo_takes_any_all_types_model(joint_run, data_dir, tmp_path, capsys):
    """A table row per benchmark beside the recorded score, then tagging."""
    output, _ = joint_run
    capsys.readouterr()
    assert demo_main(["--model", str(output), "--datasets", "bc5cdr_chem", "--data-dir", str(data_dir),
                      "--results-dir", str(tmp_path / "demo"), "--recorded-dir", str(tmp_path / "none")]) == 0
    printed = capsys.readouterr().out
    assert "| bc5cdr_chem |" in printed and "| 93.04 |" in printed and "bioalbert.inference.tag on:" in printed
    assert (tmp_path / "demo" / "joint" / "bc5cdr_chem.json").is_file()


@pytest.mark.slow
def test_teachers_label_their_corpora_and_the_run_records_them(micro_pretrained_dir, ner_dir, data_dir, tmp_path,
                                                               capsys):
    import numpy as np
    from transformers import AutoModelForTokenClassification

    from bioalbert.training.bioner_data import load_bioner
    from bioalbert.ner.scoring import predict_scores
    from bioalbert.training.tokenizer import load_tokenizer

    output, results = tmp_path / "joint", tmp_path / "results"
    common = ["--model", str(micro_pretrained_dir), "--corpora", "ncbi_disease", "bc5cdr", "--benchmarks",
              "ncbi_disease", "--data-dir", str(data_dir), "--output-dir", str(output), "--max-train-sentences", "200",
              "--max-eval-sentences", "20", "--max-test-sentences", "60", "--max-steps", "100", "--eval-steps", "100",
              "--save-steps", "100", "--learning-rate", "3e-3", "--per-device-train-batch-size", "16", "--use-cpu", "true", "--report-to", "none", "--disable-tqdm", "true",
              "--results-dir", str(results), "--model-name", "taught"]
    # The NCBI-disease model tags diseases: a teacher for BC5CDR-disease too, but not for BC2GM's genes.
    assert cli_main(["finetune-joint", *common[:3], "ncbi_disease", "bc2gm", *common[5:], "--teachers",
                     f"bc2gm={ner_dir}"]) == 2
    assert "['Disease'], but bc2gm annotates ['Gene']" in capsys.readouterr().err
    assert main(common + ["--teachers", f"ncbi_disease={ner_dir}", f"bc5cdr_disease={ner_dir}",
                          "--separate-conventions", "Disease"]) == 0

    teacher = AutoModelForTokenClassification.from_pretrained(ner_dir)
    sentences = list(load_bioner("bc5cdr", data_dir)["train"]["tokens"][:200])
    expected = np.exp(np.concatenate(predict_scores(teacher, load_tokenizer(ner_dir), sentences)))
    stored = np.load(output / "teacher-probs" / "bc5cdr_disease.npz")
    assert stored["probs"].shape == expected.shape == (sum(map(len, sentences)), 3)
    assert np.allclose(stored["probs"], expected, atol=2e-3)
    record = json.loads((results / "taught" / "ncbi_disease.json").read_text())
    assert record["training"]["teachers"] == {"ncbi_disease": str(ner_dir), "bc5cdr_disease": str(ner_dir)}
    # Disease split per corpus: the model has both conventions, and `bioalbert evaluate` scores as the run did.
    config = json.loads((output / "config.json").read_text())
    assert {"B-Disease@ncbi_disease", "B-Disease@bc5cdr"} <= set(config["label2id"])
    assert evaluate_main(["--model", str(output), "--dataset", "ncbi_disease", "--data-dir", str(data_dir),
                          "--max-sentences", "60", "--model-name", "evaluated", "--results-dir", str(results)]) == 0
    evaluated = json.loads((results / "evaluated" / "ncbi_disease.json").read_text())
    assert record["entity"]["f1"] > 0  # the model finds diseases: the comparison below is not 0 == 0
    assert evaluated["entity"]["f1"] == pytest.approx(record["entity"]["f1"])


def test_unknown_corpus_is_one_clear_line(micro_pretrained_dir, tmp_path, capsys):
    code = cli_main(["finetune-joint", "--model", str(micro_pretrained_dir), "--corpora", "ncbi_disease", "chemdner",
                 "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert "unknown corpus 'chemdner'" in capsys.readouterr().err


def test_both_jobs_share_the_budget_flags_and_say_the_budget_spans_resumes(capsys):
    from bioalbert.training import finetune

    for job in (finetune.main, main):
        with pytest.raises(SystemExit):
            job(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--lr-schedule-over-budget" in text and "Total training time of each seed in minutes, counted across --resume" in text
