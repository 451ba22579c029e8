"""The models shipped in models/ (the offline stand-ins of their Hub repos): size rules, loading through the Auto
classes, and that they do their job — the encoder predicts masked pieces, the tagger finds every entity type."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForPreTraining, AutoTokenizer

from bioalbert.inference.shipped import SHIPPED_NER_DIR
from bioalbert.modeling import AUTO_MAP
from bioalbert.modeling.modeling_bioalbert import CUSTOM_PIPELINES

MODELS = Path(__file__).resolve().parents[1] / "models"
ENCODER = MODELS / "bioalbert-tiny-pubmed-task"
MB = 1024 * 1024
CODE_DIR = Path(__file__).resolve().parents[1] / "modeling"


@pytest.mark.parametrize("folder", [ENCODER, SHIPPED_NER_DIR], ids=lambda path: path.name)
def test_shipped_folder_is_a_complete_fp16_model_repo(folder):
    shards = sorted(folder.glob("*.safetensors"))
    assert shards and all(shard.stat().st_size <= 15 * MB for shard in shards)
    for shard in shards:
        with safe_open(shard, "pt") as weights:
            assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.float16}
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP and config["model_type"] == "bioalbert"
    assert config["position_bias"] == "alibi"
    assert (folder / "tokenizer.json").is_file() and (folder / "README.md").is_file()
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"\n# {folder.name}\n" in card, "the card names its own repo: stage into a folder of that name"
    # The remote code a user without this package runs is the package's own, not an older copy.
    remote_code = ["configuration_bioalbert.py", "modeling_bioalbert.py"]
    if folder == SHIPPED_NER_DIR:  # its pipeline("ner") splits words as training did (pipeline_bioalbert.py)
        remote_code.append("pipeline_bioalbert.py")
        assert config["custom_pipelines"] == CUSTOM_PIPELINES
    for name in remote_code:
        assert (folder / name).read_bytes() == (CODE_DIR / name).read_bytes(), f"{folder / name}: restage the folder"
    assert list((folder / "results").glob("*.json")), "the results the model was scored with"
    # The Hub's LFS rules would apply to this repository's own git (no LFS server behind it): staged without them.
    assert not (folder / ".gitattributes").exists()


@pytest.mark.parametrize("folder", [ENCODER, SHIPPED_NER_DIR], ids=lambda path: path.name)
def test_shipped_card_and_results_are_what_release_stage_writes_today(folder, tmp_path, monkeypatch):
    """Cards are generated, never edited: restaging a shipped folder from the results files its card names gives back
    its card and results byte for byte (a card left behind when those results changed fails here)."""
    from bioalbert.hub import release

    card = (folder / "README.md").read_text(encoding="utf-8")
    source = re.search(r"\(`(results/[^`]+?)/?`\)", card)
    assert source, "the card names the results files it was generated from"
    results_dir = Path(source.group(1))
    monkeypatch.chdir(MODELS.parent)  # the card shows the path as given, relative to the checkout
    out = tmp_path / folder.name
    assert release.main(["stage", "--model", str(folder), "--variant", "bioalbert-tiny-pubmed-task", "--out", str(out),
                         "--fp16-weights", "--results-dir", str(results_dir.parent),
                         "--results-name", results_dir.name]) == 0
    assert (out / "README.md").read_text(encoding="utf-8") == card, \
        f"{folder.name}/README.md differs from what release stage writes from {results_dir}: restage the folder"
    for result in sorted((out / "results").glob("*.json")):
        assert result.read_bytes() == (folder / "results" / result.name).read_bytes(), f"{folder}: {result.name}"


def test_shipped_tagger_carries_its_type_table():
    info = json.loads((SHIPPED_NER_DIR / "bioalbert_finetune.json").read_text())
    assert info["corpus_types"]["bc2gm"] == {"Gene": ["Gene", "DNA", "RNA"]}  # what evaluate and demo map with


def test_models_folder_stays_within_its_budget():
    assert sum(path.stat().st_size for path in MODELS.rglob("*") if path.is_file()) <= 40 * MB


def masked_accuracy(model, batch, targets) -> float:
    with torch.no_grad():
        logits = model(**batch).prediction_logits
    masked = targets != -100
    return (logits.argmax(-1)[masked] == targets[masked]).float().mean().item()


def test_persisted_encoder_predicts_masked_pieces_better_than_reinitialised(data_dir):
    tokenizer = AutoTokenizer.from_pretrained(ENCODER)
    model = AutoModelForPreTraining.from_pretrained(ENCODER, dtype=torch.float32).eval()
    # Held out: NCBI-disease test sentences (pretraining saw the benchmarks' training text only).
    sentences, words = [], []
    for line in (data_dir / "bioner" / "ncbi_disease" / "test.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            words.append(line.split("\t")[0])
        elif words:
            sentences.append(words)
            words = []
        if len(sentences) == 64:
            break
    batch = tokenizer(sentences, is_split_into_words=True, padding=True, truncation=True, max_length=128,
                      return_tensors="pt")
    targets = torch.full_like(batch["input_ids"], -100)
    special = torch.tensor([[i in tokenizer.all_special_ids for i in row] for row in batch["input_ids"].tolist()])
    positions = (torch.arange(batch["input_ids"].shape[1]) % 7 == 3) & ~special  # a fixed 1-in-7 of the pieces
    targets[positions] = batch["input_ids"][positions]
    batch["input_ids"] = batch["input_ids"].masked_fill(positions, tokenizer.mask_token_id)

    torch.manual_seed(0)
    reinitialised = AutoModelForPreTraining.from_config(AutoConfig.from_pretrained(ENCODER)).eval()
    pretrained_accuracy = masked_accuracy(model, batch, targets)
    assert pretrained_accuracy > 0.10
    assert pretrained_accuracy > 5 * masked_accuracy(reinitialised, batch, targets)


def test_bioalbert_tag_without_a_model_finds_every_type_with_exact_offsets():
    text = "Mutations in BRCA1 predispose to hereditary breast and ovarian cancer; tamoxifen reduces the risk in mice."
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run([sys.executable, "-m", "bioalbert.cli", "tag", "--lines", "-"], input=text,
                               capture_output=True, text=True, env=environment, timeout=300, check=True)
    entities = json.loads(completed.stdout.splitlines()[0])["entities"]
    for entity in entities:
        assert text[entity["start"]:entity["end"]] == entity["text"]
    found = {entity["text"]: entity["label"] for entity in entities}
    # A gene may come out as Gene or, as JNLPBA annotates a gene in a DNA context, as DNA (docs/research.md).
    assert found.get("BRCA1") in ("Gene", "DNA"), found
    assert found.get("tamoxifen") == "Chemical" and found.get("mice") == "Species", found
    assert "Disease" in found.values(), found


def test_readme_quick_start_shows_what_the_shipped_model_really_prints(monkeypatch):
    from bioalbert.training.report import quickstart_markdown

    monkeypatch.chdir(MODELS.parent)  # the README's path is relative to the checkout
    readme = (MODELS.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- quickstart:begin -->\n", 1)[1].split("\n<!-- quickstart:end -->", 1)[0]
    assert block == quickstart_markdown("models/bioalbert-tiny-ner")
