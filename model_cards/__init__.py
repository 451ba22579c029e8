"""Model-card templates and the release variants, installed as `bioalbert.model_cards` (package data)."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent
