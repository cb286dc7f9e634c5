"""The columns of a history file that `spec draft` finds by their values, for the roles its header words did
not name.

Why: header words (draft.event_columns.EVENT_ROLES) are a first guess in one language, and a ledger may be written in
any (faellig_am, bezahlt_am, betrag_cent, tage_verzug, art). What the values do says the same in every
language: a date column empty on some rows and otherwise on or after another date is when a due date was
settled; a whole number equal to the days between the two is days late; a column of many spread numbers
is money (signed where some are below 0); a text column whose values read as statuses is the status, and
another of few values the kind. Each role found so is a proposal the draft marks `# check:` with why; a role a header named is
never overridden (the callers offer only the columns no header took).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from deepcredit.data.contact import texts

MOST = 0.5
"""A rule a column's values keep on more than this share of its rows is its rule (early payments, a fee row
without days late, a typo break it on some)."""
FEW_CODES = 12
"""A numeric column of at most this many distinct values (in a sample of more rows than twice as many) is a
code set or a count, not money."""


def as_dates(values: pd.Series) -> pd.Series:
    """A column's values as day-precise dates (NaT where empty or not a date)."""
    dates = pd.to_datetime(values.astype("string").str.strip(), errors="coerce", format="ISO8601", utc=True)
    return dates.dt.tz_localize(None).dt.normalize()


NEARLY = 0.95
"""A rule a pair of columns keeps on at least this share of the rows setting both holds on (nearly) every row:
a bill falls due on or after the day it is issued, a payment is at most what was owed (a typo may break it)."""


def issue_and_due(
    frame: pd.DataFrame, dates: Iterable[str], issues: Iterable[str] = ()
) -> tuple[str, str, float] | None:
    """(issue column, due column, share of rows due on or after issue) of the file's date columns that order
    each other so: the due date on or after the other on (nearly) every row setting both (NEARLY) and after it
    on most (MOST; not the same date twice). Of several, the latest due date (no other such column lies on or
    after it on nearly every row) and, for it, the closest issue date. Why: a bill is due after it is issued
    in every language, while its paid date may fall before or after either, so this ordering, not the paid
    date, tells a due date from an issue date. `issues`: columns that may be the issue date only (the row's
    date a header named). None where no two columns order so."""
    columns = {c: as_dates(frame[c]) for c in dates}
    earlier = {**columns, **{c: as_dates(frame[c]) for c in issues}}
    ordered: list[tuple[str, str, float, float]] = []
    for due, d in columns.items():
        for issue, i in earlier.items():
            both = d.notna() & i.notna()
            if due == issue or not both.any():
                continue
            on_or_after = float((d[both] >= i[both]).mean())
            if on_or_after >= NEARLY and float((d[both] > i[both]).mean()) > MOST:
                ordered.append((issue, due, on_or_after, float((d[both] - i[both]).dt.days.median())))
    issues = {issue for issue, _, _, _ in ordered}
    latest = [o for o in ordered if o[1] not in issues]  # no column lies after its due date
    if not latest:
        return None
    issue, due, on_or_after, _ = min(latest, key=lambda o: (o[3], o[0], o[1]))
    return issue, due, on_or_after


def date_pair(
    frame: pd.DataFrame, dues: Iterable[str], settleds: Iterable[str], issues: Iterable[str] = ()
) -> tuple[str, str, float] | None:
    """(due column, settled column, share of rows settled on or after due) for the pair in which the settled
    date is empty on some rows (not settled yet), the due date filled on more rows, and the settled date on or
    after the due date on most rows where both are set (MOST); of several such pairs, the one whose dates lie
    closest (median days apart: a due date, not the date a contract began). Where two of the due candidates
    order each other (issue_and_due: a bill's issue and due dates), the later is the due date whatever share
    of rows were settled after it: most bills are paid before they fall due, and all after they are issued
    (`issues`: dates that may be the issue date only). None where no pair fits."""
    dues, issues = list(dues), list(issues)
    best: tuple[float, str, str, float] | None = None
    for s in settleds:
        settled = as_dates(frame[s])
        if not settled.isna().any() or not settled.notna().any():
            continue
        candidates = [d for d in dues if d != s and as_dates(frame[d]).notna().sum() > settled.notna().sum()]
        if (order := issue_and_due(frame, candidates, [c for c in issues if c != s])) is not None:
            issue = as_dates(frame[order[0]])
            both = issue.notna() & settled.notna()
            if both.any() and float((settled[both] >= issue[both]).mean()) > MOST:  # paid after it was issued
                due = as_dates(frame[order[1]])
                both = due.notna() & settled.notna()
                return order[1], s, float((settled[both] >= due[both]).mean()) if both.any() else 0.0
        for d in candidates:
            due = as_dates(frame[d])
            both = due.notna() & settled.notna()
            if not both.any():
                continue
            after = float((settled[both] >= due[both]).mean())
            gap = float((settled[both] - due[both]).dt.days.abs().median())
            if after > MOST and (best is None or gap < best[0]):
                best = (gap, d, s, after)
    return (best[1], best[2], best[3]) if best else None


def days_late_column(
    frame: pd.DataFrame, candidates: Iterable[str], due: str, settled: str
) -> tuple[str, float] | None:
    """(column, share of rows it matches) of the first candidate of whole numbers never below 0 that equals
    max(0, settled - due) in days on most rows where all three are set (MOST), and on most of those settled
    late: a column that is merely 0 where payments were on time says nothing of the late ones. None where no
    row was settled late, as then nothing tells days late from any other zero."""
    late = (as_dates(frame[settled]) - as_dates(frame[due])).dt.days.clip(lower=0)
    for col in candidates:
        numbers = pd.to_numeric(frame[col], errors="coerce")
        filled = numbers.dropna()
        if filled.empty or (filled < 0).any() or (filled != filled.round()).any():
            continue
        rows = late.notna() & numbers.notna()
        same = numbers[rows] == late[rows]
        were_late = late[rows] > 0
        if were_late.any() and same.mean() > MOST and same[were_late].mean() > MOST:
            return col, float(same.mean())
    return None


def amount_column(frame: pd.DataFrame, candidates: Iterable[str]) -> str | None:
    """The candidate numeric column that looks most like money: many distinct values (more than FEW_CODES, or
    at least half as many as its filled rows where the sample is small) or written in cents (in_cents: 10.00,
    25.00), the most distinct first, then the
    widest spread of their sizes; a code set or a count of few values is none. A column with values below 0
    may be it (a bank statement's signed amounts: below_zero says how many)."""
    found = []
    for col in candidates:
        numbers = pd.to_numeric(frame[col], errors="coerce").dropna()
        distinct = numbers.nunique()
        if not in_cents(frame[col]) and (
            distinct < 3 or (distinct <= FEW_CODES and 2 * distinct < len(numbers))
        ):
            continue
        size = numbers.abs()
        spread = float(size.std() / size.mean()) if size.mean() > 0 else 0.0
        found.append((-distinct, -spread, col))
    return min(found)[2] if found else None


def owed_and_paid_values(
    frame: pd.DataFrame, candidates: Iterable[str]
) -> tuple[str, str, float, float] | None:
    """(owed, paid, share of rows paid at most owed, share equal) of two numeric columns of which one is at
    most the other on (nearly) every row setting both (NEARLY), equal on most (MOST), and below on some: a
    bill and what was paid of it, in any language. The first such pair in the candidates' order."""
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in candidates}
    for owed, o in numbers.items():
        for paid, p in numbers.items():
            both = o.notna() & p.notna()
            if owed == paid or not both.any() or (o[both] < 0).any() or (p[both] < 0).any():
                continue
            at_most, equal = float((p[both] <= o[both]).mean()), float((p[both] == o[both]).mean())
            if at_most >= NEARLY and equal > MOST and (p[both] < o[both]).any():
                return owed, paid, at_most, equal
    return None


CENTS = re.compile(r"[+-]?\d+\.\d\d")
"""A number written with two decimal places (10.00, 25.50): how money is written, never a count or a code."""


def in_cents(values: pd.Series) -> bool:
    """Whether every filled value of a column is written with two decimal places and some is at least 1: money
    even where it takes few values (top-ups of 10.00, 15.00, 25.00), as a count or a code is written whole and
    a rate below 1."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return (
        bool(len(text))
        and bool(text.str.fullmatch(CENTS.pattern).all())
        and bool((pd.to_numeric(text, errors="coerce").abs() >= 1).any())
    )


def below_zero(values: pd.Series) -> float:
    """The share of a numeric column's filled values below 0 (0.0 where none is filled)."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return float((numbers < 0).mean()) if len(numbers) else 0.0


def whole_numbers(values: pd.Series) -> bool:
    """Whether every filled value of a numeric column is a whole number (amounts in cents, perhaps)."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(numbers)) and bool((numbers == numbers.round()).all())


def status_column(
    frame: pd.DataFrame, candidates: Iterable[str], words: tuple[tuple[str, str], ...], most: int
) -> tuple[str, int, int] | None:
    """(column, values read, values) of the candidate of 2 to `most` values (a vocabulary, not free text) whose
    values read best as statuses in `words` (the status vocabulary): at least two values, and at least half of
    them, read; the largest share read first."""
    best: tuple[float, int, str, int, int] | None = None
    for col in candidates:
        values = texts(frame[col]).unique()
        read = sum(any(re.search(pattern, str(v).lower()) for _, pattern in words) for v in values)
        if len(values) <= most and read >= 2 and 2 * read >= len(values):
            key = (-read / len(values), -read, col, read, len(values))
            best = key if best is None or key < best else best
    return (best[2], best[3], best[4]) if best else None


def kind_column(frame: pd.DataFrame, candidates: Iterable[str], person: str, most: int) -> str | None:
    """The first candidate text column of 2 to `most` values (a vocabulary, not free text or ids) of which some
    value is held by two people or more: a kind is shared (RATE, GEBUEHR), a commitment's number is one
    person's."""
    for col in candidates:
        rows = pd.DataFrame({"value": texts(frame[col]), "person": frame[person]}).dropna()
        if 2 <= rows["value"].nunique() <= most and rows.groupby("value")["person"].nunique().max() >= 2:
            return col
    return None
