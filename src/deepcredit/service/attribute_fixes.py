"""Corrected profile attributes: what an accepted dispute about a profile detail changes, and how scoring reads it.

A person may say a profile attribute the data set holds about them is wrong (their income, their job).
An operator who upholds it sets the right value, checked against the attribute's declared type; the value
is stored beside the data (store.models.AttributeCorrection), never by editing it, and every view of the
person's profile that the service opens (their score, their report, their export) reads it in place of
the data set's value. With attribute history (a `valid_from` column) it replaces the value of the
person's profile version valid at the service's now, the one it scores: historical data served as of an
earlier date may hold versions dated later, which are not yet the person's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from deepcredit.data.spec import DatasetSpec
from deepcredit.data.spec_profile import Attribute

FIX_COLUMNS = ["person_id", "attribute", "value"]
"""An overlay's attribute corrections: person, attribute name, value as JSON text (null: none held)."""
Value = bool | int | float | str | None


def disputable(spec: DatasetSpec) -> dict[str, Attribute]:
    """The profile attributes a person may dispute: every attribute of the main profile the spec declares
    (protected ones too: holding them accurately matters as much; further profile files describe things
    people share, such as their district, which one person's dispute cannot correct)."""
    return {a.name: a for a in spec.profile.attributes}


WHOLE_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                         "UINTEGER", "UBIGINT", "UHUGEINT"})
"""DuckDB column types that hold whole numbers only (a fraction set there would be rounded)."""


def checked_value(attribute: Attribute, value: Value, stored_as: str = "") -> str:
    """The value as stored (JSON text), if it fits the attribute's declared type (and the data set's column
    type `stored_as`, where one is given); else ValueError saying why."""
    kind = attribute.type
    if value is None:
        return "null"
    if kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"'{attribute.name}' is numeric: the value must be a finite number")
        if stored_as.upper() in WHOLE_TYPES and not float(value).is_integer():
            raise ValueError(f"'{attribute.name}' holds whole numbers: the value must be one")
        return json.dumps(float(value))
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"'{attribute.name}' is a yes/no attribute: the value must be true or false")
        return json.dumps(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{attribute.name}' is {kind}: the value must be a non-empty text")
    value = attribute.alias_map.get(value.strip(), value)  # a way of writing a category: stored as ingest does
    if kind == "ordinal" and value not in (attribute.order or []):
        raise ValueError(f"'{attribute.name}' is ordinal: the value must be one of {attribute.order}")
    if kind == "date":
        try:
            value = date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"'{attribute.name}' is a date: the value must be an ISO date (YYYY-MM-DD)") from None
    return json.dumps(value)


def shown(value: object) -> str | None:
    """A profile value as a person reads it: yes/no, whole numbers without '.0', dates without a time."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, np.generic):  # a pandas row's numbers and flags
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | pd.Timestamp) and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date().isoformat()
    return str(value)


def _as_text(value: Value) -> str | None:
    """A stored value as the text DuckDB casts to the column's type (true/false for flags)."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def corrected_people(con: duckdb.DuckDBPyConnection, people: str, fixes: pd.DataFrame,
                     attributes: Mapping[str, Attribute], history: bool, at: datetime | None = None) -> str:
    """`people` (a SELECT) with the corrected values in place; registers the fixes on `con`.

    Corrections of attributes the table does not have are left out. history: the table has valid_from,
    and only each person's version valid at `at` is corrected (None: their latest version), the one
    scored then: a version dated later is not yet theirs."""
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE {people}").fetchall()}
    fixes = fixes[fixes["attribute"].isin([a for a in attributes if a in types])]
    if not len(fixes):
        return people
    names = sorted(set(fixes["attribute"]))
    persons = sorted(set(fixes["person_id"]))
    wide: dict[str, list] = {"person_id": persons}
    for name in names:  # one row per person: for each corrected attribute, whether it is set, and to what
        mine = {p: json.loads(v) for p, a, v in fixes[["person_id", "attribute", "value"]].itertuples(index=False)
                if a == name}
        wide[f"set_{name}"] = [p in mine for p in persons]
        wide[f"to_{name}"] = [_as_text(mine.get(p)) for p in persons]
    con.register("_attribute_fixes", pd.DataFrame(wide).astype({f"to_{n}": "object" for n in names}))

    def value(name: str) -> str:
        text = f'f."to_{name}"'
        if attributes[name].type == "numeric":
            text = f"CAST({text} AS DOUBLE)"
        return f'CASE WHEN f."set_{name}" THEN CAST({text} AS {types[name]}) ELSE p."{name}" END AS "{name}"'

    valid = "TRUE" if at is None else f"(p.valid_from IS NULL OR p.valid_from <= TIMESTAMP '{pd.Timestamp(at)}')"
    latest = (f"{valid} AND p.valid_from IS NOT DISTINCT FROM MAX(CASE WHEN {valid} THEN p.valid_from END) "
              "OVER (PARTITION BY p.person_id)" if history else "TRUE")
    return (f"SELECT p.* EXCLUDE (_latest) REPLACE ({', '.join(value(n) for n in names)}) FROM "
            f"(SELECT p.*, {latest} AS _latest FROM ({people}) p) p "
            f"LEFT JOIN _attribute_fixes f ON f.person_id = p.person_id AND p._latest")
