"""A bounded soak of the scoring service on loopback: mixed traffic at a fixed rate for N minutes, then it stops.

    python scripts/soak_service.py --minutes 5 --rate 200 --out docs/results/soak.json

A measurement, not a pass/fail test: it records every error (transport failures, 5xx, and any status the
request should not get) and the latency percentiles, overall and per kind of request. The server is the
real application under uvicorn on 127.0.0.1 (scripts/service_world.py), one worker on SQLite unless
--database-url names PostgreSQL; the load generator is an open loop (requests are scheduled at the rate
and their latency is counted from the scheduled time, so a stalled server cannot hide its backlog).

The mix (weights): decisions about people who consented (admittance or band) 60, person reports 20,
consents granted 10, outcomes reported for decided orders 10 (each re-scores its person).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import httpx2
import numpy as np
from service_world import build_service, serve

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
            with self.lock:
                self.orders.append((response.json()["decision_id"], body["person_id"]))


def soak(url: str, creds: dict, seconds: float, rate: float, workers: int, seed: int) -> dict:
    traffic = Traffic(creds, seed)
    kinds = random.Random(seed + 1).choices(list(MIX), weights=list(MIX.values()), k=int(seconds * rate) + 1)
    slots: queue.Queue = queue.Queue()
    latency: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
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
                    errors["abandoned"] += 1
                    continue
                time.sleep(max(0.0, due - time.perf_counter()))
                kind, path, headers, body = traffic.request(kind, i)
                try:
                    r = client.get(path, headers=headers) if body is None else \
                        client.post(path, json=body, headers=headers)
                except httpx2.TransportError as exc:
                    errors[f"{kind} {type(exc).__name__}"] += 1
                    continue
                latency[kind].append(time.perf_counter() - due)
                statuses[f"{kind} {r.status_code}"] += 1
                if r.status_code not in EXPECTED[kind]:
                    errors[f"{kind} {r.status_code}"] += 1
                traffic.answered(kind, body, r)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    every = [x for v in latency.values() for x in v]

    def stats(values: list[float]) -> dict:
        a = np.asarray(values) * 1000
        return {"requests": len(values), "p50_ms": round(float(np.percentile(a, 50)), 1),
                "p99_ms": round(float(np.percentile(a, 99)), 1), "max_ms": round(float(a.max()), 1)} if len(a) else {}

    return {"seconds": round(elapsed, 1), "offered_req_per_s": rate, "achieved_req_per_s": round(len(every) / elapsed, 1),
            "requests": len(every), "errors": sum(errors.values()), "server_errors": sum(
                v for k, v in statuses.items() if k.split()[-1].startswith("5")),
            "errors_by_kind": dict(errors), "statuses": dict(sorted(statuses.items())), "overall": stats(every),
            "by_kind": {k: stats(v) for k, v in sorted(latency.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=200.0, help="Requests per second offered.")
    ap.add_argument("--workers", type=int, default=32, help="Client threads (the open loop's concurrency cap).")
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--crowd", type=int, default=300, help="People with consent and a token who take part.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "soak.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="deepcredit-soak-") as tmp:
        root = Path(tmp)
        env, creds = build_service(root, args.people, args.seed, crowd=args.crowd)
        server, port = serve(env, root / "server.log")  # binds 127.0.0.1 only
        try:
            result = soak(f"http://127.0.0.1:{port}", creds, 60 * args.minutes, args.rate, args.workers, args.seed)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result.update({"load_average_1min_after": round(os.getloadavg()[0], 2), "minutes": args.minutes, "people": args.people, "crowd": args.crowd, "database": "sqlite",
                   "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"), "mix": MIX})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: result[k] for k in ("achieved_req_per_s", "requests", "errors", "server_errors", "overall")}))
    sys.exit(0)


if __name__ == "__main__":
    main()
