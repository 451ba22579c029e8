"""Loading saved BioALBERT folders (or Hub ids) for use: a tokenizer, or a fine-tuned NER model with its tokenizer.

transformers loads some broken folders without a word (a folder without tokenizer files gives an empty tokenizer,
a pretrained model gives a token-classification head with random weights and labels LABEL_0...); these functions
turn those cases into errors naming the folder and what is wrong. Training and inference both load through here
(importing this module imports `bioalbert.modeling` first, which registers BioALBERT with the Auto classes).
"""

from pathlib import Path

from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
SPECIAL_TOKENS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]  # ALBERT's, in ALBERT's id order


def load_tokenizer(name_or_path: str | Path, **kwargs):
    """`AutoTokenizer.from_pretrained`, but a folder without tokenizer files is an error, and so is a path or Hub
    id that does not exist (named in one line, not transformers' guess that it was a malformed Hub id).

    transformers builds an empty ALBERT tokenizer (special tokens only) from a folder that has a config but no
    tokenizer files, and every word then becomes `<unk>` without a warning.
    """
    path = Path(name_or_path).expanduser()
    if looks_local(str(name_or_path)) and not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder" if path.exists() else f"Folder not found: {path}")
    if path.is_dir() and not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{path} holds no tokenizer (none of {', '.join(TOKENIZER_FILES)}). Save one there with "
            "`tokenizer.save_pretrained(folder)` or train one with `bioalbert train-tokenizer`."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    except OSError as error:
        raise FileNotFoundError(f"Cannot load the tokenizer {name_or_path}: {first_line(error)}") from error
    if len(tokenizer) <= len(SPECIAL_TOKENS):
        raise ValueError(f"The tokenizer of {name_or_path} has no vocabulary beyond its special tokens.")
    return tokenizer


def looks_local(path: str) -> bool:
    """Whether `path` names a folder on this machine rather than a Hub id (<org>/<name>)."""
    return Path(path).exists() or path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path


def first_line(error: Exception) -> str:
    """transformers' loading errors run to several lines of advice; the first says what went wrong."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def load_ner_model(path: str, trust_remote_code: bool = False):
    """(tokenizer, model) of a fine-tuned token-classification folder or Hub id, on the CPU in training mode.

    Raises FileNotFoundError (no such folder, a file missing, not on the Hub) or ValueError (not a fine-tuned NER
    model, such as a pretrained encoder), each naming the folder, before any weights are read.
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
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as error:
        where = "" if looks_local(path) else "not a local folder, and "
        raise FileNotFoundError(f"Cannot load model {path}: {where}{first_line(error)}") from error
    if all(label.startswith("LABEL_") for label in config.id2label.values()):
        raise ValueError(f"{path}: config.json has no id2label names (LABEL_0...): not a fine-tuned NER model.")
    tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{path}: the tokenizer is not a fast (Rust) tokenizer; BioALBERT folders save one.")
    model = AutoModelForTokenClassification.from_pretrained(path, config=config, trust_remote_code=trust_remote_code)
    return tokenizer, model
