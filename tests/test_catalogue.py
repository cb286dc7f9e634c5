"""Generated docs are up to date with the schema and the feature definitions."""

from pathlib import Path

from deepcredit.catalogue import GENERATED

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current():
    for rel, make in GENERATED.items():
        assert (ROOT / rel).read_text() == make() + "\n", f"{rel} is stale: run python -m deepcredit.catalogue"
