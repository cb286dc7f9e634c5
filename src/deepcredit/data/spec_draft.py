"""Draft a spec from a file's header and inferred types, as commented TOML for the user to edit.

The draft is a starting point, never a decision: every attribute gets a type inferred from a sample of
values, a placeholder dimension and texts, and comments saying what to check (a column that looks like an
id, a label, or a protected attribute). `deepcredit ingest --spec` refuses nothing the draft guessed
silently: what it could not guess is marked TODO.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from deepcredit.data.schema import Dimension
from deepcredit.data.spec import IDENTIFIER, identifier
from deepcredit.data.validate import DataValidationError, is_parquet

SAMPLE_ROWS = 20_000
PROTECTED_HINTS = re.compile(r"(^|[^a-z])(sex|gender|age|marital|race|ethnic\w*|religio\w*|national\w*|foreign|"
                             r"birth\w*|disab\w*|pregnan\w*)([^a-z]|$)")
LABEL_HINTS = re.compile(r"label|target|default|bad|good|credit(?:ability|worthiness)|outcome|class")
ID_HINTS = re.compile(r"(^|_)id$|^id|identifier|customer|client")
BOOL_TEXT = {"true", "false", "yes", "no", "y", "n", "t", "f"}


def _sample(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise DataValidationError(str(path), "file not found")
    try:
        if is_parquet(path):
            return pd.read_parquet(path).head(SAMPLE_ROWS).astype("string")
        return pd.read_csv(path, dtype=str, nrows=SAMPLE_ROWS, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(str(path), f"cannot read a sample of the file ({exc.__class__.__name__}: "
                                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def infer_type(values: pd.Series) -> str:
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return "categorical"
    if set(text.str.lower().unique()) <= BOOL_TEXT:
        return "boolean"
    if pd.to_numeric(text, errors="coerce").notna().all():
        return "numeric"
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if dates.notna().all() and text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return "date"
    return "categorical"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def draft_spec(path: Path, name: str | None = None) -> str:
    """Commented TOML declaring every column of `path` (CSV or Parquet) as a profile attribute."""
    frame = _sample(path)
    name = name or re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name.split(".")[0]).strip("-._") or "my-data"
    n = len(frame)
    id_col = next((c for c in frame.columns if ID_HINTS.search(c.lower()) and frame[c].nunique() == n), None)
    label_col = next((c for c in frame.columns if c != id_col and LABEL_HINTS.search(c.lower())
                      and frame[c].nunique() == 2), None)
    dims = " | ".join(d.value for d in Dimension)
    out = [
        f"# Drafted by `deepcredit spec draft` from {Path(path).name} ({n:,} rows sampled). Edit it, then:",
        "#   deepcredit ingest --spec THIS_FILE --people DATA --out DIR",
        "# Every attribute: type (numeric | categorical | ordinal + order | boolean | date),",
        f"# dimension ({dims}),",
        "# description (completes 'your score is lowered by ...'), improve (how to improve),",
        "# risk_direction (+1 higher is riskier, -1 safer, 0 unknown), protected (audited, never an input),",
        "# actionable (may appear in 'how to improve'), role (credit_line | income | joined_at).",
        "spec_version = 1",
        f"name = {_q(name)}",
        'description = ""',
        "",
        "[profile]",
    ]
    if id_col:
        out.append(f"id_column = {_q(id_col)}")
    else:
        out += ["# No column looks like a unique id: each row is one person, numbered 1, 2, ... in file order.",
                'id_column = ""']
    for col in frame.columns:
        if col in (id_col, label_col):
            continue
        kind = infer_type(frame[col])
        attr = identifier(col) if not re.match(IDENTIFIER, col) else col
        out += ["", "[[profile.attributes]]", f"name = {_q(attr)}"]
        if attr != col:
            out.append(f"column = {_q(col)}")
        out.append(f"type = {_q(kind)}")
        if kind == "categorical" and frame[col].nunique() <= 12:
            listed = ", ".join(_q(str(v)) for v in sorted(frame[col].dropna().unique()))
            out.append(f"# values: {listed} (ordered? make it type = \"ordinal\" with order = [...])")
        out.append('dimension = "identity"  # TODO: choose the dimension this attribute speaks to')
        out.append(f"description = {_q('your ' + col.replace('_', ' ').lower())}")
        out.append('improve = ""')
        if PROTECTED_HINTS.search(col.lower()):
            out.append("protected = true  # looks like a protected attribute: audited, never a model input")
            out.append("actionable = false")
    out += ["", "[outcomes]"]
    if label_col:
        values = [str(v) for v in sorted(frame[label_col].dropna().unique())]
        bad = next((v for v in values if re.search(r"bad|default|^1$|yes|true", v.lower())), values[-1])
        good = next(v for v in values if v != bad)
        out += ["# The label is a column of this file; give its bad (defaulted) and good values.",
                'source = "people"', f"label = {_q(label_col)}",
                f"bad = [{_q(bad)}]  # TODO: check which value means bad", f"good = [{_q(good)}]"]
    else:
        out += ["# TODO: the label: a column of this file (source = \"people\") or an outcomes file.",
                'source = "outcomes"', 'label = "label"', 'bad = ["1"]', 'good = ["0"]']
    out += ["as_of = 2024-01-01  # TODO: the date the outcomes are predicted from (features use what came before)",
            "window_days = 365  # TODO: the performance window"]
    return "\n".join(out) + "\n"
