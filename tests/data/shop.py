"""A small shop's files (people, invoices and payments, labels) and its spec, shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SPEC = """spec_version = 1
name = "shop"
{format}
[profile]
id_column = "customer"

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"

[[profile.attributes]]
name = "signup"
type = "date"
dimension = "identity"

[events.columns]
person_id = "customer"
ts = "booked_at"
kind = "type"
amount = "value"
status = "state"

[events.kinds]
invoice = {{ amount = "owed" }}
payment = {{ amount = "paid" }}

[events.statuses]
settled = {{ meaning = "kept" }}
bounced = {{ meaning = "broken" }}

[outcomes]
person_id = "customer"
label = "defaulted"
as_of_column = "scored_at"
window_days = 180
"""
EUROPEAN = '[format]\ndelimiter = ";"\ndecimal = ","\ndate_format = "%d/%m/%Y"\n'
PEOPLE = {"customer": ["c1", "c2", "c3"], "income": ["1250.5", "980", ""],
          "signup": ["2023-01-31", "2023-11-02", "2022-06-15"]}
EVENTS = {"customer": ["c1", "c1", "c2"], "booked_at": ["2024-01-05", "2024-02-13", "2024-02-03"],
          "type": ["invoice", "payment", "payment"], "value": ["100.25", "60", "70.5"],
          "state": ["settled", "settled", "bounced"]}
OUTCOMES = {"customer": ["c1", "c2", "c3"], "defaulted": ["0", "1", "0"], "scored_at": ["2024-03-01"] * 3}


def _european(text: str) -> str:
    """A value as a spreadsheet in a European locale writes it."""
    if text[:4].isdigit() and text[4:5] == "-":
        y, m, d = text.split("-")
        return f"{d}/{m}/{y}"
    return text.replace(".", ",")


def write_files(folder: Path, european: bool) -> dict[str, Path]:
    folder.mkdir()
    paths = {}
    for table, data in (("people", PEOPLE), ("events", EVENTS), ("outcomes", OUTCOMES)):
        frame = pd.DataFrame(data)
        if european:
            frame = frame.map(_european)
        paths[table] = folder / f"{table}.csv"
        frame.to_csv(paths[table], index=False, sep=";" if european else ",")
    return paths
