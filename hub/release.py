"""`bioalbert release`: stage a Hub-ready model folder with its generated card, or push a staged folder.

    bioalbert release stage --model runs/base-pubmed --variant bioalbert-base-pubmed --out release/bioalbert-base-pubmed
    bioalbert release stage --model runs/ner-ncbi --variant bioalbert-base-pubmed --dataset ncbi_disease \\
        --out release/bioalbert-base-pubmed-ncbi-disease
    bioalbert release push --folder release/bioalbert-base-pubmed --repo-id bioalbert/bioalbert-base-pubmed --dry-run

`stage` copies only the files a Hub model repo needs (weights as safetensors, config, tokenizer, the remote-code
files of the installed `bioalbert.modeling`), writes README.md (the card) and .gitattributes, and checks the result
before it replaces `--out`. `push` is huggingface_hub's `create_repo` + `upload_folder`; it never changes the folder.

Two verbs with different flags are argparse subparsers: HfArgumentParser parses one set of dataclasses and has no
subcommands, and a dataclass per verb would not make either verb shorter.
"""

import argparse
import hashlib
import importlib
import json
import shutil
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
# bioalbert_finetune.json: what an NER model was trained on (labels, windows, an all-types model's type table, which
# `bioalbert evaluate` and `bioalbert demo` read).
OPTIONAL_FILES = ("special_tokens_map.json", "spiece.model", "bioalbert_finetune.json")
# File names written out rather than imported from bioalbert.modeling, whose import loads torch and transformers (about
# 5 s): `release push` needs neither. tests/test_release.py keeps the pipeline's name equal to modeling's PIPELINE_FILE.
REMOTE_CODE_FILES = ("configuration_bioalbert.py", "modeling_bioalbert.py")
NER_PIPELINE_FILE = "pipeline_bioalbert.py"  # NER models also carry the code `pipeline("ner", trust_remote_code=True)` runs
GENERATED_FILES = ("README.md", ".gitattributes")
MODEL_REPO_FILES = REQUIRED_FILES + OPTIONAL_FILES + REMOTE_CODE_FILES + (NER_PIPELINE_FILE,) + GENERATED_FILES
# The results files the card was generated from, and the pretraining summary: the numbers' provenance travels with
# the weights, so a model folder (models/ in this repository, or a Hub repo) can be checked against its card.
RESULTS_FOLDER = "results"


def shipped_sources(facts: dict) -> dict:
    """Where the card says the training facts are recorded: the files the staged repo carries. A pretraining record
    ships as results/pretraining.json (see stage); the Trainer's own files do not ship."""
    from bioalbert.training.results import PRETRAINING_RECORDS

    shipped = [f"{RESULTS_FOLDER}/pretraining.json" if name in PRETRAINING_RECORDS else name
               for name in facts.get("sources", [])]
    return {**facts, "recorded_in": [name for name in dict.fromkeys(shipped) if is_repo_file(name)]}


def is_repo_file(name: str) -> bool:
    """Whether a path relative to a staged folder belongs in a model repo."""
    return name in MODEL_REPO_FILES or (name.startswith(f"{RESULTS_FOLDER}/") and name.endswith(".json"))
FINETUNE_INFO = "bioalbert_finetune.json"
SIZE_FIELDS = ("hidden_size", "num_hidden_layers", "embedding_size", "num_attention_heads", "intermediate_size")

# The Hub's default rules, so that weights and tokenizer models are stored as large files wherever the repo is cloned.
GITATTRIBUTES = """*.safetensors filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
tokenizer.json filter=lfs diff=lfs merge=lfs -text
"""


class ReleaseError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


# ----------------------------------------------------------------------------------------------------------- stage


def check_model_folder(model_dir: Path) -> dict:
    """The model folder's config, after checking that everything a release needs is there."""
    if not model_dir.is_dir():
        raise ReleaseError(f"Model folder not found: {model_dir}")
    for name in REQUIRED_FILES:
        if not (model_dir / name).is_file():
            what = {"model.safetensors": "weights", "config.json": "config"}.get(name, "tokenizer")
            hint = " (save with safe_serialization, the default)" if name == "model.safetensors" else ""
            raise ReleaseError(f"Missing {what} file: {model_dir / name}{hint}")
    config_path = model_dir / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ReleaseError(f"{config_path}: not valid JSON ({error})") from error
    if config.get("model_type") != "bioalbert":
        raise ReleaseError(f"{config_path}: model_type is {config.get('model_type')!r}, expected 'bioalbert'")
    return config


def check_size(variant: dict, config: dict, config_path: Path) -> None:
    """A release repo's name promises a size: refuse a model of another size under it."""
    if not variant.get("release"):
        return
    from bioalbert.modeling import PRESETS

    expected = PRESETS[variant["preset"]]
    for field in SIZE_FIELDS:
        if config.get(field) != expected[field]:
            raise ReleaseError(
                f"{config_path}: {field} is {config.get(field)}, but {variant['name']} is a {variant['preset']} model "
                f"({field} {expected[field]}). Stage it under a variant of its own size."
            )


def count_parameters(weights: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(weights), framework="pt") as tensors:
        for key in tensors.keys():
            count = 1
            for dim in tensors.get_slice(key).get_shape():
                count *= dim
            total += count
    return total


def training_record(folder: Path) -> dict | None:
    """What a model folder records of the run that made it: the pretraining record (written by `bioalbert pretrain`,
    shipped as results/pretraining.json) or the fine-tuning record. A staged copy carries its source's record."""
    from bioalbert.training.results import PRETRAINING_RECORDS

    for path in (folder / name for name in (*PRETRAINING_RECORDS, FINETUNE_INFO)):
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise ReleaseError(f"{path}: not valid JSON ({error})") from error
    return None


def same_folder(recorded: str | None, model_dir: Path) -> bool | None:
    """Whether a path recorded in a results file is `model_dir`, or the run `model_dir` was staged from (the same
    training record: a staged copy's weights may be fp16, so its bytes differ); None when it names nothing on this
    machine."""
    if not recorded or not Path(recorded).exists():
        return None
    if Path(recorded).resolve() == model_dir.resolve():
        return True
    record = training_record(Path(recorded))
    return record is not None and record == training_record(model_dir)


def select_results(results_dir: Path, results_name: str, model_dir: Path, kind: str, dataset: str | None) -> list[dict]:
    """The results records that measured this model (NER) or fine-tunes of it (pretrained)."""
    from bioalbert.training.results import encoder_identity, load_results

    if not results_dir.is_dir():
        return []
    selected = []
    for record in load_results(results_dir, model=results_name):
        recorded = record.get("model_path") if kind == "ner" else record.get("base_model")
        started_from = record.get("base_model_pretraining") if kind == "pretrained" else None
        if started_from:  # which encoder, by its pretraining record: a folder's path may hold another one today
            measured = started_from == encoder_identity(model_dir)
            recorded = f"fine-tunes of the encoder pretrained {started_from['steps']:,} steps in {recorded}"
        else:
            measured = same_folder(recorded, model_dir)
        if measured is False:
            print(
                f"note: leaving {results_dir}/{results_name}/{record['dataset']}.json off the card: it measured "
                f"{recorded}, not {model_dir}",
                file=sys.stderr,
            )
            continue
        if kind == "ner" and dataset not in (None, "all-types") and record["dataset"] != dataset:
            continue
        selected.append(record)
    return selected


def verify_staged(folder: Path) -> None:
    """The checks a staged folder must pass: only repo files, full auto_map, config and card load back."""
    from huggingface_hub import ModelCard
    from transformers import AutoConfig
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    from bioalbert.modeling.modeling_bioalbert import AUTO_MAP, CUSTOM_PIPELINES

    present = sorted(path.name for path in folder.iterdir())
    extra = sorted(name for name in present if not is_repo_file(name) and name != RESULTS_FOLDER)
    if extra:
        raise ReleaseError(f"{folder}: files that do not belong in a model repo: {extra}")
    missing = [name for name in REQUIRED_FILES + REMOTE_CODE_FILES + GENERATED_FILES if name not in present]
    if missing:
        raise ReleaseError(f"{folder}: missing {missing}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    auto_map = config.get("auto_map", {})
    if auto_map != AUTO_MAP:
        raise ReleaseError(f"{folder / 'config.json'}: auto_map is {auto_map}, expected {AUTO_MAP}")
    references = dict(auto_map)
    if "BioAlbertForTokenClassification" in (config.get("architectures") or []):
        if config.get("custom_pipelines") != CUSTOM_PIPELINES or NER_PIPELINE_FILE not in present:
            raise ReleaseError(f"{folder}: an NER model needs {NER_PIPELINE_FILE} and config custom_pipelines "
                               f"{CUSTOM_PIPELINES}, found {config.get('custom_pipelines')}")
        references.update({task: info["impl"] for task, info in CUSTOM_PIPELINES.items()})
    # Import every auto_map class from the staged files, as trust_remote_code does where bioalbert is not installed
    # (here AutoConfig would pick this package's registered classes and never run the staged code).
    for auto_class, reference in references.items():
        loaded = get_class_from_dynamic_module(reference, str(folder))
        if loaded.__name__ != reference.split(".")[-1]:
            raise ReleaseError(f"{folder}: {auto_class} -> {reference} loaded {loaded.__name__}")
    config = AutoConfig.from_pretrained(folder)
    if config.model_type != "bioalbert":
        raise ReleaseError(f"{folder}: AutoConfig loaded model_type {config.model_type!r}")
    ModelCard.load(folder / "README.md")  # raises on YAML that the Hub would reject as unparsable


def store_fp16(weights: Path) -> None:
    """Rewrites the floating-point tensors of a safetensors file in float16: half the size to store and download.
    The config keeps `dtype: float32`, so `from_pretrained` loads them back into float32, the dtype the model is
    fine-tuned and run in on CPUs (which have no fast float16 kernels); the rounding costs nothing measurable."""
    from safetensors.torch import load_file, save_file

    tensors = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})


@contextmanager
def atomic_folder(out: Path):
    """Yields an empty folder next to `out` and swaps it in for `out` when the block succeeds: a failure never
    leaves a half-staged folder behind, nor touches an existing `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # mkdir, not tempfile.mkdtemp: mkdtemp makes a private 0700 folder, which `out` would then stay; mkdir gives
    # the user's normal permissions (0777 less the umask), as for any folder they create.
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def stage(
    model_dir: Path,
    variant_name: str,
    out: Path,
    results_dir: Path,
    results_name: str | None = None,
    dataset: str | None = None,
    org: str | None = None,
    base_model: str | None = None,
    overwrite: bool = False,
    fp16_weights: bool = False,
    seed: int | None = None,
) -> Path:
    import bioalbert.modeling
    from bioalbert.hub import cards
    from bioalbert.modeling.modeling_bioalbert import CUSTOM_PIPELINES

    # A fine-tuning run folder holds the weights of the seed best on devel, and each seed's in seed-N/; the results
    # files measured the run (every seed), so they stay the card's whichever seed's weights are staged.
    weights_dir = model_dir / f"seed-{seed}" if seed is not None else model_dir
    config = check_model_folder(weights_dir)
    variant = cards.get_variant(variant_name)
    check_size(variant, config, weights_dir / "config.json")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ReleaseError(f"{out} exists and is not empty; pass --overwrite to replace it")

    kind = "ner" if "BioAlbertForTokenClassification" in (config.get("architectures") or []) else "pretrained"
    finetune_info = model_dir / FINETUNE_INFO  # `bioalbert finetune` records the benchmark it trained on
    has_info = kind == "ner" and finetune_info.is_file()
    recorded_info = json.loads(finetune_info.read_text(encoding="utf-8")) if has_info else {}
    dataset = dataset or recorded_info.get("dataset")
    org = org or cards.load_variants()["hub_org"]
    repo_id = f"{org}/{out.name}"
    results_name = results_name or variant["recipe"]
    records = select_results(results_dir, results_name, model_dir, kind, dataset)
    if kind == "ner":
        datasets = sorted({record["dataset"] for record in records})
        if dataset is None:
            if len(datasets) != 1:
                raise ReleaseError(
                    f"{model_dir} is an NER model: pass --dataset (the benchmark it was fine-tuned on); "
                    f"results found for {datasets or 'no dataset'}"
                )
            dataset = datasets[0]
        base_model = base_model or f"{org}/{variant_name}"
    card = cards.build_card(
        kind=kind,
        variant=variant,
        repo_id=repo_id,
        config=config,
        records=records,
        facts=shipped_sources(cards.read_training_metadata(model_dir)),
        num_parameters=count_parameters(weights_dir / "model.safetensors"),
        base_model=base_model if kind == "ner" else None,
        dataset=dataset,
        results_source=f"{results_dir}/{results_name}/",
        weights_seed=seed if seed is not None else recorded_info.get("best_seed"),  # the root holds the best on devel
    )

    with atomic_folder(out) as staging:
        for name in REQUIRED_FILES + OPTIONAL_FILES:
            if (weights_dir / name).is_file():
                shutil.copy2(weights_dir / name, staging / name)
        if seed is not None and recorded_info:  # evaluate and demo read the folder's seed from it
            (staging / FINETUNE_INFO).write_text(json.dumps({**recorded_info, "best_seed": seed}, indent=2) + "\n",
                                                 encoding="utf-8")
        if fp16_weights:
            store_fp16(staging / "model.safetensors")
        # Older saves lack part of auto_map and the custom pipeline.
        staged_config = {**config, "auto_map": dict(bioalbert.modeling.AUTO_MAP)}
        if kind == "ner":
            staged_config["custom_pipelines"] = CUSTOM_PIPELINES
        if fp16_weights:
            staged_config["dtype"] = "float32"  # what from_pretrained computes in: see store_fp16
        if staged_config != config:
            (staging / "config.json").write_text(json.dumps(staged_config, indent=2, sort_keys=True) + "\n",
                                                 encoding="utf-8")
        code_dir = Path(bioalbert.modeling.__file__).parent  # the code this package runs, not the folder's copy
        for name in REMOTE_CODE_FILES + ((NER_PIPELINE_FILE,) if kind == "ner" else ()):
            shutil.copy2(code_dir / name, staging / name)
        card.save(staging / "README.md")
        provenance = {f"{record['dataset']}.json": record for record in records}
        summary = next((model_dir / name for name in cards.PRETRAINING_RECORDS if (model_dir / name).is_file()), None)
        if summary:
            provenance["pretraining.json"] = json.loads(summary.read_text())
        if provenance:
            (staging / RESULTS_FOLDER).mkdir()
            for name, record in provenance.items():
                (staging / RESULTS_FOLDER / name).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        (staging / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
        verify_staged(staging)
    print(f"Staged {kind} model {model_dir} as {repo_id} in {out} ({len(records)} results file(s) on the card)")
    for path in sorted(out.iterdir()):
        print(f"  {path.name:<28} {path.stat().st_size:>12,} bytes")
    return out


# ------------------------------------------------------------------------------------------------------------ push


def folder_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and ".git" not in path.relative_to(folder).parts)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_push_folder(folder: Path, repo_id: str, repo_type: str) -> dict:
    """Checks before anything is sent; returns create_repo's extra arguments (the Space SDK)."""
    if not folder.is_dir():
        raise ReleaseError(f"Folder not found: {folder}")
    if not (folder / "README.md").is_file():
        raise ReleaseError(f"{folder / 'README.md'} is missing: a Hub repo needs its card")
    if "/" not in repo_id:
        raise ReleaseError(f"--repo-id must be <org or user>/<name>, got {repo_id!r}")
    if repo_type == "space":
        from huggingface_hub import SpaceCard

        sdk = SpaceCard.load(folder / "README.md").data.get("sdk")
        if not sdk:
            raise ReleaseError(f"{folder / 'README.md'}: the Space card's metadata has no `sdk:` (e.g. gradio)")
        return {"space_sdk": sdk}
    names = {path.relative_to(folder).as_posix() for path in folder_files(folder)}
    extra = sorted(name for name in names if not is_repo_file(name))
    missing = [name for name in REQUIRED_FILES + REMOTE_CODE_FILES if name not in names]
    if extra or missing:
        raise ReleaseError(
            f"{folder} is not a staged model folder (extra files {extra}, missing {missing}); "
            "build it with `bioalbert release stage`"
        )
    if repo_id not in (folder / "README.md").read_text(encoding="utf-8"):
        raise ReleaseError(
            f"{folder / 'README.md'} was staged for another repo id (its loading code does not name {repo_id}); "
            "re-stage with --org matching --repo-id"
        )
    return {}


def transport_errors() -> tuple[type[Exception], ...]:
    """Connection failures of huggingface_hub's HTTP client (httpx2 in huggingface_hub 2, httpx in 1)."""
    errors = []
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def push(folder: Path, repo_id: str, repo_type: str = "model", private: bool = False, dry_run: bool = False,
         commit_message: str | None = None) -> int:
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError

    create_kwargs = check_push_folder(folder, repo_id, repo_type)
    files = folder_files(folder)
    commit_message = commit_message or f"Upload {folder.name} with bioalbert release push"
    token = get_token()  # HF_TOKEN, else the token saved by `hf auth login`
    if not dry_run and token is None:
        raise ReleaseError("No Hugging Face token: set HF_TOKEN or run `hf auth login` (nothing was sent)")
    if not dry_run and constants.HF_HUB_OFFLINE:
        raise ReleaseError("HF_HUB_OFFLINE is set, which blocks every Hub call: unset it to push (nothing was sent)")

    print(f"{'Would create' if dry_run else 'Creating'} {repo_type} repo {repo_id} on {constants.ENDPOINT} "
          f"(private={private}, exist_ok=True{', sdk=' + create_kwargs['space_sdk'] if create_kwargs else ''})")
    print(f"{'Would upload' if dry_run else 'Uploading'} {len(files)} files in one commit ({commit_message!r}):")
    for path in files:
        print(f"  {path.relative_to(folder).as_posix():<28} {path.stat().st_size:>12,} bytes  sha256 {sha256(path)}")
    if dry_run:
        no_token = "" if token else " (No Hugging Face token found: a real push would stop here.)"
        print(f"Dry run: nothing was sent.{no_token}")
        return 0

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **create_kwargs)
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type=repo_type, commit_message=commit_message
        )
    except (HfHubHTTPError, OSError, *transport_errors()) as error:
        first_line = str(error).splitlines()[0]
        print(
            f"bioalbert release push: upload to {repo_id} failed: {first_line}\n"
            f"The staged folder {folder} is unchanged; run the same command again to retry "
            "(files already committed are skipped).",
            file=sys.stderr,
        )
        return 1
    print(f"Pushed {folder} to {url}\nCommit {commit.oid}: {commit.commit_url}")
    print(f"Pin it when loading: from_pretrained({repo_id!r}, revision={commit.oid!r}, trust_remote_code=True)")
    return 0


# ------------------------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioalbert release", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    staging = verbs.add_parser("stage", help="build a Hub-ready model folder with its generated card")
    staging.add_argument("--model", type=Path, required=True, help="saved model folder (save_pretrained output)")
    staging.add_argument("--variant", required=True, help="model_cards/variants.json name, e.g. bioalbert-base-pubmed")
    staging.add_argument("--out", type=Path, required=True, help="folder to create; its name is the repo name")
    staging.add_argument("--results-dir", type=Path, default=Path("results"), help="where results files are")
    staging.add_argument("--results-name", help="results folder name (default: the variant's recipe)")
    staging.add_argument("--dataset", help="NER models: the benchmark fine-tuned on (default: from results)")
    staging.add_argument("--org", help="Hub namespace the card's code and base_model use (default: variants.json)")
    staging.add_argument("--base-model", help="NER models: Hub id of the pretrained model (default: <org>/<variant>)")
    staging.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    staging.add_argument("--seed", type=int, help="stage the weights of this seed of a multi-seed fine-tuning run "
                         "(its seed-N folder) instead of the seed best on devel")
    staging.add_argument("--fp16-weights", action="store_true",
                         help="store the weights in float16 (half the size); they still load as float32")

    pushing = verbs.add_parser("push", help="create the Hub repo and upload a staged folder")
    pushing.add_argument("--folder", type=Path, required=True, help="a folder made by `release stage` (or a Space)")
    pushing.add_argument("--repo-id", required=True, help="<org or user>/<name>")
    pushing.add_argument("--repo-type", choices=["model", "space"], default="model")
    pushing.add_argument("--private", action="store_true", help="create it private (an existing repo keeps its own)")
    pushing.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    pushing.add_argument("--commit-message")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.verb == "stage":
            stage(args.model, args.variant, args.out, args.results_dir, args.results_name, args.dataset, args.org,
                  args.base_model, args.overwrite, args.fp16_weights, args.seed)
            return 0
        return push(args.folder, args.repo_id, args.repo_type, args.private, args.dry_run, args.commit_message)
    except (ReleaseError, FileNotFoundError, ValueError) as error:
        print(f"bioalbert release {args.verb}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
