"""Loading saved BioALBERT folders (or Hub ids) for use: a tokenizer, or a fine-tuned NER model with its tokenizer.

transformers loads some broken folders without a word (a folder without tokenizer files gives an empty tokenizer,
a pretrained model gives a token-classification head with random weights and labels LABEL_0...); these functions
turn those cases into errors naming the folder and what is wrong. Training and inference both load through here
(importing this module imports `bioalbert.modeling` first, which registers BioALBERT with the Auto classes).
"""

from pathlib import Path

from transformers import AutoModelForTokenClassification, AutoTokenizer

TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
SPECIAL_TOKENS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]  # ALBERT's, in ALBERT's id order


def load_tokenizer(name_or_path: str | Path, **kwargs):
    """`AutoTokenizer.from_pretrained`, but a folder without tokenizer files is an error.

    transformers builds an empty ALBERT tokenizer (special tokens only) from a folder that has a config but no
    tokenizer files, and every word then becomes `<unk>` without a warning.
    """
    path = Path(name_or_path)
    if path.is_dir() and not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{path} holds no tokenizer (none of {', '.join(TOKENIZER_FILES)}). Save one there with "
            "`tokenizer.save_pretrained(folder)` or train one with `bioalbert train-tokenizer`."
        )
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    if len(tokenizer) <= len(SPECIAL_TOKENS):
        raise ValueError(f"The tokenizer of {name_or_path} has no vocabulary beyond its special tokens.")
    return tokenizer


def looks_local(path: str) -> bool:
    """Whether `path` names a folder on this machine rather than a Hub id (<org>/<name>)."""
    return Path(path).exists() or path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path


def load_ner_model(path: str, trust_remote_code: bool = False):
    """(tokenizer, model) of a fine-tuned token-classification folder or Hub id, on the CPU in training mode.

    Raises FileNotFoundError (no such folder, a file missing, not on the Hub) or ValueError (not a fine-tuned NER
    model), each naming the folder.
    """
    if looks_local(path):
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"Model folder not found: {folder}")
        missing = [name for name in ("config.json",) if not (folder / name).is_file()]
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
            missing.append("model weights (*.safetensors)")
        if not (folder / "tokenizer.json").is_file() and not (folder / "spiece.model").is_file():
            missing.append("tokenizer (tokenizer.json)")
        if missing:
            raise FileNotFoundError(f"Model folder {folder} is missing: {', '.join(missing)}")
    try:
        tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
        model = AutoModelForTokenClassification.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as error:
        raise FileNotFoundError(f"Cannot load model {path!r}: not a local folder and not on the Hub ({error})") from error
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{path}: the tokenizer is not a fast (Rust) tokenizer; BioALBERT folders save one.")
    if all(label.startswith("LABEL_") for label in model.config.id2label.values()):
        raise ValueError(f"{path}: config.json has no id2label names (LABEL_0...): not a fine-tuned NER model.")
    return tokenizer, model
