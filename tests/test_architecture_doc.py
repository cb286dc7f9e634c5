"""docs/architecture.md is the newcomer's map of the package: every module must be on it, or a new module
goes unexplained and the map quietly stops being true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "deepcredit"


def test_every_module_is_named_in_the_architecture_doc() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if path.name == "__init__.py" or "migrations" in rel.parts:  # Alembic's, named as store's migrations/
            continue
        # its path, or its file name where the layer's modules are listed (`models/`: base.py, binning.py, ...)
        if rel.as_posix() not in text and not re.search(r"(?<![\w/])" + re.escape(path.name), text):
            missing.append(rel.as_posix())
    assert not missing, f"modules docs/architecture.md does not name: {missing}"
