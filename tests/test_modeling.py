"""BioALBERT model classes: registration, save/load round trips, remote code, presets."""

import json
import math

import pytest
import torch
from transformers import (
    AlbertConfig,
    AlbertForMaskedLM,
    AlbertForTokenClassification,
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForTokenClassification,
    pipeline,
)

from bioalbert.modeling import (
    AUTO_MAP,
    BioAlbertConfig,
    BioAlbertForMaskedLM,
    BioAlbertForPreTraining,
    BioAlbertForTokenClassification,
    BioAlbertModel,
)
from conftest import MICRO_CONFIG

LABELS = ["O", "B-Disease", "I-Disease"]
HEADS = {
    AutoModel: (BioAlbertModel, "last_hidden_state"),
    AutoModelForPreTraining: (BioAlbertForPreTraining, "prediction_logits"),
    AutoModelForMaskedLM: (BioAlbertForMaskedLM, "logits"),
    AutoModelForTokenClassification: (BioAlbertForTokenClassification, "logits"),
}


def micro_config(**overrides) -> BioAlbertConfig:
    return BioAlbertConfig.from_preset("tiny", **{"vocab_size": 300, **MICRO_CONFIG, **overrides})


@pytest.mark.parametrize("position_bias", [None, "alibi"])
@pytest.mark.parametrize("auto_class", list(HEADS), ids=lambda c: c.__name__)
def test_save_load_round_trip_gives_identical_outputs(tmp_path, auto_class, position_bias):
    model_class, output_name = HEADS[auto_class]
    torch.manual_seed(0)
    model = model_class(micro_config(num_labels=3, position_bias=position_bias)).eval()
    input_ids = torch.randint(5, 300, (2, 11))
    model.save_pretrained(tmp_path)

    loaded = auto_class.from_pretrained(tmp_path).eval()

    assert type(loaded) is model_class
    assert loaded.config.position_bias == position_bias
    with torch.no_grad():
        expected, actual = getattr(model(input_ids), output_name), getattr(loaded(input_ids), output_name)
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    if auto_class is AutoModelForPreTraining:
        torch.testing.assert_close(loaded(input_ids).sop_logits, model(input_ids).sop_logits, rtol=0, atol=0)


def test_saved_folder_is_complete_hub_repo(tmp_path):
    BioAlbertForTokenClassification(micro_config(num_labels=3)).save_pretrained(tmp_path)
    files = {path.name for path in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors", "modeling_bioalbert.py", "configuration_bioalbert.py"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files), files
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP
    assert config["model_type"] == "bioalbert"
    assert type(AutoConfig.from_pretrained(tmp_path)) is BioAlbertConfig


def test_alibi_attention_prefers_near_keys_by_each_heads_slope_and_ignores_padding():
    torch.manual_seed(0)
    model = BioAlbertModel(micro_config(position_bias="alibi", num_attention_heads=4), add_pooling_layer=False).eval()
    model.config._attn_implementation = "eager"  # returns the attention probabilities
    attention = model.encoder.albert_layer_groups[0].albert_layers[0].attention
    with torch.no_grad():  # content scores all zero: what is left is the position bias
        attention.query.weight.zero_()
        attention.query.bias.zero_()
    input_ids = torch.randint(5, 300, (2, 9))
    padding = torch.ones(2, 9, dtype=torch.long)
    padding[1, 6:] = 0

    with torch.no_grad():
        output = model(input_ids, attention_mask=padding, output_attentions=True)
    probabilities = output.attentions[0]  # (batch, heads, query, key)

    slopes = 2.0 ** (-8.0 * torch.arange(1, 5) / 4)  # ALiBi's geometric slopes for 4 heads
    for head, slope in enumerate(slopes.tolist()):
        row = probabilities[0, head, 4]  # query in the middle: keys at distances 4 3 2 1 0 1 2 3 4
        torch.testing.assert_close(row[5] / row[4], torch.tensor(math.exp(-slope)))
        torch.testing.assert_close(row[3], row[5])  # symmetric: left and right neighbours alike
    assert probabilities[1, :, :, 6:].max() == 0  # padded keys get nothing
    with torch.no_grad():
        unpadded = model(input_ids[1:, :6]).last_hidden_state
    torch.testing.assert_close(output.last_hidden_state[1, :6], unpadded[0])
    model.config._attn_implementation = "sdpa"
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids, attention_mask=padding).last_hidden_state, output.last_hidden_state)
    model.config.position_bias = None
    with torch.no_grad():
        plain = model(input_ids, attention_mask=padding).last_hidden_state
    assert not torch.allclose(plain, output.last_hidden_state, atol=1e-3)


@pytest.mark.parametrize("ours,stock", [(BioAlbertForTokenClassification, AlbertForTokenClassification),
                                        (BioAlbertForMaskedLM, AlbertForMaskedLM)], ids=lambda c: c.__name__)
def test_heads_start_from_the_same_weights_as_transformers_for_a_seed(ours, stock):
    config = micro_config(num_labels=3)
    torch.manual_seed(7)
    expected = stock(AlbertConfig(**config.to_dict())).state_dict()
    torch.manual_seed(7)
    model = ours(config)
    assert type(model.albert) is BioAlbertModel
    assert model.state_dict().keys() == expected.keys()
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0, msg=name)


def test_unknown_position_bias_is_named_in_the_error():
    with pytest.raises(ValueError, match="position_bias.*'rope'"):
        micro_config(position_bias="rope")


def test_untied_layer_groups_start_as_the_shared_group_train_apart_and_reload(tmp_path):
    torch.manual_seed(0)
    model = BioAlbertForTokenClassification(micro_config(num_labels=3, num_hidden_layers=4, position_bias="alibi"))
    input_ids = torch.randint(5, 300, (2, 9))
    tied_logits = model.eval()(input_ids).logits
    tied_size = sum(p.numel() for p in model.parameters())
    group_size = sum(p.numel() for p in model.albert.encoder.albert_layer_groups[0].parameters())

    model.untie_layer_groups(2)

    assert model.config.num_hidden_groups == 2
    assert sum(p.numel() for p in model.parameters()) == tied_size + group_size
    torch.testing.assert_close(model(input_ids).logits, tied_logits, rtol=0, atol=0)  # the same function at first
    model.train()
    model(input_ids, labels=torch.ones_like(input_ids)).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    first, second = (group.albert_layers[0].ffn.weight for group in model.albert.encoder.albert_layer_groups)
    assert not torch.equal(first, second)  # each group has its own gradient: layers 0-1 and 2-3 differ
    model.save_pretrained(tmp_path)
    loaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.num_hidden_groups == 2
    torch.testing.assert_close(loaded(input_ids).logits, model.eval()(input_ids).logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match="not 2 into 3"):
        model.untie_layer_groups(3)
    with pytest.raises(ValueError, match="1 to 4"):
        BioAlbertForTokenClassification(micro_config(num_hidden_layers=4)).untie_layer_groups(5)


def test_sop_head_stays_two_way_whatever_num_labels():
    model = BioAlbertForPreTraining(micro_config(num_labels=9))
    assert model.sop_classifier.classifier.out_features == 2
    output = model(torch.randint(5, 300, (3, 8)), sentence_order_label=torch.tensor([0, 1, 1]))
    assert output.sop_logits.shape == (3, 2) and output.sop_loss is not None


@pytest.mark.parametrize("preset,hidden,layers,low,high", [("base", 768, 12, 11e6, 13e6), ("large", 1024, 24, 17e6, 19e6)])
def test_presets_match_albert_sizes(preset, hidden, layers, low, high):
    config = BioAlbertConfig.from_preset(preset, vocab_size=30000)
    assert (config.hidden_size, config.num_hidden_layers, config.embedding_size) == (hidden, layers, 128)
    with torch.device("meta"):
        parameters = BioAlbertModel(config).num_parameters()
    assert low < parameters < high  # ALBERT paper: base 12M, large 18M


def test_unknown_preset_is_named_in_the_error():
    with pytest.raises(ValueError, match="'huge'.*base.*large.*tiny"):
        BioAlbertConfig.from_preset("huge")


def test_remote_code_loads_where_bioalbert_is_not_installed(tmp_path, tokenizer, run_isolated):
    torch.manual_seed(0)
    config = micro_config(
        vocab_size=len(tokenizer), num_labels=3, id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = BioAlbertForTokenClassification(config)
    with torch.no_grad():  # make B-/I- likely so the random model returns entities to check
        model.classifier.bias.copy_(torch.tensor([0.0, 0.5, 0.5]))
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    text = "Mutations in BRCA1 (breast cancer 1) cause hereditary breast-ovarian cancer; IL-2 and TNF-α rise."

    out = run_isolated(f"""
import json
from transformers import AutoModelForTokenClassification, pipeline
model = AutoModelForTokenClassification.from_pretrained({str(tmp_path / 'model')!r}, trust_remote_code=True)
ner = pipeline("ner", model={str(tmp_path / 'model')!r}, trust_remote_code=True, aggregation_strategy="simple")
entities = ner({text!r})
print(json.dumps({{"module": type(model).__module__, "cls": type(model).__name__,
    "entities": [dict(word=e["word"], start=e["start"], end=e["end"]) for e in entities]}}))
""")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["cls"] == "BioAlbertForTokenClassification"
    assert result["module"].startswith("transformers_modules"), result["module"]
    assert result["entities"], "the random model was biased to return entities"
    for entity in result["entities"]:
        assert entity["word"] and text[entity["start"] : entity["end"]] == entity["word"], entity


def test_in_process_ner_pipeline_offsets_are_exact(tmp_path, tokenizer):
    torch.manual_seed(1)
    model = BioAlbertForTokenClassification(micro_config(vocab_size=len(tokenizer), num_labels=3,
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)}))
    text = "IL-2 (α-chain)  and\tTNF-α in ζ-globin-deficient mice."
    for strategy in ("simple", "first", "average", "max"):
        entities = pipeline("ner", model=model, tokenizer=tokenizer, aggregation_strategy=strategy)(text)
        assert entities
        for entity in entities:
            assert entity["word"] and text[entity["start"] : entity["end"]] == entity["word"], (strategy, entity)
