"""Figure details a reader relies on."""

from __future__ import annotations

import numpy as np

from deepcredit.evaluation.figures import percent_decimals


def test_percent_ticks_get_the_decimals_they_need():
    """audit: ticks 2.5% apart were labelled 0, 2, 5, 8, 10, 12%: the 12% line was 12.5%."""
    assert percent_decimals(np.arange(0, 0.201, 0.025)) == 1
    assert percent_decimals(np.arange(0, 1.01, 0.1)) == 0
    assert percent_decimals(np.array([0.0, 0.001, 0.0025])) == 2
