"""Several history files, each declared in its own words, stored as one events table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset
from deepcredit.data.ingest import (
    events_by_meaning,
    history_files,
    ingest_with_spec,
    lookup_files,
    profile_files,
    validate_stored,
)
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError

from .shop import SPEC, write_files

BILLS = """
[more_events.bills]
ignore = ["bill_no"]

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
"""
SNAPSHOT = 'snapshot_date = 2024-09-01\n'


def _files(tmp_path: Path) -> dict[str, Path]:
    paths = write_files(tmp_path / "shop", False)
    paths["events:bills"] = tmp_path / "bills.csv"
    pd.DataFrame({"client": ["c1", "c2", "c3"], "bill_no": ["b1", "b2", "b3"],
                  "issued": ["2024-01-01", "2024-01-01", "2024-01-10"],
                  "due": ["2024-01-31", "2024-01-31", "2024-02-10"],
                  "paid_on": ["2024-01-20", "2024-02-15", ""],
                  "due_amount": ["40", "55.5", "30"]}).to_csv(paths["events:bills"], index=False)
    return paths


def _spec_text(extra: str = BILLS) -> str:
    """The shop's spec with its snapshot date, and `extra` sections."""
    return SPEC.format(format="").replace("[profile]", SNAPSHOT + "[profile]") + extra


def _spec(extra: str = BILLS):
    return spec_from_toml(_spec_text(extra))


def test_two_history_files_are_stored_as_one_events_table_in_their_own_words(tmp_path):
    ds = ingest_with_spec(_spec(), _files(tmp_path), tmp_path / "ds")
    events = ds.read("events").sort_values(["person_id", "ts"]).reset_index(drop=True)
    assert sorted(events["kind"].unique()) == ["invoice", "payment", "utility_bill"]
    bills = events[events["kind"] == "utility_bill"].set_index("person_id")
    # statuses told from the bills' own due and paid dates; the late one is dated when it was paid
    assert bills["status"].to_dict() == {"c1": "on_time", "c2": "late", "c3": "missed"}
    assert bills.loc["c2", "ts"] == pd.Timestamp("2024-02-15")
    assert events_by_meaning(ds) == {"kept": 3, "late": 1, "broken": 2}
    # the stored spec is one [events] for the one table: both files' kinds and statuses
    stored = Dataset(ds.root).spec
    assert stored.more_events == {} and stored.events is not None
    assert set(stored.events.kinds) == {"invoice", "payment", "utility_bill"}
    assert {"settled", "bounced", "on_time", "late", "missed", "open"} == set(stored.events.statuses)


def test_a_value_declared_differently_in_two_files_is_refused_at_its_line():
    clash = BILLS.replace('utility_bill = { amount = "owed" }', 'invoice = { amount = "paid" }')
    with pytest.raises(SpecError, match=r"'invoice' is declared differently in \[events.kinds\]") as err:
        spec_from_toml(SPEC.format(format="") + clash)
    assert err.value.field == "more_events.bills.kinds.invoice"
    with pytest.raises(SpecError, match="declare the first history file as"):
        spec_from_toml(SPEC.format(format="").split("[events.columns]")[0] + "[outcomes]\nlabel = 'x'\n"
                       "as_of = 2024-01-01\nwindow_days = 30\n" + BILLS)


def test_each_history_file_is_checked_in_its_own_words(tmp_path):
    paths = _files(tmp_path)
    text = paths["events:bills"].read_text().replace("55.5", "lots")
    paths["events:bills"].write_text(text)
    with pytest.raises(DataValidationError) as err:
        ingest_with_spec(_spec(), paths, tmp_path / "ds")
    assert err.value.file == str(paths["events:bills"]) and err.value.column == "due_amount"
    assert err.value.line == 3
    missing = {k: v for k, v in paths.items() if k != "events:bills"}
    with pytest.raises(DataValidationError, match=r"give the file with --events bills=FILE"):
        ingest_with_spec(_spec(), missing, tmp_path / "ds")
    with pytest.raises(SpecError, match=r"declares no \[more_events.bills\]"):
        ingest_with_spec(_spec(""), paths, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_history_files_from_the_command_line(tmp_path):
    assert history_files(["a.csv", "bills=b.csv"]) == {"events": Path("a.csv"), "events:bills": Path("b.csv")}
    with pytest.raises(DataValidationError, match="name the others as NAME=FILE"):
        history_files(["a.csv", "b.csv"])
    assert lookup_files(["accounts=a.csv"]) == {"lookup:accounts": Path("a.csv")}
    with pytest.raises(DataValidationError, match="give it as NAME=FILE"):
        lookup_files(["a.csv"])
    paths = _files(tmp_path)
    spec = tmp_path / "shop.toml"
    spec.write_text(_spec_text(BILLS))
    result = CliRunner().invoke(app, ["ingest", "--spec", str(spec), "--people", str(paths["people"]),
                                      "--events", str(paths["events"]), "--events", f"bills={paths['events:bills']}",
                                      "--outcomes", str(paths["outcomes"]), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "events: 6" in shown and "broken 2" in shown


def test_a_draft_gives_each_history_file_its_own_section_that_ingests(tmp_path):
    from deepcredit.data.draft import draft_spec

    paths = _files(tmp_path)
    text = draft_spec(paths["people"], "shop", events=paths["events"], outcomes=paths["outcomes"],
                      more_events={"bills": paths["events:bills"]})
    for line in ("[more_events.bills]", "[more_events.bills.columns]", 'person_id = "client"', 'due_ts = "due"',
                 'settled_ts = "paid_on"', "[more_events.bills.kinds]", 'bills = { amount = "owed" }',
                 "--events bills=bills.csv", 'kind = ""  # check: no kind column found'):
        assert line in text, line
    assert "[more_events.bills.statuses]" not in text  # told from the dates
    # the bills' issue date has no date-like name: the modeller names it, and the draft ingests
    edited = text.replace('ignore = ["bill_no", "issued"]', 'ignore = ["bill_no"]').replace(
        'ts = "TODO"', 'ts = "issued"').replace("[profile]", SNAPSHOT + "[profile]")
    ds = ingest_with_spec(spec_from_toml(edited), paths, tmp_path / "ds")
    assert ds.read("events")["kind"].value_counts().to_dict() == {"bills": 3, "invoice": 1, "payment": 2}
    # the look-back windows are drafted commented out, and read as written once uncommented
    weekly = edited.replace("# [windows]", "[windows]").replace("# period = 30", "period = 7").replace(
        "# recent = 90", "recent = 28").replace("# medium = 180", "medium = 84").replace("# long = 365", "long = 182")
    assert spec_from_toml(edited).windows.period == 30 and spec_from_toml(weekly).windows.long == 182



def test_a_history_file_naming_people_as_the_profile_does_needs_no_person_column(tmp_path):
    paths = _files(tmp_path)
    bills = pd.read_csv(paths["events:bills"], dtype=str, keep_default_na=False).rename(columns={"client": "customer"})
    bills.to_csv(paths["events:bills"], index=False)
    ds = ingest_with_spec(_spec(BILLS.replace('person_id = "client"\n', "")), paths, tmp_path / "ds")
    assert (ds.read("events")["kind"] == "utility_bill").sum() == 3


TRANSACTIONS = """
[lookups.accounts]
key = "account"
person_id = "owner"

[more_events.tx]
person_via = "accounts"

[more_events.tx.columns]
person_id = "account"
ts = "booked"
kind = ""
amount = "paid"
status = ""
days_late = "days_late"

[more_events.tx.kinds]
card_payment = { amount = "paid" }
"""


def test_a_history_keyed_by_account_reads_each_row_as_the_accounts_owner(tmp_path):
    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"account": ["A1", "A2", "A3"], "owner": ["c1", "c2", "c1"], "branch": ["x", "y", "z"]}).to_csv(
        tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"account": ["A1", "A3", "A2"], "booked": ["2024-01-10", "2024-01-12", "2024-01-15"],
                  "paid": [10, 20, 30], "days_late": [0, 5, 0]}).to_csv(tmp_path / "tx.csv", index=False)
    spec = _spec(TRANSACTIONS.replace('owner"\n', 'owner"\nignore = ["branch"]\n', 1))
    sources = {**paths, "events:tx": tmp_path / "tx.csv", "lookup:accounts": tmp_path / "accounts.csv"}
    ds = ingest_with_spec(spec, sources, tmp_path / "ds")
    tx = ds.read("events").query("kind == 'card_payment'").sort_values("ts")
    assert tx["person_id"].tolist() == ["c1", "c1", "c2"] and tx["status"].tolist() == ["on_time", "late", "on_time"]
    assert ds.spec.lookups == {} and ds.spec.events is not None and ds.spec.events.person_via is None
    pd.DataFrame({"account": ["A1", "A9"], "booked": ["2024-01-10", "2024-01-12"], "paid": [10, 20],
                  "days_late": [0, 0]}).to_csv(tmp_path / "tx.csv", index=False)
    with pytest.raises(DataValidationError, match=r"tx.csv, row 2 \(line 3\), column 'account': the value \(not shown: an identifier\) is not a key "
                                                  "of the lookup table 'accounts'"):
        ingest_with_spec(spec, sources, tmp_path / "ds2")
    with pytest.raises(DataValidationError, match="--lookup accounts=FILE"):
        ingest_with_spec(spec, {k: v for k, v in sources.items() if k != "lookup:accounts"}, tmp_path / "ds3")
    with pytest.raises(SpecError, match="'bank' is not a lookup table the spec declares"):
        spec_from_toml(SPEC.format(format="") + TRANSACTIONS.replace('person_via = "accounts"', 'person_via = "bank"'))


def test_a_draft_reads_a_lookup_table_and_the_history_keyed_by_it(tmp_path):
    from deepcredit.data.draft import draft_spec

    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"account_id": ["A1", "A2", "A3"], "customer": ["c1", "c2", "c1"], "branch": ["x", "y", "z"]}
                 ).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"account_id": ["A1", "A3", "A2"], "booked_at": ["2024-01-10", "2024-01-12", "2024-01-15"],
                  "amount": [10, 20, 30], "status": ["ok", "late", "ok"]}).to_csv(tmp_path / "tx.csv", index=False)
    text = draft_spec(paths["people"], "shop", events=paths["events"], outcomes=paths["outcomes"],
                      more_events={"tx": tmp_path / "tx.csv"}, lookups={"accounts": tmp_path / "accounts.csv"})
    for line in ("[lookups.accounts]", 'key = "account_id"  # check', 'person_id = "customer"', 'ignore = ["branch"]',
                 'person_via = "accounts"  # check', "--lookup accounts=accounts.csv"):
        assert line in text, line
    assert spec_from_toml(text.replace('TODO = {', 'x = {')).more_events["tx"].person_via == "accounts"


KYC = """
[more_profile.kyc]
id_column = "customer_id"
ignore = ["checked_by"]

[[more_profile.kyc.attributes]]
name = "verified"
type = "boolean"
dimension = "identity"

[[more_profile.kyc.attributes]]
name = "occupation"
type = "categorical"
dimension = "identity"
"""


def test_a_second_profile_file_joins_the_people_by_their_id(tmp_path):
    from deepcredit.features.templates import features_for

    paths = write_files(tmp_path / "shop", False)
    kyc = pd.DataFrame({"customer_id": ["c1", "c3"], "verified": ["yes", "no"], "occupation": ["nurse", "driver"],
                        "checked_by": ["x", "y"]})
    kyc.to_csv(tmp_path / "kyc.csv", index=False)
    spec = _spec(KYC)
    sources = {**paths, "people:kyc": tmp_path / "kyc.csv"}
    ds = ingest_with_spec(spec, sources, tmp_path / "ds")
    people = ds.read("people").set_index("person_id")
    assert people["occupation"].astype(object).where(people["occupation"].notna(), None).to_dict() == \
        {"c1": "nurse", "c2": None, "c3": "driver"}
    assert bool(people.loc["c1", "verified"]) and pd.isna(people.loc["c2", "verified"])
    assert {"verified", "occupation"} <= {f.name for f in features_for(ds.spec)}
    kyc.assign(customer_id=["c1", "c9"]).to_csv(tmp_path / "kyc.csv", index=False)
    with pytest.raises(DataValidationError, match=r"kyc.csv, row 2 \(line 3\), column 'customer_id': the value \(not shown: an identifier\) is not a "
                                                  "person_id"):
        ingest_with_spec(spec, sources, tmp_path / "ds2")
    with pytest.raises(SpecError, match=r"'income' is also an attribute of \[profile\]"):
        spec_from_toml(SPEC.format(format="") + KYC.replace('name = "verified"', 'name = "income"'))
    assert profile_files(["p.csv", "kyc=k.csv"]) == {"people": Path("p.csv"), "people:kyc": Path("k.csv")}


def test_a_draft_gives_another_profile_file_its_section(tmp_path):
    from deepcredit.data.draft import draft_spec

    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"customer": ["c1", "c3"], "verified": ["yes", "no"], "occupation": ["nurse", "driver"]}).to_csv(
        tmp_path / "kyc.csv", index=False)
    text = draft_spec(paths["people"], "shop", outcomes=paths["outcomes"], more_profile={"kyc": tmp_path / "kyc.csv"})
    for line in ("[more_profile.kyc]", 'id_column = "customer"', "[[more_profile.kyc.attributes]]",
                 'name = "verified"', 'type = "boolean"', "--people kyc=kyc.csv"):
        assert line in text, line
    spec = spec_from_toml(text)
    assert [a.name for a in spec.stored().profile.attributes][-2:] == ["verified", "occupation"]


BUREAU = """
[more_profile.bureau]
id_column = "customer_id"
valid_from = "reported_on"

[[more_profile.bureau.attributes]]
name = "bureau_score"
type = "numeric"
dimension = "credit_history"
"""


def _bureau(tmp_path, rows: dict):
    tmp_path.mkdir(exist_ok=True)
    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame(rows).to_csv(tmp_path / "bureau.csv", index=False)
    spec = _spec(BUREAU)
    return ingest_with_spec(spec, {**paths, "people:bureau": tmp_path / "bureau.csv"}, tmp_path / "ds")


def test_a_second_profile_file_with_its_own_history_adds_versions_each_as_of_date_reads_in_time(tmp_path):
    """c1's bureau score: 600 since always, 450 from 2024-02-01; c2's first report comes after the as-of date."""
    from deepcredit.features.engine import build_features

    ds = _bureau(tmp_path, {"customer_id": ["c1", "c1", "c2"], "reported_on": ["", "2024-02-01", "2024-05-01"],
                            "bureau_score": [600, 450, 700]})
    assert ds.spec.profile.valid_from
    people = ds.read("people").sort_values(["person_id", "valid_from"], na_position="first")
    assert people["person_id"].tolist() == ["c1", "c1", "c2", "c2", "c3"]
    assert people["bureau_score"].tolist()[:2] == [600, 450] and pd.isna(people["bureau_score"].iloc[2])
    assert people.groupby("person_id")["income"].nunique().to_dict() == {"c1": 1, "c2": 1, "c3": 0}  # kept on each
    at = build_features(ds).frame.set_index("person_id")  # as of 2024-03-01
    assert at.loc["c1", "bureau_score"] == 450 and pd.isna(at.loc["c2", "bureau_score"])
    assert at.loc["c2", "income"] == 980  # the main file's values on the later file's versions too


def test_a_report_dated_after_the_as_of_date_changes_no_feature(tmp_path):
    from deepcredit.features.engine import build_features

    rows = {"customer_id": ["c1", "c2"], "reported_on": ["2024-01-01", "2024-01-01"], "bureau_score": [600, 700]}
    before = build_features(_bureau(tmp_path / "a", rows)).frame
    later = {k: [*v, *w] for (k, v), w in zip(rows.items(), (["c1"], ["2024-03-01"], [300]), strict=True)}
    after = build_features(_bureau(tmp_path / "b", later)).frame  # c1 reported again on the as-of date itself
    pd.testing.assert_frame_equal(before, after)


def test_a_second_profile_file_with_history_refuses_a_duplicate_version(tmp_path):
    with pytest.raises(DataValidationError, match=r"bureau.csv, row 2 .*duplicate customer_id/reported_on"):
        _bureau(tmp_path, {"customer_id": ["c1", "c1"], "reported_on": ["2024-01-01", "2024-01-01"],
                           "bureau_score": [600, 450]})


def test_a_draft_of_a_second_profile_file_with_several_rows_a_person_gives_it_a_history(tmp_path):
    from deepcredit.data.draft import draft_spec

    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"customer": ["c1", "c1", "c2"], "reported_on": ["2023-01-01", "2024-02-01", "2024-01-01"],
                  "bureau_score": [600, 450, 700]}).to_csv(tmp_path / "bureau.csv", index=False)
    text = draft_spec(paths["people"], "shop", outcomes=paths["outcomes"],
                      more_profile={"bureau": tmp_path / "bureau.csv"})
    assert 'id_column = "customer"\nvalid_from = "reported_on"  # check' in text
    assert spec_from_toml(text).more_profile["bureau"].valid_from == "reported_on"


BRANCHES = """
[more_profile.branches]
id_column = "code"
join_on = "branch"

[[more_profile.branches.attributes]]
name = "branch_unemployment"
column = "unemployment"
type = "numeric"
dimension = "identity"
"""


def _branches(tmp_path, branches: dict, spec_text: str = BRANCHES, branch=("N1", "S2", "N1")):
    tmp_path.mkdir(exist_ok=True)
    paths = write_files(tmp_path / "shop", False)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False).assign(branch=list(branch))
    people.to_csv(paths["people"], index=False)
    pd.DataFrame(branches).to_csv(tmp_path / "branches.csv", index=False)
    return ingest_with_spec(_spec(spec_text), {**paths, "people:branches": tmp_path / "branches.csv"}, tmp_path / "ds")


def test_a_file_about_what_people_share_joins_on_their_value(tmp_path):
    """A branch's (a district's) figures reach every customer of it; a value the file lacks gives nothing."""
    from deepcredit.features.engine import build_features

    ds = _branches(tmp_path, {"code": ["N1", "S2", "E3"], "unemployment": ["3.5", "7.25", "1.0"]},
                   branch=("N1", "S2", "W9"))
    people = ds.read("people").set_index("person_id")
    assert people["branch_unemployment"].tolist()[:2] == [3.5, 7.25] and pd.isna(people.loc["c3", "branch_unemployment"])
    assert "branch" not in people.columns  # the key joined on is not an attribute
    at = build_features(ds).frame.set_index("person_id")
    assert at.loc["c2", "branch_unemployment"] == 7.25


def test_a_shared_value_joined_on_an_attribute_matches_as_that_attribute_reads(tmp_path):
    """district_id declared numeric: 18 in one file and 18.0 in the other are one district."""
    spec_text = (_spec_text("").replace('[events.columns]', '[[profile.attributes]]\nname = "branch"\ntype = '
                                        '"numeric"\ndimension = "identity"\n\n[events.columns]', 1) + BRANCHES)
    tmp_path.mkdir(exist_ok=True)
    paths = write_files(tmp_path / "shop", False)
    pd.read_csv(paths["people"], dtype=str, keep_default_na=False).assign(branch=["18", "7", "18"]).to_csv(
        paths["people"], index=False)
    pd.DataFrame({"code": ["18.0", "7"], "unemployment": ["2", "4"]}).to_csv(tmp_path / "branches.csv", index=False)
    ds = ingest_with_spec(spec_from_toml(spec_text), {**paths, "people:branches": tmp_path / "branches.csv"},
                          tmp_path / "ds")
    assert ds.read("people").set_index("person_id")["branch_unemployment"].to_dict() == {"c1": 2, "c2": 4, "c3": 2}


def test_a_shared_file_with_a_value_twice_or_none_is_refused_at_its_row(tmp_path):
    with pytest.raises(DataValidationError, match=r"branches.csv, row 2 \(line 3\), column 'code'"):
        _branches(tmp_path / "twice", {"code": ["N1", "N1"], "unemployment": ["3.5", "7"]})
    with pytest.raises(DataValidationError, match=r"branches.csv, row 2 \(line 3\), column 'code'"):
        _branches(tmp_path / "none", {"code": ["N1", ""], "unemployment": ["3.5", "7"]})


def test_a_shared_file_with_a_history_gives_each_person_the_version_valid_before_the_as_of_date(tmp_path):
    """A branch's yearly figures: as of T a customer holds the version of their branch valid strictly before T,
    and a customer who changes branch takes the new branch's figures from the change on."""
    from deepcredit.features.engine import build_features

    dated = BRANCHES.replace('join_on = "branch"', 'join_on = "branch"\nvalid_from = "since"')
    shop = _spec_text("").replace('[profile]\nid_column = "customer"',
                                  '[profile]\nid_column = "customer"\nvalid_from = "moved"')
    tmp_path.mkdir(exist_ok=True)
    paths = write_files(tmp_path / "shop", False)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False)
    moved = people.iloc[[0]].assign(branch="S2", moved="2024-02-20")  # c1 moves from N1 to S2
    pd.concat([people.assign(branch=["N1", "S2", "N1"], moved=""), moved]).to_csv(paths["people"], index=False)
    pd.DataFrame({"code": ["N1", "N1", "S2"], "since": ["", "2024-02-01", ""],
                  "unemployment": ["3.5", "9", "7.25"]}).to_csv(tmp_path / "branches.csv", index=False)
    ds = ingest_with_spec(spec_from_toml(shop + dated), {**paths, "people:branches": tmp_path / "branches.csv"},
                          tmp_path / "ds")
    spine = pd.DataFrame({"person_id": ["c1", "c3"] * 3,
                          "as_of": pd.to_datetime(["2024-01-15"] * 2 + ["2024-02-10"] * 2 + ["2024-03-01"] * 2)})
    frame = build_features(ds, spine=spine).frame
    got = {(r.person_id, str(r.as_of.date())): r.branch_unemployment for r in frame.itertuples()}
    assert got == {("c1", "2024-01-15"): 3.5, ("c3", "2024-01-15"): 3.5,  # N1 before its new figure
                   ("c1", "2024-02-10"): 9.0, ("c3", "2024-02-10"): 9.0,  # N1's figure from 1 February
                   ("c1", "2024-03-01"): 7.25, ("c3", "2024-03-01"): 9.0}  # c1 moved to S2 on 20 February


@pytest.mark.parametrize(("change", "words"), [
    ('join_on = "customer"', "the profile's id column"),
])
def test_a_shared_file_that_cannot_join_is_refused_at_its_field(change, words):
    with pytest.raises(SpecError, match=words):
        _spec(BRANCHES.replace('join_on = "branch"', change))


def test_a_draft_finds_the_column_a_shared_file_joins_on(tmp_path):
    from deepcredit.data.draft import draft_spec

    paths = write_files(tmp_path / "shop", False)
    pd.read_csv(paths["people"], dtype=str, keep_default_na=False).assign(district=["7", "18", "7"]).to_csv(
        paths["people"], index=False)
    pd.DataFrame({"A1": ["7", "18", "30"], "A2": ["Praha", "Brno", "Kolin"], "A11": ["12541", "9104", "8930"]}).to_csv(
        tmp_path / "district.csv", index=False)
    text = draft_spec(paths["people"], "shop", outcomes=paths["outcomes"],
                      more_profile={"district": tmp_path / "district.csv"})
    assert 'id_column = "A1"' in text and 'join_on = "district"' in text
    assert spec_from_toml(text).more_profile["district"].join_on == "district"
    # a district on several rows told apart by a date: the file keeps each district's history
    pd.DataFrame({"A1": ["7", "18", "7", "18"], "published": ["", "", "2024-01-15", "2024-01-15"],
                  "A11": ["12541", "9104", "12900", "9400"]}).to_csv(tmp_path / "district.csv", index=False)
    text = draft_spec(paths["people"], "shop", outcomes=paths["outcomes"],
                      more_profile={"district": tmp_path / "district.csv"})
    assert 'join_on = "district"' in text and 'valid_from = "published"' in text
    shared = spec_from_toml(text).more_profile["district"]
    assert (shared.id_column, shared.join_on, shared.valid_from) == ("A1", "district", "published")


def test_a_measure_declared_differently_in_two_history_files_is_refused_at_its_line():
    measure = '\n[[{0}.measures]]\nname = "balance"\nrisk_direction = {1}\n'
    text = _spec_text(BILLS + measure.format("more_events.bills", -1)).replace(
        "[events.columns]", measure.format("events", 1).strip() + "\n\n[events.columns]")
    with pytest.raises(SpecError, match=r"'balance' is declared differently in \[events.measures\]"):
        spec_from_toml(text)


def test_rows_distinct_in_their_file_but_alike_once_stored_pass_the_stored_check(tmp_path):
    """Two accounts of one owner booking the same payment on the same day are two events in the file (their
    accounts differ) and alike once stored under their owner: `deepcredit validate` accepts what ingest
    wrote (it once called the second 'one event recorded twice')."""
    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"account": ["A1", "A3"], "owner": ["c1", "c1"]}).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"account": ["A1", "A3"], "booked": ["2024-01-10"] * 2, "paid": [10, 10], "days_late": [0, 0]}
                 ).to_csv(tmp_path / "tx.csv", index=False)
    sources = {**paths, "events:tx": tmp_path / "tx.csv", "lookup:accounts": tmp_path / "accounts.csv"}
    ds = ingest_with_spec(_spec(TRANSACTIONS), sources, tmp_path / "ds")
    tx = ds.read("events").query("kind == 'card_payment'")
    assert len(tx) == 2 and tx.duplicated().iloc[1]
    validate_stored(ds)


def test_an_owner_the_lookup_table_gives_who_is_no_known_person_is_blamed_on_the_lookup_table(tmp_path):
    paths = write_files(tmp_path / "shop", False)
    pd.DataFrame({"account": ["A1", "A2"], "owner": ["c1", "nobody"]}).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"account": ["A1", "A2"], "booked": ["2024-01-10", "2024-01-11"], "paid": [10, 20],
                  "days_late": [0, 0]}).to_csv(tmp_path / "tx.csv", index=False)
    sources = {**paths, "events:tx": tmp_path / "tx.csv", "lookup:accounts": tmp_path / "accounts.csv"}
    with pytest.raises(DataValidationError, match=r"accounts.csv, row 2 \(line 3\), column 'owner': the value \(not shown: an "
                                                  r"identifier\), the owner of an account in the lookup table "
                                                  r"'accounts', is not a person_id "
                                                  r"in the people table \(read by tx.csv, row 2\)"):
        ingest_with_spec(_spec(TRANSACTIONS), sources, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
