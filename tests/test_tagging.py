"""Tagging raw documents: exact offsets, long texts, batching, multi-model merging, pipeline("ner") compatibility."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioalbert.inference import Entity, Tagger, iob_chunks, merge_entities, sentence_spans, tag, word_spans

sys.path.insert(0, str(Path(__file__).parent))
from tagging_fixtures import one_thread, read_conll  # noqa: E402

one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


@pytest.fixture(scope="session")
def tagger(ner_dir) -> Tagger:
    return Tagger(str(ner_dir), batch_size=8)


@pytest.fixture(scope="session")
def abstract(data_dir) -> str:
    """A real abstract-sized text: the first 10 NCBI-disease training sentences, detokenised only by spaces."""
    sentences = read_conll(data_dir / "bioner" / "ncbi_disease" / "train.tsv", max_sentences=10)
    return " ".join(" ".join(words) for words, _ in sentences)


def shifted(entities: list[Entity], offset: int) -> list[tuple]:
    return [(e.start + offset, e.end + offset, e.text, e.label) for e in entities]


def test_fast_tokenizer_offsets_on_raw_text_are_exact(tokenizer):
    """What pipeline("ner") relies on; the tagger's own words are the training words (test_ner_windows)."""
    text = "Ataxia-telangiectasia (A-T) is caused by ATM mutations; IL-2 ( CD25 ) α-synuclein 5µm."
    raw = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    for piece, (start, end) in zip(tokenizer.convert_ids_to_tokens(raw["input_ids"]), raw["offset_mapping"]):
        if piece != tokenizer.unk_token:
            assert text[start:end] == piece.lstrip("▁")


def test_word_and_sentence_splitting():
    text = "Mutations in BRCA1 (e.g. 185delAG) cause cancer. Smith et al. Reported it in E. coli. 2 cases!\n\nNew para"
    words = [text[s:e] for s, e in word_spans(text)]
    assert words[:6] == ["Mutations", "in", "BRCA1", "(", "e", "."]
    sentences = [" ".join(words[a:b]) for a, b in sentence_spans(text, word_spans(text))]
    assert sentences == [
        "Mutations in BRCA1 ( e . g . 185delAG ) cause cancer .",
        "Smith et al . Reported it in E . coli .",
        "2 cases !",
        "New para",
    ]
    assert sentence_spans("", []) == []


def test_iob_chunks_read_tags_like_strict_seqeval():
    tags = ["B-D", "I-D", "O", "I-D", "B-C", "B-C", "I-D", "I-C", "B-D"]
    assert iob_chunks(tags) == [("D", 0, 2), ("C", 4, 5), ("C", 5, 6), ("D", 8, 9)]
    assert iob_chunks(["Species", "Species", "O", "Gene"]) == [("Species", 0, 2), ("Gene", 3, 4)]


def document():
    """Text made of biomedical phrases, random unicode, whitespace runs, Greek letters and very long words."""
    pieces = st.one_of(
        st.sampled_from(["breast cancer", "ataxia-telangiectasia", "Duchenne muscular dystrophy", "colorectal cancer",
                         "hereditary nonpolyposis colorectal cancer", "the ATM gene", "patients with", "."]),
        st.text(max_size=30),
        st.text(alphabet="αβγδΔκλμπστω", min_size=1, max_size=8),
        st.text(alphabet=" \t\n\r\u00a0\u2009", min_size=1, max_size=6),
        st.integers(100, 3000).map(lambda n: "x" * n),
    )
    return st.lists(pieces, max_size=12).map(" ".join)


def test_offsets_are_exact_on_any_text(tagger):
    found = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(texts=st.lists(document(), min_size=1, max_size=4))
    def check(texts):
        results = tagger.tag(texts)
        assert len(results) == len(texts)
        for text, entities in zip(texts, results):
            for entity in entities:
                assert 0 <= entity.start < entity.end <= len(text)
                assert entity.text == text[entity.start : entity.end]
                assert entity.text == entity.text.strip() and entity.label in tagger.labels
                assert 0 < entity.score <= 1
            assert all(a.end <= b.start for a, b in zip(entities, entities[1:]))  # sorted, no overlaps
            found.extend(entities)

    check()
    assert found, "the property never met an entity: the fixture model tags nothing"


def test_empty_and_wrong_input(tagger):
    assert tagger.tag([]) == []
    assert tagger.tag(["", "   \n\t \u2009"]) == [[], []]
    with pytest.raises(TypeError, match="list of texts"):
        tagger.tag("breast cancer")


def test_batching_does_not_change_entities(ner_dir, abstract):
    texts = [abstract, "Breast cancer and colorectal cancer.", abstract[: len(abstract) // 3], "No entity here"]
    together = Tagger(str(ner_dir), batch_size=32).tag(texts)
    alone = [Tagger(str(ner_dir), batch_size=1).tag([text])[0] for text in texts]
    assert [shifted(doc, 0) for doc in together] == [shifted(doc, 0) for doc in alone]
    for doc_a, doc_b in zip(together, alone):
        assert [e.score for e in doc_a] == pytest.approx([e.score for e in doc_b], abs=1e-4)


def test_long_document_is_tagged_to_its_end(tagger, abstract):
    """A 20,000-word document: every copy of the abstract gets the abstract's entities, the last one included."""
    single = tagger.tag([abstract])[0]
    assert single, "the fixture model finds no entity in the abstract"
    copies = 20_000 // len(word_spans(abstract)) + 1
    document = " ".join([abstract] * copies)
    assert len(document.split()) >= 20_000
    entities = tagger.tag([document])[0]
    expected = [e for i in range(copies) for e in shifted(single, i * (len(abstract) + 1))]
    assert shifted(entities, 0) == expected
    assert entities[-1].end > len(document) - len(abstract)


def test_entity_across_a_window_border_is_found_once(ner_dir, abstract):
    """One 'sentence' (no full stops) far longer than a window: windows overlap, each entity is found once."""
    words = [abstract[s:e] for s, e in word_spans(abstract) if abstract[s:e] not in ".!?"]
    sentence = " ".join(words * 4)
    small = Tagger(str(ner_dir), max_length=64, stride=16).tag([sentence])[0]
    assert small
    assert all(e.text == sentence[e.start : e.end] for e in small)
    assert all(a.end <= b.start for a, b in zip(small, small[1:]))
    # Entities are spans of whole words: none starts or ends inside a word.
    word_starts = {s for s, _ in word_spans(sentence)}
    word_ends = {e for _, e in word_spans(sentence)}
    assert all(e.start in word_starts and e.end in word_ends for e in small)


def test_merge_entities_rule():
    disease = Entity(0, 13, "breast cancer", "Disease", 0.9, "disease")
    gene = Entity(0, 6, "breast", "Gene", 0.95, "gene")
    chemical = Entity(20, 27, "tamoxif", "Chemical", 0.5, "chem")
    tie_short = Entity(20, 24, "tamo", "Gene", 0.5, "gene")
    assert merge_entities([disease], [gene, chemical]) == [gene, chemical]  # higher score wins
    assert merge_entities([tie_short], [chemical]) == [chemical]  # tie: the longer span
    same = Entity(20, 27, "tamoxif", "Drug", 0.5, "drug")
    assert merge_entities([same], [chemical]) == [same]  # tie, same length: the model listed first
    assert merge_entities([disease], [gene], keep_overlaps=True) == [gene, disease]  # sorted by (start, end)
    assert merge_entities([disease], [disease], keep_overlaps=True) == [disease]  # exact duplicates once
    assert merge_entities([disease], []) == [disease]


def test_several_models_are_merged(ner_dir, tmp_path, abstract):
    """A second model with another label set: one result per document, overlaps resolved by the rule."""
    chemical_dir = tmp_path / "chemical"
    shutil.copytree(ner_dir, chemical_dir)
    config = json.loads((chemical_dir / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-Chemical", "2": "I-Chemical"}
    config["label2id"] = {"O": 0, "B-Chemical": 1, "I-Chemical": 2}
    (chemical_dir / "config.json").write_text(json.dumps(config))
    both = Tagger([str(ner_dir), str(chemical_dir)])
    assert both.labels == ["Chemical", "Disease"]
    merged = both.tag([abstract])[0]
    disease = Tagger(str(ner_dir)).tag([abstract])[0]
    # Same weights, same spans and scores: every conflict is a tie of equal length, won by the first model.
    assert merged == disease
    reversed_order = Tagger([str(chemical_dir), str(ner_dir)]).tag([abstract])[0]
    assert [(e.start, e.end, e.label) for e in reversed_order] == [(e.start, e.end, "Chemical") for e in disease]
    assert tag([abstract], model=[str(chemical_dir), str(ner_dir)]) == [reversed_order]


def test_quantized_tagger_keeps_offsets_exact(ner_dir, abstract):
    entities = Tagger(str(ner_dir), quantize=True).tag([abstract])[0]
    assert all(e.text == abstract[e.start : e.end] for e in entities)


def test_missing_or_incomplete_model_folder(tmp_path, ner_dir):
    with pytest.raises(FileNotFoundError, match="Model folder not found: .*nowhere"):
        Tagger(str(tmp_path / "nowhere"))
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(ner_dir / "config.json", partial / "config.json")
    with pytest.raises(FileNotFoundError, match=r"missing: model weights .*tokenizer"):
        Tagger(str(partial))


@pytest.mark.parametrize("strategy", ["simple", "first", "average", "max"])
def test_ner_pipeline_on_a_finetuned_folder_tags_the_training_words(ner_dir, strategy):
    """The folder's own pipeline (pipeline_bioalbert.py): words split as in training, punctuation never attached."""
    from transformers import pipeline

    from bioalbert.inference.tagger import word_spans

    sentence = "Ataxia-telangiectasia (A-T) is a recessive disorder;  breast cancer\tand colorectal cancer. "
    ner = pipeline("ner", model=str(ner_dir), trust_remote_code=True, aggregation_strategy=strategy, stride=32)
    assert type(ner).__name__ == "BioAlbertTokenClassificationPipeline"
    starts, ends = (set(edges) for edges in zip(*word_spans(sentence)))
    entities = ner(sentence)  # one window
    assert entities
    for entity in entities:
        assert entity["word"] == sentence[entity["start"] : entity["end"]] and entity["entity_group"] == "Disease"
        if strategy != "simple":  # word-level strategies: entities are whole words ("cancer", never "cancer.")
            assert entity["start"] in starts and entity["end"] in ends, entity
    assert any(entity["word"].endswith("cancer") for entity in entities)
    # Pre-split words take the stock path and give the same entities (offsets into the words joined by spaces).
    words = [sentence[start:end] for start, end in word_spans(sentence)]
    joined = " ".join(words)
    assert [(joined[e["start"] : e["end"]], e["entity_group"]) for e in ner(words, is_split_into_words=True)[0]] == [
        (e["word"], e["entity_group"]) for e in entities
    ]
    # Across windows the word of a window's first piece may be cut; what stride promises is that the end of a long
    # text is tagged, with exact offsets.
    text = sentence * 40
    entities = ner(text)
    assert all(e["word"] == text[e["start"] : e["end"]] and e["word"].strip() for e in entities)
    assert max(e["end"] for e in entities) > len(text) - 200
    assert ner("") == [] and ner(" \n\t ") == []


def test_pipeline_and_tagger_decode_alike(ner_dir, tagger, abstract):
    """A sentence is one window for both: the folder's pipeline and the Tagger read the same scores and decode them
    the same way (IOB2-constrained), so they return the same entities."""
    from transformers import pipeline

    ner = pipeline("ner", model=str(ner_dir), trust_remote_code=True, aggregation_strategy="first")
    words = word_spans(abstract)
    sentences = [abstract[words[first][0] : words[last - 1][1]] for first, last in sentence_spans(abstract, words)]
    found = 0
    for sentence in sentences[:12]:
        from_tagger = [(e.start, e.end, e.label) for e in tagger.tag([sentence])[0]]
        assert [(e["start"], e["end"], e["entity_group"]) for e in ner(sentence)] == from_tagger, sentence
        found += len(from_tagger)
    assert found


@pytest.mark.slow
def test_plain_ner_pipeline_as_remote_code(ner_dir):
    """A fresh interpreter without bioalbert imported: the folder's own code (trust_remote_code) runs it."""
    script = (
        "import json, sys\nfrom transformers import pipeline\n"
        f"ner = pipeline('ner', model={str(ner_dir)!r}, aggregation_strategy='first', trust_remote_code=True)\n"
        "assert 'bioalbert' not in sys.modules\n"
        "text = 'Breast cancer and colorectal cancer in ataxia-telangiectasia.'\n"
        "print(json.dumps([[e['start'], e['end'], e['entity_group']] for e in ner(text)]))\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(ner_dir.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ner_dir.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    remote = json.loads(done.stdout.strip().splitlines()[-1])
    from transformers import pipeline

    local = pipeline("ner", model=str(ner_dir), aggregation_strategy="first", trust_remote_code=True)(
        "Breast cancer and colorectal cancer in ataxia-telangiectasia."
    )
    assert remote == [[e["start"], e["end"], e["entity_group"]] for e in local]


@pytest.mark.slow
def test_raw_text_tagging_agrees_with_word_level_evaluation(ner_dir, data_dir):
    """Tagging the test sentences as raw text scores the same strict F1 as the word-level evaluation."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from bioalbert.training.ner_metric import compute_ner_metrics
    from bioalbert.ner.scoring import predict_words

    sentences = read_conll(data_dir / "bioner" / "ncbi_disease" / "test.tsv", max_sentences=300)
    gold = [tags for _, tags in sentences]
    model = AutoModelForTokenClassification.from_pretrained(ner_dir)
    word_level = predict_words(model, AutoTokenizer.from_pretrained(ner_dir), [words for words, _ in sentences])
    texts = [" ".join(words) for words, _ in sentences]
    raw = [entities_to_tags(text, entities) for text, entities in zip(texts, tag(texts, model=str(ner_dir)))]
    f1_word = compute_ner_metrics(gold, word_level)["entity_f1"]
    f1_raw = compute_ner_metrics(gold, raw)["entity_f1"]
    assert f1_word > 0.05, "the fixture model should find some diseases"
    assert abs(f1_word - f1_raw) <= 0.005


def entities_to_tags(text: str, entities: list[Entity]) -> list[str]:
    from bioalbert.inference.formats import word_tags

    return [tag for _, tag in word_tags(text, entities)]
