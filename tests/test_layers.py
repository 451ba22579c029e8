"""Dependencies point one way: modeling <- the NER core (bioalbert.ner) <- the jobs (training), inference, hub.

Read from the import statements of every module (inside functions too), so an import hidden in a function counts."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("modeling", "ner", "training", "inference", "hub")
# What each layer may import of the others.
ALLOWED = {
    "modeling": set(),
    "ner": {"modeling"},
    "training": {"modeling", "ner", "training"},
    "inference": {"modeling", "ner", "inference"},
    "hub": {"modeling", "ner", "inference", "hub", "bioalbert.training.results"},
}
# Entry points that run other layers' commands end to end.
EXCEPTIONS = {
    ("training/demo.py", "bioalbert.inference"),  # the demo scores, then tags an example with the Tagger
    ("training/demo.py", "bioalbert.inference.shipped"),
    ("training/reproduce.py", "bioalbert.hub"),  # a recipe ends by staging its model and tagging an example
    ("training/reproduce.py", "bioalbert.inference"),
}


def bioalbert_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name for name in names if name.startswith("bioalbert.")}


def allowed(layer: str, name: str) -> bool:
    return any(name == rule or name.startswith(rule + ".") or name.split(".")[1] == rule for rule in ALLOWED[layer])


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_layer_above_its_own(layer):
    wrong = sorted((str(path.relative_to(REPO)), name) for path in (REPO / layer).rglob("*.py")
                   for name in bioalbert_imports(path)
                   if name.split(".")[1] in LAYERS and not allowed(layer, name))
    assert [pair for pair in wrong if pair not in EXCEPTIONS] == []


def test_pretraining_does_not_import_hub():
    assert not {name for name in bioalbert_imports(REPO / "training" / "pretrain.py") if name.startswith("bioalbert.hub")}
