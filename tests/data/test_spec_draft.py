"""`spec draft` on a new user's files: id columns found by their values, status and kind words read as the
docs declare them, labels not known yet and the window a label's name gives; a people file of profile
versions under non-English headers (its id and valid_from found by their values, and from them the other
files' id columns, and the outcomes' date by its type); and `spec check` refuses a draft whose placeholders
are left in."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.spec import SpecError, spec_from_toml

PEOPLE = pd.DataFrame({"customer_ref": [f"K-{i:03d}" for i in range(12)], "region": ["n", "s", "e"] * 4})
BILLING = pd.DataFrame({  # the person column is named for nothing an id is called
    "line_no": range(1, 13), "cust": [f"K-{i:03d}" for i in range(12)],
    "issued_on": ["2024-01-01"] * 12, "due_on": ["2024-01-15"] * 12,
    "paid_on": ["2024-01-10", "", "2024-02-20", ""] * 3, "amount_eur": [20.0] * 12,
    "kind": ["invoice", "instalment", "instalment_payment", "invoice"] * 3,
    "status": ["settled", "written_off", "overdue_30", "cancelled"] * 3})
LINKS = pd.DataFrame({"left_party": ["K-000", "K-001", "K-002"], "right_party": ["K-003", "K-004", "K-005"],
                      "since": ["2023-01-01"] * 3})
OUTCOMES = pd.DataFrame({"customer_ref": [f"K-{i:03d}" for i in range(12)], "observed_at": ["2024-06-01"] * 12,
                         "status_180d": ["DEFAULT", "ok", "under_review"] * 4})


def _draft(tmp_path, **frames: pd.DataFrame) -> str:
    paths = {}
    for name, frame in {"people": PEOPLE, **frames}.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        paths[name] = tmp_path / f"{name}.csv"
    return draft_spec(paths.pop("people"), "shop", **paths)


def test_a_person_column_named_for_nothing_is_found_by_its_values(tmp_path):
    text = _draft(tmp_path, events=BILLING, relations=LINKS, outcomes=OUTCOMES)
    spec = spec_from_toml(text, "draft.toml")
    assert spec.events is not None and spec.events.columns.person_id == "cust"
    assert 'person_id = "cust"  # check: its values are ids of the people file' in text
    assert spec.events.ignore == ["line_no"] and spec.events.parts_of == []  # a row number groups no parts
    assert spec.relations is not None
    assert (spec.relations.columns.source, spec.relations.columns.target) == ("left_party", "right_party")


def test_relation_columns_named_ref_are_ids(tmp_path):
    links = LINKS.rename(columns={"left_party": "customer_ref", "right_party": "linked_ref"})
    links["linked_ref"] = ["X1", "X2", "X3"]  # by its name alone, not its values
    rel = spec_from_toml(_draft(tmp_path, relations=links), "draft.toml").relations
    assert rel is not None and (rel.columns.source, rel.columns.target) == ("customer_ref", "linked_ref")


def test_status_and_kind_words_are_read_as_the_docs_declare_them(tmp_path):
    text = _draft(tmp_path, events=BILLING)
    spec = spec_from_toml(text, "draft.toml")
    assert spec.events is not None
    assert {k: v.meaning for k, v in spec.events.statuses.items()} == {
        "cancelled": "neutral", "overdue_30": "late", "settled": "kept", "written_off": "broken"}
    assert {k: v.amount for k, v in spec.events.kinds.items()} == {
        "instalment": "owed", "instalment_payment": "paid", "invoice": "owed"}
    assert "an instalment that falls due is owed" in text.split('"instalment" = ')[1].splitlines()[0]
    assert spec.events.statuses["cancelled"].owes_nothing and not spec.events.statuses["settled"].owes_nothing
    refunds = BILLING.assign(status=["settled", "REFUND", "overdue_30", "storniert"] * 3)
    statuses = spec_from_toml(_draft(tmp_path, events=refunds), "draft.toml").events.statuses  # type: ignore[union-attr]
    assert statuses["REFUND"].owes_nothing and statuses["storniert"].owes_nothing  # called off: nothing owed


def test_a_label_not_known_yet_is_drafted_unknown_and_the_window_comes_from_its_name(tmp_path):
    text = _draft(tmp_path, outcomes=OUTCOMES)
    o = spec_from_toml(text, "draft.toml").outcomes
    assert (o.bad, o.good, o.unknown) == (["DEFAULT"], ["ok"], ["under_review"])
    assert 'unknown = ["under_review"]  # check' in text
    assert o.window_days == 180 and "from the label's name 'status_180d'" in text
    plain = _draft(tmp_path, outcomes=OUTCOMES.rename(columns={"status_180d": "status"}))
    assert "window_days = 365  # TODO: the performance window" in plain


def test_a_label_in_the_people_file_gives_its_window_too(tmp_path):
    people = PEOPLE.assign(bad_3m=["0", "1", "0"] * 4)  # three months: a quarter of a year
    people.to_csv(tmp_path / "people.csv", index=False)
    assert spec_from_toml(draft_spec(tmp_path / "people.csv"), "d.toml").outcomes.window_days == 91


def test_spec_check_refuses_a_draft_with_a_placeholder_left_where_a_column_goes(tmp_path):
    text = _draft(tmp_path, events=BILLING.rename(columns={"cust": "whatever"}).assign(whatever="?"))
    assert 'person_id = "TODO"' in text
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith('person_id = "TODO"'))) + 1
    with pytest.raises(SpecError) as err:
        spec_from_toml(text, "draft.toml")
    assert (err.value.row, err.value.field) == (line, "events.columns.person_id")
    assert str(err.value).startswith(f"draft.toml, line {line}, field 'events.columns.person_id': 'TODO' is still")


def _history_files(tmp_path, outcomes_dated: bool = True) -> dict[str, object]:
    """A people file of profile versions under non-English headers (kunden_nr repeats, gueltig_ab tells a
    person's rows apart), with events, referrals and outcomes keyed by the same customer numbers."""
    ids = [f"K{100000 + i}" for i in range(40)]
    changed = ids[::3]  # 14 people whose income changed once
    people = pd.DataFrame({
        "kunden_nr": ids + changed, "gueltig_ab": [""] * 40 + ["2023-05-01"] * len(changed),
        "geschlecht": ["m", "w"] * 20 + ["m"] * len(changed), "region": ["NORD", "SUED"] * 20 + ["NORD"] * len(changed),
        "netto_einkommen": [1500.0 + 10 * i for i in range(40)] + [2500.0] * len(changed),
        "anmeldedatum": ["2022-01-10"] * 40 + ["2022-01-10"] * len(changed)})
    people["geschlecht"] = people.groupby("kunden_nr")["geschlecht"].transform("first")
    people["region"] = people.groupby("kunden_nr")["region"].transform("first")
    events = pd.DataFrame({"kunden_nr": ids * 2, "datum": ["2023-02-01"] * 40 + ["2023-08-01"] * 40,
                           "status": ["PAID_ON_TIME", "PAID_LATE"] * 40})
    referrals = pd.DataFrame({"werber": ids[:10], "geworbener": ids[10:20], "seit": ["2023-03-01"] * 10})
    outcomes = pd.DataFrame({"kunden_nr": ids * 2, "ausfall_12m": [0, 0, 0, 1] * 20,
                             **({"stichtag": ["2023-01-01"] * 40 + ["2023-07-01"] * 40} if outcomes_dated else {})})
    paths = {}
    for name, frame in {"people": people, "events": events, "relations": referrals, "outcomes": outcomes}.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        paths[name] = tmp_path / f"{name}.csv"
    return paths


def test_a_repeating_customer_number_under_any_language_is_the_id_with_its_history(tmp_path):
    from deepcredit.data.ingest import ingest_with_spec

    paths = _history_files(tmp_path)
    text = draft_spec(paths["people"], "bnpl", **{k: v for k, v in paths.items() if k != "people"})
    spec = spec_from_toml(text, "draft.toml")
    assert (spec.profile.id_column, spec.profile.valid_from) == ("kunden_nr", "gueltig_ab")
    assert "number_in_text" not in text and "kunden_nr" not in [a.column or a.name for a in spec.profile.attributes]
    assert spec.events is not None and spec.events.columns.person_id == "kunden_nr"
    assert spec.relations is not None
    assert (spec.relations.columns.source, spec.relations.columns.target, spec.relations.columns.ts) == (
        "werber", "geworbener", "seit")
    assert (spec.outcomes.person_id, spec.outcomes.as_of_column) == ("kunden_nr", "stichtag")
    ds = ingest_with_spec(spec, paths, tmp_path / "ds")
    people = ds.read("people")
    assert people["person_id"].nunique() == 40 and len(people) == 40 + 14


def test_a_fixed_as_of_for_outcomes_of_several_rows_a_person_says_to_name_their_date_column(tmp_path):
    paths = _history_files(tmp_path, outcomes_dated=False)
    text = draft_spec(paths["people"], "bnpl", outcomes=paths["outcomes"])
    assert "as_of = 2024-01-01  # TODO: no date column found" in text
    assert "one fixed as_of allows one row per person: name the" in text and 'as_of_column = "..."' in text
    assert "one fixed as_of" not in _draft(tmp_path, outcomes=OUTCOMES.drop(columns="observed_at"))


def test_an_id_named_for_a_number_in_any_language_is_the_id_and_namesakes_are_no_history(tmp_path):
    people = pd.DataFrame({"kunden_nr": [f"K{100000 + i}" for i in range(40)], "einkommen": range(40)})
    people.to_csv(tmp_path / "people.csv", index=False)
    assert spec_from_toml(draft_spec(tmp_path / "people.csv"), "d.toml").profile.id_column == "kunden_nr"
    names = [f"name {i % 35}" for i in range(40)]  # five namesakes, each with their own birth date and all else
    namesakes = pd.DataFrame({"name": names, "geboren": [f"19{50 + i}-01-01" for i in range(40)],
                              "stadt": [f"s{i}" for i in range(40)], "einkommen": range(40)})
    namesakes.to_csv(tmp_path / "people.csv", index=False)
    profile = spec_from_toml(draft_spec(tmp_path / "people.csv"), "d.toml").profile
    assert (profile.id_column, profile.valid_from) == (None, None)  # each row one person


def test_a_repeating_customer_code_no_date_tells_apart_is_left_out_never_read_as_a_number(tmp_path):
    people = pd.DataFrame({"kunde": [f"K{100000 + i % 35}" for i in range(40)], "einkommen": range(40)})
    people.to_csv(tmp_path / "people.csv", index=False)
    text = draft_spec(tmp_path / "people.csv")
    assert "number_in_text" not in text and "'kunde' left out: free text or ids" in text


def test_the_other_files_name_the_people_by_their_values_once_the_history_gives_the_id(tmp_path):
    paths = _history_files(tmp_path)
    pd.read_csv(paths["events"]).rename(columns={"kunden_nr": "kunde"}).to_csv(paths["events"], index=False)
    pd.read_csv(paths["outcomes"]).rename(columns={"kunden_nr": "vertragspartner"}).to_csv(paths["outcomes"],
                                                                                           index=False)
    text = draft_spec(paths["people"], "bnpl", events=paths["events"], outcomes=paths["outcomes"])
    spec = spec_from_toml(text, "draft.toml")
    assert spec.events is not None and spec.events.columns.person_id == "kunde"
    assert spec.outcomes.person_id == "vertragspartner"
