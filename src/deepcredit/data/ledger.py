"""A ledger's rows as events: dated when each outcome became known, statuses told from dates or days late,
commitments paid in parts merged into one.

Why a module of its own: a file of orders, rentals or instalments says how each commitment ended on the row
it was made on. Read as written, a feature at an earlier date would see that ending; these functions give
each row the date its outcome was known and the status it had then (spec_events.Events: grace_days, parts_of,
parts_amount, missed_after_days), and the money paid against it an event of its own (paid_amount,
paid_kind), before ingest stores it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.data.spec_events import PAID_STATUS, RECORDED, Events
from deepcredit.data.validate import DataValidationError, first_true


def dated_when_known(events: pd.DataFrame, settled: pd.Series | None, ev: Events, snapshot: pd.Timestamp | None,
                     file: str, line_offset: int | None) -> pd.DataFrame:
    """Each event dated when its outcome became known, and its days late counted from its due date.

    A ledger row (an order, a rental) is dated when it was made, yet its status says how it ended: dated so,
    a feature at a date before the end would see the ending. A settled row is therefore dated by its
    settled time; one not settled that is no longer open by its due date (the outcome was known then); an
    open one when it was made (in a schedule dated by its due dates, ts = due_ts, an instalment not yet due
    was made at some time before the snapshot: dated at the snapshot, never after it). With a grace period
    (spec_events.Events.grace_days) a row not settled within it is broken from the day after it ends,
    however it ended later; without one, so is a row settled more than UNSETTLED_DAYS late (_after_grace), so
    a settlement after a date never hides, at that date, a row that no settlement would leave broken there. Where the spec declares a due date but no
    days-late column, days late are the whole days from due to known (0 when early), and unknown for open rows.

    A broken row not settled (written off, never paid) is known broken only once its due day, and its grace,
    have passed unpaid: dated then (the day after the grace; without one, the day after UNSETTLED_DAYS),
    or by its own date where that is later, no later than the snapshot day (without one, the last day the
    file writes: last_written); its days late count from its
    due date to then, at least that grace (or UNSETTLED_DAYS) plus 1 (the file may say at the snapshot that it ended unpaid sooner), so "the longest payment delay"
    never reads a write-off as paid on time, nor as milder than a late settlement. A row not settled whose
    status is neutral (cancelled) may have ended before its due date: one due after the snapshot is dated at
    the snapshot day, not refused. A declared days-late column is the file's value at its extract: on a row
    not settled it is capped at the days from due to the date the row is dated (_late_by_then).
    """
    ts = events["ts"]
    due = events["due_ts"] if "due_ts" in events else pd.Series(pd.NaT, index=events.index, dtype=ts.dtype)
    known = ts.copy()
    ended_from = due  # when a row not settled (and not broken: unpaid_until) is known to have ended
    if settled is not None:
        made = ev.columns.ts != ev.columns.due_ts  # a schedule dated by its due dates may be paid before them
        if made and (i := first_true((settled < ts).to_numpy(bool, na_value=False))) is not None:
            raise DataValidationError(file, f"settled on {settled.iloc[i]} before the event's own date {ts.iloc[i]}",
                                      int(events.index[i]) + 1, ev.columns.settled_ts, line_offset)
        written = last_written(ts, settled)  # the file's last day, its settlements forgotten below included
        if ev.grace_days is not None or ev.columns.due_ts is not None:  # without one: UNSETTLED_DAYS
            events, settled = _after_grace(events, settled, ev, snapshot, file, line_offset,
                                           snapshot if snapshot is not None else written)
    open_ = events["status"].isin(ev.statuses_meaning("open")).to_numpy(bool)  # after the grace's changes
    unpaid = events["status"].isin(ev.statuses_meaning("broken")).to_numpy(bool)  # broken (below: not settled)
    if settled is not None:
        done = settled.notna().to_numpy(bool)
        unpaid &= ~done
        known[done] = settled[done]
        ended = ~done & ~open_ & due.notna().to_numpy(bool)
        grace = ev.grace_days if ev.grace_days is not None else UNSETTLED_DAYS
        ended_from = ended_from.mask(unpaid, unpaid_until(due, grace, snapshot if snapshot is not None
                                                          else written))
        called_off = events["status"].isin(ev.statuses_meaning("neutral")).to_numpy(bool)  # may end before due
        if snapshot is not None:  # a cancelled row due after the snapshot was cancelled by then
            ended_from = ended_from.mask(called_off, ended_from.clip(upper=pd.Timestamp(snapshot).normalize()))
        known[ended] = np.maximum(ts[ended], ended_from[ended])
        after = (due >= pd.Timestamp(snapshot).normalize() + pd.Timedelta(days=1)) if snapshot is not None else None
        if after is not None and (i := first_true(ended & ~called_off & after.to_numpy(bool, na_value=False))
                                  ) is not None:
            raise DataValidationError(file, f"{events['status'].iloc[i]!r} is not an open status, so the row ended "
                                            "by its due date, which is after the snapshot date: give its settled "
                                            "date, or an open status while it runs", int(events.index[i]) + 1,
                                      ev.columns.due_ts,
                                      line_offset)
    if ev.columns.ts == ev.columns.due_ts and snapshot is not None:  # a schedule dated by its due dates: an
        # instalment not yet due is open, made at some time before the snapshot: known by then at the latest
        day = pd.Timestamp(snapshot).normalize()
        known = known.mask(open_ & (known > day).to_numpy(bool, na_value=False), day)
    out = events.assign(ts=known)
    if ev.columns.days_late is not None and settled is not None and "days_late" in out:
        out["days_late"] = _late_by_then(out["days_late"], known, due, ~settled.notna().to_numpy(bool))
    if settled is not None and "paid_amount" in out and PAID_KNOWN not in out:  # (merged parts tell their own)
        out[PAID_KNOWN] = settled  # when its money was known paid: when settled; NaT: not known
    if ev.columns.days_late is None and ev.columns.due_ts is not None:
        days = (known.dt.normalize() - due.dt.normalize()).dt.days.clip(lower=0).astype("float64")
        if settled is not None:  # a write-off is never milder than a late settlement, even one the snapshot
            floor = float(grace + 1)  # day dates before its grace (or UNSETTLED_DAYS) ran out
            days = days.mask(unpaid & (days < floor).to_numpy(bool), floor)
        out["days_late"] = days.where(~open_ & due.notna().to_numpy(bool))
    return out


def _late_by_then(days_late: pd.Series, known: pd.Series, due: pd.Series, unsettled: np.ndarray) -> pd.Series:
    """A declared days-late column, on rows not settled, capped at the whole days from the due date to the
    date the row is dated: the file writes them as at its extract (an instalment never paid: 1,151 days),
    and a feature at the row's date must not read a delay only known later."""
    by_then = (known.dt.normalize() - due.dt.normalize()).dt.days.clip(lower=0).astype("float64")
    cap = unsettled & due.notna().to_numpy(bool) & (days_late > by_then).to_numpy(bool, na_value=False)
    return days_late.mask(cap, by_then)


def last_written(ts: pd.Series, settled: pd.Series | None) -> pd.Timestamp | None:
    """The last day a file writes (its latest event or settlement): without a snapshot date, as far as the
    file can know, so no row not settled is dated after it (due dates may lie ahead: not counted)."""
    days = [t for t in (ts.max(), settled.max() if settled is not None else None) if t is not None and pd.notna(t)]
    return pd.Timestamp(max(days)).normalize() if days else None


UNSETTLED_DAYS = 90
"""Without a declared grace period, how long a commitment may stay unsettled past its due day before it is
known unpaid: 90 days past due, the usual definition of default.

Why: dated the day after its due day (1 day late), a row never settled read as the mildest delay of all,
below a return 31 days late, and was seen at dates when a late return of the same age was not. A fixed
bound puts it above every late settlement of up to 90 days. It is a constant and not, say, the longest
delay the file shows: that would read settlements after a date into the dating of rows before it, so a
future event could change a past feature. `grace_days` declares a data set's own bound."""


def written_off_days(ev: Events) -> int | None:
    """Days late of a commitment written off (broken, never settled) as ingest stores it: its grace period
    (or UNSETTLED_DAYS) plus 1 in a ledger with settled dates (dated_when_known, _after_grace); None where
    the file writes its own days late and declares no grace (the number is the file's). Why a function: the
    scoring service stores a reported write-off with the same delay (service/events.py), so "the longest
    payment delay" reads it as ingest reads one."""
    c = ev.columns
    if c.settled_ts is None or (c.days_late is not None and ev.grace_days is None) or c.due_ts is None:
        return None
    return (ev.grace_days if ev.grace_days is not None else UNSETTLED_DAYS) + 1


def settled_as_stored(ev: Events, status: str, days_late: float) -> tuple[str, float]:
    """(status, days late) ingest stores for a commitment of `status` settled `days_late` whole days past its
    due day, as the scoring service learns of it when settled: past a grace period ([events] grace_days, else
    UNSETTLED_DAYS) it is broken, the grace + 1 days late, however it ended (_after_grace, the very rule ingest
    applies, on this one row); else as it is. Why a function: a late return reported 40 days late on a ledger
    with 30 days' grace must read as the same row ingested reads (broken), not as a late one that ingest never
    stores."""
    if ev.columns.due_ts is None or ev.columns.settled_ts is None:
        return status, days_late
    settled = pd.Timestamp("2000-01-01") + pd.Timedelta(days=days_late)  # only the days between count
    row = pd.DataFrame({"ts": [pd.Timestamp("2000-01-01")], "due_ts": [pd.Timestamp("2000-01-01")],
                        "status": pd.Series([status], dtype="string")})
    out, still = _after_grace(row, pd.Series([settled]), ev, settled, "reported", None)
    if pd.isna(still.iloc[0]):  # settled after the grace: forgotten, broken when the grace ran out
        return str(out["status"].iloc[0]), float((ev.grace_days if ev.grace_days is not None else UNSETTLED_DAYS) + 1)
    return str(out["status"].iloc[0]), days_late


def with_payments(events: pd.DataFrame, ev: Events) -> pd.DataFrame:
    """Commitments reported as they ended (the scoring service's reported outcomes, dated when known) with
    the payment ingest stores beside each where the spec declares paid_kind (payments_of). A row may say what
    was paid against it (a `paid_amount` column, REPORTED_PAID: NaN where it does not): that, as ingest reads
    a ledger's paid_amount on the same row. Else one kept or late paid what it owed (a kind whose amount is
    owed) when it ended; one not kept, or of another kind, nothing. Either way a row broken where the spec
    declares a grace period pays nothing (forgotten_payment: ingest forgets the money of a row not settled
    within its grace). Without paid_kind the column is dropped: the data set holds no payments.

    Why here: the service's events must be what ingest would have stored for the same ledger row, so the
    model reads the same money in training and in service; one rule, not a second copy of it."""
    if ev.kind_rules and len(events):  # several history files: each row by its own file's rules (for_kind)
        return pd.concat([with_payments(rows, ev.for_kind(str(kind))) for kind, rows in
                          events.groupby("kind", sort=False, dropna=False)], ignore_index=True)
    stated = events.get(REPORTED_PAID)
    if stated is not None:  # the caller's frame unchanged
        events = events.drop(columns=[REPORTED_PAID])
    if ev.paid_kind is None or not len(events):
        return events
    paid = (events["status"].isin(ev.statuses_meaning("kept", "late"))
            & events["kind"].isin(ev.kinds_amount("owed"))).to_numpy(bool)
    amount = np.where(paid, events["amount"].to_numpy(dtype=float, na_value=np.nan), 0.0)
    if stated is not None:
        told = pd.to_numeric(stated, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        amount = np.where(np.isnan(told), amount, told)
    if forgotten_payment(ev):
        amount = np.where(events["status"].isin(ev.statuses_meaning("broken")).to_numpy(bool), 0.0, amount)
    out = events.assign(paid_amount=amount)
    out[PAID_KNOWN] = out["ts"]  # settled when reported
    # a data set stored before payments had their own status (its spec does not declare it) keeps the one its
    # payments were stored with: the first status meaning kept
    status = next((s for s, v in ev.statuses.items() if s == PAID_STATUS or v.meaning == "kept"
                   and PAID_STATUS not in ev.statuses), PAID_STATUS)
    return payments_of(out.reset_index(drop=True), ev, None, status)


REPORTED_PAID = "paid_amount"
"""The column of reported outcomes (with_payments) that says what was paid against each (NaN: not said)."""


def forgotten_payment(ev: Events) -> bool:
    """Whether ingest forgets the money paid on a broken row of this ledger: with a grace period (and the due
    and settled dates it is counted from), a row not settled within its grace is broken and its payment
    masked (_after_grace), whether it was settled later or never; so a reported write-off, or a late one
    stored broken past the grace (settled_as_stored), pays nothing, whatever it says was paid."""
    c = ev.columns
    return ev.grace_days is not None and c.due_ts is not None and c.settled_ts is not None


def unpaid_until(due: pd.Series, grace_days: int, snapshot: pd.Timestamp | None) -> pd.Series:
    """The first day a commitment not settled is known unpaid: the day after its due day and its grace
    period (a payment on the due day, or within the grace, is not late), no later than the snapshot day
    (the file says by then that it ended unpaid)."""
    day = due.dt.normalize() + pd.Timedelta(days=grace_days + 1)
    return day if snapshot is None else day.clip(upper=pd.Timestamp(snapshot).normalize())


def _after_grace(events: pd.DataFrame, settled: pd.Series, ev: Events, snapshot: pd.Timestamp | None, file: str,
                 line_offset: int | None, horizon: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The ledger as it stood when each row's grace period ended ([events] grace_days): a row not settled by
    then is broken, its later settlement forgotten, so it reads the same as one never settled; one not settled
    whose grace runs past the snapshot is open (how it ends is not known yet). A row whose status the spec
    declares neutral (cancelled) is left as the file writes it: the grace tells broken from late among
    commitments that ran, and a cancelled invoice never ran. So is one declared kept (paid) that was settled
    within its grace or has no settled date; one kept yet settled after its grace is broken as any other is:
    until the settlement it was unpaid past the grace, whatever status the file writes afterwards. A row the
    file already writes broken keeps its own status (a spec may declare several: `not_returned`,
    `written_off`); only others become the first status meaning broken.

    Without a declared grace, UNSETTLED_DAYS is the grace: a row settled more than that past its due day is
    broken from the day after it, as one never settled is (dated_when_known), so a late settlement after a
    date cannot hide, at that date, a commitment already known unpaid; and so is a row the file writes open
    (not settled) whose UNSETTLED_DAYS ran out before `horizon` (the snapshot day, else the file's last day:
    last_written), so the extract written while it was still unpaid reads as the later one that says it
    was settled late. Other rows not settled keep their status as the file writes it, so no snapshot is
    needed; nor is anything changed where the spec declares no status meaning broken."""
    declared = ev.grace_days is not None
    if snapshot is None and declared:
        raise DataValidationError(file, "the spec gives a grace period (grace_days): give the snapshot date "
                                        "(--snapshot-date, or snapshot_date in the spec), which tells a broken "
                                        "commitment from one still within its grace")
    grace = ev.grace_days if ev.grace_days is not None else UNSETTLED_DAYS
    first = {m: next((s for s, v in ev.statuses.items() if v.meaning == m), None) for m in ("broken", "open")}
    if not declared and first["broken"] is None:
        return events, settled
    last_day = events["due_ts"].dt.normalize() + pd.Timedelta(days=grace)
    within = (settled.dt.normalize() <= last_day).to_numpy(bool, na_value=False)
    kept = events["status"].isin(ev.statuses_meaning("kept")).to_numpy(bool)  # left alone unless settled after
    late_kept = kept & ~within & settled.notna().to_numpy(bool)  # the grace: unpaid when it ran out, whatever
    has_due = (last_day.notna().to_numpy(bool) & (~kept | late_kept)  # the file says; a cancelled row: left alone
               & ~events["status"].isin(ev.statuses_meaning("neutral")).to_numpy(bool))
    if declared:
        assert snapshot is not None
        over = has_due & ~within & (last_day < pd.Timestamp(snapshot).normalize()).to_numpy(bool, na_value=False)
    else:  # settled after the grace (so before the snapshot), or open when it ran out: broken from then
        over = has_due & ~within & settled.notna().to_numpy(bool)
        if horizon is not None:
            still_open = events["status"].isin(ev.statuses_meaning("open")).to_numpy(bool) & settled.isna().to_numpy(bool)
            over |= has_due & still_open & (last_day < pd.Timestamp(horizon).normalize()).to_numpy(bool, na_value=False)
    running = has_due & settled.isna().to_numpy(bool) & ~over & declared
    broken = events["status"].isin(ev.statuses_meaning("broken")).to_numpy(bool)  # (a write-off stays one)
    status = events["status"].mask(over & ~broken, first["broken"])  # the first declared: the spec's own order
    opens = ev.statuses_meaning("open")
    still = running & ~status.isin(opens).to_numpy(bool)
    if still.any():
        if not opens:
            raise DataValidationError(file, "not settled and within its grace period at the snapshot, so it is "
                                            "still open: declare a status meaning open",
                                      int(events.index[int(np.argmax(still))]) + 1,
                                      ev.columns.status or ev.columns.settled_ts, line_offset)
        status = status.mask(still, first["open"])
    out = events.assign(status=status)
    if "days_late" in out and ev.columns.days_late is not None:  # what was known when the grace ran out
        out["days_late"] = out["days_late"].mask(over, float(grace + 1))
    if "paid_amount" in out:  # a settlement after the grace is forgotten, its money with it
        out["paid_amount"] = out["paid_amount"].mask(over)
    return out, settled.mask(over)


PAID_KNOWN = "_paid_known"
"""A column dated_when_known adds for payments_of in a ledger with settled dates: when each row's money paid
was known (its settled time; NaT where it was not settled, so when it was paid is not known)."""

SEVERITY = ("broken", "late", "open", "kept", "neutral")
"""A commitment paid in parts has the most severe of its parts' status meanings, in this order."""


def merged_parts(events: pd.DataFrame, parts: pd.DataFrame, ev: Events, file: str = "events",
                 line_offset: int | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """One event per commitment where the file writes one in parts ([events] parts_of): made when its first
    part was, due when its first part was due, settled when its last part was (not settled while a part is
    not), its amount the parts' sum (or, with parts_amount = "once", the amount each repeats), its status
    the most severe of theirs, its days late the most; kind and
    counterparty of its first row; no amount where no part gives one. In a file without settled dates the merged event is dated by its last
    part, for only then is the most severe status known. Where the file writes what it owed (parts_amount =
    "once") and what each part paid (paid_amount), it is settled by the part that pays it in full, later
    parts left out, and not settled while paid short (_until_paid_in_full): a part after a date then changes
    nothing at it; without them a commitment is complete only with its last part (inherent: the file does
    not say what was owed). The merged row keeps its first row's number, so
    errors still name a line of the file."""
    gid = commitment_ids([events["person_id"], *(parts[c] for c in parts.columns)])
    rows = pd.Series(events.index.to_numpy(), index=events.index)  # each row's place in the file
    groups = events.groupby(gid, sort=False)
    ledger = "settled_ts" in events  # dated when settled afterwards (dated_when_known); else by its last part
    once = ev.parts_amount == "once"
    if once:
        _same_amount_in_parts(events["amount"], rows, gid, file, line_offset)
    in_full = None  # where what it owed and what each part paid are known: when paid in full (else NaT)
    if once and "paid_amount" in events:  # (a part is dated by its settlement, else by its own date)
        keep, in_full = _until_paid_in_full(events, gid, "settled_ts" if ledger else "ts")
        events, parts, rows, gid, in_full = events[keep], parts[keep], rows[keep], gid[keep], in_full[keep]
        groups = events.groupby(gid, sort=False)
        in_full = in_full if ledger else None  # without settled dates: dated by its last part kept
    agg: dict[str, tuple[str, object]] = {"person_id": ("person_id", "first"),
                                          "ts": ("ts", "min" if ledger else "max"),
                                          "amount": ("amount", "max" if once else "sum")}
    for col in ("kind", "counterparty"):
        if col in events:
            agg[col] = (col, "first")
    if "due_ts" in events:
        agg["due_ts"] = ("due_ts", "min")
    if "days_late" in events:
        agg["days_late"] = ("days_late", "max")
    if "paid_amount" in events:  # each part row pays its own share
        agg["paid_amount"] = ("paid_amount", "sum")
    if ledger:
        agg["settled_ts"] = ("settled_ts", "max")
    merged = groups.agg(**agg)
    merged["amount"] = merged["amount"].mask(events["amount"].isna().groupby(gid, sort=False).all())  # none given
    merged["_row"] = rows.groupby(gid, sort=False).min()
    if ledger:  # not settled while a part is not
        merged["settled_ts"] = merged["settled_ts"].mask(events["settled_ts"].isna().groupby(gid, sort=False).any())
    if in_full is not None:  # settled when paid in full: not while short, whatever its parts' dates say
        merged["settled_ts"] = in_full.groupby(gid, sort=False).first()
    if ledger and "paid_amount" in events:  # its money known when the last part that paid was settled
        paying = (events["paid_amount"].fillna(0) > 0).to_numpy(bool)
        settled_paying = events["settled_ts"].where(paying)
        untold = pd.Series(paying & events["settled_ts"].isna().to_numpy(bool)).groupby(gid, sort=False).any()
        merged[PAID_KNOWN] = settled_paying.groupby(gid, sort=False).max().mask(untold.to_numpy(bool))
        if in_full is not None:  # paid short: more may come, so its money is told at the snapshot (payments_of)
            merged[PAID_KNOWN] = merged[PAID_KNOWN].mask(merged["settled_ts"].isna())
    if "status" in events:  # the status of the most severe part, as the file writes it (the first such part's)
        rank = {s: SEVERITY.index(v.meaning) for s, v in ev.statuses.items()}
        severity = events["status"].map(rank).astype("int64")
        worst = (severity == severity.groupby(gid, sort=False).transform("min")).to_numpy(bool)
        merged["status"] = events["status"][worst].groupby(gid[worst], sort=False).first()
    if not merged["_row"].is_monotonic_increasing:  # groups come in order of their first row: seldom needed
        merged = merged.sort_values("_row")
    merged.index = pd.Index(merged.pop("_row").to_numpy())
    when = merged.pop("settled_ts") if ledger else None
    columns = [c for c in [*events.columns, PAID_KNOWN] if c != "settled_ts" and c in merged]
    return (merged if list(merged.columns) == columns else merged[columns]), when


def payments_of(events: pd.DataFrame, ev: Events, snapshot: pd.Timestamp | None, status: str | None = None
                ) -> pd.DataFrame:
    """The events with the money paid against each row ([events.columns] paid_amount) as an event of its own,
    of kind [events] paid_kind, beside the row's commitment; rows that paid nothing have none.

    Why a separate event: the row's amount is what was owed and its status how the commitment ended, so the
    money paid goes where the feature templates read money paid (a kind whose amount is paid), and its kind
    is no commitment (spec_events.EventKind.commitment), so nothing is counted twice. A payment is dated when
    its money is known to have been paid: in a ledger with settled dates, when its row was settled (a
    settlement after a grace period counts no money at all: dated_when_known); in a file without them, with
    its row. A payment whose time the file does not tell (its row still open, or ended without being settled:
    paid in part at some time before the snapshot) is dated at the snapshot (or the file's last date), so no
    feature before it sees money that may have come later. Its status is `status`, by default
    spec_events.PAID_STATUS ("paid", meaning kept: money paid, never a commitment), and it has no days late. It keeps its row's place in the file,
    so an error about it names that row."""
    assert ev.paid_kind is not None
    paid = events.pop("paid_amount").to_numpy(dtype=float, na_value=np.nan)
    known = events.pop(PAID_KNOWN) if PAID_KNOWN in events else None
    has = np.nan_to_num(paid) > 0
    if not has.any():
        return events
    rows = events[has].copy()
    untold = rows["status"].isin(ev.statuses_meaning("open")).to_numpy(bool)
    if known is not None:
        untold |= known[has].isna().to_numpy(bool)
        rows["ts"] = known[has].where(known[has].notna(), rows["ts"])
    if untold.any():
        until = pd.Timestamp(snapshot) if snapshot is not None else events["ts"].max()
        rows.loc[untold, "ts"] = until
    rows["kind"] = pd.Series(ev.paid_kind, index=rows.index, dtype="string")
    rows["amount"] = paid[has]
    rows["status"] = pd.Series(status or ev.paid_status, index=rows.index, dtype="string")
    rows = rows.drop(columns=["days_late", "due_ts", *(m.name for m in ev.measures)],  # no commitment, nor its
                     errors="ignore")  # measures: empty there
    return pd.concat([events, rows])  # stored sorted by person and time (staged_events), not here


def _until_paid_in_full(events: pd.DataFrame, gid: np.ndarray, when: str) -> tuple[np.ndarray, pd.Series]:
    """Where the file writes what a commitment owed (parts_amount = "once") and what each part paid
    (paid_amount): which parts count (those settled no later than the part whose payment, with the earlier
    ones', first reaches the amount owed; every part of one never paid in full), and, on each row, when its
    commitment was paid in full (NaT: not by the file's last part).

    Why: a commitment paid in full on 25 January was settled then; a part dated after a date T (money paid
    on top, a part with no date) must not move it past T, nor rewrite its status, or a feature at T would
    change with a later row. Parts after it are left out, their money with them (an overpayment). One paid
    short is not settled: at T nobody knows whether the rest comes later."""
    order = np.lexsort((events[when].to_numpy(dtype="datetime64[ns]"), gid))  # NaT sorts last
    settled = events[when].iloc[order]  # when each part was paid: settled (else its date: column `when`)
    paid = pd.Series(events["paid_amount"].fillna(0).to_numpy(dtype=float)[order], index=settled.index)
    g = gid[order]
    owed = events["amount"].to_numpy(dtype=float, na_value=np.nan)[order]
    full = settled.notna().to_numpy(bool) & (owed > 0) & (paid.groupby(g).cumsum().to_numpy() >= owed - 1e-9)
    done = settled.where(full).groupby(g).transform("min")  # when each commitment was paid in full (NaT: never)
    keep = done.isna().to_numpy(bool) | (settled <= done).to_numpy(bool, na_value=False)
    out = np.empty(len(keep), bool)
    out[order] = keep
    return out, done.reindex(events.index)


def commitment_ids(keys: list[pd.Series]) -> np.ndarray:
    """One whole number per distinct combination of the key columns' values, row by row: light on memory
    and quick to group, where millions of rows would otherwise each carry their keys as text."""
    ids = pd.factorize(keys[0])[0]
    for key in keys[1:]:
        codes, uniques = pd.factorize(key)
        ids = pd.factorize(ids.astype("int64") * (len(uniques) + 1) + codes)[0]
    return ids


def _same_amount_in_parts(amount: pd.Series, rows: pd.Series, gid: np.ndarray, file: str,
                          line_offset: int | None) -> None:
    """With parts_amount = "once", every row of a commitment repeats its amount: the first row that does not
    is refused, naming the commitment's first row."""
    first = amount.groupby(gid, sort=False).transform("first").to_numpy(dtype=float, na_value=np.nan)
    values = amount.to_numpy(dtype=float, na_value=np.nan)
    differs = ~np.isclose(values, first, rtol=0, atol=1e-9, equal_nan=True)
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        start = int(rows.groupby(gid, sort=False).transform("min").iloc[i]) + 1
        raise DataValidationError(file, f"the rows of one commitment (from row {start}) hold different amounts, yet "
                                        "parts_amount = \"once\" says each repeats its whole amount (for parts that "
                                        "each hold their own amount, use \"sum\")", int(rows.iloc[i]) + 1,
                                  line_offset=line_offset)


def derived_status(events: pd.DataFrame, settled: pd.Series | None, ev: Events, snapshot: pd.Timestamp | None,
                   file: str) -> pd.Series:
    """Each row's status in a file without a status column (spec_events.derived_statuses): told from its
    due and settled dates, else from its days late, else (an activity log) simply recorded."""
    c = ev.columns
    if c.due_ts is not None and settled is not None:  # settled: the declared settled_ts column
        return status_from_dates(events, settled, snapshot, file)
    if c.days_late is not None:
        return status_from_days_late(events["days_late"], ev.missed_after_days)
    return pd.Series(RECORDED, index=events.index, dtype="string")


def status_from_days_late(days_late: pd.Series, missed_after: int | None) -> pd.Series:
    """How each commitment stood, told from its days late (a monthly balance's days past due): none,
    on_time; some, late; at least `missed_after`, missed. A row without a number is open (not yet known)."""
    late = days_late.to_numpy(dtype=float, na_value=np.nan)
    missed = late >= missed_after if missed_after is not None else np.zeros(len(late), bool)
    status = np.select([np.isnan(late), missed, late > 0], ["open", "missed", "late"], "on_time")
    return pd.Series(status, index=days_late.index, dtype="string")


def status_from_dates(events: pd.DataFrame, settled: pd.Series, snapshot: pd.Timestamp | None, file: str
                      ) -> pd.Series:
    """How each commitment ended, told from its due and settled dates (spec.DERIVED_STATUSES): settled by its
    due day, on_time; after it, late; not settled and due before the snapshot day, missed; else open."""
    if snapshot is None:
        raise DataValidationError(file, "the spec tells statuses from the dates (status = \"\"): give the snapshot "
                                        "date (--snapshot-date, or snapshot_date in the spec), which tells a missed "
                                        "commitment from an open one")
    due = events["due_ts"].dt.normalize()
    done = settled.notna().to_numpy(bool)
    late = done & (settled.dt.normalize() > due).to_numpy(bool, na_value=False)
    missed = ~done & (due < pd.Timestamp(snapshot).normalize()).to_numpy(bool, na_value=False)
    status = np.select([late, done, missed], ["late", "on_time", "missed"], "open")
    return pd.Series(status, index=events.index, dtype="string")


def known_by_month_end(frames: dict[str, pd.DataFrame], horizon: pd.Timestamp) -> None:
    """Where the files write dates as a month and a year ([format] date_format without a day), the times
    something became known (every events table's ts, the relations' ts, a profile version's valid_from) move
    to the first day of the next month, no later than `horizon` (the snapshot): an event of December may
    have happened on the 31st, so a feature on the 10th must not see it. As-of dates and due dates stay."""
    for key, frame in frames.items():
        column = "valid_from" if key == "people" else "ts" if key.startswith(("events", "relations")) else None
        if column and column in frame and len(frame):
            frame[column] = month_ended(frame[column], horizon)


def month_ended(times: pd.Series, horizon: pd.Timestamp) -> pd.Series:
    """Times written as a month, moved to the first day of the next month (when the month was over), no later
    than `horizon`."""
    ended = times.dt.to_period("M").dt.to_timestamp() + pd.offsets.MonthBegin(1)
    return ended.clip(upper=horizon).astype(times.dtype)

