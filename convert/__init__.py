"""Converters from other checkpoint formats into BioALBERT model folders."""
