"""The ModelInput views align row by row and, like features, see nothing at or after as_of."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import worlds

from deepcredit.features.bundle import build_model_input
from deepcredit.features.sequences import KIND_VOCAB, STATUS_VOCAB


def _bundle(tmp_path, tables, name):
    return build_model_input(worlds.store(tmp_path / name, {k: v.copy() for k, v in tables.items()}))


def test_views_align_and_ignore_the_future(tmp_path):
    tables = worlds.frames(n_people=40, seed=2)
    base = _bundle(tmp_path, tables, "a")
    n = len(base)
    assert base.sequences.kind.shape[0] == n and base.graph.num_nodes == n
    assert (base.sequences.lengths == base.tabular.frame["n_outcomes"].to_numpy()
            + (base.sequences.status == STATUS_VOCAB.index("open")).sum(axis=1)).all()
    degree = np.bincount(base.graph.edge_index[0], minlength=n)
    assert (degree == base.tabular.frame["degree"].to_numpy()).all()  # every neighbour is in the spine here

    ids = tables["people"]["person_id"]
    changed = dict(tables)
    changed["events"] = pd.concat([tables["events"], pd.DataFrame({
        "person_id": ids, "ts": worlds.AS_OF, "kind": "rental", "amount": 5.0, "status": "not_returned",
        "days_late": 90.0, "counterparty": "m1"})], ignore_index=True)
    changed["relations"] = pd.concat([tables["relations"], pd.DataFrame({
        "source": ids, "target": ids.iloc[::-1].to_numpy(), "kind": "contact", "weight": 1.0,
        "ts": worlds.ts(1)})], ignore_index=True)
    after = _bundle(tmp_path, changed, "b")
    for field in ("kind", "status", "numeric", "lengths"):
        assert np.array_equal(getattr(base.sequences, field), getattr(after.sequences, field)), field
    assert np.array_equal(base.graph.edge_index, after.graph.edge_index)


def test_most_recent_event_is_last(tmp_path):
    tables = worlds.frames(n_people=3, seed=0)
    tables["events"] = pd.DataFrame([
        ("p000", worlds.ts(-30), "repayment", 100.0, "on_time", 0.0, "m1"),
        ("p000", worlds.ts(-2), "rental", 50.0, "not_returned", 60.0, "m2"),
        ("p000", worlds.ts(-60), "bill", 500.0, "open", 0.0, "m2"),
    ], columns=["person_id", "ts", "kind", "amount", "status", "days_late", "counterparty"])
    b = _bundle(tmp_path, tables, "c")
    row = b.keys.index[b.keys.person_id == "p000"][0]
    seq = b.sequences
    assert seq.lengths[row] == 3
    assert [KIND_VOCAB[k] for k in seq.kind[row, :3]] == ["bill", "repayment", "rental"]
    assert STATUS_VOCAB[seq.status[row, 2]] == "not_returned"
    assert seq.numeric[row, 2, 1] == 2.0  # 60 days late = 2 months
    assert b.take([row]).X.shape[0] == 1 and b.take([row]).keys.person_id.iloc[0] == "p000"


def test_labels_of_rows_without_one_are_refused_naming_the_first():
    from deepcredit.data.schema import Dimension
    from deepcredit.features.bundle import ModelInput
    from deepcredit.features.engine import FeatureFrame
    from deepcredit.features.spec import FeatureDef, Source

    defs = [FeatureDef("a", Dimension.CREDIT_HISTORY, Source.DERIVED, "a", "text of a", "improve a")]
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"),
                          "label": pd.array([0, pd.NA, 1], dtype="Int32"), "a": [1.0, 2.0, 3.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    with pytest.raises(ValueError, match=r"^1 of 3 rows have no label \(the first: person y as of 2025-01-01\)"):
        inp.y  # noqa: B018
    assert inp.take([0, 2]).y.tolist() == [0, 1] and inp.take([0, 2]).y.dtype == np.int64
