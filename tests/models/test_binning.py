"""The binning's guards against bins that rest on a handful of outcomes (audit F1, F7)."""

import json

import numpy as np
import pandas as pd

from deepcredit.data.schema import Dimension
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.models.binning import MIN_EVENTS, FeatureTable, WoEBinning

POSTCODE = FeatureDef("postcode", Dimension.IDENTITY, Source.PROFILE, "MAX(postcode)", "your postcode", "n/a",
                      kind=Kind.CATEGORICAL)
NOISE = FeatureDef("deposit", Dimension.BEHAVIOUR_PREFERENCES, Source.EVENTS, "AVG(x)", "deposit", "n/a",
                   risk_direction=0)
SMALL = {"max_n_prebins": 20, "min_prebin_size": 0.05, "min_bin_size": None, "unknown_trend": "auto"}


def postcodes(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """2,500 people over ~1,500 postcodes that carry no signal, 4% bad (RentWear's shape)."""
    rng = np.random.default_rng(seed)
    n = 2500
    y = (rng.uniform(size=n) < 0.04).astype(int)
    return pd.DataFrame({"postcode": rng.integers(10000, 11500, n).astype(str)}), y


def test_rare_categories_are_pooled_not_sorted_by_their_own_bad_rate():
    X, y = postcodes()
    b = WoEBinning(**SMALL).fit(X, y, [POSTCODE])
    t = b.tables_["postcode"]
    # without pooling, the postcodes that happened to hold bads became one bin of ~40% bad: IV ~2.5
    assert t.iv < 0.05
    assert b.pooled_["postcode"][0] == b.pooled_["postcode"][1] > 1000
    assert all(c >= MIN_EVENTS for c in t.event[:t.n_value_bins])
    assert b.tables_["postcode"].bin_of(X["postcode"].iloc[0]) < t.n_value_bins  # a pooled code keeps its bin


def test_common_categories_keep_bins_of_their_own():
    rng = np.random.default_rng(1)
    n = 3000
    region = rng.choice(["north", "south", "east", "rare1", "rare2"], n, p=[0.45, 0.3, 0.24, 0.005, 0.005])
    y = (rng.uniform(size=n) < np.where(region == "north", 0.05, np.where(region == "south", 0.15, 0.3))).astype(int)
    d = FeatureDef("region", Dimension.IDENTITY, Source.PROFILE, "MAX(region)", "region", "n/a",
                   kind=Kind.CATEGORICAL)
    b = WoEBinning().fit(pd.DataFrame({"region": region}), y, [d])
    cats = b.tables_["region"].categories
    assert ["north"] in cats and ["south"] in cats
    assert b.pooled_ == {"region": (2, 5)}
    assert any({"rare1", "rare2"} <= set(group) for group in cats)  # pooled, then binned as one group


def test_category_floor_reads_expected_not_observed_counts():
    y = np.r_[np.ones(50), np.zeros(950)].astype(int)  # 5% bad: 5 expected bads need 100 rows
    assert WoEBinning(min_bin_size=None).category_floor(y) == 100
    assert WoEBinning(min_bin_size=0.2).category_floor(y) == 200


def test_every_value_bin_holds_min_events_bads_and_goods():
    """Small-data settings on a noise measure: no narrow bin with one bad (it got +86 points on a card)."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n = 1750
        y = (rng.uniform(size=n) < 0.04).astype(int)
        X = pd.DataFrame({"deposit": rng.lognormal(3.5, 1.0, n)})
        t = WoEBinning(**SMALL).fit(X, y, [NOISE]).tables_["deposit"]
        nb = t.n_value_bins
        bads = np.asarray(t.event[:nb])
        goods = np.asarray(t.count[:nb]) - bads
        assert bads.min() >= MIN_EVENTS and goods.min() >= MIN_EVENTS, (seed, t.count, t.event)


def regions(rare: bool = True, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """3,000 people in three common regions, and (rare=True) two regions of ~15 people each."""
    rng = np.random.default_rng(seed)
    n = 3000
    p = [0.45, 0.3, 0.24, 0.005, 0.005] if rare else [0.45, 0.3, 0.25, 0.0, 0.0]
    region = rng.choice(["north", "south", "east", "rare1", "rare2"], n, p=p)
    y = (rng.uniform(size=n) < np.where(region == "north", 0.05, np.where(region == "south", 0.15, 0.3))).astype(int)
    return pd.DataFrame({"region": region}), y


REGION = FeatureDef("region", Dimension.IDENTITY, Source.PROFILE, "MAX(region)", "region", "n/a",
                    kind=Kind.CATEGORICAL)


def test_an_unseen_category_joins_the_pooled_rare_ones():
    """A category never seen in training is rarer than any pooled one: it is scored with them, not as average."""
    X, y = regions()
    t = WoEBinning().fit(X, y, [REGION]).tables_["region"]
    pooled = next(i for i, group in enumerate(t.categories) if "rare1" in group)
    assert t.unseen_bin == pooled
    assert t.bin_of("atlantis") == pooled and t.bin_of("rare1") == pooled
    assert t.bin_index(pd.Series(["atlantis", "north", None])).tolist() == [pooled, t.bin_of("north"),
                                                                             t.n_value_bins + 1]
    assert t.labels[pooled].endswith("; any category not seen in training")
    saved = FeatureTable.from_dict(json.loads(json.dumps(t.to_dict())))
    assert saved.unseen_bin == pooled and saved.bin_of("atlantis") == pooled


def test_without_pooling_an_unseen_category_stays_in_the_neutral_bin():
    X, y = regions(rare=False)
    b = WoEBinning().fit(X, y, [REGION])
    t = b.tables_["region"]
    assert b.pooled_ == {} and t.unseen_bin is None
    assert t.bin_of("atlantis") == t.n_value_bins + 2 and t.bin_index(pd.Series(["atlantis"]))[0] == t.n_value_bins + 2
    assert not any("not seen" in label for label in t.labels)
    old = {k: v for k, v in t.to_dict().items() if k != "unseen_bin"}  # a card saved before unseen_bin
    assert FeatureTable.from_dict(old).bin_of("atlantis") == t.n_value_bins + 2


def test_infinite_and_huge_values_bin_with_the_extremes():
    """optbinning prebins in float32: inf and values beyond 3.4e38 stopped the fit with an error naming no
    feature. They now train in the extreme bins, where scoring puts them."""
    rng = np.random.default_rng(2)
    n = 3000
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(2 - x))).astype(int)
    x[:60], x[60:120], x[120:150], x[150:180] = 1e30, -1e30, np.inf, -np.inf
    x[180:200] = 1e300
    y[:60] = y[120:150] = 1  # the largest values are the riskiest
    X = pd.DataFrame({"deposit": x})
    t = WoEBinning().fit(X, y, [NOISE]).tables_["deposit"]
    bins = t.bin_index(X["deposit"])
    assert np.bincount(bins, minlength=len(t.count)).tolist() == t.count  # scoring reproduces the training bins
    assert set(bins[120:150]) == {t.n_value_bins - 1} and set(bins[150:180]) == {0}
    assert all(np.isfinite(t.splits)) and np.isfinite(t.woe).all()
