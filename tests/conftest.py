"""Shared fixtures: the real shared data and small real models built once per test session."""

import os
import socket
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()
os.environ.setdefault("BIOALBERT_DATA", str(DATA_DIR))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, os.cpu_count() or 1))


def free_port() -> int:
    """A local port nobody listens on (a fixed one that another test session on the machine holds makes servers and
    torch.distributed's store wait or fail)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def torch_extensions_dir(tmp_path_factory) -> Path:
    """DeepSpeed JIT-builds its ops (on CPU, the shared-memory comm op at every ZeRO start) into torch's extension cache
    behind a lock file, and a build killed part-way (a session or CI job ended mid-compile) leaves that lock behind:
    every later build on the machine then waits on it forever. Each test session builds into its own folder instead
    (about a minute of compiling, once)."""
    path = tmp_path_factory.mktemp("torch_extensions")
    os.environ["TORCH_EXTENSIONS_DIR"] = str(path)  # read at each build, and inherited by the tests' subprocesses
    return path


# A model small enough that a test trains it in seconds on 2 CPU cores.
MICRO_CONFIG = dict(embedding_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "bioner").is_dir():
        pytest.fail(f"The shared data is missing: expected {DATA_DIR}/bioner (see README, 'Data').")
    return DATA_DIR


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory, data_dir) -> Path:
    """A real cased unigram tokenizer trained on the first lines of the shared PubMed corpus."""
    from bioalbert.training.tokenizer import read_lines, train_tokenizer

    corpus = sorted((data_dir / "corpus").glob("pubmed_*.txt.gz"))
    tokenizer = train_tokenizer(read_lines(corpus, max_lines=6000), vocab_size=3000)
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


@pytest.fixture(scope="session")
def micro_pretrained_dir(tmp_path_factory, tokenizer) -> Path:
    """A randomly initialised micro BioAlbertForPreTraining saved with its tokenizer."""
    from bioalbert.training.init_model import init_model

    model = init_model(tokenizer, "tiny", seed=0, **MICRO_CONFIG)
    path = tmp_path_factory.mktemp("micro-pretrained")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def ner_dir(tmp_path_factory, micro_pretrained_dir, data_dir) -> Path:
    """The micro model fine-tuned on NCBI-disease sentences, so that it predicts real entities (built once)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from tagging_fixtures import finetune_micro

    return finetune_micro(micro_pretrained_dir, data_dir, tmp_path_factory.getbasetemp() / "micro-ncbi")


@pytest.fixture(scope="session")
def normal_mode() -> int:
    """The permission bits of a folder the user makes: 0777 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


@pytest.fixture
def run_isolated(tmp_path):
    """Runs `code` in a fresh interpreter where bioalbert is not installed and nothing of this checkout can be
    imported or read (bioalbert.hub.isolated); returns its stdout."""
    from bioalbert.hub.isolated import run_isolated as run_in_isolation

    def run(code: str, timeout: int = 300) -> str:
        env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "hf_modules"), "HF_HUB_OFFLINE": "1"}
        completed = run_in_isolation(code, cwd=tmp_path, env=env, timeout=timeout)
        assert completed.returncode == 0, f"isolated run failed:\n{completed.stderr[-4000:]}"
        return completed.stdout

    return run
