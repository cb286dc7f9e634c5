"""The service keeps its clock on the data set's calendar: its declared zone, shifted to its era."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.service.config import Clock
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.pseudodata import pseudonymise_dataset
from deepcredit.service.store.models import ServiceEvent

pytest_plugins = ("service_testkit",)

UTC_NIGHT = datetime(2026, 1, 1, 23, 30)  # naive UTC: 07:30 the next morning in Shanghai


def test_a_zoned_clock_reads_the_zones_wall_clock_and_converts_clients_times_into_it():
    clock = Clock(source=lambda: UTC_NIGHT, zone="Asia/Shanghai")
    assert clock.now() == datetime(2026, 1, 2, 7, 30)
    assert clock.naive(datetime(2026, 1, 2, 0, 0, tzinfo=UTC)) == datetime(2026, 1, 2, 8, 0)
    assert clock.naive(datetime(2026, 1, 2, 8, 0)) == datetime(2026, 1, 2, 8, 0)  # naive: taken as given
    shifted = Clock(source=lambda: UTC_NIGHT, zone="Asia/Shanghai", offset=timedelta(days=1))
    assert shifted.now() == datetime(2026, 1, 1, 7, 30)
    plain = Clock(source=lambda: UTC_NIGHT)  # no zone declared: UTC, as before
    assert plain.now() == UTC_NIGHT and plain.naive(datetime(2026, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))) \
        == datetime(2026, 1, 2, 0, 0)


def test_the_declared_zone_is_stored_with_the_data_set_and_its_pseudonymised_copy(tmp_path):
    spec = spec_from_toml('spec_version = 1\nname = "z"\n[format]\ntimezone = "Asia/Shanghai"\n'
                          '[[profile.attributes]]\nname = "city"\ntype = "categorical"\ndimension = "identity"\n'
                          '[outcomes]\nsource = "people"\nlabel = "bad"\nbad = ["1"]\ngood = ["0"]\n'
                          'as_of = 2024-01-01\nwindow_days = 30\n')
    pd.DataFrame({"person_id": ["a", "b"], "city": ["x", "y"], "bad": [0, 1]}).to_csv(tmp_path / "p.csv", index=False)
    ds = ingest_with_spec(spec, {"people": tmp_path / "p.csv"}, tmp_path / "ds")
    assert ds.time_zone == "Asia/Shanghai"
    copy = pseudonymise_dataset(ds, tmp_path / "copy", Pseudonymiser(b"k" * 32))
    assert copy.time_zone == "Asia/Shanghai"


def test_an_event_reported_with_its_offset_is_stored_on_the_data_sets_calendar(service):
    service.ctx.settings.clock.zone = "Asia/Shanghai"
    pid, _, acme = service.decided()
    service.clock.advance(hours=2)
    local_now = service.ctx.now()
    at = (local_now - timedelta(hours=1)).replace(tzinfo=timezone(timedelta(hours=8)))
    r = service.client.post("/v1/events", json={"transaction_id": "tz-1", "person_id": pid,
                                                 "outcome": "instalment_paid", "amount": 10.0,
                                                 "occurred_at": at.astimezone(UTC).isoformat()}, headers=acme)
    assert r.status_code == 201, r.text
    with service.ctx.db.read() as s:
        ts = s.execute(select(ServiceEvent.ts).where(ServiceEvent.subject == service.subject(pid))).scalar_one()
    assert ts == local_now - timedelta(hours=1)  # given in UTC, stored as Shanghai wall-clock time


def test_responses_give_the_zones_times_as_the_utc_instants_they_are(service):
    service.ctx.settings.clock.zone = "Asia/Shanghai"
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    expires = (service.ctx.now() + timedelta(days=10)).replace(tzinfo=timezone(timedelta(hours=8)))
    r = service.client.post("/v1/me/consents", headers=service.person(pid),
                            json={"merchant_id": mid, "scope": "admittance", "purpose": "deposit_free_rental",
                                  "mode": "standing", "expires_at": expires.astimezone(UTC).isoformat()})
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["expires_at"]) == expires  # the same instant, written in UTC
    assert r.json()["expires_at"].endswith(("Z", "+00:00"))
    page = service.client.get("/v1/me/report.html", headers=service.person(pid)).text
    assert "Asia/Shanghai." in page and " UTC." not in page  # "Generated 2026-... Asia/Shanghai."


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_health_gives_the_service_clock_a_consent_expiry_is_computed_from(service):
    """docs/service.md computes a consent's expires_at from /v1/health's `now`, not the wall clock (a service
    serving historical data runs on a shifted clock; wall-clock +7 days would be months, or over 366 days)."""
    service.clock.t = datetime(2024, 3, 1, 9, 30)  # historical data: the service's now is years before today
    now = service.client.get("/v1/health").json()["now"]
    assert now == "2024-03-01T09:30:00Z"
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    until = (datetime.fromisoformat(now) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = service.client.post("/v1/me/consents", headers=service.person(pid), json={
        "merchant_id": mid, "scope": "admittance", "purpose": "deposit_free_rental", "mode": "per_order",
        "order_ref": "order-1001", "expires_at": until})
    assert r.status_code == 201 and r.json()["expires_at"] == "2024-03-08T09:30:00Z"
    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text()
    assert "$(date -u -d '+" not in doc and "date -u -d \"$NOW + 7 days\"" in doc  # no wall-clock expiry in the examples
