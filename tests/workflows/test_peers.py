"""`deepcredit peers`: a user's data set, DeepCredit's models and the peers on the same folds."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import Attribute, DatasetSpec, Outcomes, Profile
from deepcredit.data.validate import DataValidationError
from deepcredit.workflows.peers import compare_with_peers

runner = CliRunner()

DATED = DatasetSpec(name="dated", outcomes=Outcomes(label="bad", window_days=30),  # built in Python, as a spec may be
                    profile=Profile(attributes=[Attribute(name="city", type="categorical", dimension="identity")]))


def test_a_data_set_with_several_labelled_rows_per_person_is_refused_before_any_fit(tmp_path):
    pd.DataFrame({"person_id": ["a", "b"], "city": ["Lyon", "Oslo"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "a", "b"], "as_of": ["2024-01-01", "2024-02-01", "2024-01-01"],
                  "bad": [0, 1, 0]}).to_csv(tmp_path / "outcomes.csv", index=False)
    ds = ingest_with_spec(DATED, {"people": tmp_path / "people.csv",
                                                  "outcomes": tmp_path / "outcomes.csv"}, tmp_path / "ds")
    with pytest.raises(DataValidationError, match="1 labelled rows belong to a person seen in an earlier row"):
        compare_with_peers(ds, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_german_credit_against_the_peers_from_the_command_line(tmp_path):
    result = runner.invoke(app, ["peers", "--data", "german", "--out", str(tmp_path / "out"),
                                 "--member-param", "wide_deep.max_epochs=1", "--member-param",
                                 "gbdt.n_estimators=50", "--exclude-members", "wide_deep"])
    assert result.exit_code == 0, result.output
    for shown in ("peer:optbinning", "peer:lightgbm", "stack", "scorecard", "17 declared attributes"):
        assert shown in result.output
    saved = json.loads((tmp_path / "out" / "peers.json").read_text())
    assert saved["members"] == ["scorecard", "gbdt"] and saved["rows"] == 1000
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["config"]["member_params"]["gbdt"] == {"n_estimators": 50}
