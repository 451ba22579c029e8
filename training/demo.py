"""`bioalbert demo` (`make demo`): the shipped all-types model at work in a few minutes, nothing trained.

    bioalbert demo                                   # models/bioalbert-tiny-ner on every benchmark test split
    bioalbert demo --model path/or/hub-id --datasets ncbi_disease bc2gm

Scores the model on each benchmark's test split and own types (as `bioalbert evaluate` does), prints the scores
beside the ones recorded when the model was made (`results/<name>/`, of the seed whose weights the folder holds),
the spaCy peer's and BioBERT's published F1, then tags an example abstract. The new scores go to `--results-dir`
(default runs/demo/results), never over the recorded ones.
"""

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm
from transformers import HfArgumentParser

from bioalbert.inference.shipped import default_ner_model
from bioalbert.ner.corpus_types import BENCHMARK_CORPUS

from .datadir import resolve_data_dir
from .report import reference_numbers
from .results import load_results

EXAMPLE = ("Germline mutations in BRCA1 predispose carriers to hereditary breast and ovarian cancer; tamoxifen "
           "reduces the risk in BRCA1 carriers and in mice, and IL-2 activates T cells.")


@dataclass
class DemoArguments:
    model: str | None = field(default=None, metadata={"help": "All-types model (default: models/bioalbert-tiny-ner)."})
    datasets: list[str] = field(default_factory=list, metadata={"help": "Benchmarks (default: every one present)."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder holding bioner/<name>/ (default: $BIOALBERT_DATA, ../shared/data)."})
    results_dir: str = field(default="runs/demo/results", metadata={"help": "Where the new scores go."})
    recorded_dir: str = field(default="results", metadata={"help": "Where the model's recorded scores are."})
    peer: str = field(default="spacy-peer-cpu-full", metadata={"help": "Results folder of the spaCy peer."})


def recorded(results_dir: str, name: str) -> dict[str, dict]:
    if not Path(results_dir, name).is_dir():
        return {}
    return {record["dataset"]: record for record in load_results(results_dir, model=name)}


def f1(record: dict | None, seed: int | None = None) -> str:
    """The record's entity F1: of `seed`'s run where the record has it (a model folder holds one seed's weights, while
    a results file gives the mean over seeds), else the record's own."""
    if not record:
        return "–"
    runs = {run.get("seed"): run for run in record.get("runs", [])}
    value = runs[seed]["entity_f1"] if seed in runs and "entity_f1" in runs[seed] else record["entity"]["f1"]
    return f"{100 * value:.2f}"


def main(argv: list[str] | None = None) -> int:
    from bioalbert.inference import Tagger

    from .evaluate import EvaluateArguments, evaluate_model

    (args,) = HfArgumentParser(DemoArguments).parse_args_into_dataclasses(argv)
    model = args.model or default_ner_model()
    name = Path(model).name
    info_path = Path(model, "bioalbert_finetune.json")
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    if "corpus_types" not in info:
        print(f"bioalbert demo: error: {model} is not an all-types model (no corpus_types in {info_path}); "
              f"make one with `bioalbert finetune-joint`", file=sys.stderr)
        return 2
    data_dir = resolve_data_dir(args.data_dir)
    datasets = args.datasets or [d for d in BENCHMARK_CORPUS if (data_dir / "bioner" / d / "test.tsv").is_file()]
    before, peer, biobert = recorded(args.recorded_dir, name), recorded(args.recorded_dir, args.peer), reference_numbers()
    rows = ["| benchmark | entity F1 now | recorded | spaCy peer | BioBERT v1.1 (published) |", "|---|---|---|---|---|"]
    # The model is loaded once (evaluate_model and Tagger share bioalbert.ner.scoring.load_model); one bar for the
    # minute the test sets take.
    for dataset in tqdm(datasets, desc="Scoring the test sets", unit="benchmark"):
        result = evaluate_model(EvaluateArguments(model=model, dataset=dataset, data_dir=str(data_dir), model_name=name))
        result.write(args.results_dir)
        rows.append(f"| {dataset} | {f1(asdict(result))} | {f1(before.get(dataset), info.get('best_seed'))} | {f1(peer.get(dataset))} | "
                    f"{biobert.get(dataset, '–')} |")
    print(f"\n{model} on each benchmark's test split and own types (strict entity F1, seqeval); spaCy peer: "
          f"results/{args.peer}/\n")
    print("\n".join(rows))
    print(f"\nbioalbert.inference.tag on: {EXAMPLE}")
    for entity in Tagger(model).tag([EXAMPLE])[0]:
        print(f"  {entity.label:<10} {entity.start:>3}-{entity.end:<3} {entity.text!r} ({entity.score:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
