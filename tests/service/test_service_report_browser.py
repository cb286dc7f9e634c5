"""The report page in headless Chromium at phone and desktop widths, for a person with no events, a typical
person and one with 1,000 events: screenshots (set DEEPCREDIT_SCREENSHOTS=docs/screenshots to keep them)
and an automated accessibility check with axe-core (pinned in tools/a11y/package.json; `npm ci` there)."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from deepcredit.service.auth import issue_person_token
from deepcredit.service.events import save_scores
from deepcredit.service.report import render_html
from deepcredit.service.schemas import PersonReport, RecordCost, RecordsOut
from deepcredit.service.store.models import ScoreHistory, ServiceEvent

pytest_plugins = ("service_testkit",)
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
AXE = ROOT / "tools" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
WIDTHS = {"phone": (390, 2600), "desktop": (1280, 2000)}
AXE_RUN = """<script>%s</script><script>
axe.run(document, {resultTypes: ['violations']}).then(function (r) {
  var p = document.createElement('pre'); p.id = 'axe-result';
  p.textContent = JSON.stringify(r.violations.map(function (v) {
    return {id: v.id, impact: v.impact, nodes: v.nodes.length, where: v.nodes.slice(0, 3).map(function (n) {
      return n.target.join(' '); })}; }));
  document.body.appendChild(p); });
</script></body>"""


def _chromium(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], check=True,
                              capture_output=True, timeout=timeout, text=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _thousand_events(svc) -> dict:
    """A person with 1,000 reported events over ~16 months, each with its history row, then one re-score."""
    pid, _ = svc.with_score(skip=11)
    me = svc.person(pid)
    subject = svc.subject(pid)
    mid = 1  # Acme Rentals, registered by _pages
    start = svc.clock.t - timedelta(days=480)
    outcomes = [("rental", "returned", 0.0), ("rental", "returned_late", 3.0), ("instalment", "on_time", 0.0),
                ("instalment", "missed", 60.0)]
    with svc.ctx.db.write() as s:
        score = 600
        for i in range(1000):
            kind, status, late = outcomes[(i * 7) % 11 % 4]
            ts = start + timedelta(hours=11.5 * i)
            e = ServiceEvent(subject=subject, merchant_id=mid, transaction_id=f"bulk-{i}", outcome="x", ts=ts,
                             kind=kind, status=status, amount=40.0, due_ts=ts - timedelta(days=late),
                             days_late=late, created_at=ts)
            s.add(e)
            s.flush()
            score = max(380, min(900, score + (6 if late == 0 else -9)))
            s.add(ScoreHistory(subject=subject, score=score, band="fair", as_of=ts, cause=f"event s{e.id} reported",
                               model_id="m", created_at=ts))
    save_scores(svc.ctx, svc.ctx.scorer.score_people([subject], as_of=svc.clock.t), cause="initial score")
    return me


def _pages(svc) -> dict[str, str]:
    with svc.ctx.db.write() as s:  # nobody the data set or the service knows: no score, no events (a token
        token, _, _ = issue_person_token(s, svc.subject("p9999999"), svc.clock.t, 30)  # from before known.py)
    none = {"Authorization": f"Bearer {token}"}
    pid, me, acme = svc.decided(skip=4)
    svc.clock.advance(days=1)
    svc.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid, "outcome": "rental_returned_late",
                                         "days_late": 3, "amount": 35}, headers=acme)
    svc.clock.advance(days=1)
    many = _thousand_events(svc)
    out = {}
    for name, token in (("no-events", none), ("typical", me), ("1000-events", many)):
        r = svc.client.get("/v1/me/report.html", headers=token)
        assert r.status_code == 200
        out[name] = r.text
    report = PersonReport.model_validate(svc.client.get("/v1/me/report", headers=me).json())
    out["costly-records"] = render_html(report, costly=_costly(report.scored_at))
    return out


def _costly(as_of) -> RecordsOut:
    """The records that cost most, as the served model gave them for a person of the study (the test world's
    own cost less than a point each): the table at its widest, a long service id and the longest meaning."""
    rows = [("b18418", "rental", "returned_late", "late", 485.23, 2, 83.2), ("b18416", "bill", "revolving", "neutral",
            260.5, None, 10.4), ("evt_qOvQHPwG0aoAOocuCOiPQw", "rental", "returned", "kept", 25.0, 0, 6.1),
            ("b18413", "instalment", "on_time", "kept", 197.93, 0, 4.2), ("b18417", "transfer", "neutral", "neutral",
            244.94, None, 3.9)]
    day = as_of - timedelta(days=16)
    return RecordsOut(as_of=as_of, held=22, considered=22, model_id="m", records=[
        RecordCost(event_id=i, ts=day, kind=k, status=st, meaning=m, amount=a, days_late=late, points=pts,
                   due_ts=day - timedelta(days=late) if late is not None else None)
        for i, k, st, m, a, late, pts in rows])


def _write(pages: dict[str, str], folder: Path) -> dict[str, Path]:
    out = {}
    for name, text in pages.items():
        out[name] = folder / f"{name}.html"
        out[name].write_text(text, encoding="utf-8")
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_page_in_chromium_at_phone_and_desktop_widths(service, tmp_path):
    from PIL import Image

    keep = Path(os.environ["DEEPCREDIT_SCREENSHOTS"]) if os.environ.get("DEEPCREDIT_SCREENSHOTS") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    pages = _pages(service)
    assert "397397" not in pages["1000-events"]  # no run-together point labels
    assert pages["1000-events"].count("<circle") <= 60 and 'aria-label="score history pages"' in pages["1000-events"]
    tables = 0
    for name, page in _write(pages, tmp_path).items():
        for width_name, (w, h) in WIDTHS.items():
            shot = keep / f"report-{name}-{width_name}.png"
            _chromium([f"--screenshot={shot}", f"--window-size={w},{h}", page.as_uri()])
            img = Image.open(shot).convert("RGB")
            assert img.size == (w, h)
            colours = img.resize((w // 10, h // 10)).getcolors(maxcolors=1_000_000)
            assert colours is not None and len(colours) > 20  # a drawn page
        dom = _chromium(["--dump-dom", "--window-size=1280,2000", page.as_uri()]).stdout
        assert "<section" in dom
        wide = _measured(page, "phone")["wide"]
        assert wide == [], f"{name}: wider than a phone's screen: {wide}"  # tables turn into cards instead
        desktop = _measured(page, "desktop")
        assert desktop["wide"] == [], f"{name}: wider than its place at 1280 px: {desktop['wide']}"
        points = desktop["points"]  # the one number "The records that cost you most" is for: in sight, unscrolled
        assert points is None or (points["text"] == "Points it costs" and points["right"] <= WIDTHS["desktop"][0]), points
        tables += points is not None
    assert tables >= 1  # some page lists the records that cost most: the desktop check above measured it


WIDER_THAN_SHOWN = """<!DOCTYPE html><html lang="en"><body style="margin:0">
<iframe id="page" title="report" width="%d" height="%d" style="border:0" srcdoc="%s"></iframe>
<script>
document.getElementById('page').addEventListener('load', function () {
  var doc = this.contentDocument;
  var wide = Array.prototype.filter.call(doc.querySelectorAll('.scroll, section'), function (e) {
    return e.scrollWidth > e.clientWidth + 1; }).map(function (e) { return e.getAttribute('aria-label') || e.id; });
  var head = doc.querySelectorAll('#records-table tr.head th'), last = head[head.length - 1];
  var points = last ? {text: last.textContent, right: last.getBoundingClientRect().right} : null;
  var p = document.createElement('pre'); p.id = 'too-wide';
  p.textContent = JSON.stringify({width: doc.documentElement.clientWidth, wide: wide, points: points});
  document.body.appendChild(p); });
</script></body></html>"""


def _measured(page: Path, width: str) -> dict:
    """At `width`, the page laid out in a frame of that width (headless Chromium keeps its own window at least
    500 pixels wide): `wide`, its sections and scroll regions whose content is wider than they are, and
    `points`, the records table's last column's heading and right edge (None: no such table)."""
    w, h = WIDTHS[width]
    probe = page.with_name(f"{page.stem}-widths.html")
    probe.write_text(WIDER_THAN_SHOWN % (w, h, html_lib.escape(page.read_text(encoding="utf-8"), quote=True)),
                     encoding="utf-8")
    dom = _chromium(["--dump-dom", "--window-size=1280,2000", probe.as_uri()]).stdout
    found = re.search(r'<pre id="too-wide">(.*?)</pre>', dom, re.S)
    assert found, "the width probe did not report"
    seen = json.loads(html_lib.unescape(found.group(1)))
    assert seen["width"] == w, seen
    return seen


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (cd tools/a11y && npm ci)")
@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_report_page_has_no_axe_core_violations(service, tmp_path):
    problems = {}
    for name, page in _write(_pages(service), tmp_path).items():
        checked = page.with_name(f"{name}-axe.html")
        checked.write_text(page.read_text(encoding="utf-8").replace(
            "</body>", AXE_RUN % AXE.read_text(encoding="utf-8")), encoding="utf-8")
        dom = _chromium(["--dump-dom", "--virtual-time-budget=15000", checked.as_uri()], timeout=120).stdout
        found = re.search(r'<pre id="axe-result">(.*?)</pre>', dom, re.S)
        assert found, "axe-core did not report"
        violations = json.loads(html_lib.unescape(found.group(1)))
        if violations:
            problems[name] = violations
    assert not problems, json.dumps(problems, indent=1)
