"""How far a changed record moves other people's scores: score changes by distance in the graph.

    .venv/bin/python scripts/bench_connection_depth.py [--people 20000] [--subjects 6] [--out result.json]

Serves a simulated world as scripts/bench_service.py does (the stack, 2 folds, fitted on 10,000 rows). For
each of `--subjects` people it scores everyone one, two and three connections away, adds three rentals not
returned to the person's record (the service's overlay, as a merchant's reports would), scores them again
and counts whose score moved, and by how much. The service re-scores connections within the graph tower's
depth (two hops); a person's social features read their neighbours' events, so a change can reach one hop
further. This measures how much it does.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
from bench_service import served_stack

RINGS = (1, 2, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--subjects", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from deepcredit.service.scoring import OVERLAY_COLUMNS, ModelScorer, Overlay

    ids, ctx = served_stack("deepcredit-bench-depth-", args.people, args.subjects)
    scorer = ctx.scorer
    assert isinstance(scorer, ModelScorer)
    now = ctx.now()
    added: dict[str, pd.DataFrame] = {}
    scorer.overlay = lambda _people: Overlay(events=added.get("events", pd.DataFrame(columns=list(OVERLAY_COLUMNS))))
    moves: dict[int, list[int]] = {h: [] for h in RINGS}
    sizes: dict[int, int] = dict.fromkeys(RINGS, 0)
    for pid in ids[:args.subjects]:
        subject = ctx.pseudonym(pid)
        rings, seen, frontier = {}, {subject}, {subject}
        for h in RINGS:
            frontier = scorer.index.neighbours(sorted(frontier)) - seen
            rings[h], seen = sorted(frontier), seen | frontier
        everyone = [p for h in RINGS for p in rings[h]]
        added.pop("events", None)
        before = {p.person_id: p.score for p in scorer.score_people(everyone, as_of=now)}
        added["events"] = pd.DataFrame([{
            "person_id": subject, "ts": now - timedelta(hours=k + 1), "kind": "rental", "amount": 300.0,
            "status": "not_returned", "due_ts": now - timedelta(days=3), "days_late": 60.0, "counterparty": "m",
            "event_id": f"x{k}"} for k in range(3)])
        after = {p.person_id: p.score for p in scorer.score_people(everyone, as_of=now)}
        for h in RINGS:
            sizes[h] += len(rings[h])
            moves[h].extend(after[p] - before[p] for p in rings[h] if after[p] != before[p])
    result = {"people": args.people, "subjects": args.subjects, "change": "three rentals not returned",
              "rings": {str(h): {"people": sizes[h], "moved": len(moves[h]),
                                 "largest_move_points": max((abs(m) for m in moves[h]), default=0),
                                 "moves_points": sorted(moves[h])} for h in RINGS}}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
