"""One command from raw text to the results table: tokenizer -> pretraining -> fine-tuning on every available
benchmark (several seeds) -> evaluation -> spaCy peer baseline -> results table (markdown, JSON, PNG) -> staged
release folders with generated cards.

    bioalbert reproduce --recipe cpu-demo          # about 8 minutes on 2 CPU cores (`make reproduce`)
    bioalbert reproduce --recipe cpu-full          # the best a 2-core CPU reaches in a few hours, from the
                                                   # persisted models/bioalbert-tiny-pubmed-task (--pretrain true:
                                                   # tokenizer and pretraining first, about 100 more minutes)
    bioalbert reproduce --recipe base-pubmed       # GPU recipes of the four release variants (see README)
    bioalbert reproduce --recipe cpu-full --update-docs true   # also splice the table into docs/research.md

On a machine that also runs something else (a pretraining segment), give each fine-tune its budget in CPU time of one
torch thread, and split the benchmarks over the cores; the last command (all benchmarks) skips what is done and writes
the table:

    OMP_NUM_THREADS=1 bioalbert reproduce --recipe cpu-full --budget-clock cpu --datasets ncbi_disease bc2gm ... &

Every stage runs the same command a user would (`bioalbert train-tokenizer`, `pretrain`, `finetune`,
`release stage`, `benchmarks/spacy_peer.py`) and is skipped when its output already exists and is valid, so an
interrupted run continues where it stopped; training stages resume from their last checkpoint.
"""

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from bioalbert.modeling.configuration_bioalbert import PRESETS
from bioalbert.ner.scoring import DECODING

from .budget import CLOCKS
from .datadir import resolve_data_dir
from .recipes import get_recipe
from .report import BENCHMARKS, write_report
from .results import describe_machine, encoder_identity, load_results, pretraining_record, training_seconds

REPO = Path(__file__).resolve().parents[1]
DOCS = "docs/research.md"  # the research record, which holds every recipe's `reproduce-<recipe>` block


@dataclass(frozen=True)
class ReproduceRecipe:
    name: str
    description: str
    variant: str  # pretraining recipe (training/recipes.py) and model-card variant suffix
    tokenizer_flags: tuple[str, ...]
    pretrain_flags: tuple[str, ...]
    finetune_flags: tuple[str, ...]
    seeds: tuple[int, ...]
    peer_minutes: float | None  # spaCy's budget per dataset; None: the wall time our fine-tuning took there
    random_baseline: bool  # also fine-tune the same model from random weights, to show what pretraining adds
    # First N sentences of each split, for ours and the peer alike ({"train": N, "eval": N, "test": N}).
    max_sentences: dict = field(default_factory=dict)
    pretrain_corpus: tuple[str, ...] = ()  # files relative to the data folder; empty: the variant's own corpus
    minutes: dict = field(default_factory=dict)  # rough stage durations on the target hardware, for the ETA
    # The encoder this recipe's pretraining made, kept in the repository (relative to its root): fine-tunes start
    # from it and the tokenizer and pretraining stages are skipped, unless --pretrain true remakes both in runs/.
    start_model: str | None = None
    # Flags added to finetune_flags on one benchmark ({"bc2gm": ("--flag", "value")}), chosen on devel; every start
    # (pretrained, random init) gets the same, so the two differ in their weights only.
    finetune_flags_by_dataset: dict = field(default_factory=dict)
    random_init_seeds: tuple[int, ...] = ()  # the random-init baseline's seeds; empty: `seeds`


def _gpu(variant: str) -> ReproduceRecipe:
    return ReproduceRecipe(
        name=variant,
        description=f"the {variant} release variant on 8 GPUs (launch pretraining with accelerate/DeepSpeed, see README)",
        variant=variant,
        tokenizer_flags=("--vocab-size", "30000"),
        # bf16 comes with the pretraining recipe wherever the hardware runs it natively; torch.compile is the largest
        # throughput win on a GPU (docs/benchmarks.md, throughput table).
        pretrain_flags=("--torch_compile", "true"),
        finetune_flags=("--num-train-epochs", "20", "--learning-rate", "5e-5", "--per-device-train-batch-size", "32"),
        seeds=(13, 42, 87),
        peer_minutes=None,
        random_baseline=False,
    )


RECIPES = {
    recipe.name: recipe
    for recipe in (
        ReproduceRecipe(
            name="cpu-demo",
            description="a demonstration on 2 CPU cores: small tokenizer, 150 steps of pretraining on a corpus "
            "sample, 2 epochs on the first 1,000 training sentences of each benchmark, scored on its first 500 test "
            "sentences; the spaCy peer gets the same sentences and the same wall time; numbers are far from converged",
            variant="tiny-pubmed",
            tokenizer_flags=("--vocab-size", "8000", "--max-lines", "40000"),
            pretrain_flags=("--max_train_minutes", "2", "--max_steps", "150", "--warmup_steps", "15",
                            "--eval_steps", "50", "--save_steps", "50", "--validation_documents", "50"),
            pretrain_corpus=("corpus/pubmedqa_pqal_abstracts.txt.gz",),
            # Batch 8, not 32: two epochs of 1,000 sentences at batch 32 are too few optimizer steps for the tiny
            # model to leave predicting O; the smaller batch takes about as long.
            finetune_flags=("--num-train-epochs", "2", "--learning-rate", "5e-4", "--per-device-train-batch-size", "8"),
            max_sentences={"train": 1000, "eval": 300, "test": 500},
            seeds=(42,),
            peer_minutes=None,
            random_baseline=False,
            minutes={"tokenizer": 0.3, "pretrain": 2, "finetune": 0.4, "peer": 0.7, "release": 0.5},
        ),
        ReproduceRecipe(
            name="cpu-full",
            description="the best a 2-core CPU reaches at an equal budget: the tiny ALiBi model pretrained on "
            "PubMed-style abstracts plus the NER corpora's unlabelled training text, then further with PMC full text "
            "(models/bioalbert-tiny-pubmed-task, whose card gives its steps; --pretrain true makes a shorter-trained one "
            "from scratch: 16k tokenizer, 2,400 steps), 15 minutes of fine-tuning per benchmark and seed "
            "(3 seeds, checkpoint chosen on devel; the learning rate decays to zero over the 15 minutes, except on "
            "NCBI-disease and Species-800, where it decays over 20 epochs: chosen on devel), a random-init baseline "
            "(1 seed) and spaCy with the same 15 minutes",
            # ALiBi, the piece prior and task-adaptive text are what beat random init (docs/research.md, "Results
            # history"). The step count, not the clock, fixes the model, so every machine makes the same one and the
            # learning rate decays to zero; the minutes it takes are in docs/research.md ("Pretraining runs").
            variant="tiny-pubmed-task",
            tokenizer_flags=("--vocab-size", "16000", "--max-lines", "200000"),
            pretrain_flags=("--max_steps", "2400", "--warmup_steps", "200", "--max_train_minutes", "100"),
            # A few epochs underfit (docs/research.md, "The cpu-full recipe of 2026-11-27"): train for the wall time
            # spaCy gets and keep the epoch that scores best on devel. 20 epochs is the schedule's length; the 15
            # minutes end it first on every benchmark.
            finetune_flags=("--num-train-epochs", "20", "--learning-rate", "5e-4", "--max-train-minutes", "15"),
            # Where the clock stops training early in the 20-epoch schedule, that schedule does not anneal; decaying the
            # learning rate to zero over the 15 minutes won there on devel, by the one rule used for every benchmark:
            # the schedule with the higher mean devel F1 over the seeds both ran (docs/research.md, "The learning
            # rate over the time budget"). NCBI-disease and Species-800, the smallest, keep the epoch schedule.
            finetune_flags_by_dataset={dataset: ("--lr-schedule-over-budget", "true")
                                       for dataset in ("bc5cdr_disease", "bc5cdr_chem", "bc2gm", "jnlpba", "linnaeus")},
            seeds=(13, 42, 87),
            random_init_seeds=(42,),  # the issue asks one seed of the baseline; 15 minutes each
            peer_minutes=15,
            random_baseline=True,
            minutes={"tokenizer": 3, "pretrain": 70, "finetune": 46, "peer": 16, "release": 0.5},
            # Pretraining is the one shared cost (`minutes` above): made once, kept, fine-tuned from.
            start_model="models/bioalbert-tiny-pubmed-task",
        ),
        *(_gpu(v) for v in ("base-pubmed", "base-pubmed-pmc", "large-pubmed", "large-pubmed-pmc")),
    )
}


@dataclass
class ReproduceArguments:
    recipe: str = field(default="cpu-demo", metadata={"help": f"One of: {', '.join(RECIPES)}."})
    data_dir: str | None = field(default=None, metadata={"help": "Data folder (else $BIOALBERT_DATA, ../shared/data)."})
    runs_dir: str = field(default="runs/reproduce", metadata={"help": "Where models and checkpoints go."})
    results_dir: str = field(default="results", metadata={"help": "Where results/<model>/<dataset>.json go."})
    release_dir: str = field(default="release", metadata={"help": "Where staged Hub folders go."})
    datasets: list[str] = field(default_factory=list, metadata={"help": "Only these benchmarks (default: all present)."})
    skip_peer: bool = field(default=False, metadata={"help": "Do not train the spaCy peer baseline."})
    reuse_baselines: bool = field(
        default=False,
        metadata={"help": "Keep the results files of the random-init baseline and the spaCy peer where they exist "
                  "instead of training them again: neither depends on the encoder, so a new encoder in models/ needs "
                  "only its own fine-tunes. They stay in the table."},
    )
    pretrain: bool = field(
        default=False,
        metadata={"help": "Train the tokenizer and pretrain the encoder in runs/ even where the recipe starts from a "
                  "persisted one in models/ (cpu-full)."},
    )
    update_docs: bool = field(
        default=False, metadata={"help": f"Splice the results table into {DOCS}'s `reproduce-<recipe>` block."}
    )
    budget_clock: str = field(
        default="wall",
        metadata={"choices": list(CLOCKS), "help": "What each fine-tune's minutes count (`bioalbert finetune "
                  "--budget-clock`): 'cpu' with OMP_NUM_THREADS=1 gives every run the compute of an idle core while "
                  "other jobs share the machine."},
    )


class Stages:
    """Prints each stage with its ETA and how long it took; skips stages whose output is already valid.

    Stage times go to `log_file` as they finish, so a resumed run still reports the time of the whole reproduction.
    """

    def __init__(self, recipe: ReproduceRecipe, total_stages: int, log_file: Path):
        self.recipe, self.total, self.done, self.started = recipe, total_stages, 0, time.time()
        self.summary: list[tuple[str, str, float]] = []
        self.log_file = log_file
        self.seconds: dict[str, float] = json.loads(log_file.read_text()) if log_file.is_file() else {}

    def total_minutes(self) -> float:
        return sum(self.seconds.values()) / 60

    def run(self, name: str, kind: str, is_done, action) -> None:
        self.done += 1
        prefix = f"[{self.done}/{self.total}] {name}"
        if is_done():
            print(f"{prefix}: output exists and is valid, skipped", flush=True)
            self.summary.append((name, "skipped", 0.0))
            return
        eta = self.recipe.minutes.get(kind)
        print(f"\n{prefix}: running" + (f" (about {eta:g} min)" if eta else ""), flush=True)
        started = time.time()
        action()
        elapsed = time.time() - started
        # Re-read first: another `reproduce --datasets ...` beside this one may have logged its stages since.
        self.seconds = {**(json.loads(self.log_file.read_text()) if self.log_file.is_file() else {}),
                        **self.seconds, name: round(elapsed, 1)}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text(json.dumps(self.seconds, indent=2) + "\n")
        print(f"{prefix}: done in {elapsed / 60:.1f} min (total {(time.time() - self.started) / 60:.1f} min)", flush=True)
        self.summary.append((name, "done", elapsed))


def call(module_main, argv: list[str]) -> None:
    """Runs a `bioalbert` subcommand's `main(argv)` in this process; a non-zero exit stops the reproduction."""
    code = module_main([str(a) for a in argv])
    if code:
        raise SystemExit(f"stage failed: bioalbert {' '.join(map(str, argv))} exited with {code}")


def tokenizer_argv(recipe: ReproduceRecipe, data_dir, tokenizer_dir) -> list:
    return ["--data-dir", data_dir, "--output-dir", tokenizer_dir, *recipe.tokenizer_flags]


def pretrain_argv(recipe: ReproduceRecipe, data_dir, tokenizer_dir, pretrained_dir, results_dir) -> list:
    corpus = ["--corpus", *(Path(data_dir) / path for path in recipe.pretrain_corpus)] if recipe.pretrain_corpus else []
    return ["--variant", recipe.variant, "--tokenizer", tokenizer_dir, "--data_dir", data_dir, "--output_dir",
            pretrained_dir, "--run_name", f"{recipe.name}-{recipe.variant}", "--results_dir", results_dir, *corpus,
            *recipe.pretrain_flags]


def finetune_argv(recipe: ReproduceRecipe, start, dataset: str, data_dir, output_dir, name: str, results_dir,
                  seeds, budget_clock: str = "wall") -> list:
    caps = [flag for split, limit in recipe.max_sentences.items() for flag in (f"--max-{split}-sentences", limit)]
    return ["--model", start, "--dataset", dataset, "--data-dir", data_dir, "--output-dir", output_dir, "--model-name",
            name, "--results-dir", results_dir, "--seeds", *seeds, "--disable-tqdm", "true", *recipe.finetune_flags,
            *recipe.finetune_flags_by_dataset.get(dataset, ()), *caps, "--budget-clock", budget_clock]


def has_model(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def vocab_size(model_dir: Path) -> int:
    return json.loads((model_dir / "config.json").read_text())["vocab_size"]


def size_changes(model_dir: Path, preset: str) -> list[str]:
    """The size fields of the `preset` (configuration_bioalbert.PRESETS) that the saved model's config differs in."""
    saved = json.loads((model_dir / "config.json").read_text())
    return [f"{key} ({saved.get(key)} -> {value})" for key, value in PRESETS[preset].items() if saved.get(key) != value]


def pretrained_with(pretrained_dir: Path, variant: str) -> bool:
    """True when `pretrained_dir` holds a model pretrained with the current `variant` recipe. A model made by another
    version of the recipe stops the run with a clear message: reusing it would put an old model under the new
    recipe's name, and retraining over it would throw away a finished run without asking."""
    if not has_model(pretrained_dir):
        return False
    metrics = pretrained_dir / "pretraining_metrics.json"
    made_with = json.loads(metrics.read_text()).get("recipe", {}) if metrics.is_file() else {}
    recipe = get_recipe(variant)
    current = json.loads(json.dumps(recipe.to_dict()))  # tuples -> lists, as stored
    changed = sorted(key for key in current if made_with.get(key) != current[key])
    changed += size_changes(pretrained_dir, recipe.preset)
    if changed:
        raise SystemExit(f"{pretrained_dir} was pretrained with another version of the {variant} recipe (it differs "
                         f"in {', '.join(changed)}). Move that folder away or delete it, then run again.")
    return True


def has_result(results_dir: Path, model: str, dataset: str, output: Path, decoding: str | None = None) -> bool:
    """A results file written by this run's output folder, which still exists (and, given `decoding`, scored with
    it: `finetune --resume` rescores an older one). Results files are committed, runs/ is not: on a fresh clone the
    committed file alone must not skip the stage that makes the model."""
    path = results_dir / model / f"{dataset}.json"
    if not path.is_file() or not output.is_dir():
        return False
    record = json.loads(path.read_text())
    return (Path(record.get("model_path", "")).resolve() == output.resolve()
            and (decoding is None or record.get("decoding") == decoding))


def hardware(results_dir: Path, model: str, datasets: list[str]) -> str:
    """The machine the fine-tuning ran on, as its results files recorded it."""
    paths = [results_dir / model / f"{dataset}.json" for dataset in datasets]
    machine = next((json.loads(p.read_text()).get("machine") for p in paths if p.is_file()), None)
    return f"Run on {describe_machine(machine)}"


def training_cost(results_dir: Path, models: list[str], datasets: list[str]) -> str:
    """Each model's seeds and training minutes, summed from its results files. A table is often pieced together
    (seeds run side by side, stages resumed across days), so no one clock timed it; the records did."""
    parts = []
    for model in models:
        records = [record for record in load_results(results_dir, model) if record["dataset"] in datasets]
        if records:
            seeds = sorted({seed for record in records for seed in record.get("seeds", [])})
            costs = [training_seconds(record.get("training", {})) for record in records]
            clock = costs[0][1] if len({clock for _, clock in costs}) == 1 else "wall and CPU "
            seconds = sum(cost or 0 for cost, _ in costs)
            # Tables mix runs from machines with and without bf16, so the precision each model trained in is stated.
            precisions = {record.get("training", {}).get("precision") for record in records} - {None}
            precision = f" in {', '.join(sorted(precisions))}" if precisions else ""
            parts.append(f"`{model}` seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}, "
                         f"{seconds / 60:.0f} training {clock}minutes{precision} on {len(records)} "
                         f"benchmark{'s' * (len(records) > 1)}")
    return "; ".join(parts)


def decoding_note(results_dir: Path, model: str, datasets: list[str]) -> str:
    """How the scored tags were read off the model, when every results file says the same."""
    decodings = {record.get("decoding") for record in load_results(results_dir, model) if record["dataset"] in datasets}
    if decodings == {DECODING}:
        return "each sentence's words labelled by IOB2-constrained decoding ([Decoding](#decoding)), "
    return ""


def pretraining_cost(model_dir: Path) -> str:
    """Steps and minutes of the start encoder's whole pretraining (continued runs included), from its record."""
    record = pretraining_record(model_dir) or {}
    steps = record.get("total_steps", record.get("global_step"))
    seconds = record.get("total_train_runtime_s", record.get("train_runtime_s"))
    if steps and seconds:
        return f"`{model_dir.name}` was pretrained {steps:,} steps in {seconds / 60:.0f} minutes"
    return f"`{model_dir.name}` has no pretraining record"


def available_datasets(data_dir: Path, wanted: list[str]) -> list[str]:
    present = [name for name in BENCHMARKS if (data_dir / "bioner" / name / "train.tsv").is_file()]
    for name in wanted or BENCHMARKS:
        if name not in present:
            print(f"note: {name} is not in {data_dir / 'bioner'}; it is left out of the table", flush=True)
    return [name for name in present if not wanted or name in wanted]


def main(argv: list[str] | None = None) -> int:
    (args,) = HfArgumentParser(ReproduceArguments).parse_args_into_dataclasses(argv)
    if args.recipe not in RECIPES:
        raise SystemExit(f"Unknown recipe {args.recipe!r}; choose one of {', '.join(RECIPES)}.")
    from . import finetune, pretrain, tokenizer

    recipe = RECIPES[args.recipe]
    data_dir = resolve_data_dir(args.data_dir)
    datasets = available_datasets(data_dir, args.datasets)
    run_dir = Path(args.runs_dir) / recipe.name
    results_dir = Path(args.results_dir)
    tokenizer_dir, pretrained_dir, random_dir = run_dir / "tokenizer", run_dir / "pretrained", run_dir / "random-init"
    persisted = REPO / recipe.start_model if recipe.start_model and not args.pretrain else None
    if persisted:
        if not has_model(persisted):
            raise SystemExit(f"{persisted}: the recipe's persisted encoder is missing (config.json and "
                             "model.safetensors); restore it with git, or pass --pretrain true to make one in runs/.")
        tokenizer_dir = pretrained_dir = persisted  # a staged model folder holds its tokenizer
        print(f"Fine-tuning starts from {persisted} (--pretrain true would pretrain a new encoder instead).", flush=True)
    ours, random_name, peer = f"{recipe.name}", f"{recipe.name}-random-init", f"spacy-peer-{recipe.name}"
    print(f"Recipe {recipe.name}: {recipe.description}.\nBenchmarks: {', '.join(datasets)}; data: {data_dir}", flush=True)

    starts = [pretrained_dir] + ([random_dir] if recipe.random_baseline else [])
    total = 2 + len(datasets) * (len(starts) + (0 if args.skip_peer else 1)) + 2 + (1 if recipe.random_baseline else 0)
    stages = Stages(recipe, total, run_dir / "stage_seconds.json")

    stages.run("tokenizer", "tokenizer", lambda: (tokenizer_dir / "tokenizer.json").is_file(),
               lambda: call(tokenizer.main, tokenizer_argv(recipe, data_dir, tokenizer_dir)))

    def remove_fine_tunes(name: str, start: str) -> None:
        """Models fine-tuned from an earlier start model would be taken for the new one's: remake them."""
        for stale in (run_dir / "ner" / f"{name}-{dataset}" for dataset in datasets):
            if stale.exists():
                print(f"removing {stale}: fine-tuned from an earlier {start} model", flush=True)
                shutil.rmtree(stale)

    def pretrain_action():
        remove_fine_tunes(ours, "pretrained")
        resume = ["--resume"] if list(pretrained_dir.glob("checkpoint-*")) else []
        call(pretrain.main, pretrain_argv(recipe, data_dir, tokenizer_dir, pretrained_dir, results_dir) + resume)

    stages.run("pretraining", "pretrain", lambda: bool(persisted) or pretrained_with(pretrained_dir, recipe.variant),
               pretrain_action)
    # Which encoder the fine-tunes in ner/ started from: its folder and its pretraining record, since a persisted
    # encoder is replaced in place when pretraining goes on.
    start_file = run_dir / "start_model.txt"
    start = f"{pretrained_dir.resolve()} {json.dumps(encoder_identity(pretrained_dir), sort_keys=True)}"
    if start_file.is_file() and start_file.read_text().strip() != start:
        remove_fine_tunes(ours, start_file.read_text().strip())
    start_file.parent.mkdir(parents=True, exist_ok=True)
    start_file.write_text(f"{start}\n")
    if recipe.random_baseline:
        from . import init_model

        preset = get_recipe(recipe.variant).preset

        def random_init_action():
            remove_fine_tunes(random_name, "random-init")
            call(init_model.main, ["--preset", preset, "--tokenizer", tokenizer_dir, "--output-dir", random_dir,
                                   "--position-bias", get_recipe(recipe.variant).position_bias])

        def random_init_done() -> bool:  # same sizes and the start's vocabulary (tokenizer) as what it is compared to
            return (has_model(random_dir) and not size_changes(random_dir, preset)
                    and vocab_size(random_dir) == vocab_size(pretrained_dir))

        stages.run("random-init baseline model", "release", random_init_done, random_init_action)

    def reused(model: str, dataset: str) -> bool:
        """--reuse-baselines: a baseline's results file counts without the model that made it."""
        return args.reuse_baselines and (results_dir / model / f"{dataset}.json").is_file()

    start_seeds = [recipe.seeds, recipe.random_init_seeds or recipe.seeds]
    for start, name, seeds in zip(starts, [ours, random_name], start_seeds):
        for dataset in datasets:
            output_dir = run_dir / "ner" / f"{name}-{dataset}"

            def finetune_action(start=start, name=name, seeds=seeds, dataset=dataset, output_dir=output_dir):
                resume = ["--resume"] if output_dir.exists() else []
                call(finetune.main, finetune_argv(recipe, start, dataset, data_dir, output_dir, name, results_dir, seeds,
                                                  args.budget_clock) + resume)

            stages.run(f"fine-tune {name} on {dataset}", "finetune",
                       lambda name=name, dataset=dataset, output_dir=output_dir:
                       (name == random_name and reused(name, dataset))
                       or (has_model(output_dir) and has_result(results_dir, name, dataset, output_dir, DECODING)),
                       finetune_action)

    if not args.skip_peer:
        for dataset in datasets:
            def peer_action(dataset=dataset):
                ours_record = json.loads((results_dir / ours / f"{dataset}.json").read_text())
                minutes = recipe.peer_minutes or ours_record["training"]["train_wall_time_s"] / 60 / len(recipe.seeds)
                command = [sys.executable, str(REPO / "benchmarks" / "spacy_peer.py"), "--dataset", dataset,
                           "--data-dir", str(data_dir), "--budget-minutes", f"{minutes:.2f}", "--model-name", peer,
                           "--results-dir", str(results_dir), "--output", str(run_dir / "spacy" / dataset),
                           *map(str, caps)]
                if subprocess.run(command).returncode:
                    raise SystemExit(f"stage failed: {' '.join(command)}")

            stages.run(f"spaCy peer on {dataset}", "peer",
                       lambda dataset=dataset: reused(peer, dataset)
                       or has_result(results_dir, peer, dataset, run_dir / "spacy" / dataset), peer_action)

    report_dir = results_dir / "reproduce" / recipe.name
    models = [ours] + ([random_name] if recipe.random_baseline else [])

    def report_action():
        report_dir.mkdir(parents=True, exist_ok=True)
        costs = training_cost(results_dir, models + ([] if args.skip_peer else [peer]), datasets)
        preamble = f"Recipe `{recipe.name}` ({recipe.description}). Test split, " \
                   f"{decoding_note(results_dir, ours, datasets)}entity level strict IOB2 micro F1 " \
                   f"(seqeval) and token level F1, mean ± std over seeds: {costs}. " \
                   f"{pretraining_cost(pretrained_dir)}. {hardware(results_dir, ours, datasets)}." + \
                   (f" Run on {', '.join(datasets)} only (--datasets)." if args.datasets else "")
        write_report(results_dir, models, None if args.skip_peer else peer, report_dir,
                     DOCS if args.update_docs else None, preamble, block=f"reproduce-{recipe.name}")

    stages.run("results table", "release", lambda: False, report_action)

    def release_action():
        from bioalbert.hub import release

        release_root = Path(args.release_dir) / recipe.name
        variant = f"bioalbert-{recipe.variant}"
        call(release.main, ["stage", "--model", pretrained_dir, "--variant", variant, "--out", release_root / variant,
                            "--results-dir", results_dir, "--results-name", ours, "--overwrite"])
        for dataset in datasets:
            call(release.main, ["stage", "--model", run_dir / "ner" / f"{ours}-{dataset}", "--variant", variant,
                                "--out", release_root / f"{variant}-{dataset.replace('_', '-')}", "--dataset", dataset,
                                "--results-dir", results_dir, "--results-name", ours, "--overwrite"])

    stages.run("stage release folders", "release", lambda: False, release_action)

    print(f"\n{'=' * 100}\nRecipe {recipe.name} finished in {(time.time() - stages.started) / 60:.1f} min "
          f"({stages.total_minutes():.0f} min over every run of its stages, {stages.log_file})")
    for name, status, seconds in stages.summary:
        print(f"  {name:<55} {status:<8} {seconds / 60:6.1f} min")
    print((report_dir / "results.md").read_text())
    demo_dataset = next((d for d in ("ncbi_disease", "bc5cdr_chem") if d in datasets), datasets[0] if datasets else None)
    if demo_dataset:
        from bioalbert.inference import tag

        sentence = "Germline mutations in BRCA1 predispose carriers to hereditary breast and ovarian cancer."
        print(f"bioalbert.inference.tag with the {demo_dataset} model on: {sentence}")
        for entity in tag([sentence], model=str(run_dir / "ner" / f"{ours}-{demo_dataset}"))[0]:
            print(f"  {entity.label:<10} {entity.start:>3}-{entity.end:<3} {entity.text!r} ({entity.score:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
