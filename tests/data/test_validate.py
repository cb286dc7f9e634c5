"""Ingesting a user's four tables: valid input round-trips; every bad input gets one clear error naming the
file, the row (and CSV line) and the column, and nothing is written."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepcredit.data import validate
from deepcredit.data.dataset import Dataset, ingest, validate_tables
from deepcredit.data.schema import TABLES
from deepcredit.data.validate import DataValidationError, read_and_validate

SNAPSHOT = "2024-06-30"

VALID = {
    "people": (
        "person_id,sex,age,education,identity_verified,city_tier,joined_at,credit_limit,income\n"
        "p1,female,34,university,true,1,2020-01-15,5000,3200.5\n"
        "p2,male,51,high_school,false,2,2021-03-01T10:00:00,,2100\n"
        "p3,,,,,,,,\n"
    ),
    "events": (
        "person_id,ts,kind,amount,status,due_ts,days_late,counterparty\n"
        "p1,2024-01-05,repayment,120.5,on_time,2024-01-05,0,bank_a\n"
        "p2,2024-02-01T08:30:00,bill,60,late,2024-01-25,7,utility_co\n"
        "p3,2024-03-10,order,15,open,2024-07-15,,shop\n"
    ),
    "relations": (
        "source,target,kind,weight,ts\n"
        "p1,p2,contact,1,2023-05-01\n"
        "p2,p3,transfer,2.5,2023-06-01\n"
    ),
    "outcomes": (
        "person_id,as_of,label,window_days\n"
        "p1,2024-01-01,0,90\n"
        "p2,2024-01-01,1,90\n"
        "p3,2024-01-01,0,90\n"
    ),
}


def write_inputs(root: Path, **override: str | bytes | Path | None) -> dict[str, Path]:
    """The four valid CSV files under root, with some replaced: text, raw bytes, a path, or None (absent)."""
    root.mkdir(parents=True, exist_ok=True)
    sources = {}
    for table, text in VALID.items():
        content = override.get(table, text)
        if isinstance(content, Path):
            sources[table] = content
            continue
        path = root / f"{table}.csv"
        if content is not None:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        sources[table] = path
    return sources


def edit(table: str, line: int, new: str | None) -> str:
    """VALID[table] with physical line `line` (1 = header) replaced, or removed when new is None."""
    lines = VALID[table].splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines) + "\n"


def set_cell(table: str, row: int, column: str, value: str) -> str:
    lines = VALID[table].splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def parquet_of(table: str, root: Path, change: Callable[[pd.DataFrame], pa.Table | pd.DataFrame],
               name: str | None = None) -> Path:
    """VALID[table] as a Parquet file, changed by `change` (which may return an Arrow table)."""
    frame = pd.read_csv(pd.io.common.StringIO(VALID[table]), dtype=str, keep_default_na=False)
    data = change(frame)
    path = root / (name or f"{table}.parquet")
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False),
                   path)
    return path


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    if out.parent.exists():
        assert list(out.parent.iterdir()) == [], "staging leftovers next to the output"


def where(table: str, row: int | None = None, line: int | None = None, column: str | None = None,
          suffix: str = ".csv") -> str:
    """The location part of a message, as a person reads it."""
    parts = [f"{table}{suffix}"]
    if row is not None:
        parts.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts) + ": "


# --- valid input -----------------------------------------------------------------------------------

def test_ingest_round_trips_with_canonical_types(tmp_path: Path) -> None:
    sources = write_inputs(tmp_path / "in")
    ds = ingest(sources, tmp_path / "out" / "ds", name="mine", snapshot_date=SNAPSHOT)
    again = Dataset(tmp_path / "out" / "ds")
    assert again.name == "mine" and again.manifest.snapshot_date == SNAPSHOT
    assert {t: e["rows"] for t, e in again.manifest.tables.items()} == {
        "people": 3, "events": 3, "relations": 2, "outcomes": 3}
    people, events = ds.read("people"), ds.read("events")
    outcomes, relations = ds.read("outcomes"), ds.read("relations")
    assert people["person_id"].tolist() == ["p1", "p2", "p3"]
    assert people["age"].tolist()[:2] == [34.0, 51.0] and pd.isna(people["age"].iloc[2])
    assert people["identity_verified"].tolist()[:2] == [True, False]
    assert people["city_tier"].dtype == "Int64" and pd.isna(people["city_tier"].iloc[2])
    assert people["joined_at"].tolist()[:2] == [pd.Timestamp("2020-01-15"), pd.Timestamp("2021-03-01 10:00")]
    assert pd.isna(people["sex"].iloc[2]), "an empty optional cell is stored as null, not ''"
    assert events["amount"].dtype == np.float64 and events["amount"].tolist() == [120.5, 60.0, 15.0]
    assert str(events["ts"].dtype) == "datetime64[us]"
    assert events["due_ts"].iloc[2] == pd.Timestamp("2024-07-15"), "a due date may lie after the snapshot"
    assert pd.api.types.is_integer_dtype(outcomes["label"]) and outcomes["label"].tolist() == [0, 1, 0]
    assert pd.api.types.is_integer_dtype(outcomes["window_days"])
    assert relations["weight"].tolist() == [1.0, 2.5]


def test_validated_frames_have_canonical_dtypes(tmp_path: Path) -> None:
    frames = validate_tables(write_inputs(tmp_path), SNAPSHOT)
    dtypes = {t: {c: str(d) for c, d in f.dtypes.items()} for t, f in frames.items()}
    assert dtypes["people"] == {
        "person_id": "string", "sex": "string", "age": "float64", "education": "string",
        "identity_verified": "boolean", "city_tier": "Int64", "joined_at": "datetime64[us]",
        "credit_limit": "float64", "income": "float64"}
    assert dtypes["outcomes"] == {"person_id": "string", "as_of": "datetime64[us]", "label": "Int64",
                                  "window_days": "Int64"}


def test_same_input_gives_same_fingerprint(tmp_path: Path) -> None:
    sources = write_inputs(tmp_path / "in")
    a = ingest(sources, tmp_path / "a", name="x", snapshot_date=SNAPSHOT)
    b = ingest(sources, tmp_path / "b", name="x", snapshot_date=SNAPSHOT)
    assert a.fingerprint() == b.fingerprint()


def test_lenient_but_unambiguous_csv(tmp_path: Path) -> None:
    """BOM, CRLF, spaces around cells, quoted commas and line breaks, offsets, events on the snapshot day."""
    events = ("\ufeffperson_id , ts,kind,amount,status,counterparty\r\n"
              " p1 ,2024-06-30T23:59:00,repayment, 120.5 ,on_time,\"bank, \"\"A\"\"\"\r\n"
              "p2,2024-02-01T08:30:00+02:00,bill,60,late,\"two\r\nlines\"\r\n"
              "\r\n"
              "p3,2024-03-10T00:00:00Z,order,15,open,\r\n")
    frames = validate_tables(write_inputs(tmp_path, events=events), SNAPSHOT)
    ev = frames["events"]
    assert ev["person_id"].tolist() == ["p1", "p2", "p3"]
    assert ev["counterparty"].tolist()[:2] == ['bank, "A"', "two\r\nlines"] and pd.isna(ev["counterparty"][2])
    assert ev["ts"].tolist() == [pd.Timestamp("2024-06-30 23:59"), pd.Timestamp("2024-02-01 06:30"),
                                 pd.Timestamp("2024-03-10")], "offsets become UTC, naive values stay"
    assert ev["amount"].tolist() == [120.5, 60.0, 15.0]


def test_header_only_relations_is_a_data_set_without_a_network(tmp_path: Path) -> None:
    ds = ingest(write_inputs(tmp_path / "in", relations="source,target,kind,weight,ts\n"), tmp_path / "ds",
                name="x", snapshot_date=SNAPSHOT)
    relations = ds.read("relations")
    assert relations.empty and list(relations.columns) == list(TABLES["relations"].names)
    validate_tables({t: ds.table_path(t) for t in TABLES}, SNAPSHOT)


def test_parquet_input_gives_the_same_data_set(tmp_path: Path) -> None:
    csv_ds = ingest(write_inputs(tmp_path / "csv"), tmp_path / "a", name="x", snapshot_date=SNAPSHOT)
    frames = validate_tables(write_inputs(tmp_path / "csv"), SNAPSHOT)
    sources = {}
    for t, frame in frames.items():
        sources[t] = tmp_path / "pq" / f"{t}.parquet"
        sources[t].parent.mkdir(exist_ok=True)
        frame.to_parquet(sources[t], index=False)
    pq_ds = ingest(sources, tmp_path / "b", name="x", snapshot_date=SNAPSHOT)
    for t in TABLES:
        pd.testing.assert_frame_equal(csv_ds.read(t), pq_ds.read(t))


def test_parquet_with_native_types_and_parts_directory(tmp_path: Path) -> None:
    """Integer ids, int/bool/timestamp columns with nulls, tz-aware times, a directory of part files."""
    people = pa.table({"person_id": pa.array([1, 2, 3], pa.int64()),
                       "city_tier": pa.array([1, None, 3], pa.int32()),
                       "identity_verified": pa.array([True, None, False]),
                       "joined_at": pa.array([pd.Timestamp("2020-01-01", tz="Europe/Paris"), None,
                                              pd.Timestamp("2021-01-01", tz="Europe/Paris")])})
    (tmp_path / "people").mkdir()
    pq.write_table(people.slice(0, 2), tmp_path / "people" / "part-0.parquet")
    pq.write_table(people.slice(2), tmp_path / "people" / "part-1.parquet")
    out = read_and_validate(tmp_path / "people", TABLES["people"], pd.Timestamp(SNAPSHOT))
    assert out["person_id"].tolist() == ["1", "2", "3"]
    assert out["city_tier"].tolist()[0] == 1 and pd.isna(out["city_tier"][1])
    assert out["joined_at"][0] == pd.Timestamp("2019-12-31 23:00"), "tz-aware times are stored in UTC"


def test_csv_rows_are_counted_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "CSV_BLOCK_BYTES", 256)
    rows = [f"p1,2024-01-{1 + i % 28:02d},bill,{i},on_time" for i in range(300)]
    rows[236] = "p1,2024-01-01,bill,oops,on_time"
    path = tmp_path / "events.csv"
    path.write_text("person_id,ts,kind,amount,status\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataValidationError) as err:
        read_and_validate(path, TABLES["events"])
    assert str(err.value).startswith(f"{path}, row 237 (line 238), column 'amount': 'oops' is not a number")


def test_parquet_rows_are_counted_across_batches_and_parts(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "CHUNK_ROWS", 3)
    amounts = [float(i) for i in range(20)]
    amounts[16] = float("nan")
    table = pa.table({"person_id": ["p1"] * 20, "ts": [pd.Timestamp("2024-01-01")] * 20, "kind": ["bill"] * 20,
                      "amount": amounts, "status": ["on_time"] * 20})
    (tmp_path / "events").mkdir()
    pq.write_table(table.slice(0, 8), tmp_path / "events" / "part-00000.parquet")
    pq.write_table(table.slice(8), tmp_path / "events" / "part-00001.parquet")
    with pytest.raises(DataValidationError) as err:
        read_and_validate(tmp_path / "events", TABLES["events"])
    # row 17 of the table is row 9 of its second part
    assert str(err.value) == (f"{tmp_path / 'events' / 'part-00001.parquet'}, row 9, column 'amount': NaN is not a "
                              "number: leave the cell empty where a value is unknown")


# --- bad input: one clear error, nothing written ---------------------------------------------------

RANDOM_BYTES = bytes(b for b in np.random.default_rng(0).integers(1, 256, 600, dtype=np.uint8))

# id, changes to the inputs (table -> content; a callable gets the input folder), expected location, fragment
CSV_CASES = [
    ("missing column", {"events": edit("events", 1, "person_id,ts,kind,status,due_ts,days_late,counterparty")
                        .replace(",120.5,", ",").replace(",60,", ",").replace(",15,", ",")},
     where("events", column="amount"), "required column is missing"),
    ("unknown column", {"relations": "source,target,kind,weight,ts,colour\np1,p2,contact,1,2023-05-01,red\n"},
     where("relations", column="colour"), "unknown column (the relations table has: source, target"),
    ("misspelt column", {"outcomes": VALID["outcomes"].replace("window_days", "window_dys")},
     where("outcomes", column="window_dys"), "unknown column (did you mean 'window_days'?"),
    ("column twice", {"relations": "source,target,kind,weight,ts,kind\np1,p2,contact,1,2023-05-01,contact\n"},
     where("relations", column="kind"), "appears more than once in the header"),
    ("not a number", {"events": set_cell("events", 2, "amount", "abc")},
     where("events", 2, 3, "amount"), "'abc' is not a number (numbers expected)"),
    ("infinite amount", {"events": set_cell("events", 3, "amount", "inf")},
     where("events", 3, 4, "amount"), "'inf' is infinite: numbers must be finite"),
    ("negative infinity", {"relations": set_cell("relations", 1, "weight", "-Infinity")},
     where("relations", 1, 2, "weight"), "'-Infinity' is infinite"),
    # finite in float64 but infinite in the float32 the models compute in: refused here, not in training
    ("amount beyond float32", {"events": set_cell("events", 2, "amount", "1e300")},
     where("events", 2, 3, "amount"), "'1e300' is too large: numbers must lie within ±3.4e+38"),
    ("income beyond float32", {"people": set_cell("people", 1, "income", "-4e38")},
     where("people", 1, 2, "income"), "'-4e38' is too large"),
    # personal data (a protected attribute, an id) is never repeated: the row and column say where to look
    ("protected attribute not a number", {"people": set_cell("people", 1, "age", "34 (Jane Doe; born 1991)")},
     where("people", 1, 2, "age"), "the value (not shown: a protected attribute) is not a number"),
    ("protected attribute too large", {"people": set_cell("people", 2, "age", "1e39")},
     where("people", 2, 3, "age"), "the value (not shown: a protected attribute) is too large"),
    ("NaN amount", {"events": set_cell("events", 1, "amount", "NaN")},
     where("events", 1, 2, "amount"), "NaN is not a number: leave the cell empty where a value is unknown"),
    ("NaN optional", {"people": set_cell("people", 2, "income", "nan")},
     where("people", 2, 3, "income"), "NaN is not a number"),
    ("duplicate person", {"people": edit("people", 4, "p1,,,,,,,,")},
     where("people", 3, 4, "person_id"), "duplicate person_id (first seen in row 1)"),
    ("duplicate outcome", {"outcomes": edit("outcomes", 4, "p2,2024-01-01,0,90")},
     where("outcomes", 3, 4, "person_id"), "duplicate person_id/as_of (first seen in row 2)"),
    ("event after snapshot", {"events": set_cell("events", 2, "ts", "2024-07-01")},
     where("events", 2, 3, "ts"), "'2024-07-01' is after the data set's snapshot date 2024-06-30"),
    ("label after snapshot", {"outcomes": set_cell("outcomes", 1, "as_of", "2025-01-01")},
     where("outcomes", 1, 2, "as_of"), "after the data set's snapshot date"),
    ("relation to unknown person", {"relations": set_cell("relations", 2, "target", "p9")},
     where("relations", 2, 3, "target"), "the value (not shown: an identifier) is not a person_id in the people table"),
    ("relation from unknown person", {"relations": set_cell("relations", 1, "source", "p0")},
     where("relations", 1, 2, "source"), "the value (not shown: an identifier) is not a person_id"),
    ("event of unknown person", {"events": set_cell("events", 3, "person_id", "p4")},
     where("events", 3, 4, "person_id"), "the value (not shown: an identifier) is not a person_id"),
    ("outcome of unknown person", {"outcomes": set_cell("outcomes", 2, "person_id", "P2")},
     where("outcomes", 2, 3, "person_id"), "the value (not shown: an identifier) is not a person_id"),
    ("unknown status", {"events": set_cell("events", 2, "status", "paid")},
     where("events", 2, 3, "status"), "'paid' is not one of: late, missed,"),
    ("status in capitals", {"events": set_cell("events", 1, "status", "On_Time")},
     where("events", 1, 2, "status"), "(values are lower case)"),
    ("unknown kind", {"events": set_cell("events", 3, "kind", "loan")},
     where("events", 3, 4, "kind"), "'loan' is not one of: bill, instalment,"),
    ("unknown relation kind", {"relations": set_cell("relations", 1, "kind", "friend")},
     where("relations", 1, 2, "kind"), "'friend' is not one of: contact,"),
    ("label 2", {"outcomes": set_cell("outcomes", 3, "label", "2")},
     where("outcomes", 3, 4, "label"), "'2' is not one of: 0, 1"),
    ("label not an integer", {"outcomes": set_cell("outcomes", 2, "label", "0.5")},
     where("outcomes", 2, 3, "label"), "'0.5' is not a whole number"),
    ("label a word", {"outcomes": set_cell("outcomes", 1, "label", "yes")},
     where("outcomes", 1, 2, "label"), "'yes' is not a number (whole numbers expected)"),
    ("label infinite", {"outcomes": set_cell("outcomes", 1, "label", "inf")},
     where("outcomes", 1, 2, "label"), "is infinite: whole numbers must be finite"),
    ("window too large", {"outcomes": set_cell("outcomes", 2, "window_days", "1e30")},
     where("outcomes", 2, 3, "window_days"), "'1e30' is too large for a whole number"),
    ("bad boolean", {"people": set_cell("people", 1, "identity_verified", "maybe")},
     where("people", 1, 2, "identity_verified"), "'maybe' is not true or false"),
    ("timestamp does not parse", {"events": set_cell("events", 3, "ts", "31/01/2024")},
     where("events", 3, 4, "ts"), "'31/01/2024' is not a valid timestamp (expected an ISO 8601 date"),
    ("day-first date says how to declare date_format", {"events": set_cell("events", 3, "ts", "31.07.1980")},
     where("events", 3, 4, "ts"), "'31.07.1980' is not a valid timestamp (expected an ISO 8601 date or time such as "
     "2024-01-31 or 2024-01-31T12:30:00; written another way? declare it in the data-set spec as date_format "
     "under [format]"),
    ("impossible date", {"relations": set_cell("relations", 2, "ts", "2023-02-30")},
     where("relations", 2, 3, "ts"), "'2023-02-30' is not a valid timestamp"),
    ("optional timestamp does not parse", {"people": set_cell("people", 2, "joined_at", "yesterday")},
     where("people", 2, 3, "joined_at"), "'yesterday' is not a valid timestamp"),
    ("placeholder year", {"events": set_cell("events", 1, "due_ts", "9999-12-31")},
     where("events", 1, 2, "due_ts"), "'9999-12-31' is outside the years 1678-2261 that can be stored"),
    ("empty required cell", {"events": set_cell("events", 2, "status", "")},
     where("events", 2, 3, "status"), "a value is required here but the cell is empty"),
    ("blank required cell", {"relations": set_cell("relations", 2, "source", "   ")},
     where("relations", 2, 3, "source"), "a value is required here but the cell is empty"),
    ("too many cells", {"relations": edit("relations", 3, "p2,p3,transfer,2,500,2023-06-01")},
     where("relations", 2, 3), "the row has 6 cells but the header has 5 columns (a value that contains a comma"),
    ("too few cells", {"outcomes": edit("outcomes", 3, "p2,2024-01-01,1")},
     where("outcomes", 2, 3), "the row has 3 cells but the header has 4 columns"),
    ("unclosed quote", {"relations": edit("relations", 2, 'p1,"p2,contact,1,2023-05-01')},
     where("relations", 1, 2), "closing quote is missing"),
    ("quote left open to the end", {"events": set_cell("events", 3, "counterparty", '"shop')},
     where("events", 3, 4), "closing quote is missing"),
    ("quote left open swallows rows", {"events": set_cell("events", 2, "counterparty", '"utility_co')},
     where("events", 2, 3), "closing quote is missing"),
    ("line of spaces", {"relations": VALID["relations"].replace("\np2,", "\n   \np2,")},
     where("relations", 2, 3), "the line holds only spaces"),
    ("blank lines shift the line", {"events": VALID["events"].replace("\np3,", "\n\n\np3,")
                                    .replace("2024-03-10", "2024-13-10")},
     where("events", 3, 6, "ts"), "'2024-13-10' is not a valid timestamp"),
    ("multi-line cell shifts the line", {"events": set_cell("events", 1, "counterparty", '"bank\nA"')
                                         .replace(",60,", ",sixty,")},
     where("events", 2, 4, "amount"), "'sixty' is not a number"),
    ("not UTF-8", {"people": VALID["people"].replace("university", "universit\u00e9").encode("latin-1")},
     where("people", 1, 2, "education"), "the text is not UTF-8 (byte 0xe9): save the file as UTF-8"),
    ("empty file", {"people": b""}, where("people"), "the file is empty: expected a header row and data rows"),
    ("blank lines only", {"events": "\n\n"}, where("events"), "the file is empty"),
    ("header-only people", {"people": VALID["people"].splitlines()[0] + "\n"},
     where("people"), "the table has a header but no data rows"),
    ("header-only events", {"events": VALID["events"].splitlines()[0]},
     where("events"), "the table has a header but no data rows"),
    ("no header", {"events": "\n".join(VALID["events"].splitlines()[1:]) + "\n"},
     where("events"), "the first line is not a header of the events table: none of its cells ('p1', "),
    ("semicolons", {"outcomes": VALID["outcomes"].replace(",", ";")},
     where("outcomes"), "values seem to be separated by ';', not ',': declare it in the data-set spec as delimiter = \";\" "
     "under [format]"),
    ("trailing comma in header", {"relations": "source,target,kind,weight,ts,\np1,p2,contact,1,2023-05-01,\n"},
     where("relations", column="unnamed_6"), "unknown column (header cell 6 is empty: a trailing comma or a saved "
     "row index? It is called unnamed_6)"),
    ("JSON named .csv", {"people": json.dumps([{"person_id": "p1"}, {"person_id": "p2"}])},
     where("people"), "this looks like JSON, not CSV"),
    ("JSON object named .csv", {"events": '{"person_id": {"0": "p1"}}'}, where("events"), "looks like JSON"),
    ("HTML named .csv", {"events": "<html><body>Sign in</body></html>"}, where("events"), "looks like HTML"),
    ("binary named .csv", {"relations": bytes(range(256)) * 8}, where("relations"), "it contains binary data"),
    ("binary without NUL bytes", {"relations": RANDOM_BYTES}, where("relations"), "it contains binary data"),
    ("Parquet named .csv", {"people": b"PAR1\x15\x04\x15\x10"}, where("people"), "this is a Parquet file"),
    ("xlsx named .csv", {"people": b"PK\x03\x04\x14\x00\x06\x00"}, where("people"), "an Excel .xlsx workbook?"),
    ("gzip named .csv", {"events": gzip.compress(VALID["events"].encode())}, where("events"), "gzip-compressed"),
    ("UTF-16", {"people": VALID["people"].encode("utf-16")}, where("people"), "this is UTF-16 text"),
    ("missing file", {"outcomes": None}, where("outcomes"), "file not found"),
]


def _run_case(tmp_path: Path, changes: dict) -> tuple[DataValidationError, Path, dict[str, Path]]:
    inputs = tmp_path / "in"
    resolved = {t: (c(inputs) if callable(c) else c) for t, c in changes.items()}
    sources = write_inputs(inputs, **resolved)
    out = tmp_path / "store" / "ds"
    with pytest.raises(DataValidationError) as err:
        ingest(sources, out, name="bad", snapshot_date=SNAPSHOT)
    assert_nothing_written(out)
    return err.value, out, sources


@pytest.mark.parametrize(("changes", "location", "fragment"),
                         [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_bad_csv_input(tmp_path: Path, changes: dict, location: str, fragment: str) -> None:
    exc, _, _ = _run_case(tmp_path, changes)
    message = str(exc)
    prefix = str(tmp_path / "in" / location)
    assert message.startswith(prefix), f"expected {prefix!r}..., got {message!r}"
    assert fragment in message[len(prefix):], message
    assert "\n" not in message and "Traceback" not in message


PARQUET_CASES = [
    ("timestamp stored as integers", "events",
     lambda f: f.assign(ts=np.arange(3, dtype="int64")),
     where("events", column="ts", suffix=".parquet"), "stored as int64 in the Parquet file; expected timestamps"),
    ("amount stored as booleans", "events",
     lambda f: f.assign(amount=[True, False, True]),
     where("events", column="amount", suffix=".parquet"), "stored as bool in the Parquet file; expected numbers"),
    ("label stored as timestamps", "outcomes",
     lambda f: f.assign(label=pd.Timestamp("2024-01-01")),
     where("outcomes", column="label", suffix=".parquet"), "expected whole numbers"),
    ("text amount that is no number", "events",
     lambda f: f.assign(amount=["1", "two", "3"]),
     where("events", 2, column="amount", suffix=".parquet"), "'two' is not a number"),
    ("true NaN", "events",
     lambda f: pa.table({**{c: f[c] for c in f.columns},
                         "amount": pa.array([1.0, 2.0, float("nan")])}),
     where("events", 3, column="amount", suffix=".parquet"), "NaN is not a number"),
    ("infinite", "relations",
     lambda f: f.assign(weight=[1.0, -np.inf]),
     where("relations", 2, column="weight", suffix=".parquet"), "'-inf' is infinite"),
    ("null in a required column", "events",
     lambda f: f.assign(status=["on_time", None, "late"]),
     where("events", 2, column="status", suffix=".parquet"), "a value is required here"),
    ("float label", "outcomes",
     lambda f: f.assign(label=[0.0, 1.0, 0.25]),
     where("outcomes", 3, column="label", suffix=".parquet"), "'0.25' is not a whole number"),
    ("unknown column", "people",
     lambda f: f.assign(salary=1.0),
     where("people", column="salary", suffix=".parquet"), "unknown column"),
    ("duplicate key", "people",
     lambda f: f.assign(person_id=["p1", "p2", "p2"]),
     where("people", 3, column="person_id", suffix=".parquet"), "duplicate person_id (first seen in row 2)"),
    ("unknown person", "outcomes",
     lambda f: f.assign(person_id=["p1", "p2", "nobody"]),
     where("outcomes", 3, column="person_id", suffix=".parquet"), "the value (not shown: an identifier) is not a person_id"),
]


@pytest.mark.parametrize(("table", "change", "location", "fragment"),
                         [c[1:] for c in PARQUET_CASES], ids=[c[0] for c in PARQUET_CASES])
def test_bad_parquet_input(tmp_path: Path, table: str, change: Callable, location: str, fragment: str) -> None:
    path = parquet_of(table, tmp_path / "in", change)
    exc, _, _ = _run_case(tmp_path, {table: path})
    message = str(exc)
    prefix = str(tmp_path / "in" / location)
    assert message.startswith(prefix), f"expected {prefix!r}..., got {message!r}"
    assert fragment in message[len(prefix):], message
    assert "line" not in message[:len(prefix)], "Parquet has no lines"


def _corrupt(inputs: Path) -> Path:
    path = parquet_of("events", inputs, lambda f: f)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _text_named_parquet(inputs: Path) -> Path:
    path = inputs / "events.parquet"
    inputs.mkdir(parents=True, exist_ok=True)
    path.write_text(VALID["events"])
    return path


def _empty_parts_directory(inputs: Path) -> Path:
    (inputs / "events").mkdir(parents=True)
    return inputs / "events"


@pytest.mark.parametrize(("make", "fragment"), [
    (_corrupt, "not a readable Parquet file"),
    (_text_named_parquet, "this is a text file (a CSV?), not Parquet"),
    (_empty_parts_directory, "the directory holds no .csv or .parquet files"),
], ids=["corrupt", "text named .parquet", "empty directory"])
def test_unreadable_parquet(tmp_path: Path, make: Callable[[Path], Path], fragment: str) -> None:
    exc, _, sources = _run_case(tmp_path, {"events": make})
    assert str(exc).startswith(f"{sources['events']}: {fragment}"), str(exc)


def test_bad_snapshot_date(tmp_path: Path) -> None:
    sources = write_inputs(tmp_path / "in")
    with pytest.raises(DataValidationError, match=r"snapshot date: '2024-13-45' is not a date \(expected YYYY-MM-DD\)"):
        ingest(sources, tmp_path / "store" / "ds", name="x", snapshot_date="2024-13-45")
    assert not (tmp_path / "store").exists()


def test_table_not_given(tmp_path: Path) -> None:
    sources = write_inputs(tmp_path / "in")
    del sources["relations"]
    with pytest.raises(DataValidationError, match="relations: no file was given for this table"):
        ingest(sources, tmp_path / "store" / "ds", name="x", snapshot_date=SNAPSHOT)


def test_error_carries_its_location(tmp_path: Path) -> None:
    exc, _, sources = _run_case(tmp_path, {"events": set_cell("events", 3, "amount", "inf")})
    assert (exc.file, exc.row, exc.line, exc.column) == (str(sources["events"]), 3, 4, "amount")
    assert str(exc) == (f"{sources['events']}, row 3 (line 4), column 'amount': "
                        "'inf' is infinite: numbers must be finite")


def test_bad_input_keeps_a_previous_data_set(tmp_path: Path) -> None:
    out = tmp_path / "store" / "ds"
    good = ingest(write_inputs(tmp_path / "good"), out, name="v1", snapshot_date=SNAPSHOT)
    before = good.fingerprint()
    with pytest.raises(DataValidationError):
        ingest(write_inputs(tmp_path / "bad", events=set_cell("events", 1, "amount", "inf")), out, name="v2",
               snapshot_date=SNAPSHOT)
    assert Dataset(out).name == "v1" and Dataset(out).fingerprint() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds"]


@pytest.mark.parametrize("occupant", ["file", "folder"])
def test_refuses_to_replace_what_is_not_a_data_set(tmp_path: Path, occupant: str) -> None:
    out = tmp_path / "precious"
    if occupant == "file":
        out.write_text("keep me")
    else:
        out.mkdir()
        (out / "thesis.txt").write_text("keep me")
    with pytest.raises(DataValidationError, match="refusing to replace it"):
        ingest(write_inputs(tmp_path / "in"), out, name="x", snapshot_date=SNAPSHOT)
    assert (out if occupant == "file" else out / "thesis.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "precious"]


def test_an_empty_folder_may_be_the_output(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    ingest(write_inputs(tmp_path / "in"), tmp_path / "ds", name="x", snapshot_date=SNAPSHOT)
    assert (tmp_path / "ds" / "manifest.json").exists()


def test_dataset_refuses_a_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"not a DeepCredit data set \(manifest.json is missing\)"):
        Dataset(tmp_path)


def test_validation_is_fast_enough(tmp_path: Path) -> None:
    """200k events validate well within a second or two: the checks are vectorised, not per row."""
    n = 200_000
    rng = np.random.default_rng(1)
    events = pd.DataFrame({"person_id": rng.choice(["p1", "p2", "p3"], n),
                           "ts": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D"),
                           "kind": "bill", "amount": np.arange(n) / 100, "status": "on_time"})
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    start = time.perf_counter()
    out = read_and_validate(path, TABLES["events"], pd.Timestamp(SNAPSHOT))
    elapsed = time.perf_counter() - start
    assert len(out) == n and elapsed < 5, elapsed


def test_rows_whose_hashes_collide_are_compared_in_full(monkeypatch):
    from deepcredit.data import validate

    frame = pd.DataFrame({"person_id": ["a", "b", "a"], "amount": [1.0, 2.0, 1.0]})
    monkeypatch.setattr(validate, "_row_hashes", lambda f: np.zeros(len(f), dtype=np.uint64))  # all collide
    with pytest.raises(validate.DataValidationError, match="row 3.*an exact duplicate of row 1"):
        validate.check_no_duplicate_rows(frame, "events.csv", 1)
    validate.check_no_duplicate_rows(frame.iloc[:2], "events.csv", 1)  # a collision alone is no duplicate


# --- relations: a self-loop or a tie recorded twice, without a spec too ------------------------------------

@pytest.mark.parametrize(("row", "problem"), [
    ("p3,p3,contact,1,2023-07-01", ", column 'target': the value (not shown: an identifier) names the same "
                                   "person as column 'source': a person is not their own connection"),
    ("p1,p2,contact,1,2023-05-01", ": an exact duplicate of row 1: one relation recorded twice"),
], ids=["self-loop", "duplicate"])
def test_ingest_without_a_spec_refuses_a_self_loop_and_a_relation_recorded_twice(tmp_path: Path, row: str,
                                                                                  problem: str) -> None:
    """Refused at ingest with a spec only: the spec-less form stored both without a word."""
    sources = write_inputs(tmp_path / "in", relations=VALID["relations"] + row + "\n")
    with pytest.raises(DataValidationError) as err:
        ingest(sources, tmp_path / "out" / "ds", name="mine", snapshot_date=SNAPSHOT)
    assert str(err.value).endswith("relations.csv, row 3 (line 4)" + problem)
    assert_nothing_written(tmp_path / "out" / "ds")
