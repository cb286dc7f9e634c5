"""Time the population re-score path of a served world: snapshot, batch scoring, import.

    .venv/bin/python scripts/bench_score_import.py --state DIR [--database-url URL] [--engine duckdb|spark]

DIR is a state directory a bench script left (scripts/bench_connections.py, scripts/bench_service.py: its
service.db, model and data copy). The service's clock is moved one day past its scores, as a nightly job
would run. Then it writes a snapshot (service.snapshot), scores it with `deepcredit score` as of that day,
and imports the scores (service.score_import). Prints the seconds of each step and the counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--engine", default="duckdb")
    args = ap.parse_args()

    from bench_service import served
    from sqlalchemy import func, select

    from deepcredit.data.dataset import Dataset
    from deepcredit.service.config import Clock
    from deepcredit.service.context import read_meta
    from deepcredit.service.score_import import load_job
    from deepcredit.service.snapshot import snapshot
    from deepcredit.service.store.models import Score

    url = args.database_url or f"sqlite:///{args.state / 'service.db'}"
    ctx = served(url)
    scorer = ctx.scorer
    with ctx.db.read() as s:
        latest = s.scalar(select(func.max(Score.as_of)))
    night = (latest + timedelta(days=1)).replace(hour=0, minute=10, second=0, microsecond=0)
    ctx.settings.clock = Clock(source=lambda: night)  # the scorer's overlay reads the clock at each use
    meta = read_meta(ctx)
    out = args.state / "population"
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    held = snapshot(ctx, Dataset(meta["data_dir"]), out / "held").data
    t["snapshot_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "deepcredit"), "score", "--data", str(held.root), "--model",
                    meta["model_path"], "--out", str(out / "scores"), "--as-of", f"{night:%Y-%m-%d}",
                    "--engine", args.engine], check=True)
    t["score_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    done = load_job(ctx, scorer, out / "scores")
    t["import_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"people": held.manifest.tables["people"]["rows"], "engine": args.engine, **t,
                      "imported": done.imported, "kept_newer": done.kept_newer, "erased": done.erased}, indent=2))


if __name__ == "__main__":
    main()
