"""`bioalbert space`: run the Gradio demo (space/app.py) on this machine, or stage a Hugging Face Space folder.

    bioalbert space                                                          # the shipped all-types model, :7860
    bioalbert space --model runs/ner-ncbi --model runs/ner-bc5cdr-chem      # http://127.0.0.1:7860
    bioalbert space --model-dir runs --port 8000                             # every fine-tuned folder in runs/
    bioalbert space --stage release/space --model models/bioalbert-tiny-ner --model runs/ner-ncbi
    cd release/space && python app.py        # try it where its requirements.txt and gradio are installed
    bioalbert release push --folder release/space --repo-id <user>/bioalbert-ner --repo-type space

A staged Space folder (--stage OUT) holds:

    OUT/app.py, README.md, requirements.txt   the demo, its Space card (sdk: gradio) and pinned packages
    OUT/bioalbert/                            a copy of every bioalbert module app.py imports, directly or through
                                              each other (found by reading their import statements)
    OUT/models/<name>/                        each local --model folder (weights, config, tokenizer)
    OUT/models.txt                            what the chooser offers: models/<name> and Hub ids, one a line
    OUT/.gitattributes                        LFS rules for the weights

Vendoring, not a git URL in requirements.txt: the Space installs only from PyPI (bioalbert is not there), and a
copy is exactly the code tested with the models it serves. Staging ends by importing the copied code in a Python
that cannot see this checkout or an installed bioalbert (bioalbert.hub.isolated).
"""

import argparse
import ast
import importlib.util
import re
import shutil
import sys
from pathlib import Path

SPACE_SOURCE = Path(__file__).resolve().parents[1] / "space"  # the checkout's space/ (editable install)
LOCK_FILE = SPACE_SOURCE.parent / "requirements-lock.txt"  # `make lock`: every package the tests run, pinned
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "spiece.model", "bioalbert_finetune.json")


def locked_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """`name -> version` of a pip-compile lock file (names lower-case, `_` as `-`; a local label such as torch's `+cpu`
    dropped: PyPI has no such build)."""
    versions = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            versions[name.strip().lower().replace("_", "-")] = version.split("+")[0].strip()
    return versions


def pinned_space_files(lock: Path = LOCK_FILE, source: Path = SPACE_SOURCE) -> dict[str, str]:
    """space/requirements.txt and space/README.md with every pin and `sdk_version` taken from the lock, so the Space
    runs the versions the tests ran; `make lock` writes them (`write_pinned_space_files`)."""
    versions = locked_versions(lock)
    lines = []
    for line in (source / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name = line.split("==")[0].strip()
            key = name.lower().replace("_", "-")
            if key not in versions:
                raise SpaceError(f"{source / 'requirements.txt'}: {name} is not in {lock}; add it to setup.py")
            line = f"{name}=={versions[key]}"
        elif line.startswith("#") and "sdk_version" in line:
            line = re.sub(r"\(\d[^)]*\)", f"({versions['gradio']})", line)
        lines.append(line)
    card = re.sub(r"(?m)^sdk_version: .*$", f"sdk_version: {versions['gradio']}",
                  (source / "README.md").read_text(encoding="utf-8"))
    return {"requirements.txt": "\n".join(lines) + "\n", "README.md": card}


def write_pinned_space_files(lock: Path = LOCK_FILE, source: Path = SPACE_SOURCE) -> None:
    for name, text in pinned_space_files(lock, source).items():
        (source / name).write_text(text, encoding="utf-8")


class SpaceError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


def load_app(source: Path = SPACE_SOURCE):
    """space/app.py as a module (it is a Space's entry file, not part of the bioalbert package)."""
    path = source / "app.py"
    if not path.is_file():
        raise SpaceError(f"{path} not found: `bioalbert space` runs from a checkout of the repository (space/app.py)")
    spec = importlib.util.spec_from_file_location("bioalbert_space_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage(out: Path, models: list[str], overwrite: bool = False) -> Path:
    """Writes a self-contained Space folder at `out` (built aside and swapped in: a failure leaves nothing half-done)."""
    from huggingface_hub import SpaceCard

    from bioalbert.hub.release import GITATTRIBUTES, atomic_folder

    if not models:
        raise SpaceError("--stage needs at least one --model (a fine-tuned folder to copy in, or a Hub id)")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise SpaceError(f"{out} exists and is not empty; pass --overwrite to replace it")
    with atomic_folder(out) as staging:
        for name in SPACE_FILES:
            shutil.copy2(SPACE_SOURCE / name, staging / name)
        vendored = vendored_modules(SPACE_SOURCE / "app.py")
        (staging / "bioalbert").mkdir()
        (staging / "bioalbert" / "__init__.py").write_text('"""Vendored copy of the bioalbert code the demo runs."""\n')
        for name, source in vendored.items():
            target = staging / vendored_path(name, source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        listed, hub_ids = [], []
        for model in models:
            folder = Path(model).expanduser()
            if folder.is_dir():
                missing = [name for name in ("config.json", "model.safetensors", "tokenizer.json") if not (folder / name).is_file()]
                if missing:
                    raise SpaceError(f"{folder} is not a fine-tuned model folder: missing {', '.join(missing)}")
                target = staging / "models" / folder.resolve().name
                if target.exists():
                    raise SpaceError(f"Two --model folders are named {folder.name}: rename one")
                target.mkdir(parents=True)
                for name in MODEL_FILES:
                    if (folder / name).is_file():
                        shutil.copy2(folder / name, target / name)
                listed.append(f"models/{target.name}")
            elif model.count("/") == 1 and not model.startswith((".", "/", "~")):
                listed.append(model)
                hub_ids.append(model)
            else:
                raise SpaceError(f"--model {model}: not a folder on this machine and not a Hub id (<org>/<name>)")
        (staging / "models.txt").write_text(
            "# Models the demo offers: folders relative to app.py, or Hub ids (written by `bioalbert space --stage`)\n"
            + "\n".join(listed) + "\n", encoding="utf-8"
        )
        card = SpaceCard.load(staging / "README.md")
        if hub_ids:
            card.data.models = hub_ids  # links the Space from those model pages on the Hub
        card.save(staging / "README.md")
        (staging / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
        check_vendored(staging, sorted(vendored))
    print(f"Staged the Space in {out} ({len(listed)} model(s): {', '.join(listed)})")
    print(f"Try it: cd {out} && python app.py   Push it: bioalbert release push --folder {out} --repo-id <user>/<name> --repo-type space")
    return out


def module_file(name: str) -> Path | None:
    """The source file of the bioalbert module `name` (`bioalbert.inference.tagger` -> inference/tagger.py,
    a package -> its __init__.py), found without importing it; None where there is no such module."""
    parts = name.split(".")
    spec = importlib.util.find_spec(".".join(parts[:2])) if parts[0] == "bioalbert" and len(parts) > 1 else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]).joinpath(*parts[2:])
    for candidate in (path / "__init__.py", path.with_name(path.name + ".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_bioalbert_modules(source: Path, module: str) -> set[str]:
    """Dotted names of the bioalbert modules that the file of `module` imports anywhere (inside functions too),
    with the packages that importing them runs; `from pkg import name` counts `pkg.name` where that is a module."""
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            names = [base] + [f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}")]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "bioalbert":
                found.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    for name in found:
        if module_file(name) is None:
            raise SpaceError(f"{source} imports {name}, which is not a module of the installed bioalbert")
    return found


def vendored_modules(entry: Path) -> dict[str, Path]:
    """{dotted name: source file} of every bioalbert module that `entry` (a script) needs: its imports and theirs."""
    todo, done = list(imported_bioalbert_modules(entry, "__main__")), {}
    while todo:
        name = todo.pop()
        if name not in done:
            done[name] = module_file(name)
            todo += imported_bioalbert_modules(done[name], name)
    return dict(sorted(done.items()))


def vendored_path(name: str, source: Path) -> Path:
    """Where module `name` goes in a staged folder: bioalbert/inference/tagger.py, bioalbert/training/__init__.py."""
    parts = name.split(".")
    return Path(*parts, "__init__.py") if source.name == "__init__.py" else Path(*parts[:-1], parts[-1] + ".py")


def check_vendored(folder: Path, modules: list[str]) -> None:
    """Imports every vendored module in a Python that cannot see this checkout or an installed bioalbert, as on
    the Space (bioalbert.hub.isolated), and checks that each comes from the staged copy."""
    from bioalbert.hub.isolated import run_isolated

    code = (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(folder.resolve())!r}), module.__file__\n"
    )
    result = run_isolated(code, cwd=folder, path=[folder], timeout=600)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SpaceError(f"The vendored bioalbert code in {folder} does not import on its own: {last}")


def parse_args(argv):
    # argparse, not HfArgumentParser: a repeatable --model and a mode switch (--stage) read better as flags.
    parser = argparse.ArgumentParser(prog="bioalbert space", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="Fine-tuned folder or Hub id; repeat for several "
                        "(default, without --model-dir: the shipped all-types model, models/bioalbert-tiny-ner).")
    parser.add_argument("--model-dir", help="Offer every fine-tuned model folder directly inside this folder.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default 127.0.0.1: this machine only).")
    parser.add_argument("--port", type=int, help="Port (default: 7860, or the next free one).")
    parser.add_argument("--max-chars", type=int, default=50_000, help="Longest text accepted (default 50,000).")
    parser.add_argument("--concurrency", type=int, default=2, help="Tagging requests run at once (default 2).")
    parser.add_argument("--stage", type=Path, metavar="OUT", help="Write a Hugging Face Space folder here instead of serving.")
    parser.add_argument("--overwrite", action="store_true", help="With --stage: replace OUT if it exists.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model and not args.model_dir:
        from bioalbert.inference.shipped import default_ner_model

        args.model = [default_ner_model()]  # the shipped all-types model
    try:
        if args.stage:
            stage(args.stage, args.model, args.overwrite)
            return 0
        for model in args.model:  # a mistyped folder fails here, before gradio and torch take seconds to import
            local = model.startswith((".", "/", "~")) or model.count("/") != 1
            if local and not Path(model).expanduser().is_dir():
                raise SpaceError(f"Model folder not found: {Path(model).expanduser()}")
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app = load_app()
        demo = app.build_demo(args.model or None, args.model_dir, max_chars=args.max_chars, concurrency_limit=args.concurrency)
    except (SpaceError, FileNotFoundError, ValueError) as error:
        print(f"bioalbert space: error: {error}", file=sys.stderr)
        return 2
    app.launch(demo, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
