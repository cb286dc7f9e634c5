"""How often a what-if plan keeps its promise, and how long a what-if takes (docs/results/recourse.json).

For `sample` people drawn (seeded) from those below the top band, as of the data set's snapshot: search
the smallest plan (service/recourse.suggest, batched), then apply it to the person's own record as future
events and re-score it through the model (recourse.verify, the path a re-score takes). reach_rate is the
share whose re-scored band is at least the promised one; a person for whom no plan was found counts as not
reached. p99_ms is the 99th percentile of the what-if (one plan applied and re-scored); the search's own
latency is reported beside it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_text, library_versions
from deepcredit.service import recourse
from deepcredit.service.scoring import load_scorer


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def measure_recourse(data: Dataset, model_path: Path, sample: int = 1000, seed: int = 0,
                     as_of: datetime | None = None, max_seconds: float | None = None) -> dict:
    """The figures (see the module docstring); `max_seconds` stops drawing people after that long (the
    sample actually measured is `people`, the one asked for `sample_requested`)."""
    data.checked_fingerprint()  # the figures name the data's fingerprint: refuse files changed since
    scorer = load_scorer(Path(model_path), data)
    now = as_of or data.snapshot_date.to_pydatetime()
    bands = [(n, int(b)) for n, b in scorer.scale.bands]
    everyone = [p for chunk in scorer.score_everyone(now) for p in chunk]
    below = [p for p in everyone if recourse.next_band(p.score, bands) is not None]
    rng = np.random.default_rng(seed)
    picked = [below[i] for i in sorted(rng.choice(len(below), size=min(sample, len(below)), replace=False))]
    reached = promised = 0
    whatif_ms: list[float] = []
    search_ms: list[float] = []
    start = time.perf_counter()
    measured = 0
    for p in picked:
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
        measured += 1
        t0 = time.perf_counter()
        s = recourse.suggest(scorer, p.person_id, p.score, p.band, now, bands)
        search_ms.append(1000 * (time.perf_counter() - t0))
        if s.plan is None or not s.reached or s.target_score is None:
            continue
        promised += 1
        t0 = time.perf_counter()
        score, _ = recourse.verify(scorer, p.person_id, s.plan, now)
        whatif_ms.append(1000 * (time.perf_counter() - t0))
        reached += score >= s.target_score
    n = measured
    return {
        "reach_rate": round(reached / n, 4) if n else None,
        "p99_ms": _pct(whatif_ms, 99),
        "p50_ms": _pct(whatif_ms, 50),
        "search_p50_ms": _pct(search_ms, 50),
        "search_p99_ms": _pct(search_ms, 99),
        "people": n, "below_top_band": len(below), "scored": len(everyone), "plans_found": promised,
        "reached": reached, "sample_requested": sample, "seed": seed, "as_of": now.isoformat(),
        "model": str(model_path), "model_id": scorer.model_id, "data": data.name,
        "data_fingerprint": data.fingerprint(), "libraries": library_versions(),
        "how": "reach_rate: plans applied to the person's own record as future events and re-scored by the "
               "model, share reaching the promised band (no plan found counts as a miss); p99_ms: one "
               "what-if (plan applied + re-scored) per person; search_*: the whole batched plan search",
    }


def write_recourse(result: dict, out: Path) -> None:
    atomic_write_text(Path(out), json.dumps(result, indent=2) + "\n")
