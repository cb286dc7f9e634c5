"""Shared set-up for the service tests: one small scored world per test run, a fake clock, both databases.

Imported by every tests/service/test_service_*.py (pytest puts this directory on sys.path), so the world
(a simulated data set, a small scorecard fitted on it, its pseudonymised copy and everyone's initial
scores) is built once per test process. PostgreSQL runs when DEEPCREDIT_TEST_PG_URL names a reachable
server (scripts/ci_postgres.sh starts one); otherwise those cases skip and say why.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from deepcredit.data.dataset import Dataset, write_dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.models.base import save_model
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.service.app import create_app
from deepcredit.service.config import Clock, Settings
from deepcredit.service.events import overlay_source, save_scores_bulk
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.pseudodata import pseudonymise_dataset
from deepcredit.service.scoring import ModelScorer, ScoredPerson, load_scorer
from deepcredit.service.store import Database

KEY = b"test-pseudonym-key-0123456789abcdef"
ADMIN_KEY = "test-admin-key-0123456789"
NOW = datetime(2026, 7, 1, 12, 0, 0)
PG_ENV = "DEEPCREDIT_TEST_PG_URL"
FEATURES = ("identity_verified", "tenure_days", "n_bad_365d", "n_severe_365d", "bad_rate",
            "days_since_last_severe", "utilisation", "last_bill_amount", "credit_limit", "share_rental_365d",
            "degree", "share_neighbours_bad")


@dataclass
class World:
    root: Path
    raw: Dataset
    data: Dataset
    model: Path
    """The model artifact (a scorecard: quick to fit; the stack's service path is tests/service/test_service_stack.py)."""
    scores: list[ScoredPerson]
    ids: list[str]
    """Raw person ids, as a merchant knows them."""


@functools.lru_cache(maxsize=1)
def world() -> World:
    root = Path(tempfile.mkdtemp(prefix="deepcredit-service-tests-"))
    atexit.register(shutil.rmtree, root, True)
    raw = simulate_world(root / "world", people=400, seed=7)
    defs = [d for d in ALL_FEATURES if d.name in FEATURES]
    inp = build_model_input(raw, views=("tabular",), definitions=defs)
    save_model(ScorecardModel(max_n_prebins=20).fit(inp), root / "model", inp)
    data = pseudonymise_dataset(raw, root / "pseudo", Pseudonymiser(KEY))
    scores = load_scorer(root / "model", data).score_people(None, as_of=NOW)
    ids = sorted(raw.read("people")["person_id"].astype(str))
    return World(root, raw, data, root / "model", scores, ids)


@dataclass
class Duplicated:
    raw: Dataset
    """The test world with duplicated relation pairs, its relations file shuffled (no order to rely on)."""
    data: Dataset
    """Its pseudonymised copy (relations sorted by source, and again by target: `relations_by_target`)."""
    pairs: list[str]
    """Raw ids of people at either end of a duplicated pair."""


@functools.lru_cache(maxsize=1)
def duplicated() -> Duplicated:
    """The test world where some relations are observed more than once: the same pair (either direction)
    again with another weight, date or kind, and some rows twice as they are."""
    import pandas as pd

    w = world()
    frames = {t: w.raw.read(t) for t in ("people", "events", "relations", "outcomes")}
    rel = frames["relations"]
    again = rel.iloc[::20].assign(weight=lambda r: (r["weight"] * 0.5 + 0.1).round(3),
                                  ts=lambda r: r["ts"] - pd.Timedelta(days=40))
    kinds = sorted(set(rel["kind"]))
    other = rel.iloc[7::20].assign(kind=lambda r: [kinds[(kinds.index(k) + 1) % len(kinds)] for k in r["kind"]])
    back = rel.iloc[3::30].rename(columns={"source": "target", "target": "source"})
    same = rel.iloc[11::25]
    frames["relations"] = pd.concat([rel, again, other, back, same], ignore_index=True).sample(
        frac=1.0, random_state=3).reset_index(drop=True)
    raw = write_dataset(w.root / "dup-world", frames, name="duplicated", snapshot_date=w.raw.manifest.snapshot_date,
                        spec=w.raw.spec, time_zone=w.raw.manifest.time_zone)
    data = pseudonymise_dataset(raw, w.root / "dup-pseudo", Pseudonymiser(KEY))
    pairs = sorted(set(again["source"]) | set(again["target"]) | set(other["source"]) | set(back["source"])
                   | set(same["target"]))
    return Duplicated(raw, data, [str(p) for p in pairs])


def scorer_for(data: Dataset, overlay=None) -> ModelScorer:
    """The service's scorer of the test world's model over `data`."""
    return load_scorer(world().model, data, overlay)


# -- databases ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def postgres_skip_reason() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return f"{PG_ENV} is not set (`source scripts/ci_postgres.sh` starts a local PostgreSQL for these tests)"
    try:
        eng = create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as con:
            con.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot run here
        return f"PostgreSQL at {PG_ENV} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def backends() -> list:
    """pytest params for the two supported databases."""
    reason = postgres_skip_reason()
    pg = pytest.param("postgresql", marks=pytest.mark.skip(reason=reason)) if reason else "postgresql"
    return ["sqlite", pg]


class PgSchema:
    """A throwaway schema per test, so tests on PostgreSQL are isolated like tmp_path SQLite files."""

    def __init__(self) -> None:
        self.url = os.environ[PG_ENV]
        self.name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(self.url)
        with self.admin.begin() as con:
            con.execute(text(f"CREATE SCHEMA {self.name}"))

    def database(self) -> Database:
        return Database(self.url, connect_args={"options": f"-csearch_path={self.name}"}, pool_size=4)

    def drop(self) -> None:
        with self.admin.begin() as con:
            con.execute(text(f"DROP SCHEMA {self.name} CASCADE"))
        self.admin.dispose()


# -- the service --------------------------------------------------------------------------------------

@dataclass
class FakeClock:
    t: datetime = NOW

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t = self.t + timedelta(**kw)


@dataclass
class Service:
    client: TestClient
    ctx: object
    clock: FakeClock
    world: World
    admin: dict = field(default_factory=lambda: {"Authorization": f"Bearer {ADMIN_KEY}"})

    # -- helpers that go through the public API ----------------------------------------------------
    def merchant(self, name: str = "Acme Rentals") -> tuple[int, dict]:
        r = self.client.post("/v1/admin/merchants", json={"name": name}, headers=self.admin)
        assert r.status_code == 201, r.text
        body = r.json()
        return body["merchant"]["id"], {"Authorization": f"Bearer {body['api_key']}"}

    def iso(self, t: datetime) -> str:
        """A time of the service's clock (naive, in its zone) as a request writes it: RFC 3339, with its offset."""
        zone = self.ctx.settings.clock.zone
        return t.replace(tzinfo=ZoneInfo(zone) if zone else UTC).isoformat()

    def person(self, person_id: str) -> dict:
        r = self.client.post("/v1/admin/person-tokens", json={"person_id": person_id}, headers=self.admin)
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def policy(self, merchant: dict, name: str = "rental", scenario: str = "deposit_free_rental",
               threshold: int | None = 600, **extra) -> dict:
        body = {"name": name, "scenario": scenario, **({"threshold": threshold} if threshold is not None else {}),
                **extra}
        r = self.client.post("/v1/policies", json=body, headers=merchant)
        assert r.status_code == 201, r.text
        return r.json()

    def grant(self, person: dict, merchant_id: int, scope: str = "admittance", purpose: str = "deposit_free_rental",
              mode: str = "standing", days: float = 30, order_ref: str | None = None) -> dict:
        body = {"merchant_id": merchant_id, "scope": scope, "purpose": purpose, "mode": mode,
                "expires_at": self.iso(self.clock.t + timedelta(days=days))}
        if order_ref:
            body["order_ref"] = order_ref
        r = self.client.post("/v1/me/consents", json=body, headers=person)
        assert r.status_code == 201, r.text
        return r.json()

    def decide(self, merchant: dict, person_id: str, tx: str, policy: str = "rental", include: str = "admittance",
               **extra):
        return self.client.post("/v1/decisions", json={"transaction_id": tx, "person_id": person_id,
                                                        "policy": policy, "include": include, **extra},
                                headers=merchant)

    def decided(self, skip: int = 0, pid: str | None = None) -> tuple[str, dict, dict]:
        """A person (raw id; `pid`, else the `skip`-th with a score) Acme Rentals decided about under their
        consent: (person id, their token, Acme's key)."""
        pid = pid if pid is not None else self.with_score(skip=skip)[0]
        mid, acme = self.merchant()
        self.policy(acme)
        me = self.person(pid)
        self.grant(me, mid)
        assert self.decide(acme, pid, "tx-1").status_code == 200
        return pid, me, acme

    def subject(self, person_id: str) -> str:
        return self.ctx.pseudonym(person_id)

    def with_score(self, lo: int = 0, hi: int = 10_000, skip: int = 0) -> tuple[str, int]:
        """A raw person id whose initial score lies in [lo, hi) (the `skip`-th such person), and the score."""
        by_subject = {p.person_id: p.score for p in self.world.scores}
        found = [(pid, by_subject[self.subject(pid)]) for pid in self.world.ids
                 if lo <= by_subject.get(self.subject(pid), -1) < hi]
        return found[skip]

    def score_of(self, person_id: str):
        from deepcredit.service.store.models import Score

        with self.ctx.db.read() as s:
            return s.get(Score, self.subject(person_id))


@pytest.fixture(params=backends())
def service(request, tmp_path):
    """A fresh service (empty database with everyone's initial scores) on SQLite or PostgreSQL."""
    w = world()
    clock = FakeClock()
    schema = None
    if request.param == "postgresql":
        schema = PgSchema()
        db = schema.database()
    else:
        db = Database(f"sqlite:///{tmp_path / 'service.db'}")
    settings = Settings(database_url=str(db.url), pseudonym_key=KEY, admin_key=ADMIN_KEY,
                        clock=Clock(source=clock))
    scorer = scorer_for(w.data, overlay_source(db, clock))
    app = create_app(settings, scorer=scorer, db=db)
    ctx = app.state.ctx
    save_scores_bulk(ctx, w.scores, cause="initial score")
    with TestClient(app) as client:
        yield Service(client, ctx, clock, w)
    if ctx.neighbours is not None:
        ctx.neighbours.drain(timeout=30.0)  # connections still being re-scored finish before the database goes
    db.dispose()
    if schema is not None:
        schema.drop()

