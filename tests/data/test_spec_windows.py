"""The [windows] section: defaults as the catalogue was written for, and a bad one named at its line."""

from __future__ import annotations

import pytest

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
