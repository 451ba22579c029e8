"""Which entity types each benchmark corpus annotates, and how an all-types model's labels map back to them.

An all-types model (`bioalbert finetune-joint`) has one label set, the union of every corpus's types; a benchmark
is scored on its own tags and types, each a sum of the union labels it stands for (`corpus_tag_scores`).
"""

import numpy as np

from .scoring import decode_tags, model_labels, predict_scores

# Recorded with every all-types score. Runs scored by an earlier decoding (the union labels, then mapped to the
# corpus's tags; or per-word argmax) are rescored on resume.
JOINT_DECODING = "iob2-viterbi-corpus-tags"

# Training corpus -> {its tag type: the union types that tag may stand for}. The union types follow HunFlair's
# names. BC2GM's GENE marks genes and their products, which JNLPBA splits into protein, DNA and RNA: a BC2GM mention
# may be any of the three, so JNLPBA's finer types are kept apart in the model and merged back into Gene only when
# BC2GM is scored. JNLPBA's protein is a gene product, the model's Gene. LINNAEUS also tags people named by role
# (`patients`) as species where Species-800 tags them O; a Person type for them was tried and not kept
# (docs/research.md, "The Person type").
CORPUS_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "ncbi_disease": {"Disease": ("Disease",)},
    "bc5cdr": {"Chemical": ("Chemical",), "Disease": ("Disease",)},
    "bc2gm": {"Gene": ("Gene", "DNA", "RNA")},
    "jnlpba": {"protein": ("Gene",), "DNA": ("DNA",), "RNA": ("RNA",), "cell_line": ("CellLine",),
               "cell_type": ("CellType",)},
    "linnaeus": {"Species": ("Species",)},
    "s800": {"Species": ("Species",)},
}
# Benchmark scored -> the training corpus whose map it uses. BC5CDR-chem and -disease are the two halves of BC5CDR
# (the same sentences), trained on once as the combined corpus.
BENCHMARK_CORPUS = {"ncbi_disease": "ncbi_disease", "bc5cdr_disease": "bc5cdr", "bc5cdr_chem": "bc5cdr",
                    "bc2gm": "bc2gm", "jnlpba": "jnlpba", "linnaeus": "linnaeus", "s800": "s800"}


def iob2_labels(types) -> list[str]:
    """`O`, then `B-`/`I-` of every type, types in sorted order."""
    return ["O"] + [f"{prefix}-{kind}" for kind in sorted(types) for prefix in "BI"]


def separate_conventions(types: list[str], table: dict = CORPUS_TYPES) -> dict[str, dict[str, tuple[str, ...]]]:
    """`table` with each union type of `types` split into one type per corpus (`Species@linnaeus`,
    `Species@s800`): where two corpora annotate a type differently (people as species, disease modifiers), each
    corpus's tags train its own labels, and a corpus is scored without the other corpora's (`corpus_tag_scores`)."""
    return {corpus: {t: tuple(f"{u}@{corpus}" if u in types else u for u in unions) for t, unions in mapping.items()}
            for corpus, mapping in table.items()}


def union_labels(table: dict = CORPUS_TYPES) -> list[str]:
    return iob2_labels({union for mapping in table.values() for unions in mapping.values() for union in unions})


def allowed_labels(corpus: str, tag: str, labels: list[str], types: set[str] | None = None,
                   table: dict = CORPUS_TYPES) -> frozenset[int]:
    """The union label ids that the corpus's `tag` is consistent with, where the tagger annotated `types` of the
    corpus's types (default: all of them; a single-task teacher of BC5CDR-chem knows only Chemical)."""
    mapping = {t: unions for t, unions in table[corpus].items() if types is None or t in types}
    if tag == "O":
        annotated = {union for unions in mapping.values() for union in unions}
        return frozenset(i for i, label in enumerate(labels) if label == "O" or label[2:] not in annotated)
    prefix, corpus_type = tag[:2], tag[2:]
    if corpus_type not in mapping:
        raise ValueError(f"{corpus}: tag {tag!r} has a type that CORPUS_TYPES does not map")
    return frozenset(labels.index(prefix + union) for union in mapping[corpus_type])


def corpus_tag_scores(sentence_scores: list[np.ndarray], labels: list[str], corpus: str, types: set[str],
                      table: dict = CORPUS_TYPES) -> tuple[list[str], list[np.ndarray]]:
    """`corpus`'s own tags of `types` (O, then B-/I- of each type) and each word's log-probability of them: the
    summed probability of the union labels a tag stands for, the sets the partial-label loss trains
    (`allowed_labels`; other types count as O). So a benchmark is decoded by the question the loss answered: a
    BC2GM gene the model splits between Gene and DNA is a gene with the sum of both, where decoding the union labels
    first could let O win. Under `separate_conventions`, other corpora's labels of a type the corpus annotates are
    left out first: the model cannot tell which corpus a text follows, so it splits a word that both call a species
    between their two labels, and the corpus's own label is the model's answer for it."""
    own = {label[2:].split("@")[0] for label in labels if label.endswith(f"@{corpus}")}
    hidden = {i for i, label in enumerate(labels)
              if "@" in label and not label.endswith(f"@{corpus}") and label[2:].split("@")[0] in own}
    tags = iob2_labels(types)
    groups = [sorted(allowed_labels(corpus, tag, labels, types, table) - hidden) for tag in tags]
    return tags, [np.stack([np.logaddexp.reduce(scores[:, group], axis=1) for group in groups], axis=1)
                  for scores in sentence_scores]


def decode_corpus_tags(sentence_scores: list[np.ndarray], labels: list[str], corpus: str, types: set[str],
                       table: dict = CORPUS_TYPES) -> list[list[str]]:
    """Each sentence's most probable valid IOB2 sequence of `corpus`'s own tags (`corpus_tag_scores`)."""
    tags, tag_scores = corpus_tag_scores(sentence_scores, labels, corpus, types, table)
    return decode_tags(tag_scores, tags)


def predict_corpus_tags(model, tokenizer, sentences: list[list[str]], corpus: str, corpus_types: dict, types: set[str],
                        batch_size: int = 32, max_length: int | None = None, stride: int | None = None
                        ) -> list[list[str]]:
    """An all-types model's tags for `sentences` as `corpus` annotates them (`corpus_tag_scores`): its tag names
    (`corpus_types`: its row of the type table the model was trained with), only `types`, IOB2-constrained."""
    scores = predict_scores(model, tokenizer, sentences, batch_size, max_length, stride)
    return decode_corpus_tags(scores, model_labels(model), corpus, types, {corpus: corpus_types})
