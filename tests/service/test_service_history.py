"""The history a person reads: one point per change or per day, reasons in words, periods, pages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from deepcredit.data.spec import builtin_spec
from deepcredit.service import history as hist
from deepcredit.service.report import history_chart
from deepcredit.service.schemas import HistoryPoint

pytest_plugins = ("service_testkit",)
T0 = datetime(2026, 1, 1, 9)
BANDS = [("very poor", 350), ("fair", 550), ("good", 650), ("very good", 700), ("excellent", 750)]


def test_one_point_per_day_and_only_on_change():
    rows = [(T0, 600, "fair", "a"), (T0 + timedelta(hours=1), 610, "fair", "b"),  # same day: the last counts
            (T0 + timedelta(days=1), 610, "fair", "c"),  # no change: no point
            (T0 + timedelta(days=2), 590, "fair", "d"), (T0 + timedelta(days=2, hours=2), 590, "fair", "d")]
    pts = hist.points(rows)
    assert [(p.at, p.score) for p in pts] == [(T0, 600), (T0 + timedelta(hours=1), 610),  # the first score: its own
                                              (T0 + timedelta(days=2, hours=2), 590)]
    assert [p.reasons for p in pts] == [["a"], ["b"], ["d (2 times)"]] and [p.last for p in pts] == [0, 1, 4]


def test_many_reasons_are_summarised():
    rows = [(T0, 600 - i, "fair", f"r{i % 6}") for i in range(31)]
    first, p = hist.points(rows)
    assert first.reasons == ["r0"] and first.score == 600
    assert len(p.reasons) == hist.MAX_REASONS + 1 and p.reasons[-1] == "and 10 more changes"


def test_the_cause_that_moved_the_score_most_is_never_cut_off():
    """The audit's day: a first score of 710, small repeated changes, then a 120-day late instalment that cost
    88 points, last of the day; before, reasons were ranked by count and it was the one cut off."""
    big = "Acme Rentals reported an instalment late (120 days after it was due)"
    rows = [(T0, 710, "excellent", "your first score")]
    for i, text in enumerate(["a connection's record changed"] * 3 + ["records retired"] * 2 + ["bill paid"] * 2
                             + ["order kept"] * 2):
        rows.append((T0 + timedelta(minutes=i + 1), 760 + i % 2, "excellent", text))
    rows.append((T0 + timedelta(hours=2), 672, "very good", big))
    first, day = hist.points(rows)
    assert (first.score, first.reasons) == (710, ["your first score"])  # "went from 710 to 672": 710 is shown
    assert day.score == 672 and big in day.reasons and day.reasons[-1] == "and 2 more changes"
    assert day.reasons.index(big) == len(day.reasons) - 2  # listed in the order things happened

    # the biggest move is kept even when it is neither the latest nor the most frequent
    rows = [(T0, 700, "good", "first"), (T0 + timedelta(minutes=1), 610, "fair", big)]
    rows += [(T0 + timedelta(minutes=2 + i), 610 + i % 2, "fair", f"small {i % 5}") for i in range(20)]
    _, day = hist.points(rows)
    assert big in day.reasons and any(r.startswith("small 4") for r in day.reasons)  # the latest too


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_history_starts_with_the_first_score(service):
    pid, initial = service.with_score(skip=2)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid)
    service.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid, "outcome":
                                            "rental_returned_late", "days_late": 120, "amount": 35}, headers=acme)
    report = service.client.get("/v1/me/report", headers=me).json()
    first, *rest = report["history"]
    assert (first["score"], first["cause"], first["reasons"]) == (initial, "initial score", ["your first score"])
    if report["score"] != initial:
        assert rest[-1]["score"] == report["score"] and rest[-1]["cause"] == "event s1 reported"
        assert any("120 days" in r for r in rest[-1]["reasons"])


def test_periods_keep_a_chart_readable_at_a_thousand_points():
    pts = [hist.Point(T0 + timedelta(days=i), 500 + (i * 37) % 300, "fair") for i in range(1000)]
    name, groups = hist.periods(pts)
    assert name == "month" and 30 <= len(groups) <= hist.MAX_PERIODS
    assert sum(g.changes for g in groups) == 1000
    assert all(g.low <= g.score <= g.high for g in groups)
    assert hist.periods(pts[:40])[0] == "day"
    chart = history_chart([HistoryPoint(as_of=p.at, score=p.score, band=p.band, cause="x") for p in pts], BANDS)
    assert len(chart["marks"]) == len(groups) and len(chart["ticks"]) <= 7  # no per-point labels
    xs = [t["x"] for t in chart["ticks"]]
    assert all(b - a >= 60 for a, b in zip(xs, xs[1:], strict=False))  # date labels never overlap


def test_pages_newest_first():
    pts = [hist.Point(T0 + timedelta(days=i), 500 + i, "fair") for i in range(45)]
    rows, page, pages = hist.page(pts, 1)
    assert pages == 3 and page == 1 and rows[0].score == 544 and len(rows) == hist.PAGE_SIZE
    rows, page, _ = hist.page(pts, 99)
    assert page == 3 and [r.score for r in rows] == [504, 503, 502, 501, 500]


def test_event_in_words_from_the_spec_meanings():
    spec = builtin_spec("simulator")
    late = hist.EventFacts("Acme Rentals", "rental", "returned_late", 3.0)
    assert hist.describe_event(late, spec) == "Acme Rentals reported a rental returned late (3 days after it was due)"
    broken = hist.EventFacts("Acme", "instalment", "missed", 60.0)
    assert hist.describe_event(broken, spec) == "Acme reported an instalment missed (not kept)"
    assert hist.describe_event(hist.EventFacts("Acme", "instalment", "on_time", 0.0), spec) == \
        "Acme reported an instalment on time"
    words = hist.describe_cause("event s12", lambda r: None, lambda i: None)
    assert words == "event s12"  # an unknown cause is shown as stored
    assert hist.describe_cause("event s12 reported", lambda r: "X reported y", lambda i: None) == "X reported y"
    assert "first score" in hist.describe_cause(hist.FIRST, lambda r: None, lambda i: None)


def test_next_recalculation():
    assert hist.next_recalculation(T0, T0 + timedelta(days=3), 30) == T0 + timedelta(days=30)
    assert hist.next_recalculation(T0, T0 + timedelta(days=40), 30) == datetime(2026, 2, 11)
    assert hist.next_recalculation(None, T0, 30) is None


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_history_reads_in_words(service):
    pid, me, acme = service.decided(skip=3)
    for i, (outcome, late) in enumerate([("rental_returned_late", 3), ("rental_not_returned", None),
                                         ("rental_returned_late", 3)]):
        service.clock.advance(days=4)  # each return due after the order: 3 days late fits
        body = {"transaction_id": f"ev-{i}", "person_id": pid, "outcome": outcome, "amount": 35}
        if late:
            body["days_late"] = late
        assert service.client.post("/v1/events", json=body, headers=acme).status_code == 201
    report = service.client.get("/v1/me/report", headers=me).json()
    said = " ".join(r for h in report["history"] for r in h["reasons"])
    assert "Acme Rentals reported a rental returned late (3 days after it was due)" in said
    assert " s1" not in said and report["next_recalculation"]
    html = service.client.get("/v1/me/report.html", headers=me).text
    assert "Acme Rentals reported a rental" in html and 'id="next-recalculation"' in html
