"""Tagging documents with a fine-tuned BioALBERT: `from bioalbert.inference import tag`.

    entities = tag(["Ataxia-telangiectasia is a recessive disorder."], model="runs/ncbi-disease")
"""

from .tagger import Entity, Tagger, iob_chunks, merge_entities, sentence_spans, tag, word_spans

__all__ = ["Entity", "Tagger", "iob_chunks", "merge_entities", "sentence_spans", "tag", "word_spans"]
