"""Files of JSON Lines, as web services export their records: one object per line, read as a CSV's text."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.data.validate import DataValidationError

from .shop import SPEC, write_files

EVENTS = [{"customer": "c1", "booked_at": "2024-01-05", "type": "invoice", "value": 100.25, "state": "settled"},
          {"customer": "c1", "booked_at": "2024-02-13", "type": "payment", "value": 60, "state": "settled"},
          {"customer": "c2", "booked_at": "2024-02-03", "type": "payment", "value": 70.5, "state": "bounced"}]


def _lines(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _sources(tmp_path, text: str, name: str = "events.jsonl") -> dict:
    paths = write_files(tmp_path / "shop", False)
    people = pd.read_csv(paths["people"], dtype=str, keep_default_na=False)
    (tmp_path / "people.ndjson").write_text(_lines([{k: (v or None) for k, v in r.items()}
                                                    for r in people.to_dict("records")]))
    (tmp_path / name).write_text(text) if not name.endswith(".gz") else (tmp_path / name).write_bytes(
        gzip.compress(text.encode()))
    return {"people": tmp_path / "people.ndjson", "events": tmp_path / name, "outcomes": paths["outcomes"]}


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_json_lines_ingest_as_their_csv_twin_does(tmp_path, name):
    spec = spec_from_toml(SPEC.format(format=""))
    from_json = ingest_with_spec(spec, _sources(tmp_path, _lines(EVENTS), name), tmp_path / "json")
    from_csv = ingest_with_spec(spec, write_files(tmp_path / "csv", False), tmp_path / "csvds")
    for table in ("people", "events", "outcomes"):
        pd.testing.assert_frame_equal(from_json.read(table), from_csv.read(table))


@pytest.mark.parametrize(("text", "problem"), [
    (_lines(EVENTS[:1]) + '{"customer": "c2", oops\n', r"row 2 \(line 2\): not a JSON object"),
    (_lines(EVENTS[:1]) + json.dumps({**EVENTS[1], "value": {"net": 60}}) + "\n",
     r"row 2 \(line 2\), column 'value': a nested JSON object"),
    (_lines(EVENTS[:1]) + "[1, 2]\n", r"row 2 \(line 2\): a JSON list, not an object"),
    (_lines(EVENTS[:1]) + "\n" + _lines(EVENTS[1:]), r"row 2 \(line 2\): an empty line"),
    (_lines([EVENTS[0], {**EVENTS[1], "value": "sixty"}]), r"row 2 \(line 2\), column 'value': 'sixty' is not a number"),
])
def test_a_bad_line_is_named_by_its_number(tmp_path, text, problem):
    with pytest.raises(DataValidationError, match=problem):
        ingest_with_spec(spec_from_toml(SPEC.format(format="")), _sources(tmp_path, text), tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_a_draft_reads_json_lines_and_finds_their_columns(tmp_path):
    sources = _sources(tmp_path, _lines(EVENTS))
    text = draft_spec(sources["people"], "shop", events=sources["events"], outcomes=sources["outcomes"])
    for line in ('id_column = "customer"', 'ts = "booked_at"', 'kind = "type"', '"bounced" = { meaning = "broken" }'):
        assert line in text, line
    assert "delimiter" not in text  # no CSV format to guess
