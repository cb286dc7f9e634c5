"""`spec draft` reads an ordinary bill file in any language: of its issue, due and paid dates the due date is
the one on or after the issue date on every row (most bills are paid before they fall due, so the paid date
cannot tell it), the amount owed is the larger of two money columns and the amount paid the smaller
(paid_amount), headers with umlauts meet the hints spelled without them, a yes/no label in a European
language puts yes as bad (else the rarer value, said so), and top-ups written in cents are an amount."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.draft.event_columns import pick_column
from deepcredit.data.draft.outcomes import label_values
from deepcredit.data.draft.roles import amount_column, in_cents, issue_and_due, owed_and_paid_values
from deepcredit.data.headers import header_name, header_words
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml

IDS = [f"C-{i:05d}" for i in range(40)]
LANGUAGES = {  # (person, issue, due, paid date, owed, paid, status; its paid, late and open words)
    "de": (
        ("kunde", "rechnungsdatum", "fällig_am", "bezahlt_am", "betrag", "gezahlt", "zahlungsstatus"),
        ("bezahlt", "verspätet", "offen"),
    ),
    "es": (
        ("cliente", "fecha_emision", "vencimiento", "fecha_cobro", "importe", "abonado", "estado"),
        ("pagada", "con_retraso", "pendiente"),
    ),
    "en": (
        ("customer", "billed_on", "pay_by", "cleared", "charge", "remitted", "state"),
        ("settled", "overdue", "unsettled"),
    ),
}


def _bills(lang: str) -> pd.DataFrame:
    """Six monthly bills of each of 40 customers: issued, due 14 days later, paid early on most (before they
    fall due), late on some (a fifth of those in part), open on a few; dates day first, as a European file."""
    (person, issued, due, paid_on, owed, paid, status), words = LANGUAGES[lang]
    rng = np.random.default_rng(3)
    rows = []
    for who in IDS:
        for month in range(1, 7):
            issue = pd.Timestamp(2024, month, 1) + pd.Timedelta(days=int(rng.integers(0, 10)))
            fall = issue + pd.Timedelta(days=14)
            amount = round(float(rng.uniform(15, 90)), 2)
            draw = rng.random()
            if draw < 0.05:
                rows.append((who, issue, fall, None, amount, None, words[2]))
            elif draw < 0.25:
                part = round(amount * 0.7, 2) if draw < 0.09 else amount
                rows.append(
                    (
                        who,
                        issue,
                        fall,
                        fall + pd.Timedelta(days=int(rng.integers(1, 40))),
                        amount,
                        part,
                        words[1],
                    )
                )
            else:
                early = issue + pd.Timedelta(days=int(rng.integers(0, 14)))
                rows.append((who, issue, fall, early, amount, amount, words[0]))
    frame = pd.DataFrame(rows, columns=[person, issued, due, paid_on, owed, paid, status])
    for col in (issued, due, paid_on):
        frame[col] = pd.to_datetime(frame[col]).dt.strftime("%d.%m.%Y")
    return frame


def _draft(tmp_path, lang: str, label: tuple[str, str] = ("ja", "nein")) -> tuple[str, dict]:
    bills = _bills(lang)
    people = pd.DataFrame({"customer_ref": IDS, "region": ["Nord", "Süd", "Ost", "West"] * 10})
    outcomes = pd.DataFrame(
        {"customer_ref": IDS, "defaulted": [label[0] if i % 8 == 0 else label[1] for i in range(40)]}
    )
    paths = {
        "people": tmp_path / "people.csv",
        "events": tmp_path / "bills.csv",
        "outcomes": tmp_path / "out.csv",
    }
    encoding = "latin-1" if lang == "de" else "utf-8"  # a German spreadsheet's export
    people.to_csv(paths["people"], index=False, sep=";", encoding=encoding)
    bills.to_csv(paths["events"], index=False, sep=";", decimal=",", encoding=encoding)
    outcomes.to_csv(paths["outcomes"], index=False, sep=";", encoding=encoding)
    return draft_spec(paths["people"], "bills", events=paths["events"], outcomes=paths["outcomes"]), paths


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_a_bills_due_date_is_the_one_after_its_issue_date_not_the_one_paid_after(tmp_path, lang):
    text, _ = _draft(tmp_path, lang)
    spec = spec_from_toml(text)
    assert spec.events is not None
    (_, issued, due, paid_on, *_), words = LANGUAGES[lang]
    c = spec.events.columns
    assert (c.ts, c.due_ts, c.settled_ts) == (issued, due, paid_on)
    assert spec.events.statuses[words[0]].meaning == "kept"  # paid before it fell due: not late
    assert spec.events.statuses[words[1]].meaning == "late"
    assert f"on or after {issued} on 100% of the rows" in text  # why, in the due date's check


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_of_two_money_columns_the_larger_is_owed_and_the_smaller_paid(tmp_path, lang):
    text, _ = _draft(tmp_path, lang)
    spec = spec_from_toml(text)
    assert spec.events is not None
    (*_, owed, paid, _), _ = LANGUAGES[lang]
    assert (spec.events.columns.amount, spec.events.columns.paid_amount) == (owed, paid)
    assert f'paid_amount = "{paid}"  # check: at most {owed} on 100% of the rows' in text
    assert spec.events.paid_kind is not None and not spec.events.measures  # the owed amount is no measure


def test_the_draft_of_a_german_bill_file_ingests_with_its_todos_filled(tmp_path):
    text, paths = _draft(tmp_path, "de")
    assert 'bad = ["ja"]' in text  # yes: the default happened
    text = text.replace("as_of = 2024-01-01", "as_of = 2024-08-01")
    events = ingest_with_spec(spec_from_toml(text), paths, tmp_path / "ds").read("events")
    bills = events[events["kind"] == "bills"]
    assert len(bills) == 240 and bills["due_ts"].notna().all()
    assert (events["kind"] == "payment").sum() == _bills("de")["gezahlt"].notna().sum()


def test_the_orderings_chain_picks_the_latest_date_as_due():
    frame = pd.DataFrame(
        {
            "start": ["2024-01-01"] * 4,
            "issue": ["2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"],
            "due": ["2024-02-15", "2024-03-15", "2024-04-15", "2024-05-15"],
        }
    )
    assert issue_and_due(frame, ["start", "issue", "due"]) == ("issue", "due", 1.0)  # the closest issue date
    assert issue_and_due(frame, ["due"], ["start"]) == (
        "start",
        "due",
        1.0,
    )  # a named row date is an issue only
    assert issue_and_due(frame.assign(due=frame["issue"]), ["issue", "due"]) is None  # one date twice


def test_two_money_columns_that_merely_differ_are_no_owed_and_paid():
    frame = pd.DataFrame(
        {"a": [10.0, 20.0, 30.0, 40.0], "b": [10.0, 25.0, 5.0, 40.0], "c": [10.0, 15.0, 30.0, 40.0]}
    )
    assert owed_and_paid_values(frame, ["a", "b"]) is None  # b above a on a row: no bill and its payment
    assert owed_and_paid_values(frame, ["a", "c"]) == ("a", "c", 1.0, 0.75)


def test_header_words_spell_umlauts_out_so_hints_meet_both_spellings():
    assert header_words("fällig_am") == header_words("faellig_am") == "faellig_am"
    assert header_words("Größe") == "groesse" and header_words("Échéance") == "echeance"
    assert header_name("größe") == "grosse"  # an attribute's name as before
    assert pick_column({"fällig_am": "date"}, r"faellig", ("date",), set()) == "fällig_am"


@pytest.mark.parametrize(
    ("yes", "no"),
    [("ja", "nein"), ("Sí", "No"), ("oui", "non"), ("sim", "não"), ("tak", "nie"), ("да", "нет"), ("J", "N")],
)
def test_a_yes_no_label_in_a_european_language_has_yes_bad(yes, no):
    lines = label_values(pd.Series([no] * 9 + [yes] + [no] * 5))
    assert lines[0].startswith(f'bad = ["{yes}"]') and "reads as yes" in lines[0]
    assert lines[1] == f'good = ["{no}"]'


def test_a_label_of_unknown_words_has_its_rarer_value_bad_said_so():
    lines = label_values(pd.Series(["p"] * 3 + ["q"] * 27))
    assert (
        lines[0]
        == 'bad = ["p"]  # TODO: check which value means bad: no value reads as bad, so the rarer (10% of rows) is taken'
    )
    assert label_values(pd.Series(["0", "1", "0"]))[0] == 'bad = ["1"]  # TODO: check which value means bad'


def test_an_amount_written_in_cents_is_money_however_few_its_values():
    frame = pd.DataFrame(
        {
            "betrag": ["10.00", "15.00", "25.00", "10.00", "50.00"] * 10,
            "stufe": ["1", "2", "3", "1", "2"] * 10,
        }
    )
    assert in_cents(frame["betrag"]) and not in_cents(frame["stufe"])
    assert not in_cents(pd.Series(["0.05", "0.10", "0.25"]))  # a rate below 1
    assert amount_column(frame, ["stufe", "betrag"]) == "betrag"


def test_a_date_column_of_early_days_needs_no_day_month_check_where_another_has_late_days(tmp_path):
    text, _ = _draft(tmp_path, "de")  # issued on days 1 to 10, due 14 days later: days up to 24
    assert 'date_format = "%d.%m.%Y"' in text
    assert "could be month first" not in text
