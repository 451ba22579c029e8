"""`bioalbert reproduce` pieces: the spaCy peer sees the same capped sentences as ours, and stage times add up
across an interrupted and resumed run."""

import importlib.util
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bioalbert.modeling.configuration_bioalbert import PRESETS
from bioalbert.training.bioner_data import read_conll
from bioalbert.training.ner_metric import compute_ner_metrics
from bioalbert.training.recipes import get_recipe
from bioalbert.training.reproduce import (
    RECIPES,
    Stages,
    decoding_note,
    has_result,
    pretrained_with,
    pretraining_cost,
    training_cost,
)
from bioalbert.training.results import write_result

from conftest import REPO


def load_spacy_peer():
    spec = importlib.util.spec_from_file_location("spacy_peer", REPO / "benchmarks" / "spacy_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_spacy_peer_trains_and_scores_on_the_capped_sentences(data_dir, tmp_path):
    peer = load_spacy_peer()
    caps = {"train": 200, "dev": 40, "test": 60}

    result = peer.train_peer("ncbi_disease", budget_minutes=0.05, output=tmp_path / "peer", data_dir=data_dir,
                             eval_every=10, max_sentences=caps)

    assert result["training"]["train_sentences"] == 200 and result["training"]["dev_sentences"] == 40
    assert result["test_sentences"] == 60
    saved = json.loads((tmp_path / "peer" / "metrics.json").read_text())
    assert saved["entity"] == result["entity"]
    # The saved pipeline is the one that was scored: reloading it and tagging the same 60 test sentences gives
    # the reported strict entity F1.
    test = read_conll(data_dir / "bioner" / "ncbi_disease" / "test.tsv")[:60]
    predicted = peer.predict_tags(peer.load_peer(tmp_path / "peer"), test)
    assert [len(tags) for tags in predicted] == [len(s["tokens"]) for s in test]
    rescored = compute_ner_metrics([s["ner_tags"] for s in test], predicted)
    assert rescored["entity_f1"] == result["entity"]["f1"]


def test_stage_times_add_up_across_a_resumed_run(tmp_path):
    log = tmp_path / "stage_seconds.json"
    ran = []
    first = Stages(RECIPES["cpu-demo"], 2, log)
    first.run("tokenizer", "tokenizer", lambda: False, lambda: ran.append("tokenizer"))
    first.seconds["tokenizer"] = 60.0  # as if it had taken a minute
    log.write_text(json.dumps(first.seconds))

    resumed = Stages(RECIPES["cpu-demo"], 2, log)  # a new process after a kill
    resumed.run("tokenizer", "tokenizer", lambda: True, lambda: ran.append("tokenizer again"))
    resumed.run("pretraining", "pretrain", lambda: False, lambda: ran.append("pretraining"))

    assert ran == ["tokenizer", "pretraining"]  # a stage whose output is valid is skipped
    assert set(json.loads(log.read_text())) == {"tokenizer", "pretraining"}
    assert 1.0 <= resumed.total_minutes() < 1.1  # the skipped stage keeps the time it took in the first run
    assert [status for _, status, _ in resumed.summary] == ["skipped", "done"]


def test_two_runs_side_by_side_keep_each_others_stage_times(tmp_path):
    """`reproduce --datasets A` and `--datasets B` on two cores log into one file; neither overwrites the other."""
    log = tmp_path / "stage_seconds.json"
    one, other = Stages(RECIPES["cpu-full"], 1, log), Stages(RECIPES["cpu-full"], 1, log)  # both started on no log
    one.run("fine-tune cpu-full on ncbi_disease", "finetune", lambda: False, lambda: None)
    other.run("fine-tune cpu-full on s800", "finetune", lambda: False, lambda: None)

    assert set(json.loads(log.read_text())) == {"fine-tune cpu-full on ncbi_disease", "fine-tune cpu-full on s800"}


def test_demo_recipe_gives_ours_and_the_peer_the_same_sentences():
    recipe = RECIPES["cpu-demo"]
    assert set(recipe.max_sentences) == {"train", "eval", "test"}
    assert recipe.peer_minutes is None  # the peer gets our wall time, not a budget of its own
    assert not any(flag.startswith("--max-") for flag in recipe.finetune_flags)  # caps live in one place


def test_a_committed_results_file_alone_does_not_skip_fine_tuning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = Path("runs/reproduce/cpu-demo/ner/cpu-demo-ncbi_disease")
    write_result({"model": "cpu-demo", "dataset": "ncbi_disease", "split": "test", "entity": {"f1": 0.5},
                  "token": {"f1": 0.6}, "model_path": str(output)}, Path("results"))

    assert not has_result(Path("results"), "cpu-demo", "ncbi_disease", output)  # fresh clone: no runs/ folder
    output.mkdir(parents=True)
    assert has_result(Path("results"), "cpu-demo", "ncbi_disease", output)
    Path("runs/elsewhere").mkdir()
    assert not has_result(Path("results"), "cpu-demo", "ncbi_disease", Path("runs/elsewhere"))  # another run's file
    # Scored by per-word argmax (no "decoding"): fine-tuning's stage runs again, and `--resume` rescores the run.
    assert not has_result(Path("results"), "cpu-demo", "ncbi_disease", output, "iob2-viterbi")
    write_result({"model": "cpu-demo", "dataset": "ncbi_disease", "split": "test", "entity": {"f1": 0.5},
                  "token": {"f1": 0.6}, "model_path": str(output), "decoding": "iob2-viterbi"}, Path("results"))
    assert has_result(Path("results"), "cpu-demo", "ncbi_disease", output, "iob2-viterbi")


def test_a_model_pretrained_with_another_recipe_version_stops_the_run(tmp_path, micro_pretrained_dir):
    folder = tmp_path / "pretrained"
    assert not pretrained_with(folder, "tiny-pubmed")  # nothing there yet: the stage runs
    shutil.copytree(micro_pretrained_dir, folder)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, **PRESETS["tiny"]}))  # the check reads the sizes, not the weights
    recipe = get_recipe("tiny-pubmed").to_dict()
    metrics = folder / "pretraining_metrics.json"
    metrics.write_text(json.dumps({"recipe": recipe}))
    assert pretrained_with(folder, "tiny-pubmed")  # same recipe: the stage is skipped

    metrics.write_text(json.dumps({"recipe": {**recipe, "max_steps": recipe["max_steps"] // 2}}))
    with pytest.raises(SystemExit, match=r"pretrained with another version of the tiny-pubmed recipe.*max_steps"):
        pretrained_with(folder, "tiny-pubmed")
    assert (folder / "model.safetensors").is_file()  # nothing is thrown away

    # Same recipe, but the tiny preset has changed size since (e.g. its embedding size): also another model.
    metrics.write_text(json.dumps({"recipe": recipe}))
    config_file.write_text(json.dumps({**config, **PRESETS["tiny"], "embedding_size": 64}))
    with pytest.raises(SystemExit, match=r"embedding_size \(64 -> "):
        pretrained_with(folder, "tiny-pubmed")


@pytest.mark.slow
def test_a_recipe_with_a_persisted_encoder_fine_tunes_from_it_without_pretraining(
    tmp_path, monkeypatch, micro_pretrained_dir, data_dir, capsys
):
    from bioalbert.training import reproduce

    recipe = replace(RECIPES["cpu-demo"], name="micro", start_model=str(micro_pretrained_dir), random_baseline=True,
                     finetune_flags=("--num-train-epochs", "1", "--per-device-train-batch-size", "8"),
                     finetune_flags_by_dataset={"ncbi_disease": ("--max-train-minutes", "5",
                                                                 "--lr-schedule-over-budget", "true")},
                     random_init_seeds=(7,),
                     max_sentences={"train": 24, "eval": 16, "test": 16})
    monkeypatch.setitem(reproduce.RECIPES, "micro", recipe)
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["--recipe", "micro", "--datasets", "ncbi_disease", "--skip-peer", "true", "--data-dir", str(data_dir),
            "--runs-dir", str(runs), "--results-dir", str(results), "--release-dir", str(tmp_path / "release"),
            "--budget-clock", "cpu"]

    assert reproduce.main(argv) == 0

    printed = capsys.readouterr().out
    assert "tokenizer: output exists and is valid, skipped" in printed
    assert "pretraining: output exists and is valid, skipped" in printed
    assert not (runs / "micro" / "tokenizer").exists() and not (runs / "micro" / "pretrained").exists()
    ours = json.loads((results / "micro" / "ncbi_disease.json").read_text())
    assert Path(ours["base_model"]).resolve() == micro_pretrained_dir.resolve()
    # The benchmark's own flags reach both starts; the baseline runs its own seeds.
    random_init = json.loads((results / "micro-random-init" / "ncbi_disease.json").read_text())
    assert (ours["seeds"], random_init["seeds"]) == ([42], [7])
    for record in (ours, random_init):
        assert record["training"]["lr_scheduler"] == "linear over the time budget"
        assert record["training"]["max_train_minutes"] == 5
        assert record["training"]["budget_clock"] == "cpu"  # --budget-clock reaches every fine-tune
        # CPU time sums every thread of the process, so it can exceed the wall clock by at most the core count.
        assert 0 < record["training"]["train_cpu_time_s"] <= 1.05 * os.cpu_count() * record["training"]["train_wall_time_s"]
    # The random-init baseline shares the persisted encoder's tokenizer, so the two differ in their weights only.
    random_config = json.loads((runs / "micro" / "random-init" / "config.json").read_text())
    assert random_config["vocab_size"] == json.loads((micro_pretrained_dir / "config.json").read_text())["vocab_size"]

    # A fine-tune made from another encoder is not reused as this one's.
    (runs / "micro" / "start_model.txt").write_text("/elsewhere/pretrained\n")
    assert reproduce.main(argv) == 0
    assert "removing" in capsys.readouterr().out
    assert (runs / "micro" / "ner" / "micro-ncbi_disease" / "config.json").is_file()  # made again

    # A new encoder needs only its own fine-tunes: --reuse-baselines keeps the random-init baseline's results file
    # (its model gone, as on a fresh clone), and the table still shows it.
    shutil.rmtree(runs / "micro" / "ner" / "micro-random-init-ncbi_disease")
    (runs / "micro" / "start_model.txt").write_text("/elsewhere/pretrained\n")
    before = (results / "micro-random-init" / "ncbi_disease.json").read_text()
    assert reproduce.main([*argv, "--reuse-baselines", "true"]) == 0
    assert not (runs / "micro" / "ner" / "micro-random-init-ncbi_disease").exists()
    assert (results / "micro-random-init" / "ncbi_disease.json").read_text() == before
    assert (runs / "micro" / "ner" / "micro-ncbi_disease" / "config.json").is_file()  # ours made again
    assert "micro-random-init" in (results / "reproduce" / "micro" / "results.md").read_text()


def test_the_table_states_each_models_seeds_and_minutes_from_its_results_files(tmp_path):
    def result(model, dataset, seeds, seconds):
        write_result({"model": model, "dataset": dataset, "split": "test", "entity": {"f1": 0.5}, "token": {"f1": 0.6},
                      "seeds": seeds, "training": {"train_wall_time_s": seconds}}, tmp_path / "results")

    result("ours", "ncbi_disease", [13, 42, 87], 2700.0)  # seeds run on different days: no one clock saw them
    result("ours", "s800", [13, 42, 87], 2640.0)
    result("ours-random-init", "ncbi_disease", [42], 900.0)
    costs = training_cost(tmp_path / "results", ["ours", "ours-random-init", "peer"], ["ncbi_disease", "s800"])
    assert costs == ("`ours` seeds 13, 42, 87, 89 training minutes on 2 benchmarks; "
                     "`ours-random-init` seed 42, 15 training minutes on 1 benchmark")
    # Budgeted in CPU time beside other jobs (--budget-clock cpu): the CPU time is the cost, not the longer wall time.
    write_result({"model": "shared", "dataset": "s800", "split": "test", "entity": {"f1": 0.5}, "token": {"f1": 0.6},
                  "seeds": [13], "training": {"train_wall_time_s": 1500.0, "train_cpu_time_s": 900.0,
                                              "budget_clock": "cpu"}}, tmp_path / "results")
    assert training_cost(tmp_path / "results", ["shared"], ["s800"]) == \
        "`shared` seed 13, 15 training CPU minutes on 1 benchmark"
    # The precision each model trained in, where its records say it: tables mix bf16 and fp32 machines.
    write_result({"model": "fp32", "dataset": "s800", "split": "test", "entity": {"f1": 0.5}, "token": {"f1": 0.6},
                  "seeds": [13], "decoding": "iob2-viterbi",
                  "training": {"train_wall_time_s": 900.0, "precision": "fp32"}}, tmp_path / "results")
    assert training_cost(tmp_path / "results", ["fp32"], ["s800"]) == \
        "`fp32` seed 13, 15 training minutes in fp32 on 1 benchmark"
    assert "IOB2-constrained decoding" in decoding_note(tmp_path / "results", "fp32", ["s800"])
    assert decoding_note(tmp_path / "results", "shared", ["s800"]) == ""  # its record names no decoding

    encoder = tmp_path / "encoder"
    (encoder / "results").mkdir(parents=True)
    (encoder / "results" / "pretraining.json").write_text(json.dumps(
        {"global_step": 4000, "train_runtime_s": 4500.0, "total_steps": 10400, "total_train_runtime_s": 14700.0}))
    assert pretraining_cost(encoder) == "`encoder` was pretrained 10,400 steps in 245 minutes"  # continued runs too


def parse_recipe_flags(recipe) -> None:
    """Each stage's command line, as `run` builds it, through that command's own parser."""
    from transformers import HfArgumentParser

    from bioalbert.training import finetune, pretrain, reproduce
    from bioalbert.training.tokenizer import TokenizerArguments

    as_text = lambda argv: [str(arg) for arg in argv]  # noqa: E731 (as `call` passes them)
    HfArgumentParser(TokenizerArguments).parse_args_into_dataclasses(as_text(reproduce.tokenizer_argv(recipe, "d", "t")))
    pretrain.parse_args(as_text(reproduce.pretrain_argv(recipe, "d", "t", "p", "r")))
    for dataset in ["ncbi_disease", *recipe.finetune_flags_by_dataset]:
        finetune.parse_args(as_text(reproduce.finetune_argv(recipe, "m", dataset, "d", "o", "n", "r", recipe.seeds)))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipes_flags_parse_before_anything_runs(name):
    """A typo in a recipe fails here in seconds, not after an hour of pretraining."""
    parse_recipe_flags(RECIPES[name])


@pytest.mark.parametrize("stage", ["tokenizer_flags", "pretrain_flags", "finetune_flags"])
def test_a_typo_in_any_stages_flags_fails_the_check(stage):
    flag = "--max_steps" if stage == "pretrain_flags" else "--vocab-size" if stage == "tokenizer_flags" else "--seeds"
    recipe = replace(RECIPES["cpu-demo"], **{stage: (flag + "s", "2")})
    with pytest.raises((ValueError, SystemExit)):
        parse_recipe_flags(recipe)
