"""`bioalbert convert-tf` on genuine TF1 checkpoints written here with google-research ALBERT's variable names.

The official checkpoints are not reachable from here, so a small random BioALBERT is saved under those names
(spelt out below from albert/modeling.py and run_pretraining.py, independently of the converter's own table) with
tf.compat.v1.train.Saver, then converted; the converted model must score exactly like the original.
"""

import gzip
import itertools
import sys
import json
import unicodedata

import numpy as np
import pytest
import torch

tf = pytest.importorskip("tensorflow", reason="convert-tf needs TensorFlow: pip install 'bioalbert[convert]'")
spm = pytest.importorskip("sentencepiece")

from conftest import MICRO_CONFIG  # noqa: E402
from transformers import AutoModelForPreTraining, AutoTokenizer  # noqa: E402

from bioalbert.cli import main as bioalbert  # noqa: E402
from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining  # noqa: E402

# ALBERT's 30k-clean was trained with these SentencePiece options (google-research/albert README), at 30000 pieces.
ALBERT_SPM_OPTIONS = dict(
    model_type="unigram",
    pad_id=0,
    unk_id=1,
    bos_id=-1,
    eos_id=-1,
    control_symbols=["[CLS]", "[SEP]", "[MASK]"],
    user_defined_symbols=["(", ")", '"', "-", ".", "–", "£", "€"],
    character_coverage=0.99995,
)


def albert_preprocess(text: str) -> str:
    """google-research ALBERT's preprocess_text for an uncased model, applied before SentencePiece."""
    text = " ".join(text.split()).replace("``", '"').replace("''", '"')
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.lower()


@pytest.fixture(scope="module")
def corpus_lines(data_dir) -> list[str]:
    path = sorted((data_dir / "corpus").glob("pubmed_*.txt.gz"))[0]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.strip() for line in itertools.islice(handle, 2000) if line.strip()]


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory, corpus_lines) -> str:
    """A small lower-cased SentencePiece model trained like ALBERT's 30k-clean, standing in for it."""
    prefix = tmp_path_factory.mktemp("spm") / "30k-clean"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([albert_preprocess(line) for line in corpus_lines]),
        model_prefix=str(prefix),
        vocab_size=800,
        minloglevel=2,
        **ALBERT_SPM_OPTIONS,
    )
    return f"{prefix}.model"


@pytest.fixture(scope="module")
def micro_config_json(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "micro.json"
    path.write_text(json.dumps(MICRO_CONFIG))
    return str(path)


@pytest.fixture(scope="module")
def original(spm_model) -> BioAlbertForPreTraining:
    """A micro BioALBERT whose every weight is random (layer norms included), so no swapped pair goes unnoticed."""
    vocab_size = spm.SentencePieceProcessor(model_file=spm_model).get_piece_size()
    config = BioAlbertConfig.from_preset("base", vocab_size=vocab_size, **MICRO_CONFIG)
    torch.manual_seed(0)
    model = BioAlbertForPreTraining(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(std=0.3)
    return model


def google_albert_variables(model: BioAlbertForPreTraining) -> dict[str, np.ndarray]:
    """The model's weights under google-research ALBERT's TF1 names; TF dense kernels are [in, out]."""
    weights = {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}
    ours = "albert.encoder.albert_layer_groups.0.albert_layers.0."
    theirs = "bert/encoder/transformer/group_0/inner_group_0/"
    mapping_in = "albert.encoder.embedding_hidden_mapping_in"
    variables = {
        "bert/embeddings/word_embeddings": weights["albert.embeddings.word_embeddings.weight"],
        "bert/embeddings/token_type_embeddings": weights["albert.embeddings.token_type_embeddings.weight"],
        "bert/embeddings/position_embeddings": weights["albert.embeddings.position_embeddings.weight"],
        "bert/embeddings/LayerNorm/gamma": weights["albert.embeddings.LayerNorm.weight"],
        "bert/embeddings/LayerNorm/beta": weights["albert.embeddings.LayerNorm.bias"],
        "bert/encoder/embedding_hidden_mapping_in/kernel": weights[mapping_in + ".weight"].T,
        "bert/encoder/embedding_hidden_mapping_in/bias": weights[mapping_in + ".bias"],
        theirs + "LayerNorm/gamma": weights[ours + "attention.LayerNorm.weight"],
        theirs + "LayerNorm/beta": weights[ours + "attention.LayerNorm.bias"],
        theirs + "LayerNorm_1/gamma": weights[ours + "full_layer_layer_norm.weight"],
        theirs + "LayerNorm_1/beta": weights[ours + "full_layer_layer_norm.bias"],
        "bert/pooler/dense/kernel": weights["albert.pooler.weight"].T,
        "bert/pooler/dense/bias": weights["albert.pooler.bias"],
        "cls/predictions/transform/dense/kernel": weights["predictions.dense.weight"].T,
        "cls/predictions/transform/dense/bias": weights["predictions.dense.bias"],
        "cls/predictions/transform/LayerNorm/gamma": weights["predictions.LayerNorm.weight"],
        "cls/predictions/transform/LayerNorm/beta": weights["predictions.LayerNorm.bias"],
        "cls/predictions/output_bias": weights["predictions.bias"],
        "cls/seq_relationship/output_weights": weights["sop_classifier.classifier.weight"],
        "cls/seq_relationship/output_bias": weights["sop_classifier.classifier.bias"],
    }
    for tf_name, torch_name in [
        ("attention_1/self/query", "attention.query"),
        ("attention_1/self/key", "attention.key"),
        ("attention_1/self/value", "attention.value"),
        ("attention_1/output/dense", "attention.dense"),
        ("ffn_1/intermediate/dense", "ffn"),
        ("ffn_1/intermediate/output/dense", "ffn_output"),
    ]:
        variables[f"{theirs}{tf_name}/kernel"] = weights[f"{ours}{torch_name}.weight"].T
        variables[f"{theirs}{tf_name}/bias"] = weights[f"{ours}{torch_name}.bias"]
    return variables


def save_tf1_checkpoint(variables: dict[str, np.ndarray], prefix) -> str:
    """Writes `variables` as a TF1 checkpoint (.index + .data-00000-of-00001), with the training state a real
    pretraining checkpoint also holds: Adam slots for every weight and global_step."""
    with tf.Graph().as_default():
        to_save = {}
        for name, value in variables.items():
            to_save[name] = tf.compat.v1.Variable(np.ascontiguousarray(value, dtype=np.float32))
            to_save[f"{name}/adam_m"] = tf.compat.v1.Variable(np.zeros_like(value, dtype=np.float32))
            to_save[f"{name}/adam_v"] = tf.compat.v1.Variable(np.ones_like(value, dtype=np.float32))
        to_save["global_step"] = tf.compat.v1.Variable(np.int64(125000))
        saver = tf.compat.v1.train.Saver(var_list=to_save)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, str(prefix), write_meta_graph=False)


@pytest.fixture(scope="module")
def converted_dir(tmp_path_factory, original, spm_model, micro_config_json):
    prefix = save_tf1_checkpoint(google_albert_variables(original), tmp_path_factory.mktemp("tf") / "model.ckpt-125000")
    assert {name for name, _ in tf.train.list_variables(prefix)} >= {"global_step", "bert/pooler/dense/kernel/adam_m"}
    out = tmp_path_factory.mktemp("converted") / "bioalbert-micro"
    argv = ["convert-tf", "--checkpoint", prefix, "--spm-model", spm_model, "--size", "base", "--out", str(out)]
    assert bioalbert(argv + ["--config-json", micro_config_json, "--trained-on", "PubMed abstracts"]) == 0
    return out


def test_converted_model_scores_like_the_original(converted_dir, original):
    tokenizer = AutoTokenizer.from_pretrained(converted_dir)
    model = AutoModelForPreTraining.from_pretrained(converted_dir).eval()
    assert type(model).__name__ == "BioAlbertForPreTraining"
    assert json.loads((converted_dir / "config.json").read_text())["auto_map"]["AutoModelForPreTraining"]
    assert (converted_dir / "model.safetensors").is_file()
    metadata = json.loads((converted_dir / "pretraining_metrics.json").read_text())  # for `bioalbert release`'s card
    assert "`model.ckpt-125000`, global step 125,000" in metadata["converted_from"]
    assert (metadata["global_step"], metadata["trained_on"]) == (125000, "PubMed abstracts")

    inputs = tokenizer(
        ["Mutations in BRCA1 raise the risk of breast cancer.", "Aspirin reduced fever in 3 of 5 patients."],
        ["Carriers are offered screening.", "No adverse events were seen."],
        padding=True,
        return_tensors="pt",
        return_token_type_ids=True,
    )
    original_weights = original.state_dict()
    assert all(torch.equal(value, original_weights[name]) for name, value in model.state_dict().items())
    with torch.no_grad():
        expected, got = original(**inputs), model(**inputs)
    # Equal up to float32 rounding: identical weights in two instances still give ~1e-7 apart on this CPU.
    torch.testing.assert_close(got.prediction_logits, expected.prediction_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.sop_logits, expected.sop_logits, rtol=1e-5, atol=1e-5)
    # The SOP head must see the pooled [CLS] state: swapping the two sentences changes its scores.
    assert not torch.equal(got.sop_logits[0], got.sop_logits[1])


def test_tokenizer_lower_cases_and_segments_like_sentencepiece(converted_dir, spm_model, corpus_lines):
    tokenizer = AutoTokenizer.from_pretrained(converted_dir)
    processor = spm.SentencePieceProcessor(model_file=spm_model)
    assert tokenizer("The BRCA1 Gene (TP53)")["input_ids"] == tokenizer("the brca1 gene (tp53)")["input_ids"]
    assert tokenizer.tokenize("Naïve CAFÉ") == tokenizer.tokenize("naive cafe")
    assert [tokenizer.convert_ids_to_tokens(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    # Pieces as SentencePiece itself segments the text ALBERT-preprocessed, including around its user-defined
    # pieces "(", ")", "-" and "." (lines with "<digit>," pieces, which ALBERT re-splits, are left out).
    lines = [line for line in corpus_lines[-300:] if not any(c.isdigit() and d == "," for c, d in zip(line, line[1:]))]
    differ = [line for line in lines if tokenizer.tokenize(line) != processor.encode_as_pieces(albert_preprocess(line))]
    assert len(lines) > 100
    assert len(differ) <= len(lines) // 100, differ[:3]


def test_missing_and_unknown_variables_are_listed(tmp_path, original, spm_model, micro_config_json, capsys):
    variables = google_albert_variables(original)
    del variables["bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma"]
    variables["output_weights"] = np.zeros((3, MICRO_CONFIG["hidden_size"]), np.float32)  # a fine-tuned head
    prefix = save_tf1_checkpoint(variables, tmp_path / "model.ckpt-1")
    out = tmp_path / "out"
    argv = ["convert-tf", "--checkpoint", prefix, "--spm-model", spm_model, "--size", "base", "--out", str(out)]
    assert bioalbert(argv + ["--config-json", micro_config_json]) == 1
    error = capsys.readouterr().err
    assert prefix in error
    assert "missing variable: bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma" in error
    assert "unknown variable: output_weights [3, 64]" in error
    assert "adam" not in error and "global_step" not in error
    assert not out.exists()


def test_shape_mismatch_names_the_variable_and_both_shapes(tmp_path, original, spm_model, micro_config_json, capsys):
    variables = google_albert_variables(original)
    name = "bert/encoder/embedding_hidden_mapping_in/kernel"
    variables[name] = variables[name].T  # saved [out, in], as a torch weight would be
    prefix = save_tf1_checkpoint(variables, tmp_path / "model.ckpt-1")
    argv = ["convert-tf", "--checkpoint", str(tmp_path), "--spm-model", spm_model, "--out", str(tmp_path / "out")]
    assert bioalbert(argv + ["--size", "base", "--config-json", micro_config_json]) == 1
    error = capsys.readouterr().err
    assert prefix in error  # the folder was resolved to its checkpoint
    embedding, hidden = MICRO_CONFIG["embedding_size"], MICRO_CONFIG["hidden_size"]
    assert f"{name}: checkpoint [{hidden}, {embedding}], expected [{embedding}, {hidden}]" in error
    assert error.count("checkpoint [") == 1


def test_without_tensorflow_the_command_says_what_to_install(tmp_path, spm_model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what `import tensorflow` meets where it is not installed
    argv = ["convert-tf", "--checkpoint", str(tmp_path / "model.ckpt-1"), "--spm-model", spm_model, "--size", "large"]
    assert bioalbert(argv + ["--out", str(tmp_path / "out")]) == 1
    assert "pip install 'bioalbert[convert]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
