"""Load on the demo Space: N clients send one tagging request each, all at once; prints p50/p95/max latency and
throughput with the machine and versions, and writes results/benchmarks/space/load-<models>.json.

    python benchmarks/space_load.py --model runs/ner-ncbi                   # launches the demo on 127.0.0.1
    python benchmarks/space_load.py --model runs/ner-ncbi --model runs/ner-bc5cdr-chem --requests 40
    python benchmarks/space_load.py --url http://127.0.0.1:7860/ --model-name ner-ncbi   # a running demo

Each request is one `gradio_client.Client.predict` of the demo's first example (about 550 characters, an abstract)
from its own client and thread, timed from send to answer, queue wait included. The demo queue runs
`--concurrency-limit` requests at once (the app's default: 2), so later requests wait: p95 grows with N.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

from bioalbert.hub.space import load_app


def machine() -> dict:
    cpu = platform.processor() or ""
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    import torch

    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average_1min": round(os.getloadavg()[0], 2)}  # other work on the machine slows every request


def versions() -> dict:
    names = ("torch", "transformers", "tokenizers", "gradio", "gradio_client")
    return {"python": platform.python_version(), **{name: version(name) for name in names}}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with 20 requests, p95 is the 19th slowest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def run_load(url: str, names: list[str], text: str, requests: int) -> tuple[list[float], float, list[str]]:
    """(latencies in s, wall time in s, errors) of `requests` simultaneous requests, one client each."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(requests)]  # connected before the clock starts
    latencies, errors, start_gate = [None] * requests, [], threading.Barrier(requests + 1)

    def one(i: int):
        start_gate.wait()
        started = time.perf_counter()
        try:
            _, table, _, note = clients[i].predict(text, names, api_name="/tag")
            if note.startswith("⚠️"):
                errors.append(note)
        except Exception as error:  # counted and reported; the benchmark goes on
            errors.append(f"{type(error).__name__}: {error}")
        latencies[i] = time.perf_counter() - started

    threads = [threading.Thread(target=one, args=(i,)) for i in range(requests)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=900)
    return [value for value in latencies if value is not None], time.perf_counter() - started, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="Fine-tuned folder or Hub id to serve (repeatable).")
    parser.add_argument("--url", help="Benchmark a running demo instead of launching one (use --model-name).")
    parser.add_argument("--model-name", action="append", default=[], help="With --url: chooser names to request.")
    parser.add_argument("--requests", type=int, default=20, help="Simultaneous requests (default 20).")
    parser.add_argument("--concurrency-limit", type=int, default=2, help="The launched demo's queue concurrency.")
    parser.add_argument("--warmup", type=int, default=2, help="Requests sent one by one before measuring.")
    parser.add_argument("--results-dir", default="results/benchmarks/space")
    args = parser.parse_args(argv)
    if not args.url and not args.model:
        parser.error("give --model (to launch the demo) or --url with --model-name")

    machine_before = machine()  # the load average before this benchmark adds its own
    app = load_app()
    text = app.EXAMPLES[0]
    demo = None
    if args.url:
        url, names = args.url, args.model_name
    else:
        demo = app.build_demo(models=args.model, concurrency_limit=args.concurrency_limit, queue_size=max(64, 2 * args.requests))
        _, url, _ = app.launch(demo, host="127.0.0.1", prevent_thread_lock=True, quiet=True)
        names = list(app.discover_models(args.model))
    try:
        from gradio_client import Client

        alone = Client(url, verbose=False)
        for _ in range(args.warmup):  # first requests load and warm up the models
            alone.predict(text, names, api_name="/tag")
        single = []
        for _ in range(5):
            started = time.perf_counter()
            alone.predict(text, names, api_name="/tag")
            single.append(time.perf_counter() - started)
        latencies, wall, errors = run_load(url, names, text, args.requests)
    finally:
        if demo is not None:
            demo.close()

    result = {
        "benchmark": "space_load", "models": args.model or names, "requests": args.requests,
        "succeeded": args.requests - len(errors), "errors": errors[:5], "text_chars": len(text),
        "concurrency_limit": None if args.url else args.concurrency_limit,
        "single_request_s": round(statistics.median(single), 4),
        "p50_s": round(percentile(latencies, 50), 4), "p95_s": round(percentile(latencies, 95), 4),
        "max_s": round(max(latencies), 4), "mean_s": round(statistics.mean(latencies), 4),
        "wall_s": round(wall, 3), "requests_per_s": round(args.requests / wall, 3),
        "machine": machine_before, "versions": versions(),
    }
    print(f"{result['machine']['cpu']} ({result['machine']['cpu_count']} CPUs, torch threads "
          f"{result['machine']['torch_threads']}, GPU {result['machine']['gpu']}, load average "
          f"{result['machine']['load_average_1min']} at the start); {platform.platform()}")
    print("versions: " + ", ".join(f"{name} {value}" for name, value in result["versions"].items()))
    print(f"models {', '.join(result['models'])}; text {len(text)} characters; queue concurrency {result['concurrency_limit']}")
    print(f"one request alone (median of 5): {result['single_request_s']} s")
    print(f"{args.requests} simultaneous requests: {result['succeeded']} succeeded; latency p50 {result['p50_s']:.3f} s, "
          f"p95 {result['p95_s']:.3f} s, max {result['max_s']:.3f} s; wall {wall:.2f} s ({result['requests_per_s']} req/s)")
    for error in errors[:5]:
        print(f"error: {error}")
    out = Path(args.results_dir) / f"load-{'+'.join(Path(model).name for model in result['models'])}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
