"""The `bioalbert` command: one subcommand per job, each a module with its own `main(argv)`."""

import importlib
import os
import sys

# subcommand -> (module, one-line help). Modules are imported only when their subcommand runs.
COMMANDS = {
    "train-tokenizer": ("bioalbert.training.tokenizer", "train a biomedical SentencePiece-unigram tokenizer"),
    "init-model": ("bioalbert.training.init_model", "save a randomly initialised BioALBERT of a named size"),
    "pretrain": ("bioalbert.training.pretrain", "pretrain with masked LM + sentence-order prediction"),
    "finetune": ("bioalbert.training.finetune", "fine-tune for BioNER on a benchmark or CoNLL files"),
    "finetune-joint": ("bioalbert.training.finetune_joint", "fine-tune one model on every benchmark corpus's types at once"),
    "evaluate": ("bioalbert.training.evaluate", "evaluate a BioNER model on a benchmark (entity + token F1)"),
    "tag": ("bioalbert.inference.tag", "tag documents: text, JSONL, PubTator, BioC in; JSONL, PubTator, BioC, CoNLL out"),
    "tag-ray": ("bioalbert.inference.ray_tagging", "tag JSONL or parquet shards on a Ray cluster (the `ray` extra)"),
    "release": ("bioalbert.hub.release", "stage a Hub-ready model folder with its card, or push one"),
    "space": ("bioalbert.hub.space", "run the Gradio demo Space locally"),
    "convert-tf": ("bioalbert.convert.tf_checkpoint", "convert an official TF1 BioALBERT checkpoint"),
    "demo": ("bioalbert.training.demo", "score the shipped all-types model on every benchmark and tag an example"),
    "reproduce": ("bioalbert.training.reproduce", "run a recipe end to end and build the results table"),
}


# What bad input raises (a missing, unreadable or wrong kind of file or folder, an unknown name, a malformed value):
# every command reports it as one line naming the file or field, and exits 2. BIOALBERT_TRACEBACK=1 shows the
# traceback instead (for an error that is a bug rather than bad input).
INPUT_ERRORS = (OSError, ValueError)
TRACEBACK_VAR = "BIOALBERT_TRACEBACK"


def usage() -> str:
    lines = ["usage: bioalbert <command> [--help] [args]", "", "commands:"]
    lines += [f"  {name:<16} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", f"Bad input is reported in one line (exit status 2); set {TRACEBACK_VAR}=1 to see the traceback."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"bioalbert: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    try:
        return module.main(argv[1:]) or 0
    except INPUT_ERRORS as error:
        if os.environ.get(TRACEBACK_VAR):
            raise
        message = " ".join(str(error).split()) or type(error).__name__  # one line, whatever the library wrote
        print(f"bioalbert {argv[0]}: error: {message}", file=sys.stderr)
        return 2
