"""One vocabulary of calendar periods: `load --cadence` takes the words `--period` takes (audit K, F2)."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.datasets.otc import quarter_boundaries
from deepcredit.data.period_words import CALENDAR, start_frequency
from deepcredit.data.validate import DataValidationError
from deepcredit.evaluation.periods import PERIODS


def test_the_period_words_of_evaluate_are_the_cadence_words_of_load() -> None:
    assert set(CALENDAR) <= set(PERIODS)
    assert [start_frequency(w) for w in ("month", "Quarter", "year", "7D")] == ["MS", "QS", "YS", "7D"]


@pytest.mark.parametrize(("word", "freq"), [("quarter", "QS"), ("month", "MS"), ("year", "YS")])
def test_a_cadence_word_gives_the_same_as_of_dates_as_its_pandas_frequency(word: str, freq: str) -> None:
    ts = pd.Series(pd.to_datetime(["2014-01-05", "2017-08-20"]))
    assert quarter_boundaries(ts, word) == quarter_boundaries(ts, freq)
    assert len(quarter_boundaries(ts, word)) >= 2


def test_an_unknown_cadence_names_the_words_and_the_pandas_form() -> None:
    ts = pd.Series(pd.to_datetime(["2014-01-05", "2017-08-20"]))
    with pytest.raises(DataValidationError, match="month, quarter, year nor a pandas frequency"):
        quarter_boundaries(ts, "fortnight")
