"""A negative amount owed or paid is refused at its file, row and column, with how a refund is declared;
an amount owed may be negative (a credit) only where it is a balance: the profile declares a credit line."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.data.validate import DataValidationError

SPEC = """spec_version = 1
name = "shop"

[profile]
id_column = "customer"
{line}
[events.columns]
person_id = "customer"
ts = "day"
kind = "what"
amount = "euros"
status = "state"

[events.kinds]
invoice = {{ amount = "owed" }}
payment = {{ amount = "paid" }}

[events.statuses]
paid = {{ meaning = "kept" }}
refunded = {{ meaning = "neutral", owes_nothing = true }}

[outcomes]
person_id = "customer"
label = "bad"
as_of = 2024-06-01
window_days = 30
"""
LINE = """
[[profile.attributes]]
name = "credit_limit"
type = "numeric"
role = "credit_line"
dimension = "fulfilment_capacity"
"""


def _ingest(tmp_path, what: str, amount: float, line: bool = False):
    people = pd.DataFrame({"customer": ["a"], **({"credit_limit": [1000.0]} if line else {})})
    events = pd.DataFrame({"customer": ["a", "a"], "day": ["2024-01-01", "2024-01-02"], "what": ["invoice", what],
                           "euros": [50.0, amount], "state": ["paid", "refunded"]})
    for name, frame in (("people", people), ("events", events), ("outcomes", pd.DataFrame({"customer": ["a"],
                                                                                          "bad": ["0"]}))):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    files = {n: tmp_path / f"{n}.csv" for n in ("people", "events", "outcomes")}
    return ingest_with_spec(spec_from_toml(SPEC.format(line=LINE if line else "")), files, tmp_path / "ds")


@pytest.mark.parametrize("what", ["invoice", "payment"])
def test_a_negative_amount_owed_or_paid_is_refused_at_its_row_with_how_to_declare_a_refund(tmp_path, what):
    with pytest.raises(DataValidationError, match="owes_nothing = true") as err:
        _ingest(tmp_path, what, -50.0)
    assert err.value.row == 2 and err.value.column == "euros" and "events.csv" in str(err.value)


def test_a_negative_amount_owed_is_a_credit_where_it_is_a_balance(tmp_path):
    ds = _ingest(tmp_path, "invoice", -50.0, line=True)
    assert sorted(ds.read("events")["amount"]) == [-50.0, 50.0]
