"""Installs the distribution `bioalbert`: each top-level code folder becomes a subpackage of `bioalbert`
(`modeling/` -> `bioalbert.modeling`, `training/` -> `bioalbert.training`, ...)."""

from pathlib import Path

from setuptools import find_packages, setup

PEER = ["spacy>=3.8,<4"]
CODE_FOLDERS = ["cli", "modeling", "ner", "training", "inference", "hub", "convert", "model_cards"]
CODE_FOLDERS = [folder for folder in CODE_FOLDERS if Path(folder, "__init__.py").exists()]

packages, package_dir = [], {}
for folder in CODE_FOLDERS:
    for sub in [""] + find_packages(where=folder):
        name = ".".join(filter(None, ["bioalbert", folder, sub]))
        packages.append(name)
        package_dir[name] = str(Path(folder, *sub.split(".")))

TORCH = "torch==2.13.0"  # the CPU build on this project's machines; an unpinned torch pulls a multi-GB CUDA build
TRAIN = ["accelerate>=1.10", "datasets>=4", "evaluate>=0.4.5", "seqeval==1.2.2", "matplotlib"]
# `bioalbert tag-ray`: Ray Data spreads a sharded corpus over a cluster's actors (inference/ray_tagging.py says why Ray).
RAY = ["ray[data]>=2.50,<3"]

setup(
    name="bioalbert",
    version="0.1.0",
    description="BioALBERT: ALBERT for biomedical named-entity recognition, Hugging Face native.",
    long_description=Path("README.md").read_text(encoding="utf-8") if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.json", "*.yaml", "*.md", "*.jinja", "*.txt"]},
    include_package_data=True,
    install_requires=[
        TORCH,
        "transformers>=5.0,<6",
        "tokenizers>=0.22",
        "sentencepiece>=0.2",
        "protobuf",
        "safetensors",
        "huggingface_hub>=1.0",
        "jinja2",  # ModelCard.from_template
        "tqdm",
        "bioc>=2.1,<3",  # PubTator and BioC XML/JSON in and out of `bioalbert tag` (inference/collections.py)
    ],
    extras_require={
        "train": TRAIN,
        "deepspeed": ["deepspeed>=0.17"],
        "space": ["gradio>=6,<7"],
        "convert": ["tensorflow-cpu>=2.21,<3"],
        "ray": RAY,
        "peer": PEER,  # the spaCy baseline of `bioalbert reproduce` (benchmarks/spacy_peer.py)
        "dev": TRAIN + PEER + RAY + ["deepspeed>=0.17", "pytest", "pytest-timeout", "hypothesis", "playwright>=1.50", "pip-tools>=7.4"],
    },
    entry_points={"console_scripts": ["bioalbert = bioalbert.cli:main"]},
)
