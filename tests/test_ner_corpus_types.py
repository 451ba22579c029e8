"""The corpus-type table (bioalbert.ner.corpus_types): the union labels of the all-types model, and each benchmark
decoded on its own tags from them."""

import numpy as np

from bioalbert.ner.corpus_types import allowed_labels, decode_corpus_tags, separate_conventions, union_labels

LABELS = union_labels()


def test_union_covers_every_type_once():
    assert LABELS[0] == "O"
    assert sorted({label[2:] for label in LABELS[1:]}) == [
        "CellLine", "CellType", "Chemical", "DNA", "Disease", "Gene", "RNA", "Species"
    ]


def test_a_benchmark_is_decoded_on_its_own_tags_with_the_union_labels_they_stand_for_summed():
    labels = union_labels()

    def decode(corpus, types, probabilities):
        scores = np.log(np.full((len(probabilities), len(labels)), 1e-9))
        for word, word_probabilities in enumerate(probabilities):
            for label, probability in word_probabilities.items():
                scores[word, labels.index(label)] = np.log(probability)
        return decode_corpus_tags([scores], labels, corpus, types)[0]

    # BC2GM's gene may be Gene, DNA or RNA: split between two of them it still beats O, which each alone would not.
    split_gene = [{"B-Gene": 0.3, "B-DNA": 0.3, "O": 0.4}, {"I-Gene": 0.35, "I-DNA": 0.3, "O": 0.35}]
    assert decode("bc2gm", {"Gene"}, split_gene) == ["B-Gene", "I-Gene"]
    # BC5CDR-chem is scored on chemicals only: a disease is O there, and with it the disease's probability.
    assert decode("bc5cdr", {"Chemical"}, [{"B-Disease": 0.5, "B-Chemical": 0.3, "O": 0.2}]) == ["O"]
    assert decode("bc5cdr", {"Chemical", "Disease"}, [{"B-Disease": 0.5, "B-Chemical": 0.3, "O": 0.2}]) == ["B-Disease"]
    # JNLPBA's own tag names: its protein is the model's Gene.
    assert decode("jnlpba", {"protein", "DNA"}, [{"B-Gene": 0.9}, {"I-Gene": 0.9}]) == ["B-protein", "I-protein"]
    # IOB2 over the corpus's tags: an I- never starts an entity.
    assert decode("ncbi_disease", {"Disease"}, [{"O": 0.6, "I-Disease": 0.4}, {"I-Disease": 0.6, "O": 0.4}]) == ["O", "O"]


def test_under_separate_conventions_each_corpus_is_scored_on_its_own_labels():
    """A word both corpora call a species is one for both; a corpus that does not annotate species reads both as O."""
    table = separate_conventions(["Species"])
    labels = union_labels(table)
    scores = np.log(np.full((1, len(labels)), 1e-6))
    scores[0, labels.index("B-Species@s800")], scores[0, labels.index("B-Species@linnaeus")] = np.log(0.6), np.log(0.3)
    scores[0, 0] = np.log(0.1)
    assert decode_corpus_tags([scores], labels, "s800", {"Species"}, table) == [["B-Species"]]
    assert decode_corpus_tags([scores], labels, "linnaeus", {"Species"}, table) == [["B-Species"]]
    scores[0, labels.index("B-Gene")] = np.log(0.05)  # the word does not become a protein either
    assert decode_corpus_tags([scores], labels, "jnlpba", {"protein"}, table) == [["O"]]


def test_bc2gm_genes_stand_for_jnlpba_gene_dna_and_rna():
    assert allowed_labels("bc2gm", "B-Gene", LABELS) == {LABELS.index(f"B-{t}") for t in ("Gene", "DNA", "RNA")}
    assert allowed_labels("jnlpba", "B-protein", LABELS) == {LABELS.index("B-Gene")}
