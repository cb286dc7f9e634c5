"""Bitcoin OTC trust ratings (SNAP) mapped into the four tables.

Every rating is two things at once: a fulfilment event of the person rated (events, kind "rating") and a
directed, signed edge from rater to rated (relations). People have no profile beyond their id: tenure
and activity must be computed from events as of each date, never stored as a static attribute.

Label: as of the first day of each quarter, among traders active before it (gave or received a rating
strictly before as_of), 1 = received a clearly negative rating (<= NEGATIVE_THRESHOLD) during that
quarter (window_days = 90..92, the quarter's length). Why these numbers: docs/data-sources.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset, write_dataset
from deepcredit.data.datasets.uci import read_bundled
from deepcredit.data.period_words import CALENDAR, start_frequency
from deepcredit.data.schema import EVENTS, OUTCOMES, PEOPLE, RELATIONS, typed_frame
from deepcredit.data.spec import builtin_spec
from deepcredit.data.validate import DataValidationError

NAME = "otc"
FILE = "bitcoin_otc_ratings.csv.gz"
SHA256 = "22b08170d37407697764acabc1b8b361ffad2d71c7c9dc002d3702548c0ca8e1"
"""sha256 of the uncompressed CSV as published: the bundled copy must be the original, unchanged."""

NEGATIVE_THRESHOLD = -5
"""A rating at or below this is fraud-like; -1..-4 are mostly disputes with otherwise trusted traders."""
QUARTERS = tuple(pd.date_range("2012-07-01", "2015-04-01", freq="QS"))
"""Boundaries of the labelled quarters: each as-of date is a quarter's first day and its window is that
quarter, so consecutive windows tile the timeline (no rating counts twice, none falls between).
2012Q3-2015Q1 are the quarters with at least 20 positive labels; the others have too few to evaluate on."""
PREFIX = "otc-"


COLUMNS = ("source", "target", "rating", "time")


def _ratings() -> pd.DataFrame:
    src = read_bundled(FILE, SHA256, header=None, names=list(COLUMNS), dtype="int64")
    return _dated(src)


def _dated(src: pd.DataFrame) -> pd.DataFrame:
    # Unix seconds are UTC; stored naive (UTC) like every DeepCredit timestamp.
    src["ts"] = pd.to_datetime(src["time"], unit="s")
    return src.drop(columns="time")


def read_ratings(path: Path) -> pd.DataFrame:
    """A signed-rating network file in OTC's format: SOURCE, TARGET, RATING, TIME (Unix seconds), with or
    without a header row, plain or gzip-compressed; one clear error naming the line of a bad value."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, header=None, dtype=str, skip_blank_lines=True, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(str(path), f"not a readable CSV file in OTC's format "
                                             f"(SOURCE,TARGET,RATING,TIME): {str(exc).splitlines()[0]}") from None
    if raw.shape[1] != len(COLUMNS):
        raise DataValidationError(str(path), f"expected 4 columns (SOURCE, TARGET, RATING, TIME), found {raw.shape[1]}")
    first = 1
    if [c.strip().lower() for c in raw.iloc[0]] == list(COLUMNS):
        raw, first = raw.iloc[1:].reset_index(drop=True), 2
    if raw.empty:
        raise DataValidationError(str(path), "the file holds no ratings")
    out = {}
    for col, name in zip(raw.columns, COLUMNS, strict=True):
        text = raw[col].str.strip()
        num = pd.to_numeric(text, errors="coerce")
        bad = num.isna() | (num % 1 != 0) if name != "rating" else num.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataValidationError(str(path), f"{text.iloc[i]!r} is not a number", row=i + 1,
                                      column=name.upper(), line_offset=first - 1)
        out[name] = num.astype("int64") if name != "rating" else num.astype("float64")
    return _dated(pd.DataFrame(out))


def quarter_boundaries(ts: pd.Series, cadence: str = "QS") -> tuple[pd.Timestamp, ...]:
    """As-of dates every `cadence` (a period word: month, quarter, year, as `--period` elsewhere; or a pandas
    offset: QS quarters, MS months, 7D, ...) from the first boundary after the first rating to the last boundary
    at or before the last one: each window lies in the data."""
    try:
        dates = pd.date_range(ts.min().normalize() + pd.Timedelta(days=1), ts.max().normalize(),
                              freq=start_frequency(cadence))
    except ValueError:
        raise DataValidationError("--cadence", f"{cadence!r} is neither {', '.join(CALENDAR)} nor a pandas "
                                  "frequency (e.g. QS, MS, 7D)") from None
    if len(dates) < 2:
        raise DataValidationError("--cadence", f"the ratings span too short a time for two {cadence} as-of dates")
    return tuple(dates)


def _status(rating: pd.Series) -> np.ndarray:
    return np.select([rating > 0, rating < 0], ["positive", "negative"], default="neutral")


def _first_seen(r: pd.DataFrame) -> pd.Series:
    """When each trader first gave or received a rating: from then on they are active."""
    seen = pd.concat([r[["source", "ts"]].rename(columns={"source": "person"}),
                      r[["target", "ts"]].rename(columns={"target": "person"})])
    return seen.groupby("person")["ts"].min().sort_index()


def labels(r: pd.DataFrame, boundaries: tuple[pd.Timestamp, ...] = QUARTERS,
           threshold: float = NEGATIVE_THRESHOLD, window_days: int | None = None) -> pd.DataFrame:
    """(person, as_of, label, window_days) for the traders active strictly before each as_of, integer ids.

    as_of runs over boundaries[:-1]; the window of each as_of ends at the next boundary, or `window_days`
    after it where given.
    """
    first = _first_seen(r)
    bad = r.loc[r["rating"] <= threshold, ["target", "ts"]]
    parts = []
    for as_of, end in zip(boundaries[:-1], boundaries[1:], strict=True):
        end = end if window_days is None else as_of + pd.Timedelta(days=window_days)
        active = first.index[first < as_of].to_numpy()
        hit = bad.loc[(bad["ts"] >= as_of) & (bad["ts"] < end), "target"].unique()
        parts.append(pd.DataFrame({"person": active, "as_of": as_of,
                                   "label": np.isin(active, hit).astype("int64"),
                                   "window_days": (end - as_of).days}))
    return pd.concat(parts, ignore_index=True)


def frames(r: pd.DataFrame | None = None, boundaries: tuple[pd.Timestamp, ...] = QUARTERS,
           threshold: float = NEGATIVE_THRESHOLD, window_days: int | None = None,
           prefix: str = PREFIX) -> dict[str, pd.DataFrame]:
    """The four tables in memory, with canonical dtypes (default: the bundled file and its labels)."""
    r = _ratings() if r is None else r

    def _pid(ids: pd.Series | np.ndarray) -> pd.Series:
        return prefix + pd.Series(ids).astype(str)

    people = np.sort(pd.unique(np.concatenate([r["source"].to_numpy(), r["target"].to_numpy()])))
    by_target = r.sort_values(["target", "ts"], kind="stable", ignore_index=True)
    by_time = r.sort_values("ts", kind="stable", ignore_index=True)
    out = labels(r, boundaries, threshold, window_days)
    return {
        "people": typed_frame(PEOPLE, {"person_id": _pid(people)}),
        "events": typed_frame(EVENTS, {
            "person_id": _pid(by_target["target"]), "ts": by_target["ts"],
            "kind": np.full(len(by_target), "rating"), "amount": by_target["rating"].astype("float64"),
            "status": _status(by_target["rating"]), "counterparty": _pid(by_target["source"]),
        }),
        "relations": typed_frame(RELATIONS, {
            "source": _pid(by_time["source"]), "target": _pid(by_time["target"]),
            "kind": np.full(len(by_time), "rating"), "weight": by_time["rating"].astype("float64"),
            "ts": by_time["ts"],
        }),
        "outcomes": typed_frame(OUTCOMES, {
            "person_id": _pid(out["person"]), "as_of": out["as_of"], "label": out["label"],
            "window_days": out["window_days"],
        }),
    }


def snapshot_date(ts: pd.Series) -> str:
    """The day after the last rating: everything in the file is known by then."""
    return str((ts.max().normalize() + pd.Timedelta(days=1)).date())


def build(out: Path) -> Dataset:
    """Write the Bitcoin OTC data set to `out`."""
    tables = frames()
    return write_dataset(
        Path(out), tables, NAME, snapshot_date(tables["events"]["ts"]),
        "Bitcoin OTC trust ratings (SNAP; Kumar et al. 2016, 2018): 5,881 traders rating each other -10..10, "
        f"Nov 2010 - Jan 2016; label = received a rating <= {NEGATIVE_THRESHOLD} in the quarter starting at "
        "each as-of date (2012Q3-2015Q1), among traders active before it.",
        spec=builtin_spec(NAME),
    )


def build_from_file(path: Path, out: Path, threshold: float = NEGATIVE_THRESHOLD, window_days: int | None = None,
                    cadence: str = "QS") -> Dataset:
    """Any signed-rating network in OTC's format as a data set, labelled like the bundled one: as of each
    `cadence` boundary, 1 = received a rating <= `threshold` in the window after it (until the next boundary,
    or `window_days`), among people active before it. Ids are kept as written in the file."""
    r = read_ratings(path)
    tables = frames(r, quarter_boundaries(r["ts"], cadence), threshold, window_days, prefix="")
    if tables["outcomes"].empty:
        raise DataValidationError(str(path), "no one was active before the first as-of date: try a finer --cadence")
    window = f"{window_days} days" if window_days else f"until the next {cadence} date"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name.split(".")[0]).strip("-._") or NAME
    spec = builtin_spec(NAME).model_copy(update={"name": name})
    return write_dataset(
        Path(out), tables, spec.name, snapshot_date(tables["events"]["ts"]),
        f"Signed ratings from {Path(path).name}: label = received a rating <= {threshold:g} within {window} after "
        f"each {cadence} as-of date, among people active before it.", spec=spec)
