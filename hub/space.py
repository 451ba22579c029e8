"""`bioalbert space`: run the Gradio demo (space/app.py) on this machine, or stage a Hugging Face Space folder.

    bioalbert space --model runs/ner-ncbi --model runs/ner-bc5cdr-chem      # http://127.0.0.1:7860
    bioalbert space --model-dir runs --port 8000                             # every fine-tuned folder in runs/
    bioalbert space --stage release/space --model runs/ner-ncbi --model bioalbert/bioalbert-base-pubmed-ncbi-disease
    bioalbert release push --folder release/space --repo-id <user>/bioalbert-ner --repo-type space

A staged Space folder holds space/{app.py,README.md,requirements.txt}, a vendored copy of the bioalbert code the
app runs (bioalbert/: modeling, inference and the windowing it uses), every local --model folder under models/,
and models.txt listing what the chooser offers. Vendoring, not a git URL in requirements.txt: the Space installs
only from PyPI (bioalbert is not there), and a copy is exactly the code tested with the models it serves.
"""

import argparse
import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

SPACE_SOURCE = Path(__file__).resolve().parents[1] / "space"  # the checkout's space/ (editable install)
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
VENDORED = {  # bioalbert subpackage -> its files the app needs (app.py imports bioalbert.inference only)
    "modeling": ["__init__.py", "configuration_bioalbert.py", "modeling_bioalbert.py"],
    "inference": ["__init__.py", "tagger.py", "formats.py", "tag.py"],
    "training": ["ner_windows.py"],  # bioalbert.inference.tagger reuses the fine-tuning windows
}
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "spiece.model", "bioalbert_finetune.json")


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
        (staging / "bioalbert").mkdir()
        (staging / "bioalbert" / "__init__.py").write_text('"""Vendored copy of the bioalbert code the demo runs."""\n')
        for sub, files in VENDORED.items():
            source = Path(importlib.import_module(f"bioalbert.{sub}").__path__[0])
            (staging / "bioalbert" / sub).mkdir()
            if "__init__.py" not in files:
                (staging / "bioalbert" / sub / "__init__.py").write_text("")
            for name in files:
                shutil.copy2(source / name, staging / "bioalbert" / sub / name)
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
        check_vendored(staging)
    print(f"Staged the Space in {out} ({len(listed)} model(s): {', '.join(listed)})")
    print(f"Try it: cd {out} && python app.py   Push it: bioalbert release push --folder {out} --repo-id <user>/<name> --repo-type space")
    return out


def check_vendored(folder: Path) -> None:
    """Imports the vendored code in a fresh interpreter that cannot see the installed bioalbert, as on the Space."""
    code = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()]\n"
        "sys.path[:] = [p for p in sys.path if p and '__editable__' not in p]; sys.path.insert(0, '.')\n"
        "import bioalbert.inference, bioalbert.modeling\n"
        "assert bioalbert.__file__.startswith(sys.argv[1]), bioalbert.__file__\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(folder.resolve())], cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SpaceError(f"The vendored bioalbert code in {folder} does not import on its own: {last}")


def parse_args(argv):
    # argparse, not HfArgumentParser: a repeatable --model and a mode switch (--stage) read better as flags.
    parser = argparse.ArgumentParser(prog="bioalbert space", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="Fine-tuned folder or Hub id; repeat for several.")
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
