"""What every section of the data-set spec is built from: strict, frozen models, the problem a section
raises (spec.SpecError locates it at its TOML line), and the checks on a section's column lists.

Why a module of its own: the profile, event and other sections (spec_profile, spec_events, spec) all use
them, and each section module stays about one part of a user's files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
"""Attribute names are lower-case SQL identifiers: they name stored columns and features."""
SQL_WORDS = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
    "check", "collate", "column", "constraint", "create", "default", "deferrable", "desc", "describe", "distinct",
    "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from", "group", "having", "in",
    "initially", "intersect", "into", "lambda", "lateral", "leading", "limit", "not", "null", "offset", "on",
    "only", "or", "order", "pivot", "pivot_longer", "pivot_wider", "placing", "primary", "qualify", "references",
    "returning", "select", "show", "some", "summarize", "symmetric", "table", "then", "to", "trailing", "true",
    "union", "unique", "unpivot", "using", "variadic", "when", "where", "window", "with"
})
"""The words DuckDB reserves (duckdb_keywords(), category 'reserved'; Spark by default reserves none of
them): features are SQL over the names a spec gives, so a name may not be one of these."""


def sql_safe(name: str) -> str:
    """`name`, or `name_value` where SQL reserves the word (a history's `limit` column): what a draft proposes."""
    return f"{name}_value" if name in SQL_WORDS else name


def _none_if_empty(value: str | None) -> str | None:
    return value or None


OptionalColumn = Annotated[str | None, AfterValidator(_none_if_empty)]
"""A column a file may not have: TOML has no null, so "" says the file has no such column (stored as None)."""


class SpecProblem(ValueError):
    """A semantic problem found after the fields parsed, with the field path it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], problem: str) -> None:
        super().__init__(problem)
        self.loc, self.problem = loc, problem


def _plain_types(annotation: Any) -> set[type]:
    """The plain types a field's annotation allows (of `int | None`: int and NoneType)."""
    if get_origin(annotation) in (Union, UnionType):
        return {t for arg in get_args(annotation) for t in _plain_types(arg)}
    return {annotation} if isinstance(annotation, type) else set()


def _strict_scalar(value: Any, annotation: Any) -> Any:
    """A boolean must be true or false, a number a number: TOML writes both without quotes, so "yes" or "365"
    in quotes is a mistake to point at, not a value to coerce (pydantic's lax mode would take them)."""
    allowed = _plain_types(annotation)
    if value is None or type(value) in allowed:
        return value
    if bool in allowed and not {int, float, str} & allowed:
        raise PydanticCustomError("strict_bool", "expected a boolean (true or false, without quotes), got {got}",
                                  {"got": _what(value)})
    if float in allowed and not {str, bool} & allowed and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PydanticCustomError("strict_number", "expected a number (without quotes), got {got}",
                                  {"got": _what(value)})
    if int in allowed and not {float, str, bool} & allowed and (isinstance(value, bool) or not isinstance(value, int)):
        raise PydanticCustomError("strict_int", "expected an integer (a whole number, without quotes), got {got}",
                                  {"got": _what(value)})
    return value


def _what(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    return {bool: "a boolean", float: f"the number {value!r}", int: f"the number {value!r}"}.get(
        type(value), f"a {type(value).__name__}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_quoted_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """Booleans and numbers are strict (a quoted "yes" or "365" is refused); other fields as declared."""
        field = cls.model_fields.get(info.field_name or "")
        return value if field is None else _strict_scalar(value, field.annotation)


class FileSection(Strict):
    """A section of the spec that declares one of the user's files."""

    header_line: int = Field(default=1, ge=1)
    """The line of this CSV file that holds its column names, where lines above it hold a title, an
    export's date or Excel's `sep=;` (they are not read; errors still name the file's own lines)."""
    header: list[str] = []
    """The column names of a CSV file that has no header line (its first line is data: a loan-level
    export whose layout is documented apart, as Freddie Mac's and Fannie Mae's are), in the file's order."""

    @model_validator(mode="after")
    def _check_header(self) -> FileSection:
        for i, name in enumerate(self.header):
            if not name.strip():
                raise SpecProblem(("header", i), "an empty column name: name every column of the file, in order")
            if name in self.header[:i]:
                raise SpecProblem(("header", i), f"{name!r} is named twice")
        if self.header and self.header_line != 1:
            raise SpecProblem(("header_line",), "a file without a header line (header = [...]) is read from its "
                                                "first line: leave header_line out")
        return self


def both_directions(risk_direction: int, improve_direction: int) -> None:
    """An advice direction is for a value whose risk direction is unknown: beside a declared one it would be
    ignored (the declared direction already says which way the advice goes), so it is refused."""
    if risk_direction and improve_direction:
        raise SpecProblem(("improve_direction",), "improve_direction applies where risk_direction is 0: a declared "
                                                  "risk direction already says which way the advice moves the value")


class DescribedColumn(Strict):
    """A column of the user's file that becomes features a person reads about (a profile Attribute, a history
    Measure): its name, its header, and the words and risk direction its reasons carry."""

    name: str = Field(pattern=IDENTIFIER)
    column: str | None = None
    """The column's header in the file, where it differs from `name`."""
    description: str = ""
    """Completes 'your score is lowered by ...' (your account balance)."""
    improve: str = ""
    """How to improve it, in the person's words; empty: the dimension's general advice."""
    risk_direction: Literal[-1, 0, 1] = 0
    """+1 where a higher value is riskier (a balance owed), -1 where safer (money in the account), 0 unknown."""
    improve_direction: Literal[-1, 0, 1] = 0
    """Where risk_direction is 0: which way following `improve` moves the value (-1: "borrow a smaller
    amount"; +1: raises it; 0 unknown). A reason the model finds risky the other way is shown without it."""
    unit: str = Field(default="", max_length=40)
    """What a numeric value counts, in words a reason shows after it ("months": "48 months"; "money": 1,250.00;
    "share": 75%)."""
    aliases: dict[str, list[str]] = {}
    """Categories written in more than one way: each category as stored, with the other ways the files write
    it ({ female = ["F", "f", "Female"], male = ["M", "m"] }). Ingest reads each listed value (as written, after
    its surrounding spaces are trimmed; case counts) as its category, so features, reasons and the fairness
    audit see one category; a value not listed is kept as it is."""

    @model_validator(mode="after")
    def _check_name(self) -> DescribedColumn:
        if self.name in SQL_WORDS:
            raise SpecProblem(("name",), f"{self.name!r} is a word SQL reserves: name it otherwise "
                                         f"({sql_safe(self.name)}, say), and give the file's header as `column`")
        both_directions(self.risk_direction, self.improve_direction)
        check_aliases(self.aliases)
        return self

    @property
    def alias_map(self) -> dict[str, str]:
        """Each written value the spec lists under `aliases`, with the category it is read as."""
        return {written: category for category, values in self.aliases.items() for written in values}

    @property
    def source_column(self) -> str:
        return self.column or self.name

    @property
    def text(self) -> str:
        """What a reason code says of it."""
        return self.description or f"your {self.name.replace('_', ' ')}"


def check_aliases(aliases: dict[str, list[str]]) -> None:
    """Each written value names one category, once: listed twice, or under two categories, it is refused, as
    is a category that another category lists as one of its ways of writing it. Values are matched as ingest
    reads them (trimmed), so a value with spaces around it, or a blank one, could never match."""
    seen: dict[str, str] = {}
    for category, values in aliases.items():
        if not category.strip() or category != category.strip():
            raise SpecProblem(("aliases", category), f"{category!r}: a category is a non-blank text without spaces "
                                                     "around it")
        if not values:
            raise SpecProblem(("aliases", category), "list the other ways the files write this category")
        for i, written in enumerate(values):
            if not written.strip() or written != written.strip():
                raise SpecProblem(("aliases", category, i), f"{written!r}: ingest trims the spaces around a value, "
                                                            "so list it without them (and not blank)")
            if written in seen:
                where = "twice under this category" if seen[written] == category else \
                    f"under {seen[written]!r} too: a value belongs to one category"
                raise SpecProblem(("aliases", category, i), f"{written!r} is listed {where}")
            seen[written] = category
    for category in aliases:
        if category in seen and seen[category] != category:
            raise SpecProblem(("aliases", category), f"{category!r} is a category and also listed as a way of "
                                                     f"writing {seen[category]!r}: a value is read as one category")


LETTERS_APART = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
"""Letters that Unicode does not split into a base letter and a mark, written as ASCII letters."""


def ascii_letters(value: str) -> str:
    """`value` in ASCII letters where it has accented ones (größe: grosse, städt: stadt): split into base
    letter and mark (NFKD), the mark dropped. Why: a name is an SQL identifier, and dropping such a letter
    would make two headers (größe, grüße) one name."""
    split = unicodedata.normalize("NFKD", value.lower().translate(LETTERS_APART))
    return "".join(c for c in split if not unicodedata.combining(c))


def identifier(value: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", ascii_letters(value))).strip("_") or "x"


def not_ignored(ignore: list[str], used: Iterable[str | None]) -> None:
    """A column is either used or ignored, and named once."""
    used_set = set(used)
    for i, col in enumerate(ignore):
        if col in used_set:
            raise SpecProblem(("ignore", i), f"{col!r} is a column the spec uses: it cannot also be ignored")
        if col in ignore[:i]:
            raise SpecProblem(("ignore", i), f"{col!r} is listed twice")


def unique(values: list[str], loc: tuple, field: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise SpecProblem((*loc, i, field), f"{v!r} is declared twice")
        seen.add(v)
