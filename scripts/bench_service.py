"""Benchmark of the scoring service on loopback: admittance decisions and re-scoring after an event.

    .venv/bin/python scripts/bench_service.py [--people 20000] [--model stack|scorecard] [--folds 2]
                                              [--rate 200] [--seconds 10] [--events 200] [--event-rate 2]
                                              [--shared-cores]
                                              [--database-url postgresql+psycopg://...] [--out result.json]

What it does, all on 127.0.0.1 and bounded (fixed request counts; it stops by itself):
1. simulates a world, fits the model on it (default: the full stack, few folds and epochs to keep it
   quick; `--model scorecard`: a small card), runs serve-init (pseudonymised copy, everyone scored);
2. registers a merchant with a deposit-free-rental policy and consents from `--consenting` people;
3. starts `uvicorn deepcredit.service.app:app_from_env` (one worker, access log off) on a free port; with
   two or more cores the server is pinned to one core and the load generator to another, so the client's
   own CPU does not blur the server's numbers (`--shared-cores`: not pinned);
4. admittance decisions (each one: key check, consent check, probe limit, score lookup, decision row and
   audit row committed) three ways: closed loop (max throughput with `--concurrency` clients), and open
   loop at `--rate` requests/s for `--seconds` (latency measured from each request's *scheduled* time,
   so a stalled server cannot hide its queue: no coordinated omission);
5. re-scoring: `POST /v1/events` for distinct people, one at a time (the person's features recomputed from
   the data set plus the new event, scored, stored, their connections queued for the background worker):
   scheduled at `--event-rate` events/s, then back to back (an overload: the connections' backlog grows);
   and the Scorer alone in-process.

Prints a markdown table; `--out` also writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FEATURES = ("identity_verified", "tenure_days", "n_bad_365d", "n_severe_365d", "bad_rate", "days_since_last_severe",
            "utilisation", "last_bill_amount", "credit_limit", "share_rental_365d", "degree", "share_neighbours_bad")
KEY, ADMIN = "bench-pseudonym-key-0123456789abcdef", "bench-admin-key-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stats(lat_s: list[float], wall: float) -> dict:
    a = np.asarray(lat_s) * 1000
    return {"requests": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2),
            "req_per_s": round(len(a) / wall, 1)}


QUICK_STACK = {"sequence": {"max_epochs": 2}, "wide_deep": {"max_epochs": 2, "use_graph_tower": True},
               "graph": {"max_epochs": 3}}
"""Few epochs: the benchmark measures serving, not accuracy."""


def fit_model(raw, out: Path, kind: str, folds: int, fit_rows: int = 0) -> None:
    from deepcredit.features.bundle import build_model_input
    from deepcredit.features.definitions import ALL_FEATURES
    from deepcredit.models.base import save_model
    from deepcredit.models.scorecard import ScorecardModel
    from deepcredit.models.stack import StackModel

    if kind == "stack":
        inp = build_model_input(raw)
        if fit_rows and fit_rows < len(inp):  # serving cost does not depend on how many rows trained it
            inp = inp.take(np.sort(np.random.default_rng(0).choice(len(inp), fit_rows, replace=False)))
        model = StackModel(member_params=QUICK_STACK, n_folds=folds, seed=0).fit(inp)
    else:
        inp = build_model_input(raw, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
        model = ScorecardModel(max_n_prebins=20).fit(inp)
    save_model(model, out, inp)


def prepare(root: Path, people: int, consenting: int, db_url: str, kind: str = "stack", folds: int = 2,
            fit_rows: int = 0, world: Path | None = None) -> tuple[list[str], str, dict]:
    """World, model, serve-init, a merchant with a policy and consents. Returns (person ids, api key, timings)."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.simulate import simulate_world
    from deepcredit.workflows.benchmarks.service import serve_world

    t = {}
    t0 = time.perf_counter()
    raw = Dataset(world) if world else simulate_world(root / "world", people=people, seed=11)
    t["simulate_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    fit_model(raw, root / "model", kind, folds, fit_rows)
    t["fit_s"] = round(time.perf_counter() - t0, 1)
    served = serve_world(raw, root / "model", root, consenting, seed=5, url=db_url, keys=(KEY, ADMIN))
    t["serve_init_s"] = round(served.init.seconds, 1)
    served.ctx.db.dispose()
    return served.people, served.api_key, t


def start_server(port: int, db_url: str, cpu: int | None) -> subprocess.Popen:
    env = {**os.environ, "DEEPCREDIT_PSEUDONYM_KEY": KEY, "DEEPCREDIT_ADMIN_KEY": ADMIN,
           "DEEPCREDIT_DATABASE_URL": db_url}
    cmd = [sys.executable, "-m", "uvicorn", "deepcredit.service.app:app_from_env", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None
                            else None)
    import httpx2

    for _ in range(300):
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx2.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the server did not answer /v1/health within 30 s")


def closed_loop(url: str, key: str, ids: list[str], n: int, concurrency: int, tag: str) -> dict:
    import httpx2

    lat: list[float] = []
    lock = threading.Lock()
    counter = iter(range(n))
    errors = [0]

    def worker() -> None:
        rng = random.Random(threading.get_ident())
        with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = c.post("/v1/decisions", json={"transaction_id": f"{tag}-{i}", "person_id": rng.choice(ids),
                                                  "policy": "rental"})
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    errors[0] += r.status_code != 200

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {**_stats(lat, time.perf_counter() - start), "errors": errors[0], "concurrency": concurrency}


def open_loop(url: str, key: str, ids: list[str], rate: float, seconds: float, workers: int = 16) -> dict:
    """Requests scheduled at a fixed rate; latency counts from the scheduled send time.

    Every client is created and connected before the schedule starts (creating an HTTP client costs the
    load generator tens of milliseconds, which must not be charged to the server).
    """
    import httpx2

    n = int(rate * seconds)
    slots: queue.Queue = queue.Queue()
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    ready = threading.Barrier(workers + 1)
    clients = [httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
               for _ in range(workers)]

    def worker(c) -> None:
        rng = random.Random(threading.get_ident())
        c.get("/v1/health")  # the connection is open before the clock starts
        ready.wait()
        while (item := slots.get()) is not None:
            i, due = item
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            r = c.post("/v1/decisions", json={"transaction_id": f"open-{i}", "person_id": rng.choice(ids),
                                              "policy": "rental"})
            done = time.perf_counter()
            with lock:
                lat.append(done - due)
                errors[0] += r.status_code != 200

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    ready.wait()
    start = time.perf_counter() + 0.05
    for i in range(n):
        slots.put((i, start + i / rate))
    for _ in range(workers):
        slots.put(None)
    for th in threads:
        th.join()
    for c in clients:
        c.close()
    return {**_stats(lat, time.perf_counter() - start), "errors": errors[0], "offered_req_per_s": rate}


def rescore_over_http(url: str, key: str, ids: list[str], n: int, rate: float = 0.0, tag: str = "ev") -> dict:
    """POST /v1/events for n distinct people, one at a time: back to back (rate 0), or scheduled at `rate`
    events/s with latency counted from each event's scheduled time (as the open loop above). Back to back
    is an overload for the connections' re-scoring: each event queues a well-connected person's 20-50
    connections for the background worker (about 175 ms of work), which then shares the cores."""
    import httpx2

    lat = []
    errors = 0
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        start = time.perf_counter() + 0.5
        for i, pid in enumerate(ids[:n]):
            order = c.post("/v1/decisions", json={"transaction_id": f"{tag}-order-{i}", "person_id": pid,
                                                  "policy": "rental"}).json()["decision_id"]  # an outcome needs an order
            t0 = time.perf_counter()
            if rate:
                due = start + i / rate
                time.sleep(max(0.0, due - t0))
                t0 = due
            # returned on time: an outcome that is not kept needs a whole day since its order (events.py)
            r = c.post("/v1/events", json={"transaction_id": f"{tag}-{i}", "person_id": pid, "decision_id": order,
                                           "outcome": "rental_returned_on_time", "amount": 40})
            lat.append(time.perf_counter() - t0)
            errors += r.status_code != 201 or not r.json().get("rescored")
        result = {**_stats(lat, time.perf_counter() - start), "errors": errors}
        return {**result, "offered_events_per_s": rate} if rate else result


def served(db_url: str):
    """The service context of a served benchmark world (its database), on its clock, with its scorer."""
    from deepcredit.service.bootstrap import build_scorer
    from deepcredit.service.config import Settings
    from deepcredit.service.context import make_context, sync_clock

    ctx = make_context(Settings.from_env({"DEEPCREDIT_PSEUDONYM_KEY": KEY, "DEEPCREDIT_ADMIN_KEY": ADMIN,
                                          "DEEPCREDIT_DATABASE_URL": db_url}))
    sync_clock(ctx)
    ctx.scorer = build_scorer(ctx)
    return ctx


def served_stack(prefix: str, people: int, consenting: int):
    """A new world served with the stack (2 folds, fitted on 10,000 rows) in a temporary directory:
    (person ids with consents, its service context)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    db_url = f"sqlite:///{root / 'service.db'}"
    ids, _, _ = prepare(root, people, consenting, db_url, "stack", 2, 10_000)
    return ids, served(db_url)


def rescore_in_process(db_url: str, ids: list[str], n: int) -> dict:
    ctx = served(db_url)
    scorer = ctx.scorer
    subjects = [ctx.pseudonym(p) for p in ids[:n]]
    scorer.score_people(subjects[:1], as_of=ctx.now())  # warm-up
    lat = []
    start = time.perf_counter()
    for s in subjects:
        t0 = time.perf_counter()
        scorer.score_people([s], as_of=ctx.now())
        lat.append(time.perf_counter() - t0)
    ctx.db.dispose()
    return _stats(lat, time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--consenting", type=int, default=600, help="People who granted the merchant consent.")
    ap.add_argument("--requests", type=int, default=3000, help="Closed-loop decision requests.")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rate", type=float, default=200.0, help="Open-loop offered load, requests/s.")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--events", type=int, default=200, help="Re-scoring requests (one person each).")
    ap.add_argument("--event-rate", type=float, default=2.0, help="Events/s of the second, scheduled re-scoring "
                    "run (0: none); the first sends them back to back.")
    ap.add_argument("--model", choices=("stack", "scorecard"), default="stack")
    ap.add_argument("--folds", type=int, default=2, help="The stack's out-of-fold folds (few: quick to fit).")
    ap.add_argument("--fit-rows", type=int, default=0, help="Fit on this many labelled rows (0: all); the "
                    "service's latency does not depend on it.")
    ap.add_argument("--world", type=Path, default=None, help="Serve this simulated world instead of a new one.")
    ap.add_argument("--shared-cores", action="store_true", help="Do not pin the server: it and the load "
                    "generator share every core (as a server on a machine of its own would use them all).")
    ap.add_argument("--database-url", default="", help="Default: an SQLite file in a temporary directory.")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="deepcredit-bench-service-"))
    db_url = args.database_url or f"sqlite:///{root / 'service.db'}"
    ids, key, setup = prepare(root, args.people, args.consenting, db_url, args.model, args.folds,
                              args.fit_rows, args.world)
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpus = (cores[0], set(cores[1:])) if len(cores) >= 2 and not args.shared_cores \
        else (None, None)
    port = _free_port()
    proc = start_server(port, db_url, server_cpu)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    url = f"http://127.0.0.1:{port}"
    try:
        closed_loop(url, key, ids, 500, 16, "warm")  # as many connections as the open loop opens
        single = closed_loop(url, key, ids, min(args.requests, 1000), 1, "single")
        closed = closed_loop(url, key, ids, args.requests, args.concurrency, "closed")
        opened = open_loop(url, key, ids, args.rate, args.seconds)
        # paced first: back to back leaves the connections' worker minutes of backlog, which a paced run after
        # it would wait behind
        paced = rescore_over_http(url, key, ids[args.events:], args.events, args.event_rate, "paced") \
            if args.event_rate else None
        time.sleep(10)  # the paced run's last connections
        http_rescore = rescore_over_http(url, key, ids, args.events)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    direct = rescore_in_process(db_url, ids[-args.events:], args.events)
    result = {"people": args.people, "model": args.model, "database": db_url.split(":")[0], "cores": len(cores),
              "server_pinned_to_cpu": server_cpu, "load_average_1m": round(os.getloadavg()[0], 2), "setup": setup,
              "decisions_one_client": single, "decisions_closed_loop": closed, "decisions_open_loop": opened,
              "rescore_post_event_http": http_rescore, "rescore_post_event_http_paced": paced,
              "rescore_scorer_in_process": direct}
    rows = [("admittance, 1 client (service time)", single),
            (f"admittance, closed loop, {args.concurrency} clients", closed), (f"admittance, open loop at {args.rate:g}/s", opened),
            ("re-score after event (POST /v1/events), back to back", http_rescore),
            *([(f"re-score after event, at {args.event_rate:g} events/s", paced)] if paced else []),
            ("re-score, Scorer in-process", direct)]
    print(f"\n{args.people:,} people, {args.model}, {result['database']}, server on "
          f"{'1 pinned core' if server_cpu is not None else 'shared cores'} (machine: {len(cores)} cores, "
          f"1-minute load average {result['load_average_1m']} at the end)\n")
    print("| workload | requests | p50 ms | p99 ms | max ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['req_per_s']} "
              f"| {r.get('errors', 0)} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    import shutil

    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
