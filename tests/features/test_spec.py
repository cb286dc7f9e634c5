"""Protection of a feature: a spec's declaration is the authority; the fixed names only for undeclared ones."""

from __future__ import annotations

import numpy as np
import pytest

from deepcredit.data.schema import Dimension
from deepcredit.data.spec import builtin_spec
from deepcredit.data.spec_profile import Attribute
from deepcredit.features.spec import FeatureDef, Source, in_currency
from deepcredit.features.templates import NOT_ACTIONABLE, attribute_feature


def _def(name: str, protected: bool | None = None) -> FeatureDef:
    return FeatureDef(name, Dimension.IDENTITY, Source.PROFILE, f"MAX({name})", name, "-", protected=protected)


@pytest.mark.parametrize(("kind", "protected"), [
    ("uci", {"sex", "age", "marital_status"}), ("simulator", {"sex", "age", "marital_status"}),
    ("german", {"personal_status_and_sex", "age_in_years", "foreign_worker"}),
])
def test_the_bundled_specs_protected_attributes_stay_protected(kind, protected):
    flagged = {a.name for a in builtin_spec(kind).profile.attributes if attribute_feature(a).is_protected()}
    assert flagged == protected


def test_a_declaration_wins_over_the_legacy_names():
    assert not _def("age", protected=False).is_protected()  # a spec may call an ordinary column `age`
    assert _def("religion", protected=True).is_protected()


def test_undeclared_definitions_keep_the_legacy_rule_also_when_stored_before_declarations():
    assert _def("Sex").is_protected() and _def("marital_status").is_protected()
    assert not _def("income").is_protected()
    stored = {k: v for k, v in _def("age").to_dict().items() if k != "protected"}  # an artifact from before
    assert FeatureDef.from_dict(stored).is_protected()
    declared = _def("age", protected=False)
    assert FeatureDef.from_dict(declared.to_dict()) == declared


def test_a_reason_writes_a_value_in_its_features_unit():
    from deepcredit.features.templates import features_for

    def shown(unit: str, value: object) -> object:
        return FeatureDef("f", Dimension.CREDIT_HISTORY, Source.EVENTS, "1", "d", "i", unit=unit).label(value)

    assert [shown("days", 408.0), shown("days", 1.0), shown("share", 0.754), shown("count", 5.0),
            shown("money", 1250.5), shown("yes_no", 1.0), shown("log1p", float(np.log1p(5951)))] == \
        ["408 days", "1 day", "75%", "5", "1,250.50", "yes", "5,951"]
    assert shown("", 0.1234) == 0.1234 and shown("days", None) is None  # no unit, or missing: as it is
    # a unit a spec declares for an attribute, in words, also after a log
    assert [shown("months", 48.0), shown("log1p:DM", float(np.log1p(1250))), shown("DM", 0.5), shown("%", 13.56)] == \
        ["48 months", "1,250 DM", "0.5 DM", "13.56%"]
    units = {f.name: f.unit for f in features_for(builtin_spec("simulator"))}
    assert units["history_days"] == "days" and units["bad_rate"] == "share" and units["amount_paid_180d"] == "money"
    # a value that can fall as well as rise shows its sign; a rate its period; money its declared currency
    assert [shown("signed:days per month", 0.05513), shown("signed:money per month", -45.27),
            shown("signed:percentage_points", 0.2157), shown("count per month", 2.5), shown("money:EUR", 437.27),
            shown("signed:money:EUR per week", -3.0), shown("signed:money", 0.0), shown("km per h", 12.5)] == \
        ["+0.06 days per month", "-45.27 per month", "+21.6 percentage points", "2.5 per month", "437.27 EUR",
         "-3.00 EUR per week", "0.00", "12.5 km per h"]
    assert [in_currency(u, "EUR") for u in ("money", "signed:money per month", "log1p:money", "days", "moneys")] == \
        ["money:EUR", "signed:money:EUR per month", "log1p:money:EUR", "days", "moneys"]
    assert in_currency("money", "") == "money"


def test_an_attribute_declared_not_actionable_gives_no_advice_whatever_its_improve_text():
    said = dict(name="past_credits", type="categorical", dimension="credit_history",
                description="how you repaid your earlier credits", improve="Repay every credit on time.")
    assert attribute_feature(Attribute(**said, actionable=False)).improve == NOT_ACTIONABLE
    assert attribute_feature(Attribute(**said)).improve == "Repay every credit on time."
    assert attribute_feature(Attribute(**{**said, "improve": ""})).improve != NOT_ACTIONABLE  # its dimension's advice
