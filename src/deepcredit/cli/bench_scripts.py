"""The standalone benchmarks' command lines (scripts/bench_{features,batch,models,scorecard,spark}.py): each
parses its options, calls its runner in workflows/benchmarks/ and prints what it returns.

Why argparse here and not a `deepcredit` command: these are the operator's longer measurements, run from a
checkout as `python scripts/bench_X.py ...` (docs/benchmarks.md, docs/scale.md), with the options and help
those pages show; the parsing lives in the CLI layer so that the runners stay typed functions that
`deepcredit benchmark` calls directly. Each function takes argv (None: the process's) and returns an exit code.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def _list(text: str) -> list[str]:
    """A comma-separated option's items, blanks left out."""
    return [p.strip() for p in text.split(",") if p.strip()]


def features(argv: list[str] | None = None) -> int:
    """scripts/bench_features.py: the feature engine against a hand-written DuckDB query."""
    from deepcredit.workflows.benchmarks import features as bench

    parser = argparse.ArgumentParser(description=(bench.__doc__ or "").split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench"))
    parser.add_argument("--json", type=Path, default=None)
    ns = parser.parse_args(argv)
    results = bench.run(ns.people, ns.workdir, ns.seed, ns.json)
    print(json.dumps(results, indent=2))
    return 1 if bench.failed(results) else 0


def batch(argv: list[str] | None = None) -> int:
    """scripts/bench_batch.py: batch scoring at large sizes and the service's latencies with one stack."""
    from deepcredit.workflows.benchmarks import batch as bench

    ap = argparse.ArgumentParser(description=(bench.__doc__ or "").split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="A saved stack (deepcredit train's output).")
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--stages", default="score,report")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--service", type=int, default=0, help="Also measure service.* on a world of this size.")
    ap.add_argument("--trained-on", type=int, default=None, help="Rows the stack was trained on (recorded).")
    ap.add_argument(
        "--record", type=Path, default=None, help="Merge into this results file (benchmark.json)."
    )
    a = ap.parse_args(argv)
    try:
        opts = bench.BatchRun(
            model=a.model,
            workdir=a.workdir,
            sizes=tuple(int(n) for n in _list(a.sizes)),
            stages=tuple(_list(a.stages)),
            service_people=a.service or None,
            trained_on=a.trained_on,
            record=a.record,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    bench.run(opts)
    return 0


def models(argv: list[str] | None = None) -> int:
    """scripts/bench_models.py: every member, the stack and LightGBM defaults on UCI, OTC and a simulated world."""
    from deepcredit.models.stack import default_members
    from deepcredit.workflows.benchmarks import models as bench

    ap = argparse.ArgumentParser(
        description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--parts", default=",".join(bench.PARTS), help=f"comma-separated, from {bench.PARTS}")
    ap.add_argument("--people", type=int, default=100_000, help="size of the simulated world")
    ap.add_argument("--members", default="", help="member kinds (default: every implemented one)")
    ap.add_argument("--member-params", default="{}", help="JSON: constructor arguments per member kind")
    ap.add_argument("--folds", type=int, default=5, help="the stack's out-of-fold folds")
    ap.add_argument("--otc-test-quarters", type=int, default=4)
    ap.add_argument(
        "--otc-rolling-periods", type=int, default=6, help="otc-rolling: the last N quarters tested"
    )
    ap.add_argument("--no-ablation", dest="ablation", action="store_false", help="sim: the full stack only")
    ap.add_argument(
        "--temporal", type=float, default=0.0, help="sim: weight of the simulator's temporal option"
    )
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench/data"))
    ap.add_argument("--json", type=Path, default=Path("runs/bench/models.json"))
    ns = ap.parse_args(argv)
    parts = _list(ns.parts)
    try:
        bench.check_parts(parts)
    except ValueError as exc:
        ap.error(str(exc))
    args = bench.ModelsRun(
        workdir=ns.workdir,
        members=_list(ns.members) or list(default_members()),
        member_params=json.loads(ns.member_params) or None,
        folds=ns.folds,
        otc_test_quarters=ns.otc_test_quarters,
        temporal=ns.temporal,
        otc_rolling_periods=ns.otc_rolling_periods,
        ablation=ns.ablation,
        people=ns.people,
    )
    print(bench.markdown(bench.run(args, parts, ns.json)))
    return 0


def scorecards(argv: list[str] | None = None) -> int:
    """scripts/bench_scorecard.py: our scorecard against the peer scorecard libraries on UCI."""
    from deepcredit.workflows.benchmarks import scorecards as bench

    ap = argparse.ArgumentParser(
        description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, help="write all numbers here")
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "deepcredit-bench-uci",
        help="UCI data set directory (written from the bundled copy if absent)",
    )
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for the scoring-speed test (0: skip)")
    ap.add_argument("--folds", type=int, default=5, help="CV folds (0: split only)")
    ap.add_argument("--peers", default="optbinning,toad,scorecardpy")
    ap.add_argument("--peers-python", help="interpreter that can import toad and scorecardpy")
    ap.add_argument("--params", default="{}", help="JSON of ScorecardModel parameters for our card")
    a = ap.parse_args(argv)
    opts = bench.ScorecardsRun(
        data=a.data,
        rows=a.rows,
        folds=a.folds,
        peers=tuple(_list(a.peers)),
        peers_python=a.peers_python,
        params=json.loads(a.params),
    )
    try:
        print(bench.run(opts, a.json)["_table"])
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return 0


def spark(argv: list[str] | None = None) -> int:
    """scripts/bench_spark.py: Spark against the in-process path (parity, or batch-scoring time and memory)."""
    from deepcredit.workflows.benchmarks import spark as bench

    parser = argparse.ArgumentParser(description=(bench.__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench/spark"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--parity", action="store_true", help="Only check that Spark builds DuckDB's model input."
    )
    parser.add_argument(
        "--engines", default="duckdb,spark", help="Which paths to time: duckdb (in process), spark."
    )
    parser.add_argument(
        "--event-log", action="store_true", help="Keep Spark's event log; report where time went."
    )
    a = parser.parse_args(argv)
    if a.parity:
        result = bench.parity_run(a.people, a.workdir, a.master, a.json)
    else:
        result = bench.run(
            a.people,
            a.workdir,
            a.master,
            a.chunk_size,
            engines=tuple(_list(a.engines)),
            event_log=a.event_log,
            out=a.json,
        )
    print(json.dumps(result, indent=2))
    return 0
