"""A table given as a directory of part files (monthly exports, a Spark job's output) reads as one table,
and its errors name the part file and that file's own row and line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.parts import table_parts
from deepcredit.data.spec import spec_from_toml
from deepcredit.data.validate import DataValidationError

from .shop import EVENTS as SHOP_EVENTS
from .shop import OUTCOMES, PEOPLE
from .shop import SPEC as SHOP

SPEC = spec_from_toml(SHOP.format(format=""))
EVENTS = pd.concat([pd.DataFrame(SHOP_EVENTS), pd.DataFrame({  # the shop's events, and two in March
    "customer": ["c3", "c2"], "booked_at": ["2024-03-09", "2024-03-20"], "type": ["invoice", "payment"],
    "value": ["12", "30"], "state": ["settled", "settled"]})], ignore_index=True)


def _files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in (("people", pd.DataFrame(PEOPLE)), ("events", EVENTS), ("outcomes", pd.DataFrame(OUTCOMES))):
        frame.to_csv(folder / f"{table}.csv", index=False)
    return {t: folder / f"{t}.csv" for t in ("people", "events", "outcomes")}


def _monthly(folder: Path, events: pd.DataFrame = EVENTS, parquet: bool = False) -> Path:
    """The events as one file per month, as a shop's monthly exports (or a Spark job's parts) lie in a folder."""
    parts = folder / "events"
    parts.mkdir(parents=True)
    for month, rows in events.groupby(events["booked_at"].str[:7]):
        name = parts / f"events-{month}.{'parquet' if parquet else 'csv'}"
        rows.to_parquet(name, index=False) if parquet else rows.to_csv(name, index=False)
    (parts / "_SUCCESS").write_text("")
    if not parquet:
        (parts / "events-2023-12.csv").write_text("")  # a job's part for an empty partition: no rows
    (parts / ".events-2024-01.csv.crc").write_bytes(b"\x00\x01")
    return parts


@pytest.mark.parametrize("parquet", [False, True])
def test_a_directory_of_monthly_parts_is_stored_exactly_as_the_one_file(tmp_path, parquet):
    one = ingest_with_spec(SPEC, _files(tmp_path / "one"), tmp_path / "a")
    sources = _files(tmp_path / "many") | {"events": _monthly(tmp_path / "many", parquet=parquet)}
    many = ingest_with_spec(SPEC, sources, tmp_path / "b")
    pd.testing.assert_frame_equal(one.read("events"), many.read("events"))
    assert many.fingerprint() == one.fingerprint()


def test_a_bad_value_is_told_at_its_part_file_row_and_line(tmp_path):
    sources = _files(tmp_path) | {"events": _monthly(tmp_path)}
    march = sources["events"] / "events-2024-03.csv"
    march.write_text(march.read_text().replace("\n", "\n\n", 1).replace(",30,", ",lots,"))  # a blank line first
    with pytest.raises(DataValidationError) as err:
        ingest_with_spec(SPEC, sources, tmp_path / "out")
    assert (err.value.file, err.value.row, err.value.line, err.value.column) == (str(march), 2, 4, "value")
    assert not (tmp_path / "out").exists()


def test_a_duplicate_across_parts_names_both_parts_and_an_unknown_person_its_part(tmp_path):
    parts = tmp_path / "events"
    parts.mkdir()
    EVENTS.to_csv(parts / "a.csv", index=False)
    EVENTS.iloc[[3, 0]].to_csv(parts / "b.csv", index=False)
    with pytest.raises(DataValidationError, match=r"an exact duplicate of row 4 of a\.csv") as err:
        ingest_with_spec(SPEC, _files(tmp_path) | {"events": parts}, tmp_path / "out")
    assert (Path(err.value.file).name, err.value.row, err.value.line) == ("b.csv", 1, 2)

    sources = _files(tmp_path / "b") | {"events": _monthly(tmp_path / "b", EVENTS.replace({"customer": {"c3": "c9"}}))}
    with pytest.raises(DataValidationError, match=r"column 'customer': the value \(not shown: an identifier\) is not a person_id") as err:
        ingest_with_spec(SPEC, sources, tmp_path / "out")
    assert (Path(err.value.file).name, err.value.row, err.value.line) == ("events-2024-03.csv", 1, 2)


def test_a_repeated_key_names_the_part_where_it_was_first_seen(tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    pd.DataFrame(PEOPLE).to_csv(people / "a.csv", index=False)
    pd.DataFrame(PEOPLE).iloc[[1]].to_csv(people / "b.csv", index=False)
    sources = _files(tmp_path) | {"people": people}
    with pytest.raises(DataValidationError, match=r"first seen in row 2 of a\.csv") as err:
        ingest_with_spec(SPEC, sources, tmp_path / "out")
    assert (Path(err.value.file).name, err.value.row) == ("b.csv", 1)


def test_parts_that_differ_or_a_directory_without_parts_are_refused_by_name(tmp_path):
    parts = _monthly(tmp_path / "a")
    (parts / "events-2024-02.csv").write_text("customer,booked_at,type,value\nc1,2024-02-13,payment,60\n")
    with pytest.raises(DataValidationError, match=r"events-2024-02\.csv: its columns differ from those of events-2024-01\.csv.*lacks 'state'"):
        ingest_with_spec(SPEC, _files(tmp_path / "a") | {"events": parts}, tmp_path / "out")
    mixed = _monthly(tmp_path / "b")
    EVENTS.to_parquet(mixed / "more.parquet")
    with pytest.raises(DataValidationError, match="both Parquet .* and CSV"):
        table_parts(mixed)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("exports")
    with pytest.raises(DataValidationError, match=r"no \.csv or \.parquet files .*notes\.md"):
        ingest_with_spec(SPEC, _files(tmp_path / "c") | {"events": tmp_path / "empty"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_draft_from_parts_reads_every_part_for_the_vocabularies(tmp_path):
    parts = _monthly(tmp_path)  # 'bounced' appears in February's part only
    text = draft_spec(_files(tmp_path)["people"], "shop", events=parts)
    assert '"bounced"' in text and '"settled"' in text and 'ts = "booked_at"' in text
