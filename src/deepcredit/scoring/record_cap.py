"""How many of a person's records the record reasons weigh (scoring.record_reasons, which re-exports it).

Why a module of its own, with no imports: `deepcredit explain --records` cites the cap in its help, and the CLI
starts without pandas or the models.
"""

from __future__ import annotations

RECORD_CAP = 200
"""The most records left out, the latest first: each costs one more row of the feature build."""
