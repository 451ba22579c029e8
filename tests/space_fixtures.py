"""Fixtures shared by the demo Space tests: a second NER model and a running demo server (the micro NER model,
`ner_dir`, comes from conftest.py)."""

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from bioalbert.hub.space import load_app

from conftest import free_port

app = load_app()


@pytest.fixture(scope="session")
def chem_dir(ner_dir, tmp_path_factory) -> Path:
    """The same weights with their label renamed Chemical: a second entity type for the merging tests."""
    folder = tmp_path_factory.getbasetemp() / "micro-chem"
    if not folder.exists():
        shutil.copytree(ner_dir, folder, ignore=shutil.ignore_patterns("trainer"))
        config = (folder / "config.json").read_text(encoding="utf-8")
        (folder / "config.json").write_text(config.replace("Disease", "Chemical"), encoding="utf-8")
    return folder


@contextmanager
def serving(demo):
    """Launches `demo` on a free 127.0.0.1 port in this process; yields its URL."""
    _, url, _ = app.launch(demo, host="127.0.0.1", port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="session")
def demo_url(ner_dir, chem_dir):
    """The demo serving the disease and the 'chemical' model, with its default settings."""
    with serving(app.build_demo(models=[str(ner_dir), str(chem_dir)])) as url:
        yield url
