"""The run configuration: one pydantic object, from TOML or JSON, overridden by options, written beside runs."""

from __future__ import annotations

import json
from datetime import date

import pytest

from deepcredit.config import (
    OtherDataError,
    RunConfig,
    check_recorded_data,
    load_config,
    parse_member_params,
    record_differences,
    recorded_run,
    with_overrides,
    write_run_record,
)
from deepcredit.data.validate import DataValidationError

TOML = """
data = "uci"
model = "stack"
exclude_dimensions = ["social_connections"]
seed = 3

[split]
kind = "holdout"
fraction = 0.25

[member_params.scorecard]
iv_min = 0.01

[stack]
folds = 3
"""


def test_toml_and_json_give_the_same_config(tmp_path):
    (tmp_path / "run.toml").write_text(TOML)
    cfg = load_config(tmp_path / "run.toml")
    assert cfg.split.kind == "holdout" and cfg.split.fraction == 0.25 and cfg.stack.folds == 3
    assert cfg.member_params == {"scorecard": {"iv_min": 0.01}} and cfg.exclude_dimensions == ["social_connections"]
    (tmp_path / "run.json").write_text(json.dumps(cfg.to_dict()))
    assert load_config(tmp_path / "run.json") == cfg
    # the config.json written beside an artifact loads back as the same config
    written = write_run_record(tmp_path / "art", cfg, "abc")
    record = json.loads(written.read_text())
    assert record["data_fingerprint"] == "abc" and "pandas" in record["versions"]
    assert load_config(written) == cfg


def test_options_override_the_file_and_none_leaves_it():
    cfg = RunConfig(stack={"folds": 3}, seed=1)
    out = with_overrides(cfg, {"stack.folds": None, "seed": 7, "split.kind": "time", "split.test_from": "2025-01-01",
                               "exclude_features": "a, b"})
    assert out.stack.folds == 3 and out.seed == 7 and out.split.test_from == date(2025, 1, 1)
    assert out.exclude_features == ["a", "b"]


def test_bad_configs_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[split]\nkind = 'holdout'\nfraction = 1.5\n")
    with pytest.raises(DataValidationError, match=r"bad\.toml.*split\.fraction"):
        load_config(bad)
    bad.write_text("no_such_setting = 1\n")
    with pytest.raises(DataValidationError, match="no_such_setting"):
        load_config(bad)
    bad.write_text("[split]\nkind = 'time'\n")
    with pytest.raises(DataValidationError, match="test_from"):
        load_config(bad)
    bad.write_text("data = \n")
    with pytest.raises(DataValidationError, match="unreadable"):
        load_config(bad)


def test_member_params_from_the_command_line():
    assert parse_member_params(["scorecard.iv_min=0.01", "gbdt.n_estimators=300", "sequence.cell=lstm"]) == {
        "scorecard": {"iv_min": 0.01}, "gbdt": {"n_estimators": 300}, "sequence": {"cell": "lstm"}}
    with pytest.raises(ValueError, match="KIND.PARAM=VALUE"):
        parse_member_params(["iv_min=0.01"])


def test_a_run_record_gives_its_fingerprint_and_versions_and_a_hand_written_config_none(tmp_path):
    cfg = RunConfig(data="uci", seed=3)
    path = write_run_record(tmp_path, cfg, "f" * 64)
    recorded = recorded_run(path)
    assert recorded["data_fingerprint"] == "f" * 64 and recorded["versions"]["numpy"]
    assert load_config(path).seed == 3  # the same file still reads as its config
    (tmp_path / "run.toml").write_text('data = "uci"\n')
    (tmp_path / "plain.json").write_text('{"data": "uci"}')
    assert recorded_run(tmp_path / "run.toml") == {} and recorded_run(tmp_path / "plain.json") == {}
    assert record_differences(recorded, ("f" * 64,), recorded["versions"]) == []
    notes = record_differences(recorded, ("a" * 64,), {**recorded["versions"], "numpy": "0.0"})
    assert len(notes) == 2 and "fingerprint aaaaaaaaaaaa, recorded ffffffffffff" in notes[0]
    assert notes[1].endswith(f"numpy 0.0 (recorded {recorded['versions']['numpy']})")
    assert recorded["code"]["fingerprint"] and recorded["code"]["python"].startswith("3.")
    other = record_differences(recorded, ("f" * 64,), recorded["versions"], {"fingerprint": "b" * 64, "python": "3.0"})
    assert len(other) == 2 and "code differs" in other[0] and "bbbbbbbbbbbb" in other[0] and "Python 3.0" in other[1]


def test_an_artifacts_manifest_given_as_config_is_refused_naming_the_config_json_beside_it(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"artifact_format": 3, "kind": "stack",
                                                        "config": {"data": "w", "kind": "stack"}}))
    with pytest.raises(DataValidationError, match="pass the config.json beside it"):
        load_config(tmp_path / "manifest.json")


def test_recorded_data_with_another_fingerprint_is_refused_naming_both_unless_allowed(tmp_path):
    recorded = recorded_run(write_run_record(tmp_path, RunConfig(data="w"), "f" * 64))
    assert check_recorded_data(recorded, ("f" * 64,)) is None and check_recorded_data({}, ("a" * 64,)) is None
    with pytest.raises(OtherDataError, match=f"fingerprint {'a' * 64}.*fingerprint {'f' * 64}"):
        check_recorded_data(recorded, ("a" * 64,))
    other = check_recorded_data(recorded, ("a" * 64,), allow_other_data=True)
    assert other is not None and other["config_data_fingerprint"] == "f" * 64 and other["data_fingerprint"] == "a" * 64


def test_recorded_data_match_any_fingerprint_the_data_are_known_by(tmp_path):
    """A data set is known by its content fingerprint and its byte one (Dataset.fingerprints): a run recorded
    before content fingerprints names the byte one, and is not refused or noted as run on other data."""
    recorded = recorded_run(write_run_record(tmp_path, RunConfig(data="w"), "f" * 64))
    known = ("c" * 64, "f" * 64)  # its own first, then the byte one the record names
    assert check_recorded_data(recorded, known) is None
    assert record_differences(recorded, known, recorded["versions"]) == []
    with pytest.raises(OtherDataError, match=f"fingerprint {'c' * 64}\\)"):
        check_recorded_data(recorded, ("c" * 64, "b" * 64))
    other = check_recorded_data(recorded, ("c" * 64, "b" * 64), allow_other_data=True)
    assert other is not None and other["data_fingerprint"] == "c" * 64
    assert "fingerprint cccccccccccc, recorded ffffffffffff" in record_differences(recorded, ("c" * 64,), {})[0]


def test_a_bare_fingerprint_str_is_refused_not_matched_as_a_sequence_of_its_characters(tmp_path):
    """The data's fingerprints are always a sequence (Dataset.fingerprints): a lone str is a Sequence[str] too,
    and `in` it would match any piece of it, so it is refused, recorded or not."""
    recorded = recorded_run(write_run_record(tmp_path, RunConfig(data="w"), "f" * 64))
    for record in (recorded, {}):
        with pytest.raises(TypeError, match="not one str"):
            check_recorded_data(record, "f" * 64)
        with pytest.raises(TypeError, match="not one str"):
            record_differences(record, "f" * 64, {}, {})
