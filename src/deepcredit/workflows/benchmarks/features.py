"""Benchmark: simulate N people, then build features with the engine and with a hand-written DuckDB query.

    .venv/bin/python scripts/bench_features.py --people 1000000 --json runs/bench/features.json

Each stage runs in its own child process (child.run_child) so its peak memory (max RSS) is measured alone;
the world is reused only when this code built it as this world, else simulated again (child.speed_world). The
hand-written query computes the same aggregates as the engine's COMPARED feature subset, written the way
an analyst would write it directly in DuckDB (FILTER clauses, arg_max, one CTE per idea); both read the
same Parquet files with the same thread count. The benchmark is run(); the command above parses its options
in cli/bench_scripts.py.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable
from pathlib import Path

from deepcredit.data.io import atomic_write_text
from deepcredit.workflows.benchmarks import peak_rss_mb
from deepcredit.workflows.benchmarks.child import run_child, speed_world

COMPARED = [
    "tenure_days", "n_bad_90d", "n_bad_365d", "bad_rate", "days_since_last_bad", "max_days_late_365d",
    "last_days_late", "amount_paid_180d", "longest_bad_streak", "current_bad_streak",
    "degree", "share_neighbours_bad", "neighbour_bad_rate",
]

HAND_WRITTEN = """
WITH s AS (SELECT person_id, as_of FROM outcomes),
ev AS (
  SELECT s.person_id, s.as_of, (epoch_us(s.as_of) - epoch_us(e.ts)) / 86400e6 AS age, e.kind, e.amount,
         e.status, coalesce(e.days_late, 0) AS days_late,
         e.status IN ('late','missed','overdue','returned_late','not_returned','negative') AS bad
  FROM s JOIN events e ON e.person_id = s.person_id AND e.ts < s.as_of
),
ev_agg AS (
  SELECT person_id, as_of,
         count(*) FILTER (WHERE bad AND age <= 90) AS n_bad_90d,
         count(*) FILTER (WHERE bad AND age <= 365) AS n_bad_365d,
         count(*) FILTER (WHERE bad) / nullif(count(*) FILTER (WHERE status <> 'open'), 0) AS bad_rate,
         min(age) FILTER (WHERE bad) AS days_since_last_bad,
         coalesce(max(days_late) FILTER (WHERE age <= 365), 0) AS max_days_late_365d,
         arg_max(days_late, -age) FILTER (WHERE status <> 'open') AS last_days_late,
         CASE WHEN count(*) FILTER (WHERE kind IN ('bill','instalment','repayment')) > 0 THEN
           coalesce(sum(amount) FILTER (WHERE kind IN ('repayment','instalment') AND age <= 180
                                        AND status NOT IN ('missed','negative','not_returned','open')), 0)
         END AS amount_paid_180d
  FROM ev GROUP BY ALL
),
runs AS (
  SELECT person_id, as_of, count(*) AS len, min(age) AS end_age, min(last_age) AS last_age FROM (
    SELECT *, min(age) OVER w0 AS last_age,
           row_number() OVER (w0 ORDER BY age DESC) - row_number() OVER (PARTITION BY person_id, as_of, bad ORDER BY age DESC) AS grp
    FROM ev WHERE status <> 'open' WINDOW w0 AS (PARTITION BY person_id, as_of)
  ) WHERE bad GROUP BY person_id, as_of, grp
),
run_agg AS (
  SELECT person_id, as_of, max(len) AS longest_bad_streak,
         max(CASE WHEN end_age = last_age THEN len ELSE 0 END) AS current_bad_streak
  FROM runs GROUP BY ALL
),
nb AS (
  SELECT DISTINCT s.person_id, s.as_of, x.nb FROM s JOIN (
    SELECT source AS me, target AS nb, ts FROM relations UNION ALL SELECT target, source, ts FROM relations
  ) x ON x.me = s.person_id AND x.ts < s.as_of AND x.nb <> s.person_id
),
nb_hist AS (
  SELECT h.nb, h.as_of, count(*) AS n,
         count(*) FILTER (WHERE e.status IN ('late','missed','overdue','returned_late','not_returned','negative')) AS b
  FROM (SELECT DISTINCT nb, as_of FROM nb) h JOIN events e
    ON e.person_id = h.nb AND e.ts < h.as_of AND e.status <> 'open' GROUP BY ALL
),
nb_agg AS (
  SELECT nb.person_id, nb.as_of, count(*) AS degree, avg((coalesce(b, 0) > 0)::DOUBLE) AS share_neighbours_bad,
         sum(coalesce(b, 0)) / nullif(sum(coalesce(n, 0)), 0) AS neighbour_bad_rate
  FROM nb LEFT JOIN nb_hist h ON h.nb = nb.nb AND h.as_of = nb.as_of GROUP BY ALL
)
SELECT s.person_id, s.as_of,
       CASE WHEN p.joined_at < s.as_of THEN (epoch_us(s.as_of) - epoch_us(p.joined_at)) / 86400e6 END AS tenure_days,
       coalesce(n_bad_90d, 0) AS n_bad_90d, coalesce(n_bad_365d, 0) AS n_bad_365d, bad_rate,
       days_since_last_bad, coalesce(max_days_late_365d, 0) AS max_days_late_365d, last_days_late,
       amount_paid_180d,
       coalesce(longest_bad_streak, 0) AS longest_bad_streak, coalesce(current_bad_streak, 0) AS current_bad_streak,
       coalesce(degree, 0) AS degree, share_neighbours_bad, neighbour_bad_rate
FROM s JOIN people p USING (person_id)
LEFT JOIN ev_agg USING (person_id, as_of) LEFT JOIN run_agg USING (person_id, as_of)
LEFT JOIN nb_agg USING (person_id, as_of)
"""


def _child(stage: str, args: dict, queue: mp.Queue) -> None:
    """run_child entry point: build the world's features with the engine (every feature, engine_all; the
    COMPARED ones, engine_compared) or with the hand-written query (hand_written)."""
    from deepcredit.data.dataset import Dataset

    t0 = time.perf_counter()
    extra: dict = {}
    ds = Dataset(args["out"])
    if stage == "engine_all":
        from deepcredit.features.engine import build_features

        ff = build_features(ds)
        ff.frame.to_parquet(Path(args["out"]).with_name("features_all.parquet"))
        extra = {"features": len(ff.names)}
    elif stage == "engine_compared":
        from deepcredit.features.definitions import by_name
        from deepcredit.features.engine import build_features

        ff = build_features(ds, by_name(COMPARED))
        ff.frame[["person_id", "as_of", *COMPARED]].to_parquet(Path(args["out"]).with_name("engine.parquet"))
    elif stage == "hand_written":
        con = ds.connect()
        con.execute("SET preserve_insertion_order = false")
        frame = con.execute(HAND_WRITTEN).df()
        frame.to_parquet(Path(args["out"]).with_name("hand.parquet"))
    seconds = time.perf_counter() - t0
    queue.put({"seconds": round(seconds, 2), "peak_mb": peak_rss_mb(), **extra})


def agree(out: Path) -> float:
    """Largest difference between the engine's and the hand-written query's values, relative to the value
    (absolute below 1): the engine rounds every numeric feature to engine.SIGNIFICANT_DIGITS, so agreement
    is about 10^-9, not 0. A value missing on one side only counts as infinite."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(out.with_name("engine.parquet")).sort_values(["person_id", "as_of"]).reset_index(drop=True)
    b = pd.read_parquet(out.with_name("hand.parquet")).sort_values(["person_id", "as_of"]).reset_index(drop=True)
    worst = 0.0
    for c in COMPARED:
        x, y = a[c].astype(float).to_numpy(), b[c].astype(float).to_numpy()
        diff = np.where(np.isnan(x) & np.isnan(y), 0.0, np.abs(x - y) / np.maximum(np.abs(y), 1.0))
        worst = max(worst, float(np.max(np.where(np.isnan(diff), np.inf, diff), initial=0.0)))
    return worst


def failed(results: dict) -> bool:
    """Whether a stage of run()'s results failed (its result carries an "error")."""
    return any(isinstance(r, dict) and "error" in r for r in results.values())


def run(people: int = 100_000, workdir: Path = Path("runs/bench"), seed: int = 42, out: Path | None = None,
        log: Callable[[str], None] = lambda line: print(line, flush=True)) -> dict:
    """Simulate `people` (or reuse the world), build the features each way in a child process and compare:
    every stage's seconds and peak memory, the largest difference and the engine's time over the query's.
    The stages stop at the first that fails (failed() says so); only a complete result is written to `out`."""
    data = workdir / f"world-{people}" / "data"
    args = {"out": str(data), "people": people, "seed": seed}
    results: dict = {"people": people, "simulate": speed_world(data, people, seed)}
    log(f"simulate {results['simulate']}")
    for stage in ("engine_all", "engine_compared", "hand_written"):
        if failed(results):
            return results
        results[stage] = run_child(__name__, "_child", stage, args)
        log(f"{stage} {results[stage]}")
    if failed(results):
        return results
    results["max_relative_difference"] = agree(data)
    results["engine_vs_hand_ratio"] = round(results["engine_compared"]["seconds"] /
                                            results["hand_written"]["seconds"], 2)
    if out:
        atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    return results
