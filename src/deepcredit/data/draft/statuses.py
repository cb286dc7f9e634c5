"""What a ledger's status values mean, read from how their rows behave, for `spec draft`.

Why: the status words the draft knows (draft.meanings.STATUS_WORDS) are English, and a ledger may be written in
any language (BEZAHLT, VERSPAETET, OFFEN, AUSGEFALLEN). Its settled dates and days late say the same in every
language: a status whose rows were all settled in time is kept; settled, most of them late, is late; never
settled and due long before the file's latest date is broken; never settled and not due that long is open.
An open status most of whose rows are already past due (by less than UNSETTLED_DAYS) may mean 'overdue': it
stays open, which the data model allows (owed, no outcome yet), but its remark says so, for the user to decide.
Each meaning so read is a proposal, marked `# check:` with the evidence: shares of the status's rows, never a
value of another column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from deepcredit.data.contact import texts
from deepcredit.data.draft.roles import MOST, as_dates
from deepcredit.data.ledger import UNSETTLED_DAYS
from deepcredit.data.spec_events import StatusMeaning

NEARLY_ALL = 0.95
"""A status's rows are 'all' settled (or in time, or unsettled) where this share of them is: a typo, a row
settled on a later export, must not hide what the status means."""
MIN_ROWS = 5
"""A status held by fewer rows of the sample says too little by its rows: it stays TODO."""


@dataclass(frozen=True)
class Ledger:
    """The columns of a history file that tell how its rows ended (None where the file has none)."""

    status: str
    ts: str | None
    due: str | None
    settled: str | None
    days_late: str | None


@dataclass(frozen=True)
class Behaviour:
    """How a status's rows behaved: the meaning they read as (None: no rule fits) and the evidence, in words."""

    meaning: StatusMeaning | None
    evidence: str


def status_behaviour(frame: pd.DataFrame, ledger: Ledger) -> dict[str, Behaviour]:
    """{status value: Behaviour} for each value of the status column held by MIN_ROWS rows of the sample or
    more, where the file has a settled date or days late; empty where it has neither."""
    if not ledger.settled and not ledger.days_late:
        return {}
    settled = as_dates(frame[ledger.settled]).notna() if ledger.settled else None
    late = _days_late(frame, ledger)
    far = _far_past_due(frame, ledger)
    overdue = _past_due(frame, ledger)
    values = texts(frame[ledger.status]).reindex(frame.index)
    out = {}
    for value, rows in frame.groupby(values, sort=True).groups.items():
        if len(rows) >= MIN_ROWS:
            out[str(value)] = _read(len(rows), None if settled is None else settled.loc[rows], late.loc[rows],
                                    None if far is None else far.loc[rows],
                                    None if overdue is None else overdue.loc[rows])
    return out


def _read(n: int, settled: pd.Series | None, late: pd.Series, far: pd.Series | None,
          overdue: pd.Series | None = None) -> Behaviour:
    """The meaning and evidence of one status's `n` rows: settled or not, days late (NaN: not known),
    whether each lies far past due unsettled (None: no date to tell), and whether each is past due at all
    (None: no due date)."""
    known = late.dropna()
    was_late = float((known > 0).mean()) if len(known) else 0.0
    if settled is None:  # days late alone: kept or late, never an unsettled meaning
        if len(known) >= NEARLY_ALL * n and was_late <= 1 - NEARLY_ALL:
            return Behaviour("kept", f"days late 0 on {share(1 - was_late)} of its {n} rows")
        if len(known) >= NEARLY_ALL * n and was_late > MOST:
            return Behaviour("late", f"days late above 0 on {share(was_late)} of its {n} rows")
        return Behaviour(None, f"days late above 0 on {share(was_late)} of its {n} rows")
    paid = float(settled.mean())
    said = f"settled on {share(paid)} of its {n} rows"
    if paid >= NEARLY_ALL and len(known) >= NEARLY_ALL * settled.sum():
        said += f", late on {share(was_late)} of them"
        meaning: StatusMeaning | None = "kept" if was_late <= 1 - NEARLY_ALL else "late" if was_late > MOST else None
        return Behaviour(meaning, said)
    if paid <= 1 - NEARLY_ALL and far is not None:
        gone = float(far.mean())
        said += f", {far.name} more than {UNSETTLED_DAYS} days before the file's latest date on {share(gone)} of them"
        if gone > MOST:
            return Behaviour("broken", said)
        past = float(overdue.mean()) if overdue is not None else 0.0
        if past > MOST:  # owed and not paid though due: 'open' holds it as owed; it may mean 'overdue'
            said += (f"; past due on {share(past)} of them, by less than {UNSETTLED_DAYS} days: open counts it as "
                     "owed; if it means 'overdue', consider late or broken once its grace ends")
        return Behaviour("open", said)
    return Behaviour(None, said)


def share(part: float) -> str:
    """A share of rows in words: none, all, or a percentage (never 0 % or 100 % for a share that is not)."""
    return "none" if part == 0 else "all" if part == 1 else f"{min(max(part, 0.01), 0.99):.0%}"


def _days_late(frame: pd.DataFrame, ledger: Ledger) -> pd.Series:
    """Each row's days late: the days-late column's where it is filled, else the days from due to settled
    (0 when in time); NaN where neither tells."""
    late = pd.Series(float("nan"), index=frame.index)
    if ledger.due and ledger.settled:
        late = (as_dates(frame[ledger.settled]) - as_dates(frame[ledger.due])).dt.days.clip(lower=0).astype(float)
    if ledger.days_late:
        late = pd.to_numeric(frame[ledger.days_late], errors="coerce").fillna(late)
    return late


def _past_due(frame: pd.DataFrame, ledger: Ledger) -> pd.Series | None:
    """Whether each row fell due before the file's latest date (None without a due date: a row's own date
    says nothing of when it was owed)."""
    if not ledger.due:
        return None
    latest = max((as_dates(frame[c]).max() for c in (ledger.ts, ledger.settled) if c), default=pd.NaT)
    return (latest - as_dates(frame[ledger.due])).dt.days > 0


def _far_past_due(frame: pd.DataFrame, ledger: Ledger) -> pd.Series | None:
    """Whether each row fell due (without a due date: is dated) more than UNSETTLED_DAYS before the file's
    latest date (its own snapshot, as ledger.snapshot_of takes it: its latest row or settlement), by which a
    row still unsettled is known unpaid; named for the date it read ('due', 'dated'). None where no date
    tells."""
    due = ledger.due or ledger.ts
    latest = max((as_dates(frame[c]).max() for c in (ledger.ts, ledger.settled) if c), default=pd.NaT)
    if due is None or pd.isna(latest):
        return None
    far = (latest - as_dates(frame[due])).dt.days > UNSETTLED_DAYS
    return far.rename("due" if ledger.due else "dated")
