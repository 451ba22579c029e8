"""Tagging documents with a fine-tuned BioALBERT: `from bioalbert.inference import tag`.

    entities = tag(["Ataxia-telangiectasia is a recessive disorder."], model="runs/ncbi-disease")
"""

# The `bioalbert tag` command lives in the submodule `tag` (bioalbert.inference.tag), which shares its name with
# the `tag()` function. Importing the submodule first means Python has already bound it when the function below
# takes the name; a later `import bioalbert.inference.tag` does not rebind it, so `inference.tag` stays callable.
from . import tag as _tag_command  # noqa: F401
from .formats import word_tags
from .tagger import Entity, Tagger, iob_chunks, merge_entities, sentence_spans, tag, word_spans

__all__ = ["Entity", "Tagger", "iob_chunks", "merge_entities", "sentence_spans", "tag", "word_spans", "word_tags"]
