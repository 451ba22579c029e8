"""The model that `bioalbert tag` and `bioalbert space` use when none is given: the all-types tagger
(`bioalbert finetune-joint`) shipped in the repository's `models/` folder, which a clone or an editable install
has; elsewhere its Hub repo."""

from pathlib import Path

SHIPPED_NER_HUB_ID = "bioalbert/bioalbert-tiny-ner"
SHIPPED_NER_DIR = Path(__file__).resolve().parents[1] / "models" / "bioalbert-tiny-ner"


def default_ner_model() -> str:
    return str(SHIPPED_NER_DIR) if (SHIPPED_NER_DIR / "config.json").is_file() else SHIPPED_NER_HUB_ID
