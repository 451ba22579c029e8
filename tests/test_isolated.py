"""bioalbert.hub.isolated, the interpreter the "loads where bioalbert is not installed" tests run in: it really
cannot reach this checkout, where the sys.meta_path filter it replaces could."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from bioalbert.hub import isolated


def test_bioalbert_is_installed_here_but_not_importable_there(tmp_path):
    assert importlib.util.find_spec("bioalbert") is not None  # the (editable) install these tests run on
    done = isolated.run_isolated("import bioalbert", cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "No module named 'bioalbert'" in done.stderr


def test_a_folder_given_as_path_comes_first(tmp_path):
    (tmp_path / "copy" / "bioalbert").mkdir(parents=True)
    (tmp_path / "copy" / "bioalbert" / "__init__.py").write_text("")
    done = isolated.run_isolated("import bioalbert; print(bioalbert.__file__)", cwd=tmp_path, path=[tmp_path / "copy"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str((tmp_path / "copy" / "bioalbert" / "__init__.py").resolve())


def test_opening_a_file_of_the_checkout_ends_the_process(tmp_path):
    source = Path(isolated.__file__).resolve()  # a file of the checkout (or of an installed bioalbert)
    done = isolated.run_isolated(f"open({str(source)!r}).read(); print('read it')", cwd=tmp_path, timeout=120)
    assert done.returncode == isolated.LEAK_STATUS and "read it" not in done.stdout
    assert done.stderr.strip() == f"{isolated.LEAK_MESSAGE} {source}"


def test_the_meta_path_filter_it_replaces_leaks(tmp_path):
    """Why an interpreter of its own: setuptools' editable finder sits in sys.meta_path as a class, so a filter on
    type(finder).__module__ (the tests' isolation before) keeps it. With a partial copy of bioalbert first on
    sys.path, as in a staged Space, every module missing from the copy then quietly loads from the checkout."""
    if not any("Editable" in getattr(finder, "__name__", "") for finder in sys.meta_path):
        pytest.skip("bioalbert is not installed in editable mode here")
    for package in ("bioalbert", "bioalbert/training"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    code = (
        "import importlib.util, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()]\n"
        "sys.path[:] = [p for p in sys.path if p and '__editable__' not in p]\n"
        "sys.path.insert(0, '.')\n"
        "print(importlib.util.find_spec('bioalbert.training.tokenizer').origin)\n"
    )
    leaked = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert leaked.stdout.strip() == str(isolated.SOURCE_ROOT / "training" / "tokenizer.py"), leaked.stderr
    code = "import importlib.util; print(importlib.util.find_spec('bioalbert.training.tokenizer'))"
    done = isolated.run_isolated(code, cwd=tmp_path, path=[tmp_path], timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "None"), done.stderr
