"""Mixed precision where the hardware has it: the default of every training command (`--bf16 false` turns it off)."""

import torch


def native_bf16() -> str | None:
    """Where bf16 autocast runs natively: "cuda" (Ampere or newer), "cpu" (oneDNN has bf16 kernels: AVX512-BF16 or
    AMX), else None. Emulated bf16 is slower than fp32, so it is only worth turning on where it is native."""
    if torch.cuda.is_available():
        return "cuda" if torch.cuda.is_bf16_supported() else None
    try:  # no public API says whether oneDNN has native bf16 kernels; PyTorch's own CPU tests ask this op
        return "cpu" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    except (AttributeError, RuntimeError):
        return None


def precision_flags() -> list[str]:
    """`TrainingArguments` flags for bf16 mixed precision wherever it is native, to put before the user's own (which
    win: `--bf16 false`). On an AVX512-BF16 CPU the tiny model trains markedly faster in bf16 (measured in
    docs/research.md, the all-types model). Trainer wants `--use_cpu` for bf16 on CPU."""
    device = native_bf16()
    if device is None:
        return []
    return ["--bf16", "true", *(["--use_cpu", "true"] if device == "cpu" else [])]


def precision_name(training_args) -> str:
    """What a results file records as the training precision."""
    return "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32"
