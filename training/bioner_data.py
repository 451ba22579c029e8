"""BioNER data: the standard benchmarks, any CoNLL/TSV files, or a Hub dataset, as a checked `DatasetDict`.

    load_bioner("ncbi_disease")                                  # <data-dir>/bioner/ncbi_disease/{train,devel,test}.tsv
    load_bioner("path/to/folder")                                # {train,devel|dev|validation,test}.{tsv,txt,conll,iob}
    load_bioner(None, train_file="a.tsv", validation_file="b.tsv")
    load_bioner("ncbi/ncbi_disease")                             # a Hub dataset with `tokens`/`ner_tags` (online only)

File format: one `token<TAB>tag` per line, IOB2 tags (`O`, `B-Type`, `I-Type`), a blank line between sentences;
`-DOCSTART-` lines (CoNLL document markers) are skipped. Every split comes back with the features
`tokens: List(string)` and `ner_tags: List(ClassLabel)`, and the splits are named `train`, `validation`, `test`.

The label set is `O` then `B-`/`I-` of every entity type found in any split, types sorted by name: the same data
always gives the same label ids, and a type seen only as `B-` still gets its `I-` label so a model can predict it.

Malformed input raises `BioNERFormatError` naming the file and line: a line without exactly 2 TAB-separated
fields, an empty token, an illegal tag, an `I-X` that does not continue a `B-X`/`I-X` (unless `repair_iob=True`,
which rewrites it as `B-X`, as conlleval reads it), or an empty split.
"""

import logging
import os
import re
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from bioalbert.ner.corpus_types import iob2_labels

from .datadir import resolve_data_dir

logger = logging.getLogger(__name__)

BENCHMARKS = (
    "ncbi_disease",
    "bc5cdr_disease",
    "bc5cdr_chem",
    "bc5cdr",
    "bc2gm",
    "jnlpba",
    "linnaeus",
    "s800",
    "bc4chemd",
)
# Hub copies of some benchmarks with `tokens`/`ner_tags` (ClassLabel) columns, for users without the local files:
# `--dataset ncbi/ncbi_disease`. Second item: the entity type given to bare `B`/`I` tags (those copies do not name
# the type). Their splits and tokenisation may differ from the local files, so results on them are not comparable
# to results on the local files. Script-only repos are read from their `refs/convert/parquet` branch (datasets 4+
# no longer runs loading scripts). Not checked from this offline machine: the Hub was unreachable here.
HUB_DATASETS = {
    "ncbi_disease": ("ncbi/ncbi_disease", None),
    "bc2gm": ("spyysalo/bc2gm_corpus", None),
    "linnaeus": ("linnaeus", "Species"),
    "s800": ("spyysalo/species_800", "Species"),
}
SPLIT_FILES = {"train": ("train",), "validation": ("devel", "dev", "validation", "valid"), "test": ("test",)}
EXTENSIONS = (".tsv", ".txt", ".conll", ".iob", ".iob2")
TAG_PATTERN = re.compile(r"^(O|[BI]-\S+)$")


class BioNERFormatError(ValueError):
    """Malformed BioNER input; the message names the file and line."""


def read_conll(path: str | os.PathLike, repair_iob: bool = False) -> list[dict]:
    """Reads one `token<TAB>tag` file into `[{"tokens": [...], "ner_tags": [...]}]`, checking every line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sentences, tokens, tags, repaired = [], [], [], 0

    def end_sentence():
        if tokens:
            sentences.append({"tokens": list(tokens), "ner_tags": list(tags)})
        tokens.clear()
        tags.clear()

    data = path.read_bytes()
    try:
        data.decode("utf-8")  # first, so that a wrong encoding is named by line, not as a codec error mid-file
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BioNERFormatError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); convert it first, e.g. "
            "`iconv -f latin1 -t utf-8`"
        ) from error
    with open(path, encoding="utf-8", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                end_sentence()
                continue
            if line.startswith("-DOCSTART-"):
                end_sentence()
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise BioNERFormatError(
                    f"{path}:{number}: expected 2 TAB-separated fields (token, tag), found {len(fields)}: {line!r}"
                )
            token, tag = fields[0].strip(), fields[1].strip()
            if not token:
                raise BioNERFormatError(f"{path}:{number}: empty token")
            if not TAG_PATTERN.match(tag):
                raise BioNERFormatError(f"{path}:{number}: illegal tag {tag!r} (expected O, B-<type> or I-<type>)")
            if tag.startswith("I-"):
                previous = tags[-1] if tags else "O"
                if previous[2:] != tag[2:]:  # after O, at a sentence start, or after another type
                    if not repair_iob:
                        raise BioNERFormatError(
                            f"{path}:{number}: {tag} follows {previous!r}, which is not IOB2 (an entity must start "
                            f"with B-{tag[2:]}); pass --repair-iob to read it as B-{tag[2:]}"
                        )
                    tag, repaired = "B-" + tag[2:], repaired + 1
            tokens.append(token)
            tags.append(tag)
    end_sentence()
    if repaired:
        logger.warning("%s: repaired %d I- tags that started an entity into B- tags", path, repaired)
    if not sentences:
        raise BioNERFormatError(f"{path}: empty split (no sentences)")
    return sentences


def first_sentences(raw: DatasetDict, limits: dict[str, int | None]) -> DatasetDict:
    """Each split of `raw` cut to its first `limits[split]` sentences (None: all)."""
    for split, limit in limits.items():
        if split in raw and limit is not None:
            raw[split] = raw[split].select(range(min(limit, len(raw[split]))))
    return raw


def label_list(tag_sets) -> list[str]:
    """`O`, then `B-`/`I-` for every entity type in any of the tag sets, types in sorted order."""
    return iob2_labels({tag[2:] for tags in tag_sets for tag in tags if tag != "O"})


def to_dataset_dict(splits: dict[str, list[dict]], labels: list[str] | None = None) -> DatasetDict:
    """Builds the `DatasetDict` with ClassLabel tags; `labels` defaults to the union over splits."""
    if labels is None:
        labels = label_list({tag for sentence in sentences for tag in sentence["ner_tags"]} for sentences in splits.values())
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=labels))})
    return DatasetDict(
        {name: Dataset.from_list(sentences, features=features) for name, sentences in splits.items()}
    )


def find_split_file(folder: Path, split: str) -> Path | None:
    for stem in SPLIT_FILES[split]:
        for extension in EXTENSIONS:
            if (folder / f"{stem}{extension}").is_file():
                return folder / f"{stem}{extension}"
    return None


def read_folder(folder: Path, repair_iob: bool, required=("train", "validation", "test")) -> dict[str, list[dict]]:
    splits = {}
    for split in SPLIT_FILES:
        path = find_split_file(folder, split)
        if path is None:
            if split in required:
                names = ", ".join(f"{stem}{{{','.join(EXTENSIONS)}}}" for stem in SPLIT_FILES[split])
                raise FileNotFoundError(f"{folder}: no {split} file (looked for {names})")
            continue
        splits[split] = read_conll(path, repair_iob)
    if not splits:
        raise FileNotFoundError(f"{folder}: no train/devel/test files found")
    return splits


def read_hub(dataset_id: str, repair_iob: bool) -> dict[str, list[dict]]:
    """Reads a Hub dataset with `tokens` and `ner_tags` (ClassLabel) columns; tags are re-checked like files."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise ConnectionError(
            f"{dataset_id!r} is not a known benchmark name or a local path, and the Hub is off (HF_HUB_OFFLINE=1). "
            f"Known benchmarks: {', '.join(BENCHMARKS)}."
        )
    from datasets import load_dataset

    try:
        hub = load_dataset(dataset_id)
    except RuntimeError as error:  # "Dataset scripts are no longer supported": use the Hub's parquet export
        if "script" not in str(error):
            raise
        hub = load_dataset(dataset_id, revision="refs/convert/parquet")
    bare_type = next((kind for hub_id, kind in HUB_DATASETS.values() if hub_id == dataset_id), None)
    renames = {"train": "train", "validation": "validation", "dev": "validation", "devel": "validation", "test": "test"}
    splits = {}
    for hub_split, dataset in hub.items():
        if hub_split not in renames:
            continue
        if not {"tokens", "ner_tags"} <= set(dataset.column_names):
            raise BioNERFormatError(f"{dataset_id} [{hub_split}]: needs columns tokens and ner_tags, has {dataset.column_names}")
        tag_feature = dataset.features["ner_tags"].feature
        if not isinstance(tag_feature, ClassLabel):
            raise BioNERFormatError(f"{dataset_id} [{hub_split}]: ner_tags must be a ClassLabel sequence (tag names)")
        sentences = []
        for index, row in enumerate(dataset):
            tags = [tag_feature.int2str(tag) for tag in row["ner_tags"]]
            if bare_type:
                tags = [f"{tag}-{bare_type}" if tag in ("B", "I") else tag for tag in tags]
            for position, tag in enumerate(tags):
                if not TAG_PATTERN.match(tag):
                    raise BioNERFormatError(f"{dataset_id} [{hub_split}] row {index}: illegal tag {tag!r}")
                previous = tags[position - 1] if position else "O"
                if tag.startswith("I-") and previous[2:] != tag[2:]:
                    if not repair_iob:
                        raise BioNERFormatError(
                            f"{dataset_id} [{hub_split}] row {index}, token {position}: {tag} follows {previous!r} "
                            f"(not IOB2); pass --repair-iob to read it as B-{tag[2:]}"
                        )
                    tags[position] = "B-" + tag[2:]
            if row["tokens"]:
                sentences.append({"tokens": row["tokens"], "ner_tags": tags})
        if not sentences:
            raise BioNERFormatError(f"{dataset_id} [{hub_split}]: empty split (no sentences)")
        splits[renames[hub_split]] = sentences
    return splits


def load_bioner(
    dataset: str | None,
    data_dir: str | os.PathLike | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    repair_iob: bool = False,
) -> DatasetDict:
    """Loads a benchmark by name, a folder, single files, or a Hub dataset id (see the module docstring).

    Explicit `*_file` arguments replace the corresponding splits of `dataset` (or are the only source when
    `dataset` is None).
    """
    splits: dict[str, list[dict]] = {}
    if dataset in BENCHMARKS:
        folder = resolve_data_dir(data_dir) / "bioner" / dataset
        if not folder.is_dir():
            hint = f" or use its Hub copy: --dataset {HUB_DATASETS[dataset][0]}" if dataset in HUB_DATASETS else ""
            raise FileNotFoundError(
                f"Benchmark {dataset!r} is not available: {folder} does not exist. Put its "
                f"{{train,devel,test}}.tsv files (token TAB tag, IOB2) there{hint}, or pass --train-file/"
                f"--validation-file/--test-file."
            )
        splits = read_folder(folder, repair_iob)
    elif dataset is not None and Path(dataset).is_dir():
        splits = read_folder(Path(dataset), repair_iob, required=())
    elif dataset is not None and Path(dataset).is_file():
        splits = {"test": read_conll(dataset, repair_iob)}
    elif dataset is not None and re.fullmatch(r"[\w.-]+(/[\w.-]+)?", dataset) and not dataset.endswith(EXTENSIONS):
        splits = read_hub(dataset, repair_iob)
    elif dataset is not None:
        raise FileNotFoundError(f"{dataset!r} is neither a benchmark ({', '.join(BENCHMARKS)}) nor an existing path")
    for split, path in (("train", train_file), ("validation", validation_file), ("test", test_file)):
        if path:
            splits[split] = read_conll(path, repair_iob)
    if not splits:
        raise ValueError("No data given: pass a dataset name or path, or --train-file/--validation-file/--test-file")
    order = [split for split in ("train", "validation", "test") if split in splits]
    return to_dataset_dict({split: splits[split] for split in order})
