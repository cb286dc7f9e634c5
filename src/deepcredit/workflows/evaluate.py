"""Evaluate and monitor as package functions: the report on held-out data (with metrics per period), and
the drift gate of a scoring batch against its reference; the CLI only parses and prints."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from deepcredit.config import RunConfig, write_run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.validate import DataValidationError
from deepcredit.evaluation.metrics import DEFAULT_CUTOFF
from deepcredit.evaluation.pipeline import evaluate_artifact
from deepcredit.evaluation.report import REPORT, RESULTS, check_report_out, staged_report, write_report
from deepcredit.evaluation.stability import monitor


def evaluate_model(model: Path, dataset: Dataset, out: Path, *, reference: Dataset | None = None,
                   cutoff: float = DEFAULT_CUTOFF, compare: Mapping[str, Path] | None = None, n_boot: int = 200,
                   threads: int | None = None, period: str = "as_of", cfg: RunConfig | None = None,
                   on_step: Callable[[str], None] | None = None, all_rows: bool = False) -> dict:
    """Write the report (report.html, results.json, ...) and config.json to `out`; return results.json.
    On the model's own training data only its held-out rows are evaluated, unless `all_rows`."""
    with staged_report(out) as staging:  # all files or none; only an earlier report is replaced
        evaluate_artifact(model, dataset, staging, reference=reference, cutoff=cutoff, compare=compare,
                          n_boot=n_boot, threads=threads, on_step=on_step, period=period, all_rows=all_rows)
        write_run_record(staging, cfg or RunConfig(data=str(dataset.root)), dataset.fingerprint())
    return {**json.loads((Path(out) / RESULTS).read_text()), "report": str(Path(out) / REPORT)}


def read_scores_file(path: Path, what: str) -> pd.DataFrame:
    """A Parquet file (or a scoring job's directory of parts); errors name the file and the column."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataValidationError(str(path), f"not a readable Parquet file ({exc.__class__.__name__})") from None
    if what.startswith("scores") and "score" not in frame.columns:
        raise DataValidationError(str(path), "required column is missing", column="score")
    return frame


def monitor_batch(reference: Path, batch: Path, *, features_reference: Path | None = None,
                  features_batch: Path | None = None, out: Path | None = None, watch: float, act: float) -> dict:
    """Compare a scoring batch (and its features) with the reference; write monitor.html when `out`."""
    if out is not None:
        check_report_out(out)
    ref = read_scores_file(reference, "scores (reference)")
    new = read_scores_file(batch, "scores (batch)")
    f_ref = read_scores_file(features_reference, "features (reference)") if features_reference else None
    f_new = read_scores_file(features_batch, "features (batch)") if features_batch else None
    try:
        result = monitor(ref, new, features_reference=f_ref, features_batch=f_new, watch=watch, act=act)
    except ValueError as exc:
        raise DataValidationError(str(batch), str(exc)) from None
    if out is not None:
        with staged_report(out) as staging:
            write_report(staging, stability=result, title="DeepCredit monitoring report",
                         subtitle=f"batch {batch.name} ({len(new):,} rows) against {reference.name} ({len(ref):,})")
    return result
