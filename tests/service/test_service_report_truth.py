"""The person's report tells the truth about their records: every record is on a page of it, a record that
costs points says what it is (a kept one is no mark against them), and the page's words match what happened
(a removed record, a withdrawn consent, what a merchant saw)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from service_testkit import NOW, world

from deepcredit.service.report import MAX_EVENTS, render_html
from deepcredit.service.schemas import (
    PersonReport,
    ReasonOut,
    RecordCost,
    RecordGroupCost,
    RecordsOut,
)

pytest_plugins = ("service_testkit",)


def _report(**extra) -> PersonReport:
    return PersonReport(**{"scored": True, "score": 540, "band": "fair", "scored_at": NOW, "dimensions": [],
                           "reasons": [], "history": [], "next_recalculation": None, "accesses": [],
                           "data_categories": [], "events": [], "profile": [], "consents": [], "disputes": [],
                           "alerts": [], "bands": [("poor", 350)], "generated_at": NOW, **extra})


def _section(html: str, name: str) -> str:
    start = html.index(f'<section id="{name}"')
    return html[start:html.index("</section>", start)]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_every_record_is_on_a_page_of_the_report(service):
    """A person with more records than a page: the report said nothing of the older ones (it stopped at 50)
    though the docs promise every record's id is in `events`. It now says how many are held, which are shown,
    and pages through them all; the default page stays the newest 50."""
    events = world().data.read("events")
    counts = events[events["ts"] <= NOW]["person_id"].value_counts()
    subject = counts.index[0]
    assert counts.iloc[0] > 2 * MAX_EVENTS  # the test world's busiest person fills three pages at least
    pid = next(p for p in world().ids if service.subject(p) == subject)
    me = service.person(pid)
    first = service.client.get("/v1/me/report", headers=me).json()
    held = first["events_held"]
    assert held == counts.iloc[0] and len(first["events"]) == MAX_EVENTS
    assert first["events_page"] == 1 and first["events_pages"] == -(-held // MAX_EVENTS) and first["events_first"] == 1
    ids, times = [], []
    for n in range(1, first["events_pages"] + 1):
        body = service.client.get("/v1/me/report", params={"events_page": n}, headers=me).json()
        assert body["events_page"] == n and body["events_first"] == (n - 1) * MAX_EVENTS + 1
        ids += [e["event_id"] for e in body["events"]]
        times += [e["ts"] for e in body["events"]]
    assert len(ids) == held == len(set(ids)) and times == sorted(times, reverse=True)  # all of them, newest first
    assert set(ids) == set(events[(events["person_id"] == subject) & (events["ts"] <= NOW)]["event_id"].astype(str))
    past = service.client.get("/v1/me/report", params={"events_page": 10_000}, headers=me).json()
    assert past["events_page"] == first["events_pages"]  # a page past the end: the last one
    html = service.client.get("/v1/me/report.html", headers=me).text
    section = html[html.index('<section id="events"'):html.index('<section id="profile"')]
    assert f"We hold {held} records on you" in section and f"this page shows the newest {MAX_EVENTS}." in section
    assert 'href="?events_page=2&amp;history_page=1&amp;accesses_page=1#events">Older</a>' in section
    older = service.client.get("/v1/me/report.html", params={"events_page": 2}, headers=me).text
    section = older[older.index('<section id="events"'):older.index('<section id="profile"')]
    assert f"records {MAX_EVENTS + 1} to {2 * MAX_EVENTS}, counted from the newest" in section and ids[MAX_EVENTS] in section
    assert ids[0] not in section and 'href="?events_page=1&amp;history_page=1&amp;accesses_page=1#events">Newer</a>' in section


def test_a_record_that_costs_points_says_what_it_is():
    """An on-time bill costing 21 points and a neutral transfer costing 17 were listed beside an invitation to
    dispute them: each record now says what its status means, a kept or neutral one is said in plain words
    to be no mark against the person, and the dispute invitation is for wrong records only. A sentence says
    why the record costs and the reasons' points differ."""
    costly = RecordsOut(as_of=datetime(2026, 6, 30), held=4, considered=4, model_id="m", records=[
        RecordCost(event_id="b1", ts=datetime(2026, 6, 9), kind="utility_bill", status="on_time", amount=80.0,
                   due_ts=datetime(2026, 6, 10), days_late=0.0, points=21.2, meaning="kept"),
        RecordCost(event_id="b2", ts=datetime(2026, 5, 2), kind="transfer", status="positive", amount=12.0,
                   due_ts=None, days_late=None, points=17.0, meaning="neutral"),
        RecordCost(event_id="b3", ts=datetime(2026, 4, 2), kind="loan_instalment", status="missed", amount=100.0,
                   due_ts=None, days_late=None, points=40.0, meaning="broken")])
    html = render_html(_report(), costly=costly)
    section = _section(html, "records")
    rows = re.findall(r'<tr role="row">(.*?)</tr>', section, re.S)
    assert "kept: on time" in rows[0] and "neutral" in rows[1] and "missed" in rows[2]
    assert 'id="records-kept"' in section and "not a mark against you" in section
    assert "mix and the amounts" in section and "a dispute is only for a record that is wrong" in section.lower()
    assert "One of these wrong?" not in section
    assert 'id="records-vs-reasons"' in section and "a typical person" in section
    assert "dated before 30 June 2026 was" in section  # a midnight as-of reads as its day
    only_missed = costly.model_copy(update={"records": costly.records[2:]})
    assert 'id="records-kept"' not in _section(render_html(_report(), costly=only_missed), "records")


def test_the_as_of_reads_with_its_time_when_it_is_not_midnight():
    """"Each of your 4 records before 30 June 2026" counted a record of 30 June 00:01."""
    costly = RecordsOut(as_of=datetime(2026, 6, 30, 0, 5), held=1, considered=1, model_id="m", records=[
        RecordCost(event_id="b1", ts=datetime(2026, 6, 30, 0, 1), kind="utility_bill", status="late", amount=None,
                   due_ts=None, days_late=3.0, points=5.0, meaning="late")])
    section = _section(render_html(_report(), costly=costly), "records")
    assert "dated before 30 June 2026, 00:05 was" in section
    assert "No single record of yours before 30 June 2026, 00:05" in _section(
        render_html(_report(), costly=costly.model_copy(update={"records": []})), "records")


def test_layout_dates_on_one_line_and_notes_of_one_size():
    costly = RecordsOut(as_of=NOW, held=400, considered=200, model_id="m", records=[
        RecordCost(event_id="b1", ts=datetime(2026, 6, 9), kind="utility_bill", status="late", amount=None,
                   due_ts=datetime(2026, 6, 1), days_late=8.0, points=5.0, meaning="late")],
        groups=[RecordGroupCost(by="meaning", name="late", label="late", count=342, points=85.2)])
    html = render_html(_report(reasons=[ReasonOut(feature="occupation", dimension="identity", value="gig_worker",
                                                  points_lost=12, reason="your occupation",
                                                  how_to_improve="nothing to do")]), costly=costly)
    assert re.search(r"td\.date \{[^}]*white-space: nowrap", html)
    section = _section(html, "records")
    assert '<td role="cell" class="date" data-label="Date">2026-06-09</td>' in section
    assert '<p class="muted">Your records taken together' in section  # the size of the notes around it
    assert "Yours: gig worker" in _section(html, "reasons") and "gig_worker" not in html  # as the profile shows it


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_removed_records_withdrawn_consents_and_scopes_read_in_words(service):
    pid, _ = service.with_score(skip=5)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    grant = service.grant(me, mid, scope="band")
    assert service.decide(acme, pid, "tx-1", include="band").status_code == 200
    service.clock.advance(hours=1)
    assert service.client.delete(f"/v1/me/consents/{grant['id']}", headers=me).status_code == 200
    service.clock.advance(hours=1)
    assert service.decide(acme, pid, "tx-1", include="band").status_code == 403  # a replay, refused
    assert service.decide(acme, pid, "tx-2", include="band").status_code == 403  # a new request, refused
    event = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    d = service.client.post("/v1/me/disputes", json={"event_id": event, "reason": "not mine"}, headers=me).json()
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=service.admin,
                            json={"outcome": "corrected", "note": "Not yours.", "correction": {"action": "remove"}})
    assert r.status_code == 200, r.text
    assert r.json()["record_removed"] is True
    report = service.client.get("/v1/me/report", headers=me).json()
    assert [x["record_removed"] for x in report["disputes"]] == [True]
    assert [x["record_removed"] for x in service.client.get("/v1/me/disputes", headers=me).json()] == [True]
    refused = [a for a in report["accesses"] if a["action"] == "decision_refused"]
    assert len(refused) == 2 and all(a["withdrawn_at"] is not None for a in refused)
    assert all(a["scope"] == "band" and a["purpose"] == "deposit_free_rental" for a in refused)  # the replay's too
    html = service.client.get("/v1/me/report.html", headers=me).text
    disputes = _section(html, "disputes")
    assert "corrected: the record was removed" in disputes and "the record was changed" not in disputes
    accesses = _section(html, "accesses")
    assert accesses.count("refused: you had withdrawn your consent on ") == 2
    assert ">the record was removed<" in accesses
    assert "you had not given consent" not in accesses
    assert accesses.count(">your band<") == 3 and ">band<" not in accesses  # what the merchant saw, in words
    consents = _section(html, "consents")
    assert ">your band<" in consents and ">band<" not in consents
    alerts = [a["text"] for a in service.client.get("/v1/me/alerts", headers=me).json()["alerts"]
              if a["kind"] == "dispute_update"]
    assert "Your dispute was accepted and the record removed." in alerts
    assert not [a for a in alerts if "record corrected" in a]


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_refusal_without_a_withdrawn_consent_reads_as_before(service):
    pid, _ = service.with_score(skip=6)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    assert service.decide(acme, pid, "tx-0").status_code == 403  # never consented
    accesses = _section(service.client.get("/v1/me/report.html", headers=me).text, "accesses")
    assert "refused: you had not given consent for this" in accesses and "withdrawn" not in accesses
    assert ">the decision only<" in accesses


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_refusal_after_a_consent_ran_out_says_so(service):
    """A consent that expired is not one never given: the refusals after it (a new request and a replay of an
    earlier one) say when it ran out."""
    pid, _ = service.with_score(skip=6)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    grant = service.grant(me, mid, days=1)
    assert service.decide(acme, pid, "tx-1").status_code == 200
    service.clock.advance(days=2)
    assert service.decide(acme, pid, "tx-1").status_code == 403  # a replay, refused
    assert service.decide(acme, pid, "tx-2").status_code == 403  # a new request, refused
    report = service.client.get("/v1/me/report", headers=me).json()
    refused = [a for a in report["accesses"] if a["action"] == "decision_refused"]
    assert len(refused) == 2 and all(a["withdrawn_at"] is None for a in refused)
    assert all(a["expired_at"][:16] == grant["expires_at"][:16] for a in refused)
    accesses = _section(service.client.get("/v1/me/report.html", headers=me).text, "accesses")
    assert accesses.count("refused: your consent had run out on ") == 2
    assert "you had not given consent" not in accesses


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_disputed_profile_detail_is_named_in_the_data_set_s_words(service):
    """The disputes table named a profile dispute by its column ("profile: credit_limit"); it now reads as the
    profile section does, with the name the dispute took beside it."""
    pid, _ = service.with_score(skip=7)
    me = service.person(pid)
    r = service.client.post("/v1/me/disputes", json={"attribute": "credit_limit", "reason": "It was raised."},
                            headers=me)
    assert r.status_code == 201, r.text
    disputes = _section(service.client.get("/v1/me/report.html", headers=me).text, "disputes")
    assert "the size of your credit line (<code>credit_limit</code>)" in disputes.lower()
    assert "profile: credit_limit" not in disputes


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_amounts_on_the_page_group_their_thousands_as_the_profile_and_the_cli_do(service):
    events = service.world.data.read("events")
    big = events[events["amount"] >= 1000]
    by_subject = {service.subject(p): p for p in service.world.ids}
    pid = next(by_subject[s] for s in big["person_id"] if s in by_subject)
    html = service.client.get("/v1/me/report.html", headers=service.person(pid)).text
    shown = re.findall(r'data-label="Amount">([0-9,.]+)<', _section(html, "events"))
    assert shown and all(float(x.replace(",", "")) < 1000 or "," in x for x in shown)
    assert any("," in x for x in shown)
