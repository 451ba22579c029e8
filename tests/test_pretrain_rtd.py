"""Replaced-token detection (`bioalbert pretrain --objective rtd`): the generator and the discriminator share
embeddings as DeBERTa-v3's GDES does, the discriminator's loss is ElectraForPreTraining's, and the saved encoder is an
ordinary BioALBERT encoder whose card does not offer fill-mask."""

import json

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from test_pretrain import KILL_AT_STEP_4, corpus_file, pretrain_argv, run_cli  # noqa: F401  (fixture)
from transformers import AutoModel, AutoModelForTokenClassification, ElectraConfig, ElectraForPreTraining

from bioalbert.modeling import BioAlbertConfig, BioAlbertForReplacedTokenDetection
from bioalbert.training.budget import TimeBudget

from conftest import MICRO_CONFIG


@pytest.fixture
def rtd_model(tokenizer):
    config = BioAlbertConfig.from_preset("tiny", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                         position_bias="alibi", generator_hidden_size=32, **MICRO_CONFIG)
    torch.manual_seed(0)
    return BioAlbertForReplacedTokenDetection(config)


def masked_batch(tokenizer, text="Mutations in the BRCA1 gene cause hereditary breast cancer in carriers ."):
    input_ids = tokenizer([text, text.lower()], padding=True, return_tensors="pt")["input_ids"]
    attention_mask = (input_ids != tokenizer.pad_token_id).long()
    labels = torch.full_like(input_ids, -100)
    labels[:, 2:5] = input_ids[:, 2:5]
    masked = input_ids.clone()
    masked[:, 2:5] = tokenizer.mask_token_id
    return masked, attention_mask, labels


def test_only_masked_positions_can_be_replaced_and_padding_is_ignored(rtd_model, tokenizer):
    masked, attention_mask, labels = masked_batch(tokenizer)
    out = rtd_model(masked, attention_mask=attention_mask, labels=labels)
    assert out.rtd_labels[attention_mask == 0].eq(-100).all()  # the shorter lower-cased row is padded
    assert out.rtd_labels[:, 5:][attention_mask[:, 5:] == 1].eq(0).all()  # untouched tokens are originals
    assert out.rtd_labels[:, 2:5].eq(1).any()  # an untrained generator samples other pieces
    assert out.prediction_logits.shape == (int((labels != -100).sum()), len(tokenizer))


def test_a_discriminator_that_calls_everything_original_shows_zero_recall():
    """Collapse is visible in the logs: RTD accuracy is then the share of originals (high), its recall on the
    replaced tokens 0; a discriminator that finds half of them has recall 0.5."""
    from types import SimpleNamespace

    from bioalbert.training.pretrain import ACCURACIES, LOSSES, batch_metric_sums

    rtd_labels = torch.tensor([[0, 1, 0, 0, 1, -100], [0, 0, 1, 0, 0, 1]])
    labels = torch.full_like(rtd_labels, -100)
    labels[0, 1] = 5
    for logits, recall in ((torch.full(rtd_labels.shape, -2.0), 0.0), (torch.where(rtd_labels == 1, 3.0, -3.0), 1.0),
                           (torch.tensor([[-1.0, 1, -1, -1, -1, 0], [-1, -1, 1, -1, -1, -1]]), 0.5)):
        outputs = SimpleNamespace(mlm_loss=torch.tensor(1.0), sop_loss=None, rtd_loss=torch.tensor(0.4),
                                  prediction_logits=torch.zeros(1, 8), sop_logits=None, rtd_logits=logits,
                                  rtd_labels=rtd_labels)
        sums = batch_metric_sums(outputs, {"labels": labels}).tolist()
        counts = dict(zip(ACCURACIES, zip(sums[len(LOSSES)::2], sums[len(LOSSES) + 1::2])))
        correct, total = counts["rtd_replaced"]
        assert (total, correct / total) == (4, recall)
        if recall == 0.0:  # every token called original: accuracy is the share of originals, 7 of 11
            assert counts["rtd"] == (7, 11)
        assert counts["sop"] == (0, 0)  # no sentence order trained: nothing counted


def test_discriminator_loss_is_electras(rtd_model, tokenizer):
    """Same logits and labels through ElectraForPreTraining's loss give the same rtd_loss."""
    masked, attention_mask, labels = masked_batch(tokenizer)
    out = rtd_model(masked, attention_mask=attention_mask, labels=labels)
    electra = ElectraForPreTraining(ElectraConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1,
                                                  num_attention_heads=1, intermediate_size=8))
    electra.discriminator_predictions.forward = lambda hidden: out.rtd_logits  # the loss of these logits
    reference = electra(input_ids=torch.zeros_like(masked), attention_mask=attention_mask,
                        labels=out.rtd_labels.clamp(min=0)).loss
    torch.testing.assert_close(out.rtd_loss, reference)


def test_gdes_keeps_the_discriminator_loss_out_of_the_generator_embeddings(rtd_model, tokenizer):
    masked, attention_mask, labels = masked_batch(tokenizer)
    out = rtd_model(masked, attention_mask=attention_mask, labels=labels)
    shared = rtd_model.generator.embeddings.word_embeddings.weight
    (grad_from_rtd,) = torch.autograd.grad(out.rtd_loss, [shared], retain_graph=True, allow_unused=True)
    assert grad_from_rtd is None or grad_from_rtd.abs().max() == 0  # stop-gradient: only MLM trains them
    (delta_grad,) = torch.autograd.grad(out.rtd_loss, [rtd_model.embeddings_delta])
    assert delta_grad.abs().sum() > 0  # the discriminator learns through its own delta
    assert rtd_model.generator_predictions.decoder.weight is shared  # the generator's output tied to its input


@pytest.mark.parametrize("sharing", ["plain", "none"])
def test_plain_sharing_trains_one_table_with_both_losses_none_keeps_two(sharing, tokenizer, tmp_path):
    config = BioAlbertConfig.from_preset("tiny", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                         generator_hidden_size=32, embedding_sharing=sharing, **MICRO_CONFIG)
    torch.manual_seed(0)
    model = BioAlbertForReplacedTokenDetection(config)
    assert not hasattr(model, "embeddings_delta")
    masked, attention_mask, labels = masked_batch(tokenizer)
    out = model(masked, attention_mask=attention_mask, labels=labels)
    generator_table = model.generator.embeddings.word_embeddings.weight
    own_table = model.albert.embeddings.word_embeddings.weight
    grads = torch.autograd.grad(out.rtd_loss, [generator_table, own_table], allow_unused=True)
    trained = [grad is not None and grad.abs().sum() > 0 for grad in grads]
    assert trained == ([True, False] if sharing == "plain" else [False, True])  # where the discriminator's loss goes
    model.save_pretrained(tmp_path)
    encoder = AutoModel.from_pretrained(tmp_path)
    torch.testing.assert_close(encoder.embeddings.word_embeddings.weight, model.discriminator_embeddings())
    assert BioAlbertForReplacedTokenDetection.from_pretrained(tmp_path).config.embedding_sharing == sharing


def test_unknown_embedding_sharing_is_refused():
    with pytest.raises(ValueError, match="embedding_sharing must be one of"):
        BioAlbertConfig(embedding_sharing="tied")


def test_saved_encoder_loads_with_the_merged_embeddings(rtd_model, tmp_path):
    with torch.no_grad():
        rtd_model.embeddings_delta.normal_(std=0.1)
    rtd_model.save_pretrained(tmp_path)
    encoder = AutoModel.from_pretrained(tmp_path)
    torch.testing.assert_close(encoder.embeddings.word_embeddings.weight, rtd_model.discriminator_embeddings())
    tagger = AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=3)
    torch.testing.assert_close(tagger.albert.encoder.embedding_hidden_mapping_in.weight,
                               rtd_model.albert.encoder.embedding_hidden_mapping_in.weight)
    again = BioAlbertForReplacedTokenDetection.from_pretrained(tmp_path)  # continued pretraining keeps the generator
    torch.testing.assert_close(again.embeddings_delta, rtd_model.embeddings_delta)
    torch.testing.assert_close(again.generator_predictions.decoder.weight, again.generator.embeddings.word_embeddings.weight)


def test_cpu_budget_counts_this_process_only(tmp_path):
    """The clock of `--budget_clock cpu`: sleeping spends wall time, not CPU time."""
    import time

    wall, cpu = TimeBudget(1, clock="wall"), TimeBudget(1, clock="cpu")
    for budget in (wall, cpu):
        budget.started = {"wall": time.perf_counter, "cpu": time.process_time}[budget.clock]()
    time.sleep(0.3)
    assert wall.elapsed_seconds() >= 0.3 > cpu.elapsed_seconds() + 0.1
    with pytest.raises(ValueError, match="Unknown budget clock"):
        TimeBudget(1, clock="gpu")


@pytest.mark.slow
def test_rtd_pretraining_resumes_records_both_accuracies_and_stages_without_fill_mask(
        corpus_file, tokenizer_dir, tmp_path, capsys):  # noqa: F811
    from bioalbert.hub.release import main as release_main
    from bioalbert.training import pretrain

    def argv(output, *extra):
        args = pretrain_argv(corpus_file, "unused", output, "--objective", "rtd", "--preset", "tiny",
                             "--generator_hidden_size", "64", "--max_train_minutes", "60", *extra)
        at = args.index("--model_name_or_path")
        args[at: at + 2] = ["--tokenizer", str(tokenizer_dir)]
        return args

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert pretrain.main(argv(straight)) == 0
    crash = run_cli(argv(killed), code=KILL_AT_STEP_4)
    assert crash.returncode == -9 and (killed / "checkpoint-3").is_dir(), crash.stderr[-3000:]
    resumed = run_cli(argv(killed, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name, tensor in load_file(straight / "model.safetensors").items():  # same batches, masks and samples
        torch.testing.assert_close(load_file(killed / "model.safetensors")[name], tensor, msg=name)

    # The budget's time is the run's over both processes: the killed one's, saved with checkpoint-3, counts.
    spent_before_kill = json.loads((killed / "checkpoint-3" / "trainer_state.json").read_text())[
        "stateful_callbacks"]["TimeBudget"]["args"]["spent_seconds"]
    resumed_metrics = json.loads((killed / "pretraining_metrics.json").read_text())
    assert 60 * resumed_metrics["budget_spent_minutes"] > spent_before_kill > 0

    metrics = json.loads((straight / "pretraining_metrics.json").read_text())
    assert metrics["objective"] == "rtd" and metrics["generator_hidden_size"] == 64
    assert {"mlm_accuracy", "rtd_accuracy", "eval_mlm_accuracy", "eval_rtd_accuracy"} <= set(metrics["final"])
    assert "sop_accuracy" not in metrics["final"]  # rtd trains no sentence order
    assert 0.5 < metrics["final"]["eval_rtd_accuracy"] <= 1.0  # most tokens are originals: the first thing it learns
    assert 0.0 <= metrics["final"]["eval_rtd_replaced_accuracy"] <= 1.0  # recall, beside it

    out = tmp_path / "release" / "bioalbert-tiny-pubmed"
    assert release_main(["stage", "--model", str(straight), "--variant", "bioalbert-tiny-pubmed", "--out", str(out),
                         "--org", "testorg", "--results-dir", str(tmp_path / "no-results")]) == 0
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "feature-extraction" and "fill-mask" not in card.data.tags
    assert "[MASK]" not in str(card.data.to_dict()) and "AutoModelForMaskedLM" not in card.text
    assert "replaced-token detection" in card.text
    assert AutoModel.from_pretrained(out, trust_remote_code=True).config.generator_hidden_size == 64
