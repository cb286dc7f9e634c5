"""A bounded soak of the scoring service on loopback: mixed traffic at a fixed rate for N minutes, then it stops.

    python scripts/soak_service.py --minutes 5 --rate 200 --out docs/results/soak.json

A measurement, not a pass/fail test: it records every error (transport failures, 5xx, and any status the
request should not get) and the latency percentiles, overall and per kind of request. The server is the
real application under uvicorn on 127.0.0.1 (scripts/service_world.py), on SQLite unless --database-url
names an empty PostgreSQL database (then --server-workers may be more than 1); the load generator is an
open loop (requests are scheduled at the rate and their latency is counted from the scheduled time, so a
stalled server cannot hide its backlog).

--promote-at S: S seconds in, an operator registers a challenger (a scorecard with coarser bins on the same
world), compares and promotes it with the CLI beside the running server while traffic goes on. The output's
`promotion` says when the promotion committed (its audit row's time: the meta table was pointed at the new
model just before), when each worker process adopted it (`model_served` audit rows, written once a swap is
done) and what /v1/health answered meanwhile, the scores the old model stored after the commit (must be 0),
decisions answered from an old-model score, and errors and latency in windows by scheduled time: before the
operator starts, until the commit, the 30 s after it, after that.

The mix (weights): decisions about people who consented (admittance or band) 60, person reports 20,
consents granted 10, outcomes reported for decided orders 10 (each re-scores its person).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx2
import numpy as np
from service_world import build_service, serve
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from deepcredit.service.config import Clock
from deepcredit.service.store.models import AuditEntry, Meta, ScoreHistory, ServiceEvent

ROOT = Path(__file__).resolve().parents[1]
MIX = {"decision": 60, "report": 20, "consent": 10, "event": 10}
EXPECTED = {"decision": {200}, "report": {200}, "consent": {201}, "event": {201}}


class Traffic:
    """Builds request number i of each kind; remembers decided orders so outcomes conclude real ones."""

    def __init__(self, creds: dict, seed: int) -> None:
        self.creds, self.rng = creds, random.Random(seed)
        self.people = list(creds["crowd"])
        self.orders: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def request(self, kind: str, i: int) -> tuple[str, str, dict, dict | None]:
        with self.lock:
            pid = self.rng.choice(self.people)
            order = self.orders.pop(self.rng.randrange(len(self.orders))) if kind == "event" and self.orders else None
        merchant = {"Authorization": f"Bearer {self.creds['merchant']}"}
        person = {"Authorization": f"Bearer {self.creds['crowd'][pid]}"}
        if kind == "decision" or (kind == "event" and order is None):
            include = "band" if i % 2 else "admittance"
            return "decision", "/v1/decisions", merchant, {"transaction_id": f"soak-d{i}", "person_id": pid,
                                                           "policy": "rental", "include": include}
        if kind == "event":
            assert order is not None
            decision_id, pid = order
            return "event", "/v1/events", merchant, {"transaction_id": f"soak-e{i}", "person_id": pid,
                                                     "decision_id": decision_id, "amount": 20,
                                                     "outcome": "rental_returned_on_time"}
        if kind == "consent":
            return "consent", "/v1/me/consents", person, {"merchant_id": self.creds["merchant_id"], "scope": "band",
                                                          "purpose": "deposit_free_rental", "mode": "standing",
                                                          "expires_at": self.creds["expires_at"]}
        return "report", "/v1/me/report", person, None

    def answered(self, kind: str, body: dict | None, response) -> None:
        if kind == "decision" and response.status_code == 200:
            assert body is not None
            with self.lock:
                self.orders.append((response.json()["decision_id"], body["person_id"]))


def soak(url: str, creds: dict, seconds: float, rate: float, workers: int, seed: int,
         operator: Callable[[float], None] | None = None) -> dict:
    """The open loop; `operator(start)` (a promotion) runs beside it in a thread of its own. Every request is
    kept as (due time from the start, kind, latency or None, status or the transport error's name)."""
    traffic = Traffic(creds, seed)
    kinds = random.Random(seed + 1).choices(list(MIX), weights=list(MIX.values()), k=int(seconds * rate) + 1)
    slots: queue.Queue = queue.Queue()
    records: list[tuple[float, str, float | None, str, str | None]] = []
    start = time.perf_counter() + 0.5
    for i, kind in enumerate(kinds):
        slots.put((i, kind, start + i / rate))
    for _ in range(workers):
        slots.put(None)

    def work() -> None:
        with httpx2.Client(base_url=url, timeout=30) as client:
            while (slot := slots.get()) is not None:
                i, kind, due = slot
                if time.perf_counter() > start + seconds + 60:  # hopelessly behind: stop, and say so
                    records.append((due - start, kind, None, "abandoned", None))
                    continue
                time.sleep(max(0.0, due - time.perf_counter()))
                kind, path, headers, body = traffic.request(kind, i)
                try:
                    r = client.get(path, headers=headers) if body is None else \
                        client.post(path, json=body, headers=headers)
                except httpx2.TransportError as exc:
                    records.append((due - start, kind, None, type(exc).__name__, None))
                    continue
                model = None  # a decision's model; whether an outcome's ack says its person was re-scored
                if kind == "decision" and r.status_code == 200:
                    model = r.json().get("model_id")
                elif kind == "event" and r.status_code == 201:
                    model = "rescored" if r.json().get("rescored") else "not rescored"
                records.append((due - start, kind, time.perf_counter() - due, str(r.status_code), model))
                traffic.answered(kind, body, r)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    if operator is not None:
        threads.append(threading.Thread(target=operator, args=(start,), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    result: dict = {"seconds": round(elapsed, 1), "offered_req_per_s": rate,
              "achieved_req_per_s": round(sum(r[2] is not None for r in records) / elapsed, 1)}
    result.update(summary(records))
    result["records"] = records  # taken out before writing (windows are cut from them)
    return result


def stats(values: list[float]) -> dict:
    a = np.asarray(values) * 1000
    return {"requests": len(values), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1), "max_ms": round(float(a.max()), 1)} if len(a) else {}


def summary(records: list) -> dict:
    """Errors (transport failures, 5xx, any status the request should not get) and latency percentiles."""
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    latency: dict[str, list[float]] = defaultdict(list)
    for _, kind, seconds, status, _ in records:
        if seconds is None:
            errors[f"{kind} {status}"] += 1
            continue
        latency[kind].append(seconds)
        statuses[f"{kind} {status}"] += 1
        if int(status) not in EXPECTED[kind]:
            errors[f"{kind} {status}"] += 1
    every = [x for v in latency.values() for x in v]
    return {"requests": len(every), "errors": sum(errors.values()),
            "server_errors": sum(v for k, v in statuses.items() if k.split()[-1].startswith("5")),
            "transport_errors": sum(1 for r in records if r[2] is None and r[3] != "abandoned"),
            "errors_by_kind": dict(sorted(errors.items())), "statuses": dict(sorted(statuses.items())),
            "overall": stats(every), "by_kind": {k: stats(v) for k, v in sorted(latency.items())}}


class Promotion:
    """The operator beside the running server: at `at` seconds into the soak, `model-challenger`,
    `model-compare` and `model-promote` as CLI subprocesses; meanwhile /v1/health is asked every 0.2 s on a
    new connection (so each time any worker may answer) which model it serves."""

    def __init__(self, url: str, env: dict, challenger: str, at: float, seconds: float) -> None:
        self.url, self.env, self.challenger, self.at, self.seconds = url, env, challenger, at, seconds
        self.steps: dict[str, dict] = {}
        self.health: list[tuple[float, str | None]] = []
        self.clock_ref: tuple[float, datetime] | None = None

    def __call__(self, start: float) -> None:
        self.start = start
        self.clock_ref = (time.perf_counter() - start, service_clock(self.env["DEEPCREDIT_DATABASE_URL"]).now())
        poller = threading.Thread(target=self._poll, daemon=True)
        poller.start()
        time.sleep(max(0.0, start + self.at - time.perf_counter()))
        cli = str(Path(sys.executable).with_name("deepcredit"))
        for step, args in (("model-challenger", ["--model", self.challenger]), ("model-compare", []),
                           ("model-promote", [])):
            t0 = time.perf_counter() - start
            done = subprocess.run([cli, step, *args], env={**os.environ, **self.env}, capture_output=True, text=True)
            self.steps[step] = {"started_s": round(t0, 2), "ended_s": round(time.perf_counter() - start, 2),
                                "returncode": done.returncode}
            if done.returncode:
                self.steps[step]["stderr_tail"] = (done.stdout + done.stderr)[-500:]
                break
        poller.join()

    def _poll(self) -> None:
        while (now := time.perf_counter()) < self.start + self.seconds:
            try:
                model = httpx2.get(f"{self.url}/v1/health", timeout=10).json().get("model_id")
            except (httpx2.TransportError, ValueError) as exc:
                model = f"error {type(exc).__name__}"
            self.health.append((now - self.start, model))
            time.sleep(0.2)

    def seconds_of(self, at: datetime) -> float:
        """A time on the service's clock (audit rows, score history) as seconds from the soak's start."""
        assert self.clock_ref is not None
        return self.clock_ref[0] + (at - self.clock_ref[1]).total_seconds()


def service_clock(database_url: str):
    """The service's clock as serve-init set it (offset and zone from the meta table)."""
    from datetime import timedelta



    engine = create_engine(database_url)
    with Session(engine) as s:
        meta: dict[str, str] = dict(s.execute(select(Meta.key, Meta.value)).all())
    engine.dispose()
    return Clock(offset=timedelta(seconds=float(meta.get("clock_offset_seconds") or 0)),
                 zone=meta.get("time_zone") or None)


def promotion_report(database_url: str, promo: Promotion, records: list, seconds: float) -> dict:
    """What the promotion did to the traffic and the store, from the requests, /v1/health and the database."""


    engine = create_engine(database_url)
    with Session(engine) as s:
        audit = [(a, at, json.loads(d)) for a, at, d in s.execute(
            select(AuditEntry.action, AuditEntry.at, AuditEntry.details).where(AuditEntry.action.in_(
                ["challenger_registered", "model_promoted", "model_served", "model_load_failed"]))
            .order_by(AuditEntry.seq)).all()]
        promoted = [(at, d) for a, at, d in audit if a == "model_promoted"]
        out: dict = {"operator_steps": promo.steps,
                     "audit": [{"action": a, "at_s": round(promo.seconds_of(at), 3),
                                **{k: v for k, v in d.items() if k in ("model", "previous", "challenger", "champion",
                                                                       "people", "error")}} for a, at, d in audit]}
        if not promoted:
            out["promoted"] = False
            return out
        at, details = promoted[0]
        new, old = details["model"], details["previous"]
        committed = promo.seconds_of(at)
        rows = s.execute(select(ScoreHistory.model_id, ScoreHistory.cause, func.count(), func.max(ScoreHistory.created_at))
                         .where(ScoreHistory.created_at > at).group_by(ScoreHistory.model_id, ScoreHistory.cause)).all()
        last_old = s.scalar(select(func.max(ScoreHistory.created_at)).where(ScoreHistory.model_id == old))
        events = events_accounted(s, new)
    engine.dispose()
    ended = promo.steps.get("model-promote", {}).get("ended_s", committed)
    served = [promo.seconds_of(at) - committed for a, at, d in audit if a == "model_served" and d.get("model") == new]
    old_health = [t for t, m in promo.health if m == old and t >= committed]
    new_health = [t for t, m in promo.health if m == new]
    decisions = [r for r in records if r[1] == "decision" and r[4] is not None]
    windows = {"before": (0.0, promo.steps.get("model-challenger", {}).get("started_s", committed)),
               "operator_until_commit": (promo.steps.get("model-challenger", {}).get("started_s", committed), committed),
               "first_30s_after_commit": (committed, committed + 30), "after": (committed + 30, seconds + 60)}
    out.update({
        "promoted": True, "new_model": new[:16], "old_model": old[:16],
        "commit_at_s": round(committed, 3), "promote_command_ended_at_s": ended,
        "model_served_per_worker_s_after_commit": sorted(round(x, 3) for x in served),
        "health_last_old_model_s_after_commit": round(max(old_health) - committed, 3) if old_health else None,
        "health_first_new_model_s_after_commit": round(min(new_health) - committed, 3) if new_health else None,
        "health_answers": len(promo.health), "health_errors": sum(1 for _, m in promo.health if m and
                                                                  m.startswith("error")),
        "old_model_scores_stored_after_commit": sum(n for m, _, n, _ in rows if m == old),
        "last_old_model_score_s_after_commit": round(promo.seconds_of(last_old) - committed, 3) if last_old else None,
        "scores_stored_after_commit": stored_by(list(rows), new, old),
        "events_reported": events,
        "outcomes_acked_not_rescored": sum(1 for r in records if r[1] == "event" and r[4] == "not rescored"),
        "decisions_on_old_model_score": {  # by when they were answered (the windows: when they were due)
            "answered_after_commit": sum(1 for r in decisions if r[0] + r[2] >= committed and r[4] == old),
            "answered_after_promote_command_ended": sum(1 for r in decisions if r[0] + r[2] >= ended and r[4] == old)},
        "windows": {name: {"from_s": round(a, 2), "to_s": round(min(b, seconds), 2),
                           **summary([r for r in records if a <= r[0] < b])} for name, (a, b) in windows.items()}})
    return out


def events_accounted(s: Session, new: str) -> dict:
    """Every reported outcome's re-score, accounted for: a history row of its own, or (a re-score refused for
    the old model, redone with the new one, then not stored over a score as of a later time) a promotion's
    score as of a time after the event was stored, which read it; `unaccounted` must be 0."""

    own = select(ScoreHistory.id).where(ScoreHistory.cause == "event " + ServiceEvent.public_id + " reported")
    later = select(ScoreHistory.id).where(ScoreHistory.subject == ServiceEvent.subject, ScoreHistory.model_id == new,
                                          ScoreHistory.cause == "model promoted",
                                          ScoreHistory.as_of > ServiceEvent.created_at)
    total = s.scalar(select(func.count()).select_from(ServiceEvent)) or 0
    without = s.scalar(select(func.count()).select_from(ServiceEvent).where(~own.exists())) or 0
    unaccounted = s.scalar(select(func.count()).select_from(ServiceEvent).where(~own.exists(), ~later.exists())) or 0
    return {"total": total, "own_history_row": total - without, "in_a_later_promotion_score": without - unaccounted,
            "unaccounted": unaccounted}


def stored_by(rows: list, new: str, old: str) -> dict:
    """History rows written after the commit, by model and cause (an event's or a dispute's id left out)."""
    counts: dict[str, int] = defaultdict(int)
    for model, cause, n, _ in rows:
        what = " ".join(w for w in cause.split() if not any(c.isdigit() or c == "_" for c in w))
        counts[f"{'new' if model == new else 'old' if model == old else model[:12]} model: {what}"] += n
    return dict(sorted(counts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=200.0, help="Requests per second offered.")
    ap.add_argument("--workers", type=int, default=32, help="Client threads (the open loop's concurrency cap).")
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--crowd", type=int, default=300, help="People with consent and a token who take part.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "soak.json")
    ap.add_argument("--database-url", default="", help="An empty database (default: SQLite in a temporary "
                    "directory); PostgreSQL allows several --server-workers.")
    ap.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes.")
    ap.add_argument("--promote-at", type=float, default=None, help="Seconds into the soak at which an operator "
                    "registers a challenger (a scorecard with coarser bins, same world), compares and promotes "
                    "it with the CLI beside the running server.")
    args = ap.parse_args()
    seconds = 60 * args.minutes
    with tempfile.TemporaryDirectory(prefix="deepcredit-soak-") as tmp:
        root = Path(tmp)
        env, creds = build_service(root, args.people, args.seed, crowd=args.crowd, database_url=args.database_url,
                                   challenger=args.promote_at is not None)
        server, port = serve(env, root / "server.log", workers=args.server_workers)  # binds 127.0.0.1 only
        url = f"http://127.0.0.1:{port}"
        promo = Promotion(url, env, creds["challenger"], args.promote_at, seconds) \
            if args.promote_at is not None else None
        try:
            result = soak(url, creds, seconds, args.rate, args.workers, args.seed, promo)
        finally:
            server.terminate()
            server.wait(timeout=30)
        log = (root / "server.log").read_text()
        # uvicorn's own lines start with INFO:; the service's errors (no personal data in them) are the rest
        other = [line for line in log.splitlines() if line.strip() and not line.startswith("INFO:")]
        result["server_log_errors"] = len(other)
        result["server_log_error_lines"] = other[-20:]
        if promo is not None:
            result["promotion"] = promotion_report(env["DEEPCREDIT_DATABASE_URL"], promo, result["records"], seconds)
    del result["records"]
    result.update({"load_average_1min_after": round(os.getloadavg()[0], 2), "minutes": args.minutes,
                   "people": args.people, "crowd": args.crowd, "database": env["DEEPCREDIT_DATABASE_URL"].split(":")[0],
                   "server_workers": args.server_workers, "cores": os.cpu_count(),
                   "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"), "mix": MIX})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: result[k] for k in ("achieved_req_per_s", "requests", "errors", "server_errors", "overall")}))
    sys.exit(0)


if __name__ == "__main__":
    main()
