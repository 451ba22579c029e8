"""BioALBERT model configuration.

Self-contained (relative imports only) so that it can ship inside a Hub model repo as remote code.
"""

from transformers import AlbertConfig

# Named sizes. `base` and `large` are ALBERT's own (Lan et al., 2019, Table 1); BioALBERT used them unchanged.
# `tiny` is small enough to pretrain and fine-tune on a 2-core CPU in minutes.
PRESETS = {
    "tiny": dict(
        embedding_size=128, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024
    ),
    "base": dict(
        embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
    ),
    "large": dict(
        embedding_size=128, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
    ),
}


EMBEDDING_SHARING = ("gdes", "plain", "none")


class BioAlbertConfig(AlbertConfig):
    r"""Configuration of a BioALBERT model: an [`AlbertConfig`] with its own `model_type` and named size presets.

    ALBERT's factorised embeddings (`embedding_size` < `hidden_size`) and cross-layer parameter sharing
    (`num_hidden_groups=1`) are kept as in ALBERT. Use [`BioAlbertConfig.from_preset`] for the named sizes:

    ```python
    >>> config = BioAlbertConfig.from_preset("base", vocab_size=30000)
    ```
    """

    model_type = "bioalbert"

    # "alibi": every attention head also scores key j for query i by -slope_h * |i - j| (ALiBi, Press et al., 2022;
    # symmetric as in MosaicBERT), on top of ALBERT's learned absolute positions. None: ALBERT's attention as is.
    # Where it helps: small models on small budgets, which otherwise take thousands of steps to learn to attend to
    # their neighbours (docs/research.md, issue #4); the slopes are fixed, so it adds no parameter.
    position_bias: str | None = None
    # Replaced-token-detection pretraining (ELECTRA; `BioAlbertForReplacedTokenDetection`): the width of the small
    # masked-LM generator that corrupts the input, with one attention head per 64 dimensions and a 4x feed-forward
    # layer. None: the model has no generator (masked LM + sentence order, ALBERT's pretraining).
    generator_hidden_size: int | None = None
    # How the generator and the discriminator share the token embeddings (replaced-token detection only): "gdes",
    # DeBERTa-v3's gradient-disentangled sharing (the discriminator reads stop_gradient(generator's) + its own delta);
    # "plain", ELECTRA's (one table, both losses train it); "none" (each model its own table).
    embedding_sharing: str = "gdes"

    def __post_init__(self, **kwargs):
        if self.position_bias not in (None, "alibi"):
            raise ValueError(f"position_bias must be None or 'alibi', got {self.position_bias!r}.")
        if self.generator_hidden_size is not None and self.generator_hidden_size < 1:
            raise ValueError(f"generator_hidden_size must be a positive width or None, got {self.generator_hidden_size}.")
        if self.embedding_sharing not in EMBEDDING_SHARING:
            raise ValueError(f"embedding_sharing must be one of {EMBEDDING_SHARING}, got {self.embedding_sharing!r}.")
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, preset: str, **kwargs) -> "BioAlbertConfig":
        """Builds the config of a named size (`tiny`, `base`, `large`); `kwargs` override single fields."""
        if preset not in PRESETS:
            raise ValueError(f"Unknown BioALBERT preset {preset!r}; choose one of {sorted(PRESETS)}.")
        # ALBERT pretrained without dropout (Lan et al., section 4.6); `gelu_new` is ALBERT's activation.
        return cls(**{**PRESETS[preset], "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, **kwargs})

    def generator_config(self) -> "BioAlbertConfig":
        """The config of the replaced-token-detection generator: this one at `generator_hidden_size` wide."""
        if self.generator_hidden_size is None:
            raise ValueError("This config has no generator (generator_hidden_size is None).")
        width = self.generator_hidden_size
        return type(self)(**{**self.to_dict(), "hidden_size": width, "num_attention_heads": max(1, width // 64),
                             "intermediate_size": 4 * width, "generator_hidden_size": None})


__all__ = ["BioAlbertConfig", "PRESETS"]
