"""UCI "default of credit card clients" (Taiwan, 2005) mapped into the four tables.

30,000 card holders: a profile (people), six monthly statements and repayments April-September 2005
(events), no relations, and one label per person: default in October 2005 (outcomes, as of 2005-10-01).

Dating: the data are monthly snapshots without days, so both records of month m (its statement balance
and its repayment status) are dated on the last calendar day of m, when both are known. The September
records are therefore dated 2005-09-30, strictly before the as-of date 2005-10-01; the label (October)
comes after it. See docs/data-sources.md.

The helper `read_bundled` is shared with the other bundled data sets (otc.py).
"""

from __future__ import annotations

import gzip
import hashlib
import io
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset, write_dataset
from deepcredit.data.schema import EVENTS, OUTCOMES, PEOPLE, RELATIONS, typed_frame
from deepcredit.data.spec import builtin_spec

NAME = "uci"
FILE = "uci_credit_card.csv.gz"
SHA256 = "f7b7d22d1f8dd27dadb25d4b78d8a4ae7c441ab6cc12d1ea58c0efc54d4d1788"
"""sha256 of the uncompressed CSV as published: the bundled copy must be the original, unchanged."""

AS_OF = pd.Timestamp("2005-10-01")
SNAPSHOT_DATE = "2005-10-31"
WINDOW_DAYS = 30
COUNTERPARTY = "uci-bank"

MONTHS: tuple[tuple[str, str, str, str], ...] = (
    # (month, repayment status column, statement balance column, amount paid column)
    ("2005-04", "PAY_6", "BILL_AMT6", "PAY_AMT6"),
    ("2005-05", "PAY_5", "BILL_AMT5", "PAY_AMT5"),
    ("2005-06", "PAY_4", "BILL_AMT4", "PAY_AMT4"),
    ("2005-07", "PAY_3", "BILL_AMT3", "PAY_AMT3"),
    ("2005-08", "PAY_2", "BILL_AMT2", "PAY_AMT2"),
    ("2005-09", "PAY_0", "BILL_AMT1", "PAY_AMT1"),
)
"""The source numbers months backwards from September (and has no PAY_1)."""

SEX = {1: "male", 2: "female"}
EDUCATION = {1: "graduate_school", 2: "university", 3: "high_school", 4: "others"}
"""Codes 0, 5 and 6 are undocumented: they become missing (unknown is not a category to score on)."""
MARRIAGE = {1: "married", 2: "single", 3: "others", 0: "unknown"}
LABEL = "default.payment.next.month"

def read_bundled(filename: str, sha256: str, **read_csv_args: object) -> pd.DataFrame:
    """Read a CSV shipped gzip-compressed in files/, refusing a copy that differs from the original."""
    raw = gzip.decompress(files(__package__).joinpath("files", filename).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ValueError(f"bundled file {filename} is damaged or altered (sha256 {digest}, expected {sha256})")
    return pd.read_csv(io.BytesIO(raw), **read_csv_args)


def _month_end(month: str) -> pd.Timestamp:
    return pd.Period(month, freq="M").to_timestamp(how="end").normalize()


def _people(src: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    return typed_frame(PEOPLE, {
        "person_id": ids,
        "sex": src["SEX"].map(SEX),
        "age": src["AGE"].astype("float64"),
        "marital_status": src["MARRIAGE"].map(MARRIAGE),
        "education": src["EDUCATION"].map(EDUCATION),
        "credit_limit": src["LIMIT_BAL"].astype("float64"),
    })


def _repayment_status(pay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PAY_x codes to (status, days_late): -2 no use, -1 paid in full, 0 revolving, k>0 k months late."""
    status = np.select([pay == -2, pay == -1, pay == 0], ["no_consumption", "paid_full", "revolving"],
                       default="late")
    days_late = np.where(pay > 0, 30.0 * pay, 0.0)
    return status, days_late


def _events(src: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    n = len(src)
    parts = []
    for month, pay_col, bill_col, paid_col in MONTHS:
        ts = np.full(n, _month_end(month).to_datetime64())
        status, days_late = _repayment_status(src[pay_col].to_numpy())
        for kind, amount, st, late in (
            ("bill", src[bill_col], np.full(n, "open"), np.full(n, np.nan)),
            ("repayment", src[paid_col], status, days_late),
        ):
            parts.append(pd.DataFrame({"person_id": ids, "ts": ts, "kind": kind,
                                       "amount": amount.to_numpy(dtype="float64"),
                                       "status": st, "days_late": late}))
    events = pd.concat(parts, ignore_index=True)
    # Stable sort keeps each month's bill before its repayment.
    events = events.sort_values(["person_id", "ts"], kind="stable", ignore_index=True)
    return typed_frame(EVENTS, {
        "person_id": events["person_id"], "ts": events["ts"], "kind": events["kind"],
        "amount": events["amount"], "status": events["status"], "days_late": events["days_late"],
        "counterparty": np.full(len(events), COUNTERPARTY),
    })


def _no_relations() -> pd.DataFrame:
    return typed_frame(RELATIONS, {c.name: [] for c in RELATIONS.columns})


def _outcomes(src: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    return typed_frame(OUTCOMES, {
        "person_id": ids,
        "as_of": np.full(len(src), AS_OF.to_datetime64()),
        "label": src[LABEL],
        "window_days": np.full(len(src), WINDOW_DAYS),
    })


def frames() -> dict[str, pd.DataFrame]:
    """The four tables in memory, with canonical dtypes."""
    src = read_bundled(FILE, SHA256)
    ids = "uci-" + src["ID"].astype(str).str.zfill(5)
    return {"people": _people(src, ids), "events": _events(src, ids), "relations": _no_relations(),
            "outcomes": _outcomes(src, ids)}


def build(out: Path) -> Dataset:
    """Write the UCI credit card data set to `out`."""
    return write_dataset(
        Path(out), frames(), NAME, SNAPSHOT_DATE,
        "UCI default of credit card clients (Yeh & Lien 2009, CC BY 4.0): 30,000 card holders in Taiwan, "
        "monthly statements and repayments Apr-Sep 2005; label = default in Oct 2005 (as of 2005-10-01).",
        spec=builtin_spec(NAME),
    )
