"""The served data as the service holds it, written as a data set: batch scoring it gives the service's scores."""

from __future__ import annotations

import pytest
from service_testkit import scorer_for
from sqlalchemy import select

from deepcredit.data.dataset import Dataset
from deepcredit.data.validate import DataValidationError
from deepcredit.service import snapshot as snapshot_module
from deepcredit.service.snapshot import snapshot
from deepcredit.service.store.models import AuditEntry

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _corrected(svc, me, body: dict, correction: dict) -> None:
    d = svc.client.post("/v1/me/disputes", json={**body, "reason": "This record is wrong."}, headers=me).json()
    svc.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=svc.admin)
    r = svc.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=svc.admin,
                        json={"outcome": "corrected", "note": "Checked.", "correction": correction})
    assert r.status_code == 200, r.text


def _learnt(svc) -> dict[str, str]:
    """One person with a reported outcome, one with a record removed, one with a corrected detail; by role."""
    reported, _ = svc.with_score(skip=1)
    mid, acme = svc.merchant()
    svc.policy(acme)
    svc.grant(svc.person(reported), mid, scope="score")
    assert svc.decide(acme, reported, "order-1").status_code == 200
    svc.clock.advance(days=1)  # an item not returned is at least a day late
    r = svc.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": reported,
                                             "outcome": "rental_not_returned", "amount": 300.0}, headers=acme)
    assert r.status_code == 201, r.text
    removed, _ = svc.with_score(skip=4)
    me = svc.person(removed)
    event = svc.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    _corrected(svc, me, {"event_id": event}, {"action": "remove"})
    detail, _ = svc.with_score(skip=7)
    _corrected(svc, svc.person(detail), {"attribute": "credit_limit"}, {"action": "set", "value": 123456})
    svc.ctx.neighbours.drain(timeout=30.0)  # connections re-scored in the background, before the clock moves
    svc.clock.advance(hours=1)
    return {"reported": reported, "removed": removed, "removed_event": event, "detail": detail}


def test_the_snapshot_holds_what_the_service_learnt_and_scores_as_the_service_does(service, tmp_path):
    people = _learnt(service)
    served = service.world.data
    before = served.fingerprint()
    done = snapshot(service.ctx, served, tmp_path / "held")
    assert (done.reported_events, done.corrected_events, done.corrected_details, done.erased) == (1, 1, 1, 0)
    held = Dataset(tmp_path / "held")
    assert held.spec == served.spec and str(held.snapshot_date.date()) == "2026-07-02"  # a day after the order: the write-off
    assert served.fingerprint() == before  # the served copy itself is never edited
    for table in ("people", "events", "relations", "outcomes"):
        assert list(held.read(table).columns) == list(served.read(table).columns)
    events = held.read("events")
    subject = {role: service.subject(pid) for role, pid in people.items() if role != "removed_event"}
    mine = events[events["person_id"] == subject["reported"]]
    assert mine["event_id"].str.startswith("evt_").sum() == 1
    assert people["removed_event"] not in set(events.loc[events["person_id"] == subject["removed"], "event_id"])
    profile = held.read("people").set_index("person_id")
    assert profile.loc[subject["detail"], "credit_limit"] == 123456
    assert len(held.read("people")) == len(served.read("people"))

    # scored from the snapshot alone (no overlay), each person gets the score the service holds
    ids = list(subject.values())
    now = service.ctx.now()
    alone = scorer_for(held).score_people(ids, as_of=now)
    served_now = service.ctx.scorer.score_people(ids, as_of=now)
    assert [(p.score, p.reasons) for p in alone] == [(p.score, p.reasons) for p in served_now]
    assert [p.score for p in alone] == [service.score_of(pid).score for role, pid in people.items()
                                         if role != "removed_event"]
    with service.ctx.db.read() as s:
        row = s.execute(select(AuditEntry).where(AuditEntry.action == "data_snapshot_written")).scalars().one()
    assert row.actor == "operator" and "123456" not in row.details  # counts, never a corrected value


def test_a_snapshot_never_replaces_other_files_and_a_failed_one_leaves_nothing(service, tmp_path, monkeypatch):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(DataValidationError, match="refusing to replace"):
        snapshot(service.ctx, service.world.data, mine)
    assert (mine / "keep.txt").read_text() == "mine"

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(snapshot_module, "finalize_dataset", crash)
    with pytest.raises(OSError, match="disk full"):
        snapshot(service.ctx, service.world.data, tmp_path / "held")
    assert not (tmp_path / "held").exists()
    assert not any(p.name.endswith(".staging") for p in tmp_path.iterdir())
    with service.ctx.db.read() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "data_snapshot_written")).first() is None


def test_the_snapshots_audit_row_counts_persons_not_profile_versions(tmp_path):
    """With attribute history the people table has a row per version: its row count is not the people."""
    import pandas as pd

    from deepcredit.data.ingest import ingest_with_spec
    from deepcredit.data.spec import DatasetSpec, Outcomes
    from deepcredit.data.spec_profile import Attribute, Profile

    spec = DatasetSpec(name="hist", outcomes=Outcomes(label="bad", window_days=30), profile=Profile(
        valid_from="since", attributes=[Attribute(name="city", type="categorical", dimension="identity")]))
    pd.DataFrame({"person_id": ["a", "a", "b"], "since": ["", "2024-03-01", ""],
                  "city": ["Lyon", "Oslo", "Rome"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "b"], "as_of": "2024-06-01", "bad": [0, 1]}).to_csv(tmp_path / "outcomes.csv",
                                                                                        index=False)
    data = ingest_with_spec(spec, {"people": tmp_path / "people.csv", "outcomes": tmp_path / "outcomes.csv"},
                            tmp_path / "ds")
    assert data.manifest.tables["people"]["rows"] == 3 and data.persons() == 2


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_the_service_s_writers_of_a_whole_folder_hold_its_lock_from_start_to_end(service, tmp_path, monkeypatch):
    """A snapshot, the pseudonymised copy and an erasure's rewrite of the copy hold the folder's lock
    (data.io.output_lock) from their first step to the rename, as ingest and train do: another run that
    starts while one is writing its files is refused, not only one that starts at the staging or the rename."""
    import shutil
    import threading

    from deepcredit.data.io import output_lock
    from deepcredit.service import pseudodata
    from deepcredit.service.pseudodata import pseudonymise_dataset, without_people

    copy = tmp_path / "copy"
    shutil.copytree(service.world.data.root, copy)
    refused: list[str] = []

    def checked(module, real):
        def finalize(staging, out, *args, **kwargs):  # the files are written; the rename has not happened yet
            def other_run() -> None:
                try:
                    with output_lock(out):
                        pass
                except DataValidationError as exc:
                    refused.append(str(exc))
            thread = threading.Thread(target=other_run)
            thread.start()
            thread.join()
            return real(staging, out, *args, **kwargs)
        monkeypatch.setattr(module, "finalize_dataset", finalize)

    checked(snapshot_module, snapshot_module.finalize_dataset)
    checked(pseudodata, pseudodata.finalize_dataset)
    snapshot(service.ctx, service.world.data, tmp_path / "held")
    pseudonymise_dataset(Dataset(copy), tmp_path / "pseudo", service.ctx.pseudonym)
    without_people(Dataset(copy), ["nobody"])
    assert len(refused) == 3 and all("is writing it" in r for r in refused), refused
