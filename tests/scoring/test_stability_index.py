"""The one PSI arithmetic that `score`'s input check and monitoring share, and its two tests of chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.evaluation.stability import psi_table
from deepcredit.scoring.input_check import psi_of_counts
from deepcredit.scoring.stability_index import EPS, fit_p_value, psi_terms, shares, two_sample_chance


def test_a_sample_against_itself_is_zero_and_an_emptied_bin_is_floored_not_infinite() -> None:
    assert psi_terms([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]).sum() == 0.0
    terms = psi_terms([0.5, 0.5], [1.0, 0.0])
    assert np.isfinite(terms).all() and terms[1] == pytest.approx((EPS - 0.5) * np.log(EPS / 0.5))


def test_the_input_check_and_the_monitor_give_one_psi_for_the_same_counts() -> None:
    """Training's shares against a batch's counts: the same index whichever layer computes it."""
    reference = pd.Series(np.repeat([1.0, 2.0, 3.0, 4.0], [400, 300, 200, 100]))
    batch = pd.Series(np.repeat([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40]))
    counts = np.array([10, 20, 30, 40], dtype=float)
    monitored = psi_table(reference, batch, bins=4)["psi"]
    assert psi_of_counts(counts, shares(np.array([400, 300, 200, 100]))) == pytest.approx(monitored, abs=1e-12)


def test_the_two_tests_of_chance_agree_when_the_reference_is_large() -> None:
    """Against a reference sample of a million rows, its shares are as good as known: the 2 x bins test and
    the goodness of fit to its shares give nearly one p-value."""
    reference = np.array([300_000, 300_000, 400_000])
    batch = np.array([25, 40, 35])
    two, _ = two_sample_chance(reference, batch, 0.01)
    assert two == pytest.approx(fit_p_value(batch, shares(reference)), rel=0.01)


def test_a_single_bin_is_never_drift() -> None:
    assert two_sample_chance(np.array([10]), np.array([3]), 0.01) == (1.0, 0.0)
