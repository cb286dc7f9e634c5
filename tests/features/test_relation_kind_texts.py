"""Relation kinds described in the spec ([relations.kind_texts.<kind>]): a kind's `connections_<kind>` feature
carries its declared words, advice and risk direction into reasons; an undescribed kind keeps the generic
ones; a bad description is refused at its file, line and field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests.scoring.fake_model import FakeModel

from deepcredit.data.spec import BUILTIN, SpecError, builtin_spec, parse_spec, spec_from_toml
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.templates import AGAINST_ADVICE, NETWORK, features_for
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.scorer import reason_table

SPEC = """spec_version = 1
name = "links"

[relations]
kinds = ["contact", "guarantor", "shared_device"]
directed = false
weighted = false
groups = ["phone"]

[relations.kind_texts.guarantor]
description = "how many people guarantee your loans"
improve = "Ask someone who knows your finances to guarantee your loan."
risk_direction = -1

[relations.kind_texts.shared_device]
description = "how many people use the same device as you"
improve = "Use a device of your own."
risk_direction = 1

[relations.kind_texts.same_phone]
description = "how many people share your phone number"

[outcomes]
window_days_column = "window_days"
"""
GUARANTOR = "Ask someone who knows your finances to guarantee your loan."


def _defs() -> dict:
    return {f.name: f for f in features_for(spec_from_toml(SPEC)) if f.name.startswith("connections_")}


def test_a_described_kind_carries_its_words_and_direction_and_an_undescribed_one_the_generic_ones():
    defs = _defs()
    g, d, phone, contact = (defs[f"connections_{k}"] for k in ("guarantor", "shared_device", "same_phone", "contact"))
    assert (g.description, g.improve, g.risk_direction) == ("how many people guarantee your loans", GUARANTOR, -1)
    assert (d.description, d.improve, d.risk_direction) == ("how many people use the same device as you",
                                                            "Use a device of your own.", 1)
    assert (phone.description, phone.improve, phone.risk_direction) == ("how many people share your phone number",
                                                                        NETWORK, 0)  # a kind read from people
    assert (contact.description, contact.improve, contact.risk_direction, contact.improve_direction) == (
        "how many of your connections are contact links", NETWORK, 0, 0)


def test_reasons_read_the_declared_words_and_the_advice_follows_the_declared_direction():
    """guarantor (more is safer): few links costing points get the declared advice, many (far on the safe side)
    none; shared device (more is riskier): none at all is no reason, some get the declared advice; contact
    (undescribed) keeps the generic words and advice."""
    all_defs = _defs()
    defs = [all_defs[f"connections_{k}"] for k in ("guarantor", "shared_device", "contact")]
    frame = pd.DataFrame({"person_id": ["few", "many"], "as_of": pd.Timestamp("2025-01-01"), "label": [1, 0],
                          "connections_guarantor": [0.0, 6.0], "connections_shared_device": [3.0, 0.0],
                          "connections_contact": [2.0, 2.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    model = FakeModel(defs, np.array([[0.4, 0.3, 0.2], [0.4, 0.3, 0.2]]))  # every count costs points
    model.reference_ = {"connections_guarantor": 1.0, "connections_shared_device": 1.0, "connections_contact": 2.0}
    model.spread_ = {"connections_guarantor": 1.0, "connections_shared_device": 1.0, "connections_contact": 1.0}
    reasons = reason_table(model, inp, model.explain(inp), ScoreScale(), top=4)
    said = {(r.person_id, r.feature): (r.reason, r.how_to_improve) for r in reasons.itertuples()}
    assert said[("few", "connections_guarantor")] == ("how many people guarantee your loans", GUARANTOR)
    assert said[("many", "connections_guarantor")][1] == AGAINST_ADVICE
    assert said[("few", "connections_shared_device")] == ("how many people use the same device as you",
                                                          "Use a device of your own.")
    assert ("many", "connections_shared_device") not in said  # none to drop: no reason
    assert said[("few", "connections_contact")] == ("how many of your connections are contact links", NETWORK)


def test_a_described_spec_keeps_its_words_when_stored_and_an_undescribed_one_its_stored_text():
    spec = spec_from_toml(SPEC)
    stored = json.loads(spec.stored().to_json())
    assert stored["relations"]["kind_texts"]["same_phone"]["description"] == "how many people share your phone number"
    assert parse_spec(stored).relations.kind_texts == spec.relations.kind_texts  # a stored data set reads it back
    plain = spec_from_toml(SPEC.split("[relations.kind_texts.guarantor]")[0] + '[outcomes]\nwindow_days_column = '
                                                                             '"window_days"\n')
    assert "kind_texts" not in plain.to_json()  # the fingerprint of a spec without them is unchanged


def _bad(old: str, new: str) -> str:
    assert old in SPEC
    return SPEC.replace(old, new, 1)


@pytest.mark.parametrize("text, line, field, words", [
    (_bad("kind_texts.same_phone]", "kind_texts.gurantor]"), 20, "relations.kind_texts.gurantor",
     "'gurantor' is not a relation kind of the spec (contact, guarantor, shared_device, same_phone)"),
    (_bad('kinds = ["contact", "guarantor", "shared_device"]', "kinds = []"), 10,
     "relations.kind_texts.guarantor", "list the relation kinds under `kinds`"),
    (_bad('kinds = ["contact", "guarantor", "shared_device"]', 'kinds = ["guarantor"]').replace(
        'groups = ["phone"]', "").split("[relations.kind_texts.shared_device]")[0] + "[outcomes]\n",
     10, "relations.kind_texts.guarantor", "one kind alone is counted by the degree"),
    (_bad('kinds = ["contact", "guarantor", "shared_device"]', 'kinds = ["contact", "guarantor", "shared device", "shared_device"]'),
     15, "relations.kind_texts.shared_device", "counted together with an earlier kind of the same label"),
    (_bad("risk_direction = -1", "risk_direction = -1\nimprove_direction = 1"), 14,
     "relations.kind_texts.guarantor.improve_direction", "improve_direction applies where risk_direction is 0"),
    (_bad("risk_direction = 1", "risk_direction = 2"), 18, "relations.kind_texts.shared_device.risk_direction",
     "2 is not allowed"),
    (_bad("risk_direction = 1", 'risk_direction = "riskier"'), 18,
     "relations.kind_texts.shared_device.risk_direction", "'riskier' is not allowed"),
    (_bad('description = "how many people share your phone number"', 'description = "  "'), 21,
     "relations.kind_texts.same_phone.description", "a blank text"),
    (_bad("risk_direction = 1", "direction = 1"), 18, "relations.kind_texts.shared_device.direction",
     "unknown field 'direction'"),
])
def test_a_bad_kind_description_is_refused_at_its_file_line_and_field(text, line, field, words):
    with pytest.raises(SpecError) as err:
        spec_from_toml(text, "mine.toml")
    e = err.value
    assert (e.file, e.line, e.field) == ("mine.toml", line, field), str(e)
    assert words in str(e), str(e)


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_every_kind_a_shipped_spec_counts_on_its_own_has_its_own_words(kind: str) -> None:
    """The worked examples describe what they count: a reason never reads 'shared device links'."""
    spec = builtin_spec(kind)
    for relation_kind, _ in spec.relations.counted_kinds if spec.relations else []:
        assert spec.relations.kind_texts.get(relation_kind, None) is not None, (kind, relation_kind)
        assert spec.relations.kind_texts[relation_kind].description, (kind, relation_kind)
