"""The fine-tuning job (real Trainer, micro model, first sentences of the real benchmarks): best checkpoint, seeds,
resume after an interruption, the time budget, the saved model."""

import json

import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, TrainerCallback, pipeline

from bioalbert.training import evaluate as evaluate_job
from bioalbert.training import finetune


def finetune_args(model_dir, output_dir, results_dir, *extra):
    return finetune.parse_args([
        "--model", str(model_dir), "--dataset", "ncbi_disease", "--output-dir", str(output_dir),
        "--results-dir", str(results_dir), "--max-train-sentences", "48", "--max-eval-sentences", "24",
        "--max-test-sentences", "24", "--max-seq-length", "32", "--window-stride", "8",
        "--per-device-train-batch-size", "8", "--learning-rate", "1e-3", "--max-steps", "6",
        "--eval-strategy", "steps", "--save-strategy", "steps", "--eval-steps", "2", "--save-steps", "2",
        "--save-total-limit", "10", "--logging-steps", "2", "--disable-tqdm", "true", *extra,
    ])


class Interrupt(Exception):
    pass


class InterruptAfterSave(TrainerCallback):
    """Stands for a kill right after the checkpoint of step `step` was written."""

    def __init__(self, step):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt


@pytest.mark.slow
def test_finetune_keeps_best_checkpoint_and_saves_a_loadable_model(micro_pretrained_dir, tmp_path):
    output_dir = tmp_path / "ner"
    result = finetune.run(*finetune_args(micro_pretrained_dir, output_dir, tmp_path / "results", "--seeds", "1", "2"))

    for seed in (1, 2):
        record = json.loads((output_dir / f"seed-{seed}" / "run.json").read_text())
        state = json.loads((output_dir / f"seed-{seed}" / "checkpoint-6" / "trainer_state.json").read_text())
        dev_f1 = {entry["step"]: entry["eval_entity_f1"] for entry in state["log_history"] if "eval_entity_f1" in entry}
        best_step = max(dev_f1, key=lambda step: (dev_f1[step], -step))  # first step reaching the best F1
        assert record["best_checkpoint"].endswith(f"checkpoint-{best_step}")
        assert record["dev"]["entity_f1"] == pytest.approx(dev_f1[best_step])
    runs = [json.loads((output_dir / f"seed-{s}" / "run.json").read_text()) for s in (1, 2)]
    f1s = [r["test"]["entity_f1"] for r in runs]
    assert result["entity"]["f1"] == pytest.approx(sum(f1s) / 2)
    assert result["entity"]["f1_std"] == pytest.approx(abs(f1s[0] - f1s[1]) / 2**0.5)
    saved = json.loads((tmp_path / "results" / "ner" / "ncbi_disease.json").read_text())
    assert saved["seeds"] == [1, 2] and saved["entity"]["f1"] == pytest.approx(result["entity"]["f1"])
    assert set(saved["per_type"]) <= {"Disease"} and "versions" in saved and "machine" in saved

    # The top folder holds the best seed's model; it loads with the Auto class and in pipeline("ner").
    model = AutoModelForTokenClassification.from_pretrained(output_dir)
    assert model.config.id2label == {0: "O", 1: "B-Disease", 2: "I-Disease"}
    best_seed = json.loads((output_dir / finetune.INFO_FILE).read_text())["best_seed"]
    assert best_seed == max(runs, key=lambda r: r["dev"]["entity_f1"])["seed"]
    best_weights = AutoModelForTokenClassification.from_pretrained(output_dir / f"seed-{best_seed}").state_dict()
    assert all(torch.equal(tensor, best_weights[name]) for name, tensor in model.state_dict().items())
    ner = pipeline("ner", model=model, tokenizer=AutoTokenizer.from_pretrained(output_dir))
    assert all(entity["entity"] in model.config.label2id for entity in ner("Hereditary breast cancer in BRCA1 carriers."))

    # `bioalbert evaluate` on the saved model reproduces the fine-tuning job's test scores for that seed.
    assert evaluate_job.main([
        "--model", str(output_dir), "--dataset", "ncbi_disease", "--max-sentences", "24",
        "--results-dir", str(tmp_path / "eval"), "--model-name", "evaluated",
    ]) == 0
    evaluated = json.loads((tmp_path / "eval" / "evaluated" / "ncbi_disease.json").read_text())
    best_run = next(r for r in runs if r["seed"] == best_seed)
    assert evaluated["entity"]["f1"] == pytest.approx(best_run["test"]["entity_f1"])
    assert evaluated["token"]["f1"] == pytest.approx(best_run["test"]["token_f1"])
    assert evaluated["seeds"] == [best_seed]

    # A run scored before IOB2 decoding (per-word argmax: no "decoding" in run.json) is rescored on --resume.
    assert saved["decoding"] == runs[0]["decoding"] == "iob2-viterbi"
    stale = json.loads(json.dumps(runs[0]))
    del stale["decoding"]
    stale["test"]["entity_f1"] = stale["dev"]["entity_f1"] = -1.0
    (output_dir / "seed-1" / "run.json").write_text(json.dumps(stale))
    rescored = finetune.run(*finetune_args(micro_pretrained_dir, output_dir, tmp_path / "results", "--seeds", "1", "2",
                                           "--resume"))
    assert rescored["runs"][0]["entity_f1"] == pytest.approx(runs[0]["test"]["entity_f1"])
    assert rescored["runs"][0]["dev_entity_f1"] == pytest.approx(runs[0]["dev"]["entity_f1"], abs=0.02)  # fp32 now
    assert json.loads((output_dir / "seed-1" / "run.json").read_text())["decoding"] == "iob2-viterbi"

    # A model that never saw Chemical tags refuses to be scored on them.
    with pytest.raises(ValueError, match=r"tags the model .* does not know: \['B-Chemical', 'I-Chemical'\]"):
        evaluate_job.main(["--model", str(output_dir), "--dataset", "bc5cdr_chem", "--max-sentences", "5",
                           "--results-dir", str(tmp_path / "eval")])


@pytest.mark.slow
def test_resume_after_interruption_ends_like_an_uninterrupted_run(micro_pretrained_dir, tmp_path):
    untied = ("--num-hidden-groups", "2")  # the checkpoint holds two layer groups: the resumed model must too
    straight = finetune.run(*finetune_args(micro_pretrained_dir, tmp_path / "straight", tmp_path / "r1", *untied))

    interrupted_dir = tmp_path / "interrupted"
    with pytest.raises(Interrupt):
        finetune.run(*finetune_args(micro_pretrained_dir, interrupted_dir, tmp_path / "r2", *untied),
                     callbacks=[InterruptAfterSave(step=4)])
    assert not (interrupted_dir / "seed-42" / "run.json").exists()
    with pytest.raises(FileExistsError, match="--resume"):  # never silently overwrites a run
        finetune.run(*finetune_args(micro_pretrained_dir, interrupted_dir, tmp_path / "r2", *untied))

    resumed = finetune.run(*finetune_args(micro_pretrained_dir, interrupted_dir, tmp_path / "r2", *untied, "--resume"))
    assert resumed["training"]["num_hidden_groups"] == 2
    assert json.loads((interrupted_dir / "config.json").read_text())["num_hidden_groups"] == 2
    record = json.loads((interrupted_dir / "seed-42" / "run.json").read_text())
    assert record["resumed_from"].endswith("checkpoint-4")
    assert resumed["runs"][0]["global_step"] == straight["runs"][0]["global_step"] == 6
    # Same data order and RNG state after the restart: the same scores as the uninterrupted run.
    assert resumed["runs"][0]["dev_entity_f1"] == pytest.approx(straight["runs"][0]["dev_entity_f1"])
    assert resumed["entity"]["f1"] == pytest.approx(straight["entity"]["f1"])
    straight_state = json.loads((tmp_path / "straight" / "seed-42" / "checkpoint-6" / "trainer_state.json").read_text())
    resumed_state = json.loads((interrupted_dir / "seed-42" / "checkpoint-6" / "trainer_state.json").read_text())
    losses = [[e["loss"] for e in s["log_history"] if "loss" in e] for s in (straight_state, resumed_state)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


@pytest.mark.slow
def test_time_budget_counts_the_time_before_a_kill(micro_pretrained_dir, tmp_path):
    output_dir = tmp_path / "budgeted"
    budget = ["--max-train-minutes", "60", "--budget-clock", "cpu"]  # CPU seconds, as the encoder probe counts
    with pytest.raises(Interrupt):
        finetune.run(*finetune_args(micro_pretrained_dir, output_dir, tmp_path / "r", *budget),
                     callbacks=[InterruptAfterSave(step=2)])
    state_file = output_dir / "seed-42" / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    spent = state["stateful_callbacks"]["TimeBudget"]["args"]["spent_seconds"]
    assert 0 < spent < 3600
    # As if the killed run had used the whole hour: the resumed one stops after its first step (with a last
    # evaluation and checkpoint) instead of running on to step 6.
    state["stateful_callbacks"]["TimeBudget"]["args"]["spent_seconds"] = 3600.0
    state_file.write_text(json.dumps(state))
    resumed = finetune.run(*finetune_args(micro_pretrained_dir, output_dir, tmp_path / "r", *budget, "--resume"))
    assert resumed["runs"][0]["global_step"] == 3
    final = json.loads((output_dir / "seed-42" / "checkpoint-3" / "trainer_state.json").read_text())
    assert final["stateful_callbacks"]["TimeBudget"]["args"]["spent_seconds"] >= 3600.0
    assert final["stateful_callbacks"]["TimeBudget"]["args"]["clock"] == resumed["training"]["budget_clock"] == "cpu"


def test_budget_schedule_warms_up_and_decays_to_zero_with_the_clock(micro_pretrained_dir, tmp_path):
    model = AutoModelForTokenClassification.from_pretrained(micro_pretrained_dir, num_labels=3)
    args = finetune.NerTrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, warmup_steps=0.1, report_to=[],
                                         eval_strategy="no", save_strategy="no", load_best_model_at_end=False)

    def learning_rate(spent_minutes, step=0, schedules_lr=True):
        budget = finetune.TimeBudget(60, spent_seconds=60 * spent_minutes, schedules_lr=schedules_lr)
        trainer = finetune.NerTrainer(model=model, args=args, callbacks=[budget])
        trainer.create_optimizer_and_scheduler(num_training_steps=10_000)
        return trainer.lr_scheduler.lr_lambdas[0](step) * args.learning_rate

    assert learning_rate(3) == pytest.approx(0.5e-3)  # halfway through the warmup's 6 minutes, at step 0
    assert learning_rate(33) == pytest.approx(0.5e-3)  # halfway down from the peak
    assert learning_rate(60) == 0.0  # the budget is spent: annealed, though most steps are still to come
    assert learning_rate(0, step=5_500) == pytest.approx(0.5e-3)  # steps ahead of the clock lead instead
    assert learning_rate(33, schedules_lr=False) == 0.0  # the step schedule alone is still in its warmup at step 0


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        finetune.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--dataset", "--output-dir", "--seeds", "--resume", "--repair-iob", "--train-file",
                   "--max-seq-length", "--learning-rate", "--num-train-epochs", "--metric-for-best-model"):
        assert option in text


def test_missing_benchmark_is_reported_without_a_traceback(micro_pretrained_dir, tmp_path, capsys):
    from bioalbert.cli import main as cli_main

    code = cli_main(["finetune", "--model", str(micro_pretrained_dir), "--dataset", "bc4chemd", "--output-dir",
                     str(tmp_path)])
    assert code == 2
    assert "bioalbert finetune: error: Benchmark 'bc4chemd' is not available" in capsys.readouterr().err


def test_bf16_is_the_default_exactly_where_the_hardware_runs_it_natively(micro_pretrained_dir, tmp_path):
    from bioalbert.training.precision import native_bf16

    training_args = finetune_args(micro_pretrained_dir, tmp_path / "ner", tmp_path / "results")[3]
    assert training_args.bf16 == (native_bf16() is not None)
    training_args = finetune_args(micro_pretrained_dir, tmp_path / "ner", tmp_path / "results", "--bf16", "false")[3]
    assert not training_args.bf16  # the command line wins
