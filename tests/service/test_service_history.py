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
    assert [(p.at.date(), p.score) for p in pts] == [(T0.date(), 610), ((T0 + timedelta(days=2)).date(), 590)]
    assert pts[0].reasons == ["a", "b"] and pts[1].reasons == ["d (2 times)"]


def test_many_reasons_are_summarised():
    rows = [(T0, 600 - i, "fair", f"r{i % 6}") for i in range(30)]
    (p,) = hist.points(rows)
    assert len(p.reasons) == hist.MAX_REASONS + 1 and p.reasons[-1] == "and 10 more changes"


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
