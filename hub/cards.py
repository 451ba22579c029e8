"""Model cards for BioALBERT Hub repos, generated with `huggingface_hub.ModelCard.from_template` from the
templates in `model_cards/` (one for pretrained variants, one for NER fine-tuned models).

Every number on a card comes from a file, never from this code: results from the results files that
`bioalbert evaluate` writes (`bioalbert.training.results`), training length and hardware from the training
metadata saved in the model folder. What is not recorded is said to be unknown; a model without results
says "not evaluated yet".
"""

import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from bioalbert.model_cards import TEMPLATES_DIR
from bioalbert.training.results import PRETRAINING_RECORDS, training_seconds

LICENSE = "apache-2.0"
TASK = {"task_type": "token-classification", "task_name": "Named Entity Recognition"}

CITATION_TEXT = (
    "Naseem U., Dunn A.G., Khushi M., Kim J. Benchmarking for biomedical natural language processing tasks with a "
    "domain specific ALBERT. BMC Bioinformatics 23, 144 (2022). https://doi.org/10.1186/s12859-022-04688-w"
)
CITATION_BIBTEX = """@article{naseem2022bioalbert,
  title   = {Benchmarking for biomedical natural language processing tasks with a domain specific {ALBERT}},
  author  = {Naseem, Usman and Dunn, Adam G. and Khushi, Matloob and Kim, Jinman},
  journal = {BMC Bioinformatics},
  volume  = {23},
  pages   = {144},
  year    = {2022},
  doi     = {10.1186/s12859-022-04688-w}
}"""

# Files a training run may leave in its output folder, most trusted first: `bioalbert pretrain`'s summary
# (PRETRAINING_RECORDS), then what transformers' Trainer writes (`trainer.save_state()` -> trainer_state.json,
# `save_metrics` -> train_results.json).
TRAINING_METADATA_FILES = (*PRETRAINING_RECORDS, "trainer_state.json", "train_results.json", "all_results.json")


def templates_dir() -> Path:
    if not (TEMPLATES_DIR / "variants.json").is_file():
        raise FileNotFoundError(
            f"Model-card templates not found: expected {TEMPLATES_DIR}/variants.json (reinstall bioalbert: "
            "the templates are package data of bioalbert.model_cards)."
        )
    return TEMPLATES_DIR


def load_variants() -> dict:
    """model_cards/variants.json: the release repos, their sizes and recipes, and the NER datasets."""
    return json.loads((templates_dir() / "variants.json").read_text(encoding="utf-8"))


def get_variant(name: str) -> dict:
    variants = load_variants()["variants"]
    if name not in variants:
        raise ValueError(f"Unknown variant {name!r}; model_cards/variants.json names {sorted(variants)}")
    return {"name": name, **variants[name]}


def read_training_metadata(model_dir: Path) -> dict:
    """What the model folder records about its own training: steps, tokens, wall time, hardware, recipe.

    Keys are left out when no file records them. `sources` lists the files read.
    """
    facts: dict = {"sources": []}
    for name in reversed(TRAINING_METADATA_FILES):  # most trusted last, so it wins where files disagree
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        facts["sources"].insert(0, name)
        if name == "trainer_state.json":
            facts["steps"] = data.get("global_step")
            facts["max_steps"] = data.get("max_steps")
            if data.get("num_input_tokens_seen"):
                facts["tokens_seen"] = data["num_input_tokens_seen"]
            runtimes = [entry["train_runtime"] for entry in data.get("log_history", []) if "train_runtime" in entry]
            if runtimes:
                facts["train_wall_time_s"] = runtimes[-1]
        elif name in ("train_results.json", "all_results.json"):
            if "train_runtime" in data:
                facts["train_wall_time_s"] = data["train_runtime"]
        else:  # pretraining_metrics.json, written by `bioalbert pretrain`
            recipe = data.get("recipe")
            facts["recipe"] = data.get("variant") or (recipe.get("name") if isinstance(recipe, dict) else recipe)
            if isinstance(recipe, dict):
                facts.update(planned_hardware=recipe.get("hardware"), corpus_spec=recipe.get("corpus_spec"))
            start = data.get("continued_from") or {}  # the model this run continued pretraining, if any
            machine = data.get("machine")
            if isinstance(machine, dict):
                facts.update(gpu=machine.get("gpu"), cpu_count=machine.get("cpu_count"), hardware_known=True)
            facts.update(
                objective=data.get("objective", "mlm-sop"),  # records before --objective existed were all mlm-sop
                trained_on=data.get("trained_on"),
                steps=data.get("global_step"),
                max_steps=data.get("max_steps"),
                epochs=data.get("epochs"),
                tokens_seen=data.get("tokens_seen_non_padding") or data.get("tokens_seen"),
                train_wall_time_s=data.get("train_runtime_s"),
                converted_from=data.get("converted_from"),
                continued_from=start.get("model"),
                continued_from_steps=start.get("total_steps", start.get("global_step")),
                total_steps=data.get("total_steps"),
                total_tokens_seen=data.get("total_tokens_seen"),
                total_train_wall_time_s=data.get("total_train_runtime_s"),
                budget_minutes=data.get("max_train_minutes"),
                budget_clock=data.get("budget_clock"),
                budget_spent_minutes=data.get("budget_spent_minutes"),
                stopped_by_budget=data.get("stopped_by_budget"),
            )
            final = data.get("final") or {}
            held_out = {task: final[f"eval_{task}_accuracy"] for task in HELD_OUT_ACCURACY
                        if final.get(f"eval_{task}_accuracy") is not None}
            if held_out:
                facts["held_out_accuracy"] = held_out
    return {key: value for key, value in facts.items() if value is not None}


# The held-out accuracies pretraining logs (bioalbert.training.pretrain.ACCURACIES), as the card names them.
HELD_OUT_ACCURACY = {
    "mlm": "masked LM",
    "sop": "sentence order",
    "rtd": "replaced-token detection",
    "rtd_replaced": "replaced tokens found (RTD recall)",
}

OBJECTIVE_TEXT = {
    "mlm-sop": "masked LM (n-gram spans) + sentence-order prediction, ALBERT's (`--objective mlm-sop`)",
    "rtd": "replaced-token detection, ELECTRA's: a small masked-LM generator corrupts the input and this encoder "
           "tells replaced from original tokens at every position (`--objective rtd`)",
    "rtd-sop": "replaced-token detection, ELECTRA's, plus ALBERT's sentence-order prediction (`--objective rtd-sop`)",
}


def replaced_token_detection(facts: dict, config: dict) -> bool:
    """Whether the encoder was pretrained by replaced-token detection: its masked-LM head (if any) is the generator's
    or untrained, so its card must not offer fill-mask."""
    return str(facts.get("objective", "")).startswith("rtd") or config.get("generator_hidden_size") is not None


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _hardware(facts: dict) -> str | None:
    if facts.get("hardware"):
        return facts["hardware"]
    if not facts.get("hardware_known"):
        return None
    if facts.get("gpu"):
        return f"GPU ({facts['gpu']})"
    return f"CPU only ({facts['cpu_count']} cores)" if facts.get("cpu_count") else "CPU only"


def is_cpu_run(facts: dict) -> bool:
    return bool(facts.get("hardware_known")) and not facts.get("gpu") and "GPU" not in str(facts.get("hardware", ""))


def pretraining_lines(facts: dict) -> list[str]:
    """The card's Training section for a pretrained checkpoint, from recorded facts only: what the corpus was comes
    from the run's own record (pretraining writes its recipe's `trained_on` there), never from today's recipe table,
    which may have changed since the run."""
    if facts.get("converted_from"):
        lines = [f"Weights converted from {facts['converted_from']} (the BioALBERT authors' own pretraining)."]
        if facts.get("trained_on"):
            lines.append(f"Pretrained on: {facts['trained_on']}")
        return lines
    if not facts.get("sources"):
        return [
            "The model folder records no training metadata (none of "
            + ", ".join(f"`{name}`" for name in TRAINING_METADATA_FILES)
            + "), so this card cannot say what this checkpoint was pretrained on or for how long: treat it as "
            "unverified."
        ]
    lines = []
    if facts.get("recipe"):
        lines.append(f"Pretraining recipe: `{facts['recipe']}` (`bioalbert pretrain --variant {facts['recipe']}`).")
    if facts.get("objective"):
        lines.append(f"Pretraining objective: {OBJECTIVE_TEXT.get(facts['objective'], facts['objective'])}.")
    trained_on = facts.get("trained_on")
    lines.append(f"Pretrained on: {trained_on}" if trained_on else "Pretraining corpus: not recorded.")
    if facts.get("corpus_words"):
        lines.append(f"Corpus size: {facts['corpus_words']:,} words.")
    if facts.get("continued_from"):
        at = f" as it was after {facts['continued_from_steps']:,} steps" if facts.get("continued_from_steps") else ""
        lines.append(f"Pretraining continued from `{facts['continued_from']}`{at} (an earlier run of this project); "
                     "the figures below are this run's, then the whole pretraining's.")

    def in_all(key: str) -> str:
        return f"; {facts[key]:,} in all" if facts.get(key) is not None else ""

    if facts.get("steps") is not None:
        of = f" of {facts['max_steps']:,} planned" if facts.get("max_steps") else ""
        budget, spent = facts.get("budget_minutes"), facts.get("budget_spent_minutes")
        stopped_by_budget = facts.get("stopped_by_budget")
        if stopped_by_budget is None:  # records before 2026-12-06 have the minutes spent only (rounded to 0.01)
            stopped_by_budget = bool(budget) and spent is not None and spent >= budget
        if stopped_by_budget and facts.get("steps") != facts.get("max_steps"):
            # A time-budgeted run ends on its clock, not on max_steps (which only caps it).
            clock = "CPU" if facts.get("budget_clock") == "cpu" else "wall-clock"
            of = f" (stopped when its budget of {budget:g} {clock} minutes ran out; max_steps {facts['max_steps']:,})"
        lines.append(f"Optimisation steps: {facts['steps']:,}{of}{in_all('total_steps')}.")
    tokens = facts.get("tokens_seen")
    lines.append(f"Tokens seen: {tokens:,}{in_all('total_tokens_seen')}." if tokens else "Tokens seen: not recorded.")
    if facts.get("epochs") is not None:
        lines.append(f"Passes over the corpus: {facts['epochs']:.2f} epochs.")
    hardware = _hardware(facts)
    if hardware is None and facts.get("planned_hardware"):
        hardware = f"not recorded by the run (the recipe plans {facts['planned_hardware']})"
    wall = _hours(facts["train_wall_time_s"]) if facts.get("train_wall_time_s") is not None else None
    if wall and facts.get("total_train_wall_time_s") is not None:
        wall += f" ({_hours(facts['total_train_wall_time_s'])} in all)"
    lines.append(f"Wall time: {wall or 'not recorded'}; hardware: {hardware or 'not recorded'}.")
    if facts.get("held_out_accuracy"):
        lines.append("Held-out accuracy at the end (documents kept out of pretraining): " + ", ".join(
            f"{HELD_OUT_ACCURACY[task]} {value:.1%}" for task, value in facts["held_out_accuracy"].items()) + ".")
    recorded_in = facts.get("recorded_in", facts["sources"])  # release stage names the files the repo carries
    if recorded_in:
        lines.append("Recorded in the model folder's " + ", ".join(f"`{name}`" for name in recorded_in) + ".")
    else:
        lines.append("Recorded in the training run's " + ", ".join(f"`{name}`" for name in facts["sources"])
                     + ", which this repo does not carry.")
    return lines


def _percent(value) -> str:
    # Results files store fractions in [0, 1] (seqeval's scale); cards show percentages.
    return "n/a" if value is None else f"{100 * value:.2f}"


def _mean_std(block: dict, key: str = "f1") -> str:
    text = _percent(block.get(key))
    std = block.get(f"{key}_std")
    return f"{text} ± {100 * std:.2f}" if std else text


def dataset_info(name: str) -> dict:
    datasets = load_variants()["datasets"]
    return datasets.get(name, {"name": name, "hub_id": name, "entities": "entities", "widget": None})


def eval_results(records: list[dict]) -> list[EvalResult]:
    """One model-index entry per (dataset, split): entity P/R/F1, token F1 and per-type F1, values as recorded."""
    results = []
    for record in records:
        info = dataset_info(record["dataset"])
        common = dict(
            **TASK,
            dataset_type=info["hub_id"],
            dataset_name=info["name"],
            dataset_config=record["dataset"],  # tells BC5CDR-chem and BC5CDR-disease apart (same Hub dataset)
            dataset_split=record["split"],
        )
        entity, token = record["entity"], record["token"]
        metrics = [
            ("f1", "entity", "Entity F1 (strict IOB2, micro)", entity.get("f1")),
            ("precision", "entity", "Entity precision", entity.get("precision")),
            ("recall", "entity", "Entity recall", entity.get("recall")),
            ("f1", "token", "Token F1", token.get("f1")),
        ]
        for type_name, scores in sorted((record.get("per_type") or {}).items()):
            metrics.append(("f1", f"entity:{type_name}", f"Entity F1 ({type_name})", scores.get("f1")))
        for metric_type, config, name, value in metrics:
            if value is not None:
                results.append(
                    EvalResult(
                        **common, metric_type=metric_type, metric_config=config, metric_name=name, metric_value=value
                    )
                )
    return results


def result_rows(records: list[dict]) -> tuple[list[dict], list[dict]]:
    rows, per_type = [], []
    for record in records:
        name = dataset_info(record["dataset"])["name"]
        entity = record["entity"]
        rows.append(
            dict(
                dataset=name,
                split=record["split"],
                precision=_percent(entity.get("precision")),
                recall=_percent(entity.get("recall")),
                f1=_mean_std(entity),
                token_f1=_mean_std(record["token"]),
                seeds=", ".join(str(seed) for seed in record.get("seeds") or []) or "n/a",
            )
        )
        for type_name, scores in sorted((record.get("per_type") or {}).items()):
            per_type.append(
                dict(
                    dataset=name,
                    type=type_name,
                    precision=_percent(scores.get("precision")),
                    recall=_percent(scores.get("recall")),
                    f1=_percent(scores.get("f1")),
                    number=scores.get("number", "n/a"),
                )
            )
    return rows, per_type


def architecture_rows(config: dict, num_parameters: int | None) -> list[tuple[str, str]]:
    rows = [
        ("Layers (one shared group)", config.get("num_hidden_layers")),
        ("Hidden size", config.get("hidden_size")),
        ("Embedding size (factorised)", config.get("embedding_size")),
        ("Attention heads", config.get("num_attention_heads")),
        ("Feed-forward size", config.get("intermediate_size")),
        ("Vocabulary (SentencePiece unigram, cased)", config.get("vocab_size")),
        ("Longest input (pieces)", config.get("max_position_embeddings")),
    ]
    if num_parameters is not None:
        rows.append(("Parameters", f"{num_parameters:,}"))
    return [(name, str(value)) for name, value in rows if value is not None]


def size_warning(variant: dict, config: dict, cpu_run: bool) -> str | None:
    """The banner for anything that is not a full-size model: tiny presets, CPU runs."""
    if variant["preset"] == "tiny" or config.get("hidden_size", 0) < 768:
        how = "trained on CPU " if cpu_run else ""
        return (
            f"This is a tiny model {how}for demonstrations and tests (hidden size {config.get('hidden_size')}, "
            f"{config.get('num_hidden_layers')} layers). It is not the BioALBERT of the paper, and its numbers are far "
            "below it."
        )
    if cpu_run:
        return "This checkpoint was trained on CPU only, a short run by pretraining standards: see Training."
    return None


def build_card(
    *,
    kind: str,
    variant: dict,
    repo_id: str,
    config: dict,
    records: list[dict],
    facts: dict,
    num_parameters: int | None = None,
    base_model: str | None = None,
    dataset: str | None = None,
    results_source: str = "results/",
    weights_seed: int | None = None,
) -> ModelCard:
    """A ModelCard for a pretrained variant (`kind="pretrained"`) or an NER fine-tune (`kind="ner"`)."""
    if kind not in ("pretrained", "ner"):
        raise ValueError(f"kind must be 'pretrained' or 'ner', not {kind!r}")
    corpus = load_variants()["corpora"].get(variant["corpus"], variant["corpus"])
    # The repo's name says its variant; a checkpoint pushed under it may have seen another corpus (the tiny encoder
    # of models/ keeps training, on whichever corpus measured better): tag what its own record says it saw.
    corpus_tag = facts.get("corpus_spec", variant["corpus"])
    name = repo_id.split("/")[-1]
    rows, per_type = result_rows(records)
    common_tags = ["bioalbert", "albert", "biomedical", "bionlp", "custom_code"]
    template_vars = dict(
        repo_id=repo_id,
        architecture=architecture_rows(config, num_parameters),
        results=rows,
        per_type=per_type,
        results_source=results_source,
        max_length=config.get("max_position_embeddings", 512),
        citation_text=CITATION_TEXT,
        citation_bibtex=CITATION_BIBTEX,
    )
    cpu_run = is_cpu_run(facts)

    if kind == "pretrained":
        training = pretraining_lines(facts)
        if variant.get("release"):
            training.append(
                f"The BioALBERT paper pretrained this variant on {corpus} at full scale (billions of words); this "
                "card describes this checkpoint's own pretraining, above, which is what its numbers reflect."
            )
        rtd = replaced_token_detection(facts, config)
        task = "feature-extraction" if rtd else "fill-mask"
        card_data = ModelCardData(
            language="en",
            license=LICENSE,
            library_name="transformers",
            pipeline_tag=task,
            tags=common_tags + [task, corpus_tag] + (["electra"] if rtd else []),
            model_name=name if records else None,  # model-index's name; left out with no results
            eval_results=eval_results(records) or None,
            widget=None if rtd else [{"text": "Mutations in the [MASK] gene cause cystic fibrosis."}],
        )
        template = "pretrained.md"
        template_vars.update(title=name, description=variant["description"], training=training, limitations=[],
                             rtd=rtd)
    else:
        if dataset is None:
            raise ValueError("An NER card needs the dataset the model was fine-tuned on")
        info = dataset_info(dataset)
        labels = sorted({label.split("-", 1)[-1] for label in config.get("id2label", {}).values() if label != "O"})
        split = f"the training splits of {info['name']} together" if dataset == "all-types" else \
            f"the {info['name']} training split"
        training = [
            f"Fine-tuned from [`{base_model}`](https://huggingface.co/{base_model}) on {split} "
            "(token classification, IOB2 tags; the first piece of each word carries its tag)."
            if base_model
            else f"Fine-tuned on {split}; the checkpoint it started from was not given."
        ]
        # The base model's Hub repo moves on as pretraining continues: say which version of it this started from.
        encoders = [record["base_model_pretraining"] for record in records if record.get("base_model_pretraining")]
        encoder = encoders[0] if encoders and all(encoder == encoders[0] for encoder in encoders) else {}
        if encoder.get("steps") and encoder.get("tokens"):
            training.append(
                f"The encoder it started from had been pretrained {encoder['steps']:,} steps, {encoder['tokens']:,} "
                f"tokens in all (`--objective {encoder['objective']}`, recipe `{encoder['variant']}`); the base model's "
                "repo may hold a later version.")
        # An all-types model (`bioalbert finetune-joint`) has one training run scored on every benchmark.
        for record in records[:1] if dataset == "all-types" else records:
            run = record.get("training") or {}
            parts = []
            if run.get("epochs") is not None:
                parts.append(f"{run['epochs']:g} epochs")
            # The training record's own time is the sum over seeds; each seed's run has the clock of the record.
            seed_times = [training_seconds({**seed_run, "budget_clock": run.get("budget_clock")})
                          for seed_run in record.get("runs") or []]
            seed_times = [(seconds, clock) for seconds, clock in seed_times if seconds]
            if seed_times:
                cpu_time = " CPU time" if seed_times[0][1] else ""
                parts.append(f"{_hours(sum(s for s, _ in seed_times) / len(seed_times))} of training{cpu_time} per seed")
            machine = record.get("machine") or {}
            cores = machine.get("cpu_count", "?")
            hardware = f"GPU ({machine['gpu']})" if machine.get("gpu") else f"CPU only ({cores} cores)"
            if machine:
                cpu_run = cpu_run or not machine.get("gpu")
            seeds = ", ".join(str(seed) for seed in record.get("seeds") or [])
            length = "; ".join(parts) if parts else "training length not recorded"
            where = "All corpora together" if dataset == "all-types" else info["name"]
            training.append(f"{where}: {length}, seeds {seeds or 'not recorded'}, {hardware}.")
            if run.get("num_hidden_groups"):
                training.append(f"Layers: ALBERT's one shared layer group untied into {run['num_hidden_groups']} "
                                "copies before fine-tuning (`num_hidden_groups` in `config.json`): more parameters, "
                                "the same compute per token.")
            if dataset == "all-types" and run.get("loss"):
                training.append(f"Loss: {run['loss']}.")
            # finetune_joint.JOINT_DECODING, spelled out: the card code does not import the training extras.
            if record.get("decoding") == "iob2-viterbi-corpus-tags":
                training.append("Scored on each benchmark's own tags: a tag's probability is the sum of the model's "
                                "labels it stands for (BC2GM's gene: Gene, DNA or RNA; other types count as O), then "
                                "the most probable valid IOB2 sequence; `pipeline(\"ner\")` finds that sequence over "
                                "the model's own labels, every type at once.")
        if weights_seed is not None and any(len(record.get("seeds") or []) > 1 for record in records):
            training.append(f"The weights here are seed {weights_seed}'s; the results below are the mean over the "
                            "seeds.")
        if not records:
            training.append("Training length and hardware: not recorded (no results file for this model).")
        card_data = ModelCardData(
            language="en",
            license=LICENSE,
            library_name="transformers",
            pipeline_tag="token-classification",
            tags=common_tags + ["token-classification", "ner", "named-entity-recognition"],
            datasets=info["hub_id"] if isinstance(info["hub_id"], list) else [info["hub_id"]],
            base_model=base_model,
            model_name=name if records else None,
            eval_results=eval_results(records) or None,
            widget=[{"text": info["widget"]}] if info.get("widget") else None,
        )
        template = "ner.md"
        template_vars.update(
            title=name,
            description=(
                f"BioALBERT fine-tuned for named-entity recognition of {info['entities']} on {info['name']}"
                + (f", starting from [`{base_model}`](https://huggingface.co/{base_model})." if base_model else ".")
            ),
            training=training,
            entities=info["entities"],
            dataset_name=info["name"],
            labels=", ".join(labels) or "not recorded",
            example=(info.get("widget") or "Germline mutations in BRCA1 cause breast cancer.").replace('"', '\\"'),
            limitations=[],
        )
    template_vars["warning"] = size_warning(variant, config, cpu_run)
    return ModelCard.from_template(card_data, template_path=str(templates_dir() / template), **template_vars)
