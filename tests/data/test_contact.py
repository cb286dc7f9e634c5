"""Contact data never appear in an ingest error: not the text of a free-text (number_in_text) attribute, not a
value of a column named for contact data, not an e-mail address or phone number in any column; the row and
column still say where to look."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml

SPEC = """spec_version = 1
name = "probe"

[profile]
id_column = "customer_id"

[[profile.attributes]]
name = "{name}"
type = "{type}"
{extra}
dimension = "identity"
description = "your {name}"

[outcomes]
source = "people"
label = "defaulted"
bad = ["1"]
good = ["0"]
as_of = 2024-01-01
window_days = 365
"""


def _ingest(tmp_path, name: str, kind: str, values: list[str], extra: str = "") -> None:
    pd.DataFrame({"customer_id": ["c1", "c2", "c3"], name: values, "defaulted": ["0", "1", "0"]}
                 ).to_csv(tmp_path / "people.csv", index=False)
    spec = spec_from_toml(SPEC.format(name=name, type=kind, extra=extra))
    ingest_with_spec(spec, {"people": tmp_path / "people.csv"}, tmp_path / "ds")


@pytest.mark.parametrize(("name", "kind", "extra", "bad"), [
    ("email", "numeric", "number_in_text = true", "jane.doe@example.org"),  # was repeated in full
    ("phone", "numeric", "", "+44 7700 900 009 ext Jane"),
    ("note", "ordinal", 'order = ["a", "b"]', "call jane on 0151 2345678"),
])
def test_an_error_never_repeats_contact_data(tmp_path, name, kind, extra, bad):
    with pytest.raises(DataValidationError) as err:
        _ingest(tmp_path, name, kind, ["1" if kind == "numeric" else "a", bad, "2" if kind == "numeric" else "b"],
                extra)
    said = str(err.value)
    assert "row 2" in said and f"column '{name}'" in said and "not shown" in said
    assert "jane" not in said.lower() and "7700" not in said and "2345678" not in said


def test_other_values_are_still_repeated_so_they_can_be_found(tmp_path):
    with pytest.raises(DataValidationError, match=r"'lots' is not a number"):
        _ingest(tmp_path, "income", "numeric", ["1200", "lots", "900"])


def test_contact_words_and_texts():
    from deepcredit.data.contact import contact_named, holds_contact  # (a module of this change)

    assert contact_named("E-Mail") and contact_named("phone_number") and contact_named("IBAN")
    assert not contact_named("has_phone_app_minutes") and not contact_named("product_name")
    assert holds_contact("+49 30 1234567") and holds_contact("x: a.b@c.de")
    assert not holds_contact("1234567.5") and not holds_contact("01/02/2024") and not holds_contact("2024-01-02")


def test_a_tax_amount_is_not_a_tax_id():
    from deepcredit.data.contact import contact_named

    assert contact_named("tax_id") and contact_named("TaxNumber".lower()) and contact_named("customer_tax_no")
    assert not contact_named("income_tax") and not contact_named("tax") and not contact_named("monthly_tax")


def test_a_date_and_time_is_not_taken_for_a_phone_number():
    from deepcredit.data.contact import holds_contact

    for stamp in ("2031-03-01 00:00:00", "2024-01-31 12:30:00.000000", "01/02/2024 10:00", "2031-03-01 00:00:00+00:00"):
        assert not holds_contact(stamp), stamp  # the digits of a month, a day and a time were read as a phone's
    assert holds_contact("call 0151 2345678 on 2024-01-02 10:00") and holds_contact("0171 2345678")


def test_a_future_date_and_time_is_shown_as_written(tmp_path):
    with pytest.raises(DataValidationError) as err:
        _ingest(tmp_path, "joined", "date", ["2020-01-01", "2031-03-01 00:00:00", "2021-05-01"])
    said = str(err.value)  # was "the value (not shown: it holds contact data) is in the future"
    assert "'2031-03-01 00:00:00' is in the future" in said and "not shown" not in said
