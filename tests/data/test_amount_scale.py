"""[events] amount_scale: a ledger written in cents is stored, and read by every feature, in the currency."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml

SPEC = """spec_version = 1
name = "cents"

[profile]
id_column = "customer"

[events]
amount_scale = 0.01

[events.columns]
person_id = "customer"
ts = "day"
kind = "what"
amount = "cents"
status = "state"

[events.kinds]
invoice = { amount = "owed" }
payment = { amount = "paid" }

[events.statuses]
paid = { meaning = "kept" }

[outcomes]
person_id = "customer"
label = "bad"
as_of = 2024-06-01
window_days = 30
"""


def test_amounts_in_cents_are_stored_in_the_currency(tmp_path):
    pd.DataFrame({"customer": ["a"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"customer": ["a", "a"], "day": ["2024-01-01", "2024-01-20"], "what": ["invoice", "payment"],
                  "cents": [31937, 31937], "state": ["paid", "paid"]}).to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"customer": ["a"], "bad": ["0"]}).to_csv(tmp_path / "outcomes.csv", index=False)
    files = {n: tmp_path / f"{n}.csv" for n in ("people", "events", "outcomes")}
    ds = ingest_with_spec(spec_from_toml(SPEC), files, tmp_path / "ds")
    assert ds.read("events")["amount"].tolist() == pytest.approx([319.37, 319.37])
    assert ds.spec.events is not None and ds.spec.events.amount_scale == 1.0  # applied: stored in the currency


NO_AMOUNTS = SPEC.replace('amount = "cents"', 'amount = ""').replace('{ amount = "owed" }', "{}").replace(
    '{ amount = "paid" }', "{}")


@pytest.mark.parametrize("text, words", [
    (SPEC.replace("amount_scale = 0.01", "amount_scale = 0"), "greater than 0"),
    (NO_AMOUNTS, "no amount to scale"),
])
def test_a_scale_that_cannot_apply_names_its_field(text, words):
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(text)
    assert "amount_scale" in str(err.value.field)
