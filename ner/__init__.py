"""The NER core: how words become model windows, how a model scores them, how scores become IOB2 tags, and how an
all-types model's tags map to a benchmark's own (`bioalbert.ner.windows`, `.scoring`, `.corpus_types`).

Fine-tuning, evaluation, the tagger and the demo all go through it. It imports only `bioalbert.modeling`; the jobs
(`bioalbert.training`), `bioalbert.inference` and `bioalbert.hub` import it, never the other way round.
"""
