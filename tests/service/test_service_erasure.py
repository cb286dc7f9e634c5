"""Erasure: every row the service holds about a person goes, their data set rows are left out from then on
(their connections re-scored without them), the audit log keeps its chain, and nothing brings them back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from service_testkit import KEY, world
from sqlalchemy import select

from deepcredit.data.dataset import Dataset
from deepcredit.data.io import parquet_files
from deepcredit.service import pseudodata
from deepcredit.service.events import save_scores, save_scores_bulk
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.pseudodata import person_columns
from deepcredit.service.snapshot import snapshot
from deepcredit.service.store.models import AuditEntry, Consent, Decision, ErasedSubject, Score

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _with_connections(svc) -> tuple[str, list[str]]:
    """A person (raw id) with connections, and their connections' pseudonyms."""
    for i in range(40):
        pid, _ = svc.with_score(skip=i)
        around = svc.ctx.scorer.neighbourhood([svc.subject(pid)], hops=1)[1:]
        if len(around) >= 2:
            return pid, around
    raise AssertionError("no person with two connections in the test world")


def test_an_erased_person_leaves_the_service_and_their_connections_are_scored_without_them(service, tmp_path):
    pid, around = _with_connections(service)
    subject, scorer = service.subject(pid), service.ctx.scorer
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid, scope="score")
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(days=2)
    assert service.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid, "amount": 20.0,
                                                    "outcome": "rental_returned_late", "days_late": 2},
                               headers=acme).status_code == 201
    event = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    assert service.client.post("/v1/me/disputes", json={"event_id": event, "reason": "Not late."},
                               headers=me).status_code == 201
    degree_before = scorer.model_input(around, service.ctx.now()).X["degree"].to_numpy()[:len(around)]
    under_way = scorer.score_people([subject], as_of=service.ctx.now())  # a re-score the erasure overtakes

    r = service.client.post("/v1/admin/erasures", json={"person_id": pid}, headers=service.admin)
    assert r.status_code == 201, r.text
    deleted = r.json()["deleted"]
    assert {k: deleted[k] for k in ("scores", "consents", "decisions", "reported_events", "disputes")} == \
        {"scores": 1, "consents": 1, "decisions": 1, "reported_events": 1, "disputes": 1}
    assert deleted["score_history"] >= 2 and deleted["person_tokens"] == 1
    service.ctx.neighbours.drain(timeout=30.0)

    # nothing about them answers any more: their token, a new token, a merchant, a second erasure
    assert service.client.get("/v1/me/report", headers=me).status_code == 401
    again = service.client.post("/v1/admin/person-tokens", json={"person_id": pid}, headers=service.admin)
    assert again.status_code == 409 and again.json()["type"].endswith("/erased")
    assert service.decide(acme, pid, "order-2").status_code != 200
    assert service.client.post("/v1/admin/erasures", json={"person_id": pid},
                               headers=service.admin).status_code == 409
    assert service.score_of(pid) is None
    save_scores(service.ctx, under_way, cause="event s1 reported")
    save_scores_bulk(service.ctx, under_way, cause="initial score")
    assert service.score_of(pid) is None  # stored after the erasure: dropped inside the write

    # the data set's rows are left out everywhere the service reads them
    now = service.ctx.now()
    assert scorer.score_people([subject], as_of=now) == []
    everyone = scorer.model_input(None, now).keys["person_id"].tolist()
    assert subject not in everyone and set(around) <= set(everyone)
    degree_after = scorer.model_input(around, now).X["degree"].to_numpy()[:len(around)]
    assert (degree_after == degree_before - 1).all()  # each connection lost the erased person
    with service.ctx.db.read() as s:
        stored = {r.subject: r.score for r in s.execute(select(Score).where(Score.subject.in_(around))).scalars()}
    fresh = {p.person_id: p.score for p in scorer.score_people(around, as_of=now)}
    assert stored == fresh  # re-scored without them
    written = snapshot(service.ctx, service.world.data, tmp_path / "held")
    held = written.data
    assert written.erased == 1 and len(held.read("people")) == len(service.world.data.read("people")) - 1
    for table, column in (("people", "person_id"), ("events", "person_id"), ("outcomes", "person_id"),
                          ("relations", "source"), ("relations", "target")):
        assert subject not in set(held.read(table)[column]), table

    # the audit log keeps its rows and its chain, and says what went (counts only)
    with service.ctx.db.read() as s:
        row = s.execute(select(AuditEntry).where(AuditEntry.action == "person_erased")).scalars().one()
        assert row.subject == subject and s.get(ErasedSubject, subject) is not None
        assert s.execute(select(AuditEntry).where(AuditEntry.subject == subject)).first() is not None
        assert service.ctx.audit.verify(s).ok


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_no_byte_of_an_erased_person_s_words_stays_in_the_database_files(service):
    """The write-ahead log keeps pages as they were before a delete, and freed pages keep their bytes: after
    an erasure neither the database file nor its log holds the person's dispute words or their pseudonym's
    rows (the audit log keeps the pseudonym only, by design)."""
    pid, _ = service.with_score()
    me = service.person(pid)
    event = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    words = b"Erase-me: the bill was paid at the counter on the 3rd"
    assert service.client.post("/v1/me/disputes", json={"event_id": event, "reason": words.decode()},
                               headers=me).status_code == 201
    files = [Path(service.ctx.db.url.database), Path(f"{service.ctx.db.url.database}-wal")]
    assert any(words in f.read_bytes() for f in files if f.exists())  # the words are there before
    assert service.client.post("/v1/admin/erasures", json={"person_id": pid},
                               headers=service.admin).status_code == 201
    service.ctx.neighbours.drain(timeout=30.0)
    assert not [f.name for f in files if f.exists() and words in f.read_bytes()]


def test_the_ids_of_an_erased_persons_rows_are_never_given_again(service):
    """The erased person's decision (and consent, token) were the newest: the next rows, about someone else,
    get new ids, so no stored id (an audit row's, a merchant's) comes to name another person's row."""
    first, second, third = (service.with_score(skip=i)[0] for i in range(3))
    mid, acme = service.merchant()
    service.policy(acme)
    given: dict[str, set[int]] = {"decision": set(), "consent": set()}
    for n, pid in enumerate((first, second)):
        consent = service.grant(service.person(pid), mid)
        r = service.decide(acme, pid, f"order-{n}")
        assert r.status_code == 200, r.text
        given["consent"].add(_key(service, consent["id"], Consent))
        given["decision"].add(_key(service, r.json()["decision_id"]))
    assert service.client.post("/v1/admin/erasures", json={"person_id": second},
                               headers=service.admin).status_code == 201
    consent = service.grant(service.person(third), mid)
    r = service.decide(acme, third, "order-2")
    assert r.status_code == 200, r.text
    assert _key(service, consent["id"], Consent) > max(given["consent"])
    assert _key(service, r.json()["decision_id"]) > max(given["decision"])


def _key(service, public_id: str, model=Decision) -> int:
    """The row key behind a decision's (a consent's) public id (the merchant, the person is never told it)."""
    with service.ctx.db.read() as s:
        return s.execute(select(model.id).where(model.public_id == public_id)).scalar_one()


def test_operator_routes_refuse_a_person_nobody_holds(service):
    """A typo is a 404 naming no id (audited), not a token for nobody nor an erasure of nothing; someone the
    served data set holds is known without any row in the database; an erased person keeps their 409."""
    from sqlalchemy import delete

    from deepcredit.service.store.models import ScoreHistory

    for path, typo, refused in (("/v1/admin/person-tokens", "nobody-at-all", "person_token_refused"),
                                ("/v1/admin/erasures", "never-existed", "erasure_refused")):
        r = service.client.post(path, json={"person_id": typo}, headers=service.admin)
        assert r.status_code == 404 and r.json()["type"].endswith("/unknown-person"), r.text
        assert typo not in r.text and service.subject(typo) not in r.text
        with service.ctx.db.read() as s:
            rows = s.execute(select(AuditEntry.subject).where(AuditEntry.action == refused)).scalars().all()
            assert rows == [service.subject(typo)] and s.get(ErasedSubject, service.subject(typo)) is None
    again = service.client.post("/v1/admin/person-tokens", json={"person_id": "nobody-at-all"}, headers=service.admin)
    assert again.status_code == 404  # a refusal's audit row does not make the id known
    pid, _ = service.with_score()
    with service.ctx.db.write() as s:  # in the served data set only
        s.execute(delete(Score).where(Score.subject == service.subject(pid)))
        s.execute(delete(ScoreHistory).where(ScoreHistory.subject == service.subject(pid)))
    assert service.client.post("/v1/admin/person-tokens", json={"person_id": pid},
                               headers=service.admin).status_code == 201
    assert service.client.post("/v1/admin/erasures", json={"person_id": pid}, headers=service.admin).status_code == 201
    gone = service.client.post("/v1/admin/erasures", json={"person_id": pid}, headers=service.admin)
    assert gone.status_code == 409 and gone.json()["type"].endswith("/erased")


def _people_named(files: list[Path], table: str) -> dict[Path, set[str]]:
    """The pseudonyms each part file of `table` holds or names (every column that holds person ids)."""
    named: dict[Path, set[str]] = {}
    for f in files:
        rows = pq.read_table(f)
        keys, refs = person_columns(table, rows.column_names)
        named[f] = {str(v) for c in [*keys, *refs] for v in rows.column(c).to_pylist() if v is not None}
    return named


def test_an_erasure_rewrites_only_the_parts_of_the_copy_that_hold_or_name_the_person(tmp_path, monkeypatch):
    """The copy's tables are folders of part files in the tables' order; an erasure rewrites the parts with a
    row that holds or names the person and keeps every other part as it was (the same file: its inode), so
    its cost follows the person's rows, not the population. The rows left are the old ones, in their order."""
    monkeypatch.setattr(pseudodata, "ROW_GROUP", 2048)  # DuckDB's smallest: the test world's events in ~10 parts
    monkeypatch.setattr(pseudodata, "PART_ROW_GROUPS", 1, raising=False)
    w = world()
    pseudonym = Pseudonymiser(KEY)
    copy = pseudodata.pseudonymise_dataset(w.raw, tmp_path / "copy", pseudonym)
    subject = pseudonym(w.ids[len(w.ids) // 2])
    tables = [*copy.manifest.tables, *copy.manifest.extras]
    named = {f: people for t in tables for f, people in _people_named(parquet_files(copy.table_path(t)), t).items()}
    events = copy.read("events")
    assert len(parquet_files(copy.table_path("events"))) > 3
    assert events["person_id"].is_monotonic_increasing  # the parts' names' order is the rows' order
    inodes = {f: f.stat().st_ino for f in named}

    pseudodata.without_people(Dataset(copy.root), [subject])

    after = Dataset(copy.root)
    assert {f for t in tables for f in parquet_files(after.table_path(t))} == set(named)
    rewritten = {f.relative_to(copy.root).as_posix() for f in named if f.stat().st_ino != inodes[f]}
    holding = {f.relative_to(copy.root).as_posix() for f, people in named.items() if subject in people}
    assert holding and rewritten == holding
    left = after.read("events")
    assert subject not in set(left["person_id"]) and subject not in set(left["counterparty"].dropna())
    kept = events[events["person_id"] != subject].reset_index(drop=True)
    assert left["event_id"].tolist() == kept["event_id"].tolist()  # order and event ids kept
    after.checked_fingerprint()  # the manifest records the files as they are now


def test_an_erasure_that_fails_before_its_rename_leaves_the_copy_as_it_was(tmp_path, monkeypatch):
    """Kept parts are hard links to the live files: a failed rewrite removes its staging folder, not them; the
    copy reads as before, and a rerun erases."""
    shutil.copytree(world().data.root, tmp_path / "copy")
    copy = Dataset(tmp_path / "copy")
    subject = str(copy.read("people")["person_id"].iloc[0])
    before = {t: copy.read(t) for t in copy.manifest.tables}

    def fail(*args, **kwargs):
        raise OSError("disk full")
    real = pseudodata.finalize_dataset
    monkeypatch.setattr(pseudodata, "finalize_dataset", fail)
    with pytest.raises(OSError):
        pseudodata.without_people(copy, [subject])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no staging folder left
    again = Dataset(tmp_path / "copy")
    again.checked_fingerprint()
    for t, frame in before.items():
        assert again.read(t).equals(frame), t
    monkeypatch.setattr(pseudodata, "finalize_dataset", real)
    pseudodata.without_people(again, [subject])
    assert subject not in set(Dataset(tmp_path / "copy").read("people")["person_id"])


def test_an_index_not_held_gives_each_person_the_rows_and_scores_a_held_one_gives():
    """`person-erase` builds its scorer with held_index=False: rows are read for the people asked about
    instead of the whole copy; the same rows in the same order, so the same neighbourhoods and scores."""
    from service_testkit import NOW, world

    from deepcredit.service.lookup import PersonIndex
    from deepcredit.service.scoring import load_scorer

    w = world()
    held, read = PersonIndex(w.data), PersonIndex(w.data, held=False)
    people = sorted(w.data.read("people")["person_id"].astype(str))
    for ids in (people[:1], people[5:9], [people[20], people[3], "nobody"]):
        for question in ("people", "events", "relations"):
            assert getattr(read, question)(ids).equals(getattr(held, question)(ids)), question
        assert read.neighbours(ids) == held.neighbours(ids)
    assert read._tables is None  # nothing read whole
    full, lean = load_scorer(w.model, w.data), load_scorer(w.model, w.data, held_index=False)
    some = people[10:30]
    assert lean.neighbourhood(some, hops=2) == full.neighbourhood(some, hops=2)
    assert lean.score_people(some, as_of=NOW) == full.score_people(some, as_of=NOW)
    assert lean.index._tables is None
