"""The [windows] section: defaults as the catalogue was written for, and a bad one named at its line."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.draft.windows import RHYTHMS, rhythm
from deepcredit.data.spec import SpecError, builtin_spec, spec_from_toml
from deepcredit.data.spec_windows import Windows

SPEC = """spec_version = 1
name = "w"

[windows]
{body}

[outcomes]
window_days_column = "window_days"
"""


def test_a_spec_without_windows_looks_back_a_month_3_6_and_12_months():
    assert builtin_spec("simulator").windows == Windows(period=30, recent=90, medium=180, long=365)


@pytest.mark.parametrize(("body", "where", "words"), [
    ("recent = 200", "line 4, field 'windows.period'", "windows must grow: period (30) ≤ recent (200)"),
    ("period = 0", "line 5, field 'windows.period'", "greater than 0"),
    ("period = 1\nrecent = 7", "line 4, field 'windows.long'", "365 periods of 1 day; at most 62"),
    ("weeks = 3", "line 5, field 'windows.weeks'", "unknown field"),
])
def test_a_bad_windows_section_is_named_at_its_line(body, where, words):
    with pytest.raises(SpecError) as err:
        spec_from_toml(SPEC.format(body=body), "w.toml")
    assert f"w.toml, {where}" in str(err.value) and words in str(err.value)


def test_a_draft_proposes_the_windows_of_the_rhythm_the_commitments_keep(tmp_path):
    weeks = pd.date_range("2024-01-01", periods=10, freq="7D").strftime("%Y-%m-%d").tolist()
    pd.DataFrame({"customer_id": ["a", "b"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"customer_id": ["a"] * 10 + ["b"] * 10, "due_date": weeks * 2, "kind": ["instalment"] * 20,
                  "status": ["paid"] * 19 + ["missed"]}).to_csv(tmp_path / "instalments.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", events=tmp_path / "instalments.csv")
    assert "about 7 days apart (median, in the sample): weekly windows are proposed" in text
    weekly = text
    for line in ("[windows]", "period = ", "recent = ", "medium = ", "long = "):
        weekly = weekly.replace(f"# {line}", line)
    assert spec_from_toml(weekly).windows == Windows(period=7, recent=28, medium=84, long=182)


@pytest.mark.parametrize(("gap", "rhythm_of"), [(None, "month"), (7.0, "week"), (31.0, "month"), (365.0, "year")])
def test_the_rhythm_follows_the_median_gap_and_every_rhythm_gives_valid_windows(gap, rhythm_of):
    assert rhythm(gap) == rhythm_of
    period, recent, medium, long = RHYTHMS[rhythm_of]
    Windows(period=period, recent=recent, medium=medium, long=long)  # valid: grows, at most 62 periods
