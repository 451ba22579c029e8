"""BioALBERT models: ALBERT's encoder, reused from transformers, under the `bioalbert` model type.

Self-contained (relative imports only) so that this file and `configuration_bioalbert.py` can ship inside a Hub
model repo and load with `trust_remote_code=True` where this package is not installed.
"""

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_outputs import ModelOutput
from transformers.models.albert.modeling_albert import (
    AlbertForMaskedLM,
    AlbertForPreTraining,
    AlbertForTokenClassification,
    AlbertMLMHead,
    AlbertModel,
    AlbertPreTrainedModel,
)
from transformers.models.electra.modeling_electra import ElectraDiscriminatorPredictions

from .configuration_bioalbert import BioAlbertConfig

# Every Auto class a saved folder should answer to. transformers records only the saved class by itself.
AUTO_MAP = {
    "AutoConfig": "configuration_bioalbert.BioAlbertConfig",
    "AutoModel": "modeling_bioalbert.BioAlbertModel",
    "AutoModelForPreTraining": "modeling_bioalbert.BioAlbertForPreTraining",
    "AutoModelForMaskedLM": "modeling_bioalbert.BioAlbertForMaskedLM",
    "AutoModelForTokenClassification": "modeling_bioalbert.BioAlbertForTokenClassification",
}
# What `pipeline("ner"|"token-classification", model=folder, trust_remote_code=True)` runs on a fine-tuned folder:
# the stock pipeline fed the words the model was trained on (see pipeline_bioalbert.py, saved beside this file).
PIPELINE_FILE = "pipeline_bioalbert.py"
CUSTOM_PIPELINES = {
    task: {"impl": "pipeline_bioalbert.BioAlbertTokenClassificationPipeline", "pt": ["AutoModelForTokenClassification"],
           "type": "text"}
    for task in ("ner", "token-classification")
}


class BioAlbertPreTrainedModel(AlbertPreTrainedModel):
    config_class = BioAlbertConfig
    base_model_prefix = "albert"  # ALBERT's own prefix: stock ALBERT checkpoints load into BioALBERT classes.
    # `forward(**kwargs)` passes attention options to the encoder, but no head's loss takes `num_items_in_batch`:
    # the Trainer must scale losses for gradient accumulation itself.
    accepts_loss_kwargs = False

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, BioAlbertSOPHead):
            nn.init.normal_(module.classifier.weight, std=self.config.initializer_range)
            nn.init.zeros_(module.classifier.bias)
        elif isinstance(module, BioAlbertForReplacedTokenDetection) and hasattr(module, "embeddings_delta"):
            nn.init.zeros_(module.embeddings_delta)  # GDES: the discriminator starts from the generator's embeddings

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = dict(AUTO_MAP)
        return super().save_pretrained(save_directory, *args, **kwargs)

    def untie_layer_groups(self, num_hidden_groups: int) -> None:
        """Gives the encoder `num_hidden_groups` layer groups, each a copy of its one shared group, so that fine-tuning
        can move them apart: more parameters (one layer group's each) at the same compute per token. ALBERT's own
        `num_hidden_groups` field records it, so the saved model loads like any other."""
        encoder = self.base_model.encoder
        if num_hidden_groups == self.config.num_hidden_groups:
            return
        if self.config.num_hidden_groups != 1 or not 1 <= num_hidden_groups <= self.config.num_hidden_layers:
            raise ValueError(f"untie_layer_groups: can split one shared group into 1 to {self.config.num_hidden_layers} "
                             f"(num_hidden_layers), not {self.config.num_hidden_groups} into {num_hidden_groups}.")
        shared = encoder.albert_layer_groups[0]
        encoder.albert_layer_groups = nn.ModuleList([copy.deepcopy(shared) for _ in range(num_hidden_groups)])
        self.config.num_hidden_groups = num_hidden_groups


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's per-head slopes: the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8) for n heads."""
    return torch.pow(2.0, -8.0 * torch.arange(1, num_heads + 1) / num_heads)


def alibi_attention_bias(attention_mask: torch.Tensor, num_heads: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive 4D attention bias `(batch, heads, length, length)`: -slope_h * |i - j|, and the dtype's minimum at
    padded keys (`attention_mask` 0), the form transformers' eager and SDPA attention add to their scores."""
    length = attention_mask.shape[-1]
    positions = torch.arange(length, device=attention_mask.device)
    distance = (positions[None, :] - positions[:, None]).abs()
    slopes = alibi_slopes(num_heads).to(attention_mask.device)
    bias = -(slopes[:, None, None] * distance).to(dtype)[None]
    padding = (1 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    return bias + padding


class BioAlbertModel(BioAlbertPreTrainedModel, AlbertModel):
    """ALBERT's encoder (factorised embeddings, one shared layer group) returning `BaseModelOutputWithPooling`.

    With `config.position_bias="alibi"` it passes the encoder a 4D attention mask that carries ALiBi's distance
    penalty; transformers' eager and SDPA attention add a 4D mask to the scores as it is.
    """

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                **kwargs):
        if self.config.position_bias == "alibi" and (attention_mask is None or attention_mask.dim() == 2):
            if self.config._attn_implementation not in ("eager", "sdpa"):
                raise ValueError(f"position_bias='alibi' needs eager or sdpa attention, not "
                                 f"{self.config._attn_implementation!r}.")
            shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
            device = input_ids.device if input_ids is not None else inputs_embeds.device
            if attention_mask is None:
                attention_mask = torch.ones(shape, dtype=torch.long, device=device)
            dtype = self.embeddings.word_embeddings.weight.dtype
            attention_mask = alibi_attention_bias(attention_mask, self.config.num_attention_heads, dtype)
        return super().forward(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               position_ids=position_ids, inputs_embeds=inputs_embeds, **kwargs)


class BioAlbertForTokenClassification(BioAlbertPreTrainedModel, AlbertForTokenClassification):
    """ALBERT with a per-token linear classifier, for BioNER (`num_labels` IOB2 tags)."""

    def __init__(self, config: BioAlbertConfig):
        # transformers' __init__ with BioAlbertModel as the encoder (its own builds a stock AlbertModel, which knows
        # no `position_bias`): the same modules in the same order, so a seed gives the same weights as the stock head.
        super(AlbertForTokenClassification, self).__init__(config)
        self.num_labels = config.num_labels
        self.albert = BioAlbertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout_prob
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def save_pretrained(self, save_directory, *args, **kwargs):
        pipeline_code = Path(__file__).with_name(PIPELINE_FILE)
        # Loaded as remote code, this file's folder may lack the pipeline file: then the folder keeps the stock one.
        if pipeline_code.is_file():
            self.config.custom_pipelines = copy.deepcopy(CUSTOM_PIPELINES)  # pipeline() edits the dict it reads
        saved = super().save_pretrained(save_directory, *args, **kwargs)
        if pipeline_code.is_file():
            shutil.copy(pipeline_code, Path(save_directory) / PIPELINE_FILE)
        return saved


class BioAlbertForMaskedLM(BioAlbertPreTrainedModel, AlbertForMaskedLM):
    """ALBERT with its masked-language-model head only."""

    def __init__(self, config: BioAlbertConfig):
        super(AlbertForMaskedLM, self).__init__(config)  # as BioAlbertForTokenClassification
        self.albert = BioAlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
        self.post_init()


class BioAlbertSOPHead(nn.Module):
    """Sentence-order head: always 2-way, whatever `config.num_labels` says (that field belongs to NER heads)."""

    def __init__(self, config: BioAlbertConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled_output))


@dataclass
class BioAlbertForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.Tensor` of shape `()`, returned when `labels` is given):
        Masked-LM loss, plus the sentence-order loss when `sentence_order_label` is given.
    mlm_loss (`torch.Tensor` of shape `()`, returned when `labels` is given): the masked-LM part of `loss`.
    sop_loss (`torch.Tensor` of shape `()`, returned when `sentence_order_label` is given): the sentence-order part.
    prediction_logits (`torch.Tensor`):
        Vocabulary scores. Without `labels`: `(batch_size, sequence_length, vocab_size)`. With `labels`: only at the
        masked positions, `(num_masked, vocab_size)`, in the row-major order of `labels != -100`.
    sop_logits (`torch.Tensor` of shape `(batch_size, 2)`): sentence-order scores (0 = in order, 1 = swapped).
    """

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    sop_loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    sop_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BioAlbertForPreTraining(BioAlbertPreTrainedModel):
    """ALBERT's pretraining model: masked LM + sentence-order prediction.

    Unlike transformers' `AlbertForPreTraining`, the vocabulary projection runs only at the masked positions when
    `labels` are given (about 15% of the tokens), which is where most of a small model's step time goes. The loss is
    the same: cross-entropy averaged over the masked positions.
    """

    _tied_weights_keys = AlbertForPreTraining._tied_weights_keys

    def __init__(self, config: BioAlbertConfig):
        super().__init__(config)
        self.albert = BioAlbertModel(config)
        self.predictions = AlbertMLMHead(config)
        self.sop_classifier = BioAlbertSOPHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.predictions.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        sentence_order_label: torch.LongTensor | None = None,
        **kwargs,
    ) -> BioAlbertForPreTrainingOutput:
        outputs = self.albert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        sequence_output, pooled_output = outputs.last_hidden_state, outputs.pooler_output
        sop_logits = self.sop_classifier(pooled_output)

        mlm_loss = sop_loss = None
        if labels is None:
            prediction_logits = self.predictions(sequence_output)
        else:
            masked = labels != -100
            prediction_logits = self.predictions(sequence_output[masked])
            mlm_loss = F.cross_entropy(prediction_logits.float(), labels[masked])
        if sentence_order_label is not None:
            sop_loss = F.cross_entropy(sop_logits.float().view(-1, 2), sentence_order_label.view(-1))
        losses = [part for part in (mlm_loss, sop_loss) if part is not None]
        return BioAlbertForPreTrainingOutput(
            loss=sum(losses) if losses else None,
            mlm_loss=mlm_loss,
            sop_loss=sop_loss,
            prediction_logits=prediction_logits,
            sop_logits=sop_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


@dataclass
class BioAlbertForReplacedTokenDetectionOutput(ModelOutput):
    r"""
    loss (`torch.Tensor` of shape `()`, returned when `labels` is given):
        `mlm_loss + rtd_weight * rtd_loss`, plus `sop_loss` when `sentence_order_label` is given.
    mlm_loss (`torch.Tensor` of shape `()`): the generator's masked-LM loss.
    rtd_loss (`torch.Tensor` of shape `()`): the discriminator's replaced-token loss, averaged over real tokens.
    sop_loss (`torch.Tensor` of shape `()`, returned when `sentence_order_label` is given): the sentence-order loss.
    prediction_logits (`torch.Tensor` of shape `(num_masked, vocab_size)`): the generator's scores at the masked
        positions, in the row-major order of `labels != -100`.
    rtd_logits (`torch.Tensor` of shape `(batch_size, sequence_length)`): the discriminator's score that a token
        was replaced.
    rtd_labels (`torch.Tensor` of shape `(batch_size, sequence_length)`): 1 where the generator's sample differs
        from the original token, 0 where not, -100 at padding.
    sop_logits (`torch.Tensor` of shape `(batch_size, 2)`): sentence-order scores of the discriminator.
    """

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    rtd_loss: torch.Tensor | None = None
    sop_loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    rtd_logits: torch.Tensor | None = None
    rtd_labels: torch.Tensor | None = None
    sop_logits: torch.Tensor | None = None


class BioAlbertForReplacedTokenDetection(BioAlbertPreTrainedModel):
    """ELECTRA's replaced-token detection (Clark et al., 2020) with a BioALBERT encoder as the discriminator.

    A small masked-LM generator (`config.generator_hidden_size` wide, as deep as the discriminator, one shared layer
    group as in ALBERT) fills the masked positions with tokens sampled from its predictions; the discriminator (the
    `albert` encoder, what fine-tuning loads) tells, at every position, whether the token is the original. Both share
    ALBERT's factorised token embeddings, the way DeBERTa-v3 does it (He et al., 2023, "gradient-disentangled
    embedding sharing"): the generator owns them and trains them with its MLM loss only; the discriminator reads
    `stop_gradient(generator embeddings) + embeddings_delta`, so its loss moves only the delta. Plain sharing (ELECTRA)
    lets the two losses pull the embeddings in opposite directions (MLM pulls similar tokens together, RTD pushes them
    apart); DeBERTa-v3 measured GDES better than both sharing and not sharing. `config.embedding_sharing` picks
    "gdes" (the default), "plain" or "none" (the discriminator's own table). `save_pretrained` writes what the
    discriminator reads into its own `word_embeddings`, so the saved folder loads through `AutoModel` /
    `AutoModelForTokenClassification` as any BioALBERT encoder (the generator's weights are then unused).

    Against transformers' `ElectraForPreTraining`: the same discriminator head (`ElectraDiscriminatorPredictions`) and
    loss (binary cross-entropy over the non-padding positions); here the generator is part of the model and the
    replaced labels are made in `forward` from the sample, the generator's loss is computed at the masked positions
    only (most of a small model's step time is the vocabulary projection), and ELECTRA's weight of 50 on the
    discriminator loss is `rtd_weight`. Sentence order is optional (`sentence_order_label`): ELECTRA has none.
    """

    _tied_weights_keys = {
        "generator_predictions.decoder.weight": "generator.embeddings.word_embeddings.weight",
        "generator_predictions.decoder.bias": "generator_predictions.bias",
    }

    def __init__(self, config: BioAlbertConfig, rtd_weight: float = 50.0):
        super().__init__(config)
        generator_config = config.generator_config()
        self.albert = BioAlbertModel(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.sop_classifier = BioAlbertSOPHead(config)
        self.generator = BioAlbertModel(generator_config, add_pooling_layer=False)
        self.generator_predictions = AlbertMLMHead(generator_config)
        if config.embedding_sharing == "gdes":
            self.embeddings_delta = nn.Parameter(torch.zeros(config.vocab_size, config.embedding_size))
        self.rtd_weight = rtd_weight
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.generator_predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.generator_predictions.decoder = new_embeddings

    def discriminator_embeddings(self) -> torch.Tensor:
        """The token embedding table the discriminator reads (`config.embedding_sharing`)."""
        shared = self.generator.embeddings.word_embeddings.weight
        if self.config.embedding_sharing == "gdes":
            return shared.detach() + self.embeddings_delta
        return shared if self.config.embedding_sharing == "plain" else self.albert.embeddings.word_embeddings.weight

    def save_pretrained(self, save_directory, *args, **kwargs):
        with torch.no_grad():
            self.albert.embeddings.word_embeddings.weight.copy_(self.discriminator_embeddings())
        return super().save_pretrained(save_directory, *args, **kwargs)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        sentence_order_label: torch.LongTensor | None = None,
        **kwargs,
    ) -> BioAlbertForReplacedTokenDetectionOutput:
        if labels is None:
            raise ValueError("BioAlbertForReplacedTokenDetection needs `labels` (the masked positions' original ids).")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        masked = labels != -100
        generated = self.generator(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                   return_dict=True).last_hidden_state
        prediction_logits = self.generator_predictions(generated[masked])
        mlm_loss = F.cross_entropy(prediction_logits.float(), labels[masked])

        with torch.no_grad():  # ELECTRA samples at temperature 1; no gradient flows from the discriminator back
            sampled = torch.distributions.Categorical(logits=prediction_logits.float()).sample()
            original = torch.where(masked, labels, input_ids)
            corrupted = original.clone()
            corrupted[masked] = sampled
            rtd_labels = (corrupted != original).long().masked_fill(attention_mask == 0, -100)

        inputs_embeds = F.embedding(corrupted, self.discriminator_embeddings())
        outputs = self.albert(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                              token_type_ids=token_type_ids, return_dict=True, **kwargs)
        rtd_logits = self.discriminator_predictions(outputs.last_hidden_state)
        active = rtd_labels != -100
        rtd_loss = F.binary_cross_entropy_with_logits(rtd_logits[active].float(), rtd_labels[active].float())
        loss = mlm_loss + self.rtd_weight * rtd_loss

        sop_loss = sop_logits = None
        if sentence_order_label is not None:
            sop_logits = self.sop_classifier(outputs.pooler_output)
            sop_loss = F.cross_entropy(sop_logits.float().view(-1, 2), sentence_order_label.view(-1))
            loss = loss + sop_loss
        return BioAlbertForReplacedTokenDetectionOutput(
            loss=loss, mlm_loss=mlm_loss, rtd_loss=rtd_loss, sop_loss=sop_loss, prediction_logits=prediction_logits,
            rtd_logits=rtd_logits, rtd_labels=rtd_labels, sop_logits=sop_logits,
        )


__all__ = [
    "AUTO_MAP",
    "BioAlbertForReplacedTokenDetection",
    "BioAlbertForReplacedTokenDetectionOutput",
    "BioAlbertForMaskedLM",
    "BioAlbertForPreTraining",
    "BioAlbertForPreTrainingOutput",
    "BioAlbertForTokenClassification",
    "BioAlbertModel",
    "BioAlbertPreTrainedModel",
]
