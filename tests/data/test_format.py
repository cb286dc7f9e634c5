"""Files written another way than DeepCredit's own (a European spreadsheet export: `;`, decimal commas,
31/01/2024) are read as they are, through the spec's [format], which `spec draft` proposes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.format_guess import as_written_by_deepcredit, guess_format
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import PLAIN, DataValidationError, FileFormat

from .shop import EUROPEAN, OUTCOMES, PEOPLE, SPEC, write_files


def test_a_european_export_is_stored_exactly_as_the_same_data_written_as_deepcredits_own(tmp_path):
    plain = ingest_with_spec(spec_from_toml(SPEC.format(format="")), write_files(tmp_path / "plain", False),
                             tmp_path / "a")
    theirs = ingest_with_spec(spec_from_toml(SPEC.format(format=EUROPEAN)), write_files(tmp_path / "eu", True),
                              tmp_path / "b")
    for table in ("people", "events", "outcomes"):
        pd.testing.assert_frame_equal(plain.read(table), theirs.read(table))
    assert theirs.read("events")["amount"].tolist() == [100.25, 60.0, 70.5]
    assert theirs.fingerprint() == plain.fingerprint()  # the same data, however its files were written


def test_a_file_separated_another_way_says_how_to_declare_it(tmp_path):
    with pytest.raises(SpecError, match=r"separated by ';', not ',': .*delimiter = \";\" under \[format\]"):
        ingest_with_spec(spec_from_toml(SPEC.format(format="")), write_files(tmp_path / "eu", True), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("table, column, row, value, words", [
    ("events", "value", 2, "1.060,5", "is not a number (numbers expected, with ',' as the decimal mark; '.' "
                                      "between thousands? declare it in the data-set spec as thousands = \".\""),
    ("people", "signup", 3, "15/06/22", "is not a valid timestamp (expected the spec's date_format %d/%m/%Y"),
])
def test_a_value_not_in_the_declared_format_is_a_located_error(tmp_path, table, column, row, value, words):
    paths = write_files(tmp_path / "eu", True)
    frame = pd.read_csv(paths[table], sep=";", dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(paths[table], index=False, sep=";")
    with pytest.raises(DataValidationError) as err:
        ingest_with_spec(spec_from_toml(SPEC.format(format=EUROPEAN)), paths, tmp_path / "out")
    assert (err.value.row, err.value.column, err.value.line) == (row, column, row + 1)
    assert words in str(err.value)


def test_grouped_thousands_are_read_in_either_convention_and_a_broken_group_is_refused(tmp_path):
    spec = spec_from_toml(SPEC.format(format=""))
    expected = [1234.5, 1234567.0, 70.5]
    for marks, written, sep in (((",", "."), ["1,234.50", "1,234,567", "70.5"], ","),
                                ((".", ","), ["1.234,50", "1.234.567", "70,5"], ";")):
        files = write_files(tmp_path / ("us" if sep == "," else "eu"), european=sep == ";")
        frame = pd.read_csv(files["events"], sep=sep, dtype=str, keep_default_na=False)
        frame["value"] = written
        frame.to_csv(files["events"], index=False, sep=sep)
        guess = guess_format(list(files.values())).format
        assert (guess.thousands, guess.decimal, guess.delimiter) == (*marks, sep)
        drafted = spec_from_toml(draft_spec(files["people"], events=files["events"], outcomes=files["outcomes"]))
        declared = spec.model_copy(update={"format": drafted.format})
        assert ingest_with_spec(declared, files, tmp_path / sep).read("events")["amount"].tolist() == expected
    frame = pd.read_csv(files["events"], sep=";", dtype=str, keep_default_na=False)
    frame.loc[2, "value"] = "1.23,5"
    frame.to_csv(files["events"], index=False, sep=";")
    with pytest.raises(DataValidationError, match=r"row 3 \(line 4\), column 'value': '1.23,5' is not a number "
                                                  r"\(numbers expected, with ',' as the decimal mark and '.' between"):
        ingest_with_spec(declared, files, tmp_path / "bad")


@pytest.mark.parametrize("section, field, words", [
    ('[format]\ndate_format = "%d/%m"\n', "format.date_format", "does not give a whole date"),
    ('[format]\ndelimiter = ";"\ndecimal = ","\n', None, None),
    ('[format]\ndelimiter = ","\ndecimal = ","\n', "format.decimal", "is the delimiter too"),
    ('[format]\ndelimiter = "ab"\n', "format.delimiter", "at most 1 character"),
    ('[format]\ndelimiter = ";"\ndecimal = ","\nthousands = ","\n', "format.thousands", "is the decimal mark too"),
])
def test_a_bad_format_section_names_its_line_and_field(section, field, words):
    text = SPEC.format(format=section)
    if field is None:
        assert spec_from_toml(text).format.file_format() == FileFormat(";", ",", None)
        assert spec_from_toml(text).format.describe() == "';'-separated, decimal ','"
        return
    with pytest.raises(SpecError) as err:
        spec_from_toml(text, "shop.toml")
    assert err.value.field == field and words in str(err.value)
    assert err.value.line == text.splitlines().index("[format]") + 1 + len(section.splitlines()) - 1


def test_how_the_source_files_were_written_is_not_part_of_the_stored_spec():
    assert spec_from_toml(SPEC.format(format="")).to_json() == spec_from_toml(SPEC.format(format=EUROPEAN)).to_json()


def test_a_draft_proposes_the_format_and_its_unedited_text_ingests_the_export(tmp_path):
    paths = write_files(tmp_path / "eu", True)
    draft = draft_spec(paths["people"], events=paths["events"], outcomes=paths["outcomes"])
    spec = spec_from_toml(draft)
    assert spec.format.file_format() == FileFormat(";", ",", "%d/%m/%Y")
    assert {a.name: a.type for a in spec.profile.attributes} == {"income": "numeric", "signup": "date"}
    ds = ingest_with_spec(spec, paths, tmp_path / "out")
    assert ds.read("people")["signup"].iloc[1] == pd.Timestamp("2023-11-02")


def test_a_draft_of_dates_that_could_be_month_first_says_to_check(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"customer": ["a", "b"], "signup": ["01/02/2023", "03/04/2023"]}).to_csv(path, index=False)
    guess = guess_format([path])
    assert guess.format.date_format == "%d/%m/%Y" and "could be month first (%m/%d/%Y)" in guess.notes[0]
    pd.DataFrame({"customer": ["a", "b"], "signup": ["01/02/2023", "12/31/2023 08:15"]}).to_csv(path, index=False)
    assert guess_format([path]).format.date_format == "%m/%d/%Y %H:%M"


def test_files_written_in_different_ways_are_flagged_and_tabs_survive_the_toml(tmp_path):
    paths = write_files(tmp_path / "eu", True)
    plain = write_files(tmp_path / "plain", False)
    guess = guess_format([paths["people"], plain["events"]])
    assert guess.format.delimiter == ";" and any("seems separated by ','" in n for n in guess.notes)
    tabbed = tmp_path / "tabbed.tsv"
    pd.DataFrame(PEOPLE).to_csv(tabbed, index=False, sep="\t")
    assert spec_from_toml(draft_spec(tabbed)).format.delimiter == "\t"
    assert guess_format([plain["people"], plain["events"]]).format == PLAIN


def test_every_column_the_draft_calls_boolean_ingests(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"customer": ["a", "b", "c"], "email_ok": ["Y", "N", "y"], "vip": ["T", "F", "f"],
                  "renter": ["yes", "No", ""], "bad": ["0", "1", "0"]}).to_csv(path, index=False)
    spec = spec_from_toml(draft_spec(path))
    assert {a.name: a.type for a in spec.profile.attributes} == {"email_ok": "boolean", "vip": "boolean",
                                                                 "renter": "boolean"}
    people = ingest_with_spec(spec, {"people": path}, tmp_path / "out").read("people")
    assert people["email_ok"].tolist() == [True, False, True] and people["vip"].tolist() == [True, False, False]


def test_times_with_an_offset_keep_the_wall_clock_of_the_declared_zone(tmp_path):
    paths = write_files(tmp_path / "plain", False)
    events = pd.read_csv(paths["events"], dtype=str, keep_default_na=False)
    events["booked_at"] = ["2024-01-05T00:30:00+01:00", "2024-02-13T23:30:00Z", "2024-02-03"]
    events.to_csv(paths["events"], index=False)
    text = pd.read_csv(paths["events"], dtype=str)
    parquet = paths["events"].with_suffix(".parquet")
    text.assign(booked_at=pd.to_datetime(text["booked_at"].str.replace("2024-02-03", "2024-02-03T00:00:00Z"),
                                         utc=True).dt.tz_convert("Europe/Paris")).to_parquet(parquet)
    for zone, expected in ((None, ["2024-01-04 23:30", "2024-02-13 23:30"]),
                           ("Europe/Paris", ["2024-01-05 00:30", "2024-02-14 00:30"])):
        section = f'[format]\ntimezone = "{zone}"\n' if zone else ""
        spec = spec_from_toml(SPEC.format(format=section))
        for i, source in enumerate((paths["events"], parquet)):
            ds = ingest_with_spec(spec, {**paths, "events": source}, tmp_path / f"{zone}-{i}".replace("/", "-"))
            ts = ds.read("events")["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist()
            assert ts[:2] == expected, (zone, source.suffix)
    with pytest.raises(SpecError, match="'Mars/Olympus' is not a time zone name"):
        spec_from_toml(SPEC.format(format='[format]\ntimezone = "Mars/Olympus"\n'))


def test_a_draft_of_times_with_offsets_says_they_are_kept_in_utc_unless_a_zone_is_named(tmp_path):
    paths = write_files(tmp_path / "plain", False)
    events = pd.read_csv(paths["events"], dtype=str, keep_default_na=False)
    events["booked_at"] = ["2024-01-05T00:30:00+01:00", "2024-02-13T23:30:00Z", "2024-02-03T08:00:00+01:00"]
    events.to_csv(paths["events"], index=False)
    draft = draft_spec(paths["people"], events=paths["events"], outcomes=paths["outcomes"])
    assert "the times in events.csv carry UTC offsets" in draft and spec_from_toml(draft).format.timezone is None


def test_a_draft_says_when_columns_look_like_a_history_written_across_them(tmp_path):
    from deepcredit.data.draft.attributes import column_series

    assert column_series(["ID", "PAY_0", "PAY_2", "PAY_3", "BILL_AMT1", "BILL_AMT2", "AGE", "q1", "q2", "q3"]) == [
        ["PAY_0", "PAY_2", "PAY_3"], ["q1", "q2", "q3"]]
    path = tmp_path / "cards.csv"
    frame = pd.DataFrame({"ID": [1, 2], "MARRIAGE": [1, 2], **{f"PAY_AMT{i}": [10.0, 20.0] for i in range(1, 7)},
                          "bad": [0, 1]})
    frame.to_csv(path, index=False)
    draft = draft_spec(path)
    assert "# check: PAY_AMT1 ... PAY_AMT6 (6 columns) look like one history written across" in draft
    assert spec_from_toml(draft).protected == ("marriage",)


def test_declared_missing_value_markers_read_as_empty_cells_and_the_draft_finds_them(tmp_path):
    paths = write_files(tmp_path / "plain", False)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False)
    people["income"] = ["1250.5", "NA", "?"]
    people.to_csv(paths["people"], index=False)
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'income': 'NA' is not a number"):
        ingest_with_spec(spec_from_toml(SPEC.format(format="")), paths, tmp_path / "a")
    draft = draft_spec(paths["people"], events=paths["events"], outcomes=paths["outcomes"])
    spec = spec_from_toml(draft)
    assert spec.format.missing == ["?", "NA"] and spec.attribute("income").type == "numeric"
    stored = ingest_with_spec(spec, paths, tmp_path / "b").read("people")
    assert stored["income"].isna().tolist() == [False, True, True]
    with pytest.raises(SpecError, match="field 'format.missing\\[0\\]'"):
        spec_from_toml(SPEC.format(format='[format]\nmissing = [" "]\n'), "shop.toml")


def test_a_workbook_is_read_like_its_csv_export_and_its_errors_name_the_sheet_row(tmp_path):
    import datetime as dt

    paths = write_files(tmp_path / "plain", False)
    spec = spec_from_toml(SPEC.format(format=""))
    from_csv = ingest_with_spec(spec, paths, tmp_path / "a")
    books = {}
    for table, path in paths.items():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if table == "people":  # as a spreadsheet holds them: numbers, real dates, an empty cell
            frame["income"] = [1250.5, 980, None]
            frame["signup"] = [dt.datetime(2023, 1, 31), dt.datetime(2023, 11, 2), dt.datetime(2022, 6, 15)]
        if table == "outcomes":
            frame["defaulted"] = [0, 1, 0]
        books[table] = tmp_path / f"{table}.xlsx"
        frame.to_excel(books[table], index=False)
    from_sheets = ingest_with_spec(spec, books, tmp_path / "b")
    for table in ("people", "events", "outcomes"):
        pd.testing.assert_frame_equal(from_csv.read(table), from_sheets.read(table))
    drafted = spec_from_toml(draft_spec(books["people"], events=books["events"], outcomes=books["outcomes"]))
    assert {a.name: a.type for a in drafted.profile.attributes} == {"income": "numeric", "signup": "date"}
    events = pd.read_excel(books["events"], dtype=str)
    events.loc[1, "value"] = "sixty"
    events.to_excel(books["events"], index=False)
    with pytest.raises(DataValidationError, match=r"events.xlsx, row 2 \(sheet row 3\), column 'value': 'sixty' is "
                                                  "not a number"):
        ingest_with_spec(spec, books, tmp_path / "c")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DataValidationError, match="not a readable .xlsx workbook"):
        ingest_with_spec(spec, {**books, "people": tmp_path / "broken.xlsx"}, tmp_path / "d")


def test_a_sheet_with_a_title_above_its_header_is_read_from_the_header_and_errors_count_from_it(tmp_path):
    from openpyxl import load_workbook

    paths = write_files(tmp_path / "plain", False)
    spec = spec_from_toml(SPEC.format(format=""))
    from_csv = ingest_with_spec(spec, paths, tmp_path / "a")
    books = {}
    for table, path in paths.items():  # a report sheet: a title with its date beside it, a note, a blank row
        books[table] = tmp_path / f"{table}.xlsx"
        pd.read_csv(path, dtype=str, keep_default_na=False).to_excel(books[table], index=False, startrow=3)
        book = load_workbook(books[table])
        book.active["A1"], book.active["B1"] = f"{table.title()} report", "exported 2024-03-31"
        book.active["A2"] = "figures in EUR"
        book.save(books[table])
    from_sheets = ingest_with_spec(spec, books, tmp_path / "b")
    for table in ("people", "events", "outcomes"):
        pd.testing.assert_frame_equal(from_csv.read(table), from_sheets.read(table))
    assert "# outcomes.xlsx: the header is in sheet row 4" in draft_spec(books["people"], outcomes=books["outcomes"])
    book = load_workbook(books["outcomes"])
    book.active["A6"] = "c9"  # data row 2: a person the people sheet does not have
    book.save(books["outcomes"])
    with pytest.raises(DataValidationError, match=r"outcomes.xlsx, row 2 \(sheet row 6\), column 'customer': the value \(not "
                                                  r"shown: an identifier\)"):
        ingest_with_spec(spec, books, tmp_path / "c")


def test_a_file_saved_by_a_windows_spreadsheet_is_read_in_its_declared_encoding(tmp_path):
    paths = write_files(tmp_path / "plain", False)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False).assign(city=["Besançon", "Köln", "Sète"])
    people.to_csv(paths["people"], index=False, encoding="cp1252")
    spec = spec_from_toml(SPEC.format(format="").replace('[[profile.attributes]]\nname = "signup"',
                                                         '[[profile.attributes]]\nname = "city"\ntype = "categorical"\n'
                                                         'dimension = "identity"\n\n[[profile.attributes]]\n'
                                                         'name = "signup"'))
    with pytest.raises(DataValidationError, match=r"row 1 \(line 2\).*not UTF-8 \(byte 0xe7\).*encoding = \"cp1252\""):
        ingest_with_spec(spec, paths, tmp_path / "a")
    draft = draft_spec(paths["people"], events=paths["events"], outcomes=paths["outcomes"])
    assert "is not UTF-8; it is read as cp1252" in draft and "TODO: events.csv is encoded" not in draft
    assert spec_from_toml(draft).format.encoding == "cp1252"
    declared = spec.model_copy(update={"format": spec_from_toml(draft).format})
    assert ingest_with_spec(declared, paths, tmp_path / "b").read("people")["city"].tolist() == [
        "Besançon", "Köln", "Sète"]
    with pytest.raises(SpecError, match="'klingon' is not a text encoding"):
        spec_from_toml(SPEC.format(format='[format]\nencoding = "klingon"\n'))


def test_one_workbook_can_hold_every_table_one_sheet_each(tmp_path):
    paths = write_files(tmp_path / "plain", False)
    book = tmp_path / "shop.xlsx"
    with pd.ExcelWriter(book) as writer:
        for table, path in paths.items():
            pd.read_csv(path, dtype=str, keep_default_na=False).to_excel(writer, sheet_name=table, index=False)
    sheets = {t: Path(f"{book}#{t}") for t in paths}
    spec = spec_from_toml(SPEC.format(format=""))
    stored = ingest_with_spec(spec, sheets, tmp_path / "out")
    plain = ingest_with_spec(spec, paths, tmp_path / "plain-out")
    assert stored.fingerprint() == plain.fingerprint()
    drafted = spec_from_toml(draft_spec(sheets["people"], events=sheets["events"], outcomes=sheets["outcomes"]))
    assert drafted.events is not None and sorted(drafted.events.statuses) == ["bounced", "settled"]
    assert "shop.xlsx also has the sheets 'events', 'outcomes'" in draft_spec(book)  # the first sheet's people
    with pytest.raises(DataValidationError, match=r"shop.xlsx#rentals: the workbook has no sheet 'rentals' \(its "
                                                  r"sheets: people, events, outcomes\)"):
        ingest_with_spec(spec, {**sheets, "events": Path(f"{book}#rentals")}, tmp_path / "bad")


def test_a_file_saved_with_its_row_index_is_drafted_with_it_as_the_id_and_its_words_and_label_read(tmp_path):
    """A pandas export (an empty first header cell), camel-case headers, a label among the columns: the
    unedited draft ingests, names the unnamed column by its position, splits the words for the texts, picks
    the label, guesses dimensions, gives no amount role to a count and flags a code among the counts."""
    frame = pd.DataFrame({"SeriousDlqin2yrs": [0, 1, 0, 0], "MonthlyIncome": [3200, None, 4100, 2500],
                          "NumberOfOpenCreditLinesAndLoans": [4, 9, 2, 5],
                          "NumberOfTime30-59DaysPastDueNotWorse": [0, 2, 98, 1], "Hobby": ["a", "b", "a", "c"]},
                         index=[11, 12, 13, 14])
    frame.to_csv(tmp_path / "cs.csv", na_rep="NA")  # header ",SeriousDlqin2yrs,..."
    text = draft_spec(tmp_path / "cs.csv")
    for line in ('id_column = "unnamed_1"', 'label = "SeriousDlqin2yrs"', 'name = "monthly_income"',
                 'role = "income"', 'description = "your number of time 30-59 days past due not worse"',
                 'dimension = "credit_history"  # check: guessed from the name',
                 'dimension = "identity"  # TODO', '# special = { "98" = "TODO" }  # check: 98 stands apart'):
        assert line in text, line
    assert text.count("role =") == 1  # the count of credit lines is not a credit line
    (tmp_path / "cs.toml").write_text(text)
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "cs.csv"}, tmp_path / "ds")
    assert ds.read("people")["person_id"].tolist() == ["11", "12", "13", "14"]


def test_an_unnamed_column_nobody_declared_is_named_in_the_error(tmp_path):
    pd.DataFrame({"person_id": ["p1", "p2"], "city": ["Lyon", "Oslo"], "bad": [0, 1]}).to_csv(tmp_path / "people.csv")
    spec = spec_from_toml('spec_version = 1\nname = "x"\n[[profile.attributes]]\nname = "city"\ntype = "categorical"\n'
                          'dimension = "identity"\n[outcomes]\nsource = "people"\nlabel = "bad"\nbad = ["1"]\n'
                          'good = ["0"]\nas_of = 2024-01-01\nwindow_days = 30\n')
    with pytest.raises(DataValidationError, match=r"header cell 1 is empty: a trailing comma or a saved row index\? "
                                                  r"It is called unnamed_1.*list it in `ignore`") as err:
        ingest_with_spec(spec, {"people": tmp_path / "people.csv"}, tmp_path / "ds")
    assert err.value.column == "unnamed_1"


def test_a_draft_of_applications_with_their_date_scores_each_as_of_it(tmp_path):
    pd.DataFrame({"loan_id": ["l1", "l2", "l3"], "issue_d": ["2023-01-15", "2023-06-01", "2024-02-10"],
                  "grade": ["A", "B", "C"], "default": [0, 1, 0]}).to_csv(tmp_path / "loans.csv", index=False)
    text = draft_spec(tmp_path / "loans.csv")
    assert 'as_of_column = "issue_d"  # check' in text and 'name = "issue_d"' not in text
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds")
    assert ds.read("outcomes")["as_of"].dt.year.tolist() == [2023, 2023, 2024]


def test_a_draft_reads_a_loan_books_status_in_words_as_its_label(tmp_path):
    """Charged Off / Fully Paid / Current / In Grace Period (and an empty cell): bad, good, not known yet."""
    status = ["Fully Paid", "Charged Off", "Current", "In Grace Period", "", "Fully Paid", "Default"]
    pd.DataFrame({"member_id": [f"m{i}" for i in range(7)], "issue_d": ["2023-01-15"] * 7,
                  "grade": list("ABCABCA"), "loan_status": status}).to_csv(tmp_path / "book.csv", index=False)
    text = draft_spec(tmp_path / "book.csv")
    for line in ('label = "loan_status"', 'bad = ["Charged Off", "Default"]', 'good = ["Fully Paid"]',
                 'unknown = ["Current", "In Grace Period", ""]  # check', 'as_of_column = "issue_d"'):
        assert line in text, line
    with pytest.warns(UserWarning, match="3 of 7 rows have an outcome not known yet"):
        ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "book.csv"}, tmp_path / "ds")
    assert ds.read("outcomes")["label"].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_compressed_csv_files_read_as_their_text_and_errors_name_its_lines(tmp_path, suffix):
    import bz2
    import gzip

    compress = {".gz": gzip.compress, ".bz2": bz2.compress}[suffix]
    plain = write_files(tmp_path / "plain", True)
    packed = {}
    for table, path in plain.items():
        packed[table] = path.with_name(path.name + suffix)
        packed[table].write_bytes(compress(path.read_bytes()))
    spec = spec_from_toml(SPEC.format(format=EUROPEAN))
    a, b = ingest_with_spec(spec, plain, tmp_path / "a"), ingest_with_spec(spec, packed, tmp_path / "b")
    for table in ("people", "events", "outcomes"):
        pd.testing.assert_frame_equal(a.read(table), b.read(table))
    assert "delimiter = \";\"" in draft_spec(packed["people"], events=packed["events"])
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / f"2024-01.csv{suffix}").write_bytes(
        packed["events"].read_bytes())
    assert len(ingest_with_spec(spec, {**packed, "events": parts}, tmp_path / "c").read("events")) == 3
    text = plain["events"].read_text().replace("70,5", "seventy")  # data row 3, line 4
    packed["events"].write_bytes(compress(text.encode()))
    with pytest.raises(DataValidationError, match=r"events.csv" + suffix + r", row 3 \(line 4\), column 'value'"):
        ingest_with_spec(spec, packed, tmp_path / "d")


def test_a_draft_words_a_yes_no_attribute_as_a_question(tmp_path):
    pd.DataFrame({"client_id": ["a", "b"], "HasCar": ["yes", "no"], "is_homeowner": ["true", "false"],
                  "verified": ["yes", "no"]}).to_csv(tmp_path / "p.csv", index=False)
    text = draft_spec(tmp_path / "p.csv")
    for line in ('description = "whether you have car"', 'description = "whether you are homeowner"',
                 'description = "your verified"'):
        assert line in text, line


def test_a_draft_proposes_a_unit_from_a_numeric_headers_words(tmp_path):
    from deepcredit.data.draft.words import header_words, unit_of

    cases = {"duration_in_month": "months", "BILL_AMT1": "money", "AnnualIncome": "money", "age_in_years": "years",
             "days_overdue": "days", "installment_rate_in_percentage_of_disposable_income": None,
             "num_of_loans": None, "score": None}
    assert {c: unit_of(header_words(c)) for c in cases} == cases
    pd.DataFrame({"client_id": ["a", "b"], "loan_amount": [1000, 2500], "grade": ["A", "B"]}).to_csv(
        tmp_path / "p.csv", index=False)
    text = draft_spec(tmp_path / "p.csv")
    assert 'unit = "money"  # check' in text and text.count("unit =") == 1
    assert spec_from_toml(text).attribute("loan_amount").unit == "money"


@pytest.mark.parametrize("open_windows", ["warn", "unknown"])
def test_good_labels_whose_window_has_not_ended_are_counted_or_left_out(tmp_path, open_windows):
    """Loans issued in 2024 with a year's window, extracted on 2024-09-01: a default seen is final, a good
    loan issued after 2023-09-01 may still go bad."""
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(6)],
                  "issue_d": ["2023-01-10", "2023-06-01", "2023-10-01", "2024-02-01", "2024-03-01", "2024-05-01"],
                  "grade": list("ABABAB"), "default": [0, 1, 0, 1, 0, 0]}).to_csv(tmp_path / "loans.csv", index=False)
    text = draft_spec(tmp_path / "loans.csv").replace("[outcomes]", f'[outcomes]\nopen_windows = "{open_windows}"')
    with pytest.warns(UserWarning, match="3 of 4 good labels have a performance window that ends after the "
                                         "snapshot date 2024-09-01: they may still go bad"):
        ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds",
                              snapshot_date="2024-09-01")
    labels = ds.read("outcomes")["label"].tolist()
    assert labels == ([0, 1, 0, 1, 0, 0] if open_windows == "warn" else [0, 1, 1])
    assert len(ds.read("people")) == 6  # everyone can still be scored


def test_a_placeholder_far_beyond_every_other_value_is_proposed_as_a_special_value():
    from deepcredit.data.draft.words import special_codes

    employed = pd.Series([-100, -2500, -8000, -365, -40] * 20 + [365243] * 10)  # Home Credit's 'not employed'
    assert special_codes(employed) == ["365243"]
    assert special_codes(pd.Series([1, 5, 13, 2] * 10 + [96, 98] * 3)) == ["96", "98"]  # the placeholder forms
    assert special_codes(pd.Series([10, 20, 30, 40] * 10 + [200])) == []  # one large value is no placeholder
    assert special_codes(pd.Series(list(range(1, 101)) * 2)) == []


def test_a_number_written_with_words_around_it_is_read_as_that_number(tmp_path):
    """A loan book writes ' 36 months' and '13.56%': declared number_in_text, they are numbers; the draft sees it."""
    from deepcredit.data.draft.words import number_in_text

    pd.DataFrame({"id": ["l1", "l2", "l3"], "term": [" 36 months", " 60 months", ""],
                  "int_rate": ["13.56%", "7.5%", "21%"], "emp_length": ["10+ years", "< 1 year", "2 years"],
                  "issue_d": ["2018-01-01"] * 3, "default": [0, 1, 0]}).to_csv(tmp_path / "lc.csv", index=False)
    text = draft_spec(tmp_path / "lc.csv")
    assert text.count("number_in_text = true  # check") == 2 and 'unit = "months"' in text and 'unit = "%"' in text
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "lc.csv"}, tmp_path / "ds")
    people = ds.read("people")
    assert people["term"].tolist()[:2] == [36.0, 60.0] and pd.isna(people["term"].iloc[2])
    assert people["int_rate"].tolist() == [13.56, 7.5, 21.0] and people["emp_length"].dtype != "float64"
    assert number_in_text(pd.Series(["10+ years", "< 1 year"])) is None  # comparing: an ordinal, rather
    european = pd.DataFrame({"id": ["l1"], "fee": ["€ 1.234,50"], "issue_d": ["2018-01-01"], "default": [0]})
    european.to_csv(tmp_path / "eu.csv", index=False, sep=";")
    spec = spec_from_toml(text.replace('name = "term"', 'name = "fee"').replace(
        "[profile]", '[format]\ndelimiter = ";"\ndecimal = ","\nthousands = "."\n\n[profile]', 1).split(
        '[[profile.attributes]]\nname = "int_rate"')[0] + text[text.index("[outcomes]"):])
    assert ingest_with_spec(spec, {"people": tmp_path / "eu.csv"}, tmp_path / "eu").read("people")["fee"].tolist() == \
        [1234.5]


def test_dates_written_as_a_month_and_a_year_read_as_its_first_day(tmp_path):
    """A loan book's issue_d reads 'Dec-2016': the draft proposes %b-%Y, each date the 1st of its month."""
    pd.DataFrame({"id": ["l1", "l2", "l3"], "issue_d": ["Dec-2016", "Jan-2017", "Feb-2017"], "grade": list("ABC"),
                  "loan_status": ["Fully Paid", "Charged Off", "Fully Paid"]}).to_csv(tmp_path / "l.csv", index=False)
    text = draft_spec(tmp_path / "l.csv")
    assert 'date_format = "%b-%Y"' in text and "reads as the first day of its month" in text
    assert 'as_of_column = "issue_d"' in text
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "l.csv"}, tmp_path / "ds")
    assert ds.read("outcomes")["as_of"].dt.strftime("%Y-%m-%d").tolist() == ["2016-12-01", "2017-01-01", "2017-02-01"]
    with pytest.raises(SpecError, match="does not give a whole date"):
        spec_from_toml(text.replace('date_format = "%b-%Y"', 'date_format = "%Y"'))
    # a payment of January may have been made on the 31st: it is known from February 1st, never earlier
    pd.DataFrame({"id": ["l1", "l2"], "paid": ["Jan-2017", "Mar-2017"], "amount": [10, 20]}).to_csv(
        tmp_path / "p.csv", index=False)
    events = ('\n[events]\n\n[events.columns]\nperson_id = "id"\nts = "paid"\nkind = ""\nstatus = "state"\n\n'
              '[events.kinds]\npayment = { amount = "paid" }\n\n[events.statuses]\nok = { meaning = "kept" }\n')
    spec = spec_from_toml(text.replace("\n[outcomes]", events + "\n[outcomes]").replace(
        'description = ""\n', 'description = ""\nsnapshot_date = 2017-03-15\n', 1))
    pd.read_csv(tmp_path / "p.csv").assign(state="ok").to_csv(tmp_path / "p.csv", index=False)
    ds = ingest_with_spec(spec, {"people": tmp_path / "l.csv", "events": tmp_path / "p.csv"}, tmp_path / "ds2")
    # ... and one of the snapshot's own month no later than the snapshot
    assert ds.read("events")["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2017-02-01", "2017-03-15"]
    assert ds.read("outcomes")["as_of"].dt.strftime("%Y-%m-%d").tolist()[0] == "2016-12-01"  # as-of dates stay
    # without a snapshot, no later than the data's last date, known once every file is read
    ds = ingest_with_spec(spec.model_copy(update={"snapshot_date": None}),
                          {"people": tmp_path / "l.csv", "events": tmp_path / "p.csv"}, tmp_path / "ds3")
    assert ds.read("events")["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2017-02-01", "2017-03-01"]


@pytest.mark.parametrize("above", ["Customer export, generated 2024-05-01\n\n", "sep=;\n"])
def test_lines_above_a_csv_header_are_passed_over_and_errors_name_the_files_own_lines(tmp_path, above):
    """A system's export puts a title (and a blank line) above the header; Excel writes sep=; there."""
    sep = ";" if "sep=" in above else ","
    lines = [sep.join(["customer", "income", "signup"]), sep.join(["c1", "1250", "2023-01-31"]),
             sep.join(["c2", "980", "2023-11-02"])]
    (tmp_path / "people.csv").write_text(above + "\n".join(lines) + "\n")
    pd.DataFrame({"customer": ["c1", "c2"], "defaulted": [0, 1], "scored_at": ["2024-03-01"] * 2}).to_csv(
        tmp_path / "outcomes.csv", index=False, sep=sep)  # its header is on line 1: each file has its own
    text = draft_spec(tmp_path / "people.csv", outcomes=tmp_path / "outcomes.csv")
    header = above.count("\n") + 1
    assert f"header_line = {header}  # check" in text and text.count("header_line") == 1
    sources = {"people": tmp_path / "people.csv", "outcomes": tmp_path / "outcomes.csv"}
    ds = ingest_with_spec(spec_from_toml(text), sources, tmp_path / "ds")
    assert ds.read("people")["income"].tolist() == [1250.0, 980.0]
    (tmp_path / "people.csv").write_text(above + "\n".join(lines).replace("980", "lots") + "\n")
    with pytest.raises(DataValidationError, match=rf"row 2 \(line {header + 2}\), column 'income'"):
        ingest_with_spec(spec_from_toml(text), sources, tmp_path / "ds2")


@pytest.mark.parametrize("header, values, form, notes", [
    ("opened", ["19930705", "20240229"], "%Y%m%d", []),
    ("date", ["930705", "931107"], "%y%m%d", ["writes two-digit years, read as 1969-2068"]),
    ("issued", ["931107 00:00:00", "940105 00:00:00"], "%y%m%d %H:%M:%S", ["two-digit years"]),
    ("Monthly Reporting Period", ["201203", "201204"], "%Y%m",
     ["writes a year and a month as six digits (201203), no day", "could also be dates with a two-digit year "
                                                                   "(%y%m%d: 201203 as 2020-12-03)"]),
    ("period", ["201203", "201299"], None, []),  # no month 99, no day 99 of December 2020
    ("date", ["930705", "19930705"], None, []),  # one width for the whole column
])
def test_dates_written_as_bare_digits_are_proposed_from_a_date_named_column(tmp_path, header, values, form, notes):
    """Bank and mainframe exports write 19930705, 930705 (the Berka bank data) or 201203 for a month."""
    path = tmp_path / "a.csv"
    pd.DataFrame({"account": ["a1", "a2"], header: values}).to_csv(path, index=False, sep=";")
    guess = guess_format([path])
    assert guess.format.date_format == form
    assert len(guess.notes) == len(notes) and all(w in n for w, n in zip(notes, guess.notes, strict=True))
    assert all(f"a.csv's '{header}'" in n for n in guess.notes)
    if form:
        spec = spec_from_toml(SPEC.format(format=f'[format]\ndate_format = "{form}"\n'))
        assert spec.format.month_only == (form == "%Y%m")


def test_an_id_or_amount_of_six_or_eight_digits_is_never_taken_for_a_date(tmp_path):
    path = tmp_path / "loans.csv"
    frame = pd.DataFrame({"loan_id": ["100101", "100102", "100103"], "account_id": ["19930705", "19930706", "19930707"],
                          "amount": ["930705", "931107", "940105"], "date": ["930705", "931107", "940105"]})
    frame.to_csv(path, index=False)
    guess = guess_format([path])
    assert guess.format.date_format == "%y%m%d"  # from 'date' alone
    rewritten = as_written_by_deepcredit(frame, guess.format)
    assert rewritten["date"].tolist() == ["1993-07-05", "1993-11-07", "1994-01-05"]
    pd.testing.assert_frame_equal(rewritten.drop(columns="date"), frame.drop(columns="date"))
    frame.drop(columns="date").to_csv(path, index=False)
    assert guess_format([path]).format.date_format is None
    text = draft_spec(path)
    assert 'type = "date"' not in text and "date_format" not in text


BERKA_ACCOUNTS = ('"account_id";"district_id";"frequency";"date"\n576;55;"POPLATEK MESICNE";930101\n'
                  '3818;74;"POPLATEK MESICNE";930101\n704;55;"POPLATEK TYDNE";930102\n2378;16;"POPLATEK MESICNE";930104\n')
BERKA_LOANS = ('"loan_id";"account_id";"date";"amount";"duration";"payments";"status"\n'
               '5314;576;930705;96396;12;8033.00;"B"\n5316;3818;930711;165960;36;4610.00;"A"\n'
               '6863;704;930728;127080;60;2118.00;"A"\n5325;2378;940803;105804;36;2939.00;"A"\n')


def test_a_draft_of_a_bank_export_with_two_digit_year_dates_reads_them_and_refuses_a_bad_one(tmp_path):
    """The Berka bank data writes `;`-separated .asc files with dates as 930705 (%y%m%d)."""
    (tmp_path / "account.asc").write_text(BERKA_ACCOUNTS)
    (tmp_path / "loan.asc").write_text(BERKA_LOANS)
    sources = {"people": tmp_path / "account.asc", "outcomes": tmp_path / "loan.asc"}
    text = draft_spec(sources["people"], outcomes=sources["outcomes"])
    assert 'date_format = "%y%m%d"' in text and "account.asc's 'date' writes two-digit years" in text
    spec = spec_from_toml(text)
    assert {a.name: a.type for a in spec.profile.attributes}["date"] == "date"
    assert spec.outcomes is not None and spec.outcomes.as_of_column == "date"
    ds = ingest_with_spec(spec, sources, tmp_path / "ds")
    assert ds.read("people")["date"].dt.strftime("%Y-%m-%d").tolist() == ["1993-01-01", "1993-01-01", "1993-01-02",
                                                                          "1993-01-04"]
    assert ds.read("outcomes")["as_of"].dt.strftime("%Y-%m-%d").tolist()[-1] == "1994-08-03"
    for bad in ("931345", "93115"):  # no month 13; five digits could be 1993-11-05 or 1993-01-15
        (tmp_path / "loan.asc").write_text(BERKA_LOANS.replace("930728", bad))
        with pytest.raises(DataValidationError) as err:
            ingest_with_spec(spec, sources, tmp_path / f"bad{bad}")
        assert (Path(err.value.file).name, err.value.row, err.value.column, err.value.line) == ("loan.asc", 3, "date", 4)
        assert f"'{bad}' is not a valid timestamp (expected the spec's date_format %y%m%d" in str(err.value)
        assert "days_from" not in str(err.value)


def test_bare_digit_dates_stored_as_whole_numbers_in_parquet_read_as_dates(tmp_path):
    pd.DataFrame({"customer": ["c1", "c2", "c3"], "income": [1250.5, 980.0, None],
                  "signup": pd.array([20230131, 20231102, None], dtype="Int64")}).to_parquet(tmp_path / "people.parquet")
    spec = spec_from_toml(SPEC.format(format='[format]\ndate_format = "%Y%m%d"\n'))
    pd.DataFrame(OUTCOMES).to_csv(tmp_path / "outcomes.csv", index=False)  # ISO dates read under any form
    ds = ingest_with_spec(spec.model_copy(update={"events": None}), {"people": tmp_path / "people.parquet",
                                                                     "outcomes": tmp_path / "outcomes.csv"},
                          tmp_path / "ds")
    assert ds.read("people")["signup"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["2023-01-31", "2023-11-02"]


def test_a_date_form_reads_the_same_dates_with_a_time_after_them(tmp_path):
    """Berka's card file writes 931107 00:00:00 where its other files write 930705: one [format] reads both."""
    (tmp_path / "account.asc").write_text(BERKA_ACCOUNTS)
    (tmp_path / "loan.asc").write_text(BERKA_LOANS.replace(";930728;", ";930728 00:00:00;"))
    sources = {"people": tmp_path / "account.asc", "outcomes": tmp_path / "loan.asc"}
    (tmp_path / "clean.asc").write_text(BERKA_LOANS)
    spec = spec_from_toml(draft_spec(sources["people"], outcomes=tmp_path / "clean.asc"))
    ds = ingest_with_spec(spec, sources, tmp_path / "ds")
    assert "1993-07-28" in ds.read("outcomes")["as_of"].dt.strftime("%Y-%m-%d").tolist()


def test_files_that_write_one_date_form_with_and_without_a_time_get_that_form(tmp_path):
    (tmp_path / "account.asc").write_text(BERKA_ACCOUNTS)
    (tmp_path / "card.asc").write_text('"card_id";"disp_id";"type";"issued"\n1005;9285;"classic";931107 00:00:00\n'
                                       '104;588;"classic";940119 00:00:00\n')
    guessed = guess_format([tmp_path / "account.asc", tmp_path / "card.asc"])
    assert guessed.format.date_format == "%y%m%d" and not any("several forms" in n for n in guessed.notes)


def test_a_draft_of_files_saved_with_different_separators_passes_its_own_check(tmp_path):
    # people comma-separated, events ';'-separated with decimal commas: the ';' file's decimal comma beside the
    # first file's ',' made the draft fail its own spec check ("',' is the delimiter too")
    plain, eu = write_files(tmp_path / "plain", False), write_files(tmp_path / "eu", True)
    draft = draft_spec(plain["people"], events=eu["events"], outcomes=plain["outcomes"])
    spec = spec_from_toml(draft)
    assert (spec.format.delimiter, spec.format.decimal) == (",", ".")
    assert "events.csv's numbers have ',' as the decimal mark, left out of [format]" in draft
    with pytest.raises(SpecError, match="saved with different separators"):
        spec_from_toml(SPEC.format(format='[format]\ndecimal = ","\n'))


@pytest.mark.parametrize("value, declared", [("1.234,50", '"."'), ("1 234,50", '" "')])
def test_a_grouped_number_under_a_decimal_comma_says_to_declare_thousands(value, declared):
    hint = FileFormat(";", ",").marks_hint(value)
    assert "between thousands?" in hint and f"thousands = {declared}" in hint
    assert FileFormat(";", ",", thousands=".").marks_hint("1.23,5") == ""
