"""What a feature is: a named SQL aggregate over one staged source, tagged with its dimension.

A definition carries everything downstream needs (dimension, plain-language description, how-to-improve
hint, risk direction), so explanations, reports and the person's page read it from here and adding a
feature never means editing three places.

The SQL is an aggregate expression in the subset of SQL that both DuckDB and Spark SQL accept (SUM, COUNT,
AVG, MAX, MIN, CASE, COALESCE, NULLIF, LN, GREATEST, regr_slope). It is evaluated per (person_id, as_of)
over a staged source view whose rows all lie strictly before as_of (see features/sources.py). The plan
computes `regr_slope(y, x)` from centred sums (features/slopes.py), so both engines give the same value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import lru_cache

from deepcredit.data.schema import PROTECTED_ATTRIBUTES, Dimension


class Source(StrEnum):
    """Staged views a feature can aggregate over; each row is already point-in-time filtered."""

    PROFILE = "profile"  # one row per (person, as_of): people attributes
    EVENTS = "events"  # one row per event with ts < as_of
    BAD_RUNS = "bad_runs"  # one row per run of consecutive bad events before as_of
    CYCLES = "cycles"  # one row per 30-day cycle before as_of: paid, billed, and the previous cycle's bill
    NEIGHBOURS = "neighbours"  # one row per (person, neighbour) pair first connected before as_of
    DERIVED = "derived"  # a row-level expression over other features' values (e.g. a ratio of two)


class Kind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


def _days(v: float) -> str:
    n = round(v)
    return f"{n:,} day" + ("" if abs(n) == 1 else "s")


def _number(v: float) -> str:
    """1,250 / 0.25 / 1,250.75: thousands grouped, at most 4 significant digits after the point."""
    whole = abs(v - round(v)) < 1e-6  # a log's round trip leaves a whole number a hair off
    return f"{v:,.0f}" if whole else (f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}")


def _fine(v: float) -> str:
    """A rate's or a change's number: 0.06 / 45.27 / 1,250.5, to two decimals (one significant digit below
    0.01), so a trend of 0.05513 days a month reads 0.06, not 0 as a whole number of days would."""
    return _number(round(v, 2)) if abs(v) >= 0.01 or v == 0 else f"{v:.1g}"


UNITS: dict[str, Callable[[float], str]] = {
    "days": _days,
    "share": lambda v: f"{v:.0%}",
    "percentage_points": lambda v: f"{_fine(round(100 * v, 1))} percentage points",
    "count": lambda v: f"{v:,.0f}",
    "money": lambda v: f"{v:,.2f}",
    "number": _number,
    "yes_no": lambda v: "yes" if v else "no",
}
"""What a reason shows for a feature's value, by its unit (FeatureDef.unit). percentage_points: a difference
of two shares (0.12: 12 percentage points); number: a quantity with no unit of its own (a rating)."""
LOG1P = "log1p"
"""A unit's prefix for a feature holding log(1 + x): the reason shows x ('log1p', or 'log1p:DM' for x DM)."""
SIGNED = "signed"
"""A unit's prefix for a value whose sign is what it says (a trend, a change, money in less money out):
the reason writes the sign ('signed:money' shows +1,200.00 or -45.27), so a fall never reads as a rise."""
PER = " per "
"""Between a unit and a period: a rate ('days per month' shows 0.06 days per month, 'count per month' 2.5
per month; money per month 45.27 per month)."""
FINE = {
    "days": lambda v: f"{_fine(v)} day" + ("" if _fine(abs(v)) == "1" else "s"),
    "count": _fine,
    "number": _fine,
}
"""A rate's number in a whole-number unit: its fraction is what it says (0.06 days per month)."""


_NEGATIVE_ZERO = re.compile(r"^-(?=[0.,]*(?:[^\d.,]|$))")
"""A minus before a number that reads as zero ('-0', '-0.00', '-0%'): a tiny negative value shows as zero."""


def _unsigned_zero(text: str) -> str:
    return _NEGATIVE_ZERO.sub("", text)


def _reads_zero(text: str) -> bool:
    return _NEGATIVE_ZERO.match("-" + text) is not None


@dataclass(frozen=True)
class Unit:
    """How a person reads a feature's value, as a record: the unit string (FeatureDef.unit, a spec's
    attribute unit, a saved artifact) is its serialised form, parsed once here (Unit.parse) and written back
    by str(), so shown_in reads fields rather than re-parsing prefixes and suffixes.

    The string form: ['log1p' [':']] ['signed:'] base [':' currency] [' per ' period], e.g. 'days',
    'money:EUR', 'signed:days per month', 'log1p:DM', 'count per month'."""

    base: str = ""
    """A key of UNITS, or words a spec declares for an attribute ('months', 'DM', '%'); "" a plain number."""
    currency: str = ""
    """Words written after a UNITS base's number: the spec's currency ('money:EUR' shows 437.27 EUR)."""
    per: str = ""
    """A rate's period ('month': 0.06 days per month)."""
    signed: bool = False
    """The sign is what it says (a trend, a change): written, '+0.06' or '-45.27', so a fall never reads as a rise."""
    log1p: bool = False
    """The feature holds log(1 + x): x is shown."""

    @staticmethod
    def parse(text: str) -> Unit:
        """The record a unit string writes (its inverse is str(); cached, so each string is parsed once)."""
        return _parse(text)

    def __str__(self) -> str:
        head = f"{self.base}:{self.currency}" if self.currency else self.base
        body = (f"{SIGNED}:" if self.signed else "") + head + (f"{PER}{self.per}" if self.per else "")
        return (f"{LOG1P}:{body}" if body else LOG1P) if self.log1p else body

    def show(self, value: float) -> str:
        """`value` as a person reads it in this unit ('+0.06 days per month', '437.27 EUR', '48 months');
        a number that reads as zero never carries a sign ('0', not '-0' or '+0.00')."""
        if self.log1p:
            value = math.expm1(value)
        text = _unsigned_zero(self._figure(abs(value) if self.signed else value))
        if self.signed and not _reads_zero(text):
            text = ("+" if value > 0 else "-" if value < 0 else "") + text
        return text + (f"{PER}{self.per}" if self.per else "")

    def _figure(self, value: float) -> str:
        if self.per and self.base in FINE and not self.currency:
            return FINE[self.base](value)
        if self.base in UNITS:
            return UNITS[self.base](value) + (f" {self.currency}" if self.currency else "")
        if self.base:
            return f"{_number(value)}{'' if self.base == '%' else ' '}{self.base}"
        return _number(value)


@lru_cache(maxsize=1024)
def _parse(text: str) -> Unit:
    rest, log1p = text, text == LOG1P or text.startswith(LOG1P + ":")
    if log1p:
        rest = rest.removeprefix(LOG1P).removeprefix(":")
    signed = rest.startswith(SIGNED + ":")
    head, per, period = rest.removeprefix(SIGNED + ":").rpartition(PER)
    if not per:
        head, period = period, ""
    base, colon, words = head.partition(":")
    if not (colon and base in UNITS):
        base, words = head, ""
    return Unit(base, words, period, signed, log1p)


def shown_in(unit: Unit | str, value: float) -> str:
    """`value` as a person reads it in `unit` (a Unit, or its string form: one of UNITS, optionally followed
    by words after a colon (the spec's currency: 'money:EUR' shows 437.27 EUR), a rate ('days per month'),
    a signed value ('signed:days per month': +0.06 days per month), a log1p transform, or any words a spec
    declares for an attribute (48 with 'months': '48 months'))."""
    return (unit if isinstance(unit, Unit) else Unit.parse(unit)).show(value)


def in_currency(unit: str, currency: str) -> str:
    """`unit` with its money in `currency` (the spec's declared one): 'money' becomes 'money:EUR', also
    within a signed value or a rate ('signed:money per month'); any other unit, or no currency, as it is."""
    parsed = Unit.parse(unit)
    if not currency or parsed.base != "money" or parsed.currency:
        return unit
    return str(replace(parsed, currency=currency))


@dataclass(frozen=True)
class FeatureDef:
    name: str
    dimension: Dimension
    source: Source
    sql: str
    description: str
    """Plain language, completes 'Your score is lowered by: ...' — reason codes read it."""
    improve: str
    """A concrete action the person can take."""
    risk_direction: int = 0
    """+1: higher values mean more risk; -1: less risk; 0: not monotone / unknown."""
    kind: Kind = Kind.NUMERIC
    fill: float | None = None
    """Value for people with no rows in the source (0 for counts); None keeps it missing."""
    requires: tuple[str, ...] = ()
    """Columns of the people table the feature needs; it is skipped where a data set lacks them."""
    protected: bool | None = None
    """Read from a protected attribute: audited for fairness, never a model input unless explicitly allowed.
    True / False: declared, by the data set's spec (templates.attribute_feature copies the attribute's flag),
    which is then the only authority. None: undeclared (a definition made in code, or stored before specs
    declared protection); is_protected then applies the legacy rule."""
    actionable: bool = True
    """The person can change it by their own future behaviour: it may appear in how-to-improve advice."""
    levels: tuple[str, ...] = ()
    """An ordinal attribute's declared values, lowest first: the feature holds the rank, reasons show the value."""
    unit: str = ""
    """How a person reads the value (shown_in): a key of UNITS (days, share, percentage_points, count, money,
    number, yes_no; money followed by the spec's currency, 'money:EUR'), words a spec declares for its
    attribute ('months'), a rate of either per a period ('days per month'), any of those after 'signed:'
    for a value that can fall as well as rise (a trend: '+0.06 days per month'), or after 'log1p:' for a
    log feature; "" as it is. Every template feature declares one (features.templates). The string is the
    serialised form of a Unit (Unit.parse, str), so specs and saved artifacts keep it as written."""
    codes: str = ""
    """The feature holding what a missing value stands for (an attribute's special values, `<name>_code`):
    a reason shows that meaning ('refused') rather than 'missing'."""
    improve_direction: int = 0
    """Which way following `improve` moves the value, where `risk_direction` does not say (it is 0): +1 up
    ("use your account regularly": more events), -1 down ("bring your balance down"), 0 unknown. A reason
    whose value the model finds risky the other way (above or below the model's typical value,
    scoring.scorer.against_advice) is shown without this advice."""
    missing: str = ""
    """What a missing value means to the person, in their words ('no connections on record'): a reason on a
    missing value shows it (default templates.NO_RECORD) with no advice to change a value they do not have."""
    met_at: float | None = None
    """The value at which `improve` is met ('pay what is due in full': a share of 1): a value at or past it
    (on the safer side of risk_direction) is no reason, as 0 or below is none for a count (scorer.at_floor)."""
    improve_towards: tuple[str, ...] = ()
    """The categories (an ordinal's levels) following `improve` moves a person towards, as a spec declares
    them: a person already in one gets no such advice (scoring.advice.towards_met); () where not declared."""

    def label(self, value: object) -> object:
        """The value as a person reads it: an ordinal rank becomes its declared level, a number is written
        in its unit (shown_in: '408 days', '75%', '1,250.00', '+0.06 days per month'); other values stay as
        they are."""
        if (
            self.levels
            and isinstance(value, int | float)
            and float(value).is_integer()
            and 0 <= int(value) < len(self.levels)
        ):
            return self.levels[int(value)]
        if (
            self.unit
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            return Unit.parse(self.unit).show(float(value))
        return value

    def is_protected(self) -> bool:
        """The declared flag; for an undeclared definition only, the legacy rule: named after one of the
        simulator vocabulary's fixed protected attributes (data.schema.PROTECTED_ATTRIBUTES: sex, age,
        marital_status). Why only there: a spec is the authority on its own columns (a data set may call a
        non-protected column `age`, or protect one of another name), while definitions that predate specs
        have no declaration and must stay protected by name."""
        if self.protected is not None:
            return self.protected
        return self.name.lower() in PROTECTED_ATTRIBUTES

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dimension"], d["source"], d["kind"] = str(self.dimension), str(self.source), str(self.kind)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureDef:
        return cls(
            **{
                **d,
                "dimension": Dimension(d["dimension"]),
                "source": Source(d["source"]),
                "kind": Kind(d["kind"]),
                "requires": tuple(d.get("requires", ())),
                "levels": tuple(d.get("levels", ())),
                "improve_towards": tuple(d.get("improve_towards", ())),
            }
        )
