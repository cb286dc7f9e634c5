"""`spec draft` finds an events file's column roles by their values where its header words (English) name
none: a German instalment ledger (faellig_am, bezahlt_am, betrag_cent, tage_verzug, art) gets its due and
settled dates, days late, amount and kind, each marked check with why, and its draft ingests; a role a
header names is never taken by values, and an English ledger drafts as before."""

from __future__ import annotations

import pandas as pd

from deepcredit.data.draft import draft_spec
from deepcredit.data.draft.meanings import STATUS_WORDS
from deepcredit.data.draft.roles import amount_column, date_pair, days_late_column, kind_column, status_column
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml

IDS = [f"K{100000 + i}" for i in range(12)]
PEOPLE = pd.DataFrame({"kunden_nr": IDS, "region": ["NORD", "SUED", "OST"] * 4})
OUTCOMES = pd.DataFrame({"kunden_nr": IDS, "ausfall": [0, 0, 0, 1] * 3, "stichtag": ["2024-07-01"] * 12})


def _ledger() -> pd.DataFrame:
    """Five monthly instalments (RATE, in cents) of each of 12 customers, some paid early, on time or late,
    a late one with a reminder fee (GEBUEHR) due with it, and the last two of every fourth customer open."""
    rows = []
    for i, person in enumerate(IDS):
        for month in range(1, 6):
            due = pd.Timestamp(2024, month, 15)
            late = [0, 0, 3, 12, 0][(i + month) % 5]
            early = 2 if late == 0 and month % 2 else 0
            paid = "" if i % 4 == 3 and month >= 4 else (due + pd.Timedelta(days=late - early)).strftime("%Y-%m-%d")
            status = "OFFEN" if not paid else "VERSPAETET" if late else "BEZAHLT"
            days = late if paid else ""
            rows.append((person, due.strftime("%Y-%m-%d"), paid, 10000 + 1250 * i + 7 * month, days, "RATE", status))
            if late > 5:
                rows.append((person, due.strftime("%Y-%m-%d"), paid, 500 + 10 * i, days, "GEBUEHR", status))
    return pd.DataFrame(rows, columns=["kunden_nr", "faellig_am", "bezahlt_am", "betrag_cent", "tage_verzug", "art",
                                       "status"])


ENGLISH = {"kunden_nr": "customer_id", "faellig_am": "due_date", "bezahlt_am": "paid_date", "betrag_cent": "amount",
           "tage_verzug": "days_late", "art": "kind"}


def _files(tmp_path, ledger: pd.DataFrame, people: pd.DataFrame = PEOPLE) -> dict:
    for name, frame in (("people", people), ("events", ledger), ("outcomes", OUTCOMES)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    return {name: tmp_path / f"{name}.csv" for name in ("people", "events", "outcomes")}


def _columns(text: str) -> dict[str, str]:
    """The lines of the drafted [events.columns], by role."""
    block = text.split("[events.columns]\n")[1].split("\n\n")[0]
    return {line.split(" = ")[0]: line for line in block.splitlines()}


def test_a_german_ledger_gets_its_roles_by_their_values_each_marked_check(tmp_path):
    paths = _files(tmp_path, _ledger())
    text = draft_spec(paths["people"], "raten", events=paths["events"], outcomes=paths["outcomes"])
    spec = spec_from_toml(text, "draft.toml")
    assert spec.events is not None
    c = spec.events.columns
    assert (c.person_id, c.ts, c.due_ts, c.settled_ts) == ("kunden_nr", "faellig_am", "faellig_am", "bezahlt_am")
    assert (c.amount, c.days_late, c.kind, c.status) == ("betrag_cent", "tage_verzug", "art", "status")
    lines = _columns(text)
    for role in ("due_ts", "settled_ts", "days_late", "amount", "kind"):
        assert "  # check: " in lines[role], lines[role]
    assert "empty on some rows, else on or after faellig_am" in lines["settled_ts"]
    assert "whole days from faellig_am to bezahlt_am" in lines["days_late"]
    assert "amount_scale = 0.01 under [events]" in lines["amount"]  # whole numbers: cents? the user says
    assert "# check" not in lines["status"]  # named by its header: no value-based note
    assert set(spec.events.kinds) == {"RATE", "GEBUEHR"}
    assert spec.events.amount_scale == 1.0  # no unit guessed: the note only names it
    assert {"BEZAHLT", "OFFEN", "VERSPAETET"} <= set(spec.events.statuses)  # words it cannot read: read from rows
    assert 'ignore = [' not in text.split("[events]")[1].split("[events.columns]")[0]  # nothing left unused


def test_the_draft_of_a_german_ledger_ingests(tmp_path):
    paths = _files(tmp_path, _ledger())
    spec = spec_from_toml(draft_spec(paths["people"], "raten", events=paths["events"], outcomes=paths["outcomes"]))
    events = ingest_with_spec(spec, paths, tmp_path / "ds").read("events")
    assert len(events) == len(_ledger()) and set(events["kind"]) == {"RATE", "GEBUEHR"}
    assert events["amount"].max() == 10000 + 1250 * 11 + 7 * 5 and events["days_late"].max() == 12
    assert events["due_ts"].notna().all()


def test_an_english_ledger_drafts_by_its_header_words_as_before(tmp_path):
    paths = _files(tmp_path, _ledger().rename(columns=ENGLISH), PEOPLE.rename(columns=ENGLISH))
    text = draft_spec(paths["people"], "loans", events=paths["events"])
    assert _columns(text) == {
        "person_id": 'person_id = "customer_id"',
        "ts": 'ts = "due_date"',
        "kind": 'kind = "kind"',
        "amount": 'amount = "amount"',
        "status": 'status = "status"',
        "days_late": 'days_late = "days_late"  # check',
        "due_ts": 'due_ts = "due_date"  # check',
        "counterparty": 'counterparty = ""  # none found; name the column if there is one',
        "settled_ts": 'settled_ts = "paid_date"  # check: rows are dated by it where set: their outcome is known '
                      "from then, not when they were made"}


def test_a_role_a_header_names_is_never_taken_by_values(tmp_path):
    ledger = _ledger().rename(columns={"bezahlt_am": "booking_date", "art": "product_type"})
    paths = _files(tmp_path, ledger)
    c = spec_from_toml(draft_spec(paths["people"], "raten", events=paths["events"])).events.columns  # type: ignore[union-attr]
    assert (c.ts, c.kind) == ("booking_date", "product_type")  # a date's and a kind's header words win
    assert (c.due_ts, c.settled_ts, c.days_late) == (None, None, None)  # no free date pairs with faellig_am
    paid = _ledger().rename(columns={"bezahlt_am": "paid_on"})  # settled named: the due date found to pair it
    paths = _files(tmp_path, paid)
    c = spec_from_toml(draft_spec(paths["people"], "raten", events=paths["events"])).events.columns  # type: ignore[union-attr]
    assert (c.due_ts, c.settled_ts, c.days_late) == ("faellig_am", "paid_on", "tage_verzug")


def test_a_status_column_is_found_by_its_words_whatever_its_header(tmp_path):
    ledger = _ledger().rename(columns={"status": "zustand"}).drop(columns="art")
    ledger["zustand"] = ledger["zustand"].map({"BEZAHLT": "paid", "VERSPAETET": "paid_late", "OFFEN": "open"})
    paths = _files(tmp_path, ledger)
    text = draft_spec(paths["people"], "raten", events=paths["events"])
    spec = spec_from_toml(text)
    assert spec.events is not None and spec.events.columns.status == "zustand"
    assert "# check: 3 of its 3 values read as statuses" in _columns(text)["status"]
    assert {k: v.meaning for k, v in spec.events.statuses.items()} == {"open": "open", "paid": "kept",
                                                                       "paid_late": "late"}
    assert spec.events.columns.kind is None  # the status is no kind


def test_values_that_only_look_alike_are_no_role():
    frame = pd.DataFrame({
        "p": ["a", "a", "b", "b", "c", "c"],
        "due": ["2024-01-10", "2024-02-10", "2024-01-10", "2024-02-10", "2024-01-10", "2024-02-10"],
        "paid": ["2024-01-10", "2024-02-15", "2024-01-08", "", "2024-01-20", "2024-02-10"],
        "flag": [0, 0, 0, 1, 0, 0],  # 0 on the rows paid in time, but not the days of the late ones
        "days": [0, 5, 0, None, 10, 0],
        "code": [1, 2, 1, 2, 1, 2],  # a code set
        "money": [19.5, 20.0, 7.25, 7.25, 100.0, 55.0],
        "contract": ["V1", "V1", "V2", "V2", "V3", "V3"],  # each one person's: no kind
        "note": ["ok then", "not now", "due soon", "paid up", "late again", "all done"],  # free text
        "channel": ["web", "shop", "web", "web", "shop", "web"]})
    assert date_pair(frame, ["due", "paid"], ["due", "paid"]) == ("due", "paid", 4 / 5)  # one paid early
    assert days_late_column(frame, ["flag", "days"], "due", "paid") == ("days", 1.0)
    assert amount_column(frame, ["code", "money"]) == "money" and amount_column(frame, ["code"]) is None
    assert kind_column(frame, ["contract", "channel"], "p", 30) == "channel"
    assert status_column(frame, ["note"], STATUS_WORDS, 5) is None  # six values: free text, not a vocabulary
