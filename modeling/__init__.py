"""BioALBERT model classes, registered with the transformers Auto classes on import."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForTokenClassification,
    AutoTokenizer,
)
from transformers.models.albert import AlbertTokenizer

from .configuration_bioalbert import PRESETS, BioAlbertConfig
from .modeling_bioalbert import (
    AUTO_MAP,
    BioAlbertForMaskedLM,
    BioAlbertForPreTraining,
    BioAlbertForPreTrainingOutput,
    BioAlbertForTokenClassification,
    BioAlbertModel,
    BioAlbertPreTrainedModel,
    BioAlbertForReplacedTokenDetection,
    BioAlbertForReplacedTokenDetectionOutput,
)

AutoConfig.register("bioalbert", BioAlbertConfig, exist_ok=True)
AutoTokenizer.register(BioAlbertConfig, fast_tokenizer_class=AlbertTokenizer, exist_ok=True)
for auto_class, model_class in (
    (AutoModel, BioAlbertModel),
    (AutoModelForPreTraining, BioAlbertForPreTraining),
    (AutoModelForMaskedLM, BioAlbertForMaskedLM),
    (AutoModelForTokenClassification, BioAlbertForTokenClassification),
):
    auto_class.register(BioAlbertConfig, model_class, exist_ok=True)
    # Makes `save_pretrained` copy the remote-code files next to the weights.
    model_class.register_for_auto_class(auto_class.__name__)
BioAlbertConfig.register_for_auto_class()

__all__ = [
    "AUTO_MAP",
    "PRESETS",
    "BioAlbertConfig",
    "BioAlbertForMaskedLM",
    "BioAlbertForPreTraining",
    "BioAlbertForPreTrainingOutput",
    "BioAlbertForReplacedTokenDetection",
    "BioAlbertForReplacedTokenDetectionOutput",
    "BioAlbertForTokenClassification",
    "BioAlbertModel",
    "BioAlbertPreTrainedModel",
]
