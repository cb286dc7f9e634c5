"""Who the numbers are about: the training and the evaluation sample in rows, people, bads and dates.

Why: an AUC or a fairness screen says little without the sample behind it. A report on another month's data,
on a subset, or on the very rows the model was fitted on reads the same unless it says how many rows and
people it measured, their bad rate, the as-of dates they span and the exact data (its fingerprint). The
training sample is described from the rows themselves where the evaluation data is the data set the model
was trained on (same fingerprint: its split is found again), else from what the artifact records.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def describe_rows(keys: pd.DataFrame, y: np.ndarray) -> dict:
    """rows, people, bads, bad_rate and the as-of date range (ISO dates) of labelled rows (keys: person_id,
    as_of, row-aligned with y)."""
    y = np.asarray(y)
    dates = pd.to_datetime(keys["as_of"]) if len(keys) else pd.Series([], dtype="datetime64[ns]")
    return {"rows": int(len(keys)), "people": int(keys["person_id"].nunique()), "bads": int(y.sum()),
            "bad_rate": float(y.mean()) if y.size else None,
            "as_of_from": None if dates.empty else dates.min().date().isoformat(),
            "as_of_to": None if dates.empty else dates.max().date().isoformat()}


def describe_samples(evaluated: dict, manifest: Mapping, training: dict | None, same_data: bool) -> dict:
    """{'evaluation': evaluated (describe_rows plus data_set, data_fingerprint), 'training': ...}.

    training: describe_rows of the rows the model was fitted on, where they could be found again (same data
    set), else None: the training sample is then what the artifact records (its data set's name, row count
    and fingerprint) and `source` says that its people, bads and dates are not recorded."""
    run = manifest.get("config") or {}
    recorded = {"data_set": run.get("data"), "data_fingerprint": manifest.get("data_fingerprint") or None}
    if training is not None:
        told = {**training, **recorded, "source": "the rows the model was fitted on, found again in this data set "
                                                  "(the same data fingerprint and split)"}
    else:
        rows = run.get("rows")
        told = {"rows": None if rows is None else int(rows), "people": None, "bads": None, "bad_rate": None,
                "as_of_from": None, "as_of_to": None, **recorded,
                "source": "as the model artifact records it" + (
                    "" if recorded["data_fingerprint"] else ", which holds no data fingerprint")
                          + ": its people, bads and dates are not recorded; evaluate on the training data set to "
                            "see them"}
    return {"evaluation": evaluated, "training": told, "same_data": same_data}


def sample_rows(sample: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the sample table: one row per measure, a column each for training and evaluation."""
    def pct(v: object) -> str:
        return "n/a" if v is None else f"{v:.1%}"

    def count(v: object) -> str:
        return "n/a" if v is None else f"{v:,}"

    t, e = sample["training"], sample["evaluation"]
    span = [f"{s['as_of_from']} to {s['as_of_to']}" if s.get("as_of_from") else "n/a" for s in (t, e)]
    fp = [(s.get("data_fingerprint") or "not recorded")[:12] for s in (t, e)]
    rows = [["data set", t.get("data_set") or "n/a", e.get("data_set") or "n/a"],
            ["rows (a person at an as-of date)", count(t["rows"]), count(e["rows"])],
            ["people", count(t["people"]), count(e["people"])],
            ["bads", count(t["bads"]), count(e["bads"])],
            ["bad rate", pct(t["bad_rate"]), pct(e["bad_rate"])],
            ["as-of dates", *span], ["data fingerprint", *fp]]
    return ["", "training", "evaluation"], rows
