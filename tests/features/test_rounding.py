"""The engine rounds numeric features to fixed significant digits (engine.round_significant) and types them (engine.typed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.data.schema import Dimension
from deepcredit.features.engine import SIGNIFICANT_DIGITS, round_significant, typed
from deepcredit.features.spec import FeatureDef, Kind, Source


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


def test_typing_gives_one_dtype_per_kind_and_keeps_the_columns_in_place():
    """What SQL returns (integer counts, nullable integers, text) becomes float64 rounded or a category."""
    def feature(name: str, kind: Kind = Kind.NUMERIC) -> FeatureDef:
        return FeatureDef(name, Dimension.IDENTITY, Source.PROFILE, name, name, name, kind=kind)

    frame = pd.DataFrame({"person_id": ["a", "b", "c"], "as_of": pd.to_datetime(["2024-01-01"] * 3),
                          "label": pd.array([1, None, 0], dtype="Int32"),
                          "count": np.array([1, 2, 3], dtype=np.int64),
                          "tier": ["x", None, "y"],
                          "nullable": pd.array([4, None, 6], dtype="Int32"),
                          "share": [1 / 3, np.nan, 0.5]})
    out = typed(frame.copy(), [feature("count"), feature("tier", Kind.CATEGORICAL), feature("nullable"),
                               feature("share")])
    assert list(out.columns) == list(frame.columns)
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "person_id": "object", "as_of": "datetime64[us]", "label": "Int32", "count": "float64",
        "tier": "category", "nullable": "float64", "share": "float64"}
    assert np.array_equal(out["nullable"].to_numpy(), [4.0, np.nan, 6.0], equal_nan=True)
    assert out["share"].iloc[0] == 0.333333333 and out["tier"].isna().tolist() == [False, True, False]
