"""What counts as money asked to pay: a row that never ran (a refund, a status declared owes_nothing) owes
nothing and is no commitment; an open row counts once due; a neutral status without the flag (a revolving
statement) still owes its amount; money repaid is no record where nothing was ever owed or repaid."""

from __future__ import annotations

import pandas as pd
import pytest
import worlds

from deepcredit.data.dataset import write_dataset
from deepcredit.data.ingest import empty_table
from deepcredit.data.schema import RELATIONS
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.features.engine import build_features

SPEC = """spec_version = 1
name = "refunds"

[events.columns]
due_ts = "due_ts"

[events.kinds]
invoice = { amount = "owed" }
payment = { amount = "paid" }

[events.statuses]
settled = { meaning = "kept" }
refunded = { meaning = "neutral", owes_nothing = true }
revolving = { meaning = "neutral" }
pending = { meaning = "open" }

[outcomes]
window_days_column = "window_days"
"""


def _features(tmp_path) -> pd.DataFrame:
    rows = [  # person, day, kind, amount, status, due day
        ("a", -60, "invoice", 300.0, "settled", -60),
        ("a", -50, "invoice", 100.0, "refunded", -40),  # returned: nothing owed
        ("a", -55, "payment", 300.0, "settled", None),
        ("b", -40, "invoice", 100.0, "settled", -40),
        ("b", -40, "payment", 100.0, "settled", None),
        ("b", -10, "invoice", 200.0, "pending", 20),  # not yet due at as_of
        ("c", -40, "invoice", 100.0, "pending", -5),  # due, not paid
        ("c", -40, "payment", 50.0, "settled", None),
        ("d", -30, "invoice", 80.0, "revolving", -20),  # a statement carried over: still owed
        ("d", -25, "payment", 20.0, "settled", None),
        ("f", -30, "invoice", 60.0, "settled", -20),  # owed, repaid nothing
    ]
    events = pd.DataFrame([(p, worlds.ts(t), k, a, s, worlds.ts(d) if d is not None else pd.NaT)
                           for p, t, k, a, s, d in rows],
                          columns=["person_id", "ts", "kind", "amount", "status", "due_ts"])
    for c in ("ts", "due_ts"):
        events[c] = events[c].astype("datetime64[us]")
    ids = ["a", "b", "c", "d", "e", "f"]  # e: no row at all
    outcomes = pd.DataFrame({"person_id": ids, "as_of": pd.Series([worlds.AS_OF] * 6, dtype="datetime64[us]"),
                             "label": [0, 0, 1, 0, 0, 1], "window_days": [90] * 6})
    frames = {"people": pd.DataFrame({"person_id": ids}), "events": events, "relations": empty_table(RELATIONS),
              "outcomes": outcomes}
    ds = write_dataset(tmp_path / "w", frames, "refunds", "2026-01-01", spec=spec_from_toml(SPEC))
    return build_features(ds).frame.set_index("person_id")


def test_a_refund_owes_nothing_and_an_instalment_not_yet_due_is_not_yet_owed(tmp_path):
    f = _features(tmp_path)
    assert f.loc["a", "amount_billed_180d"] == 300.0 and f.loc["a", "paid_to_billed_180d"] == 1.0
    assert f.loc["a", "n_outcomes"] == 2  # the settled invoice and payment; the refund is no commitment
    assert f.loc["a", "last_bill_amount"] == 300.0
    assert f.loc["b", "amount_billed_180d"] == 100.0 and f.loc["b", "paid_to_billed_180d"] == 1.0
    assert f.loc["c", "amount_billed_180d"] == 100.0 and f.loc["c", "paid_to_billed_180d"] == 0.5  # due: owed
    assert f.loc["d", "amount_billed_180d"] == 80.0 and f.loc["d", "n_outcomes"] == 2  # neutral, still owed


@pytest.mark.parametrize("meaning", ["kept", "late", "broken", "open"])
def test_only_a_neutral_status_can_owe_nothing(meaning):
    text = SPEC.replace('refunded = { meaning = "neutral"', f'refunded = {{ meaning = "{meaning}"')
    with pytest.raises(SpecError, match="owes_nothing applies to a status meaning neutral"):
        spec_from_toml(text)


def test_money_repaid_reads_as_no_record_where_nothing_was_ever_owed_or_repaid(tmp_path):
    """Not 'how much you repaid: 0.00' with advice to repay more, for someone who never owed anything."""
    f = _features(tmp_path)
    assert f["amount_paid_180d"].isna().tolist() == [False, False, False, False, True, False]
    assert f.loc["f", "amount_paid_180d"] == 0.0 and f.loc["f", "amount_paid_30d"] == 0.0  # owed, paid nothing
    assert pd.isna(f.loc["e", "amount_paid_30d"]) and pd.isna(f.loc["e", "amount_paid_90d"])
