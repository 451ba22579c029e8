"""`bioalbert release stage` and `push`: a staged folder is a complete Hub model repo (it loads where this package
cannot be imported), its card carries the results file's numbers, and push sends exactly the staged bytes to a
Hub-compatible server (tests/hub_server.py) and fails loudly without touching the folder."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import serve
from huggingface_hub import ModelCard

from bioalbert.hub import isolated, release
from bioalbert.modeling import AUTO_MAP

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hf_test_token_for_the_fake_hub"
SENTENCE = "Germline mutations in BRCA1 cause hereditary breast and ovarian cancer ."
REPO_FILES = {
    ".gitattributes", "README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "configuration_bioalbert.py", "modeling_bioalbert.py",
}


def stage(*args: str) -> int:
    return release.main(["stage", *map(str, args)])


def snapshot(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def staged_pretrained(tmp_path_factory, micro_pretrained_dir) -> Path:
    """The micro pretrained model (random weights, no results) staged for the namespace `testorg`."""
    out = tmp_path_factory.mktemp("release") / "bioalbert-tiny-pubmed"
    assert stage("--model", micro_pretrained_dir, "--variant", "bioalbert-tiny-pubmed", "--out", out,
                 "--org", "testorg", "--results-dir", out.parent / "no-results") == 0
    return out


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory, micro_pretrained_dir) -> tuple[Path, Path]:
    """The micro model fine-tuned by `bioalbert finetune` on 100 NCBI-disease sentences; its results file is real."""
    from bioalbert.training import finetune

    root = tmp_path_factory.mktemp("ner")
    model_dir, results_dir = root / "micro-ner", root / "results"
    finetune.main([
        "--model", str(micro_pretrained_dir), "--dataset", "ncbi_disease", "--output-dir", str(model_dir),
        "--max-train-sentences", "100", "--max-eval-sentences", "20", "--max-test-sentences", "40",
        "--num-train-epochs", "4", "--per-device-train-batch-size", "8", "--learning-rate", "5e-3",
        "--seeds", "13", "--results-dir", str(results_dir), "--model-name", "micro-ner",
        "--eval-strategy", "no", "--save-strategy", "no", "--load-best-model-at-end", "false", "--report-to", "none",
    ])
    return model_dir, results_dir


@pytest.fixture(scope="module")
def staged_ner(tmp_path_factory, ner_model) -> Path:
    model_dir, results_dir = ner_model
    out = tmp_path_factory.mktemp("release") / "bioalbert-tiny-pubmed-ncbi-disease"
    assert stage("--model", model_dir, "--variant", "bioalbert-tiny-pubmed", "--out", out,
                 "--results-dir", results_dir, "--results-name", "micro-ner") == 0
    return out


# --------------------------------------------------------------------------------------------------------- stage


@pytest.mark.slow
def test_staged_ner_folder_is_exactly_a_model_repo(staged_ner, ner_model):
    import bioalbert.modeling

    model_dir, results_dir = ner_model
    assert {path.name for path in staged_ner.iterdir()} == REPO_FILES | {
        "results", "bioalbert_finetune.json", "pipeline_bioalbert.py"}
    # The results file the card was made from travels with the weights.
    assert json.loads((staged_ner / "results" / "ncbi_disease.json").read_text()) == \
        json.loads((results_dir / "micro-ner" / "ncbi_disease.json").read_text())
    config = json.loads((staged_ner / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP
    assert config["custom_pipelines"]["ner"]["impl"] == "pipeline_bioalbert.BioAlbertTokenClassificationPipeline"
    assert (staged_ner / "model.safetensors").read_bytes() == (model_dir / "model.safetensors").read_bytes()
    code_dir = Path(bioalbert.modeling.__file__).parent
    for name in ("configuration_bioalbert.py", "modeling_bioalbert.py", "pipeline_bioalbert.py"):
        assert (staged_ner / name).read_bytes() == (code_dir / name).read_bytes()


def test_fp16_weights_halve_the_file_and_load_back_as_float32_with_the_same_predictions(ner_model, tmp_path):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForTokenClassification

    model_dir, results_dir = ner_model
    out = tmp_path / "bioalbert-tiny-pubmed-ncbi-disease"
    assert stage("--model", model_dir, "--variant", "bioalbert-tiny-pubmed", "--out", out, "--results-dir",
                 results_dir, "--results-name", "micro-ner", "--fp16-weights") == 0
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.float16}
    assert (out / "model.safetensors").stat().st_size < 0.6 * (model_dir / "model.safetensors").stat().st_size
    original = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    shipped = AutoModelForTokenClassification.from_pretrained(out).eval()
    assert shipped.dtype == torch.float32
    input_ids = torch.tensor([[2, 40, 41, 42, 43, 3]])
    with torch.no_grad():
        expected, got = original(input_ids).logits, shipped(input_ids).logits
    assert torch.equal(expected.argmax(-1), got.argmax(-1)) and torch.allclose(expected, got, atol=0.05)


@pytest.mark.slow
def test_card_model_index_parses_back_to_the_results_file(staged_ner, ner_model):
    _, results_dir = ner_model
    result = json.loads((results_dir / "micro-ner" / "ncbi_disease.json").read_text())
    card = ModelCard.load(staged_ner / "README.md")

    assert card.data.pipeline_tag == "token-classification"
    assert card.data.library_name == "transformers" and card.data.license and card.data.language == "en"
    assert card.data.base_model == "bioalbert/bioalbert-tiny-pubmed"
    assert card.data.datasets == ["bigbio/ncbi_disease"] and card.data.widget
    measured = {(r.dataset_config, r.dataset_split, r.metric_type, r.metric_config): r.metric_value
                for r in card.data.eval_results}
    expected = {
        ("ncbi_disease", "test", "f1", "entity"): result["entity"]["f1"],
        ("ncbi_disease", "test", "precision", "entity"): result["entity"]["precision"],
        ("ncbi_disease", "test", "recall", "entity"): result["entity"]["recall"],
        ("ncbi_disease", "test", "f1", "token"): result["token"]["f1"],
        **{("ncbi_disease", "test", "f1", f"entity:{name}"): scores["f1"]
           for name, scores in result["per_type"].items()},
    }
    assert measured == expected
    # The body's table shows the same numbers, and the card says what kind of run this was.
    assert f"{100 * result['token']['f1']:.2f}" in card.text
    assert "tiny model trained on CPU" in card.text and "trust_remote_code=True" in card.text
    assert "10.1186/s12859-022-04688-w" in card.text


@pytest.mark.slow
def test_pretrained_card_shows_fine_tunes_of_that_checkpoint_only(ner_model, micro_pretrained_dir, tmp_path):
    _, results_dir = ner_model
    result = json.loads((results_dir / "micro-ner" / "ncbi_disease.json").read_text())
    args = ["--variant", "bioalbert-tiny-pubmed", "--results-dir", results_dir, "--results-name", "micro-ner"]
    assert stage("--model", micro_pretrained_dir, "--out", tmp_path / "a" / "bioalbert-tiny-pubmed", *args) == 0
    card = ModelCard.load(tmp_path / "a" / "bioalbert-tiny-pubmed" / "README.md")
    f1 = {(r.dataset_config, r.metric_config): r.metric_value for r in card.data.eval_results if r.metric_type == "f1"}
    assert f1[("ncbi_disease", "entity")] == result["entity"]["f1"]
    assert f1[("ncbi_disease", "token")] == result["token"]["f1"]

    # The same results do not describe another checkpoint, even of the same variant.
    other = tmp_path / "other-checkpoint"
    shutil.copytree(micro_pretrained_dir, other)
    assert stage("--model", other, "--out", tmp_path / "b" / "bioalbert-tiny-pubmed", *args) == 0
    card = ModelCard.load(tmp_path / "b" / "bioalbert-tiny-pubmed" / "README.md")
    assert not card.data.eval_results and "Not evaluated yet" in card.text


def test_a_staged_copy_keeps_the_fine_tunes_of_the_run_it_was_staged_from(ner_model, micro_pretrained_dir, tmp_path):
    """models/ ships fp16 copies of pretraining runs; the results of fine-tunes name the run's folder. Restaging the
    copy while that folder still exists must keep those results (the copy carries the run's pretraining record), and
    a run with another record must not get them."""
    _, results_dir = ner_model
    run = tmp_path / "runs" / "segment"
    shutil.copytree(micro_pretrained_dir, run)
    (run / "pretraining_metrics.json").write_text(json.dumps({"variant": "tiny-pubmed", "global_step": 7}))
    results = tmp_path / "results"
    record = json.loads((results_dir / "micro-ner" / "ncbi_disease.json").read_text())
    (results / "probe").mkdir(parents=True)
    (results / "probe" / "ncbi_disease.json").write_text(json.dumps({**record, "base_model": str(run)}))
    args = ["--variant", "bioalbert-tiny-pubmed", "--results-dir", results, "--results-name", "probe", "--fp16-weights"]
    shipped = tmp_path / "models" / "bioalbert-tiny-pubmed"
    assert stage("--model", run, "--out", shipped, *args) == 0
    restaged = tmp_path / "again" / "bioalbert-tiny-pubmed"
    assert stage("--model", shipped, "--out", restaged, *args) == 0
    assert (restaged / "README.md").read_text() == (shipped / "README.md").read_text()
    assert ModelCard.load(restaged / "README.md").data.eval_results

    (run / "pretraining_metrics.json").write_text(json.dumps({"variant": "tiny-pubmed", "global_step": 8}))
    assert stage("--model", shipped, "--out", tmp_path / "third" / "bioalbert-tiny-pubmed", *args) == 0
    assert not ModelCard.load(tmp_path / "third" / "bioalbert-tiny-pubmed" / "README.md").data.eval_results


@pytest.mark.slow
def test_an_encoder_replaced_in_place_loses_the_fine_tunes_of_its_predecessor(micro_pretrained_dir, tmp_path):
    """models/bioalbert-tiny-pubmed-task is replaced in place as pretraining goes on, so the results of fine-tunes
    name the encoder they started from by its pretraining record, and the card of its successor drops them."""
    from bioalbert.training import finetune

    encoder = tmp_path / "models" / "encoder"
    shutil.copytree(micro_pretrained_dir, encoder)
    record = {"variant": "tiny-pubmed", "objective": "mlm-sop", "global_step": 7, "tokens_seen_non_padding": 900}
    (encoder / "pretraining_metrics.json").write_text(json.dumps(record))
    results = tmp_path / "results"
    assert finetune.main([
        "--model", str(encoder), "--dataset", "ncbi_disease", "--output-dir", str(tmp_path / "ner"),
        "--model-name", "probe", "--results-dir", str(results), "--seeds", "1", "--max-train-sentences", "16",
        "--max-eval-sentences", "8", "--max-test-sentences", "8", "--max-seq-length", "32", "--max-steps", "2",
        "--per-device-train-batch-size", "8", "--eval-strategy", "no", "--save-strategy", "no",
        "--disable-tqdm", "true",
    ]) == 0
    written = json.loads((results / "probe" / "ncbi_disease.json").read_text())
    assert written["base_model_pretraining"] == {"objective": "mlm-sop", "variant": "tiny-pubmed", "steps": 7,
                                                 "tokens": 900}
    args = ["--variant", "bioalbert-tiny-pubmed", "--results-dir", results, "--results-name", "probe"]
    assert stage("--model", tmp_path / "ner", "--out", tmp_path / "ner-repo" / "my-ner", *args) == 0
    assert "The encoder it started from had been pretrained 7 steps, 900 tokens in all" in \
        (tmp_path / "ner-repo" / "my-ner" / "README.md").read_text()
    assert stage("--model", encoder, "--out", tmp_path / "a" / "bioalbert-tiny-pubmed", *args) == 0
    assert ModelCard.load(tmp_path / "a" / "bioalbert-tiny-pubmed" / "README.md").data.eval_results

    # Pretraining went on and the folder now holds the encoder after 7 + 5 steps: same path, another encoder.
    (encoder / "pretraining_metrics.json").write_text(json.dumps({**record, "total_steps": 12, "global_step": 5}))
    assert stage("--model", encoder, "--out", tmp_path / "b" / "bioalbert-tiny-pubmed", *args) == 0
    card = ModelCard.load(tmp_path / "b" / "bioalbert-tiny-pubmed" / "README.md")
    assert not card.data.eval_results and "Not evaluated yet" in card.text


def test_card_without_results_says_not_evaluated(staged_pretrained):
    card = ModelCard.load(staged_pretrained / "README.md")
    assert "Not evaluated yet" in card.text
    assert "model-index" not in card.content and not card.data.eval_results
    assert "records no training metadata" in card.text  # the micro model was never pretrained: no claim made
    assert card.data.pipeline_tag == "fill-mask" and "custom_code" in card.data.tags


def pretrained_checkpoint(folder: Path, tokenizer, preset: str, recipe_name: str, **record) -> Path:
    """A randomly initialised checkpoint with the pretraining record a short run of `recipe_name` would write."""
    from bioalbert.training.init_model import init_model
    from bioalbert.training.recipes import get_recipe

    init_model(tokenizer, preset, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    recipe = get_recipe(recipe_name)
    record = {"variant": recipe.name, "recipe": recipe.to_dict(), "trained_on": recipe.trained_on,
              "max_steps": recipe.max_steps, "machine": {"gpu": None, "cpu_count": 2}, **record}
    (folder / "pretraining_metrics.json").write_text(json.dumps(record))
    return folder


def test_release_size_card_states_only_what_the_run_recorded(tmp_path, tokenizer, capsys):
    """A base-size checkpoint staged under bioalbert-base-pubmed: the card copies the run's own record (a short
    CPU run here) and the recipe's honest corpus description, and never calls it PubMed-scale."""
    from bioalbert.training.recipes import get_recipe

    recipe = get_recipe("base-pubmed")
    model_dir = pretrained_checkpoint(tmp_path / "base-short-cpu-run", tokenizer, "base", recipe.name,
                                      global_step=7, tokens_seen_non_padding=12345, train_runtime_s=95.0)
    out = tmp_path / "release" / "bioalbert-base-pubmed"
    assert stage("--model", model_dir, "--variant", "bioalbert-base-pubmed", "--out", out) == 0
    text = ModelCard.load(out / "README.md").text
    assert f"Optimisation steps: 7 of {recipe.max_steps:,} planned." in text
    assert "Tokens seen: 12,345." in text and "CPU only (2 cores)" in text
    assert "trained on CPU only" in text and recipe.trained_on in text
    assert "pretraining_metrics.json" not in {path.name for path in out.iterdir()}


def test_card_tags_the_corpus_the_checkpoint_saw_not_the_repo_name(tmp_path, tokenizer):
    """models/bioalbert-tiny-pubmed-task keeps its repo name while its pretraining widens to PMC text: the card's
    corpus tag and Training section follow the checkpoint's own record, not the name."""
    model_dir = pretrained_checkpoint(tmp_path / "widened", tokenizer, "tiny", "tiny-pubmed-pmc-task",
                                      global_step=5, tokens_seen_non_padding=640)
    out = tmp_path / "release" / "bioalbert-tiny-pubmed-task"
    assert stage("--model", model_dir, "--variant", "bioalbert-tiny-pubmed-task", "--out", out) == 0
    card = ModelCard.load(out / "README.md")
    assert "pubmed-pmc-task" in card.data.tags and "pubmed-task" not in card.data.tags
    assert "Pretraining recipe: `tiny-pubmed-pmc-task`" in card.text and "PMC open access" in card.text


CLEAN_LOAD = """
import json, sys
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
folder = {folder!r}
model = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)  # it reads the config
logits = model(**tokenizer({sentence!r}, return_tensors="pt")).logits
ner = pipeline("ner", model=folder, trust_remote_code=True, aggregation_strategy="first")  # as the card says
entities = ner({sentence!r})
print("RESULT", json.dumps({{
    "module": type(model).__module__, "pipeline_module": type(ner.model).__module__,
    "pipeline_class": f"{{type(ner).__module__}}.{{type(ner).__name__}}",
    "logits": logits.tolist(), "bioalbert_loaded": any(name.startswith("bioalbert") for name in sys.modules),
    "entities": [{{"entity": e["entity_group"], "start": e["start"], "end": e["end"]}} for e in entities],
}}))
"""


def run_clean(code: str, tmp_path: Path) -> dict:
    """Runs `code` where bioalbert is not installed and nothing of this checkout can be imported or read
    (bioalbert.hub.isolated); returns the JSON it printed after "RESULT "."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}  # a fresh remote-code cache
    done = isolated.run_isolated(code, cwd=tmp_path, env=env, timeout=600)  # no stdin: no answer to a code prompt
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Do you wish to run the custom code" not in done.stdout + done.stderr
    return json.loads(done.stdout.split("RESULT ", 1)[1])


CLEAN_FILL_MASK = """
import json
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline
model = AutoModelForMaskedLM.from_pretrained({folder!r}, trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained({folder!r}, trust_remote_code=True)
filled = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=3)("Mutations in the [MASK] gene cause disease.")
print("RESULT", json.dumps({{"module": type(model).__module__, "filled": len(filled)}}))
"""


def test_staged_folder_has_the_users_normal_permissions(staged_pretrained, normal_mode):
    assert oct(staged_pretrained.stat().st_mode & 0o777) == oct(normal_mode)  # not mkdtemp's 0700


def test_staged_pretrained_model_loads_as_its_card_says(staged_pretrained, tmp_path):
    code = CLEAN_FILL_MASK.format(folder=str(staged_pretrained))
    loaded = run_clean(code, tmp_path)
    assert loaded["module"].startswith("transformers_modules.") and loaded["filled"] == 3


@pytest.mark.slow
def test_staged_model_loads_where_bioalbert_cannot_be_imported(staged_ner, ner_model, tmp_path):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    code = CLEAN_LOAD.format(folder=str(staged_ner), sentence=SENTENCE)
    loaded = run_clean(code, tmp_path)
    assert loaded["module"].startswith("transformers_modules.") and not loaded["bioalbert_loaded"]
    assert loaded["pipeline_module"].startswith("transformers_modules.")
    assert loaded["pipeline_class"].startswith("transformers_modules.")
    assert loaded["pipeline_class"].endswith("pipeline_bioalbert.BioAlbertTokenClassificationPipeline")

    # Same numbers as this package's own classes on the fine-tuned folder.
    model_dir, _ = ner_model
    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.no_grad():
        logits = model(**tokenizer(SENTENCE, return_tensors="pt")).logits
    torch.testing.assert_close(torch.tensor(loaded["logits"]), logits, atol=1e-5, rtol=1e-5)
    expected = pipeline("ner", model=str(model_dir), trust_remote_code=True, aggregation_strategy="first")(SENTENCE)
    assert [(e["entity"], e["start"], e["end"]) for e in loaded["entities"]] == [
        (e["entity_group"], e["start"], e["end"]) for e in expected
    ]


def test_stage_errors_name_the_missing_file(tmp_path, micro_pretrained_dir, capsys):
    assert stage("--model", tmp_path / "nowhere", "--variant", "bioalbert-tiny-pubmed", "--out", tmp_path / "o") == 2
    assert f"Model folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    for missing in ("model.safetensors", "tokenizer.json", "config.json"):
        model = tmp_path / f"without-{missing}"
        shutil.copytree(micro_pretrained_dir, model)
        (model / missing).unlink()
        assert stage("--model", model, "--variant", "bioalbert-tiny-pubmed", "--out", tmp_path / "o") == 2
        assert str(model / missing) in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_stage_refuses_a_model_smaller_than_its_release_name(tmp_path, micro_pretrained_dir, capsys):
    assert stage("--model", micro_pretrained_dir, "--variant", "bioalbert-base-pubmed", "--out", tmp_path / "o") == 2
    assert "hidden_size is 64, but bioalbert-base-pubmed is a base model" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_stage_keeps_an_existing_folder_without_overwrite(staged_pretrained, micro_pretrained_dir, capsys):
    before = snapshot(staged_pretrained)
    assert stage("--model", micro_pretrained_dir, "--variant", "bioalbert-tiny-pubmed", "--out", staged_pretrained) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert snapshot(staged_pretrained) == before


# ---------------------------------------------------------------------------------------------------------- push


@pytest.fixture
def hub():
    hub, server = serve(TOKEN)
    yield hub
    server.shutdown()
    server.server_close()


def push(hub, *args, token: str | None = TOKEN, home: Path) -> subprocess.CompletedProcess:
    """`bioalbert release push` in a subprocess: HF_ENDPOINT is read when huggingface_hub is imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home))  # HF_HOME: no token saved by a login on this machine
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "bioalbert.cli", "release", "push", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_push_runs_without_importing_torch():
    """`release push` only uploads files: importing the release module loads neither torch nor transformers (seconds
    on every push), and its file list names the pipeline file that modeling copies into NER folders."""
    from bioalbert.modeling.modeling_bioalbert import PIPELINE_FILE

    code = "import sys, bioalbert.hub.release; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    assert release.NER_PIPELINE_FILE == PIPELINE_FILE and release.is_repo_file(PIPELINE_FILE)


def test_push_sends_exactly_the_staged_files(hub, staged_pretrained, tmp_path):
    repo_id = f"testorg/{staged_pretrained.name}"
    done = push(hub, "--folder", staged_pretrained, "--repo-id", repo_id, "--private", home=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert hub.repos == {("model", repo_id): {"private": True, "sdk": None}}
    sent = hub.files[("model", repo_id)]
    assert sent == {path.name: path.read_bytes() for path in staged_pretrained.iterdir()}
    assert set(sent) == REPO_FILES
    assert len(hub.commits) == 1 and hub.unexpected == []
    assert hub.requests[0] == ("POST", "/api/repos/create")
    assert "revision=" in done.stdout  # tells the user which commit to pin


def test_push_failure_is_an_error_and_leaves_the_folder_intact(hub, staged_pretrained, tmp_path):
    before = snapshot(staged_pretrained)
    hub.fail_commits = True
    done = push(hub, "--folder", staged_pretrained, "--repo-id", f"testorg/{staged_pretrained.name}", home=tmp_path)
    assert done.returncode == 1
    assert "failed" in done.stderr and "500" in done.stderr and "is unchanged" in done.stderr
    assert hub.commit_attempts == 6  # huggingface_hub retried 5 times before giving up
    assert hub.files[("model", f"testorg/{staged_pretrained.name}")] == {}
    assert snapshot(staged_pretrained) == before


def test_push_without_a_token_sends_nothing(hub, staged_pretrained, tmp_path):
    done = push(hub, "--folder", staged_pretrained, "--repo-id", f"testorg/{staged_pretrained.name}", token=None,
                home=tmp_path)
    assert done.returncode == 2 and "No Hugging Face token" in done.stderr
    assert hub.requests == []


def test_dry_run_prints_every_file_and_sends_nothing(hub, staged_pretrained, tmp_path):
    done = push(hub, "--folder", staged_pretrained, "--repo-id", f"testorg/{staged_pretrained.name}", "--dry-run",
                home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert hub.requests == []
    assert f"Would create model repo testorg/{staged_pretrained.name}" in done.stdout
    for path in staged_pretrained.iterdir():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"{path.stat().st_size:,} bytes  sha256 {digest}" in done.stdout


def test_push_refuses_a_folder_that_is_not_staged(hub, staged_pretrained, tmp_path):
    folder = tmp_path / "with-optimizer"
    shutil.copytree(staged_pretrained, folder)
    (folder / "optimizer.pt").write_bytes(b"not for the Hub")
    done = push(hub, "--folder", folder, "--repo-id", f"testorg/{staged_pretrained.name}", home=tmp_path)
    assert done.returncode == 2 and "optimizer.pt" in done.stderr
    # A card staged for another namespace would point its loading code at the wrong repo.
    done = push(hub, "--folder", staged_pretrained, "--repo-id", f"other/{staged_pretrained.name}", home=tmp_path)
    assert done.returncode == 2 and "re-stage with --org" in done.stderr
    assert hub.requests == []


def test_push_a_space(hub, tmp_path):
    space = tmp_path / "space"
    space.mkdir()
    (space / "README.md").write_text("---\ntitle: BioALBERT NER\nsdk: gradio\napp_file: app.py\n---\n\n# Demo\n")
    (space / "app.py").write_text("import gradio as gr\n")
    done = push(hub, "--folder", space, "--repo-id", "testorg/bioalbert-demo", "--repo-type", "space", home=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert hub.repos[("space", "testorg/bioalbert-demo")]["sdk"] == "gradio"
    assert hub.files[("space", "testorg/bioalbert-demo")] == {
        "README.md": (space / "README.md").read_bytes(), "app.py": (space / "app.py").read_bytes()
    }


def test_all_types_card_gives_time_per_seed_and_the_loss():
    from bioalbert.hub.cards import build_card, get_variant

    runs = [{"seed": seed, "entity_f1": 0.7, "train_wall_time_s": seconds} for seed, seconds in ((13, 840), (42, 960))]
    record = {"model": "joint", "dataset": "ncbi_disease", "split": "test", "seeds": [13, 42], "runs": runs,
              "entity": {"f1": 0.7, "precision": 0.7, "recall": 0.7, "f1_std": 0.0}, "token": {"f1": 0.8},
              "training": {"epochs": 2, "train_wall_time_s": 1800, "loss": "partial-label marginal likelihood"}}
    config = {"id2label": {"0": "O", "1": "B-Disease", "2": "I-Disease"}}
    card = str(build_card(kind="ner", variant=get_variant("bioalbert-tiny-pubmed-task"), repo_id="bioalbert/joint",
                          config=config, records=[record], facts={}, base_model="bioalbert/bioalbert-tiny-pubmed-task",
                          dataset="all-types"))
    assert "2 epochs; 15.0 min of training per seed, seeds 13, 42" in card  # not the 30 minutes of both seeds
    assert "Loss: partial-label marginal likelihood." in card
    assert "on the training splits of the BioNER benchmark corpora (NCBI-disease" in card and "the the" not in card
    assert "untied" not in card and "each benchmark's own tags" not in card  # neither recorded: neither claimed
    record.update(decoding="iob2-viterbi-corpus-tags", training={**record["training"], "num_hidden_groups": 3})
    card = str(build_card(kind="ner", variant=get_variant("bioalbert-tiny-pubmed-task"), repo_id="bioalbert/joint",
                          config=config, records=[record], facts={}, base_model="bioalbert/bioalbert-tiny-pubmed-task",
                          dataset="all-types"))
    assert "shared layer group untied into 3 copies" in card and "Scored on each benchmark's own tags" in card
    assert "The weights here are seed" not in card  # which seed's weights: said only when known
    card = str(build_card(kind="ner", variant=get_variant("bioalbert-tiny-pubmed-task"), repo_id="bioalbert/joint",
                          config=config, records=[record], facts={}, base_model="bioalbert/bioalbert-tiny-pubmed-task",
                          dataset="all-types", weights_seed=13))
    assert "The weights here are seed 13's; the results below are the mean over the seeds." in card


def test_stage_seed_takes_that_seeds_weights_and_keeps_the_runs_results(ner_model, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    model_dir, results_dir = ner_model
    run = tmp_path / "micro-ner"  # the run folder must stay where its results file says it was measured
    shutil.copytree(model_dir, run)
    seed_weights = load_file(run / "seed-13" / "model.safetensors")
    save_file({**seed_weights, "classifier.bias": seed_weights["classifier.bias"] + 1.0},  # the root: another seed
              run / "model.safetensors", metadata={"format": "pt"})
    info = json.loads((run / "bioalbert_finetune.json").read_text())
    (run / "bioalbert_finetune.json").write_text(json.dumps({**info, "best_seed": 42}))  # the root's own seed
    results = tmp_path / "results"
    shutil.copytree(results_dir, results)
    for path in (results / "micro-ner").glob("*.json"):
        path.write_text(path.read_text().replace(str(model_dir), str(run)))

    out = tmp_path / "staged"
    assert stage("--model", run, "--seed", "13", "--variant", "bioalbert-tiny-pubmed", "--out", out,
                 "--results-dir", results, "--results-name", "micro-ner") == 0
    staged = load_file(out / "model.safetensors")
    assert torch.equal(staged["classifier.bias"], seed_weights["classifier.bias"])
    assert json.loads((out / "bioalbert_finetune.json").read_text())["best_seed"] == 13  # evaluate/demo read it
    assert (out / "results" / "ncbi_disease.json").is_file()  # the run's results stay on the card
    assert stage("--model", run, "--seed", "7", "--variant", "bioalbert-tiny-pubmed", "--out", tmp_path / "none",
                 "--results-dir", results, "--results-name", "micro-ner") == 2
    assert "seed-7" in capsys.readouterr().err
