"""The person's report page: served as self-contained HTML, and rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _page(svc) -> tuple[str, str]:
    """A person with some history (a decision, an event, an open dispute), and their page."""
    pid, _ = svc.with_score(skip=8)
    mid, acme = svc.merchant()
    svc.policy(acme)
    me = svc.person(pid)
    svc.grant(me, mid, scope="band")
    svc.decide(acme, pid, "tx-1", include="band")
    svc.clock.advance(days=2)
    svc.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid,
                                         "outcome": "rental_returned_late", "days_late": 4, "amount": 35},
                    headers=acme)
    event = svc.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    svc.client.post("/v1/me/disputes", json={"event_id": event, "reason": "returned on time"}, headers=me)
    r = svc.client.get("/v1/me/report.html", headers=me)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    return pid, r.text


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_page_content(service):
    pid, html = _page(service)
    report = service.client.get("/v1/me/report", headers=service.person(pid)).json()
    assert f'id="score">{report["score"]}<' in html and report["band"] in html
    for section in ("summary", "dimensions", "reasons", "history", "accesses", "events", "consents", "disputes",
                    "categories"):
        assert f'<section id="{section}"' in html
    assert html.count("<polygon") >= 5 and "Acme Rentals" in html and "disputed" in html
    dims = html[html.index('<section id="dimensions"'):html.index('<section id="reasons"')]
    assert "0 to 100" in dims
    shown = [d["points"] for d in report["dimensions"] if d["points"] is not None]
    assert sum(shown) == report["score"]  # the page says the points make up the score: they do, and it shows them
    assert f'{" + ".join(map(str, shown))} = {report["score"]}' in dims
    assert all(f'<span class="bar-points">{p} points</span>' in dims for p in shown)
    assert {d["rating"] for d in report["dimensions"]} <= set(range(101)) | {None}
    said = html[html.index('<section id="reasons"'):html.index('<section id="recourse"')]
    valued = [x for x in report["reasons"] if x["value"]]
    assert valued and all(x["value"].replace("&", "&amp;") in said for x in valued)  # the person's own figures
    assert pid not in html and "<script" not in html and "http://" not in html.replace("http://www.w3", "")
    assert _page_of(service, "/v1/me/report.html", {}).status_code == 401


def _page_of(svc, path, headers):
    return svc.client.get(path, headers=headers)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium) - "
                                              "the page is checked as HTML only")
@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_page_renders_in_headless_chromium(service, tmp_path):
    _, html = _page(service)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        base = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}"]
        subprocess.run([*base, f"--screenshot={shot}", "--window-size=1200,1800", page.as_uri()],
                       check=True, capture_output=True, timeout=60)
        dom = subprocess.run([*base, "--dump-dom", page.as_uri()], check=True, capture_output=True, timeout=60,
                             text=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert 'id="radar"' in dom and 'id="history-chart"' in dom  # the browser parsed both charts
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 1800)
    colours = img.resize((120, 180)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 50  # a drawn page, not a blank or error screen
    keep = Path(tempfile.gettempdir()) / "deepcredit-report-screenshot.png"
    shutil.copy(shot, keep)  # left for a person to look at


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_served_as_of_an_earlier_date_the_report_lists_only_the_records_known_then(service):
    """Historical data (`serve-init --as-of` before the data's end): records dated after the service's now
    are not yet the person's, so "the records your score reads" stops at now."""
    from datetime import datetime

    pid, _ = service.with_score(skip=8)
    me = service.person(pid)
    everything = service.client.get("/v1/me/report", headers=me).json()["events"]
    service.clock.t = datetime(2026, 3, 1, 12, 0)
    then = service.client.get("/v1/me/report", headers=me).json()["events"]
    assert then and then != everything
    assert max(e["ts"] for e in then) <= "2026-03-01T12:00" < max(e["ts"] for e in everything)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_consents_disputes_and_refusals_read_apart_and_in_words(service):
    """The audit's page: two consents alike but for their order, a refusal shown as a code, and a resolved
    dispute still showing 'Answer due' with its note only in the JSON."""
    pid, _ = service.with_score(skip=5)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.decide(acme, pid, "tx-0")  # no consent yet: refused
    for order in ("order-1001", "order-1002"):
        service.grant(me, mid, mode="per_order", order_ref=order)
    service.grant(me, mid)  # standing
    assert service.decide(acme, pid, "tx-1", order_ref="order-1001").status_code == 200
    service.clock.advance(days=5)  # returned 4 days late: due after the order
    assert service.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid, "outcome":
                               "rental_returned_late", "days_late": 4, "amount": 35}, headers=acme).status_code == 201
    event = next(e["event_id"] for e in service.client.get("/v1/me/report", headers=me).json()["events"]
                 if (e["event_id"] or "").startswith("evt_"))
    d = service.client.post("/v1/me/disputes", json={"event_id": event, "reason": "on time"}, headers=me).json()
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=service.admin,
                        json={"outcome": "upheld", "note": "No payslip was attached."})
    html = service.client.get("/v1/me/report.html", headers=me).text
    consents = html[html.index('<section id="consents"'):html.index('<section id="disputes"')]
    assert "one order: order-1001" in consents and "one order: order-1002" in consents and "standing (any order)" in consents
    rows = re.findall(r'<tr role="row">(.*?)</tr>', consents, re.S)
    assert len(rows) == 3 and len(set(rows)) == 3  # no two rows alike
    disputes = html[html.index('<section id="disputes"'):html.index('<section id="categories"')]
    assert "No payslip was attached." in disputes and "answer due" not in disputes.lower()
    assert "resolved " in disputes and "kept: the record was found right" in disputes
    accesses = html[html.index('<section id="accesses"'):html.index('<section id="events"')]
    assert "refused: you had not given consent for this" in accesses and "consent-required" not in accesses
    assert ">admitted<" in accesses
    assert "reviewed your dispute and kept the record" in accesses and "dispute upheld" not in accesses


def test_the_scale_marks_band_boundaries():
    """713 is excellent (from 700): the page's scale marks 700 and spans each band's name over its stretch,
    instead of names centred in staggered rows with no boundary, where 713 read between two of them."""
    from deepcredit.service.report import _band_labels

    bands = [("poor", 350), ("fair", 550), ("good", 600), ("very good", 650), ("excellent", 700)]
    scale = _band_labels(bands)
    assert [e["value"] for e in scale["edges"]] == [350, 550, 600, 650, 700, 950]
    assert [e["value"] for e in scale["edges"] if e["inner"]] == [550, 600, 650, 700]  # ticks through the bar
    spans = {b["name"]: b for b in scale["bands"]}
    at_713 = 100 * (713 - 350) / 600
    assert spans["excellent"]["start"] <= at_713 < spans["excellent"]["start"] + spans["excellent"]["width"]
    assert not spans["very good"]["start"] <= at_713 < spans["very good"]["start"] + spans["very good"]["width"]
    assert sum(b["width"] for b in scale["bands"]) == pytest.approx(100, abs=0.2)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_profile_reads_as_a_person_reads_it(service):
    """The audit's page showed `civil_servant`, a joined_at timestamp beside "how long you have been a member",
    `20400` and `5082.6`: the page shows words, yes or no, "member since <date>" and grouped numbers, and
    the JSON keeps each held value as it is beside how it reads."""
    pid, _ = service.with_score(skip=8)
    me = service.person(pid)
    items = {p["attribute"]: p for p in service.client.get("/v1/me/report", headers=me).json()["profile"]}
    html = service.client.get("/v1/me/report.html", headers=me).text
    rows = re.findall(r"<tr class=\"[a-z]*\"><td>(.*?)</td>\s*<td>(.*?)</td>\s*<td class=\"muted\"><code>(.*?)</code>",
                      html[html.index('<section id="profile"'):html.index('<section id="consents"')], re.S)
    page = {name: (what, held) for what, held, name in rows}
    assert set(page) == set(items) and page
    assert page["identity_verified"] == ("Whether your identity documents are verified",
                                         {"True": "yes", "False": "no", "yes": "yes", "no": "no"}[items["identity_verified"]["value"]])
    assert "_" not in page["occupation"][1] and page["occupation"][1] == items["occupation"]["value"].replace("_", " ")
    assert re.fullmatch(r"member since [1-9]\d? [A-Z][a-z]+ \d{4}", page["joined_at"][1])
    for money in ("credit_limit", "income"):
        held = float(items[money]["value"])
        assert page[money][1] == (f"{held:,.0f}" if held.is_integer() else f"{held:,.2f}")
        assert held < 1000 or "," in page[money][1]
    assert all(p["reads"] == page[name][1] for name, p in items.items())  # the JSON says what the page shows


def test_a_held_value_reads_with_its_declared_unit_and_meaning():
    from deepcredit.data.spec import builtin_spec
    from deepcredit.service.report import as_read

    spec = builtin_spec("simulator")
    euros = spec.model_copy(update={"profile": spec.profile.model_copy(update={"attributes": [
        a.model_copy(update={"unit": "EUR"}) if a.name == "income" else a for a in spec.profile.attributes]})})
    credit_line = euros.attribute("credit_limit")
    assert as_read(credit_line, 20400.0, euros) == "20,400 EUR"  # a credit line is money: the income's unit
    assert as_read(euros.attribute("income"), 5082.6, euros) == "5,082.60 EUR"
    assert as_read(credit_line, 20400.0, spec) == "20,400"  # no unit declared: none invented
    late = spec.attribute("city_tier").model_copy(update={"special": {"96": "not reported"}, "unit": "tier"})
    assert as_read(late, 96.0) == "not reported" and as_read(late, 2.0) == "2 tier"
    assert as_read(spec.attribute("joined_at"), pd.Timestamp("2024-10-07 12:35:32")) == "member since 7 October 2024"
    assert as_read(spec.attribute("identity_verified"), np.bool_(False)) == "no"
    assert as_read(spec.attribute("occupation"), "civil_servant") == "civil servant"
    assert as_read(spec.attribute("occupation"), None) is None and as_read(spec.attribute("age"), float("nan")) is None


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_person_without_history_reads_that_a_part_of_their_score_rests_on_no_record(service):
    """The test world's one person without events: their credit history is scored, as it is for anyone
    without history, and their report says so beside its points (JSON and page); a person with a history
    reads no such line."""
    words = "No record on file: this part is scored as for people without history."
    events = service.world.raw.read("events")
    bare = next(p for p in service.world.ids if p not in set(events["person_id"].astype(str)))
    other, _ = service.with_score()
    for pid, flagged in ((bare, True), (other, False)):
        me = service.person(pid)
        dims = {d["name"]: d for d in service.client.get("/v1/me/report", headers=me).json()["dimensions"]}
        assert dims["credit_history"]["points"] is not None and dims["credit_history"]["no_record"] is flagged
        assert dims["identity"]["no_record"] is False
        html = service.client.get("/v1/me/report.html", headers=me).text
        section = html[html.index('<section id="dimensions"'):html.index('<section id="reasons"')]
        assert (words in section) is flagged


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_every_look_at_a_person_is_within_their_reach_however_many_follow_it(service):
    """A merchant that asked for everything once and then asked 100 cheap questions does not push the big one
    off the person's report: the report counts every look, pages through them, and the page says which it shows."""
    from deepcredit.service import report as report_mod

    pid, _ = service.with_score(skip=3)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid, scope="factors")
    assert service.decide(acme, pid, "tx-0", include="factors").status_code == 200
    for i in range(1, report_mod.MAX_ACCESSES + 5):
        assert service.decide(acme, pid, f"tx-{i}", include="admittance").status_code == 200
    held = report_mod.MAX_ACCESSES + 5
    first = service.client.get("/v1/me/report", headers=me).json()
    assert (first["accesses_held"], first["accesses_page"], first["accesses_pages"], first["accesses_first"]) == (held, 1, 2, 1)
    assert len(first["accesses"]) == report_mod.MAX_ACCESSES and "factors" not in {a["scope"] for a in first["accesses"]}
    last = service.client.get("/v1/me/report", params={"accesses_page": 2}, headers=me).json()
    assert (last["accesses_page"], last["accesses_first"], len(last["accesses"])) == (2, report_mod.MAX_ACCESSES + 1, 5)
    assert last["accesses"][-1]["scope"] == "factors"  # the oldest look, the one that disclosed the most
    assert last["alerts_held"] >= held and len(last["alerts"]) == report_mod.MAX_ALERTS
    html = service.client.get("/v1/me/report.html", headers=me).text
    said = html[html.index('<section id="accesses"'):html.index('<section id="events"')]
    assert f"the latest {report_mod.MAX_ACCESSES} of {held}" in " ".join(said.split())
    assert 'href="?accesses_page=2&amp;' in said and "your data export lists them all" in said
    alerts = html[html.index('<section id="alerts"'):html.index('<section id="accesses"')]
    assert f"latest {report_mod.MAX_ALERTS} of your {last['alerts_held']:,} alerts" in " ".join(alerts.split())
    older = service.client.get("/v1/me/report.html", params={"accesses_page": 2}, headers=me).text
    assert "your score, five dimensions and the reasons" in older[older.index('<section id="accesses"'):]
