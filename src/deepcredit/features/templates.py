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

from deepcredit.data.schema import Dimension
from deepcredit.data.spec import DatasetSpec, SpecError
from deepcredit.data.spec_base import identifier
from deepcredit.data.spec_events import Events
from deepcredit.data.spec_profile import Attribute
from deepcredit.features.spec import LOG1P, FeatureDef, Kind, Source

CH, FC = Dimension.CREDIT_HISTORY, Dimension.FULFILMENT_CAPACITY
BP, SC = Dimension.BEHAVIOUR_PREFERENCES, Dimension.SOCIAL_CONNECTIONS
E, R, C, N, DER = Source.EVENTS, Source.BAD_RUNS, Source.CYCLES, Source.NEIGHBOURS, Source.DERIVED
PAY_ON_TIME = "Meet every commitment on or before its due date."
REPAY_MORE = "Repay more than the minimum each month."
REPAY_FULL = "Pay what is due in full by its due date."
BALANCE_DOWN = "Bring your balance down."
BELOW_LINE = "Keep your balance well below your credit line."
REGULAR = "Use your account regularly and settle what you use."
INCOME_IN = "Have your income paid into this account regularly."
WITHIN_MEANS = "Spend less each month than comes in."
NETWORK = "Deal with people who keep their commitments; your own record matters most."
PARTNERS = "Deliver what you promise to your trading partners."
KEEP_CURRENT = "Keep your details up to date."
IMPROVE_BY_DIMENSION = {  # what to say where a spec gives an actionable attribute no `improve` text of its own
    Dimension.CREDIT_HISTORY: "Keep every commitment on time from now on: a record of kept ones is what raises this.",
    Dimension.FULFILMENT_CAPACITY: "Keep what you owe small against what you earn and can borrow.",
}
NOT_ACTIONABLE = "This is not something you can change: the other reasons are where you can improve."


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


def active_periods(days: int, period: int = 30, cond: str | None = None) -> str:
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
    return isin("kind", events.kinds_amount("owed"))


# --- profile --------------------------------------------------------------------------------------------

def profile_column(a: Attribute) -> str:
    """The column of the staged profile view holding the attribute (dates as days before as_of)."""
    return f"{a.name}_age_days" if a.type == "date" else a.name


def improve_text(a: Attribute) -> str:
    """The attribute's own how-to-improve text, else its dimension's general advice (none if not actionable)."""
    return a.improve or (IMPROVE_BY_DIMENSION.get(a.dimension, KEEP_CURRENT) if a.actionable else NOT_ACTIONABLE)


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
    elif a.log:
        sql, name, unit = f"MAX(LN(1 + GREATEST({col}, 0)))", f"log_{a.name}", ":".join(filter(None, (LOG1P, a.unit)))
    else:
        sql = f"MAX({col})"
    return FeatureDef(name, a.dimension, Source.PROFILE, sql, a.text, improve_text(a),
                      risk_direction=a.risk_direction, kind=kind, requires=(a.name,), protected=a.protected,
                      actionable=a.actionable, levels=tuple(a.order or ()) if a.type == "ordinal" else (),
                      codes=a.code_feature or "", unit=unit)


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

def _rate(days_lo: int, days_hi: int) -> str:
    cond = f"is_outcome = 1 AND age_days > {days_lo} AND age_days <= {days_hi}"
    return f"CAST({count(cond + ' AND is_bad = 1')} AS DOUBLE) / NULLIF({count(cond)}, 0)"


def credit_history_features(ev: Events) -> list[FeatureDef]:
    has_bad = bool(ev.statuses_meaning("late", "broken"))
    has_severe = bool(ev.statuses_meaning("broken"))
    has_delay = ev.has_days_late
    out = [
        FeatureDef("n_outcomes", CH, E, count("is_outcome = 1"), "the number of commitments on your record",
                   "Build your record: use credit lightly and repay on time.", fill=0, unit="count"),
    ] if set(ev.kinds) - ev.flow_kinds else []  # an activity log (every kind only moves money) has none
    out.append(FeatureDef("history_days", CH, E, "MAX(age_days)", "the length of your history with us",
                          "Your history grows by itself: keep your accounts open and in good standing.",
                          risk_direction=-1, actionable=False, unit="days"))
    if has_bad:
        out += [
            FeatureDef("n_bad_90d", CH, E, count("is_bad = 1", 90),
                       "late or missed commitments in the last 3 months", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="count"),
            FeatureDef("n_bad_365d", CH, E, count("is_bad = 1", 365),
                       "late or missed commitments in the last 12 months", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="count"),
        ]
    if has_severe:
        out.append(FeatureDef(
            "n_severe_365d", CH, E, count("is_severe = 1", 365),
            "commitments not kept at all in the last 12 months (missed, not returned)",
            "Never skip a payment or a return: contact the merchant before a due date if you cannot pay.",
            risk_direction=1, fill=0, unit="count"))
    if has_bad:
        out += [
            FeatureDef("bad_rate", CH, E, share("is_bad = 1", "is_outcome = 1"),
                       "the share of your commitments that were late or missed", PAY_ON_TIME, risk_direction=1,
                       unit="share"),
            FeatureDef("bad_rate_90d", CH, E, share("is_bad = 1", "is_outcome = 1", 90),
                       "the share of your commitments late or missed in the last 3 months", PAY_ON_TIME,
                       risk_direction=1, unit="share"),
            FeatureDef("bad_rate_trend", CH, E, f"{_rate(0, 90)} - {_rate(90, 365)}",
                       "your recent payments being worse than your earlier ones",
                       "Bring your recent payments back on time; recent behaviour weighs most.", risk_direction=1),
            FeatureDef("days_since_last_bad", CH, E, "MIN(CASE WHEN is_bad = 1 THEN age_days END)",
                       "how recently you last paid late or missed a commitment",
                       "Time heals: every month without a late payment improves this.", risk_direction=-1,
                       unit="days"),
        ]
    if has_severe:
        out.append(FeatureDef(
            "days_since_last_severe", CH, E, "MIN(CASE WHEN is_severe = 1 THEN age_days END)",
            "how recently you last missed a commitment entirely",
            "Time heals: every month without a missed commitment improves this.", risk_direction=-1, unit="days"))
    if has_delay:
        out += [
            FeatureDef("last_days_late", CH, E, latest("days_late", "is_outcome = 1"),
                       "how late your most recent payment was", "Bring your account up to date now.",
                       risk_direction=1, unit="days"),
            FeatureDef("max_days_late_90d", CH, E, "MAX(CASE WHEN age_days <= 90 THEN days_late ELSE 0 END)",
                       "the longest payment delay in the last 3 months", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="days"),
            FeatureDef("max_days_late_365d", CH, E, "MAX(CASE WHEN age_days <= 365 THEN days_late ELSE 0 END)",
                       "the longest payment delay in the last 12 months", PAY_ON_TIME, risk_direction=1, fill=0,
                       unit="days"),
            FeatureDef("mean_days_late_180d", CH, E,
                       "AVG(CASE WHEN is_outcome = 1 AND age_days <= 180 THEN days_late END)",
                       "your average payment delay in the last 6 months", PAY_ON_TIME, risk_direction=1,
                       unit="days"),
            FeatureDef("days_late_slope", CH, E,
                       "30 * regr_slope(CASE WHEN is_outcome = 1 AND age_days <= 365 THEN days_late END, -age_days)",
                       "your payment delays growing month by month",
                       "Pay a little earlier each month until you are on time again.", risk_direction=1),
        ]
    ratings = ev.kinds_amount("rating")
    if ratings:
        out.append(FeatureDef("mean_rating_received", CH, E,
                              f"AVG(CASE WHEN {isin('kind', ratings)} THEN amount END)",
                              "the average rating your trading partners gave you", PARTNERS, risk_direction=-1))
    if has_bad:
        out += [
            FeatureDef("longest_bad_streak", CH, R, "MAX(run_length)",
                       "the longest run of consecutive late or missed commitments", PAY_ON_TIME,
                       risk_direction=1, fill=0, unit="count"),
            FeatureDef("current_bad_streak", CH, R,
                       "MAX(CASE WHEN kept_since = 0 THEN run_length ELSE 0 END)",
                       "late or missed commitments in a row up to now",
                       "Your next on-time payment ends this streak.", risk_direction=1, fill=0, unit="count"),
            FeatureDef("n_bad_runs_365d", CH, R, "SUM(CASE WHEN run_end_age <= 365 THEN 1 ELSE 0 END)",
                       "separate episodes of late payment in the last 12 months", PAY_ON_TIME,
                       risk_direction=1, fill=0, unit="count"),
        ]
    return out


def _mean_bill(owed: str, lo: int, hi: int) -> str:
    return f"AVG(CASE WHEN {owed} AND age_days > {lo} AND age_days <= {hi} THEN amount END)"


def capacity_features(ev: Events | None, credit_line: str | None) -> list[FeatureDef]:
    """Money paid against money owed, in windows and 30-day cycles, and against a declared credit line."""
    if ev is None:
        return []
    paid = paid_condition(ev) if ev.kinds_amount("paid") else None
    owed = owed_condition(ev) if ev.kinds_amount("owed") else None
    out: list[FeatureDef] = []
    if paid:
        paid_180d = total("amount", paid, 180)
        out.append(FeatureDef("amount_paid_180d", FC, E, paid_180d, "how much you repaid in the last 6 months",
                              REPAY_MORE, risk_direction=-1, fill=0, unit="money"))
    if owed:
        billed_180d = total("GREATEST(amount, 0)", owed, 180)
        out.append(FeatureDef("amount_billed_180d", FC, E, billed_180d,
                              "the total you were asked to pay in the last 6 months", "Keep your spending within your means.",
                              unit="money"))
    if paid and owed:
        out.append(FeatureDef("paid_to_billed_180d", FC, E, f"{paid_180d} / NULLIF({billed_180d}, 0)",
                              "the share of what you were asked to pay that you repaid in the last 6 months",
                              "Pay what is due in full when you can.", risk_direction=-1, unit="share"))
    if owed:
        out += [
            FeatureDef("last_bill_amount", FC, E, latest("amount", owed), "the latest amount you were asked to pay",
                       BALANCE_DOWN, unit="money"),
            FeatureDef("bill_slope_180d", FC, E,
                       f"30 * regr_slope(CASE WHEN {owed} AND age_days <= 180 THEN amount END, -age_days)",
                       "your balance growing month by month", "Repay more than you spend each month."),
        ]
    if paid:
        paid_90d = total("amount", paid, 90)
        out += [
            FeatureDef("amount_paid_30d", FC, E, total("amount", paid, 30), "how much you repaid in the last month",
                       REPAY_MORE, risk_direction=-1, fill=0, unit="money"),
            FeatureDef("amount_paid_90d", FC, E, paid_90d, "how much you repaid in the last 3 months", REPAY_MORE,
                       risk_direction=-1, fill=0, unit="money"),
        ]
    if paid and owed:
        # A cycle's payments settle the previous cycle's statements: payments of the last 90 days against
        # statements issued 30 to 120 days ago.
        prior = total("GREATEST(amount, 0)", f"{owed} AND age_days > 30 AND age_days <= 120")
        out.append(FeatureDef("paid_to_prior_billed_90d", FC, E, f"{paid_90d} / NULLIF({prior}, 0)",
                              "how much of what you were recently asked to pay you actually repaid", REPAY_FULL,
                              risk_direction=-1, unit="share"))
    if owed:
        out += [
            FeatureDef("mean_bill_90d", FC, E, _mean_bill(owed, -1, 90),
                       "the average amount you were asked to pay in the last 3 months", BALANCE_DOWN,
                       unit="money"),
            FeatureDef("mean_bill_91_180d", FC, E, _mean_bill(owed, 90, 180),
                       "the average amount you were asked to pay 3 to 6 months ago", BALANCE_DOWN, unit="money"),
        ]
    if paid and owed:
        out += [
            FeatureDef("min_paid_to_prev_bill_3c", FC, C, "MIN(CASE WHEN cycle < 3 THEN paid_to_prev_billed END)",
                       "the smallest share of a month's amount due that you repaid, in the last 3 months", REPAY_FULL,
                       risk_direction=-1, unit="share"),
            FeatureDef("mean_paid_to_prev_bill_6c", FC, C, "AVG(CASE WHEN cycle < 6 THEN paid_to_prev_billed END)",
                       "the average share of each month's amount due that you repaid, in the last 6 months", REPAY_FULL,
                       risk_direction=-1, unit="share"),
            FeatureDef("unpaid_cycles_6c", FC, C,
                       "SUM(CASE WHEN cycle < 6 AND prev_billed > 0 AND paid <= 0 THEN 1 ELSE 0 END)",
                       "months in which you repaid nothing of what was due", "Repay something every month, on time.",
                       risk_direction=1, fill=0, unit="count"),
        ]
    out += flow_capacity_features(ev)
    if credit_line is None:
        return out
    line = (credit_line,)
    if owed:
        out += [
            FeatureDef("utilisation", FC, DER, f"last_bill_amount / NULLIF({credit_line}, 0)",
                       "how much of your credit line you use", BELOW_LINE, risk_direction=1, requires=line,
                       unit="share"),
            FeatureDef("headroom", FC, DER, f"{credit_line} - last_bill_amount",
                       "how much of your credit line is still free", BELOW_LINE, risk_direction=-1, requires=line,
                       unit="money"),
            FeatureDef("mean_utilisation_180d", FC, DER,
                       f"(mean_bill_90d + mean_bill_91_180d) / 2 / NULLIF({credit_line}, 0)",
                       "how much of your credit line you used over the last 6 months", BELOW_LINE,
                       risk_direction=1, requires=line, unit="share"),
            FeatureDef("balance_trend", FC, DER, f"(mean_bill_90d - mean_bill_91_180d) / NULLIF({credit_line}, 0)",
                       "your balance growing relative to your credit line", "Repay more than you spend each month.",
                       risk_direction=1, requires=line),
        ]
    if paid:
        out.append(FeatureDef("paid_to_limit_180d", FC, DER, f"amount_paid_180d / NULLIF({credit_line}, 0)",
                              "your repayments relative to your credit line", REPAY_MORE, risk_direction=-1,
                              requires=line, unit="share"))
    return out


def flow_capacity_features(ev: Events) -> list[FeatureDef]:
    """What came in against what went out, where the spec declares money moving (received, spent or
    signed kinds: a bank's transactions): income is capacity to repay, spending above it the opposite."""
    money_in, money_out = inflow(ev), outflow(ev)
    out: list[FeatureDef] = []
    if money_in:
        received_90d = total(money_in, "1 = 1", 90)
        out += [
            FeatureDef("amount_received_90d", FC, E, received_90d, "the money that came in over the last 3 months",
                       INCOME_IN, risk_direction=-1, fill=0, unit="money"),
            FeatureDef("received_change_90d", FC, E, f"{received_90d} - {total(money_in, 'age_days > 90', 180)}",
                       "the money that came in over the last 3 months against the 3 months before", INCOME_IN,
                       risk_direction=-1, fill=0, unit="money"),
            FeatureDef("months_with_money_in_180d", FC, E, active_periods(180, cond=f"{money_in} > 0"),
                       "in how many of the last 6 months money came in", INCOME_IN, risk_direction=-1, fill=0,
                       unit="count"),
        ]
    if money_in and money_out:
        spent_90d = total(money_out, "1 = 1", 90)
        out += [
            FeatureDef("net_flow_90d", FC, E, f"{received_90d} - {spent_90d}",
                       "how much more money came in than went out in the last 3 months", WITHIN_MEANS,
                       risk_direction=-1, fill=0, unit="money"),
            FeatureDef("spent_to_received_90d", FC, E, f"{spent_90d} / NULLIF({received_90d}, 0)",
                       "how much of the money that came in you spent in the last 3 months", WITHIN_MEANS,
                       risk_direction=1, unit="share"),
        ]
    return out


def behaviour_features(ev: Events) -> list[FeatureDef]:
    out = [
        FeatureDef("events_per_month_365d", BP, E, f"{count('1 = 1', 365)} / 12.0",
                   "how often you use the services", REGULAR, fill=0),
        FeatureDef("active_months_365d", BP, E,
                   active_periods(365),
                   "in how many of the last 12 months you were active", REGULAR, risk_direction=-1, fill=0,
                   unit="count"),
        FeatureDef("days_since_last_event", BP, E, "MIN(age_days)", "how long ago you last used the services",
                   REGULAR, unit="days"),
    ]
    if money_out := outflow(ev):
        out.append(FeatureDef("amount_spent_90d", BP, E, total(money_out, "1 = 1", 90),
                              "how much you spent in the last 3 months", WITHIN_MEANS, fill=0, unit="money"))
    if ev.columns.counterparty is not None:
        out.append(FeatureDef("n_counterparties_365d", BP, E,
                              "COUNT(DISTINCT CASE WHEN age_days <= 365 THEN counterparty END)",
                              "how many different merchants or partners you dealt with", REGULAR, fill=0,
                              unit="count"))
    for value, k in ev.kinds.items():
        if k.share is not None:
            label = k.share.label or identifier(value)
            out.append(FeatureDef(f"share_{label}_365d", BP, E, share(f"kind = {sql_text(value)}", "1 = 1", 365),
                                  k.share.description, k.share.improve or REGULAR,
                                  risk_direction=k.share.risk_direction, unit="share"))
    for value, s in ev.statuses.items():
        if s.share is not None:
            label = s.share.label or identifier(value)
            out.append(FeatureDef(f"share_{label}_180d", BP, E,
                                  share(f"status = {sql_text(value)} AND is_outcome = 1", "is_outcome = 1", 180),
                                  s.share.description, s.share.improve or REGULAR,
                                  risk_direction=s.share.risk_direction, unit="share"))
    return out


def measure_features(ev: Events) -> list[FeatureDef]:
    """Each declared measure's latest value, its level over the last 3 months (mean, lowest, highest) and
    its monthly trend over the last 6, in its own dimension and words (the aggregates the Amex default
    prediction winners took of each statement column)."""
    out: list[FeatureDef] = []
    for m in ev.measures:
        col, text, unit = m.name, m.text, m.unit
        improve = m.improve or IMPROVE_BY_DIMENSION.get(m.dimension, KEEP_CURRENT)
        recent = f"CASE WHEN age_days <= 90 THEN {col} END"
        level = {"mean": (f"AVG({recent})", f"{text}, on average over the last 3 months"),
                 "min": (f"MIN({recent})", f"{text} at its lowest in the last 3 months"),
                 "max": (f"MAX({recent})", f"{text} at its highest in the last 3 months")}
        out.append(FeatureDef(f"{col}_last", m.dimension, E, latest(col, f"{col} IS NOT NULL"), f"{text} (latest)",
                              improve, risk_direction=m.risk_direction, unit=unit))
        out += [FeatureDef(f"{col}_{stat}_90d", m.dimension, E, sql, words, improve, risk_direction=m.risk_direction,
                           unit=unit) for stat, (sql, words) in level.items()]
        out.append(FeatureDef(f"{col}_trend_180d", m.dimension, E,
                              f"30 * regr_slope(CASE WHEN age_days <= 180 THEN {col} END, -age_days)",
                              f"the monthly trend of {text}", improve, risk_direction=m.risk_direction))
    return out


# --- graph templates -------------------------------------------------------------------------------------

def social_features(spec: DatasetSpec) -> list[FeatureDef]:
    rel = spec.relations
    if rel is None:
        return []
    out = [
        FeatureDef("degree", SC, N, "COUNT(*)", "how many people you are connected to", NETWORK, fill=0,
        unit="count"),
        FeatureDef("new_connections_90d", SC, N, "SUM(CASE WHEN edge_age_days <= 90 THEN 1 ELSE 0 END)",
                   "how many new connections you made in the last 3 months", NETWORK, fill=0, unit="count"),
    ]
    ev = spec.events
    if ev is not None and ev.statuses_meaning("late", "broken"):
        out.append(FeatureDef("share_neighbours_bad", SC, N, "AVG(CASE WHEN nb_bad > 0 THEN 1.0 ELSE 0.0 END)",
                              "the share of your connections with late or missed commitments", NETWORK,
                              risk_direction=1, unit="share"))
    if ev is not None and ev.statuses_meaning("broken"):
        out.append(FeatureDef("share_neighbours_severe", SC, N,
                              "AVG(CASE WHEN nb_severe > 0 THEN 1.0 ELSE 0.0 END)",
                              "the share of your connections who missed commitments entirely", NETWORK,
                              risk_direction=1, unit="share"))
    if ev is not None and ev.statuses_meaning("late", "broken"):
        out.append(FeatureDef("neighbour_bad_rate", SC, N,
                              "CAST(SUM(nb_bad) AS DOUBLE) / NULLIF(SUM(nb_outcomes), 0)",
                              "how often your connections paid late or missed", NETWORK, risk_direction=1,
                              unit="share"))
    if rel.directed and rel.signed:
        out.append(FeatureDef("incoming_negative_share", SC, N,
                              "CAST(SUM(incoming_negative) AS DOUBLE) / NULLIF(SUM(incoming), 0)",
                              "the share of people who rated you negatively",
                              "Resolve disputes with your trading partners.", risk_direction=1, unit="share"))
    if rel.directed and rel.weighted:
        out.append(FeatureDef("mean_incoming_weight", SC, N, "SUM(incoming_weight) / NULLIF(SUM(incoming), 0)",
                              "how strongly the people connected to you vouch for you", PARTNERS,
                              risk_direction=-1))
    return out


def features_for(spec: DatasetSpec) -> list[FeatureDef]:
    """Every feature a data set of this spec has, in catalogue order (dimension by dimension); a spec of
    several history files has the features of the one events table they are stored as."""
    spec = spec.stored()
    profile = profile_features(spec)
    line = spec.role("credit_line")
    line_feature = None if line is None or (line.protected and not line.use_as_input) else line.name
    ev = spec.events
    by_dim = {
        Dimension.IDENTITY: [],
        CH: credit_history_features(ev) if ev is not None else [],
        FC: capacity_features(ev, line_feature),
        BP: behaviour_features(ev) if ev is not None else [],
        SC: social_features(spec),
    }
    measured = measure_features(ev) if ev is not None else []
    out: list[FeatureDef] = []
    for d in Dimension:
        out += [f for f in profile if f.dimension is d] + by_dim[d] + [f for f in measured if f.dimension is d]
    names = [f.name for f in out]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise SpecError(f"spec {spec.name!r}", f"two features would be named {clash!r} (a declared attribute has "
                                               "the name of a generated feature): rename the attribute")
    return out
