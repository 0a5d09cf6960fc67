"""Where the real agent CLIs live for the tests, and the model each is driven with."""

from __future__ import annotations

from pathlib import Path

from config.defaults import HARNESS_MODELS

# A project-local prefix, installed by the tests themselves (reused when present).
PREFIX = Path(__file__).resolve().parents[2] / ".cache" / "agents"
# Each harness with the model its built-in agent uses.
MODELS = dict(HARNESS_MODELS)
