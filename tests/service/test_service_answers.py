"""Answers kept until the score changes: the person's page works out the records behind a score and the
what-if once per score row and model, works them out again after anything that re-scores the person, and
forgets them on erasure."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from service_testkit import world

from deepcredit.service import records
from deepcredit.service.answers import AnswerCache
from deepcredit.service.events import rescore
from deepcredit.service.store.models import Score

pytest_plugins = ("service_testkit",)

T0 = datetime(2024, 1, 1)


def _row(subject: str = "p1", updated: datetime = T0, as_of: datetime = T0, model: str = "m1") -> Score:
    return Score(subject=subject, score=600, band="fair", dimensions=[], reasons=[], as_of=as_of, model_id=model,
                 updated_at=updated)


def test_an_answer_is_worked_out_once_per_score_row_and_model():
    cache, calls = AnswerCache(), []

    def work(value: str):
        return lambda: calls.append(value) or value

    assert cache.get("records", _row(), "m1", work("a")) == "a"
    assert cache.get("records", _row(), "m1", work("b")) == "a"  # the same score row: kept
    assert cache.get("recourse", _row(), "m1", work("c")) == "c"  # another question
    assert cache.get("records", _row(updated=T0 + timedelta(seconds=1)), "m1", work("d")) == "d"  # re-scored
    assert cache.get("records", _row(as_of=T0 + timedelta(days=1)), "m1", work("e")) == "e"  # another as-of
    assert cache.get("records", _row(), "m2", work("f")) == "f"  # another model serves
    assert calls == ["a", "c", "d", "e", "f"]


def test_the_cache_is_bounded_and_forgets_a_person():
    cache = AnswerCache(kept=3)
    for i in range(5):
        cache.get("records", _row(subject=f"p{i}"), "m1", lambda i=i: i)
    assert len(cache) == 3 and cache.get("records", _row(subject="p0"), "m1", lambda: "again") == "again"
    cache.get("recourse", _row(subject="p4"), "m1", lambda: 1)
    cache.forget("p4")
    assert cache.get("records", _row(subject="p4"), "m1", lambda: "new") == "new"
    assert all(key[1] != "p4" or key[0] == "records" for key in cache._answers)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_page_works_the_records_out_once_until_the_person_is_re_scored(service, monkeypatch):
    events = world().data.read("events")
    by_subject = {service.subject(pid): pid for pid in world().ids}
    pid = next(by_subject[s] for s in events["person_id"].value_counts().index if s in by_subject)
    me, subject = service.person(pid), service.subject(pid)
    calls = []
    real = records.weights_of

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "weights_of", counted)
    first = service.client.get("/v1/me/records", params={"top": 20}, headers=me).json()
    assert service.client.get("/v1/me/report.html", headers=me).status_code == 200
    assert service.client.get("/v1/me/records", params={"top": 1}, headers=me).json()["records"] == \
        first["records"][:1]
    assert calls == [subject]  # three views, one working out
    service.clock.advance(days=1)
    rescore(service.ctx, subject, cause="test")
    with service.ctx.db.read() as s:
        as_of = s.get(Score, subject).as_of
    again = service.client.get("/v1/me/records", params={"top": 20}, headers=me).json()
    assert calls == [subject, subject] and again["as_of"][:19] == as_of.isoformat()[:19]
    r = service.client.post("/v1/admin/erasures", json={"person_id": pid}, headers=service.admin)
    assert r.status_code == 201, r.text
    assert not [key for key in service.ctx.answers._answers if key[1] == subject]
