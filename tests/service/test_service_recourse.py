"""What-if recourse: future behaviour only (events after now), re-scored by the model; never the past,
never a protected or immutable attribute; the person's own, never a merchant's."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from service_testkit import NOW, scorer_for, world
from sqlalchemy import func, select

from deepcredit.models.scale import DEFAULT_BANDS
from deepcredit.service import recourse
from deepcredit.service.history import status_meaning
from deepcredit.service.store.models import Score, ScoreHistory, ServiceEvent

pytest_plugins = ("service_testkit",)


def _below_top(n: int = 4):
    top = DEFAULT_BANDS[-1][1]
    return [p for p in sorted(world().scores, key=lambda p: p.score) if p.score < top][:n]


@pytest.mark.parametrize(("kind", "said"), [("utility", "2 utilities on time"), ("tax", "2 taxes on time"),
                                             ("rental", "2 rentals on time"), ("pay_in_4", "2 pay in 4s on time"),
                                             ("day", "2 days on time")])
def test_a_step_names_its_kind_in_the_plural(kind, said):
    assert recourse.Step(recourse.Behaviour(kind, "on_time", None), 2).text() == said
    assert recourse.Step(recourse.Behaviour(kind, "on_time", None), 1).text().startswith(f"1 {kind.replace('_', ' ')} ")


def test_plans_are_future_kept_events_only():
    w = world()
    sc = scorer_for(w.data)
    p = _below_top(1)[0]
    spec = w.data.spec
    options = recourse.behaviours(sc, p.person_id)
    assert options and all(status_meaning(b.status, spec) == "kept" for b in options)
    for plan in recourse.candidates(options, 3) + recourse.candidates(options, 3, pairs=True):
        ev = plan.events(NOW)
        assert (ev["ts"] > NOW).all() and (ev["ts"] < plan.end(NOW)).all()
        assert (ev["days_late"] == 0).all()
    assert recourse.candidates(options, 3)[0].steps == ()  # the empty plan: time passing, everything kept


def test_a_plan_of_n_months_ends_n_calendar_months_later():
    """"In 6 months" from 30 June is 30 December to a person, not 27 December (6 x 30 days)."""
    assert recourse.Plan(6).end(datetime(2026, 6, 30, 9)) == datetime(2026, 12, 30, 9)
    assert recourse.Plan(12).end(datetime(2026, 6, 30)) == datetime(2027, 6, 30)
    assert recourse.Plan(1).end(datetime(2026, 1, 31)) == datetime(2026, 2, 28)


def test_suggestion_reaches_the_next_band_and_changes_no_fixed_feature():
    w = world()
    sc = scorer_for(w.data)
    before = sc.person_events(_below_top(1)[0].person_id)
    reached = 0
    for p in _below_top(3):
        s = recourse.suggest(sc, p.person_id, p.score, p.band, NOW, DEFAULT_BANDS)
        assert s.target_band is not None and s.plan is not None
        if not s.reached:
            continue
        reached += 1
        score, band = recourse.verify(sc, p.person_id, s.plan, NOW)  # on the person's own record
        assert score >= s.target_score and score == s.score_after  # the batched copy scores as the person
        end = s.plan.end(NOW)
        assert s.until == end
        scored = sc.score_futures(p.person_id, [(recourse.Plan(s.plan.months).events(NOW), end),
                                                (s.plan.events(NOW), end)])
        fixed = recourse.fixed_columns(sc)
        assert fixed and set(fixed) <= set(scored.columns)
        assert scored[fixed].astype(str).iloc[0].equals(scored[fixed].astype(str).iloc[1])
    assert reached
    after = sc.person_events(_below_top(1)[0].person_id)
    pd.testing.assert_frame_equal(before, after)  # nothing in the past was edited


def test_protected_and_profile_features_are_fixed():
    sc = scorer_for(world().data)
    fixed = set(recourse.fixed_columns(sc))
    assert {"identity_verified", "credit_limit"} <= fixed  # profile attributes: never moved by a plan
    assert not fixed & {"n_bad_365d", "bad_rate"}


def test_top_band_needs_no_plan():
    sc = scorer_for(world().data)
    p = world().scores[0]
    s = recourse.suggest(sc, p.person_id, 949, DEFAULT_BANDS[-1][0], NOW, DEFAULT_BANDS)
    assert s.target_band is None and s.plan is None


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_recourse_api_is_the_persons_own_and_stores_nothing(service):
    pid, _ = service.with_score(hi=DEFAULT_BANDS[-1][1])
    me = service.person(pid)
    with service.ctx.db.read() as s:
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (ServiceEvent, ScoreHistory)]
        stored = s.get(Score, service.subject(pid)).score
    r = service.client.get("/v1/me/recourse", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["score"] == stored and body["target_band"] and body["summary"]
    assert pid not in r.text
    with service.ctx.db.read() as s:
        assert [s.scalar(select(func.count()).select_from(t)) for t in (ServiceEvent, ScoreHistory)] == counts
        assert s.get(Score, service.subject(pid)).score == stored
    _, acme = service.merchant()
    assert service.client.get("/v1/me/recourse", headers=acme).status_code == 401  # merchants never see it
    assert service.client.get("/v1/me/recourse").status_code == 401
    html = service.client.get("/v1/me/report.html", headers=me).text
    assert '<section id="recourse"' in html and body["target_band"] in html


@pytest.mark.parametrize(("status", "said"), [("paid_full", "paid in full"), ("paid_in_full", "paid in full"),
                                              ("settled", "settled"), ("on_time", "on time")])
def test_a_status_reads_as_english(status, said):
    assert recourse.status_words(status) == said
    assert recourse.Step(recourse.Behaviour("repayment", status, None), 2).text() == f"2 repayments {said}"


def test_an_amount_is_written_in_the_spec_s_unit_of_money():
    step = recourse.Step(recourse.Behaviour("order", "settled", 1650.4, unit="EUR"), 3)
    assert step.text() == "3 orders settled, about 1,650 EUR each"
    spec = world().data.spec
    assert recourse.money_unit(spec) == ""  # the simulator declares no unit for its credit line
    line = spec.role("credit_line")
    euros = spec.model_copy(update={"profile": spec.profile.model_copy(update={"attributes": [
        a.model_copy(update={"unit": "EUR"}) if a is line else a for a in spec.profile.attributes]})})
    assert recourse.money_unit(euros) == "EUR"


def test_the_pace_follows_the_declared_period_and_the_person_s_own_record():
    # two records over 60 days: one a month, whatever the plan's length
    events = pd.DataFrame({"ts": pd.to_datetime(["2025-01-01", "2025-01-31"]), "kind": ["invoice", "invoice"]})
    assert recourse.own_paces(events, 30, now=pd.Timestamp("2025-03-02").to_pydatetime()) == {"invoice": 1.0}
    invoice = recourse.Behaviour("invoice", "settled", 33.0, pace=1.0, issued=True)
    # a kind the business issues: only the ones that come at the person's own pace, never more
    assert recourse.paces_of(invoice, 12, 30) == [12] and recourse.paces_of(invoice, 3, 30) == [3]
    assert recourse.paces_of(recourse.Behaviour("invoice", "settled", 33.0, issued=True), 3, 30) == []
    # a kind the person does themselves: once, once a period (a month; a week where declared), or their own pace
    order = recourse.Behaviour("order", "settled", 40.0, pace=0.5)
    assert recourse.paces_of(order, 12, 30) == [1, 6, 12]
    assert recourse.paces_of(recourse.Behaviour("order", "settled", 40.0), 3, 7) == [1, 13]
    plans = recourse.candidates([invoice, order], 12)
    assert [[(s.behaviour.kind, s.count) for s in p.steps] for p in plans] == [
        [], [("invoice", 12)], [("order", 1)], [("order", 6)], [("order", 12)]]
    assert not any(s.count == 24 for p in recourse.candidates([invoice, order], 12, pairs=True) for s in p.steps)


def test_no_kind_the_business_issues_is_offered_to_someone_who_has_none():
    w = world()
    sc = scorer_for(w.data)
    owed = w.data.spec.events.kinds_amount("owed")
    for p in _below_top(4):
        mine = set(sc.person_events(p.person_id)["kind"])
        for b in recourse.behaviours(sc, p.person_id, NOW):
            assert b.issued == (b.kind in owed)
            assert not b.issued or (b.kind in mine and b.pace is not None)


def test_a_plan_as_of_an_earlier_date_reads_only_the_records_known_by_then():
    """Historical data served as of an earlier date: the person's later records neither set their pace nor
    their usual amounts (the plan read every record, later ones too)."""
    w = world()
    sc = scorer_for(w.data)
    p = _below_top(1)[0]
    first = pd.to_datetime(sc.person_events(p.person_id)["ts"]).min()
    before = recourse.behaviours(sc, p.person_id, (first - pd.Timedelta(days=1)).to_pydatetime())
    assert all(b.pace is None and not b.issued for b in before)  # nothing of theirs was known yet
    assert any(b.pace is not None for b in recourse.behaviours(sc, p.person_id, NOW))


def test_a_what_if_answer_reads_the_bands_of_the_scorer_it_holds(service, monkeypatch):
    """A promoted model's swap changes ctx.scorer and ctx.bands one after the other: an answer worked out with
    one scorer takes that scorer's own bands, never bands a swap put beside it meanwhile."""
    pid, _ = service.with_score(hi=DEFAULT_BANDS[-1][1])
    seen: list = []
    monkeypatch.setattr(recourse, "suggest", lambda scorer, subject, score, band, now, bands: seen.append(bands))
    monkeypatch.setattr(recourse, "to_out", lambda *args: None)
    service.ctx.bands = [("torn", 0), ("mixed", 500)]  # as if a swap set another model's bands in between
    recourse.person_recourse(service.ctx, service.subject(pid))
    assert seen == [[(n, int(b)) for n, b in service.ctx.scorer.scale.bands]]
