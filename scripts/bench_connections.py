"""Benchmark of re-scoring a person's connections after an event: work per event by batch size.

    .venv/bin/python scripts/bench_connections.py [--people 20000] [--events 30] [--repeats 3]
                                                 [--batches 32 64] [--out result.json]

Serves a simulated world as scripts/bench_service.py does (the stack, 2 folds, fitted on 10,000 rows),
takes the connections each of `--events` people's change would queue (service.neighbours), and re-scores
them in process in runs of each batch size, the sizes alternated `--repeats` times. Prints, and writes
with --out, milliseconds of work per event for each size and run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_service import served_stack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from deepcredit.service.neighbours import connections_to_rescore

    ids, ctx = served_stack("deepcredit-bench-connections-", args.people, args.events)
    queued = [connections_to_rescore(ctx, ctx.pseudonym(p)) for p in ids[:args.events]]
    ctx.scorer.score_people(queued[0][:4], as_of=ctx.now())  # warm-up
    runs: dict[int, list[float]] = {b: [] for b in args.batches}
    for _ in range(args.repeats):
        for b in args.batches:
            t0 = time.perf_counter()
            for people in queued:
                for i in range(0, len(people), b):
                    ctx.scorer.score_people(people[i:i + b], as_of=ctx.now())
            runs[b].append(round(1000 * (time.perf_counter() - t0) / len(queued), 1))
    result = {"people": args.people, "events": len(queued),
              "connections_per_event": sorted(len(q) for q in queued),
              "ms_of_work_per_event": {str(b): v for b, v in runs.items()},
              "median_ms": {str(b): float(np.median(v)) for b, v in runs.items()}}
    base = args.batches[0]
    for b in args.batches[1:]:
        ratios = [x / y for x, y in zip(runs[base], runs[b], strict=True)]
        result[f"ratio_{base}_to_{b}"] = {"median": round(float(np.median(ratios)), 3),
                                          "range": [round(min(ratios), 3), round(max(ratios), 3)]}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
