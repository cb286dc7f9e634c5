"""A ledger's file is written at its extract: what it says of a row not settled (its days late, that it is
still unpaid) must not reach a feature at an earlier date, nor date a row after what the file can know."""

from __future__ import annotations

import pandas as pd

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.engine import build_features

SPEC = """spec_version = 1
name = "rentals"

[events.columns]
person_id = "customer"
ts = "rented_at"
kind = "item"
amount = "price"
status = "state"
due_ts = "due_back"
settled_ts = "returned_at"
days_late = "late_days"

[events.kinds]
dress = { amount = "owed" }

[events.statuses]
returned = { meaning = "kept" }
returned_late = { meaning = "late" }
not_returned = { meaning = "broken" }

[outcomes]
person_id = "customer"
label = "defaulted"
as_of_column = "as_of"
window_days = 30
"""
OUTCOMES = pd.DataFrame({"customer": ["a", "b", "a", "b"], "as_of": ["2024-01-15", "2024-01-15", "2024-03-01",
                                                                     "2024-03-01"], "defaulted": ["0", "1", "0", "1"]})


def _book(extract: str, due_b: str = "2023-10-01") -> pd.DataFrame:
    """a returned one dress on time and one 36 days late; b never returned one: the file writes its days
    late as at the extract."""
    late_b = (pd.Timestamp(extract) - pd.Timestamp(due_b)).days
    return pd.DataFrame({
        "customer": ["a", "a", "b"], "rented_at": ["2023-09-01", "2023-09-02", "2023-09-20"],
        "due_back": ["2023-09-08", "2023-09-10", due_b], "returned_at": ["2023-09-07", "2023-10-16", ""],
        "item": ["dress"] * 3, "price": [40, 55, 30], "state": ["returned", "returned_late", "not_returned"],
        "late_days": [0, 36, late_b]})


def _ingest(tmp_path, book: pd.DataFrame, snapshot: str | None):
    tmp_path.mkdir(exist_ok=True)
    pd.DataFrame({"customer": ["a", "b"]}).to_csv(tmp_path / "people.csv", index=False)
    book.to_csv(tmp_path / "rentals.csv", index=False)
    OUTCOMES.to_csv(tmp_path / "outcomes.csv", index=False)
    files = {n: tmp_path / f"{n if n != 'events' else 'rentals'}.csv" for n in ("people", "events", "outcomes")}
    spec = spec_from_toml(SPEC.replace("[events.columns]", "[profile]\nid_column = \"customer\"\n\n[events.columns]"))
    return ingest_with_spec(spec, files, tmp_path / "ds", snapshot_date=snapshot)


def test_the_same_book_exported_a_month_later_changes_no_feature_at_a_past_date(tmp_path):
    first = _ingest(tmp_path / "march", _book("2024-03-31"), "2024-03-31")
    later = _ingest(tmp_path / "april", _book("2024-04-30"), "2024-04-30")
    lost = first.read("events").query("status == 'not_returned'")
    assert lost["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2023-12-31"]  # 90 days past due (UNSETTLED_DAYS)
    assert lost["days_late"].tolist() == [91.0]  # as late as it was then, not the file's 182
    one, two = (build_features(ds).frame.sort_values(["person_id", "as_of"]).reset_index(drop=True)
                for ds in (first, later))
    pd.testing.assert_frame_equal(one, two)
    assert one.set_index(["person_id", "as_of"]).loc[("b", pd.Timestamp("2024-03-01")), "last_days_late"] == 91


def test_without_a_snapshot_date_no_row_is_dated_after_the_last_day_the_file_writes(tmp_path):
    """The write-off due 2023-12-20 would be known unpaid on 2024-03-20; the file ends on 2024-01-31 (a
    return), so it is known by then at the latest, and no event lies after it."""
    book = _book("2024-01-31", due_b="2023-12-20").assign(returned_at=["2023-09-07", "2024-01-31", ""],
                                                          state=["returned", "returned_late", "not_returned"])
    ds = _ingest(tmp_path / "nosnap", book, None)
    lost = ds.read("events").query("status == 'not_returned'")  # a's return 143 days late: broken 90 days
    assert lost["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2023-12-10", "2024-01-31"]  # past due (UNSETTLED_DAYS)
    assert ds.read("events")["ts"].max() == pd.Timestamp("2024-01-31")  # the data set's last day stays
