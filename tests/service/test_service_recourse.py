"""What-if recourse: future behaviour only (events after now), re-scored by the model; never the past,
never a protected or immutable attribute; the person's own, never a merchant's."""

from __future__ import annotations

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
        assert (ev["ts"] > NOW).all() and (ev["ts"] < NOW + 3 * recourse.MONTH).all()
        assert (ev["days_late"] == 0).all()
    assert recourse.candidates(options, 3)[0].steps == ()  # the empty plan: time passing, everything kept


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
        end = NOW + s.plan.months * recourse.MONTH
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
