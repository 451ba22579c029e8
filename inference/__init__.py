"""Tagging documents with a fine-tuned BioALBERT: `from bioalbert.inference import tag`."""
