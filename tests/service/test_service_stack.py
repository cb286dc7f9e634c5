"""The service serves the full stack: its score for a person equals the batch score on the same data and
as-of, to the point, and an event the service learns reaches the sequence, Wide & Deep and graph towers."""

from __future__ import annotations

import functools
from datetime import datetime

import numpy as np
import pandas as pd

from deepcredit.data.dataset import write_dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.base import DIMENSIONS, load_model, save_model
from deepcredit.models.stack import StackModel
from deepcredit.scoring.scorer import Scorer
from deepcredit.service import scoring as service_scoring
from deepcredit.service.scoring import ModelScorer, Overlay, load_scorer

NOW = datetime(2026, 7, 1, 12, 0, 0)
QUICK = {"sequence": {"max_epochs": 1}, "wide_deep": {"max_epochs": 1, "use_graph_tower": True},
         "graph": {"max_epochs": 2}, "gbdt": {"n_estimators": 60, "early_stopping_rounds": None}}


@functools.lru_cache(maxsize=1)
def stack_world(root: str):
    data = simulate_world(f"{root}/w", people=400, seed=11)
    inp = build_model_input(data)
    model = StackModel(member_params=QUICK, n_folds=2, seed=0).fit(inp)
    save_model(model, f"{root}/stack", inp)
    return data, f"{root}/stack"


def _world(tmp_path_factory):
    return stack_world(str(tmp_path_factory.getbasetemp() / "service-stack"))


def _batch(model, data, as_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Batch scoring as `deepcredit score` does it: everyone in the people table, as of one date."""
    spine = data.read("people")[["person_id"]].assign(as_of=pd.Timestamp(as_of))
    inp = build_model_input(data, spine=spine, views=model.views)
    return Scorer(model).explain(inp)


def _connected(data, n: int = 6) -> list[str]:
    rel = data.read("relations")
    degree = pd.concat([rel["source"], rel["target"]]).value_counts()
    return list(degree.index[:n // 2]) + list(data.read("people")["person_id"].iloc[:n // 2])


def test_the_service_score_equals_the_batch_score(tmp_path_factory):
    data, path = _world(tmp_path_factory)
    scorer = load_scorer(path, data)
    model = scorer.model
    assert {k for k, _ in model.members_} >= {"sequence", "wide_deep", "graph"}
    assert scorer.hops == 2 and set(scorer.views) == {"tabular", "temporal", "structural"}
    card, reasons = _batch(model, data, NOW)
    people = _connected(data)
    served = scorer.score_people(people, as_of=NOW)
    for p in served:
        row = card[card["person_id"] == p.person_id].iloc[0]
        assert p.score == row["score"] and p.band == row["band"], p.person_id
        assert [d.points for d in p.dimensions] == [None if pd.isna(row[d]) else int(row[d]) for d in DIMENSIONS]
        mine = reasons[reasons["person_id"] == p.person_id]
        assert [r.feature for r in p.reasons] == mine["feature"].tolist()
        assert [r.points_lost for r in p.reasons] == mine["points_lost"].tolist()
        assert p.model_id == scorer.model_id


def test_an_event_reaches_every_tower_and_matches_a_rebuilt_data_set(tmp_path_factory, tmp_path):
    data, path = _world(tmp_path_factory)
    person = _connected(data, 2)[0]
    event = pd.DataFrame([{"person_id": person, "ts": pd.Timestamp(NOW) - pd.Timedelta(hours=2),
                           "kind": "rental", "amount": 400.0, "status": "defaulted",
                           "due_ts": pd.Timestamp(NOW) - pd.Timedelta(days=60), "days_late": 60.0,
                           "counterparty": "merchant:1", "event_id": "s1"}])
    plain = load_scorer(path, data)
    told = ModelScorer(data, plain.model, lambda people: Overlay(events=event), model_id=plain.model_id,
                       definitions=plain.definitions)
    before = plain.model_input([person], NOW)
    after = told.model_input([person], NOW)
    i = int(np.flatnonzero(after.keys["person_id"] == person)[0])
    logits_before = plain.model.member_logits(before.take([i]))
    logits_after = plain.model.member_logits(after.take([i]))
    for kind in ("sequence", "wide_deep", "graph"):  # the new event moves every tower that reads events
        assert logits_after[kind].iloc[0] != logits_before[kind].iloc[0], kind
    served = told.score_people([person], as_of=NOW)[0]
    assert served.score < plain.score_people([person], as_of=NOW)[0].score
    frames = {t: data.read(t) for t in ("people", "events", "relations", "outcomes")}
    frames["events"] = pd.concat([frames["events"], event.astype({"ts": "datetime64[us]",
                                                                  "due_ts": "datetime64[us]"})], ignore_index=True)
    rebuilt = write_dataset(tmp_path / "rebuilt", frames, "rebuilt", str(data.snapshot_date.date()))
    card, _ = _batch(load_model(path), rebuilt, NOW)
    assert served.score == card.loc[card["person_id"] == person, "score"].iloc[0]


def test_the_scorer_moves_on_to_a_new_database_and_scores_the_same(tmp_path_factory, monkeypatch):
    """After RECYCLE_AFTER uses the scorer opens a new DuckDB database (a long-lived one runs the feature
    statement slower and slower): the scores stay the same, and a cursor still open on the old one works."""
    data, path = _world(tmp_path_factory)
    monkeypatch.setattr(service_scoring, "RECYCLE_AFTER", 2)
    scorer = load_scorer(path, data)
    person = _connected(data, 2)[0]
    first = scorer.score_people([person], as_of=NOW)[0]
    kept = scorer.cursor()
    databases = [scorer.database]
    for _ in range(4):
        scorer.settle_renewal()  # opened by a worker meanwhile; waited for here so the test is determinate
        again = scorer.score_people([person], as_of=NOW)[0]
        assert (again.score, again.band, again.reasons) == (first.score, first.band, first.reasons)
        if scorer.database is not databases[-1]:
            databases.append(scorer.database)
    assert len(databases) >= 2
    assert kept.execute("SELECT 42").fetchone() == (42,)
    kept.close()


def test_a_new_database_that_cannot_be_opened_leaves_the_current_one_serving(tmp_path_factory, monkeypatch):
    data, path = _world(tmp_path_factory)
    monkeypatch.setattr(service_scoring, "RECYCLE_AFTER", 1)
    scorer = load_scorer(path, data)
    person = _connected(data, 2)[0]
    serving = scorer.database

    def refuse() -> None:
        raise MemoryError("no memory for a new database")

    monkeypatch.setattr(scorer, "_database", refuse)
    first = scorer.score_people([person], as_of=NOW)[0]
    for _ in range(3):
        scorer.settle_renewal()
        again = scorer.score_people([person], as_of=NOW)[0]
        assert (again.score, again.band) == (first.score, first.band)
    assert scorer.database is serving
