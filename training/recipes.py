"""Named pretraining recipes: the four release variants and `tiny-*` versions that finish on a 2-core CPU.

A recipe fixes the model size, the corpus (globs relative to the data folder), the sequence length, batch,
optimizer and schedule; `bioalbert pretrain --variant NAME` uses it and any flag overrides a field. `trained_on`
says honestly what the corpus here is: the model card copies it, and must never claim PubMed-scale pretraining.

Corpus specs. The original BioALBERT variants were trained on PubMed abstracts (4.5B words) and PubMed + PMC
full-text articles (4.5B + 13.5B words). The shared corpus here (`<data>/corpus/README.md`) holds about 4M words of
PubMed-style abstracts (`pubmed*`, GENIA) and 13M words of PMC-style full text (`pmc_*`): three orders of magnitude
less. The two tokenised NER-train-text files are in neither spec, so neither pretrains on benchmark text. The CPU-only
`tiny-pubmed-task` adds them (task-adaptive pretraining, unlabelled training sentences only) and says so in
`trained_on`.

Optimizers. ALBERT pretrained base/large with LAMB at batch 4096. DeepSpeed ZeRO partitions optimizer state and
supports only Adam-family optimizers under it (LAMB's per-layer trust ratio needs the whole, unpartitioned layer;
`deepspeed.runtime.zero.utils.ZERO_SUPPORTED_OPTIMIZERS`), so the GPU recipes use AdamW at batch 4096 with a
RoBERTa-style large-batch schedule (lower peak lr than LAMB's, longer warmup). The tiny CPU recipes use AdamW at
batch 64, where LAMB has no advantage.
"""

from dataclasses import asdict, dataclass

PUBMED = ("corpus/pubmed*.txt.gz", "corpus/genia_abstracts_tokenized.txt.gz")  # pubmed* covers pubmedqa_pqal too
PMC = ("corpus/pmc_*.txt.gz",)
# Task-adaptive text (Gururangan et al., 2020, "Don't Stop Pretraining"): the training sentences of the benchmarks
# and of nine other BioNER corpora, without their labels. The corpus README guarantees no devel/test sentence.
TASK_TEXT = (
    "corpus/bioner_benchmarks_train_split_text_tokenized.txt.gz",
    "corpus/mtl_other_ner_corpora_train_tokenized.txt.gz",
)

PUBMED_HERE = (
    "the PubMed-style abstracts of the shared corpus: PubMedQA PQA-L, GENIA, OHSUMED, SYNERGY/OpenAlex and "
    "Medical-Abstracts-TC abstracts, about 4.0M words"
)
PMC_HERE = "full-text articles from eLife, PLOS and CRAFT (PMC open access), about 12.9M words"
TASK_HERE = (
    "the unlabelled training sentences of the six benchmark corpora (NCBI-disease, BC5CDR, BC2GM, JNLPBA, LINNAEUS, "
    "Species-800; about 1.5M words, no devel or test sentence) and of nine other BioNER corpora (AnatEM, BioNLP, "
    "CRAFT, Ex-PTM; about 1.2M words), i.e. task-adaptive pretraining"
)
# corpus spec -> (globs, what they are in words for `trained_on`); `pubmed-task` is for the CPU-only tiny recipe.
CORPUS_SPECS = {
    "pubmed": (PUBMED, PUBMED_HERE),
    "pubmed-pmc": (PUBMED + PMC, f"{PUBMED_HERE}, plus {PMC_HERE}"),
    "pubmed-task": (PUBMED + TASK_TEXT, f"{PUBMED_HERE}, plus {TASK_HERE}"),
    # The task-adaptive corpus widened with the PMC full text (issue #37): 19.6M words instead of 6.7M, so continued
    # pretraining repeats each word fewer times.
    "pubmed-pmc-task": (PUBMED + PMC + TASK_TEXT, f"{PUBMED_HERE}, plus {PMC_HERE}, plus {TASK_HERE}"),
}
NOT_PUBMED_SCALE = (
    " This is about 0.1% of the PubMed (4.5B words) / PMC (13.5B words) text the original BioALBERT used: "
    "do not describe this model as PubMed-scale pretrained."
)


@dataclass(frozen=True)
class Recipe:
    name: str
    preset: str  # BioAlbertConfig preset: tiny, base, large
    corpus: tuple[str, ...]  # globs relative to the data folder
    corpus_spec: str  # "pubmed", "pubmed-pmc" or "pubmed-task" (PubMed plus the NER corpora's training text)
    max_seq_length: int
    per_device_batch_size: int
    gradient_accumulation_steps: int
    learning_rate: float
    max_steps: int
    warmup_steps: int
    optimizer: str  # a TrainingArguments `optim` name; under DeepSpeed the JSON's optimizer block wins
    weight_decay: float
    eval_steps: int  # held-out MLM/SOP accuracy every N steps
    save_steps: int  # checkpoint every N steps (what --resume continues from)
    trained_on: str
    hardware: str
    # Where a new model's MLM output bias starts: "unigram" (log piece frequencies of the training examples) or
    # "zero" (transformers' start, which the tiny runs before 2026-11-27 used). From zero, a new model first learns
    # to push every position towards one shared vector that decodes to the piece prior, and a tagger fine-tuned
    # from it inherits that collapse (benchmarks/research/representation_collapse.py).
    mlm_bias_init: str = "unigram"
    # BioAlbertConfig.position_bias of a new model: "alibi" (docs/research.md, ALiBi) or "none" (ALBERT's attention,
    # which the runs before 2026-12-01 used). On the tiny model ALBERT's learned positions alone never left their
    # start, so it pretrained as a bag of words and lost to random weights; with ALiBi pretraining beats random init
    # (benchmarks/research/position_use.py, docs/research.md).
    position_bias: str = "alibi"
    # `bioalbert pretrain --objective`: "mlm-sop" (ALBERT's masked LM + sentence order, the paper's) or "rtd"
    # (ELECTRA's replaced-token detection, docs/research.md). Every recipe keeps the paper's until RTD is measured
    # better at its scale.
    objective: str = "mlm-sop"

    def global_batch_size(self, world_size: int = 1) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps * world_size

    def to_dict(self) -> dict:
        return asdict(self)


def _gpu_recipe(size: str, spec: str) -> Recipe:
    corpus, text = CORPUS_SPECS[spec]
    large = size == "large"
    return Recipe(
        name=f"{size}-{spec}",
        preset=size,
        corpus=corpus,
        corpus_spec=spec,
        max_seq_length=512,
        # 8 GPUs x 64 x 8 accumulation = 4096 sequences per step, ALBERT's batch; large: 8 x 32 x 16.
        per_device_batch_size=32 if large else 64,
        gradient_accumulation_steps=16 if large else 8,
        learning_rate=4e-4 if large else 6e-4,
        max_steps=125_000,
        warmup_steps=10_000,
        optimizer="adamw_torch_fused",
        weight_decay=0.01,
        eval_steps=2000,
        save_steps=2000,
        trained_on=f"Recipe for {text}; at 512 pieces x 4096 x 125k steps it makes many passes over this "
        f"small corpus.{NOT_PUBMED_SCALE}",
        hardware="8 GPUs (1 node x 8) or more; bf16",
    )


def _tiny_recipe(spec: str) -> Recipe:
    corpus, text = CORPUS_SPECS[spec]
    return Recipe(
        name=f"tiny-{spec}",
        preset="tiny",
        corpus=corpus,
        corpus_spec=spec,
        max_seq_length=128,
        # A step of 32 x 128 pieces takes about 0.31 s in the Trainer in bf16 (0.62 s in fp32) on 2 otherwise idle
        # CPU cores with AVX512-BF16 (measured): 8,000 steps fit a 45-minute budget, so the linear schedule decays
        # to zero before the budget stops it. Without bf16 kernels the budget stops it first: near 4,300 steps
        # on that CPU in fp32, near 1,800 on a 2-core AVX2 AMD EPYC (about 1.5 s a step, measured).
        per_device_batch_size=32,
        gradient_accumulation_steps=1,
        learning_rate=1e-3,
        max_steps=8000,
        warmup_steps=400,
        optimizer="adamw_torch",
        weight_decay=0.01,
        eval_steps=250,
        save_steps=250,
        trained_on=f"The tiny (4-layer, hidden 256) BioALBERT pretrained on a 2-core CPU for a fixed wall-clock "
        f"budget on {text}; sequences of 128 pieces, batch 32, at most 8,000 steps (about 33M pieces).{NOT_PUBMED_SCALE}",
        hardware="CPU (2 cores), about 45 minutes",
    )


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        _tiny_recipe("pubmed"),
        _tiny_recipe("pubmed-pmc"),
        _tiny_recipe("pubmed-task"),
        _tiny_recipe("pubmed-pmc-task"),
        _gpu_recipe("base", "pubmed"),
        _gpu_recipe("base", "pubmed-pmc"),
        _gpu_recipe("large", "pubmed"),
        _gpu_recipe("large", "pubmed-pmc"),
        # One GPU for a wall-clock budget of about 6 minutes (benchmarks/gpu_base_run.sh, issue #22): what worked at
        # tiny (ALiBi, the piece prior, task-adaptive text) at base size. 128 pieces: NER sentences are short and
        # fine-tuning uses 128-piece windows. 256 x 128 = 32,768 pieces a step, the tokens per step of the measured
        # 64 x 512 (548k tokens/s compiled in bf16 on an H100, docs/benchmarks.md): about 0.07 s a step in the Trainer,
        # so 4,000 steps (131M pieces) fit the budget after about a minute of torch.compile and the schedule decays.
        Recipe(
            name="base-pubmed-task",
            preset="base",
            corpus=CORPUS_SPECS["pubmed-task"][0],
            corpus_spec="pubmed-task",
            max_seq_length=128,
            per_device_batch_size=256,
            gradient_accumulation_steps=1,
            learning_rate=5e-4,
            max_steps=4000,
            warmup_steps=400,
            optimizer="adamw_torch_fused",
            weight_decay=0.01,
            eval_steps=500,
            save_steps=1000,
            trained_on="The base (12 shared layers, hidden 768) BioALBERT with ALiBi, pretrained on one GPU for a "
            f"wall-clock budget of about 6 minutes on {CORPUS_SPECS['pubmed-task'][1]}; sequences of 128 pieces, "
            f"batch 256, at most 4,000 steps (about 131M pieces).{NOT_PUBMED_SCALE}",
            hardware="1 GPU (H100/H200), about 6 minutes; bf16",
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"Unknown pretraining variant {name!r}; choose one of {sorted(RECIPES)}.")
    return RECIPES[name]


__all__ = ["RECIPES", "Recipe", "get_recipe"]
