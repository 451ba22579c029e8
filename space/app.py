"""BioALBERT BioNER demo: paste an abstract, see diseases, chemicals, genes and species highlighted.

    bioalbert space --model runs/ner-ncbi --model runs/ner-bc5cdr-chem      # from a checkout, on 127.0.0.1
    BIOALBERT_SPACE_MODEL_DIR=runs python space/app.py                      # every fine-tuned folder in runs/

Which models the chooser offers, first match wins:
1. `build_demo(models=..., model_dir=...)` (what `bioalbert space --model/--model-dir` passes);
2. env `BIOALBERT_SPACE_MODELS` (comma-separated folders or Hub ids) and/or `BIOALBERT_SPACE_MODEL_DIR` (every
   direct subfolder whose config.json names its labels in id2label);
3. `models.txt` beside this file, one folder (relative to this file) or Hub id per line: what
   `bioalbert space --stage` writes into a Space folder.
Several selected models are merged by `bioalbert.inference.Tagger` (overlaps go to the higher score), exactly as
`bioalbert tag --model A --model B` does. All tagging (words, windows over long texts, exact character offsets) is
the project's tagging API; this file is only the page around it.

On a Hugging Face Space the bioalbert package is vendored beside this file by `bioalbert space --stage`, so
`import bioalbert` finds it there; in a checkout it finds the installed package.
"""

import csv
import functools
import json
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from bioalbert.inference import Entity, Tagger

HERE = Path(__file__).resolve().parent
MAX_CHARS = 50_000  # about 15 abstracts; a longer text is refused with a message, not tagged for minutes
CONCURRENCY = 2  # tagging requests run at once; the rest wait in the queue (the models share the CPU)
QUEUE_SIZE = 64  # waiting requests beyond this are told the queue is full instead of waiting forever
DOWNLOAD_MAX_AGE_S = 3600  # download files older than this are deleted on the next request
LOG = logging.getLogger("bioalbert.space")

# One colour per entity type of the benchmarks; types not listed here take PALETTE colours in order.
TYPE_COLOURS = {
    "disease": "#f87171", "chemical": "#4ade80", "gene": "#60a5fa", "species": "#fbbf24",
    "protein": "#818cf8", "dna": "#22d3ee", "rna": "#2dd4bf", "cell_line": "#f472b6", "cell_type": "#c084fc",
}
PALETTE = ["#fb923c", "#a3e635", "#e879f9", "#94a3b8", "#facc15", "#38bdf8"]
TABLE_COLUMNS = ["text", "type", "start", "end", "score", "model"]

EXAMPLES = [
    "Germline mutations in BRCA1 and BRCA2 confer a high lifetime risk of breast and ovarian cancer. We treated 48 "
    "women carrying pathogenic BRCA1 variants with the PARP inhibitor olaparib after platinum-based chemotherapy with "
    "carboplatin. Tumours lacking BRCA1 protein were more sensitive to olaparib, and in Brca1-deficient mice olaparib "
    "delayed the onset of mammary carcinoma. Anaemia and neutropenia were the most frequent adverse events. These "
    "findings support PARP inhibition as maintenance therapy in patients with hereditary ovarian cancer.",
    "Cisplatin-induced nephrotoxicity limits the dose of this widely used anticancer drug. In male Wistar rats, a "
    "single intraperitoneal injection of cisplatin (7 mg/kg) raised serum creatinine and blood urea nitrogen and "
    "caused acute tubular necrosis. Pretreatment with N-acetylcysteine reduced lipid peroxidation, restored "
    "glutathione levels and lowered the renal expression of KIM-1 and TNF-alpha. N-acetylcysteine may therefore "
    "protect against acute kidney injury in patients receiving cisplatin.",
    "Mutations in LRRK2 are the most common cause of familial Parkinson's disease. We compared the kinase activity "
    "of the G2019S variant in fibroblasts from patients and in transgenic Drosophila melanogaster. The mutant kinase "
    "increased the phosphorylation of Rab10 and the aggregation of alpha-synuclein, and flies expressing it lost "
    "dopaminergic neurons. Treatment with levodopa improved climbing behaviour but did not prevent "
    "neurodegeneration, whereas the LRRK2 inhibitor MLi-2 did.",
    "Methicillin-resistant Staphylococcus aureus (MRSA) bacteraemia carries a high mortality in haemodialysis "
    "patients. Of 112 isolates, 37 carried the mecA gene and 4 showed reduced susceptibility to vancomycin. "
    "Co-infection with Escherichia coli or Pseudomonas aeruginosa was associated with septic shock and "
    "endocarditis. Daptomycin combined with ceftaroline cleared the bacteraemia in most patients with persistent "
    "infection.",
    "Duchenne muscular dystrophy is caused by mutations in the DMD gene that abolish dystrophin. In mdx mice, daily "
    "prednisolone improved grip strength but caused weight gain and osteoporosis, whereas the dissociative steroid "
    "vamorolone preserved muscle function without these side effects. Serum creatine kinase fell in both groups. "
    "Vamorolone is now being tested in boys with Duchenne muscular dystrophy.",
]


# ----------------------------------------------------------------------------------------------- model discovery


def is_ner_folder(folder: Path) -> bool:
    """A folder holding a fine-tuned token-classification model: config.json with named labels, and weights."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        return False
    try:
        id2label = json.loads(config_path.read_text(encoding="utf-8")).get("id2label") or {}
    except (json.JSONDecodeError, OSError):
        return False
    named = any(not str(label).startswith("LABEL_") for label in id2label.values())
    weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    return named and weights


def discover_models(models: list[str] | None = None, model_dir: str | None = None) -> dict[str, str]:
    """{name shown in the chooser: folder or Hub id}, from the arguments, else the environment, else models.txt."""
    entries, base = list(models or []), Path.cwd()
    if not entries and not model_dir:
        entries = [item.strip() for item in os.environ.get("BIOALBERT_SPACE_MODELS", "").split(",") if item.strip()]
        model_dir = os.environ.get("BIOALBERT_SPACE_MODEL_DIR") or None
    if model_dir:
        folder = Path(model_dir).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"Model folder not found: {folder} (BIOALBERT_SPACE_MODEL_DIR / --model-dir)")
        entries += [str(sub) for sub in sorted(folder.iterdir()) if sub.is_dir() and is_ner_folder(sub)]
    if not entries and (HERE / "models.txt").is_file():
        lines = (HERE / "models.txt").read_text(encoding="utf-8").splitlines()
        entries, base = [line.strip() for line in lines if line.strip() and not line.startswith("#")], HERE
    found: dict[str, str] = {}
    for entry in entries:
        local = (base / entry).expanduser()
        path = str(local) if local.exists() else entry  # a Hub id otherwise (the tagging API says if it is neither)
        name = local.name if local.exists() else entry
        found[name if name not in found else entry] = path
    return found


def describe_model(path: str, config) -> str:
    """"tiny BioALBERT (2 layers, hidden 64), fine-tuned on ncbi_disease": size and training data, where known."""
    from bioalbert.modeling import PRESETS

    sizes = {key: getattr(config, key, None) for key in next(iter(PRESETS.values()))}
    preset = next((name for name, preset in PRESETS.items() if preset == sizes), "custom-size")
    text = f"{preset} BioALBERT ({config.num_hidden_layers} layers, hidden {config.hidden_size})"
    info_path = Path(path) / "bioalbert_finetune.json"  # written by `bioalbert finetune`
    if info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        text += f", fine-tuned on {info.get('dataset', '?')} from {Path(str(info.get('base_model', '?'))).name}"
    return text


def type_colours(labels: list[str]) -> dict[str, str]:
    colours, spare = {}, iter(PALETTE * (len(labels) // len(PALETTE) + 1))
    for label in labels:
        colours[label] = TYPE_COLOURS.get(label.lower()) or next(spare)
    return colours


@functools.lru_cache(maxsize=16)
def get_tagger(paths: tuple[str, ...]) -> Tagger:
    """One Tagger per model selection; the tagging API itself caches each loaded model across selections."""
    return Tagger(list(paths), batch_size=16)


# --------------------------------------------------------------------------------------------------------- tagging


class InputProblem(ValueError):
    """Input the page explains to the user (shown as a message, never as a stack trace)."""


def check_input(text: str | None, chosen, models: dict[str, str], max_chars: int) -> list[str]:
    """The chosen model names, after checking the input; raises InputProblem with a message for the user."""
    if text is None or not text.strip():
        raise InputProblem("The text box is empty: paste an abstract, or click one of the examples below it.")
    if len(text) > max_chars:
        raise InputProblem(
            f"The text has {len(text):,} characters; this demo tags at most {max_chars:,} at a time. "
            "Tag a shorter part, or tag whole documents with `bioalbert tag` on your own machine."
        )
    chosen = [chosen] if isinstance(chosen, str) else list(chosen or [])
    if not chosen:
        raise InputProblem("No model chosen: pick at least one model in the chooser.")
    unknown = [name for name in chosen if name not in models]
    if unknown:
        raise InputProblem(f"Unknown model {', '.join(map(repr, unknown))}. Available: {', '.join(models)}.")
    return list(dict.fromkeys(chosen))  # each model once, in the order chosen (the merge's tie-break order)


def write_downloads(text: str, names: list[str], entities: list[Entity], folder: Path) -> list[str]:
    """entities-<id>.json ({"text", "models", "entities"}; offsets index "text") and entities-<id>.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("entities-*"):  # files from earlier requests, long since served
        if now - old.stat().st_mtime > DOWNLOAD_MAX_AGE_S:
            old.unlink(missing_ok=True)
    stem = folder / f"entities-{uuid.uuid4().hex[:12]}"
    records = [entity.to_dict() for entity in entities]
    stem.with_suffix(".json").write_text(
        json.dumps({"text": text, "models": names, "entities": records}, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    with stem.with_suffix(".csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TABLE_COLUMNS)
        for entity in entities:
            writer.writerow([entity.text, entity.label, entity.start, entity.end, entity.score, entity.model])
    return [str(stem.with_suffix(".json")), str(stem.with_suffix(".csv"))]


def entity_table(rows: list[list]):
    import pandas as pd  # a gradio dependency; a DataFrame keeps the column names even when there are no rows

    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# ------------------------------------------------------------------------------------------------------------ page


def build_demo(
    models: list[str] | None = None,
    model_dir: str | None = None,
    max_chars: int = MAX_CHARS,
    concurrency_limit: int = CONCURRENCY,
    queue_size: int = QUEUE_SIZE,
) -> gr.Blocks:
    """The demo page with its queue set up; call `.launch()` on it (see `launch` below). Loads every model now,
    so that a model that cannot be loaded is reported at start-up and the first visitor does not wait."""
    available = discover_models(models, model_dir)
    if not available:
        raise ValueError(
            "No models to serve: pass --model/--model-dir, set BIOALBERT_SPACE_MODELS (comma-separated folders or "
            "Hub ids) or BIOALBERT_SPACE_MODEL_DIR (a folder of fine-tuned model folders), or add models.txt."
        )
    descriptions, labels = {}, set()
    for name, path in available.items():
        tagger = get_tagger((path,))  # raises FileNotFoundError / ValueError naming the folder or id
        descriptions[name] = describe_model(path, tagger.models[0][1].config)
        labels.update(tagger.labels)
        LOG.info("Loaded %s from %s: %s, types %s", name, path, descriptions[name], tagger.labels)
    colours = type_colours(sorted(labels))
    download_dir = Path(tempfile.gettempdir()) / f"bioalbert-space-{os.getpid()}"

    def tag(text: str, chosen: list[str]):
        """-> highlighted text, entity table, [json, csv] downloads, note (model, variant, time or a message)."""
        try:
            names = check_input(text, chosen, available, max_chars)
        except InputProblem as problem:
            gr.Warning(str(problem))
            return None, entity_table([]), None, f"⚠️ {problem}"
        try:
            paths = tuple(available[name] for name in names)
            started = time.perf_counter()
            entities = get_tagger(paths).tag([text])[0]
            seconds = time.perf_counter() - started
            files = write_downloads(text, [available[name] for name in names], entities, download_dir)
        except Exception:  # the log keeps the traceback; the page gets one sentence
            LOG.exception("Tagging failed (%d characters, models %s)", len(text), names)
            message = "Tagging failed on the server; the error is in the server log. Try again or another model."
            gr.Warning(message)
            return None, entity_table([]), None, f"⚠️ {message}"
        LOG.info("Tagged %d characters with %s: %d entities in %.3f s", len(text), names, len(entities), seconds)
        highlighted = {"text": text, "entities": [{"entity": e.label, "start": e.start, "end": e.end} for e in entities]}
        by_path = {path: name for name, path in available.items()}
        table = entity_table([[e.text, e.label, e.start, e.end, e.score, by_path.get(e.model, e.model)] for e in entities])
        merged = " (merged: overlapping mentions go to the higher score)" if len(names) > 1 else ""
        note = "\n".join(
            [f"**{len(entities)} entities** in {len(text):,} characters, tagged in **{seconds:.2f} s**{merged}."]
            + [f"- `{name}`: {descriptions[name]}" for name in names]
        )
        return highlighted, table, files, note

    # delete_cache: gradio's copies of the download files go after an hour, checked every 30 minutes.
    with gr.Blocks(title="BioALBERT: biomedical named entities", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            "# BioALBERT biomedical entity tagger\n"
            "Paste an abstract (up to {:,} characters) and press **Tag entities**. Each model tags the entity "
            "types it was fine-tuned on; choose several to merge them.".format(max_chars)
        )
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(value=EXAMPLES[0], lines=9, max_lines=30, label="Text", elem_id="input-text")
            with gr.Column(scale=1):
                chooser = gr.Dropdown(
                    choices=[(f"{name} ({', '.join(get_tagger((path,)).labels)})", name) for name, path in available.items()],
                    value=list(available), multiselect=True, allow_custom_value=True,  # unknown names get a message
                    label="Models", info="Several models are merged into one result.", elem_id="model-chooser",
                )
                submit = gr.Button("Tag entities", variant="primary", elem_id="tag-button")
        gr.Examples(examples=[[example] for example in EXAMPLES], inputs=[text], cache_examples=False, label="Examples")
        highlighted = gr.HighlightedText(
            label="Entities", color_map=colours, show_legend=True, combine_adjacent=False, elem_id="highlighted"
        )
        note = gr.Markdown(elem_id="note")
        table = gr.Dataframe(
            headers=TABLE_COLUMNS, datatype=["str", "str", "number", "number", "number", "str"],
            interactive=False, label="Entity table (start/end: character offsets into the text)", elem_id="entity-table",
        )
        downloads = gr.File(label="Download (JSON, CSV)", file_count="multiple", interactive=False, elem_id="downloads")
        gr.Markdown(
            "Entity types and colours: "
            + " ".join(f"<span style='background:{colour};padding:0 6px;border-radius:4px'>{label}</span>" for label, colour in colours.items())
        )
        outputs = [highlighted, table, downloads, note]
        submit.click(tag, inputs=[text, chooser], outputs=outputs, api_name="tag")
        text.submit(tag, inputs=[text, chooser], outputs=outputs, api_name=False)
    return demo.queue(default_concurrency_limit=concurrency_limit, max_size=queue_size)


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs):
    """Starts the server: 127.0.0.1 unless told otherwise (a Space sets GRADIO_SERVER_NAME=0.0.0.0 itself)."""
    host = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    return demo.launch(server_name=host, server_port=port, show_error=False, footer_links=["api"], **kwargs)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(build_demo())
