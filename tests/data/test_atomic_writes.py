"""Every file the package writes for a user goes through data/io's atomic writers: a kill mid-write leaves
the previous file, never a torn one (module docstring of data/io.py)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "deepcredit"
PLAIN_WRITES = {"write_text", "write_bytes"}
ALLOWED = {
    ("data/io.py", "tmp"): "the temporary file itself, renamed into place after its fsync",
    ("data/datasets/german.py", "path"): "a copy in a TemporaryDirectory, read by ingest and deleted",
    ("workflows/benchmarks/scorecards.py", "Path(out_path)"): "the peers' answer in the caller's temporary folder",
    ("workflows/benchmarks/scorecards.py", "Path(tmp) / 'spec.json'"): "the peers' spec in a TemporaryDirectory",
}
"""(module, the file written, as the code names it) that may be written in place, and why nobody can be left
with a torn one."""


def _plain_writes() -> list[tuple[str, str, int]]:
    """(module, the file written as the code names it, line) of every write_text / write_bytes call."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in PLAIN_WRITES:
                found.append((rel, ast.unparse(node.func.value), node.lineno))
    return found


def test_no_output_is_written_in_place():
    """Review: four benchmark runners wrote their results JSON with write_text (models.py rewrote it after
    every part, so a kill mid-write lost every earlier part), and the catalogue its docs."""
    offenders = [f"{rel}:{line} ({what})" for rel, what, line in _plain_writes() if (rel, what) not in ALLOWED]
    assert not offenders, "write through data.io.atomic_write_text/_bytes/_json instead: " + ", ".join(offenders)
