"""Pretraining throughput: BioAlbertForPreTraining (MLM head gathered at the masked positions) against transformers'
stock AlbertForPreTraining (head over every position), same config, weights, batch and sequence length, with
torch.compile off and on. Prints tokens/s (forward + backward + AdamW step) and the ratio, with machine + versions.

    python benchmarks/pretrain_throughput.py --preset tiny --json results/benchmarks/pretrain_throughput/tiny-fp32.json
    python benchmarks/pretrain_throughput.py --preset tiny --dtype bf16 --json .../tiny-bf16.json  # AVX512-BF16 CPU
    python benchmarks/pretrain_throughput.py --preset base --batch-size 8
    python benchmarks/pretrain_throughput.py --preset base --dtype bf16 --device cuda --batch-size 64 --seq-len 512

The throughput table of docs/benchmarks.md is generated from the JSON files under
results/benchmarks/pretrain_throughput/ (`python -m bioalbert.training.report --readme docs/benchmarks.md`); each
records the machine, versions and load average.

Batches are random piece ids with 15% of positions as targets (what the collator produces; the values do not change
the cost). All settings take turns step by step and the median step time counts, so load from other processes on
a shared machine hits them alike.

On a GPU it also prints model FLOPs utilisation (MFU): the FLOPs the model needs per token (matrix products, the MLM
head only at the masked positions, as BioAlbertForPreTraining computes it; training = 3 x forward) times tokens/s,
over the GPU's dense bf16 peak. The stock model does more work for the same tokens (its head runs at every
position), so at equal MFU it would be slower; its "hardware" utilisation is printed beside.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from transformers import AlbertConfig, AlbertForPreTraining

from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining
from bioalbert.training.results import environment


# Dense bf16 tensor-core peaks (FLOP/s, no sparsity) from NVIDIA's data sheets; --peak-tflops for other GPUs.
BF16_PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12}


def forward_flops_per_token(config, seq_len: int, head_positions: float) -> float:
    """Matrix-product FLOPs of one forward pass per input token (2 per multiply-add). ALBERT shares one layer's
    weights across `num_hidden_layers`, but the compute runs once per layer. `head_positions` is the share of
    positions where the MLM vocabulary projection runs (the masked share for BioALBERT, 1.0 for the stock model)."""
    hidden, inter, emb = config.hidden_size, config.intermediate_size, config.embedding_size
    per_layer = 2 * 4 * hidden * hidden + 2 * 2 * hidden * inter + 2 * 2 * seq_len * hidden  # QKVO, FFN, QK^T and AV
    head = 2 * hidden * emb + 2 * emb * config.vocab_size
    return 2 * emb * hidden + config.num_hidden_layers * per_layer + head_positions * head


def training_flops_per_token(config, seq_len: int, head_positions: float) -> float:
    """Forward + backward (the backward's products cost twice the forward's): 3 x forward. MFU = this x tokens/s /
    peak FLOP/s; benchmarks/gpu_base_run.py computes its pretraining MFU with it too."""
    return 3 * forward_flops_per_token(config, seq_len, head_positions)


def gpu_bf16_peak_flops(gpu_name: str | None) -> float | None:
    """The dense bf16 peak of a GPU by its name (`torch.cuda.get_device_name`), None for one not in the table."""
    return next((peak for key, peak in BF16_PEAK_FLOPS.items() if gpu_name and key in gpu_name), None)


def bf16_peak_flops(device: str, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    return gpu_bf16_peak_flops(torch.cuda.get_device_name(0)) if device == "cuda" else None


def make_batch(batch_size: int, seq_len: int, vocab_size: int, mlm_probability: float, device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab_size, (batch_size, seq_len), generator=generator)
    masked = torch.rand(batch_size, seq_len, generator=generator) < mlm_probability
    labels = torch.where(masked, input_ids, torch.full_like(input_ids, -100))
    token_type_ids = (torch.arange(seq_len) >= seq_len // 2).long().expand(batch_size, -1).contiguous()
    batch = dict(
        input_ids=input_ids,
        token_type_ids=token_type_ids,
        attention_mask=torch.ones_like(input_ids),
        labels=labels,
        sentence_order_label=torch.randint(0, 2, (batch_size,), generator=generator),
    )
    return {key: value.to(device) for key, value in batch.items()}


def build_models(args) -> dict[str, torch.nn.Module]:
    config = BioAlbertConfig.from_preset(args.preset, vocab_size=args.vocab_size, attn_implementation=args.attn)
    torch.manual_seed(0)
    ours = BioAlbertForPreTraining(config)
    stock = AlbertForPreTraining(AlbertConfig(**config.to_diff_dict() | {"num_labels": 2}))
    stock.load_state_dict(ours.state_dict(), strict=False)  # identical weights (the tied decoder follows)
    return {"bioalbert": ours, "stock": stock}


def time_steps(model, optimizer, batch, steps: int, warmup: int, dtype) -> list[float]:
    device_type = batch["input_ids"].device.type
    times = []
    for step in range(warmup + steps):
        if device_type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device_type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny", choices=["tiny", "base", "large"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30000, help="ALBERT's vocabulary size")
    parser.add_argument("--mlm-probability", type=float, default=0.15)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per model and setting")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation happens here)")
    parser.add_argument("--compile", default="off,on", help="comma list of off/on")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16 autocast (GPUs; CPUs with AVX512-BF16/AMX)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak for MFU (default: known GPUs)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else None

    batch = make_batch(args.batch_size, args.seq_len, args.vocab_size, args.mlm_probability, args.device)
    tokens = args.batch_size * args.seq_len
    measured_on = environment()
    load_before = os.getloadavg()[0]
    print(json.dumps(measured_on))
    print(f"preset={args.preset} batch={args.batch_size} seq_len={args.seq_len} vocab={args.vocab_size} "
          f"attn={args.attn} dtype={args.dtype} masked={args.mlm_probability:.0%}")
    # Every (model, compile) pair is built and warmed up first, then they take turns step by step: load from other
    # processes on a shared machine hits all of them alike, and the median step time counts.
    runnable = {}
    for compiled in args.compile.split(","):
        for name, model in build_models(args).items():
            model.to(args.device).train()
            runnable[(name, compiled)] = torch.compile(model) if compiled == "on" else model
    optimizers = {key: torch.optim.AdamW(model.parameters(), lr=1e-4) for key, model in runnable.items()}
    for key, model in runnable.items():
        time_steps(model, optimizers[key], batch, 0, args.warmup, dtype)
    times = {key: [] for key in runnable}
    for _ in range(args.steps):
        for key, model in runnable.items():
            times[key] += time_steps(model, optimizers[key], batch, 1, 0, dtype)
    config = runnable[("bioalbert", args.compile.split(",")[0])].config
    needed = training_flops_per_token(config, args.seq_len, args.mlm_probability)
    done = {"bioalbert": needed, "stock": training_flops_per_token(config, args.seq_len, 1.0)}
    peak = bf16_peak_flops(args.device, args.peak_tflops) if args.dtype == "bf16" else None
    results = {}
    for (name, compiled), measured in times.items():
        step = statistics.median(measured)
        figures = {"step_s": round(step, 4), "tokens_per_s": round(tokens / step, 1)}
        line = f"{name:>9} compile={compiled:<3}  step {step * 1000:8.1f} ms   {tokens / step:10.1f} tokens/s"
        if peak:
            figures["mfu"] = round(needed * tokens / step / peak, 4)
            figures["hardware_flops_utilisation"] = round(done[name] * tokens / step / peak, 4)
            line += f"   MFU {figures['mfu']:.1%} (hardware {figures['hardware_flops_utilisation']:.1%})"
        results[f"{name}/compile={compiled}"] = figures
        print(line)
    if peak:
        results["peak_flops"] = peak
        results["training_flops_per_token"] = needed
    for compiled in args.compile.split(","):
        ratio = statistics.median(times[("stock", compiled)]) / statistics.median(times[("bioalbert", compiled)])
        results[f"ratio/compile={compiled}"] = round(ratio, 2)
        print(f"  BioAlbertForPreTraining / AlbertForPreTraining (compile={compiled}): {ratio:.2f}x")
    if "ratio/compile=on" in results and "stock/compile=off" in results:
        best = results["bioalbert/compile=on"]["tokens_per_s"] / results["stock/compile=off"]["tokens_per_s"]
        results["ratio/bioalbert_compiled_vs_stock_eager"] = round(best, 2)
        print(f"  BioAlbertForPreTraining compiled / stock eager: {best:.2f}x")
    # Other processes slow every setting alike (they take turns), so ratios hold; absolute figures need a quiet machine.
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"  1-minute load average before / after: {load[0]} / {load[1]}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        record = {**measured_on, "device": args.device, "load_average": load, "args": vars(args), "results": results}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
