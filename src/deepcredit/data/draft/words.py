"""What `spec draft` reads from words: a header's words, and the hints that turn them into guesses (an id, a
label, a protected attribute, a dimension, a count, a date to score from), a label's values read as
outcomes, and numbers that look like placeholder codes.

Every guess is a proposal the draft marks "check" or TODO; none decides silently. The vocabularies are
general English words of credit data, never one data set's names.
"""

from __future__ import annotations

import re

import pandas as pd

from deepcredit.data.headers import CAMEL, header_words
from deepcredit.data.spec_base import ascii_letters, identifier

PROTECTED_HINTS = re.compile(
    r"(^|[^a-z])(sex|gender|age|marital|marriage|married|spouse|civil\w*|race|"
    r"ethnic\w*|religio\w*|national\w*|citizen\w*|foreign|origin|birth\w*|dob|d_o_b|"
    r"language|tongue|disab\w*|pregnan\w*|familial|children|kids)([^a-z]|$)"
)
"""Words of sex, age, marital or family status, race and national origin (citizenship, a first language),
religion, disability: what anti-discrimination law protects. Dependants are left out: they weigh on what a
person can afford."""
POSTCODE_HINTS = re.compile(
    r"(^|_)(post_?codes?|postal_?codes?|zip|zip_?codes?|zipcode|plz|postleitzahl|"
    r"code_?postal)(_|$)"
)
"""A postcode: a code naming a place, never a quantity, however it is written."""


def leading_zeros(values: pd.Series) -> bool:
    """Whether a column's values are whole numbers, some written with a leading zero (007, 0412; not 0 or
    0.5): codes (a store, a branch, a postcode), as a quantity never writes one; read as numbers, they would
    lose their zeros and store 100 would be "more" than store 044."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return bool(
        len(text) and text.str.fullmatch(r"[+-]?\d+").all() and text.str.fullmatch(r"[+-]?0\d+").any()
    )


LABEL_HINTS = (  # the first pattern any two-valued column fits wins: 'target' before 'ever_delinquent'
    re.compile(r"label|target|default|bad|good|credit(?:ability|worthiness)|outcome|class"),
    re.compile(r"delinq|dlq|churn|fraud|^y$"),
)
ID_HINTS = re.compile(
    r"(^|_)(id|ref)(_|$)|^id|identifier|customer|client|^unnamed_1$"
    r"|^(account|user|member|person|borrower|applicant)(_(no|nr|number|key|code))?$"
)
ID_SUFFIX = re.compile(r"[a-z0-9]_?(nummer|number|numero)$|[a-z0-9]_(nr|nro|no|num|id|key)$")
"""A header naming a record's number after any word, in several languages (kunden_nr, kundennummer,
client_no, klant_nr): an id only where its values say so too (unique, or repeating on rows a date tells
apart), as no list of words names every language's id."""
COUNT_HINTS = re.compile(r"^(number|num|n|nb|no|count|cnt)(_|$)|(_|^)(count|cnt)(_|$)")
"""A count of things (number_of_open_credit_lines) is never an amount role (credit_line, income)."""
DIMENSION_HINTS = (  # (dimension, words of the header): the first that fits is proposed, to be checked
    (
        "credit_history",
        r"late|past_?due|overdue|delinq|dlq|default|arrear|missed|bankrupt|histor|inquir|enquir|"
        r"bureau|existing_credit|(^|_)pay(_\d|_|$)|repaid|repay",
    ),
    (
        "social_connections",
        r"friend|contact|guarantor|co_?applicant|referr|network|neighbo|social|connection|"
        r"famil|debtors",
    ),
    (
        "fulfilment_capacity",
        r"income|salary|wage|earning|debt|util|balance|limit|amount|amt|loan|asset|saving|"
        r"propert|mortgage|instal|capacity|wealth|lines|checking|account|duration|depend|"
        r"maintenance",
    ),
    (
        "behaviour_preferences",
        r"purpose|spend|purchase|categor|channel|device|usage|frequen|behavio|habit|"
        r"preference|shopping|travel",
    ),
)
PART_HINTS = re.compile(
    r"(^|_)id(_|$)|^id|loan|contract|account|agreement|(^|_)(num|no|number|seq)(_|$)|instal"
)
"""Columns that may name one commitment among a person's rows (a loan id, an instalment's number)."""
UNIT_HINTS = (  # (unit, words of a numeric header): what a reason shows after the value, to be checked;
    # the first that fits wins, and a rate or a ratio has no unit the draft can tell (0.2 or 20 %?)
    (None, re.compile(r"(^|_)(rate|ratio|percent\w*|pct|share|score|utili[sz]ation)(_|\d|$)")),
    ("months", re.compile(r"(^|_)(months?|mths?|mos)(_|\d|$)")),
    ("years", re.compile(r"(^|_)(years?|yrs?)(_|\d|$)")),
    ("days", re.compile(r"(^|_)days?(_|\d|$)")),
    (
        "money",
        re.compile(
            r"(^|_)(amount|amt|balance|bal|income|salary|limit|price|fee|debt|loan|payment|"
            r"paid|owed|revenue|spend\w*|cost)(_|\d|$)"
        ),
    ),
)
LINK_HINTS = re.compile(
    r"refer|referr|introduc|sponsor|guarant|parent|invited|inviter|recommend|spouse_id|"
    r"partner_id|cosign|co_sign|co_applicant"
)
"""A people-file column whose values name another person (a referrer): a relation, not an attribute."""
GROUP_HINTS = re.compile(
    r"household|family|group|employer|company|phone|device|address|email|ip_?addr|"
    r"account_holder|(^|_)home(_|$)"
)
"""A people-file column naming something people share: everyone sharing a value is connected."""
APPLICATION_HINTS = re.compile(r"appl|issue|origination|decision|as_?of|snapshot")
"""A date column of a people file with its label: when each row was decided, so its as-of date."""
PENDING_WORDS = (
    r"current|grace|late|open|active|ongoing|pending|issued|running|review|unknown|undecided|"
    r"waiting|not_yet|tbd|in_progress|unclear"
)
"""A label value that says the outcome is not known yet (under_review, pending): drafted as unknown, to check."""
OUTCOME_WORDS = (  # a label written in words (a loan book's status): the first that fits a value
    ("bad", r"charged|default|written|write_?off|bad|loss|fraud|bankrupt|collection"),
    ("good", r"fully_paid|repaid|paid_off|good|closed|completed|settled|(^|_)ok(_|$)"),
    ("unknown", PENDING_WORDS),
)
YES_WORDS = frozenset(
    {
        "yes",
        "y",
        "true",
        "t",
        "ja",
        "j",
        "si",
        "oui",
        "sim",
        "s",
        "tak",
        "da",
        "да",
        "так",
        "jah",
        "igen",
        "ano",
        "kylla",
        "evet",
        "taip",
        "ναι",
    }
)
NO_WORDS = frozenset(
    {
        "no",
        "n",
        "false",
        "f",
        "nein",
        "non",
        "nao",
        "nie",
        "нет",
        "ні",
        "не",
        "ne",
        "nej",
        "nei",
        "ei",
        "nem",
        "hayir",
        "όχι",
        "οχι",
    }
)
"""Yes and no in the major European languages (ja/nein, sí/no, oui/non, sim/não, tak/nie, да/нет ...),
accents dropped: a label written so says whether the bad thing (a default) happened."""


def yes_or_no(value: str) -> bool | None:
    """True where a value reads as yes, False as no (YES_WORDS, NO_WORDS), else None."""
    word = ascii_letters(str(value).strip())
    return True if word in YES_WORDS else False if word in NO_WORDS else None


WINDOW_IN_NAME = re.compile(r"(?<!\d)(\d+)_?(d|days?|m|mo|mths?|months?|y|yrs?|years?)(?:_|$)")
"""A label named for its performance window (status_180d, bad_12m, default_2y): the number and its unit."""
CODE_LIKE = re.compile(r"^(9+[6-9]|-1|-9+)$")
"""Whole numbers written the way placeholders are: 96 to 99, 996 to 999, 9998, -1, -9, -99 ..."""


def header_text(col: str) -> str:
    """A header as words a person reads (NumberOfTime30-59Days: number of time 30-59 days)."""
    return re.sub(r"[\s_]+", " ", re.sub(CAMEL + r"|(?<=[A-Za-z])(?=\d)", " ", col)).strip().lower()


def unit_of(words: str) -> str | None:
    """A numeric attribute's unit guessed from its header's words (UNIT_HINTS), or None; a count has none."""
    if COUNT_HINTS.search(words):
        return None
    return next((unit for unit, hint in UNIT_HINTS if hint.search(words)), None) if words else None


def dimension_of(words: str) -> str | None:
    """The dimension a header's words suggest (DIMENSION_HINTS), or None."""
    return next((dim for dim, pattern in DIMENSION_HINTS if re.search(pattern, words)), None)


def description_of(said: str, kind: str) -> str:
    """What completes "your score is lowered by ...", from the header's words: a date counts the days since
    it; a yes/no named has_/is_ reads as a question ("whether you have car")."""
    if kind == "date":
        return f"the days since your {said}"
    if kind == "boolean" and (m := re.match(r"^(has|have|is|owns?) (.+)$", said)):
        verb = {"has": "have", "have": "have", "is": "are", "own": "own", "owns": "own"}[m[1]]
        return f"whether you {verb} {m[2]}"
    return f"your {said}"


def outcomes_in_words(values: pd.Series) -> dict[str, list[str]] | None:
    """{bad, good, unknown: values} of a label written in words, or None where a value fits no outcome or
    there is no bad and good."""
    found: dict[str, list[str]] = {"bad": [], "good": [], "unknown": []}
    for value in sorted(str(v) for v in values.dropna().unique() if str(v).strip()):
        meaning = next((m for m, words in OUTCOME_WORDS if re.search(words, identifier(value))), None)
        if meaning is None:
            return None
        found[meaning].append(value)
    return found if found["bad"] and found["good"] else None


def window_in_name(column: str) -> int | None:
    """The performance window in days a label column's name gives (status_180d: 180; bad_12m: 365; a month
    is a twelfth of a year), or None where it names none."""
    m = WINDOW_IN_NAME.search(header_words(column))
    if m is None or int(m[1]) == 0:
        return None
    per = {"d": 1.0, "m": 365 / 12, "y": 365.0}[m[2][0]]
    return int(round(int(m[1]) * per))


def special_codes(values: pd.Series) -> list[str]:
    """Values of a numeric column that look like codes for 'unknown' or 'refused' rather than quantities: of
    a placeholder's form, and far beyond every other value (96 and 98 in a count that otherwise stops at 13;
    -1 where everything else is zero or more)."""
    numbers = pd.to_numeric(values.dropna().astype(str).str.strip(), errors="coerce").dropna()
    whole = numbers[numbers == numbers.round()]
    seen = sorted({int(v) for v in whole if CODE_LIKE.match(str(int(v)))})
    rest = numbers[~numbers.isin(seen)]
    if not seen or rest.empty:
        return sentinel(numbers)
    high, low = [v for v in seen if v > 0], [v for v in seen if v < 0]
    far = (not high or rest.max() < min(high) / 2) and (not low or rest.min() >= 0)
    return [str(v) for v in seen] if far else []


def sentinel(numbers: pd.Series) -> list[str]:
    """One whole value that many rows hold (at least 1 %, and 5 rows) and that lies more than ten times
    beyond every other value's size: a placeholder of another form (365243 days employed where the rest stay
    under 20,000)."""
    counts = numbers[numbers == numbers.round()].value_counts()
    common = counts[(counts >= max(5, 0.01 * len(numbers)))]
    for value in common.index:
        rest = numbers[numbers != value]
        if len(rest) and abs(value) > 10 * max(rest.abs().max(), 1):
            return [str(int(value))]
    return []


NUMBER_IN_TEXT = re.compile(r"^\s*([^\d<>+\-]*?)\s*(-?\d+(?:[.,]\d+)?)\s*([^\d<>+]*?)\s*$")


def number_in_text(values: pd.Series) -> tuple[str, str] | None:
    """(an example, the words around its numbers) where a text column writes one number in the same words
    each time ("13.56%", " 36 months", "$1200"): read it as a number (Attribute.number_in_text). None where
    the words vary, a value compares ("< 1 year", "10+ years": an ordinal, rather) or holds no number."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty or pd.to_numeric(text, errors="coerce").notna().all():
        return None
    parts = text.str.extract(NUMBER_IN_TEXT)
    if parts[1].isna().any():
        return None
    words = (parts[0].fillna("") + "|" + parts[2].fillna("").str.strip()).unique()
    if len(words) != 1 or words[0] == "|":
        return None
    before, after = words[0].split("|")
    return str(text.iloc[0]), (before + " " + after).strip()
