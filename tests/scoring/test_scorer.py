"""The Scorer refuses a row whose model gives no PD (a NaN logit) instead of scoring it the worst score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.base import Explanation
from deepcredit.scoring.scorer import Scorer


class _NaNModel:
    """A model whose logit is NaN for the second row."""

    kind = "fake"
    views = ("tabular",)
    used_features_ = ["a"]
    definitions_ = None

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fitted_members(self) -> list:
        return []

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return np.array([-2.0, np.nan, 1.0])[: len(inp)]

    def explain(self, inp: ModelInput) -> Explanation:
        by_feature = pd.DataFrame({"a": np.zeros(len(inp))})
        return Explanation.from_features(self.decision_function(inp), by_feature, inp.definitions,
                                         decision=self.decision_function(inp))


def test_a_nan_pd_is_refused_naming_the_person_with_or_without_explanations():
    defs = [FeatureDef("a", Dimension.CREDIT_HISTORY, Source.DERIVED, "a", "text of a", "improve a")]
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"), "label": [0, 1, 0],
                          "a": [1.0, 2.0, 3.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    scorer = Scorer(_NaNModel())  # type: ignore[arg-type]
    for explain in (False, True):
        with pytest.raises(ValueError, match=r"fake: 1 of 3 rows have no PD \(NaN logit; the first: person y as of "
                                             r"2025-01-01\)"):
            scorer.report(inp, explain=explain)


class _FlatModel:
    """A model reading the given features with no contribution: every dimension of theirs has data."""

    kind = "flat"
    views = ("tabular",)
    definitions_ = None

    def __init__(self, used: list[str]) -> None:
        self.used_features_ = used

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fitted_members(self) -> list:
        return []

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return np.full(len(inp), -2.0)

    def explain(self, inp: ModelInput) -> Explanation:
        by_feature = pd.DataFrame(np.zeros((len(inp), len(inp.definitions))), columns=[d.name for d in inp.definitions])
        return Explanation.from_features(self.decision_function(inp), by_feature, inp.definitions,
                                         decision=self.decision_function(inp))


def _histories(tmp_path) -> ModelInput:
    """Four people of the simulator's spec, as of 2025-01-01: `none` has no events (but a credit line on
    file), `one` one repayment before as_of, `later` one only after as_of, `bare` no events and no line."""
    from deepcredit.data.dataset import write_dataset
    from deepcredit.data.ingest import empty_table
    from deepcredit.data.schema import RELATIONS
    from deepcredit.data.spec import builtin_spec
    from deepcredit.features.bundle import build_model_input

    as_of = pd.Timestamp("2025-01-01")
    ids = ["none", "one", "later", "bare"]
    people = pd.DataFrame({"person_id": ids, "sex": "female", "age": 40.0, "education": "university",
                           "identity_verified": True, "joined_at": (as_of - pd.Timedelta(days=400)),
                           "credit_limit": [5000.0, np.nan, np.nan, np.nan]})
    people["joined_at"] = people["joined_at"].astype("datetime64[us]")
    events = pd.DataFrame({"person_id": ["one", "later"], "ts": [as_of - pd.Timedelta(days=10),
                                                                 as_of + pd.Timedelta(days=10)],
                           "kind": "repayment", "amount": 100.0, "status": "on_time", "days_late": 0.0,
                           "counterparty": "m1"})
    events["ts"] = events["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ids, "as_of": pd.Series([as_of] * 4, dtype="datetime64[us]"),
                             "label": [0, 0, 1, 0], "window_days": 180})
    ds = write_dataset(tmp_path / "w", {"people": people, "events": events, "relations": empty_table(RELATIONS),
                                        "outcomes": outcomes}, "histories", "2026-01-01",
                       spec=builtin_spec("simulator"))
    return build_model_input(ds, views=("tabular",))


def test_a_dimension_resting_on_no_record_says_so_per_person(tmp_path):
    inp = _histories(tmp_path)
    card = Scorer(_FlatModel([d.name for d in inp.definitions])).report(inp).set_index("person_id")  # type: ignore[arg-type]
    flags = card[[f"{d}_no_record" for d in ("identity", "credit_history", "fulfilment_capacity",
                                             "behaviour_preferences")]].astype(bool)
    flags.columns = ["identity", "history", "capacity", "behaviour"]
    assert flags.loc["none"].to_dict() == {"identity": False, "history": True, "capacity": False, "behaviour": True}
    assert flags.loc["one"].to_dict() == {"identity": False, "history": False, "capacity": False, "behaviour": False}
    # point in time: an event after as_of is not on the record the score reads
    assert flags.loc["later"].to_dict() == flags.loc["bare"].to_dict() == {
        "identity": False, "history": True, "capacity": True, "behaviour": True}
    assert card["credit_history"].notna().all()  # the model has data there: a number, with the flag beside it
    # a dimension the model has no data for is "no data", never "no record"
    history_only = [d.name for d in inp.definitions if d.dimension is Dimension.CREDIT_HISTORY]
    card = Scorer(_FlatModel(history_only)).report(inp).set_index("person_id")  # type: ignore[arg-type]
    assert card["behaviour_preferences"].isna().all() and not card["behaviour_preferences_no_record"].any()
    assert card["credit_history_no_record"].to_dict() == {"bare": True, "later": True, "none": True, "one": False}



def test_records_older_than_every_window_still_count_as_a_record(tmp_path):
    """"No record on file" must stay true: `old` holds one record, 400 days before as_of (beyond the longest
    window, 365 days by default). Each dimension the events feed holds a whole-history feature
    (history_days, days_since_last_event), so `old` is not flagged there, as `none`, who holds none, is."""
    from deepcredit.data.dataset import write_dataset
    from deepcredit.data.ingest import empty_table
    from deepcredit.data.schema import RELATIONS
    from deepcredit.data.spec import builtin_spec
    from deepcredit.features.bundle import build_model_input

    as_of, spec = pd.Timestamp("2025-01-01"), builtin_spec("simulator")
    ids = ["none", "old"]
    people = pd.DataFrame({"person_id": ids, "sex": "female", "age": 40.0, "education": "university",
                           "identity_verified": True, "joined_at": (as_of - pd.Timedelta(days=800)),
                           "credit_limit": np.nan})
    people["joined_at"] = people["joined_at"].astype("datetime64[us]")
    events = pd.DataFrame({"person_id": ["old"], "ts": [as_of - pd.Timedelta(days=spec.windows.long + 35)],
                           "kind": "repayment", "amount": 100.0, "status": "on_time", "days_late": 0.0,
                           "counterparty": "m1"})
    events["ts"] = events["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ids, "as_of": pd.Series([as_of] * 2, dtype="datetime64[us]"),
                             "label": [0, 1], "window_days": 180})
    ds = write_dataset(tmp_path / "w", {"people": people, "events": events, "relations": empty_table(RELATIONS),
                                        "outcomes": outcomes}, "old", "2026-01-01", spec=spec)
    inp = build_model_input(ds, views=("tabular",))
    card = Scorer(_FlatModel([d.name for d in inp.definitions])).report(inp).set_index("person_id")  # type: ignore[arg-type]
    fed = [f"{d}_no_record" for d in ("credit_history", "fulfilment_capacity", "behaviour_preferences")]
    assert card.loc["none", fed].astype(bool).all()
    assert not card.loc["old", fed].astype(bool).any()
