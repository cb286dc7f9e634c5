"""The engine rounds numeric features to fixed significant digits (engine.round_significant)."""

from __future__ import annotations

import numpy as np

from deepcredit.features.engine import SIGNIFICANT_DIGITS, round_significant


def test_rounding_keeps_specials_and_round_numbers():
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 0.1, 5.0, -2.5e-7, 1e-300, 1e290, 1234.5])
    out = round_significant(x)
    assert np.array_equal(out, x, equal_nan=True)


def test_rounding_keeps_the_leading_digits_and_drops_the_rest():
    assert round_significant(np.array([1 / 3]))[0] == 0.333333333
    assert round_significant(np.array([123456789012.0]))[0] == 123456789000.0
    assert round_significant(np.array([0.30000000000000004]))[0] == 0.3
    x = np.random.default_rng(0).lognormal(0, 8, 10_000) * np.random.default_rng(1).choice([-1, 1], 10_000)
    rel = np.abs(round_significant(x) - x) / np.abs(x)
    assert rel.max() <= 0.5 * 10.0 ** (1 - SIGNIFICANT_DIGITS)


def test_values_a_few_ulps_apart_round_alike():
    """What a different summation order does to an aggregate: all but a boundary-straddling few agree."""
    x = np.random.default_rng(2).lognormal(0, 6, 100_000)
    near = x
    for _ in range(4):
        near = np.nextafter(near, np.inf)
    assert not np.array_equal(x, near)
    assert (round_significant(x) != round_significant(near)).sum() <= 1
