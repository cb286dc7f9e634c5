"""The records that cost me most, in the service: the person's own, the same numbers as `deepcredit explain
--records` for the same model and as-of, nothing dated at or after the score's as-of, never for a merchant."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from service_testkit import NOW, scorer_for, world
from sqlalchemy import select

from deepcredit.scoring.record_reasons import record_weights
from deepcredit.service.records import weights_of
from deepcredit.service.scoring import OVERLAY_COLUMNS, Overlay
from deepcredit.service.store.models import AuditEntry, Score
from deepcredit.workflows.explain import explain_person

pytest_plugins = ("service_testkit",)


def _costly(service, skip: int = 0) -> str:
    """A raw person id with some broken records (the `skip`-th such, many records first)."""
    events = world().data.read("events")
    bad = events[events["status"].isin(["missed", "overdue", "late"])]["person_id"].value_counts()
    by_subject = {service.subject(pid): pid for pid in world().ids}
    return [by_subject[s] for s in bad.index if s in by_subject][skip]


def _set_as_of(service, pid: str, as_of: datetime) -> None:
    with service.ctx.db.write() as s:
        s.get(Score, service.subject(pid)).as_of = as_of


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_person_gets_the_records_explain_gives(service):
    pid = _costly(service)
    me = service.person(pid)
    r = service.client.get("/v1/me/records", params={"top": 20}, headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    subject = service.subject(pid)
    ex = explain_person(world().model, world().data, subject, NOW.isoformat())  # the CLI's path, same model
    cli = record_weights(ex.model, ex.definitions, world().data, subject, ex.card["as_of"], context=(ex.input, ex.row))
    want = cli.top(20)
    assert body["held"] == cli.records and body["considered"] == cli.considered and len(want) >= 1
    assert [x["points"] for x in body["records"]] == pytest.approx(want["points"].tolist(), abs=1e-6)
    got = pd.DataFrame(body["records"])
    assert (pd.to_datetime(got["ts"]).dt.tz_localize(None) == want["ts"].to_numpy()).all()
    assert got["kind"].tolist() == want["kind"].tolist() and got["status"].tolist() == want["status"].tolist()
    assert round(cli.baseline) == service.score_of(pid).score  # the score the person was told
    assert set(got.columns) == {"event_id", "ts", "kind", "status", "amount", "due_ts", "days_late", "points",
                                "meaning", "reported_at"}
    statuses = world().data.spec.events.statuses  # each record says what its status means, in the spec's word
    assert got["meaning"].tolist() == [statuses[s].meaning for s in got["status"]]
    # no counterparty, no person id; the record's own id is one the report lists, and a dispute takes it
    listed = {e["event_id"] for e in service.client.get("/v1/me/report", headers=me).json()["events"]}
    assert got["event_id"].notna().all() and set(got["event_id"]) <= listed
    dispute = service.client.post("/v1/me/disputes", headers=me,
                                  json={"event_id": got["event_id"].iloc[0], "reason": "I paid this on time"})
    assert dispute.status_code == 201, dispute.text
    assert pid not in r.text and subject not in r.text
    assert len(service.client.get("/v1/me/records", params={"top": 1}, headers=me).json()["records"]) == 1
    with service.ctx.db.read() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.action == "records_viewed")).scalars().all()
    assert [(a.subject, a.actor) for a in rows] == [(subject, "person")] * 2  # one row per look, the person's own
    # groups of records taken together: explain's, costliest first, each named as the person reads it
    groups = cli.top_groups(20)
    assert len(groups) >= 1 and [g["points"] for g in body["groups"]] == pytest.approx(groups["points"].tolist(),
                                                                                         abs=1e-6)
    assert [(g["by"], g["name"], g["label"], g["count"]) for g in body["groups"]] == list(
        groups[["by", "name", "label", "count"]].itertuples(index=False, name=None))
    assert all(set(g) == {"by", "name", "label", "count", "points"} for g in body["groups"])
    html = service.client.get("/v1/me/report.html", headers=me).text
    assert '<table id="records-table"' in html and body["records"][0]["ts"][:10] in html
    first = body["groups"][0]
    assert '<ul id="record-groups">' in html and (f"Your {first['count']} {first['label']} record" in html)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_merchant_or_another_person_never_gets_them(service):
    pid, other = _costly(service), _costly(service, skip=1)
    _, acme = service.merchant()
    assert service.client.get("/v1/me/records", headers=acme).status_code == 401  # as every person route
    assert service.client.get("/v1/me/records").status_code == 401
    mine = service.client.get("/v1/me/records", params={"top": 20}, headers=service.person(pid)).json()
    theirs = service.client.get("/v1/me/records", params={"top": 20}, headers=service.person(other)).json()
    events = world().data.read("events")
    own = events[events["person_id"] == service.subject(other)]
    assert theirs["held"] == int((own["ts"] < NOW).sum()) != mine["held"]  # a token reads only its own
    kinds = own.loc[own["ts"] < NOW, "kind"].value_counts()
    assert theirs["groups"] and all(g["count"] == kinds[g["name"]] for g in theirs["groups"] if g["by"] == "kind")
    assert [g["count"] for g in theirs["groups"]] != [g["count"] for g in mine["groups"]]
    with service.ctx.db.read() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.action == "records_viewed")).scalars().all()
    assert all(json.loads(a.details) == {} for a in rows) and {a.subject for a in rows} == {
        service.subject(pid), service.subject(other)}


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_record_at_or_after_the_score_s_as_of_never_appears(service):
    pid = _costly(service)
    subject = service.subject(pid)
    me = service.person(pid)
    costliest = service.client.get("/v1/me/records", headers=me).json()["records"][0]
    as_of = pd.Timestamp(costliest["ts"]).tz_localize(None).to_pydatetime()  # that record dated exactly at the as-of
    _set_as_of(service, pid, as_of)
    body = service.client.get("/v1/me/records", params={"top": 20}, headers=me).json()
    events = world().data.read("events")
    own = events[events["person_id"] == subject]
    assert body["held"] == int((own["ts"] < as_of).sum()) < len(own)
    shown = pd.to_datetime([x["ts"] for x in body["records"]]).tz_localize(None)
    assert (shown < as_of).all() and costliest not in body["records"]
    ex = explain_person(world().model, world().data, subject, as_of.isoformat())
    cli = record_weights(ex.model, ex.definitions, world().data, subject, as_of, context=(ex.input, ex.row))
    assert [x["points"] for x in body["records"]] == pytest.approx(cli.top(20)["points"].tolist(), abs=1e-6)
    assert [g["count"] for g in body["groups"]] == cli.top_groups(20)["count"].tolist()  # of records before as_of
    assert all(g["count"] <= body["held"] for g in body["groups"])


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_person_with_no_records_gets_an_empty_list(service):
    events, people = world().data.read("events"), world().data.read("people")
    subject = sorted(set(people["person_id"]) - set(events["person_id"]))[0]
    pid = next(p for p in world().ids if service.subject(p) == subject)
    me = service.person(pid)
    body = service.client.get("/v1/me/records", headers=me).json()
    assert body["records"] == [] and body["held"] == body["considered"] == 0 and body["as_of"] is not None
    assert body["groups"] == []
    assert "none weighs on your score" in service.client.get("/v1/me/report.html", headers=me).text


def test_the_service_s_own_data_is_read_a_reported_record_counts_a_removed_one_is_gone():
    """The records come from the data the service scores (its reported events and corrections in), not the
    data set's files alone: the person's score without a record is the service's own re-score."""
    w = world()
    events = w.data.read("events")
    subject = events[events["status"] == "missed"]["person_id"].value_counts().index[0]
    plain = weights_of(scorer_for(w.data), subject, NOW)
    costliest = plain.top(1).iloc[0]
    mine = events[(events["person_id"] == subject) & (events["ts"] == costliest["ts"])]
    fix = pd.DataFrame({"event_ref": [mine["event_id"].iloc[0]], "action": ["remove"], "status": [None],
                        "days_late": [None]})
    removed = weights_of(scorer_for(w.data, lambda people: Overlay(corrections=fix)), subject, NOW)
    assert removed.records == plain.records - 1 and costliest["ts"] not in set(removed.weights["ts"])
    at = pd.Timestamp(NOW) - pd.Timedelta(days=3)
    reported = pd.DataFrame([{"person_id": subject, "ts": at, "kind": "instalment", "amount": 120.0,
                              "status": "missed", "due_ts": at, "days_late": 90.0, "counterparty": None,
                              "event_id": "s1"}], columns=list(OVERLAY_COLUMNS))
    scorer = scorer_for(w.data, lambda people: Overlay(events=reported))
    added = weights_of(scorer, subject, NOW)
    assert added.records == plain.records + 1 and at in set(added.weights["ts"])
    assert round(added.baseline) == scorer.score_people([subject], NOW)[0].score


def test_the_page_shows_records_taken_together_where_none_alone_costs_a_point():
    """The person with 342 late records, none worth a point alone: the page says so, then what they cost
    together (and nothing of a group that costs less than a point)."""
    from deepcredit.service.report import render_html
    from deepcredit.service.schemas import PersonReport, RecordGroupCost, RecordsOut

    report = PersonReport(scored=True, score=540, band="fair", scored_at=NOW, dimensions=[], reasons=[], history=[],
                          next_recalculation=None, accesses=[], data_categories=[], events=[], profile=[],
                          consents=[], disputes=[], alerts=[], bands=[("poor", 350)], generated_at=NOW)
    costly = RecordsOut(as_of=NOW, held=400, considered=200, records=[], model_id="m", groups=[
        RecordGroupCost(by="meaning", name="late", label="late", count=342, points=85.2),
        RecordGroupCost(by="kind", name="utility_bill", label="utility bill", count=1, points=1.4)])
    html = render_html(report, costly=costly)
    assert "No single record of yours" in html and '<ul id="record-groups">' in html
    assert html.index("Your 342 late records taken together: &minus;85 points") < html.index(
        "Your 1 utility bill record taken together: &minus;1 point<")
