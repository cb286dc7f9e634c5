"""data.ingest.refuse_contact: a hand-written spec that declares contact or identity data as an attribute is
refused at its line (the rule `spec draft` leaves such columns out by), unless it says allow_contact = true."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, load_spec

N = 40
PEOPLE = {
    "customer": [f"c{i}" for i in range(N)],
    "income": [1000.0 + 10 * i for i in range(N)],
    "has_phone": ["yes", "no"] * (N // 2),  # a yes/no named like contact data: an attribute
    "mail": [f"someone{i}@example.org" for i in range(N)],  # contact data by its values, whatever its name
    "full_name": [f"Person {i}" for i in range(N)],  # by its name and many values
    "default": [0, 1] * (N // 2),
}
SPEC = """spec_version = 1
name = "contacts"
[profile]
id_column = "customer"
ignore = {ignore}

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"

[[profile.attributes]]
name = "has_phone"
type = "categorical"
dimension = "identity"
{extra}
[outcomes]
source = "people"
label = "default"
bad = ["1"]
good = ["0"]
as_of = 2024-01-01
window_days = 365
"""
EMAIL = """
[[profile.attributes]]
name = "email"
column = "mail"
type = "categorical"
dimension = "identity"
{allow}
"""
NAME = """
[[profile.attributes]]
name = "full_name"
type = "categorical"
dimension = "identity"
"""


def _ingest(tmp_path: Path, extra: str, ignore: list[str], out: str = "ds"):
    pd.DataFrame(PEOPLE).to_csv(tmp_path / "people.csv", index=False)
    spec_path = tmp_path / "mine.toml"
    spec_path.write_text(SPEC.format(extra=extra, ignore=json.dumps(ignore)))
    return ingest_with_spec(load_spec(spec_path), {"people": tmp_path / "people.csv"}, tmp_path / out,
                            spec_file=str(spec_path))


def test_an_attribute_of_e_mail_addresses_is_refused_at_its_line_naming_no_value(tmp_path):
    with pytest.raises(SpecError) as err:
        _ingest(tmp_path, EMAIL.format(allow=""), ["full_name"])
    said = str(err.value)
    assert said.startswith(f"{tmp_path / 'mine.toml'}, line 19, field 'profile.attributes[2].column': ")
    assert "[profile] attribute 'email' (column 'mail'): its values look like e-mail addresses" in said
    assert "allow_contact = true" in said and "ignore" in said
    assert "@" not in said and "someone" not in said
    assert not (tmp_path / "ds").exists()  # nothing written


def test_an_attribute_named_for_identity_data_with_many_values_is_refused(tmp_path):
    with pytest.raises(SpecError, match=r"field 'profile.attributes\[2\].name': \[profile\] attribute 'full_name': "
                                        r"its name says contact or identity data") as err:
        _ingest(tmp_path, NAME, ["mail"])
    assert "Person" not in str(err.value)


def test_allow_contact_says_it_is_meant_and_is_stored_with_the_spec(tmp_path):
    ds = _ingest(tmp_path, EMAIL.format(allow="allow_contact = true"), ["full_name"])
    assert ds.spec.attribute("email").allow_contact and ds.read("people")["email"].notna().all()
    assert not ds.spec.attribute("income").allow_contact
    stored = json.loads((ds.root / "spec.json").read_text())
    assert [a.get("allow_contact") for a in stored["profile"]["attributes"]] == [None, None, True]


def test_a_spec_without_contact_data_ingests_and_keeps_its_stored_spec_text(tmp_path):
    ds = _ingest(tmp_path, "", ["mail", "full_name"])
    assert "allow_contact" not in (ds.root / "spec.json").read_text()  # the fingerprint it had before


def test_allow_contact_is_a_boolean(tmp_path):
    with pytest.raises(SpecError, match=r"line 22, field 'profile.attributes\[2\].allow_contact': expected a "
                                        r"boolean"):
        _ingest(tmp_path, EMAIL.format(allow='allow_contact = "yes"'), ["full_name"])


def test_a_further_profile_file_is_held_to_the_same_rule(tmp_path):
    pd.DataFrame({"customer": PEOPLE["customer"], "phone": [f"+44 7700 9{i:05d}" for i in range(N)]}).to_csv(
        tmp_path / "kyc.csv", index=False)
    pd.DataFrame(PEOPLE).to_csv(tmp_path / "people.csv", index=False)
    spec_path = tmp_path / "mine.toml"
    spec_path.write_text(SPEC.format(extra="", ignore=json.dumps(["mail", "full_name"])).replace(
        "[outcomes]", '[more_profile.kyc]\nid_column = "customer"\n\n[[more_profile.kyc.attributes]]\n'
                      'name = "mobile"\ncolumn = "phone"\ntype = "categorical"\ndimension = "identity"\n\n[outcomes]'))
    with pytest.raises(SpecError, match=r"\[more_profile.kyc\] attribute 'mobile' \(column 'phone'\): its values "
                                        r"look like phone numbers") as err:
        ingest_with_spec(load_spec(spec_path), {"people": tmp_path / "people.csv", "people:kyc": tmp_path / "kyc.csv"},
                         tmp_path / "ds", spec_file=str(spec_path))
    assert "field 'more_profile.kyc.attributes[0].column'" in str(err.value) and "7700" not in str(err.value)


def test_ingest_reads_the_contact_rule_without_loading_the_spec_drafter():
    """The rule lives with the data model (data.contact), so an ingest never imports the draft package, which
    only `spec draft` needs (it imported draft.left_out for the rule, loading the whole drafter)."""
    import subprocess
    import sys

    code = "import sys, deepcredit.data.ingest; print(any(m.startswith('deepcredit.data.draft') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
