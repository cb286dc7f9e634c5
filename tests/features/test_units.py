"""A unit string (FeatureDef.unit, a spec's attribute unit, a saved artifact) is the serialised form of one
typed record, Unit: parsing it and writing it back gives the same string for every unit the bundled specs,
the pinned drafts and the catalogue hold, and shown_in reads the same text either way. No number shown
reads as a signed zero ('-0', '-0.00', '+0')."""

from __future__ import annotations

import contextlib
import re
import tomllib
from pathlib import Path

import pytest

from deepcredit.data.spec import BUILTIN, SpecError, builtin_spec, spec_from_toml
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.spec import Unit, in_currency, shown_in
from deepcredit.features.templates import features_for

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted((ROOT / "tests" / "data" / "pinned_drafts").glob("*.toml")) + [
    ROOT / "docs" / "examples" / "german_credit.toml"
]


def _declared(node: object) -> set[str]:
    """Every `unit = ...` a spec file writes, at any depth (a draft with placeholders left need not load)."""
    if isinstance(node, dict):
        own = {node["unit"]} if isinstance(node.get("unit"), str) else set()
        return own.union(*(_declared(v) for v in node.values()))
    return set().union(*(_declared(v) for v in node)) if isinstance(node, list) else set()


def _units() -> list[str]:
    specs = [builtin_spec(k) for k in BUILTIN]
    for p in SPEC_FILES:
        with contextlib.suppress(SpecError):  # a pinned draft may still hold the drafter's placeholders
            specs.append(spec_from_toml(p.read_text(), str(p)))
    found = {f.unit for s in specs for f in features_for(s)} | {f.unit for f in ALL_FEATURES}
    found |= {a.unit for s in specs for a in s.profile.attributes}
    found |= set().union(*(_declared(tomllib.loads(p.read_text())) for p in SPEC_FILES))
    return sorted((found | {in_currency(u, "EUR") for u in found}) - {""})


UNITS = _units()
SIGNED_ZERO = re.compile(r"[-+][0.,]+(?=[^\d.,]|$)")


def test_the_bundled_units_cover_every_kind_of_field() -> None:
    records = [Unit.parse(u) for u in UNITS]
    assert all(any(getattr(r, f) for r in records) for f in ("base", "currency", "per", "signed", "log1p"))


@pytest.mark.parametrize("unit", UNITS)
def test_a_unit_string_round_trips_through_its_record_and_reads_the_same(unit: str) -> None:
    record = Unit.parse(unit)
    assert str(record) == unit and Unit.parse(str(record)) == record
    for value in (
        0.0,
        1.0,
        2.5,
        -45.27,
        0.05513,
        437.27,
        12.5,
    ):  # a log1p feature holds a log: expm1 stays finite
        assert shown_in(record, value) == shown_in(unit, value)


def test_a_unit_string_parses_into_its_fields() -> None:
    assert [
        Unit.parse(u)
        for u in (
            "signed:money:EUR per week",
            "log1p:DM",
            "log1p",
            "km per h",
            "count per month",
            "signed:percentage_points",
            "foo:bar",
            "",
        )
    ] == [
        Unit("money", "EUR", "week", signed=True),
        Unit("DM", log1p=True),
        Unit(log1p=True),
        Unit("km", per="h"),
        Unit("count", per="month"),
        Unit("percentage_points", signed=True),
        Unit("foo:bar"),
        Unit(),
    ]


def test_no_number_reads_as_a_signed_zero() -> None:
    assert [
        shown_in("count", -0.3),
        shown_in("share", -0.001),
        shown_in("money:EUR", -0.001),
        shown_in("", -1e-7),
        shown_in("signed:money", 0.001),
        shown_in("signed:percentage_points", -1e-5),
        shown_in("days", -0.2),
    ] == ["0", "0%", "0.00 EUR", "0", "0.00", "0 percentage points", "0 days"]
    for unit in UNITS:
        for value in (-0.3, -0.004, -1e-7, 1e-7, 0.004, -0.0):
            shown = shown_in(unit, value)
            assert not SIGNED_ZERO.search(shown), (unit, value, shown)
    assert shown_in("signed:money", -0.01) == "-0.01" and shown_in(
        "signed:days per month", -0.004
    ).startswith("-")
