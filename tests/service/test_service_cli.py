"""The service's commands: serve-init, merchant-add, person-token and audit-verify, end to end on SQLite."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text
from typer.testing import CliRunner

from deepcredit.cli import serve_cmds
from deepcredit.models.artifacts import load_artifact
from deepcredit.service.app import create_app
from deepcredit.service.config import Settings
from deepcredit.service.store import schema

pytest_plugins = ("service_testkit",)


def _app() -> typer.Typer:
    app = typer.Typer()
    serve_cmds.register(app)
    return app


def test_init_then_serve_then_verify_the_audit_log(tmp_path):
    from service_testkit import ADMIN_KEY, KEY, world

    w = world()
    db = tmp_path / "svc.db"
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{db}"}
    runner, app = CliRunner(), _app()
    r = runner.invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(w.root / "model"),
                            "--state", str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"], env=env)
    assert r.exit_code == 0, r.output
    assert "scored 400 people as of 2026-07-01 12:00" in r.output and "windows of recent behaviour" not in r.output
    r = runner.invoke(app, ["merchant-add", "Acme Rentals"], env=env)
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    pid = w.ids[0]
    r = runner.invoke(app, ["person-token", pid], env=env)
    token = r.stdout.strip().splitlines()[-1]
    assert r.exit_code == 0 and token.startswith("dcp_")
    assert runner.invoke(app, ["merchant-add", "Acme Rentals"], env=env).exit_code == 2

    # the server as `deepcredit serve` builds it: scorer, data copy and clock from the database
    settings = Settings.from_env(env)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/health").json()["model_id"] == load_artifact(w.model).sha256
        report = client.get("/v1/me/report", headers={"Authorization": f"Bearer {token}"}).json()
        expected = next(p for p in w.scores if p.person_id == settings_subject(settings, pid))
        assert report["score"] == expected.score and report["events"]
        assert report["model_id"] == load_artifact(w.model).sha256  # every report names the model version
        assert report["generated_at"].startswith("2026-07-01")  # the clock runs from --as-of
        me = client.get("/v1/merchant", headers={"Authorization": f"Bearer {key}"}).json()
        assert me["name"] == "Acme Rentals"

    r = runner.invoke(app, ["audit-verify", "--json"], env=env)
    result = json.loads(r.stdout)
    assert r.exit_code == 0 and result["ok"] and result["rows"] >= 4
    anchor = f"{result['head_seq']}:{result['head_mac']}"
    assert runner.invoke(app, ["audit-verify", "--anchor", anchor], env=env).exit_code == 0
    eng = create_engine(f"sqlite:///{db}")
    with eng.begin() as con:
        con.execute(text("DROP TRIGGER audit_log_no_update"))
        con.execute(text("UPDATE audit_log SET actor = 'merchant:99' WHERE seq = 2"))
    eng.dispose()
    r = runner.invoke(app, ["audit-verify"], env=env)
    assert r.exit_code == 1 and "row 2" in r.output and "FAILED" in r.output
    with eng.begin() as con:  # a dropped head table: a verdict naming it, not a database traceback
        con.execute(text("DROP TABLE audit_head"))
    eng.dispose()
    r = runner.invoke(app, ["audit-verify"], env=env)
    assert r.exit_code == 1 and "audit_head is missing" in r.output and "FAILED" in r.output


def settings_subject(settings: Settings, person_id: str) -> str:
    from deepcredit.service.privacy import Pseudonymiser

    return Pseudonymiser(settings.pseudonym_key)(person_id)


def test_commands_refuse_without_a_pseudonym_key(tmp_path):
    r = CliRunner().invoke(_app(), ["audit-verify"], env={"DEEPCREDIT_PSEUDONYM_KEY": "short",
                                                          "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert r.exit_code == 2 and "DEEPCREDIT_PSEUDONYM_KEY" in r.output


def test_a_data_set_its_user_declared_is_served_with_its_spec_and_without_its_protected_attributes(tmp_path):
    import gzip

    from service_testkit import ADMIN_KEY, KEY

    from deepcredit.config import RunConfig
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.ingest import ingest_with_spec
    from deepcredit.data.spec import builtin_spec
    from deepcredit.service.context import make_context
    from deepcredit.service.store.models import Score
    from deepcredit.workflows.train import train_model

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "loans.csv").write_bytes(gzip.decompress(
        (root / "src/deepcredit/data/datasets/files/german_credit.csv.gz").read_bytes()))
    spec = builtin_spec("german")  # stored under a name of the user's: no built-in spec is found by name
    raw = ingest_with_spec(spec, {"people": tmp_path / "loans.csv"}, tmp_path / "loans", name="loans")
    model = train_model(RunConfig(model="gbdt", member_params={"gbdt": {"n_estimators": 20}}), raw, tmp_path / "m").path
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    def serve_init(as_of: str):
        return CliRunner().invoke(_app(), ["serve-init", "--data", str(raw.root), "--model", str(model),
                                           "--state", str(tmp_path / "state"), "--as-of", as_of], env=env)

    assert serve_init("2025-06-01").exit_code == 0  # then again with the clock set back, as its note asks
    r = serve_init("2024-01-01")
    assert r.exit_code == 0, r.output
    assert "scored 1,000 people" in r.output
    copy = Dataset(tmp_path / "state" / "data")
    assert not set(spec.protected) & set(copy.read("people").columns)  # declared protected: never copied
    assert copy.spec.protected == () and [a.name for a in copy.spec.profile.attributes] == [
        a.name for a in spec.profile.attributes if not a.protected]
    # no events declared: a reported outcome cannot be held, so it is refused, never silently ignored
    said = " ".join(r.output.split())
    assert "refuses them: rental_returned_on_time" in said and "holds no events" in said
    assert "[events.outcomes]" not in said
    key = CliRunner().invoke(_app(), ["merchant-add", "Acme Rentals"], env=env).stdout.strip().splitlines()[-1]
    r = CliRunner().invoke(_app(), ["person-token", "1"], env=env)
    assert r.exit_code == 0 and "holds no score" not in r.output
    token = r.stdout.strip().splitlines()[-1]
    r = CliRunner().invoke(_app(), ["person-token", "no-such-person"], env=env)
    assert r.exit_code == 2 and "holds nothing about this person id" in " ".join(r.output.split())
    ctx = make_context(Settings.from_env(env))
    with ctx.db.write() as s:  # someone the data set holds and the service has not scored: a token, and a note
        s.execute(delete(Score).where(Score.subject == ctx.pseudonym("2")))
    ctx.db.dispose()
    r = CliRunner().invoke(_app(), ["person-token", "2"], env=env)
    assert r.exit_code == 0 and "holds no score for them yet" in " ".join(r.output.split())
    stranger = r.stdout.strip().splitlines()[-1]
    with TestClient(create_app(Settings.from_env(env))) as client:
        r = client.post("/v1/events", headers={"Authorization": f"Bearer {key}"},
                        json={"transaction_id": "t1", "person_id": "1", "decision_id": 1,
                              "outcome": "rental_returned_late", "days_late": 3, "amount": 25})
        assert r.status_code == 422 and r.json()["type"].endswith("outcome-not-declared"), r.text
        r = client.post("/v1/events", headers={"Authorization": f"Bearer {key}"},
                        json={"transaction_id": "t2", "person_id": "1", "outcome": "loan_defaulted"})
        assert r.status_code == 422 and "'rental_returned_late'" in r.text and "<Outcome." not in r.text, r.text
        doc = client.get("/openapi.json").json()  # the document says in words that every report is refused
        assert "declares no outcome" in doc["paths"]["/v1/events"]["post"]["description"]
        status = doc["components"]["schemas"]["RestatusCorrection"]["properties"]["status"]
        assert "enum" not in status and "holds no events" in status["description"]  # not the simulator's words
        me = {"Authorization": f"Bearer {token}"}
        report = client.get("/v1/me/report", headers=me).json()
        assert [h["as_of"][:10] for h in report["history"]] == ["2024-01-01"]  # nothing left from the later run
        assert report["reasons"] and all(x["how_to_improve"] for x in report["reasons"])
        page = client.get("/v1/me/report.html", headers=me).text
        assert "reads no records of commitments" in page and "whenever a new record" not in page
        assert "Dispute it with its id" not in page
        plan = client.get("/v1/me/recourse", headers=me).json()
        if plan["target_band"] is None:  # nothing to keep: no "keep your commitments to stay there"
            assert plan["notes"] == ["You are in the top band."]
        else:  # no commitments to add: no plan, and it says why
            assert plan["steps"] == [] and plan["score_after"] is None
            assert any("hold no commitments" in n for n in plan["notes"])
        page = client.get("/v1/me/report.html", headers={"Authorization": f"Bearer {stranger}"}).text
        assert "No reasons yet" in page and "Nothing is holding your score back" not in page


def test_a_database_from_before_schema_versions_is_refused_until_serve_upgrade_adopts_it(tmp_path):
    from service_testkit import ADMIN_KEY, KEY

    from deepcredit.service.store.models import Base

    db = tmp_path / "svc.db"
    Base.metadata.create_all(create_engine(f"sqlite:///{db}"))  # as an older DeepCredit made it
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{db}"}
    runner = CliRunner()
    r = runner.invoke(_app(), ["merchant-add", "Acme Rentals"], env=env)
    assert r.exit_code == 2 and "before schema versions" in r.output and "serve-upgrade" in r.output
    r = runner.invoke(_app(), ["serve-upgrade"], env=env)
    assert r.exit_code == 0 and f"database at schema {schema.head()} (was: no schema version)" in r.output, r.output
    assert runner.invoke(_app(), ["merchant-add", "Acme Rentals"], env=env).exit_code == 0
    r = runner.invoke(_app(), ["serve-upgrade"], env=env)  # at this schema already: nothing to do
    assert r.exit_code == 0 and f"already at schema {schema.head()}: nothing changed" in r.output
    assert runner.invoke(_app(), ["audit-verify"], env=env).exit_code == 0
    with create_engine(f"sqlite:///{db}").connect() as con:
        actions = con.execute(text("SELECT action FROM audit_log ORDER BY seq")).scalars().all()
    assert actions.count("schema_upgraded") == 1


def test_serving_a_data_set_long_after_it_ends_is_noted_with_the_as_of_to_give():
    from deepcredit.service.bootstrap import InitSummary

    def summary(as_of: str) -> InitSummary:
        return InitSummary(1, Path("."), "m", datetime.fromisoformat(as_of), 0.0, [], datetime(2026, 7, 1))

    assert summary("2026-12-01").stale_days == 153  # historical data scored as of now: the CLI says so
    assert summary("2026-09-29").stale_days is None and summary("2026-07-01").stale_days is None


def test_person_erase_asks_first_and_a_later_serve_init_does_not_bring_the_person_back(tmp_path):
    from service_testkit import ADMIN_KEY, KEY, world

    from deepcredit.service.context import make_context
    from deepcredit.service.store.models import Score, ScoreHistory

    w = world()
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    runner, app = CliRunner(), _app()
    init = ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state", str(tmp_path / "state"),
            "--as-of", "2026-07-01 12:00"]
    assert runner.invoke(app, ["person-erase", w.ids[3], "--yes"], env=env).exit_code == 2  # no service yet
    assert runner.invoke(app, init, env=env).exit_code == 0
    r = runner.invoke(app, ["person-erase", w.ids[3]], input="n\n", env=env)
    assert r.exit_code == 1  # asked, and told no: nothing erased
    r = runner.invoke(app, ["person-erase", w.ids[3], "--yes"], env=env)
    assert r.exit_code == 0 and "erased on 2026-07-01" in r.output and "scores 1" in r.output, r.output
    # a service running beside this process keeps its worked-out answers in memory: the operator is told
    assert "until it restarts" in " ".join(r.output.split())
    r = runner.invoke(app, ["person-erase", w.ids[3], "--yes"], env=env)
    assert r.exit_code == 2 and "was erased on" in r.output
    assert runner.invoke(app, ["person-token", w.ids[3]], env=env).exit_code == 2
    for args in (["person-token", "nobody-at-all"], ["person-erase", "never-existed", "--yes"]):  # typos
        r = runner.invoke(app, args, env=env)
        assert r.exit_code == 2 and "holds nothing about this person id" in r.output, r.output
        assert args[1] not in r.output
    ctx = make_context(Settings.from_env(env))
    with ctx.db.write() as s:  # someone the served data set holds, with no row in the database: known
        s.execute(delete(Score).where(Score.subject == ctx.pseudonym(w.ids[5])))
        s.execute(delete(ScoreHistory).where(ScoreHistory.subject == ctx.pseudonym(w.ids[5])))
    ctx.db.dispose()
    assert runner.invoke(app, ["person-token", w.ids[5]], env=env).exit_code == 0
    assert runner.invoke(app, init, env=env).exit_code == 0  # the data set copied and everyone scored again
    ctx = make_context(Settings.from_env(env))
    with ctx.db.read() as s:
        assert s.get(Score, ctx.pseudonym(w.ids[3])) is None and s.get(Score, ctx.pseudonym(w.ids[4])) is not None
    ctx.db.dispose()


@pytest.mark.parametrize("relations", ["once", "duplicated"])
def test_person_erase_re_scores_the_connections_without_reading_the_whole_copy(tmp_path, monkeypatch, relations):
    """The command finds the person's connections and re-scores them from their rows alone (the person index
    is never loaded whole): the scores it works out are those a scorer holding the whole index gives, also
    where a pair of people is related more than once (service_testkit.duplicated)."""
    from service_testkit import ADMIN_KEY, KEY, duplicated, world

    from deepcredit.data.dataset import Dataset
    from deepcredit.service.bootstrap import build_scorer
    from deepcredit.service.context import make_context, read_meta
    from deepcredit.service.erasure import erase_person
    from deepcredit.service.lookup import PersonIndex
    from deepcredit.service.scoring import ModelScorer, load_scorer

    w = world()
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    raw = w.raw if relations == "once" else duplicated().raw
    init = ["serve-init", "--data", str(raw.root), "--model", str(w.model), "--state", str(tmp_path / "state"),
            "--as-of", "2026-07-01 12:00"]
    assert CliRunner().invoke(_app(), init, env=env).exit_code == 0
    ctx = make_context(Settings.from_env(env))
    full = load_scorer(w.model, Dataset(read_meta(ctx)["data_dir"]))
    ids = w.ids if relations == "once" else duplicated().pairs
    pid = next(p for p in ids if len(full.neighbourhood([ctx.pseudonym(p)], hops=1)) >= 3)
    around = full.neighbourhood([ctx.pseudonym(pid)], hops=1)[1:]
    scored, score_people = [], ModelScorer.score_people

    def recorded(self, person_ids, as_of=None):
        out = score_people(self, person_ids, as_of)
        scored.append((list(person_ids), as_of, out))
        return out

    def whole(self):
        raise AssertionError("the person index was loaded whole")

    monkeypatch.setattr(ModelScorer, "score_people", recorded)
    monkeypatch.setattr(PersonIndex, "_load", whole)
    erase_person(Settings.from_env(env), pid)
    monkeypatch.undo()
    [(ids, as_of, out)] = scored
    assert sorted(ids) == sorted(around)
    held = build_scorer(ctx)  # the whole index, as a running service holds it
    assert held is not None and out == held.score_people(ids, as_of=as_of)
    ctx.db.dispose()
