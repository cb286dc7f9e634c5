"""The words `spec draft` reads: a label's window in its name, and label values not known yet."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft.words import outcomes_in_words, window_in_name


@pytest.mark.parametrize(("column", "days"), [
    ("status_180d", 180), ("bad_90_days", 90), ("default12m", 365), ("default_12m", 365), ("ever_dpd90_6mo", 182),
    ("defaultIn2Years", 730), ("status", None), ("dpd90", None), ("bad_0d", None)])
def test_a_label_named_for_its_window_gives_it_in_days(column, days):
    assert window_in_name(column) == days


def test_label_values_that_say_not_yet_are_unknown_and_ok_is_good():
    values = pd.Series(["DEFAULT", "ok", "under_review", "pending", "OK"])
    assert outcomes_in_words(values) == {"bad": ["DEFAULT"], "good": ["OK", "ok"],
                                         "unknown": ["pending", "under_review"]}
