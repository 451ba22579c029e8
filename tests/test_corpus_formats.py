"""`bioalbert tag` on collections: PubTator, BioC XML/JSON, JSONL, folders and datasets in; what it writes parses back
with `bioc`, every annotation's text is the document's text at its offsets, the input's annotations are kept, and a
malformed document is reported with its file and line (real model: the shipped models/bioalbert-tiny-ner)."""

import gzip
import json
import sys
from pathlib import Path

import bioc
import pytest
from bioc import biocjson, biocxml, pubtator

from bioalbert.inference import Tagger
from bioalbert.inference.shipped import SHIPPED_NER_DIR
from bioalbert.inference.tag import main

sys.path.insert(0, str(Path(__file__).parent))
from tagging_fixtures import one_thread  # noqa: E402

one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)
FIXTURES = Path(__file__).parent / "fixtures"
MODEL = str(SHIPPED_NER_DIR)
MODEL_NAME = SHIPPED_NER_DIR.name
ABSTRACTS = 60  # read, tagged and written in every format; more only adds time (scale: the constant-memory test)


def corpus_abstracts(data_dir: Path, count: int) -> list[tuple[str, str, str]]:
    """(id, title, abstract) of the first `count` PubMed abstracts of the shared corpus (documents are paragraphs;
    the first line is the title)."""
    abstracts, lines = [], []
    with gzip.open(data_dir / "corpus" / "pubmed_ohsumed_textgcn.txt.gz", "rt", encoding="utf-8") as corpus:
        for line in corpus:
            if line.strip():
                lines.append(line.strip())
                continue
            if len(lines) > 1:
                abstracts.append((f"OHS{len(abstracts) + 1}", lines[0], " ".join(lines[1:])))
                if len(abstracts) == count:
                    break
            lines = []
    return abstracts


def write_pubtator(path: Path, abstracts) -> Path:
    text = "".join(f"{pmid}|t|{title}\n{pmid}|a|{abstract}\n\n" for pmid, title, abstract in abstracts)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def bioc_collection(abstracts) -> bioc.BioCCollection:
    collection = bioc.BioCCollection()
    collection.source, collection.date, collection.key = "corpus test", "2026-01-01", "BioC.key"
    for pmid, title, abstract in abstracts:
        document = bioc.BioCDocument()
        document.id = pmid
        document.add_passage(bioc.BioCPassage.of_text(title, 0))
        document.add_passage(bioc.BioCPassage.of_text(abstract, len(title) + 1))
        collection.add_document(document)
    return collection


def run_main(argv, capsys) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def abstracts(data_dir):
    return corpus_abstracts(data_dir, ABSTRACTS)


@pytest.fixture(scope="module")
def expected(abstracts) -> dict[str, list[tuple]]:
    """What the tagger finds in each abstract, title and abstract tagged as separate passages, at PubTator offsets."""
    texts = [text for _, title, abstract in abstracts for text in (title, abstract)]
    found = Tagger(MODEL).tag(texts)
    result = {}
    for i, (pmid, title, _) in enumerate(abstracts):
        shifted = [(e.start, e.end, e.text, e.label) for e in found[2 * i]]
        shifted += [(e.start + len(title) + 1, e.end + len(title) + 1, e.text, e.label) for e in found[2 * i + 1]]
        result[pmid] = shifted
    return result


def bioc_entities(document: bioc.BioCDocument, model: str = MODEL_NAME) -> list[tuple]:
    """(start, end, text, type) of the annotations a model added, checked against the passage text at their offsets."""
    found = []
    for passage in document.passages:
        for annotation in passage.annotations:
            location = annotation.locations[0]
            start = location.offset - passage.offset
            assert passage.text[start : start + location.length] == annotation.text
            if annotation.infons.get("model") == model:
                found.append((location.offset, location.end, annotation.text, annotation.infons["type"]))
    return sorted(found)


def test_pubtator_collection_round_trips(tmp_path, abstracts, expected, capsys):
    """Sixty abstracts, gzipped PubTator in, PubTator out: bioc parses it, the texts are unchanged, every
    mention is the text at its offsets and the entities are the tagger's."""
    source = write_pubtator(tmp_path / "abstracts.pubtator.gz", abstracts)
    out = tmp_path / "tagged.pubtator"
    code, _, err = run_main(["--model", MODEL, source, "--format", "pubtator", "-o", out], capsys)
    assert code == 0, err
    assert f"{ABSTRACTS}doc" in err.replace(" ", "") and "doc/s" in err  # one progress bar, documents per second
    documents = pubtator.load(out.open(encoding="utf-8"))
    assert [(d.pmid, d.title, d.abstract) for d in documents] == abstracts
    for document in documents:
        pubtator.validate(document)  # bioc's own check: every mention equals title + "\n" + abstract at its offsets
        assert all(len(ann.others) == 1 and ann.others[0] == MODEL_NAME and ann.id == "-" for ann in document.annotations)
        assert [(a.start, a.end, a.text, a.type) for a in document.annotations] == expected[document.pmid]
    assert sum(len(d.annotations) for d in documents) > 2 * ABSTRACTS
    assert not (tmp_path / "tagged.pubtator.progress.json").exists()  # complete: no progress file left


def test_bioc_xml_collection_round_trips(tmp_path, abstracts, expected, capsys):
    source = tmp_path / "abstracts.xml"
    source.write_text(biocxml.dumps(bioc_collection(abstracts)), encoding="utf-8")
    out = tmp_path / "tagged.xml"
    code, _, err = run_main(["--model", MODEL, source, "--format", "bioc-xml", "-o", out], capsys)
    assert code == 0, err
    collection = biocxml.load(out.open("rb"))
    assert (collection.source, collection.date, collection.key) == ("corpus test", "2026-01-01", "BioC.key")
    bioc.validate(collection)  # bioc's validator: annotation text == passage text at the offsets
    assert [d.id for d in collection.documents] == [pmid for pmid, _, _ in abstracts]
    for document in collection.documents:
        assert bioc_entities(document) == sorted(expected[document.id])
        assert all(a.infons["score"] and a.id.startswith("T") for p in document.passages for a in p.annotations)


def test_bioc_json_in_and_out_and_json_lines(tmp_path, abstracts, expected, capsys):
    source = tmp_path / "abstracts.bioc.json"
    source.write_text(biocjson.dumps(bioc_collection(abstracts[:40]), indent=1), encoding="utf-8")
    out = tmp_path / "tagged.json"
    code, _, err = run_main(["--model", MODEL, source, "--format", "bioc-json", "-o", out], capsys)
    assert code == 0, err
    collection = biocjson.load(out.open(encoding="utf-8"))
    bioc.validate(collection)
    assert [bioc_entities(d) for d in collection.documents] == [sorted(expected[pmid]) for pmid, _, _ in abstracts[:40]]
    # BioC JSON lines (bioc's iterwriter: one document a line) are read too.
    lines = tmp_path / "abstracts.json"
    with biocjson.iterwriter(lines) as writer:
        for document in bioc_collection(abstracts[:5]).documents:
            writer.write(document)
    code, out_text, err = run_main(["--model", MODEL, lines, "--format", "pubtator"], capsys)
    assert code == 0, err
    assert [d.pmid for d in pubtator.loads(out_text)] == [pmid for pmid, _, _ in abstracts[:5]]


def test_input_annotations_are_kept_and_ours_added(tmp_path, capsys):
    code, out, err = run_main(["--model", MODEL, FIXTURES / "annotated.pubtator", "--format", "pubtator"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    original = (FIXTURES / "annotated.pubtator").read_text(encoding="utf-8").splitlines()
    for line in original:
        if line:  # every input line comes back (an empty id column as "-", so that bioc reads it as an annotation)
            assert (line + "-" if line.endswith("\t") else line) in lines
    ours = [line.split("\t") for line in lines if line.endswith("\t" + MODEL_NAME)]
    assert ours and all(len(fields) == 7 and fields[5] == "-" for fields in ours)
    documents = pubtator.loads(out)
    assert len(documents[0].relations) == 1 and documents[0].relations[0].id2 == "D007022"
    for document in documents:
        pubtator.validate(document)
    assert len(documents[0].annotations) == 4 + sum(fields[0] == "1001" for fields in ours)

    code, out, err = run_main(["--model", MODEL, FIXTURES / "annotated.xml", "--format", "bioc-xml"], capsys)
    assert code == 0, err
    collection = biocxml.loads(out)
    assert (collection.source, collection.infons) == ("PubTator3 sample", {"note": "hand-written fixture"})
    bioc.validate(collection)
    first, second = collection.documents
    assert first.infons == {"year": "2020"}
    theirs = [a for p in first.passages for a in p.annotations if "identifier" in a.infons]
    assert [(a.id, a.text, a.infons["identifier"]) for a in theirs] == [
        ("1", "Cisplatin", "MESH:D002945"), ("2", "acute kidney injury", "MESH:D058186"), ("3", "p53", "22059")]
    assert bioc_entities(first) and bioc_entities(second)
    assert second.passages[1].offset == 100  # passages keep their own offsets
    for document in collection.documents:
        document_ids = [a.id for p in document.passages for a in p.annotations]
        assert len(document_ids) == len(set(document_ids))


def test_pubtator3_type_names(tmp_path, capsys):
    text = tmp_path / "genes.txt"
    text.write_text("IL-2 mRNA and the IL-2 gene promoter were induced in HeLa cells and T cells.", encoding="utf-8")
    code, out, err = run_main(["--model", MODEL, text], capsys)
    assert code == 0, err
    labels = [e["label"] for e in json.loads(out)["entities"]]
    assert {"RNA", "DNA"} <= set(labels), labels
    code, out, err = run_main(["--model", MODEL, text, "--type-names", "pubtator3"], capsys)
    renamed = [e["label"] for e in json.loads(out)["entities"]]
    mapping = {"RNA": "Gene", "DNA": "Gene", "CellLine": "CellLine", "CellType": "CellType"}
    assert renamed == [mapping.get(label, label) for label in labels]


def test_malformed_pubtator_is_reported_and_skipped_or_stops(tmp_path, abstracts, capsys):
    good = "".join(f"{p}|t|{t}\n{p}|a|{a}\n\n" for p, t, a in abstracts[:4])
    blocks = good.split("\n\n")
    blocks[1] += "\n" + f"{abstracts[1][0]}\tten\t12\tfoo\tDisease\tD1"  # line 6
    blocks[2] = "no title line here\n" + blocks[2]  # line 8
    source = tmp_path / "broken.pubtator"
    source.write_text("\n\n".join(blocks), encoding="utf-8")
    out = tmp_path / "skip.pubtator"
    code, _, err = run_main(["--model", MODEL, source, "--format", "pubtator", "-o", out], capsys)
    assert code == 1
    assert f"{source}:6: bad PubTator line (annotation offsets 'ten', '12' are not whole numbers)" in err
    assert f"{source}:8: a PubTator document starts with an `ID|t|title` line" in err
    assert "2 malformed document(s) skipped" in err
    assert [d.pmid for d in pubtator.load(out.open())] == [abstracts[0][0], abstracts[3][0]]

    out = tmp_path / "stop.pubtator"
    code, _, err = run_main(["--model", MODEL, source, "--format", "pubtator", "-o", out, "--on-error", "stop"], capsys)
    assert code == 1 and "stopped" in err
    assert [d.pmid for d in pubtator.load(out.open())] == [abstracts[0][0]]  # what came before is kept
    assert (tmp_path / "stop.pubtator.progress.json").exists()  # and --resume starts again at the bad document:
    code, _, err = run_main(["--model", MODEL, source, "--format", "pubtator", "-o", out, "--resume"], capsys)
    assert code == 1 and f"{source}:6: bad PubTator line" in err  # reported again, skipped this time
    assert [d.pmid for d in pubtator.load(out.open())] == [abstracts[0][0], abstracts[3][0]]
    assert not (tmp_path / "stop.pubtator.progress.json").exists()


def test_invalid_bioc_is_reported_with_line_and_document_id(tmp_path, abstracts, capsys):
    xml = biocxml.dumps(bioc_collection(abstracts[:3]))
    broken = xml.replace(f"<offset>{len(abstracts[1][1]) + 1}</offset>", "<offset>soon</offset>", 1)
    source = tmp_path / "invalid.xml"
    source.write_text(broken, encoding="utf-8")
    out = tmp_path / "out.xml"
    code, _, err = run_main(["--model", MODEL, source, "--format", "bioc-xml", "-o", out], capsys)
    assert code == 1
    line = broken[: broken.index(f"<id>{abstracts[1][0]}</id>")].count("\n")  # the <document> line
    passage_line = broken.index("<offset>soon</offset>")
    passage_line = broken[:passage_line].rfind("<passage>")
    passage_line = broken[:passage_line].count("\n") + 1
    assert (f"{source}:{line}: document {abstracts[1][0]}: invalid BioC: the passage at line {passage_line} has the "
            "<offset> 'soon', not a whole number") in err, err
    assert [d.id for d in biocxml.load(out.open("rb")).documents] == [abstracts[0][0], abstracts[2][0]]

    truncated = tmp_path / "truncated.xml"
    truncated.write_text(xml[: xml.index(f"<id>{abstracts[2][0]}</id>") + 30], encoding="utf-8")
    out = tmp_path / "truncated-out.xml"
    code, _, err = run_main(["--model", MODEL, truncated, "--format", "bioc-xml", "-o", out], capsys)
    assert code == 1 and f"{truncated}:" in err and "not XML" in err
    assert [d.id for d in biocxml.load(out.open("rb")).documents] == [abstracts[0][0], abstracts[1][0]]


def test_folder_in_output_dir_out(tmp_path, abstracts, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "note.txt").write_text(abstracts[0][2], encoding="utf-8")
    write_pubtator(folder / "some.pubtator.gz", abstracts[1:4])
    (folder / "more.xml").write_text(biocxml.dumps(bioc_collection(abstracts[4:6])), encoding="utf-8")
    (folder / "records.jsonl").write_text(
        json.dumps({"id": "r1", "text": abstracts[6][2], "journal": "J"}) + "\n\n" + json.dumps({"text": "No id."}) + "\n",
        encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run_main(["--model", MODEL, folder, "--output-dir", out], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["more.jsonl", "note.jsonl", "records.jsonl", "some.jsonl"]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [(r["id"], r.get("journal")) for r in records] == [("r1", "J"), (f"{folder / 'records.jsonl'}:3", None)]
    some = [json.loads(line) for line in (out / "some.jsonl").read_text().splitlines()]
    assert [r["text"] for r in some] == [f"{t}\n{a}" for _, t, a in abstracts[1:4]]
    for record in some + records:
        assert all(record["text"][e["start"] : e["end"]] == e["text"] for e in record["entities"])


def test_dataset_streamed_offline_from_data_files(tmp_path, abstracts, capsys):
    """--dataset with a local dataset folder (what a Hub id resolves to), streamed with `datasets`."""
    folder = tmp_path / "pubmed-sample" / "data"
    folder.mkdir(parents=True)
    for shard in range(2):
        rows = [{"pmid": p, "abstract": a, "year": 2000 + shard} for p, _, a in abstracts[shard * 10 : shard * 10 + 10]]
        (folder / f"train-{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = run_main(["--model", MODEL, "--dataset", folder.parent, "--text-column", "abstract",
                               "--id-column", "pmid", "--no-progress"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [p for p, _, _ in abstracts[:20]]
    found = Tagger(MODEL).tag([a for _, _, a in abstracts[:20]])
    assert [r["entities"] for r in records] == [[e.to_dict() for e in doc] for doc in found]
    code, _, err = run_main(["--model", MODEL, "--dataset", folder.parent, "--text-column", "body"], capsys)
    assert code == 1 and "no column 'body' (columns: pmid, abstract, year)" in err


MEMORY_PROBE = """
import sys
from pathlib import Path
from bioalbert.inference.readers import iter_documents

def resident_mb(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    return int(line.split()[1]) / 1024

documents = iter_documents(sys.argv[2], sys.argv[1])
next(documents)
before, count = resident_mb("VmRSS:"), 1
for document in documents:
    count += 1
print(count, resident_mb("VmHWM:") - before)
"""


@pytest.mark.slow  # writes and reads three 20 MB collections
def test_collections_are_read_in_constant_memory(tmp_path):
    """20,000 documents (about 20 MB a file): reading the whole collection raises peak memory by under 10 MB in
    each format (lxml's tree of the XML alone would take several times the file)."""
    import subprocess

    text = "Cisplatin induced nephrotoxicity in rats was studied with many words in every sentence. " * 12
    collection = bioc_collection([(str(i), f"Title {i}", text) for i in range(20000)])
    files = {"bioc-xml": tmp_path / "big.xml", "bioc-json": tmp_path / "big.json", "pubtator": tmp_path / "big.pubtator"}
    files["bioc-xml"].write_text(biocxml.dumps(collection, pretty_print=False), encoding="utf-8")
    files["bioc-json"].write_text(biocjson.dumps(collection), encoding="utf-8")  # one line of 20 MB
    write_pubtator(files["pubtator"], [(str(i), f"Title {i}", text) for i in range(20000)])
    for fmt, path in files.items():
        assert path.stat().st_size > 18e6
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, fmt, str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        count, growth_mb = done.stdout.split()
        assert int(count) == 20000 and float(growth_mb) < 10, (fmt, growth_mb)


def test_the_tagger_package_imports_without_bioc_or_ray():
    """The Space vendors bioalbert.inference and installs neither bioc nor ray: importing the package (and the
    `bioalbert tag` module it imports) must not need them; only reading or writing a collection does."""
    import subprocess

    code = "import sys, bioalbert.inference; print(sorted({'bioc', 'lxml', 'ray', 'datasets'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
