"""Pretraining: the gathered MLM head against transformers' stock AlbertForPreTraining, kill + --resume, and the
DeepSpeed wiring (configs finalise against TrainingArguments; a real ZeRO-2 DeepSpeedEngine on CPU)."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AlbertConfig, AlbertForPreTraining, TrainingArguments

from bioalbert.modeling import BioAlbertForPreTraining
from bioalbert.training.pretraining_data import NgramMaskingCollator, build_pretraining_dataset, load_documents
from bioalbert.training.recipes import RECIPES
from bioalbert.training.report import pretraining_table

from conftest import free_port

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training" / "configs"
DS_CONFIGS = ["ds_zero2.json", "ds_zero2_offload.json", "ds_zero3.json", "ds_zero3_offload.json"]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, data_dir):
    """40 real abstracts in the shared corpus format."""
    with gzip.open(data_dir / "corpus" / "pubmed_synergy_openalex_abstracts.txt.gz", "rt", encoding="utf-8") as f:
        docs = f.read(200_000).split("\n\n")[:40]
    path = tmp_path_factory.mktemp("corpus") / "abstracts.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n\n".join(docs) + "\n")
    return path


@pytest.fixture(scope="module")
def batch(corpus_file, tokenizer):
    examples = build_pretraining_dataset(load_documents([corpus_file]), tokenizer, max_seq_length=64, seed=0)
    return NgramMaskingCollator(tokenizer, seed=0)([examples[i] for i in range(8)])


def test_gathered_mlm_loss_equals_stock_albert(micro_pretrained_dir, batch):
    ours = BioAlbertForPreTraining.from_pretrained(micro_pretrained_dir).eval()
    stock = AlbertForPreTraining(AlbertConfig(**ours.config.to_diff_dict() | {"num_labels": 2})).eval()
    missing, unexpected = stock.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and not [k for k in missing if "decoder" not in k]  # tied decoder weight is not saved twice
    assert torch.equal(stock.predictions.decoder.weight, ours.predictions.decoder.weight)

    out_ours, out_stock = ours(**batch), stock(**batch)
    masked = batch["labels"] != -100
    assert masked.sum() > 10
    torch.testing.assert_close(out_ours.loss, out_stock.loss)
    torch.testing.assert_close(out_ours.prediction_logits, out_stock.prediction_logits[masked])
    torch.testing.assert_close(out_ours.sop_logits, out_stock.sop_logits)
    # The same gradients too: the gather changes where the head runs, not what is learnt.
    out_ours.loss.backward()
    out_stock.loss.backward()
    for name, param in stock.named_parameters():
        torch.testing.assert_close(ours.get_parameter(name).grad, param.grad, msg=name)


def pretrain_argv(corpus_file, model_dir, output_dir, *extra):
    return [
        "--variant", "tiny-pubmed", "--model_name_or_path", str(model_dir), "--corpus", str(corpus_file),
        "--output_dir", str(output_dir), "--max_seq_length", "64", "--per_device_train_batch_size", "4",
        "--per_device_eval_batch_size", "4", "--max_steps", "6", "--warmup_steps", "2", "--save_steps", "3",
        "--logging_steps", "1", "--eval_steps", "3", "--validation_documents", "4", "--max_eval_examples", "8",
        "--data_cache_dir", str(output_dir.parent / "cache"), "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


# Runs pretrain.main with a callback that SIGKILLs the process at step 4, after checkpoint-3 was written.
KILL_AT_STEP_4 = """
import os, signal, sys
from transformers import TrainerCallback
from bioalbert.training import pretrain

class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 4:
            os.kill(os.getpid(), signal.SIGKILL)

init = pretrain.PretrainingTrainer.__init__
def patched(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.add_callback(Kill())
pretrain.PretrainingTrainer.__init__ = patched
pretrain.main(sys.argv[1:])
"""


def run_cli(argv, code=None):
    command = [sys.executable, "-c", code, *argv] if code else [sys.executable, "-m", "bioalbert.cli", "pretrain", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def step_losses(output_dir):
    history = json.loads((output_dir / "pretraining_metrics.json").read_text())["log_history"]
    return {entry["step"]: entry["loss"] for entry in history if "loss" in entry}


@pytest.mark.slow
def test_resume_after_kill_continues_with_the_same_data(corpus_file, micro_pretrained_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    results = tmp_path / "results"
    done = run_cli(pretrain_argv(corpus_file, micro_pretrained_dir, straight, "--results_dir", str(results),
                                 "--run_name", "micro"))
    assert done.returncode == 0, done.stderr[-3000:]

    crash = run_cli(pretrain_argv(corpus_file, micro_pretrained_dir, killed), code=KILL_AT_STEP_4)
    assert crash.returncode == -9, crash.stderr[-3000:]
    assert (killed / "checkpoint-3").is_dir() and not (killed / "model.safetensors").exists()
    refused = run_cli(pretrain_argv(corpus_file, micro_pretrained_dir, killed))
    assert refused.returncode != 0 and "--resume" in refused.stderr

    resumed = run_cli(pretrain_argv(corpus_file, micro_pretrained_dir, killed, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming from" in resumed.stderr and "checkpoint-3" in resumed.stderr

    losses_straight, losses_resumed = step_losses(straight), step_losses(killed)
    assert sorted(losses_resumed) == [1, 2, 3, 4, 5, 6]  # steps 1-3 come back from checkpoint-3's trainer state
    for step in (1, 2, 3, 4, 5, 6):  # same batches, same masks, same weights: the losses of the uninterrupted run
        assert losses_resumed[step] == pytest.approx(losses_straight[step], rel=1e-5), step
    final_straight = load_file(straight / "model.safetensors")
    final_resumed = load_file(killed / "model.safetensors")
    for name, tensor in final_straight.items():
        torch.testing.assert_close(final_resumed[name], tensor, msg=name)
    metrics = json.loads((killed / "pretraining_metrics.json").read_text())
    assert metrics["global_step"] == 6 and (killed / "pretraining_curves.png").stat().st_size > 10_000
    assert {"mlm_accuracy", "sop_accuracy", "eval_mlm_accuracy", "eval_sop_accuracy"} <= set(metrics["final"])

    # --results_dir publishes the summary and curves under the run name; docs/research.md's table is built from them.
    published = json.loads((results / "pretraining" / "micro.json").read_text())
    assert published["global_step"] == 6 and published["machine"]["cpu_count"] >= 1
    assert (results / "pretraining" / "micro.png").stat().st_size > 10_000
    row = next(line for line in pretraining_table(results).splitlines() if line.startswith("| `micro`"))
    assert "| 6 |" in row and f"{100 * published['final']['eval_mlm_accuracy']:.1f}%" in row
    sizes = json.loads((micro_pretrained_dir / "config.json").read_text())
    assert f"| {sizes['embedding_size']} / {sizes['hidden_size']} / {sizes['num_hidden_layers']} |" in row


@pytest.mark.parametrize("bias_init,position_bias", [("unigram", "alibi"), ("zero", "none")])
def test_a_new_model_starts_its_mlm_bias_at_the_piece_prior(bias_init, position_bias, corpus_file, tokenizer_dir,
                                                             tokenizer, tmp_path):
    from bioalbert.training import pretrain

    output = tmp_path / bias_init
    argv = pretrain_argv(corpus_file, "unused", output, "--max_steps", "1", "--learning_rate", "1e-9",
                         "--eval_strategy", "no", "--mlm_bias_init", bias_init, "--preset", "tiny",
                         "--position_bias", position_bias, "--results_dir", str(tmp_path / "results"))
    at = argv.index("--model_name_or_path")
    argv[at : at + 2] = ["--tokenizer", str(tokenizer_dir)]  # a new model from the tokenizer, not a saved one
    assert pretrain.main(argv) == 0
    model = BioAlbertForPreTraining.from_pretrained(output)
    assert model.config.position_bias == {"alibi": "alibi", "none": None}[position_bias]
    assert json.loads((output / "pretraining_metrics.json").read_text())["position_bias"] == position_bias
    row = pretraining_table(tmp_path / "results").splitlines()[2]
    assert ("| learned + ALiBi |" in row) == (position_bias == "alibi") and "| learned" in row
    bias = model.predictions.bias.detach()
    if bias_init == "zero":
        assert bias.abs().max() < 1e-6
        return
    counts = torch.zeros(len(tokenizer))
    for document in load_documents([corpus_file])["text"]:
        counts += torch.bincount(torch.tensor(tokenizer(document, add_special_tokens=False)["input_ids"]),
                                 minlength=len(counts))
    assert torch.exp(bias).sum() == pytest.approx(1.0, abs=1e-3)  # a distribution over the vocabulary, in log space
    assert bias[tokenizer.all_special_ids].max() == bias.min()  # never a target: at the add-one floor
    assert bias.argmax() == counts.argmax()  # the corpus's most frequent piece (4 held-out documents aside)
    seen = counts > 20
    ranks = lambda x: x.argsort().argsort().float()  # noqa: E731
    assert torch.corrcoef(torch.stack([ranks(bias[seen]), ranks(counts[seen])]))[0, 1] > 0.9  # 0.94 (ties)


def find_auto(node, path=""):
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in find_auto(value, f"{path}.{key}")]
    return [path] if node == "auto" else []


ONE_PROCESS = {"MASTER_ADDR": "127.0.0.1", "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}


@pytest.fixture
def one_process_group(monkeypatch):
    """ZeRO-3 arguments start torch.distributed (gloo on CPU): give them a one-process group, then tear it down so
    that later tests see a plain process again."""
    for key, value in {**ONE_PROCESS, "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(key, value)
    yield
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# ZeRO-3 with CPU offload JIT-builds DeepSpeed's cpu_adam (about a minute the first time): an end-to-end cost.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if "zero3_offload" in name else name
                                  for name in DS_CONFIGS])
def test_deepspeed_configs_finalise_against_training_arguments(name, micro_pretrained_dir, tmp_path, one_process_group):
    from deepspeed.runtime.config import DeepSpeedConfig

    recipe = RECIPES["base-pubmed-pmc"]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        deepspeed=str(CONFIGS / name),
        per_device_train_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_steps,
        max_steps=recipe.max_steps,
        bf16=False,
        report_to="none",
    )
    model = BioAlbertForPreTraining.from_pretrained(micro_pretrained_dir)
    hf_config = args.hf_deepspeed_config
    hf_config.trainer_config_finalize(args, model, recipe.max_steps)
    config = hf_config.config
    assert find_auto(config) == []
    assert config["train_micro_batch_size_per_gpu"] == recipe.per_device_batch_size
    assert config["gradient_accumulation_steps"] == recipe.gradient_accumulation_steps
    assert config["optimizer"]["params"]["lr"] == recipe.learning_rate
    assert config["optimizer"]["params"]["weight_decay"] == recipe.weight_decay
    stage = config["zero_optimization"]["stage"]
    assert stage == (2 if "zero2" in name else 3)
    assert ("offload_optimizer" in config["zero_optimization"]) == ("offload" in name)
    # DeepSpeed's own parser accepts it and derives a consistent global batch (1 process here).
    ds = DeepSpeedConfig(config)
    assert ds.train_batch_size == recipe.per_device_batch_size * recipe.gradient_accumulation_steps * args.world_size
    assert ds.zero_optimization_stage == stage


@pytest.mark.parametrize("name", ["accelerate_1node_8gpu.yaml", "accelerate_multinode.yaml"])
def test_accelerate_configs_point_at_a_deepspeed_config(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / name))
    assert config.distributed_type == "DEEPSPEED"
    assert config.num_processes == 8 * config.num_machines
    ds_file = REPO / config.deepspeed_config["deepspeed_config_file"]
    assert ds_file.name in DS_CONFIGS and ds_file.is_file()
    assert "train_batch_size" not in json.loads(ds_file.read_text())  # multi-process: derived, never fixed
    recipe = RECIPES["base-pubmed-pmc"]
    assert recipe.global_batch_size(config.num_processes // config.num_machines) == 4096
    assert yaml.safe_load((CONFIGS / name).read_text())["main_training_function"] == "main"


# Runs pretrain.main and records what the Trainer trained: the engine type, its ZeRO stage and optimizer.
RECORD_ENGINE = """
import json, sys
from bioalbert.training import pretrain

train = pretrain.PretrainingTrainer.train
def recorded(self, *args, **kwargs):
    result = train(self, *args, **kwargs)
    engine = self.model_wrapped
    info = {"engine": type(engine).__module__ + "." + type(engine).__name__,
            "optimizer": type(self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else self.optimizer).__name__}
    if hasattr(engine, "zero_optimization_stage"):
        info["zero_stage"] = engine.zero_optimization_stage()
        info["ds_optimizer"] = type(engine.optimizer).__name__
    json.dump(info, open(sys.argv[1], "w"))
    return result
pretrain.PretrainingTrainer.train = recorded
sys.exit(pretrain.main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_zero2_pretraining_runs_a_deepspeed_engine_on_cpu(corpus_file, micro_pretrained_dir, tmp_path):
    output = tmp_path / "zero2"
    argv = pretrain_argv(
        corpus_file, micro_pretrained_dir, output, "--max_steps", "3", "--deepspeed", str(CONFIGS / "ds_zero2.json")
    )
    info_file = tmp_path / "engine.json"
    # A one-process "distributed" run, as a launcher would set it up (DeepSpeed uses the gloo backend on CPU).
    env = {**os.environ, **ONE_PROCESS, "MASTER_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-c", RECORD_ENGINE, str(info_file), *argv], capture_output=True, text=True, timeout=900, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    info = json.loads(info_file.read_text())
    assert info["engine"] == "deepspeed.runtime.engine.DeepSpeedEngine"
    assert info["zero_stage"] == 2
    metrics = json.loads((output / "pretraining_metrics.json").read_text())
    assert metrics["global_step"] == 3
    losses = [e["loss"] for e in metrics["log_history"] if "loss" in e]
    assert len(losses) == 3 and all(0 < loss < 20 for loss in losses)
    assert BioAlbertForPreTraining.from_pretrained(output).config.hidden_size == 64  # the saved model loads


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_use_the_shared_corpus_honestly(name, data_dir):
    recipe = RECIPES[name]
    files = sorted({p.name for pattern in recipe.corpus for p in data_dir.glob(pattern)})
    assert files and all(name.startswith(("pubmed", "genia", "pmc_", "bioner_", "mtl_")) for name in files)
    task_text = {f for f in files if f.startswith(("bioner_", "mtl_"))}
    # Benchmark text only where the spec says so, and then only training sentences, named in what the card copies.
    assert bool(task_text) == recipe.corpus_spec.endswith("-task") == recipe.name.endswith("-task")
    assert all("train" in f for f in task_text)
    assert ("no devel or test sentence" in recipe.trained_on) == bool(task_text)
    assert any(f.startswith("pmc_") for f in files) == ("pmc" in recipe.corpus_spec.split("-"))
    assert "do not describe this model as PubMed-scale pretrained" in recipe.trained_on


def test_continued_pretraining_keeps_the_whole_lineage_for_the_card(corpus_file, micro_pretrained_dir, tmp_path):
    from bioalbert.hub.cards import pretraining_lines, read_training_metadata
    from bioalbert.training import pretrain

    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    short = ("--eval_strategy", "no", "--save_strategy", "no")
    assert pretrain.main(pretrain_argv(corpus_file, micro_pretrained_dir, first, "--max_steps", "2", *short)) == 0
    assert pretrain.main(pretrain_argv(corpus_file, first, second, "--max_steps", "3", *short)) == 0
    assert pretrain.main(pretrain_argv(corpus_file, second, third, "--max_steps", "2", *short)) == 0

    records = [json.loads((folder / "pretraining_metrics.json").read_text()) for folder in (first, second, third)]
    assert records[0]["continued_from"] is None  # the micro start has no pretraining record
    assert records[2]["continued_from"]["model"] == str(second)
    assert records[2]["continued_from"]["continued_from"]["model"] == str(first)  # the whole chain, not one link
    assert records[2]["total_steps"] == 2 + 3 + 2
    assert records[2]["total_tokens_seen"] == sum(r["tokens_seen_non_padding"] for r in records)

    lines = pretraining_lines(read_training_metadata(third))
    assert any(line.startswith(f"Pretraining continued from `{second}` as it was after 5 steps") for line in lines)
    assert any(line.startswith("Optimisation steps: 2 of 2 planned; 7 in all.") for line in lines)


def test_a_budget_stopped_run_is_staged_with_its_budget_held_out_accuracy_and_the_shipped_record(
    corpus_file, micro_pretrained_dir, tmp_path
):
    """The card of a time-budgeted segment (benchmarks/research/keep_pretraining.sh) says the clock ended it, gives the
    held-out accuracy it was judged by, and names the record the staged repo carries, not the run's file name."""
    from huggingface_hub import ModelCard

    from bioalbert.hub.release import main as release_main
    from bioalbert.training import pretrain

    run = tmp_path / "segment"
    argv = pretrain_argv(corpus_file, micro_pretrained_dir, run, "--max_steps", "50", "--max_train_minutes", "0.001",
                         "--budget_clock", "cpu", "--save_strategy", "no")
    assert pretrain.main(argv) == 0
    record = json.loads((run / "pretraining_metrics.json").read_text())
    assert record["stopped_by_budget"] and record["global_step"] < 50  # the clock, not max_steps, ended it

    out = tmp_path / "staged" / "bioalbert-tiny-pubmed"
    assert release_main(["stage", "--model", str(run), "--variant", "bioalbert-tiny-pubmed", "--out", str(out),
                         "--results-dir", str(tmp_path / "no-results")]) == 0
    text = ModelCard.load(out / "README.md").text
    steps = record["global_step"]
    assert f"Optimisation steps: {steps:,} (stopped when its budget of 0.001 CPU minutes ran out; max_steps 50)" in text
    mlm, sop = record["final"]["eval_mlm_accuracy"], record["final"]["eval_sop_accuracy"]
    assert f"masked LM {mlm:.1%}, sentence order {sop:.1%}." in text
    assert "Recorded in the model folder's `results/pretraining.json`." in text
    assert json.loads((out / "results" / "pretraining.json").read_text())["global_step"] == steps


def test_config_overrides_are_typed_config_fields_and_an_unknown_one_is_named():
    from bioalbert.training.pretrain import parse_config_overrides

    overrides = parse_config_overrides("num_hidden_groups=4,hidden_dropout_prob=0.1", "tiny")
    assert overrides == {"num_hidden_groups": 4, "hidden_dropout_prob": 0.1}
    assert isinstance(overrides["num_hidden_groups"], int)
    with pytest.raises(ValueError, match="--config_overrides 'hidden_dropout=0.1'.*hidden_dropout"):
        parse_config_overrides("hidden_dropout=0.1", "tiny")


def test_config_overrides_refuse_a_saved_model(corpus_file, micro_pretrained_dir, tmp_path):
    from bioalbert.training import pretrain

    argv = pretrain_argv(corpus_file, micro_pretrained_dir, tmp_path / "out", "--config_overrides", "num_hidden_groups=2")
    with pytest.raises(ValueError, match="cannot change --model_name_or_path's config"):
        pretrain.main(argv)
