"""Saves a randomly initialised BioALBERT of a named size together with a tokenizer: the starting point for
pretraining, or for fine-tuning "from scratch" as the baseline that pretraining must beat.

    bioalbert init-model --preset tiny --tokenizer runs/tok --output-dir runs/tiny-random
"""

import sys
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser

from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining
from bioalbert.training.tokenizer import load_tokenizer


@dataclass
class InitArguments:
    tokenizer: str = field(metadata={"help": "Tokenizer folder or Hub id (its vocabulary sizes the embeddings)."})
    output_dir: str = field(metadata={"help": "Where to save the model and tokenizer."})
    preset: str = field(default="tiny", metadata={"help": "Model size: tiny, base or large."})
    max_position_embeddings: int = field(default=512, metadata={"help": "Longest input in pieces."})
    seed: int = field(default=42, metadata={"help": "Seed for the random initialisation."})
    position_bias: str = field(
        default="alibi",
        metadata={"choices": ["none", "alibi"], "help": "Attention position bias (BioAlbertConfig.position_bias); "
                  "the pretraining recipes' default, so a random-init baseline matches the pretrained model."},
    )


def init_model(
    tokenizer, preset: str, seed: int = 42, position_bias: str = "none", model_class=BioAlbertForPreTraining,
    rtd_weight: float | None = None, **config_overrides
):
    """A new `model_class` (BioAlbertForPreTraining, or BioAlbertForReplacedTokenDetection with
    `generator_hidden_size` in `config_overrides`). `position_bias` as the command lines spell it: "none" (ALBERT's
    attention, config None) or "alibi"."""
    config = BioAlbertConfig.from_preset(
        preset,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        position_bias=None if position_bias == "none" else position_bias,
        **config_overrides,
    )
    torch.manual_seed(seed)
    return model_class(config) if rtd_weight is None else model_class(config, rtd_weight=rtd_weight)


def main(argv: list[str] | None = None) -> int:
    (args,) = HfArgumentParser(InitArguments).parse_args_into_dataclasses(argv)
    tokenizer = load_tokenizer(args.tokenizer)
    model = init_model(
        tokenizer,
        args.preset,
        args.seed,
        max_position_embeddings=args.max_position_embeddings,
        position_bias=args.position_bias,
    )
    model.save_pretrained(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    print(f"Saved a random {args.preset} BioALBERT ({model.num_parameters():,} parameters) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
