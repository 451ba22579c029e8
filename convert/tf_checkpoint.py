"""Converts an official BioALBERT TensorFlow 1 checkpoint (google-research ALBERT code) into a BioALBERT model
folder: `BioAlbertForPreTraining` weights (safetensors), its config with `auto_map`, and the tokenizer.

    bioalbert convert-tf --checkpoint downloads/base-pubmed/model.ckpt-best --spm-model albert_base/30k-clean.model \
        --size base --out converted/bioalbert-base-pubmed

The authors released no config and no vocabulary: they used ALBERT's own base/large configs and ALBERT's
"30k-clean" SentencePiece model, lower-cased. `--size` picks the config, `--spm-model` the vocabulary.

Reading TF checkpoints needs TensorFlow: `pip install "bioalbert[convert]"`. transformers 5 dropped its TF loaders
(`load_tf_weights_in_albert` is gone), so the name mapping lives here, in `ALBERT_TF_NAMES`.
"""

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from transformers import AutoModelForPreTraining, AutoTokenizer, HfArgumentParser
from transformers.convert_slow_tokenizer import SentencePieceExtractor, check_number_comma
from transformers.models.albert import AlbertTokenizer

from bioalbert.modeling import PRESETS, BioAlbertConfig, BioAlbertForPreTraining

# google-research ALBERT variables (albert/modeling.py, run_pretraining.py) -> BioAlbertForPreTraining parameters,
# as (TF scope, torch module, leaves): DENSE scopes hold kernel + bias, NORM scopes (layer norms) gamma + beta, and
# None marks a single variable. "{layer}" is the shared layer, repeated per group g and inner group i. In a layer,
# "LayerNorm" follows attention and "LayerNorm_1" the feed-forward block (second layer_norm in the same scope).
# The MLM decoder has no variable of its own: it is tied to the word embeddings, its bias to output_bias.
DENSE = (("kernel", "weight"), ("bias", "bias"))
NORM = (("gamma", "weight"), ("beta", "bias"))
ALBERT_TF_NAMES = [
    ("bert/embeddings/word_embeddings", "albert.embeddings.word_embeddings.weight", None),
    ("bert/embeddings/token_type_embeddings", "albert.embeddings.token_type_embeddings.weight", None),
    ("bert/embeddings/position_embeddings", "albert.embeddings.position_embeddings.weight", None),
    ("bert/embeddings/LayerNorm", "albert.embeddings.LayerNorm", NORM),
    ("bert/encoder/embedding_hidden_mapping_in", "albert.encoder.embedding_hidden_mapping_in", DENSE),
    ("{layer}/attention_1/self/query", "{layer}.attention.query", DENSE),
    ("{layer}/attention_1/self/key", "{layer}.attention.key", DENSE),
    ("{layer}/attention_1/self/value", "{layer}.attention.value", DENSE),
    ("{layer}/attention_1/output/dense", "{layer}.attention.dense", DENSE),
    ("{layer}/LayerNorm", "{layer}.attention.LayerNorm", NORM),
    ("{layer}/ffn_1/intermediate/dense", "{layer}.ffn", DENSE),
    ("{layer}/ffn_1/intermediate/output/dense", "{layer}.ffn_output", DENSE),
    ("{layer}/LayerNorm_1", "{layer}.full_layer_layer_norm", NORM),
    ("bert/pooler/dense", "albert.pooler", DENSE),
    ("cls/predictions/transform/dense", "predictions.dense", DENSE),
    ("cls/predictions/transform/LayerNorm", "predictions.LayerNorm", NORM),
    ("cls/predictions/output_bias", "predictions.bias", None),
    # Already [2, hidden] (TF multiplies with transpose_b), so not transposed like the kernels.
    ("cls/seq_relationship/output_weights", "sop_classifier.classifier.weight", None),
    ("cls/seq_relationship/output_bias", "sop_classifier.classifier.bias", None),
]
TF_LAYER = "bert/encoder/transformer/group_{g}/inner_group_{i}"
TORCH_LAYER = "albert.encoder.albert_layer_groups.{g}.albert_layers.{i}"
# Training state, not weights: global_step and the optimizer slots (ALBERT's AdamW and LAMB both use these names).
IGNORED = re.compile(r"^global_step$|/(adam|lamb)_[mv]$")
TIED = {"predictions.decoder.weight", "predictions.decoder.bias"}
AUTHORS_RELEASE = "https://github.com/usmaann/BioALBERT"
# Read by `bioalbert release stage` (hub/cards.py) for the card's Training section, like `bioalbert pretrain`'s.
METADATA_FILE = "pretraining_metrics.json"


def tf_to_torch_names(config: BioAlbertConfig) -> dict[str, str]:
    """Every TF variable a checkpoint of this config holds, mapped to its BioAlbertForPreTraining parameter.
    TF dense kernels are [in, out] and torch Linear weights [out, in]: names ending in "/kernel" get transposed."""
    layers = [(g, i) for g in range(config.num_hidden_groups) for i in range(config.inner_group_num)]
    names = {}
    for tf_scope, torch_module, leaves in ALBERT_TF_NAMES:
        for g, i in layers if "{layer}" in tf_scope else [(0, 0)]:
            tf_scope_gi = tf_scope.format(layer=TF_LAYER.format(g=g, i=i))
            torch_module_gi = torch_module.format(layer=TORCH_LAYER.format(g=g, i=i))
            if leaves is None:
                names[tf_scope_gi] = torch_module_gi
            for tf_leaf, torch_leaf in leaves or ():
                names[f"{tf_scope_gi}/{tf_leaf}"] = f"{torch_module_gi}.{torch_leaf}"
    return names


class ConversionError(ValueError):
    """The inputs do not make a BioALBERT of the requested size; the message says what and where."""


@dataclass
class ConvertArguments:
    checkpoint: str = field(
        metadata={"help": "TF1 checkpoint prefix (model.ckpt-NNN, without .index), or a folder holding one."}
    )
    spm_model: str = field(metadata={"help": "ALBERT's 30k-clean.model (SentencePiece), the checkpoint's vocabulary."})
    out: str = field(metadata={"help": "Folder to write the BioALBERT model, config and tokenizer into."})
    size: Literal["base", "large"] = field(metadata={"help": "ALBERT config the checkpoint was trained with."})
    config_json: str | None = field(
        default=None,
        metadata={"help": "JSON file of BioAlbertConfig fields overriding the --size preset (unusual checkpoints)."},
    )
    trained_on: str | None = field(
        default=None, metadata={"help": "What the authors pretrained it on, for the model card (e.g. 'PubMed abstracts')."}
    )
    source: str = field(default=AUTHORS_RELEASE, metadata={"help": "Where the checkpoint was published (model card)."})
    lowercase: bool = field(default=True, metadata={"help": "Lower-case input, as BioALBERT was trained (default)."})
    overwrite: bool = field(default=False, metadata={"help": "Write into a non-empty --out folder."})


def import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banner says nothing about the checkpoint
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ConversionError(
            "convert-tf reads TensorFlow checkpoints and needs TensorFlow: pip install 'bioalbert[convert]' "
            f"(tensorflow-cpu). Import failed with: {error}"
        ) from error
    return tf


def resolve_checkpoint(path: str, tf) -> str:
    """The checkpoint prefix for `path`: a prefix itself, or a folder with a `checkpoint` file or one `*.index`."""
    if Path(path).is_dir():
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        indexes = sorted(Path(path).glob("*.index"))
        if len(indexes) != 1:
            found = ", ".join(p.name for p in indexes) or "none"
            raise ConversionError(f"{path}: expected one TF checkpoint (*.index), found {found}; pass its prefix.")
        return str(indexes[0].with_suffix(""))
    path = re.sub(r"\.(index|meta|data-\d+-of-\d+)$", "", path)  # a file of the checkpoint names its prefix
    if not Path(path + ".index").is_file():
        raise ConversionError(f"No TF checkpoint at {path}: {path}.index does not exist (pass the prefix, no suffix).")
    return path


def read_checkpoint(prefix: str, tf) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of every variable in the checkpoint, without loading any values."""
    return {name: tuple(shape) for name, shape in tf.train.list_variables(prefix)}


def load_tokenizer_from_spm(spm_model: str, lowercase: bool) -> AlbertTokenizer:
    """ALBERT's tokenizer from its SentencePiece model, normalising text as google-research ALBERT did.

    Built from the pieces rather than `AlbertTokenizer.from_pretrained(<folder with spiece.model>)`: that path turns
    SentencePiece's user-defined pieces (30k-clean has `( ) " - .`) into added tokens, which split the text before
    segmentation and give every following chunk its own "▁" ("(breast" -> "(", "▁breast"), unlike SentencePiece.
    As plain pieces with their score they segment as SentencePiece does. The -100 on "<digit>," pieces is
    transformers' AlbertConverter rule, standing in for ALBERT's re-split of such pieces ("1,000" -> "1", ",", ...).
    """
    if not Path(spm_model).is_file():
        raise ConversionError(f"SentencePiece model not found: {spm_model}")
    try:
        proto = SentencePieceExtractor(spm_model).proto
    except Exception as error:  # protobuf's DecodeError and friends: the file is not a SentencePiece model
        raise ConversionError(f"{spm_model} is not a SentencePiece model: {error}") from error
    vocab = [(p.piece, p.score if check_number_comma(p.piece) else p.score - 100) for p in proto.pieces]
    missing = sorted({"<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"} - {piece for piece, _ in vocab})
    if missing:
        raise ConversionError(f"{spm_model} lacks ALBERT's special pieces {missing}: is it ALBERT's 30k-clean.model?")
    return AlbertTokenizer(
        vocab=vocab,
        _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap or None,
        do_lower_case=lowercase,
        keep_accents=False,  # ALBERT strips accents (NFKD) before SentencePiece
        model_max_length=512,
    )


def build_config(args: ConvertArguments, tokenizer) -> BioAlbertConfig:
    overrides = {}
    if args.config_json:
        try:
            overrides = json.loads(Path(args.config_json).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ConversionError(f"Cannot read --config-json {args.config_json}: {error}") from error
    fields = dict(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        hidden_act="gelu_new",  # google-research ALBERT's "gelu" is the tanh approximation, transformers' "gelu_new"
    )
    try:
        return BioAlbertConfig.from_preset(args.size, **{**fields, **overrides})
    except (TypeError, ValueError) as error:
        raise ConversionError(f"--config-json {args.config_json}: invalid BioAlbertConfig fields: {error}") from error


def check_variables(prefix: str, shapes: dict[str, tuple], names: dict[str, str], model, args) -> None:
    """Fails, listing every problem, unless the checkpoint holds exactly the variables this config needs."""
    weights = {name for name in shapes if not IGNORED.search(name)}
    missing, unknown = sorted(set(names) - weights), sorted(weights - set(names))
    if missing or unknown:
        lines = [f"{prefix} does not match a google-research ALBERT checkpoint of size {args.size!r}:"]
        lines += [f"  missing variable: {name}" for name in missing]
        lines += [f"  unknown variable: {name} {list(shapes[name])}" for name in unknown]
        raise ConversionError("\n".join(lines))
    params = model.state_dict()
    mismatches = []
    for tf_name, torch_name in names.items():
        expected = tuple(params[torch_name].shape)
        expected = expected[::-1] if tf_name.endswith("/kernel") else expected
        if shapes[tf_name] != expected:
            mismatches.append(f"  {tf_name}: checkpoint {list(shapes[tf_name])}, expected {list(expected)}")
    if mismatches:
        hidden = shapes["bert/pooler/dense/bias"][0]
        sizes = [name for name in ("base", "large") if PRESETS[name]["hidden_size"] == hidden and name != args.size]
        hint = [f"The checkpoint's hidden size is {hidden}: try --size {sizes[0]}."] if sizes else []
        header = (
            f"{prefix}: variable shapes differ from a {args.size!r} BioALBERT with the "
            f"{model.config.vocab_size}-piece vocabulary of {args.spm_model}:"
        )
        raise ConversionError("\n".join([header] + mismatches + hint))


def convert(args: ConvertArguments) -> Path:
    tf = import_tensorflow()
    prefix = resolve_checkpoint(args.checkpoint, tf)
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ConversionError(f"--out {out} is not empty; pass --overwrite to write into it.")

    tokenizer = load_tokenizer_from_spm(args.spm_model, args.lowercase)
    config = build_config(args, tokenizer)
    model = BioAlbertForPreTraining(config)
    names = tf_to_torch_names(config)
    assert set(model.state_dict()) == set(names.values()) | TIED, "ALBERT_TF_NAMES does not cover the model"

    shapes = read_checkpoint(prefix, tf)
    check_variables(prefix, shapes, names, model, args)
    reader = tf.train.load_checkpoint(prefix)
    params = model.state_dict()
    with torch.no_grad():
        for tf_name, torch_name in names.items():
            value = np.asarray(reader.get_tensor(tf_name), dtype=np.float32)
            params[torch_name].copy_(torch.from_numpy(value.T if tf_name.endswith("/kernel") else value))
    if model.predictions.decoder.weight.data_ptr() != model.albert.embeddings.word_embeddings.weight.data_ptr():
        raise RuntimeError("The MLM decoder is no longer tied to the word embeddings: the converted head is wrong.")
    model.eval()

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    step = int(reader.get_tensor("global_step")) if "global_step" in shapes else None
    write_metadata(out / METADATA_FILE, args, prefix, step)
    verify(out, model, tokenizer)
    ignored = sorted(name for name in shapes if IGNORED.search(name))
    print(
        f"Converted {len(names)} variables of {prefix} (global_step {step}; ignored {len(ignored)} optimizer/step "
        f"variables) into a {args.size} BioALBERT with {model.num_parameters():,} parameters and a "
        f"{len(tokenizer)}-piece {'lower-cased' if args.lowercase else 'cased'} tokenizer: {out}"
    )
    return out


def write_metadata(path: Path, args: ConvertArguments, prefix: str, step: int | None) -> None:
    at_step = f", global step {step:,}" if step is not None else ""
    metadata = {
        "converted_from": f"the TensorFlow 1 checkpoint `{Path(prefix).name}`{at_step}, published at {args.source}",
        "trained_on": args.trained_on,
        "global_step": step,
        "checkpoint_index_sha256": hashlib.sha256(Path(prefix + ".index").read_bytes()).hexdigest(),
        "spm_model": Path(args.spm_model).name,
        "spm_model_sha256": hashlib.sha256(Path(args.spm_model).read_bytes()).hexdigest(),
        "size": args.size,
        "lowercase": args.lowercase,
    }
    path.write_text(json.dumps({k: v for k, v in metadata.items() if v is not None}, indent=2) + "\n", encoding="utf-8")


def verify(out: Path, model: BioAlbertForPreTraining, tokenizer) -> None:
    """The saved folder must load through the Auto classes with the same weights, tokens and scores as `model`."""
    loaded = AutoModelForPreTraining.from_pretrained(out).eval()
    loaded_tokenizer = AutoTokenizer.from_pretrained(out)
    expected_weights = model.state_dict()
    changed = [name for name, value in loaded.state_dict().items() if not torch.equal(value, expected_weights[name])]
    if changed:
        raise RuntimeError(f"{out}: weights differ after loading with AutoModelForPreTraining: {changed}")
    text = ("Mutations in BRCA1 raise the risk of breast cancer.", "Carriers are offered screening.")
    inputs = tokenizer(*text, return_tensors="pt", return_token_type_ids=True)
    reloaded_inputs = loaded_tokenizer(*text, return_tensors="pt", return_token_type_ids=True)
    if not torch.equal(inputs["input_ids"], reloaded_inputs["input_ids"]):
        raise RuntimeError(f"{out}: the tokenizer encodes differently after loading with AutoTokenizer.")
    with torch.no_grad():
        expected, got = model(**inputs), loaded(**inputs)
    # Close, not bit-equal: with identical weights, two instances' CPU matmuls still differ by ~1e-7 (seen here).
    torch.testing.assert_close(got.prediction_logits, expected.prediction_logits)
    torch.testing.assert_close(got.sop_logits, expected.sop_logits)


def main(argv: list[str] | None = None) -> int:
    (args,) = HfArgumentParser(ConvertArguments).parse_args_into_dataclasses(argv)
    try:
        convert(args)
    except ConversionError as error:
        print(f"bioalbert convert-tf: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
