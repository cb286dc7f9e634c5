"""The simulator's temporal-structure option: off by default (worlds unchanged), and when on, a risk that
shows in the order of events only."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.simulate import simulate_world

# content of simulate_world(people=300, seed=3, chunk_size=150), computed with the simulator before the
# option existed (sha256 of pandas' row hashes of each table, so Parquet writer versions do not matter)
BEFORE = {"people": "551e845d0937d04c", "events": "54501c0a0524a840", "relations": "c9db0eb3bffda8be",
          "outcomes": "c36520b87ab856af", "truth": "e8f6224d3a03f264"}


def _content(ds, table: str) -> str:
    """The table's rows hashed, with the ids as they were written then ('p0000001': the seed joined them later)."""
    frame = ds.read(table)
    for col in ("person_id", "source", "target", "counterparty"):
        if col in frame:
            frame[col] = frame[col].str.replace(r"^s\d+-(p\d+)$", r"\1", regex=True)
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    return hashlib.sha256(rows).hexdigest()[:16]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("temporal")
    return {"default": simulate_world(root / "d", people=300, seed=3, chunk_size=150),
            "off": simulate_world(root / "o", people=300, seed=3, chunk_size=150, temporal=0.0),
            "on": simulate_world(root / "t", people=300, seed=3, chunk_size=150, temporal=1.0)}


def test_a_default_world_is_the_world_it_was_before_the_option(worlds):
    for name in ("default", "off"):
        assert {t: _content(worlds[name], t) for t in BEFORE} == BEFORE
    assert worlds["default"].fingerprint() == worlds["off"].fingerprint()
    assert "temporal" not in worlds["default"].manifest.description


def test_the_option_changes_only_the_order_of_kinds_and_the_outcome(worlds):
    on, off = worlds["on"], worlds["default"]
    assert _content(on, "people") == BEFORE["people"] and _content(on, "relations") == BEFORE["relations"]
    assert "temporal" in on.manifest.description
    truth = on.read("truth").set_index("person_id")
    assert "temporal_risk" in truth.columns and "temporal_risk" not in off.read("truth").columns
    ev = on.read("events").sort_values(["person_id", "ts"], kind="stable")
    same = (ev["kind"] == ev.groupby("person_id")["kind"].shift()).groupby(ev["person_id"]).mean()
    t = truth["temporal_risk"].reindex(same.index)
    assert np.corrcoef(same, t)[0, 1] > 0.6  # runs of one kind reveal the temporal risk
    # ... while the kind mix does not move: shares within a few points of the world without the option
    share_on = ev["kind"].value_counts(normalize=True)
    share_off = off.read("events")["kind"].value_counts(normalize=True)
    assert (share_on - share_off.reindex(share_on.index)).abs().max() < 0.04
    with pytest.raises(ValueError, match="temporal"):
        simulate_world(on.root.parent / "bad", people=10, seed=1, temporal=-1.0)


def test_the_observable_limit_reads_the_order_of_kinds_only_when_the_world_has_it(worlds):
    from sklearn.metrics import roc_auc_score

    from deepcredit.data.observable import observable_pd

    on = worlds["on"]
    with pytest.raises(ValueError, match="does not match the world"):
        observable_pd(on)  # a temporal world read as a default one
    gauge = observable_pd(on, temporal=1.0).set_index("person_id")
    truth = on.read("truth").set_index("person_id").reindex(gauge.index)
    labels = on.read("outcomes").set_index("person_id")["label"].reindex(gauge.index)
    assert roc_auc_score(labels, gauge["observable_pd"]) <= roc_auc_score(labels, truth["true_pd"])
    assert abs(gauge["observable_pd"].mean() - truth["true_pd"].mean()) < 0.02
