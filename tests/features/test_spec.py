"""Protection of a feature: a spec's declaration is the authority; the fixed names only for undeclared ones."""

from __future__ import annotations

import pytest

from deepcredit.data.schema import Dimension
from deepcredit.data.spec import builtin_spec
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.features.templates import attribute_feature


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
