"""Tables told from other tables at ingest: relations from the people file's link columns, and labels from
the event history itself, with the check that a good label's window has ended.

Why here and not in the readers: both read what ingest has already validated (the people frame, the one
events table), so their dates follow the same point-in-time rules: a link is known from the profile version
that holds it, a label reads only the events after its as-of date.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from deepcredit.data.dataset import check_known_people
from deepcredit.data.schema import RELATIONS
from deepcredit.data.spec import DatasetSpec, Outcomes, Relations
from deepcredit.data.validate import DataValidationError

UNKNOWN_PEOPLE_HINT: Final = ('; to leave out the ties to someone not in the people file (ingest counts them), '
                              'set unknown_people = "drop" under [relations]')
"""Said after a relation's unknown person: the documented option that drops such ties, not found otherwise."""


def relations_from_people(rel: Relations, people: pd.DataFrame, path: Path, since: pd.Timestamp,
                          line_offset: int | None, joined: str | None = None) -> pd.DataFrame:
    """The relations the people file's columns declare (Relations.from_people and groups), as rows of the
    relations table. A link written on the profile has no date of its own: it is known from the version of
    the profile that holds it (valid_from), else from when the person joined (the `joined` attribute, the
    spec's joined_at role), else from `since` (the day before the data's first); and never before the person
    it names is first known (their earliest version, or when they joined), as a shared group's link waits
    for the later of its two people. A name in a from_people
    column that is no person is refused at its row, or left out (unknown_people = "drop")."""
    links: pd.DataFrame = people.attrs["links"]
    person = people["person_id"].astype("string")
    known = pd.Series(pd.NaT, index=people.index, dtype="datetime64[us]")
    for column in ("valid_from", joined):
        if column and column in people:
            known = known.fillna(people[column].astype("datetime64[us]"))
    known = known.fillna(since)
    first_known = known.groupby(person.to_numpy()).min()  # when each person is first known at all
    parts = []
    for col in rel.from_people:
        named = links[col].astype("string").str.strip().replace("", pd.NA)
        has = named.notna().to_numpy(bool)
        # no earlier than the person named is known either: a contact who joined later is no neighbour before
        named_known = first_known.reindex(named[has].to_numpy()).to_numpy()
        ts = known[has].to_numpy()
        ts = np.where(pd.isna(named_known) | (named_known <= ts), ts, named_known)
        edges = pd.DataFrame({"source": person[has], "target": named[has], "kind": col, "weight": 1.0,
                              "ts": pd.Series(ts, index=person[has].index, dtype="datetime64[us]")})
        if rel.unknown_people == "refuse":
            check_known_people(edges.rename(columns={"target": col}), (col,), pd.Index(person.unique()),
                               str(path), line_offset, UNKNOWN_PEOPLE_HINT)
        parts.append(edges[edges["source"] != edges["target"]])
    for col in rel.groups:
        parts.append(_group_links(rel, col, links[col], person, known))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in RELATIONS.columns])
    out["kind"] = out["kind"].astype("string")
    # a link written on several versions of the profile is known from the earliest
    out = out.sort_values("ts", kind="stable")[[c.name for c in RELATIONS.columns]]
    return out.drop_duplicates(["source", "target", "kind"]).reset_index(drop=True)


def _group_links(rel: Relations, col: str, values: pd.Series, person: pd.Series, known: pd.Series) -> pd.DataFrame:
    """Every pair of people sharing a value of `col`, once (source before target), known when both links were
    (the later of the two people's)."""
    frame = pd.DataFrame({"value": values.astype("string").str.strip().replace("", pd.NA), "person": person,
                          "known": known}).dropna(subset=["value"]).sort_values("known", kind="stable") \
        .drop_duplicates(["value", "person"])  # a value held on several versions: known from the earliest
    size = frame.groupby("value")["person"].transform("size")
    if (big := frame.loc[size > rel.max_group, "value"].nunique()) > 0:
        warnings.warn(f"{big:,} value(s) of {col!r} are shared by more than {rel.max_group} people (max_group): "
                      "they connect nobody", stacklevel=3)
    frame = frame[(size > 1) & (size <= rel.max_group)]
    pairs = frame.merge(frame, on="value", suffixes=("_a", "_b"))
    pairs = pairs[pairs["person_a"] < pairs["person_b"]]
    return pd.DataFrame({"source": pairs["person_a"], "target": pairs["person_b"], "kind": f"same_{col}",
                         "weight": 1.0, "ts": pairs[["known_a", "known_b"]].max(axis=1)})


def outcomes_from_events(spec: DatasetSpec, events: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Labels told from the history itself (outcomes.source = "events"): at each as-of date, everyone with an
    event before it (the people on the books then) is bad when an event of a `bad_when` meaning, or at least
    `bad_days_late` days late, is known within the window after it, else good. Features at that date read
    only the events before it, the label only those after: the same table, split by the date.

    A broken commitment with a due date (never kept: not paid, or paid only after its grace period) grows
    later every day: it is `bad_days_late` days late on its due day plus that many days, whatever days late
    were known when it broke (1, the day after its due day; the grace and a day). So "90 days past due within the window"
    counts an instalment never paid that reaches 90 days in the window."""
    o, ev = spec.outcomes, spec.stored().events
    assert ev is not None and o.window_days is not None
    bad_status = events["status"].isin(sorted(ev.statuses_meaning(*o.bad_when))).to_numpy(bool)
    if o.bad_days_late is not None and "days_late" in events:
        bad_status |= (events["days_late"].to_numpy(dtype=float, na_value=np.nan) >= o.bad_days_late)
    ts, person = events["ts"], events["person_id"].astype("string")
    reach = None  # when a broken commitment with a due date is bad_days_late days late
    if o.bad_days_late is not None and "due_ts" in events:
        broken = events["status"].isin(sorted(ev.statuses_meaning("broken"))).to_numpy(bool)
        due = pd.to_datetime(events["due_ts"]).where(broken)
        reach = np.maximum(ts, due + pd.Timedelta(days=o.bad_days_late))  # known, and that late, by then
    parts, left_out = [], 0
    for day in sorted(set(o.as_of_dates) or ({o.as_of} if o.as_of else set())):
        start = pd.Timestamp(day)
        end = start + pd.Timedelta(days=o.window_days)
        booked = pd.Index(person[(ts < start).to_numpy(bool)].unique())
        hit = _bad_between(bad_status, ts, reach, start, end)
        bad = set(person[hit])
        if o.exclude_bad_in_last_days is not None:  # already bad, and known so, before the date
            since = start - pd.Timedelta(days=o.exclude_bad_in_last_days)
            already = booked.isin(person[_bad_between(bad_status, ts, reach, since, start)])
            left_out += int(already.sum())
            booked = booked[~already]
        parts.append(pd.DataFrame({"person_id": booked.astype("string"), "as_of": start,
                                   "label": booked.isin(bad).astype("int64"), "window_days": o.window_days}))
    if left_out:
        warnings.warn(f"{left_out:,} (person, as-of date) pairs left out of the labels: already bad within "
                      f"{o.exclude_bad_in_last_days} days before the date (exclude_bad_in_last_days)", stacklevel=3)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["person_id", "as_of", "label"])
    out["as_of"] = out["as_of"].astype("datetime64[us]")
    out["window_days"] = out["window_days"].astype("int64")
    if out.empty:
        raise DataValidationError("outcomes", "no one has an event before any as-of date: nobody to label (the "
                                              "as-of dates come before the history starts?)")
    out["label"] = with_open_windows(out, o, pd.Timestamp(snapshot))
    out = out[out["label"].notna()].astype({"label": "int64"})
    return out.sort_values(["as_of", "person_id"], kind="stable").reset_index(drop=True)


def _bad_between(bad_status: np.ndarray, ts: pd.Series, reach: pd.Series | None, start: pd.Timestamp,
                 end: pd.Timestamp) -> np.ndarray:
    """Which events make their person bad within [start, end): a bad one known then, or a broken commitment
    that reaches `bad_days_late` days late then."""
    hit = bad_status & (ts >= start).to_numpy(bool) & (ts < end).to_numpy(bool)
    if reach is not None:
        hit |= ((reach >= start) & (reach < end)).to_numpy(bool, na_value=False)
    return hit


def with_open_windows(out: pd.DataFrame, o: Outcomes, snapshot: pd.Timestamp) -> pd.Series:
    """The labels, with the good ones whose window ends after `snapshot` (the snapshot date, or the day the
    outcomes were recorded: observed_on) left unknown where the spec says so (open_windows), and a warning
    counting them either way: a good outcome is final only when its window has ended, while a bad one is
    final when seen."""
    ends = out["as_of"] + pd.to_timedelta(pd.Series(out["window_days"], index=out.index).astype("int64"), unit="D")
    still_open = (out["label"] == 0).to_numpy(bool, na_value=False) & (ends > snapshot).to_numpy(bool)
    if not still_open.any():
        return out["label"]
    n, labelled = int(still_open.sum()), int((out["label"] == 0).sum())
    when = "the outcomes were recorded (observed_on)" if o.observed_on else "the snapshot date"
    said = f"{n:,} of {labelled:,} good labels have a performance window that ends after {when} " \
           f"{snapshot.date()}: they may still go bad"
    if o.open_windows == "unknown":
        warnings.warn(f"{said}; left out of the labels as not known yet (open_windows = \"unknown\")", stacklevel=3)
        return out["label"].mask(still_open)
    later = "" if o.observed_on or o.source == "events" else (
        "; outcomes recorded after the snapshot date: say when with observed_on = DATE in [outcomes]")
    warnings.warn(f"{said} (open_windows = \"unknown\" in [outcomes] leaves them out{later})", stacklevel=3)
    return out["label"]


def before_first_day(frames: dict[str, pd.DataFrame], snapshot: pd.Timestamp | None,
                     also: Iterable[pd.Timestamp] = ()) -> pd.Timestamp:
    """The day before the data's first day (its earliest date in any table, or in `also`): an undated link
    is known from then, so every as-of date sees it."""
    dates = [f[c].min() for f in frames.values() for c in f.columns
             if pd.api.types.is_datetime64_any_dtype(f[c]) and f[c].notna().any()] + list(also)
    first = min(dates) if dates else (pd.Timestamp(snapshot) if snapshot is not None else pd.Timestamp("1970-01-01"))
    return pd.Timestamp(first).normalize() - pd.Timedelta(days=1)
