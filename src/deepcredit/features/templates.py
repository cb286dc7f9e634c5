"""Features from declarations: one mechanism turns a DatasetSpec into its feature definitions.

Declared profile attributes become typed features carrying their declared texts, dimension and flags.
Fulfilment templates (windows, counts, amounts, recency, trends, streaks, cycles) are instantiated from the
declared event meanings: a template exists only where the meanings it needs were declared (no days-late
column: no delay features; no kind whose amount is money owed: no bill features; no events at all: none).
Graph templates (neighbour aggregates) exist only where relations were declared. So a data set never gets
a constant column pretending to measure something it does not have.

The simulator's spec produces the reference catalogue (docs/features.md); UCI, OTC and a user's data set
produce their own subsets and profile features from the same code.
"""

from __future__ import annotations

from dataclasses import replace

from deepcredit.data.schema import Dimension
from deepcredit.data.spec import DatasetSpec, DescribedKind, Relations, SpecError
from deepcredit.data.spec_events import Events, Measure, ShareFeature
from deepcredit.data.spec_profile import Attribute
from deepcredit.features.spec import UNITS, FeatureDef, Kind, Source, Unit, in_currency
from deepcredit.features.window_words import Words, between, span

CH, FC = Dimension.CREDIT_HISTORY, Dimension.FULFILMENT_CAPACITY
BP, SC = Dimension.BEHAVIOUR_PREFERENCES, Dimension.SOCIAL_CONNECTIONS
E, R, C, N, DER = Source.EVENTS, Source.BAD_RUNS, Source.CYCLES, Source.NEIGHBOURS, Source.DERIVED
PAY_ON_TIME = "Meet every commitment on or before its due date."
REPAY_FULL = "Pay what is due in full by its due date."
BALANCE_DOWN = "Bring your balance down."
"""Only where the spec declares a credit line (a revolving balance): amounts owed are then a balance."""
BALANCE_AHEAD = "Keep your balance lower from now on: older amounts leave this figure as time passes."
AMOUNTS_AHEAD = ("Take on only what you can pay when it is due from now on: older amounts leave this figure "
                 "as time passes.")
"""For amounts owed in the past (they cannot be changed) and for data sets without a balance: the future."""
NEVER_MISS = "Never leave a commitment unmet: if you cannot keep one, contact whoever you owe before it is due."
PAY_IN_FULL = "Pay what is due in full when you can."
NO_RECORD = "no record of this yet"
"""What a reason on a missing value shows where its feature says nothing more specific (FeatureDef.missing)."""
NO_CONNECTIONS = "no connections on record"
MISSING_ADVICE = "There is nothing on record here to change yet: the other reasons are where you can improve."
"""The advice of a reason whose value is missing (scoring.scorer.reason_table)."""
BELOW_LINE = "Keep your balance well below your credit line."
REGULAR = "Use your account regularly and settle what you use."
INCOME_IN = "Have your income paid into this account regularly."
NETWORK = "Deal with people who keep their commitments; your own record matters most."
PARTNERS = "Deliver what you promise to your trading partners."
KEEP_CURRENT = "Keep your details up to date."
PROFILE_AS_IS = "Your profile is read as it is: check that its details are right; the other reasons are where you can improve."
"""A profile read as a whole: its details are facts about the person, corrected if wrong, not changed to score."""
REPAY_MORE = "Whenever you owe something, repay more than the minimum each {period}."  # true also of 0 owed
SPEND_LESS = "Repay more than you spend each {period}."
WITHIN_MEANS = "Spend less each {period} than comes in."
"""Advice told per billing period: format with the spec's period in words (Words.period)."""
IMPROVE_BY_DIMENSION = {  # what to say where a spec gives an actionable attribute no `improve` text of its own
    Dimension.CREDIT_HISTORY: "Keep every commitment on time from now on: a record of kept ones is what raises this.",
    Dimension.FULFILMENT_CAPACITY: "Keep what you owe small against what you earn and can borrow.",
}
NOT_ACTIONABLE = "This is not something you can change: the other reasons are where you can improve."
AGAINST_ADVICE = "The usual advice would not help here: the other reasons are where you can improve."
"""For a reason whose value the model finds risky in the direction its advice would move it
(FeatureDef.improve_direction; scoring.scorer.against_advice)."""


# --- SQL builders (the subset both DuckDB and Spark SQL accept) ----------------------------------------

def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def isin(column: str, values: frozenset[str] | set[str]) -> str:
    """`column IN (...)`, or a false condition for an empty set (IN () is not SQL)."""
    if not values:
        return "1 = 0"
    return f"{column} IN (" + ", ".join(sql_text(v) for v in sorted(values)) + ")"


def within(days: int | None, cond: str = "1 = 1") -> str:
    """A condition on an events_before row: `cond` and, if given, recorded in the last `days` days."""
    return cond if days is None else f"({cond}) AND age_days <= {days}"


def count(cond: str, days: int | None = None) -> str:
    return f"SUM(CASE WHEN {within(days, cond)} THEN 1 ELSE 0 END)"


def total(value: str, cond: str, days: int | None = None) -> str:
    return f"SUM(CASE WHEN {within(days, cond)} THEN {value} ELSE 0 END)"


def share(numerator_cond: str, denominator_cond: str, days: int | None = None) -> str:
    """Share of rows meeting the denominator condition that also meet the numerator one (NULL if none)."""
    num = count(f"({denominator_cond}) AND ({numerator_cond})", days)
    return f"CAST({num} AS DOUBLE) / NULLIF({count(denominator_cond, days)}, 0)"


def active_periods(days: int, period: int, cond: str | None = None) -> str:
    """In how many `period`-day periods of the last `days` days a row falls: COUNT(DISTINCT period index),
    computed exactly as the number of bits set in the OR of 1 << index (index 0..days // period, at most 62).

    Why not COUNT(DISTINCT): Spark plans two distinct aggregates in one GROUP BY (this one and
    n_counterparties) by copying every row once per distinct aggregate (Expand): at 2,000,000 people the
    events aggregate then read 217 million rows and was the largest stage of the job (docs/scale.md).
    """
    if days // period > 62:
        raise ValueError(f"active_periods: {days} days in {period}-day periods exceed a 63-bit mask")
    index = f"CAST(FLOOR(age_days / {period}) AS INTEGER)"
    when = f"age_days <= {days}" if cond is None else f"age_days <= {days} AND ({cond})"
    return f"COALESCE(BIT_COUNT(BIT_OR(CASE WHEN {when} THEN CAST(1 AS BIGINT) << {index} END)), 0)"


def latest(value: str, cond: str) -> str:
    """The value on the most recent row meeting `cond`; of rows on the same day (dates without a time tie
    often), the largest, so both engines and every run pick the same (ROW is Spark's STRUCT)."""
    return f"max_by(CASE WHEN {cond} THEN {value} END, CASE WHEN {cond} THEN ROW(-age_days, {value}) END)"


def paid_condition(events: Events) -> str:
    """Money repaid: an event of a kind whose amount is paid, unless its status says it was not (broken)
    or not yet an outcome (open). A late payment is still money paid."""
    not_paid = events.statuses_meaning("broken", "open")
    cond = isin("kind", events.kinds_amount("paid"))
    return f"{cond} AND NOT ({isin('status', not_paid)})" if not_paid else cond


def _flow(events: Events, meaning: str, signed_value: str) -> str | None:
    """The money of a row that moved one way: a kind of this meaning's amount, a signed kind's amount
    taken that way (signed_value), 0 on a row whose status says the money did not move (broken) or not yet
    (open); None where no kind declares money moving that way."""
    arms = []
    if kinds := events.kinds_amount(meaning):
        arms.append(f"WHEN {isin('kind', kinds)} THEN amount")
    if signed := events.kinds_amount("signed"):
        arms.append(f"WHEN {isin('kind', signed)} THEN {signed_value}")
    if not arms:
        return None
    if not_moved := events.statuses_meaning("broken", "open"):
        arms.insert(0, f"WHEN {isin('status', not_moved)} THEN 0")
    return f"(CASE {' '.join(arms)} ELSE 0 END)"


def inflow(events: Events) -> str | None:
    """Money that came in on a row (a salary, a transfer received; a signed amount above 0), as SQL."""
    return _flow(events, "received", "GREATEST(amount, 0)")


def outflow(events: Events) -> str | None:
    """Money that went out on a row (a purchase, a withdrawal; a signed amount below 0, as a positive sum)."""
    return _flow(events, "spent", "GREATEST(-amount, 0)")


def owed_condition(events: Events) -> str:
    """Money asked to pay by as_of: an event of a kind whose amount is owed, unless its status says the row
    never ran (EventStatus.owes_nothing: a refund, a cancelled invoice) or it is open and not yet due
    (due_age_days, the days from its due date to as_of, above 0 once due; NULL where the events hold no due
    date, as a statement's, asked to pay from the day it is issued). Why: the repaid share compares money
    paid with money that was due by then; an instalment not yet due is no commitment kept or broken yet."""
    cond = isin("kind", events.kinds_amount("owed"))
    if nothing := events.statuses_owing_nothing:
        cond += f" AND NOT ({isin('status', nothing)})"
    if open_ := events.statuses_meaning("open"):
        cond += f" AND NOT ({isin('status', open_)} AND COALESCE(due_age_days, 1) <= 0)"
    return cond


def no_commitment_condition(events: Events, alias: str = "") -> str | None:
    """A row whose status says it never ran (EventStatus.owes_nothing: a refund, a cancelled invoice): it
    owed nothing, so it is no commitment kept or broken either (never an outcome); None where the spec
    declares no such status."""
    nothing = events.statuses_owing_nothing
    return isin(alias + "status", nothing) if nothing else None


# --- profile --------------------------------------------------------------------------------------------

def profile_column(a: Attribute) -> str:
    """The column of the staged profile view holding the attribute (dates as days before as_of)."""
    return f"{a.name}_age_days" if a.type == "date" else a.name


def improve_text(a: Attribute) -> str:
    """The attribute's own how-to-improve text, else its dimension's general advice; no advice at all where it
    is declared not actionable, whatever its `improve` says (`actionable = false` is there so that no advice
    pretends the person can change it)."""
    if not a.actionable:
        return NOT_ACTIONABLE
    return a.improve or IMPROVE_BY_DIMENSION.get(a.dimension, KEEP_CURRENT)


def attribute_feature(a: Attribute) -> FeatureDef:
    """One declared attribute as a typed feature with its declared texts and flags."""
    col = profile_column(a)
    kind, name, unit = Kind.NUMERIC, a.name, a.unit
    if a.type == "categorical":
        sql, kind = f"MAX({col})", Kind.CATEGORICAL
    elif a.type == "ordinal":  # its rank in the declared order: ordered, so monotone binning applies
        ranks = " ".join(f"WHEN {sql_text(v)} THEN {i}" for i, v in enumerate(a.order or []))
        sql = f"MAX(CASE {col} {ranks} END)"
    elif a.type == "boolean":
        sql, unit = f"MAX(CASE WHEN {col} THEN 1 ELSE 0 END)", "yes_no"
    elif a.type == "date":
        sql, name, unit = f"MAX({col})", "tenure_days" if a.role == "joined_at" else f"days_since_{a.name}", "days"
    elif a.log:  # the spec's unit string as written is the base: its serialised form stays byte for byte
        sql, name, unit = f"MAX(LN(1 + GREATEST({col}, 0)))", f"log_{a.name}", str(Unit(a.unit, log1p=True))
    else:
        sql, unit = f"MAX({col})", a.unit or "number"
    return FeatureDef(name, a.dimension, Source.PROFILE, sql, a.text, improve_text(a),
                      risk_direction=a.risk_direction, kind=kind, requires=(a.name,), protected=a.protected,
                      actionable=a.actionable, levels=tuple(a.order or ()) if a.type == "ordinal" else (),
                      codes=a.code_feature or "", unit=unit, improve_direction=a.improve_direction,
                      improve_towards=tuple(a.improve_towards), missing="not on record")


def code_feature(a: Attribute) -> FeatureDef | None:
    """What an attribute's special value stands for (its declared meaning), where it holds one."""
    if not a.code_feature:
        return None
    return FeatureDef(a.code_feature, a.dimension, Source.PROFILE, f"MAX({a.code_feature})",
                      f"what was recorded instead of {a.text}", improve_text(a), kind=Kind.CATEGORICAL, requires=(a.name,),
                      protected=a.protected, actionable=a.actionable)


def profile_features(spec: DatasetSpec) -> list[FeatureDef]:
    """Declared attributes, dimension by dimension (with their special values' meanings where declared); a
    protected one only where declared use_as_input."""
    attrs = [a for a in spec.profile.attributes if not a.protected or a.use_as_input]
    return [f for d in Dimension for a in attrs if a.dimension is d
            for f in (attribute_feature(a), code_feature(a)) if f is not None]


# --- fulfilment templates --------------------------------------------------------------------------------

def said_or(words: list[str]) -> str:
    """'a', 'a or b', 'a, b or c': the spec's own words for a set of its values."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def _rate(days_lo: int, days_hi: int) -> str:
    cond = f"is_outcome = 1 AND age_days > {days_lo} AND age_days <= {days_hi}"
    return f"CAST({count(cond + ' AND is_bad = 1')} AS DOUBLE) / NULLIF({count(cond)}, 0)"


def _slope(value: str, cond: str, days: int, period: int) -> str:
    """How much `value` grows per period over the last `days` days (a least-squares slope in time).

    Missing unless the records it reads span at least half a period: a growth per month read from two
    records a few days apart is an extrapolation (it gave ±900 days late a month), not a trend anyone could
    see. Half, not a whole period: monthly records of a calendar lie 28 to 31 days apart."""
    inside = f"CASE WHEN {cond}age_days <= {days} AND {value} IS NOT NULL THEN age_days END"
    return (f"CASE WHEN MAX({inside}) - MIN({inside}) >= {period / 2:g} THEN "
            f"{period} * regr_slope(CASE WHEN {cond}age_days <= {days} THEN {value} END, -age_days) END")


def credit_history_features(ev: Events, words: Words) -> list[FeatureDef]:
    w, per = words.w, words.period
    noun, nouns, own = words.noun, words.nouns, words.commitment is not None  # own: the spec's word, not "payment"
    r, m, lg = w.recent, w.medium, w.long
    has_bad = bool(ev.negative_statuses)
    has_severe = bool(ev.statuses_meaning("broken"))
    has_delay = ev.has_days_late
    broken = said_or([s.replace("_", " ") for s in sorted(ev.statuses_meaning("broken"))])
    no_outcomes = "no commitments on record yet"
    out = [
        FeatureDef("n_outcomes", CH, E, count("is_outcome = 1"), "the number of commitments on your record",
                   f"Build your record: keep your {nouns} on time." if own else
                   "Build your record: use credit lightly and repay on time.", fill=0, unit="count",
                   improve_direction=1),
    ] if set(ev.kinds) - ev.flow_kinds else []  # an activity log (every kind only moves money) has none
    out.append(FeatureDef("history_days", CH, E, "MAX(age_days)", "the length of your history with us",
                          "Your history grows by itself: keep your accounts open and in good standing.",
                          risk_direction=-1, actionable=False, unit="days"))
    if has_bad:
        out += [
            FeatureDef(f"n_bad_{r}d", CH, E, count("is_bad = 1", r),
                       f"late or missed commitments in {words.last(r)}", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="count"),
            FeatureDef(f"n_bad_{lg}d", CH, E, count("is_bad = 1", lg),
                       f"late or missed commitments in {words.last(lg)}", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="count"),
        ]
    if has_severe:
        out.append(FeatureDef(
            f"n_severe_{lg}d", CH, E, count("is_severe = 1", lg),
            f"commitments not kept at all in {words.last(lg)} (recorded as {broken})", NEVER_MISS,
            risk_direction=1, fill=0, unit="count"))
    if has_bad:
        out += [
            FeatureDef("bad_rate", CH, E, share("is_bad = 1", "is_outcome = 1"),
                       "the share of your commitments that were late or missed", PAY_ON_TIME, risk_direction=1,
                       unit="share", missing=no_outcomes),
            FeatureDef(f"bad_rate_{r}d", CH, E, share("is_bad = 1", "is_outcome = 1", r),
                       f"the share of your commitments late or missed in {words.last(r)}", PAY_ON_TIME,
                       risk_direction=1, unit="share", missing=f"no commitments on record in {words.last(r)}"),
            FeatureDef("bad_rate_trend", CH, E, f"{_rate(0, r)} - {_rate(r, lg)}",
                       f"the share of your recent {nouns} late or missed, against your earlier ones",
                       f"Bring your recent {nouns} back on time; recent behaviour weighs most.", risk_direction=1,
                       unit=str(Unit("percentage_points", signed=True))),
            FeatureDef("days_since_last_bad", CH, E, "MIN(CASE WHEN is_bad = 1 THEN age_days END)",
                       f"how recently you last had a late {noun} or missed a commitment" if own else
                       "how recently you last paid late or missed a commitment",
                       f"Time heals: every {per} without a late {noun} improves this.", risk_direction=-1,
                       unit="days"),
        ]
    if has_severe:
        out.append(FeatureDef(
            "days_since_last_severe", CH, E, "MIN(CASE WHEN is_severe = 1 THEN age_days END)",
            "how recently you last missed a commitment entirely",
            f"Time heals: every {per} without a missed commitment improves this.", risk_direction=-1, unit="days"))
    if has_delay:
        out += [
            FeatureDef("last_days_late", CH, E, latest("days_late", "is_outcome = 1"),
                       f"how late your most recent {noun} was",
                       f"Settle any {noun} still outstanding now." if own else "Bring your account up to date now.",
                       risk_direction=1, unit="days"),
            FeatureDef(f"max_days_late_{r}d", CH, E, f"MAX(CASE WHEN age_days <= {r} THEN days_late ELSE 0 END)",
                       f"the longest {noun} delay in {words.last(r)}", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="days"),
            FeatureDef(f"max_days_late_{lg}d", CH, E, f"MAX(CASE WHEN age_days <= {lg} THEN days_late ELSE 0 END)",
                       f"the longest {noun} delay in {words.last(lg)}", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="days"),
            FeatureDef(f"mean_days_late_{m}d", CH, E,
                       f"AVG(CASE WHEN is_outcome = 1 AND age_days <= {m} THEN days_late END)",
                       f"your average {noun} delay in {words.last(m)}", PAY_ON_TIME, risk_direction=1,
                       unit="days"),
            FeatureDef("days_late_slope", CH, E, _slope("days_late", "is_outcome = 1 AND ", lg, w.period),
                       f"how your {noun} delays changed {per} by {per}",
                       f"Make your {nouns} a little earlier each {per} until they are on time again." if own else
                       f"Pay a little earlier each {per} until you are on time again.", risk_direction=1,
                       unit=str(Unit("days", per=per, signed=True))),
        ]
    ratings = ev.kinds_amount("rating")
    if ratings:
        out.append(FeatureDef("mean_rating_received", CH, E,
                              f"AVG(CASE WHEN {isin('kind', ratings)} THEN amount END)",
                              "the average rating your trading partners gave you", PARTNERS, risk_direction=-1,
                              unit="number"))
    if has_bad:
        out += [
            FeatureDef("longest_bad_streak", CH, R, "MAX(run_length)",
                       "the longest run of consecutive late or missed commitments", PAY_ON_TIME,
                       risk_direction=1, fill=0, unit="count"),
            FeatureDef("current_bad_streak", CH, R,
                       "MAX(CASE WHEN kept_since = 0 THEN run_length ELSE 0 END)",
                       "late or missed commitments in a row up to now",
                       f"Your next on-time {noun} ends this streak.", risk_direction=1, fill=0, unit="count"),
            FeatureDef(f"n_bad_runs_{lg}d", CH, R, f"SUM(CASE WHEN run_end_age <= {lg} THEN 1 ELSE 0 END)",
                       f"separate episodes of late {nouns if own else noun} in {words.last(lg)}", PAY_ON_TIME,
                       risk_direction=1, fill=0, unit="count"),
        ]
    return out


def _mean_bill(owed: str, lo: int, hi: int) -> str:
    return f"AVG(CASE WHEN {owed} AND age_days > {lo} AND age_days <= {hi} THEN amount END)"


def capacity_features(ev: Events | None, credit_line: str | None, words: Words) -> list[FeatureDef]:
    """Money paid against money owed, in windows and billing periods, and against a declared credit line."""
    if ev is None:
        return []
    w, per = words.w, words.period
    p, r, m = w.period, w.recent, w.medium
    repay_more, spend_less = REPAY_MORE.format(period=per), SPEND_LESS.format(period=per)
    paid = paid_condition(ev) if ev.kinds_amount("paid") else None
    owed = owed_condition(ev) if ev.kinds_amount("owed") else None
    out: list[FeatureDef] = []
    # money repaid reads as no record (not 0.00, with advice to repay more) where nothing was ever owed or
    # repaid: a person without such rows has no repayment record, as the bill features have no bill
    money = count(isin("kind", ev.kinds_amount("owed") | ev.kinds_amount("paid")))
    never = "nothing owed or repaid on record yet"

    def repaid(days: int) -> str:
        return f"CASE WHEN {money} > 0 THEN {total('amount', paid, days)} END" if paid else ""

    if paid:
        paid_mid = total("amount", paid, m)
        out.append(FeatureDef(f"amount_paid_{m}d", FC, E, repaid(m), f"how much you repaid in {words.last(m)}",
                              repay_more, risk_direction=-1, unit="money", missing=never))
    if owed:
        billed_mid = total("GREATEST(amount, 0)", owed, m)
        out.append(FeatureDef(f"amount_billed_{m}d", FC, E, billed_mid,
                              f"the total you were asked to pay in {words.last(m)}", "Keep your spending within your means.",
                              unit="money", improve_direction=-1))
    if paid and owed:
        out.append(FeatureDef(f"paid_to_billed_{m}d", FC, E, f"{paid_mid} / NULLIF({billed_mid}, 0)",
                              f"the share of what you were asked to pay that you repaid in {words.last(m)}",
                              PAY_IN_FULL, risk_direction=-1, unit="share", met_at=1.0,
                              missing=f"nothing was due in {words.last(m)}"))
    # amounts owed are a balance only where a credit line is declared; past amounts cannot be changed
    balance = credit_line is not None
    ahead = BALANCE_AHEAD if balance else AMOUNTS_AHEAD
    if owed:
        out += [
            FeatureDef("last_bill_amount", FC, E, latest("amount", owed), "the latest amount you were asked to pay",
                       BALANCE_DOWN if balance else AMOUNTS_AHEAD, unit="money", improve_direction=-1),
            FeatureDef(f"bill_slope_{m}d", FC, E, _slope("amount", f"{owed} AND ", m, p),
                       f"how your balance changed {per} by {per}" if balance else
                       f"how the amounts you were asked to pay changed {per} by {per}",
                       spend_less if balance else AMOUNTS_AHEAD, unit=str(Unit("money", per=per, signed=True)),
                       improve_direction=-1),
        ]
    if paid:
        paid_recent = total("amount", paid, r)
        out += [
            FeatureDef(f"amount_paid_{p}d", FC, E, repaid(p), f"how much you repaid in {words.last(p)}",
                       repay_more, risk_direction=-1, unit="money", missing=never),
            FeatureDef(f"amount_paid_{r}d", FC, E, repaid(r), f"how much you repaid in {words.last(r)}", repay_more,
                       risk_direction=-1, unit="money", missing=never),
        ]
    if paid and owed:
        # A period's payments settle the previous period's statements: payments of the recent window against
        # statements issued one period earlier (30 to 120 days ago, by default).
        prior = total("GREATEST(amount, 0)", f"{owed} AND age_days > {p} AND age_days <= {p + r}")
        out.append(FeatureDef(f"paid_to_prior_billed_{r}d", FC, E, f"{paid_recent} / NULLIF({prior}, 0)",
                              "how much of what you were recently asked to pay you actually repaid", REPAY_FULL,
                              risk_direction=-1, unit="share", met_at=1.0))
    mean_recent, mean_before = f"mean_bill_{r}d", f"mean_bill_{r + 1}_{m}d"
    if owed:
        out += [
            FeatureDef(mean_recent, FC, E, _mean_bill(owed, -1, r),
                       f"the average amount you were asked to pay in {words.last(r)}", ahead,
                       unit="money", improve_direction=-1),
            FeatureDef(mean_before, FC, E, _mean_bill(owed, r, m),
                       f"the average amount you were asked to pay {between(r, m)} ago", ahead, unit="money",
                       improve_direction=-1),
        ]
    if paid and owed:
        few, more = r // p, m // p
        out += [
            FeatureDef(f"min_paid_to_prev_bill_{few}c", FC, C,
                       f"MIN(CASE WHEN cycle < {few} THEN paid_to_prev_billed END)",
                       f"the smallest share of a {per}'s amount due that you repaid, in {words.last(r)}", REPAY_FULL,
                       risk_direction=-1, unit="share", met_at=1.0),
            FeatureDef(f"mean_paid_to_prev_bill_{more}c", FC, C,
                       f"AVG(CASE WHEN cycle < {more} THEN paid_to_prev_billed END)",
                       f"the average share of each {per}'s amount due that you repaid, in {words.last(m)}",
                       REPAY_FULL, risk_direction=-1, unit="share", met_at=1.0),
            FeatureDef(f"unpaid_cycles_{more}c", FC, C,
                       f"SUM(CASE WHEN cycle < {more} AND prev_billed > 0 AND paid <= 0 THEN 1 ELSE 0 END)",
                       f"{per}s in which you repaid nothing of what was due", f"Repay something every {per}, on time.",
                       risk_direction=1, fill=0, unit="count"),
        ]
    out += flow_capacity_features(ev, words)
    if credit_line is None:
        return out
    line = (credit_line,)
    no_line = "no amount due or no credit line on record"
    if owed:
        out += [
            FeatureDef("utilisation", FC, DER, f"last_bill_amount / NULLIF({credit_line}, 0)",
                       "how much of your credit line you use", BELOW_LINE, risk_direction=1, requires=line,
                       unit="share", missing=no_line),
            FeatureDef("headroom", FC, DER, f"{credit_line} - last_bill_amount",
                       "how much of your credit line is still free", BELOW_LINE, risk_direction=-1, requires=line,
                       unit="money", missing=no_line),
            FeatureDef(f"mean_utilisation_{m}d", FC, DER,
                       f"({mean_recent} + {mean_before}) / 2 / NULLIF({credit_line}, 0)",
                       f"how much of your credit line you used over {words.last(m)}", BELOW_LINE,
                       risk_direction=1, requires=line, unit="share", missing=no_line),
            FeatureDef("balance_trend", FC, DER, f"({mean_recent} - {mean_before}) / NULLIF({credit_line}, 0)",
                       "the change in your balance, as a share of your credit line", spend_less,
                       risk_direction=1, requires=line, unit=str(Unit("percentage_points", signed=True)), missing=no_line),
        ]
    if paid:
        out.append(FeatureDef(f"paid_to_limit_{m}d", FC, DER, f"amount_paid_{m}d / NULLIF({credit_line}, 0)",
                              "your repayments relative to your credit line", repay_more, risk_direction=-1,
                              requires=line, unit="share",
                              missing="no credit line, or nothing owed or repaid, on record"))
    return out


def flow_capacity_features(ev: Events, words: Words) -> list[FeatureDef]:
    """What came in against what went out, where the spec declares money moving (received, spent or
    signed kinds: a bank's transactions): income is capacity to repay, spending above it the opposite."""
    w = words.w
    r, m = w.recent, w.medium
    within_means = WITHIN_MEANS.format(period=words.period)
    money_in, money_out = inflow(ev), outflow(ev)
    out: list[FeatureDef] = []
    if money_in:
        received = total(money_in, "1 = 1", r)
        out += [
            FeatureDef(f"amount_received_{r}d", FC, E, received, f"the money that came in over {words.last(r)}",
                       INCOME_IN, risk_direction=-1, fill=0, unit="money"),
            FeatureDef(f"received_change_{r}d", FC, E, f"{received} - {total(money_in, f'age_days > {r}', 2 * r)}",
                       f"the money that came in over {words.last(r)} against the {span(r)} before", INCOME_IN,
                       risk_direction=-1, fill=0, unit=str(Unit("money", signed=True))),
            FeatureDef(f"{words.token}s_with_money_in_{m}d", FC, E,
                       active_periods(m, w.period, cond=f"{money_in} > 0"),
                       f"in how many of the last {words.periods_in(m)} money came in", INCOME_IN, risk_direction=-1,
                       fill=0, unit="count"),
        ]
    if money_in and money_out:
        spent = total(money_out, "1 = 1", r)
        out += [
            FeatureDef(f"net_flow_{r}d", FC, E, f"{received} - {spent}",
                       f"the money that came in less the money that went out in {words.last(r)}", within_means,
                       risk_direction=-1, fill=0, unit=str(Unit("money", signed=True))),
            FeatureDef(f"spent_to_received_{r}d", FC, E, f"{spent} / NULLIF({received}, 0)",
                       f"how much of the money that came in you spent in {words.last(r)}", within_means,
                       risk_direction=1, unit="share"),
        ]
    return out


def behaviour_features(ev: Events, words: Words) -> list[FeatureDef]:
    w = words.w
    r, m, lg = w.recent, w.medium, w.long
    out = [
        FeatureDef(f"events_per_{words.token}_{lg}d", BP, E, f"{count('1 = 1', lg)} / {float(lg // w.period)}",
                   "how often you use the services", REGULAR, fill=0, unit=str(Unit("count", per=words.period)),
                   improve_direction=1),
        FeatureDef(f"active_{words.token}s_{lg}d", BP, E,
                   active_periods(lg, w.period),
                   f"in how many of the last {words.periods_in(lg)} you were active", REGULAR, risk_direction=-1,
                   fill=0, unit="count"),
        FeatureDef("days_since_last_event", BP, E, "MIN(age_days)", "how long ago you last used the services",
                   REGULAR, unit="days", improve_direction=-1),
    ]
    if money_out := outflow(ev):
        out.append(FeatureDef(f"amount_spent_{r}d", BP, E, total(money_out, "1 = 1", r),
                              f"how much you spent in {words.last(r)}", WITHIN_MEANS.format(period=words.period),
                              fill=0, unit="money", improve_direction=-1))
    if ev.columns.counterparty is not None:
        out.append(FeatureDef(f"n_counterparties_{lg}d", BP, E,
                              f"COUNT(DISTINCT CASE WHEN age_days <= {lg} THEN counterparty END)",
                              "how many different merchants or partners you dealt with", REGULAR, fill=0,
                              unit="count", improve_direction=1))
    out += [share_feature(k.share, value, BP, f"kind = {sql_text(value)}", "1 = 1", lg, REGULAR)
            for value, k in ev.kinds.items() if k.share is not None]
    out += [share_feature(s.share, value, BP, f"status = {sql_text(value)} AND is_outcome = 1", "is_outcome = 1", m,
                          REGULAR) for value, s in ev.statuses.items() if s.share is not None]
    return out


def share_feature(sh: ShareFeature, value: str, dimension: Dimension, cond: str, among: str, days: int,
                  improve: str) -> FeatureDef:
    """A declared share (of a kind, a status, a category's value): of the rows `among` in the last `days`
    days, those where `cond` holds, in the declaration's words (`improve`: where it gives none)."""
    return FeatureDef(f"share_{sh.label_for(value)}_{days}d", dimension, E, share(cond, among, days), sh.description,
                      sh.improve or improve, risk_direction=sh.risk_direction, unit="share",
                      improve_direction=sh.improve_direction)


def measure_advice(ms: Measure) -> str:
    """A measure's own how-to-improve text, else its dimension's general advice."""
    return ms.improve or IMPROVE_BY_DIMENSION.get(ms.dimension, KEEP_CURRENT)


def measure_features(ev: Events, words: Words) -> list[FeatureDef]:
    """Each declared measure's features, in its own dimension and words: a number's (numeric_measure) or a
    category's (categorical_measure)."""
    make = {"numeric": numeric_measure, "categorical": categorical_measure}
    return [f for ms in ev.measures for f in make[ms.type](ms, words)]


def numeric_measure(ms: Measure, words: Words) -> list[FeatureDef]:
    """A number's latest value, its level over the recent window (mean, lowest, highest) and its trend per
    period over the middle one (the aggregates the Amex default prediction winners took of each statement
    column)."""
    w = words.w
    r, m = w.recent, w.medium
    col, text, unit, improve = ms.name, ms.text, ms.unit or "number", measure_advice(ms)
    # a share's trend moves in percentage points; the spec's unit as written is the base of the trend's rate
    change = "percentage_points" if unit == "share" else unit
    recent = f"CASE WHEN age_days <= {r} THEN {col} END"
    level = {"mean": (f"AVG({recent})", f"{text}, on average over {words.last(r)}"),
             "min": (f"MIN({recent})", f"{text} at its lowest in {words.last(r)}"),
             "max": (f"MAX({recent})", f"{text} at its highest in {words.last(r)}")}
    out = [FeatureDef(f"{col}_last", ms.dimension, E, latest(col, f"{col} IS NOT NULL"), f"{text} (latest)",
                      improve, risk_direction=ms.risk_direction, unit=unit, improve_direction=ms.improve_direction)]
    out += [FeatureDef(f"{col}_{stat}_{r}d", ms.dimension, E, sql, said, improve, risk_direction=ms.risk_direction,
                       unit=unit, improve_direction=ms.improve_direction) for stat, (sql, said) in level.items()]
    out.append(FeatureDef(f"{col}_trend_{m}d", ms.dimension, E, _slope(col, "", m, w.period),
                          words.trend_of(text), improve, risk_direction=ms.risk_direction,
                          unit=str(Unit(change, per=words.period, signed=True))))
    return out


def categorical_measure(ms: Measure, words: Words) -> list[FeatureDef]:
    """A category's latest value, and for each declared value the share of the rows of the long window that
    record the category and hold that value (a row that does not record it counts in neither)."""
    col, lg, improve = ms.name, words.w.long, measure_advice(ms)
    out = [FeatureDef(f"{col}_last", ms.dimension, E, latest(col, f"{col} IS NOT NULL"), f"{ms.text} (latest)",
                      improve, kind=Kind.CATEGORICAL)]
    return out + [share_feature(sh, value, ms.dimension, f"{col} = {sql_text(value)}", f"{col} IS NOT NULL", lg,
                                improve) for value, sh in ms.values.items()]


# --- graph templates -------------------------------------------------------------------------------------

def social_features(spec: DatasetSpec, words: Words) -> list[FeatureDef]:
    rel = spec.relations
    nouns = words.nouns
    if rel is None:
        return []
    recent = spec.windows.recent
    out = [
        FeatureDef("degree", SC, N, "COUNT(*)", "how many people you are connected to", NETWORK, fill=0,
        unit="count"),
        FeatureDef(f"new_connections_{recent}d", SC, N, f"SUM(CASE WHEN edge_age_days <= {recent} THEN 1 ELSE 0 END)",
                   f"how many new connections you made in the last {span(recent)}", NETWORK, fill=0, unit="count"),
    ]
    out += [kind_feature(rel, kind, label) for kind, label in rel.counted_kinds]
    ev = spec.events
    if ev is not None and ev.negative_statuses:
        out.append(FeatureDef("share_neighbours_bad", SC, N, "AVG(CASE WHEN nb_bad > 0 THEN 1.0 ELSE 0.0 END)",
                              "the share of your connections with late or missed commitments", NETWORK,
                              risk_direction=1, unit="share", missing=NO_CONNECTIONS))
    if ev is not None and ev.statuses_meaning("broken"):
        out.append(FeatureDef("share_neighbours_severe", SC, N,
                              "AVG(CASE WHEN nb_severe > 0 THEN 1.0 ELSE 0.0 END)",
                              "the share of your connections who missed commitments entirely", NETWORK,
                              risk_direction=1, unit="share", missing=NO_CONNECTIONS))
    if ev is not None and ev.negative_statuses:
        out.append(FeatureDef("neighbour_bad_rate", SC, N,
                              "CAST(SUM(nb_bad) AS DOUBLE) / NULLIF(SUM(nb_outcomes), 0)",
                              f"how often your connections' {nouns} were late or missed" if words.commitment
                              else "how often your connections paid late or missed", NETWORK, risk_direction=1,
                              unit="share", missing="no connections with commitments on record"))
    if rel.directed and rel.signed:
        out.append(FeatureDef("incoming_negative_share", SC, N,
                              "CAST(SUM(incoming_negative) AS DOUBLE) / NULLIF(SUM(incoming), 0)",
                              "the share of people who rated you negatively",
                              "Resolve disputes with your trading partners.", risk_direction=1, unit="share",
                              missing="no ratings received yet"))
    if rel.directed and rel.weighted:
        out.append(FeatureDef("mean_incoming_weight", SC, N, "SUM(incoming_weight) / NULLIF(SUM(incoming), 0)",
                              "how strongly the people connected to you vouch for you", PARTNERS,
                              risk_direction=-1, unit="number", missing="no one connected to you yet"))
    return out


def kind_feature(rel: Relations, kind: str, label: str) -> FeatureDef:
    """How many of a person's connections are links of one kind, in the words and risk direction the spec
    declares for it ([relations.kind_texts]), else generic ones."""
    said = rel.kind_texts.get(kind, DescribedKind())
    return FeatureDef(f"connections_{label}", SC, N, f"SUM(kind_{label})",
                      said.description or f"how many of your connections are {kind.replace('_', ' ')} links",
                      said.improve or NETWORK, risk_direction=said.risk_direction, fill=0, unit="count",
                      improve_direction=said.improve_direction)


def currency(spec: DatasetSpec) -> str:
    """The currency the spec declares for money: its `currency` ("EUR"), else the unit of its credit line or
    income attribute, unless that is one of the generic display units ("money", "share"...); "" where it
    declares none."""
    if spec.currency:
        return spec.currency
    for role in ("credit_line", "income"):
        a = spec.role(role)
        if a is not None and a.unit and a.unit not in UNITS:
            return a.unit
    return ""


def features_for(spec: DatasetSpec) -> list[FeatureDef]:
    """Every feature a data set of this spec has, in catalogue order (dimension by dimension); a spec of
    several history files has the features of the one events table they are stored as."""
    spec = spec.stored()
    profile = profile_features(spec)
    line = spec.role("credit_line")
    line_feature = None if line is None or (line.protected and not line.use_as_input) else line.name
    ev = spec.events
    words = Words(spec.windows, *((ev.commitment_word, ev.commitment_plural) if ev is not None else ()))
    by_dim = {
        Dimension.IDENTITY: [],
        CH: credit_history_features(ev, words) if ev is not None else [],
        FC: capacity_features(ev, line_feature, words),
        BP: behaviour_features(ev, words) if ev is not None else [],
        SC: social_features(spec, words),
    }
    measured = measure_features(ev, words) if ev is not None else []
    out: list[FeatureDef] = []
    for d in Dimension:
        out += [f for f in profile if f.dimension is d] + by_dim[d] + [f for f in measured if f.dimension is d]
    money = currency(spec)
    out = [replace(f, unit=in_currency(f.unit, money)) for f in out]
    names = [f.name for f in out]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise SpecError(f"spec {spec.name!r}", f"two features would be named {clash!r} (a declared attribute has "
                                               "the name of a generated feature): rename the attribute")
    return out
