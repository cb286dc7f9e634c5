"""Evaluate and monitor as package functions: the report on held-out data (with metrics per period), and
the drift gate of a scoring batch against its reference; the CLI only parses and prints."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from deepcredit.config import RunConfig, write_run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.validate import DataValidationError
from deepcredit.evaluation.metrics import DEFAULT_CUTOFF
from deepcredit.evaluation.pipeline import evaluate_artifact
from deepcredit.evaluation.report import REPORT, RESULTS, check_report_out, staged_report, write_report
from deepcredit.evaluation.stability import NON_FEATURES, monitor
from deepcredit.features.engine import feature_meta
from deepcredit.models.scale import ScoreScale
from deepcredit.workflows.job import JOB, recorded_rows, unfinished


def evaluate_model(model: Path, dataset: Dataset, out: Path, *, reference: Dataset | None = None,
                   cutoff: float = DEFAULT_CUTOFF, compare: Mapping[str, Path] | None = None, n_boot: int = 200,
                   threads: int | None = None, period: str = "as_of", cfg: RunConfig | None = None,
                   on_step: Callable[[str], None] | None = None, all_rows: bool = False,
                   protected: Sequence[str] = ()) -> dict:
    """Write the report (report.html, results.json, ...) and config.json to `out`; return results.json.
    On the model's own training data only its held-out rows are evaluated, unless `all_rows`. A data set
    whose files changed after it was written is refused (checked_fingerprint): the report would name data it
    is not about. protected: attributes of the people table audited beside those the spec declares."""
    fingerprint = dataset.checked_fingerprint()
    if reference is not None:
        reference.checked_fingerprint()
    with staged_report(out) as staging:  # all files or none; only an earlier report is replaced
        evaluate_artifact(model, dataset, staging, reference=reference, cutoff=cutoff, compare=compare,
                          n_boot=n_boot, threads=threads, on_step=on_step, period=period, all_rows=all_rows,
                          protected=protected)
        write_run_record(staging, cfg or RunConfig(data=str(dataset.root)), fingerprint)
    return {**json.loads((Path(out) / RESULTS).read_text()), "report": str(Path(out) / REPORT)}


def read_scores_file(path: Path, what: str) -> pd.DataFrame:
    """A Parquet file (or a finished scoring job's directory of parts); errors name the file and the column.
    An unfinished job is refused: pandas reads one as no rows (or, from an older DeepCredit, some)."""
    if reason := unfinished(path):
        raise DataValidationError(str(path), reason)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataValidationError(str(path), f"not a readable Parquet file ({exc.__class__.__name__})") from None
    rows = recorded_rows(path) if path.is_dir() else None
    if rows is not None and rows != len(frame):
        raise DataValidationError(str(path), f"holds {len(frame):,} rows where its {JOB} records {rows:,}: a part "
                                             "is missing or extra; run the same `deepcredit score` again")
    if what.startswith("scores") and "score" not in frame.columns:
        raise DataValidationError(str(path), "required column is missing", column="score")
    return frame


def check_on_scale(path: Path, frame: pd.DataFrame, scale: ScoreScale | None = None) -> None:
    """Refuse a scores file whose score, pd and band columns (those it has) are not one reading of the
    scale the monitor reads bands on (`deepcredit score` writes every file on it). Why: a batch whose
    scores were lowered by 40 points, pd and band left, read score PSI 'act' but band shares, bad rates by
    band and mean PD 'no change'. The error names the row, never the person."""
    if "pd" not in frame.columns and "band" not in frame.columns:
        return
    found = (scale or ScoreScale()).disagreement(
        pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float),
        pd.to_numeric(frame["pd"], errors="coerce").to_numpy(dtype=float) if "pd" in frame.columns else None,
        frame["band"].to_numpy(dtype=object) if "band" in frame.columns else None)
    if found is not None:
        row, column, problem = found
        raise DataValidationError(str(path), problem + " (files written by `deepcredit score` always agree: "
                                  "score the rows again rather than edit a column)", row=row, column=column)


COMPUTED = ("source", "sql", "kind", "fill", "levels")
"""What a feature definition computes (its texts may be reworded between versions without changing it)."""


def check_same_features(ref_path: Path, new_path: Path, ref: pd.DataFrame, new: pd.DataFrame) -> None:
    """Refuse feature files that do not hold the same features computed the same way (the definitions each
    records, where both record them: feature_meta). Why: a file of another data set read every feature it
    lacks as drift (60 'act' alerts for the wrong file); the people may differ between reference and batch,
    the features may not."""
    def names(frame: pd.DataFrame) -> list[str]:
        return [c for c in frame.columns if c not in NON_FEATURES]

    lacking = [c for c in names(ref) if c not in new.columns]
    extra = [c for c in names(new) if c not in ref.columns]
    if lacking or extra:
        raise DataValidationError(str(new_path), "not the features of the reference file " + str(ref_path) + ": "
                                  + "; ".join(f"{len(cols)} {what} ({_listed(cols)})" for cols, what in (
                                      (lacking, "of its features missing"), (extra, "features it lacks")) if cols)
                                  + ": make both with `deepcredit features` on data sets of the same spec")
    defs = [_definitions(p) for p in (ref_path, new_path)]
    if defs[0] is not None and defs[1] is not None:
        changed = [n for n in names(ref) if defs[0].get(n) != defs[1].get(n)]
        if changed:
            raise DataValidationError(str(new_path), f"{len(changed)} features are computed otherwise than in "
                                                     f"{ref_path} ({_listed(changed)}; the definitions the "
                                                     "files record differ): make both with the same spec")


def _definitions(path: Path) -> dict[str, dict] | None:
    """Each feature's COMPUTED fields as the file records them (features.engine.feature_meta: its Parquet
    metadata, or an older file's .json sidecar), or None where it records none."""
    meta = feature_meta(path)
    if meta is None:
        return None
    return {d["name"]: {k: d.get(k) for k in COMPUTED} for d in meta["features"]
            if isinstance(d, dict) and "name" in d}


def _listed(names: list[str], shown: int = 6) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def monitor_batch(reference: Path, batch: Path, *, features_reference: Path | None = None,
                  features_batch: Path | None = None, out: Path | None = None, watch: float, act: float) -> dict:
    """Compare a scoring batch (and its features) with the reference; write report.html (with results.json
    and figures.json) to `out` when given."""
    if out is not None:
        check_report_out(out)
    ref = read_scores_file(reference, "scores (reference)")
    new = read_scores_file(batch, "scores (batch)")
    for path, frame in ((reference, ref), (batch, new)):
        check_on_scale(path, frame)
    f_ref = read_scores_file(features_reference, "features (reference)") if features_reference else None
    f_new = read_scores_file(features_batch, "features (batch)") if features_batch else None
    if features_reference and features_batch and f_ref is not None and f_new is not None:
        check_same_features(features_reference, features_batch, f_ref, f_new)
    try:
        result = monitor(ref, new, features_reference=f_ref, features_batch=f_new, watch=watch, act=act)
    except ValueError as exc:
        raise DataValidationError(str(batch), str(exc)) from None
    if out is not None:
        with staged_report(out) as staging:
            write_report(staging, stability=result, title="DeepCredit monitoring report",
                         subtitle=f"batch {batch.name} ({len(new):,} rows) against {reference.name} ({len(ref):,})")
    return result
