"""Faults: kill -9 of the server during bursts of writes, of batch scoring mid-write, of ingest mid-write.

Each kill is made deterministic where it can be: the child process stalls inside the Parquet write it is
about to make (a wrapper replaces pyarrow's write_table with one that writes half a file, then waits) and
is killed there, so the test knows it killed a write in progress rather than hoping the timing was right.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pandas as pd
from service_testkit import KEY, world
from sqlalchemy import select
from typer.testing import CliRunner

from deepcredit.cli.app import app as cli_app
from deepcredit.data.dataset import Dataset
from deepcredit.service.auth import MerchantPrincipal
from deepcredit.service.config import Settings
from deepcredit.service.consent import grant
from deepcredit.service.context import make_context
from deepcredit.service.enrolment import create_merchant
from deepcredit.service.policies import create as create_policy
from deepcredit.service.schemas import StandingConsent, ThresholdPolicyCreate
from deepcredit.service.store.models import Decision, ServiceEvent

STALL = """
import os, sys, time
import pyarrow.parquet as pq
real, marker = pq.write_table, os.environ["STALL_ON"]
def stalled(table, where, *args, **kwargs):
    if marker in str(where):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")
        print("STALLED", flush=True)
        time.sleep(600)
    return real(table, where, *args, **kwargs)
pq.write_table = stalled
from deepcredit.cli.app import main
sys.argv = ["deepcredit", *sys.argv[1:]]
main()
"""


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **extra}


def _run_until_stalled(args: list[str], marker: str) -> None:
    """Run the CLI in a child, wait until it is inside the marked write, then kill -9 it."""
    proc = subprocess.Popen([sys.executable, "-c", STALL, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=_env(STALL_ON=marker), text=True)
    out = []
    deadline = time.monotonic() + 240
    try:
        for line in proc.stdout:
            out.append(line)
            if "STALLED" in line or time.monotonic() > deadline:
                break
        assert any("STALLED" in x for x in out), "".join(out)[-2000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _cli(args: list[str]):
    return CliRunner().invoke(cli_app, args)


def _stale(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_killed_batch_scoring_run_leaves_no_partial_part_and_a_rerun_equals_the_reference(tmp_path):
    w = world()
    model = tmp_path / "gbdt"
    r = _cli(["train", "--data", str(w.raw.root), "--out", str(model), "--model", "gbdt", "--folds", "2"])
    assert r.exit_code == 0, r.output
    people = len(w.raw.read("people"))
    args = ["score", "--model", str(model), "--data", str(w.raw.root), "--no-explain",
            "--chunk-size", str(max(1, people // 3))]
    ref = tmp_path / "ref"
    r = _cli([*args, "--out", str(ref)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "scores"
    _run_until_stalled([*args, "--out", str(out)], marker=".part-00001.parquet.")  # killed inside part 2
    pending = out / "_parts"  # parts wait there until the job completes: OUT is not read as a result
    assert [p.name for p in pending.glob("part-*.parquet")] == ["part-00000.parquet"]  # only whole parts
    assert [n for n in _stale(pending) if n.startswith(".part-00001.parquet.")]  # the killed run's half file
    assert not list(out.glob("part-*.parquet"))
    r = _cli([*args, "--out", str(out)])  # resumes
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(ref))
    assert [n for n in _stale(out) if n.startswith(".part-")] == [] and not pending.exists()  # cleaned


def test_a_killed_ingest_leaves_the_previous_data_set_intact(tmp_path):
    w = world()
    src = tmp_path / "src"
    src.mkdir()
    for t in ("people", "events", "relations", "outcomes"):
        w.raw.read(t).to_parquet(src / f"{t}.parquet")
    args = ["ingest", *[x for t in ("people", "events", "relations", "outcomes")
                        for x in (f"--{t}", str(src / f"{t}.parquet"))],
            "--snapshot-date", str(w.raw.snapshot_date.date())]
    out = tmp_path / "data"
    r = _cli([*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    before = Dataset(out).fingerprint()
    events = w.raw.read("events")
    events.iloc[: len(events) // 2].to_parquet(src / "events.parquet")  # a new version of the data
    _run_until_stalled([*args, "--out", str(out)], marker="events.parquet")
    assert Dataset(out).fingerprint() == before
    assert len(Dataset(out).read("events")) == len(events)


# -- the server ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepared(db_url: str) -> tuple[str, list[str]]:
    """A merchant with a policy, and people who gave it standing consent; returns (api key, person ids)."""
    ctx = make_context(Settings(database_url=db_url, pseudonym_key=KEY))
    ctx.db.create_all()
    made = create_merchant(ctx, "Burst Ltd")
    m = MerchantPrincipal(made.merchant.id, made.merchant.name)
    create_policy(ctx, m, ThresholdPolicyCreate(name="rental", scenario="deposit_free_rental", threshold=600))
    people = [f"p{i:07d}" for i in range(1, 21)]
    expires = ctx.now() + pd.Timedelta(days=30)
    for pid in people:
        grant(ctx, ctx.pseudonym(pid), StandingConsent(merchant_id=m.id, scope="admittance",
                                                       purpose="deposit_free_rental", mode="standing",
                                                       expires_at=expires))
    ctx.db.dispose()
    return made.api_key, people


def test_kill_9_during_a_burst_of_writes_loses_no_acknowledged_write(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'svc.db'}"
    key, people = _prepared(db_url)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "deepcredit.service.app:app_from_env", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
                              env=_env(DEEPCREDIT_PSEUDONYM_KEY=KEY.decode(), DEEPCREDIT_DATABASE_URL=db_url),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx2.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.2)
        acked: dict[str, list[str]] = {"decisions": [], "events": []}
        stop = threading.Event()

        def burst(worker: int) -> None:
            with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=5) as c:
                i = 0
                while not stop.is_set():
                    pid = people[(worker + i) % len(people)]
                    tx = f"w{worker}-{i}"
                    try:
                        r = c.post("/v1/decisions", json={"transaction_id": tx, "person_id": pid, "policy": "rental"})
                        if r.status_code == 200:
                            acked["decisions"].append(tx)
                            r = c.post("/v1/events", json={"transaction_id": f"e-{tx}", "person_id": pid,
                                                           "outcome": "rental_returned_on_time", "amount": 10,
                                                           "decision_id": r.json()["decision_id"]})
                            if r.status_code == 201:
                                acked["events"].append(f"e-{tx}")
                    except httpx2.TransportError:
                        return
                    i += 1

        threads = [threading.Thread(target=burst, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        while len(acked["events"]) < 60 and time.monotonic() < deadline + 60:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # in the middle of the burst
        server.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert len(acked["events"]) >= 60
    ctx = make_context(Settings(database_url=db_url, pseudonym_key=KEY))
    with ctx.db.read() as s:
        decisions = set(s.execute(select(Decision.transaction_id)).scalars())
        events = set(s.execute(select(ServiceEvent.transaction_id)).scalars())
        chain = ctx.audit.verify(s)
    ctx.db.dispose()
    assert set(acked["decisions"]) <= decisions and set(acked["events"]) <= events
    assert chain.ok, chain.problems
