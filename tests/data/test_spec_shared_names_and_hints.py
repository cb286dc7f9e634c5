"""A modeller's own exports: two history files sharing a column name, a currency declared once for the
whole data set, outcomes recorded after the snapshot, and the hints an ingest error gives (an unknown
person in a relation, a file read in the wrong encoding)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset
from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import DatasetSpec, SpecError, spec_from_toml
from deepcredit.data.spec_events import Events
from deepcredit.data.validate import DataValidationError
from deepcredit.features.templates import currency, features_for

from .shop import SPEC, write_files

SNAPSHOT = "snapshot_date = 2024-09-01\n"
# a second export whose own amount column is "due_amount", and which records a number under the header
# "value": the name the first file ([events]) gives its amount column
BILLS = """
[more_events.bills.columns]
person_id = "client"
ts = "issued"
kind = ""
amount = "due_amount"
status = ""
due_ts = "due"
settled_ts = "paid_on"

[more_events.bills.kinds]
utility_bill = { amount = "owed" }

[[more_events.bills.measures]]
name = "value"
description = "the value of your bill"
dimension = "fulfilment_capacity"
"""


def _spec_text(extra: str = BILLS, head: str = SNAPSHOT) -> str:
    return SPEC.format(format="").replace("[profile]", head + "[profile]") + extra


def _files(tmp_path: Path) -> dict[str, Path]:
    paths = write_files(tmp_path / "shop", False)
    paths["events:bills"] = tmp_path / "bills.csv"
    pd.DataFrame({"client": ["c1", "c2"], "issued": ["2024-01-01", "2024-01-10"], "due": ["2024-01-31", "2024-02-10"],
                  "paid_on": ["2024-01-20", ""], "due_amount": ["40", "30"],
                  "value": ["7", "9"]}).to_csv(paths["events:bills"], index=False)
    return paths


# -- 1. two history files sharing a column name -------------------------------------------------------------


def test_a_measure_named_as_another_files_amount_column_is_stored_beside_the_amount(tmp_path):
    """[events] reads its amount from 'value'; the bills file has a measure 'value'. Each file is valid on
    its own; stored as one events table, the amount is stored as the amount, the measure under its name
    (before: a pydantic traceback, "'value' is already read as another of the file's columns")."""
    spec = spec_from_toml(_spec_text())
    stored = spec.stored()
    assert stored.events is not None and stored.events.columns.amount == "amount"  # its role's own name
    assert [m.name for m in stored.events.measures] == ["value"]
    ds = ingest_with_spec(spec, _files(tmp_path), tmp_path / "ds")
    events = ds.read("events")
    assert {"amount", "value"} <= set(events.columns)
    bills = events[events["kind"] == "utility_bill"].sort_values("person_id")
    assert bills["amount"].tolist() == [40.0, 30.0] and bills["value"].tolist() == [7.0, 9.0]
    assert Dataset(ds.root).spec.events.columns.amount == "amount"


def test_a_spec_without_such_a_clash_is_stored_as_before():
    """Only a header that is another file's measure is renamed: the merged spec keeps the first file's
    header otherwise (the stored spec text, and so the fingerprint, of existing data sets is unchanged)."""
    plain = BILLS.replace('name = "value"', 'name = "usage"').replace("value of your bill", "usage")
    stored = spec_from_toml(_spec_text(plain)).stored()
    assert stored.events is not None and stored.events.columns.amount == "value"


def test_spec_check_of_two_files_sharing_a_name_is_valid_and_never_a_traceback(tmp_path):
    spec = tmp_path / "shop.toml"
    spec.write_text(_spec_text())
    result = CliRunner().invoke(app, ["spec", "check", str(spec)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "Traceback" not in result.output


def test_a_spec_that_cannot_be_stored_is_a_located_spec_error_not_a_traceback(tmp_path, monkeypatch):
    """Whatever makes the merged [events] invalid is a SpecError naming the spec file, the line and the
    field of the history file it comes from, in `spec check` as in any other step."""

    def merged_without_kinds(self: DatasetSpec) -> DatasetSpec:
        assert self.events is not None
        return Events.model_validate({**self.events.model_dump(), "kinds": {}})  # type: ignore[return-value]

    monkeypatch.setattr(DatasetSpec, "stored", merged_without_kinds)
    text = _spec_text()
    with pytest.raises(SpecError) as caught:
        spec_from_toml(text, "shop.toml")
    line = text.splitlines().index("[events.kinds]") + 1
    assert str(caught.value) == (f"shop.toml, line {line}, field 'events.kinds': declare at least one event kind "
                                 "(once the history files are stored as one events table)")
    path = tmp_path / "shop.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["spec", "check", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output  # a usage error
    shown = " ".join(result.output.split())
    assert f"line {line}, field 'events.kinds': declare at least one event kind" in shown
    assert "Traceback" not in result.output


# -- 2. the data set's currency -----------------------------------------------------------------------------


def test_a_spec_level_currency_is_what_every_money_feature_shows():
    """The shop declares no credit line and no income role: its money was bare ('43.44'); `currency`
    declares it once for the data set."""
    old = spec_from_toml(_spec_text(""))
    assert currency(old) == "" and "money" in {f.unit for f in features_for(old)}
    spec = spec_from_toml(_spec_text("", head=SNAPSHOT + 'currency = "EUR"\n'))
    assert currency(spec) == "EUR"
    units = {f.name: f.unit for f in features_for(spec)}
    money = [name for name, unit in units.items() if "money" in unit]
    assert money and all("money:EUR" in units[name] for name in money), units
    assert "currency" not in old.stored().to_json()  # a spec without it keeps its stored text


def test_a_currency_that_contradicts_the_credit_lines_unit_is_refused():
    text = _spec_text("", head=SNAPSHOT + 'currency = "EUR"\n').replace(
        'name = "income"\ntype = "numeric"\n', 'name = "income"\ntype = "numeric"\nrole = "income"\nunit = "USD"\n')
    with pytest.raises(SpecError, match="'EUR', yet the income 'income' is in 'USD'"):
        spec_from_toml(text)
    same = spec_from_toml(text.replace('unit = "USD"', 'unit = "EUR"'))
    assert currency(same) == "EUR"


# -- 3. hints in ingest errors ------------------------------------------------------------------------------

RELATIONS = """
[relations]
directed = true
weighted = false

[relations.columns]
source = "who"
target = "whom"
ts = "since"
kind = ""
weight = ""
"""


def test_a_relation_to_an_unknown_person_names_the_option_that_drops_it(tmp_path):
    paths = write_files(tmp_path / "shop", False)
    paths["relations"] = tmp_path / "relations.csv"
    pd.DataFrame({"who": ["c1", "c2"], "whom": ["c2", "c9"], "since": ["2024-01-01", "2024-01-02"]}).to_csv(
        paths["relations"], index=False)
    with pytest.raises(DataValidationError, match=r"row 2 .*not a person_id in the people table; .*"
                                                  r'unknown_people = "drop" under \[relations\]'):
        ingest_with_spec(spec_from_toml(_spec_text(RELATIONS)), paths, tmp_path / "ds")
    dropped = RELATIONS.replace("directed = true", 'directed = true\nunknown_people = "drop"')
    with pytest.warns(UserWarning, match="1 of 2 relations"):
        ds = ingest_with_spec(spec_from_toml(_spec_text(dropped)), paths, tmp_path / "ds2")
    assert len(ds.read("relations")) == 1


def test_an_encoding_hint_tells_a_mis_decoded_header_from_a_missing_column():
    from deepcredit.data.validate import encoding_hint

    utf8_as_latin1 = "fällig_am".encode().decode("latin-1")  # 'fÃ¤llig_am'
    assert "probably UTF-8" in encoding_hint("fällig_am", ["kunde", utf8_as_latin1], "latin-1")
    assert "probably UTF-8" in encoding_hint("fällig_am", ["fällig_am".encode().decode("cp1252")], "cp1252")
    latin1_as_utf8 = "fällig_am".encode("latin-1").decode("utf-8", errors="replace")  # 'f\ufffdllig_am'
    assert "probably not UTF-8" in encoding_hint("fällig_am", [latin1_as_utf8], "utf-8")
    assert encoding_hint("fällig_am", ["kunde", "faellig_am"], "latin-1") == ""  # a column simply missing
    assert encoding_hint("due", ["kunde"], "utf-8") == ""


@pytest.mark.parametrize(("written", "declared", "said"), [("utf-8", "latin-1", "probably UTF-8"),
                                                           ("latin-1", "utf-8", "probably not UTF-8")])
def test_a_file_read_in_the_wrong_encoding_says_which_encoding_it_probably_has(tmp_path, written, declared, said):
    paths = write_files(tmp_path / "shop", False)
    people = pd.read_csv(paths["people"], dtype=str).rename(columns={"income": "einkünfte"})
    people.to_csv(paths["people"], index=False, encoding=written)
    text = _spec_text("").replace('name = "income"', 'name = "income"\ncolumn = "einkünfte"').replace(
        "[profile]", f'[format]\nencoding = "{declared}"\n\n[profile]')
    with pytest.raises(SpecError, match=f"column 'einkünfte' is not in .*the file is {said}"):
        ingest_with_spec(spec_from_toml(text), paths, tmp_path / "ds")


# -- 4. outcomes recorded after the snapshot -----------------------------------------------------------------


def _loans(tmp_path: Path, outcomes: str) -> str:
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(6)],
                  "issue_d": ["2023-01-10", "2023-06-01", "2023-10-01", "2024-02-01", "2024-03-01", "2024-05-01"],
                  "grade": list("ABABAB"), "default": [0, 1, 0, 1, 0, 0]}).to_csv(tmp_path / "loans.csv", index=False)
    return draft_spec(tmp_path / "loans.csv").replace("[outcomes]", f"[outcomes]\n{outcomes}")


def test_the_open_window_warning_says_how_to_state_when_outcomes_were_recorded(tmp_path):
    text = _loans(tmp_path, "")
    with pytest.warns(UserWarning, match=r"3 of 4 good labels .* snapshot date 2024-09-01: they may still go bad "
                                         r'\(open_windows = "unknown" in \[outcomes\] leaves them out; outcomes '
                                         r"recorded after the snapshot date: say when with observed_on = DATE"):
        ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds",
                         snapshot_date="2024-09-01")


def test_outcomes_recorded_after_every_window_ended_are_final(tmp_path):
    """The events extracted at the cut-off, the defaults observed once every window has ended: no label is
    open, so none is warned of, and open_windows = "unknown" leaves none out."""
    text = _loans(tmp_path, 'observed_on = 2025-06-01\nopen_windows = "unknown"')
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*may still go bad")
        ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds",
                              snapshot_date="2024-09-01")
    assert ds.read("outcomes")["label"].tolist() == [0, 1, 0, 1, 0, 0]
    # recorded earlier than that, the windows still open then are counted against it
    text = _loans(tmp_path, "observed_on = 2025-02-15")
    with pytest.warns(UserWarning, match=r"2 of 4 good labels .* after the outcomes were recorded \(observed_on\) "
                                         "2025-02-15"):
        ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds2",
                         snapshot_date="2024-09-01")


def test_observed_on_applies_to_labels_read_not_told_from_the_events():
    text = _spec_text("").replace('[outcomes]\nperson_id = "customer"', '[outcomes]\nsource = "events"\n'
                                  "as_of = 2024-03-01\nobserved_on = 2025-01-01")
    with pytest.raises(SpecError, match="field 'outcomes.observed_on': labels told from the events are known"):
        spec_from_toml(text)
