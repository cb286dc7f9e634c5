"""The profile sections of the data-set spec: each attribute a person has (type, dimension, texts for reason
codes, protected, actionable, role, special values), the main profile file ([profile], with its optional
history) and further files about the same people ([more_profile.NAME])."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from deepcredit.data.schema import Dimension
from deepcredit.data.spec_base import (
    DescribedColumn,
    FileSection,
    OptionalColumn,
    SpecProblem,
    not_ignored,
    unique,
)

RESERVED = frozenset({"person_id", "as_of", "label", "window_days", "valid_from"})
AttributeType = Literal["numeric", "categorical", "ordinal", "boolean", "date"]
Role = Literal["credit_line", "income", "joined_at"]
"""What capacity templates need to know about an attribute: utilisation and headroom against a credit
line, income, and when the person joined (tenure as of each date)."""


class Attribute(DescribedColumn):
    type: AttributeType
    order: list[str] | None = None
    """Ordinal attributes: their values from lowest to highest."""
    dimension: Dimension
    protected: bool = False
    """Audited for fairness, never a feature unless `use_as_input` too (and then flagged protected)."""
    use_as_input: bool = False
    allow_contact: bool = False
    """The column holds contact or identity data (e-mail addresses, phone numbers, or many values under a name
    such as `email`, `iban`, `address`: data/contact.py) and is meant as an attribute all the same. Without it
    ingest refuses such an attribute: it identifies a person, says nothing of how they keep commitments, and
    would otherwise become a model input unnoticed."""
    actionable: bool = True
    improve_towards: list[str] = []
    """Categorical and ordinal attributes with an `improve` text: the categories (levels) that text moves a
    person towards (a guarantor text: ["guarantor", "co-applicant"]). Why: one text is written for the worst
    categories, and a person already in one of these is not told to get there (scoring.advice)."""
    role: Role | None = None
    log: bool = False
    """Numeric amounts spanning orders of magnitude: the feature is ln(1 + max(x, 0)), named log_<name>."""
    special: dict[str, str] = {}
    """Numeric values that are codes, not quantities, with what each means ({"96" = "not reported"}): every
    feature reads them as missing, and a categorical feature `<name>_code` holds their meaning."""
    number_in_text: bool = False
    """A numeric attribute written with words or signs around its number ("13.56%", " 36 months", "$1,200"):
    the number is read out of the text (the [format]'s decimal and thousands marks apply); a value without
    one is refused at its row, unless it is empty or a missing-value marker."""
    min: float | None = None
    """Numeric attributes: the smallest valid value (an age, an income, an amount: min = 0); a value below it
    is refused at its file, row and column. Special values are exempt (a -1 code for "not reported")."""
    max: float | None = None
    """Numeric attributes: the largest valid value (a percentage: max = 100), refused likewise above it."""
    bands: list[float] | None = None
    """Protected numeric attributes: the lower bounds of the bands the fairness audit compares (an age:
    [18, 25, 35, 50, 65]), so the groups are the ones a regulator names; without it, five quantile bands."""

    @property
    def code_feature(self) -> str | None:
        """The name of the feature holding a special value's meaning (None without special values)."""
        return f"{self.name}_code" if self.special else None

    @property
    def text(self) -> str:
        """What a reason code says; a date attribute's feature counts the days since it."""
        if self.type == "date" and not self.description:
            return f"the days since your {self.name.replace('_', ' ')}"
        return super().text

    @model_validator(mode="after")
    def _check(self) -> Attribute:
        if self.type == "ordinal" and not self.order:
            raise SpecProblem(("type",), "an ordinal attribute needs its `order` (values from lowest to highest)")
        if self.order is not None and self.type != "ordinal":
            raise SpecProblem(("order",), f"`order` applies to ordinal attributes only (this one is {self.type})")
        if self.order is not None and len(set(self.order)) != len(self.order):
            raise SpecProblem(("order",), "a value appears more than once in `order`")
        if self.aliases and self.type not in ("categorical", "ordinal"):
            raise SpecProblem(("aliases",), f"`aliases` applies to categorical and ordinal attributes only (this one "
                                            f"is {self.type})")
        for category in self.aliases:
            if self.order is not None and category not in self.order:
                raise SpecProblem(("aliases", category), f"{category!r} is not one of the attribute's `order`: an "
                                                         "ordinal value is read as one of its levels")
        self._check_towards()
        if self.bands is not None:
            if self.type != "numeric" or not self.protected:
                raise SpecProblem(("bands",), "`bands` applies to protected numeric attributes only")
            if len(self.bands) < 2 or any(b >= c for b, c in zip(self.bands, self.bands[1:], strict=False)):
                raise SpecProblem(("bands",), "`bands` needs at least two lower bounds, each above the one before")
        if self.log and self.type != "numeric":
            raise SpecProblem(("log",), "`log` applies to numeric attributes only")
        if self.number_in_text and self.type != "numeric":
            raise SpecProblem(("number_in_text",), f"`number_in_text` applies to numeric attributes only (this one "
                                                   f"is {self.type})")
        if self.unit and self.type != "numeric":
            raise SpecProblem(("unit",), f"`unit` applies to numeric attributes only (this one is {self.type})")
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and self.type != "numeric":
                raise SpecProblem((bound,), f"`{bound}` applies to numeric attributes only (this one is {self.type})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SpecProblem(("max",), f"max {self.max:g} is below min {self.min:g}")
        if self.special and self.type != "numeric":
            raise SpecProblem(("special",), f"`special` applies to numeric attributes only (this one is {self.type})")
        for value, meaning in self.special.items():
            try:
                float(value)
            except ValueError:
                raise SpecProblem(("special", value), f"{value!r} is not a number: special values are numbers "
                                                      "that stand for something else") from None
            if not meaning.strip():
                raise SpecProblem(("special", value), "say what the value means (it is what a reason shows)")
        want = {"credit_line": "numeric", "income": "numeric", "joined_at": "date"}
        if self.role is not None and want[self.role] != self.type:
            raise SpecProblem(("role",), f"role {self.role} needs a {want[self.role]} attribute, not {self.type}")
        return self


    def _check_towards(self) -> None:
        """`improve_towards` names categories an advice text moves to: on a categorical or ordinal attribute
        with that text, each once, each a declared level (an ordinal's) and never a way of writing one."""
        if not self.improve_towards:
            return
        if self.type not in ("categorical", "ordinal"):
            raise SpecProblem(("improve_towards",), f"`improve_towards` applies to categorical and ordinal "
                                                    f"attributes only (this one is {self.type})")
        if not self.improve:
            raise SpecProblem(("improve_towards",), "`improve_towards` says where the `improve` text moves a "
                                                    "person: give that text too")
        written = self.alias_map
        for i, category in enumerate(self.improve_towards):
            if category in self.improve_towards[:i]:
                raise SpecProblem(("improve_towards", i), f"{category!r} is listed twice")
            if self.order is not None and category not in self.order:
                raise SpecProblem(("improve_towards", i), f"{category!r} is not one of the attribute's `order` "
                                                          f"({', '.join(self.order)})")
            if written.get(category, category) != category:
                raise SpecProblem(("improve_towards", i), f"{category!r} is a way of writing {written[category]!r}"
                                                          ": name the category as stored")
        if self.order is not None and set(self.improve_towards) == set(self.order):
            raise SpecProblem(("improve_towards",), "every level is listed: the advice would never be given")


class Profile(FileSection):
    id_column: OptionalColumn = "person_id"
    """The column that identifies a person; "" for files with one row per person and no id: the row
    number (1, 2, ...) becomes the person's id."""
    valid_from: OptionalColumn = None
    """Attribute history: the column holding when each row's values became true. A person's profile as of
    T is the row valid strictly before T; rows without a date hold since always."""
    ignore: list[str] = []
    """Columns of the file that are not used (kept out of the data set entirely)."""
    attributes: list[Attribute] = []

    @model_validator(mode="after")
    def _check(self) -> Profile:
        unique([a.name for a in self.attributes], ("attributes",), "name")
        names = {a.name for a in self.attributes}
        for i, a in enumerate(self.attributes):
            if a.code_feature in names:
                raise SpecProblem(("attributes", i, "special"), f"its special values' feature {a.code_feature!r} "
                                                                "is also an attribute's name: rename that one")
        unique([a.source_column for a in self.attributes], ("attributes",), "column")
        not_ignored(self.ignore, [self.id_column, self.valid_from, *(a.source_column for a in self.attributes)])
        for i, a in enumerate(self.attributes):
            if a.name in RESERVED:
                raise SpecProblem(("attributes", i, "name"), f"{a.name!r} is reserved: choose another name")
        for role in ("credit_line", "income", "joined_at"):
            holders = [i for i, a in enumerate(self.attributes) if a.role == role]
            if len(holders) > 1:
                raise SpecProblem(("attributes", holders[1], "role"), f"only one attribute may have role {role}")
        if self.valid_from and self.id_column is None:
            raise SpecProblem(("valid_from",), "attribute history needs an id_column (a person has several rows)")
        return self


class MoreProfile(FileSection):
    """Another file about the same people (a KYC table beside the application, a bureau's monthly summary):
    its attributes join the profile by the person's id (`ingest --people NAME=FILE`). One row per person,
    or, with valid_from, one per version."""

    id_column: str
    """The column naming the person, as the main profile's id column does."""
    valid_from: OptionalColumn = None
    """This file's own attribute history: the column holding when each row's values became true (empty:
    since always). A profile as of T then holds each file's version valid strictly before T."""
    join_on: OptionalColumn = None
    """Where the file describes something people share rather than each person (their district, their
    branch, their product): the column of the main profile file whose values this file's id_column holds.
    Each person gets the row of their value (none where the file has no row for it); each value has one
    row, or, with valid_from, one per version (a district's yearly figures: a person as of T holds the
    version valid strictly before T of the value their profile holds then). Empty: the person's id."""
    ignore: list[str] = []
    attributes: list[Attribute] = []

    @model_validator(mode="after")
    def _check(self) -> MoreProfile:
        unique([a.source_column for a in self.attributes], ("attributes",), "column")
        not_ignored(self.ignore, [self.id_column, self.valid_from, *(a.source_column for a in self.attributes)])
        return self
