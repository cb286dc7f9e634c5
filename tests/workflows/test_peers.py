"""`deepcredit peers`: a user's data set, DeepCredit's models and the peers on the same folds."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import DatasetSpec, Outcomes
from deepcredit.data.spec_profile import Attribute, Profile
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


def _loans(tmp_path, n: int = 500, **extra: object) -> tuple:
    """Loans issued over two years with a year's window; a customer may borrow again (ids repeat)."""
    import numpy as np

    from deepcredit.data.draft import draft_spec
    from deepcredit.data.spec import spec_from_toml

    rng = np.random.default_rng(5)
    grade = rng.choice(list("ABCD"), n)
    bad = rng.random(n) < np.select([grade == "A", grade == "B", grade == "C"], [0.05, 0.15, 0.3], 0.45)
    issued = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(n)], "issue_d": issued.strftime("%Y-%m-%d"),
                  "grade": grade, "income": rng.normal(50, 10, n).round(1),
                  "default": bad.astype(int), **extra}).to_csv(tmp_path / "loans.csv", index=False)
    text = draft_spec(tmp_path / "loans.csv")
    for name in extra:  # declared as attributes, as a spec written by hand may (the draft leaves empty ones out)
        text = text.replace(f'ignore = ["{name}"]', "ignore = []").replace("\n[outcomes]", (
            f'\n[[profile.attributes]]\nname = "{name}"\ntype = "numeric"\ndimension = "identity"\n'
            f'description = "your {name}"\nimprove = ""\n\n[outcomes]'), 1)
    spec = spec_from_toml(text)
    return ingest_with_spec(spec, {"people": tmp_path / "loans.csv"}, tmp_path / "ds"), issued


def test_dated_loans_against_the_peers_over_time_from_the_command_line(tmp_path):
    ds, issued = _loans(tmp_path)
    result = runner.invoke(app, ["peers", "--data", str(ds.root), "--out", str(tmp_path / "out"), "--test-from",
                                 "2023-07-01", "--exclude-members", "wide_deep", "--member-param",
                                 "gbdt.n_estimators=30"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "peers.json").read_text())
    cut = pd.Timestamp("2023-07-01")
    late = int(((issued < cut) & (issued + pd.Timedelta(days=365) > cut)).sum())
    assert saved["test_rows"] == int((issued >= cut).sum()) and saved["unmatured_rows"] == late > 0
    assert saved["train_rows"] == 500 - late - saved["test_rows"] and "time split" in saved["split"]
    assert {"stack", "scorecard", "peer:optbinning", "peer:lightgbm"} <= set(saved["models"])
    assert f"{late:,} earlier rows trained nothing" in " ".join(result.output.split())
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["config"]["split"] == {"kind": "time", "fraction": 0.3, "seed": None, "test_from": "2023-07-01"}
    refused = runner.invoke(app, ["peers", "--data", str(ds.root), "--out", str(tmp_path / "o2"), "--test-from",
                                  "2023-07-01", "--cv"])
    assert refused.exit_code == 2 and "mixes times" in refused.output


def test_an_empty_column_is_left_out_of_the_peers_with_its_name(tmp_path):
    """optbinning's prebinning crashed on a declared column with no value ("Found array with 0 sample(s)")."""
    ds, _ = _loans(tmp_path, fax="")
    assert "fax" in [a.name for a in ds.spec.profile.attributes]
    result = runner.invoke(app, ["peers", "--data", str(ds.root), "--out", str(tmp_path / "out"),
                                 "--exclude-members", "wide_deep", "--member-param", "gbdt.n_estimators=30"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "peers.json").read_text())
    assert saved["peer_left_out"] == {"fax": "no value in the training rows"}
    assert "fax left out of the peers (no value in the training rows)" in " ".join(result.output.split())
    assert {"peer:optbinning", "peer:lightgbm"} <= set(saved["models"])


def test_the_peers_read_each_rows_profile_as_of_its_date(tmp_path):
    from deepcredit.features.bundle import build_model_input
    from deepcredit.workflows.benchmarks.declared import raw_inputs

    spec = DATED.model_copy(update={"profile": Profile(valid_from="since", attributes=DATED.profile.attributes)})
    pd.DataFrame({"person_id": ["a", "a", "b", "c"], "since": ["", "2024-01-15", "2024-03-01", "2024-02-01"],
                  "city": ["Lyon", "Oslo", "Rome", "Paris"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "a", "b", "b", "c"],
                  "as_of": ["2024-01-01", "2024-02-01", "2024-02-01", "2024-04-01", "2024-02-01"],
                  "bad": [0, 1, 0, 1, 0]}).to_csv(tmp_path / "outcomes.csv", index=False)
    ds = ingest_with_spec(spec, {"people": tmp_path / "people.csv", "outcomes": tmp_path / "outcomes.csv"},
                          tmp_path / "ds")
    inp = build_model_input(ds, views=("tabular",))
    seen = dict(zip(zip(inp.keys["person_id"], inp.keys["as_of"].dt.strftime("%m"), strict=True),
                    raw_inputs(ds, inp)["city"].astype(object).where(lambda s: s.notna(), None), strict=True))
    # c's version dated on the as-of day itself is not seen: strictly before, as the features read it
    assert seen == {("a", "01"): "Lyon", ("a", "02"): "Oslo", ("b", "02"): None, ("b", "04"): "Rome",
                    ("c", "02"): None}
    features = inp.X["city"].astype(object).where(inp.X["city"].notna(), None).tolist()
    assert features == list(seen.values())


def test_dated_loans_against_the_peers_by_rolling_origin(tmp_path):
    ds, issued = _loans(tmp_path)
    result = runner.invoke(app, ["peers", "--data", str(ds.root), "--out", str(tmp_path / "out"), "--rolling", "3",
                                 "--period", "quarter", "--exclude-members", "wide_deep", "--member-param",
                                 "gbdt.n_estimators=30"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "peers.json").read_text())
    quarters = issued.to_period("Q").astype(str)
    assert saved["test_periods"] == ["2023Q2", "2023Q3", "2023Q4"]
    assert saved["test_rows"] == int(quarters.isin(saved["test_periods"]).sum())
    for m in ("stack", "scorecard", "peer:optbinning", "peer:lightgbm"):
        assert set(saved["models"][m]["auc_by_period"]) == set(saved["test_periods"]), m
        assert 0 < saved["models"][m]["auc"] < 1
    assert "2023Q4" in result.output and "pooled" in result.output
    assert set(saved["stack_chose_by_period"]) == set(saved["test_periods"])
    assert "the stack's combiner in each period" in " ".join(result.output.split())
    refused = runner.invoke(app, ["peers", "--data", str(ds.root), "--out", str(tmp_path / "o2"), "--rolling", "3",
                                  "--test-from", "2023-07-01"])
    assert refused.exit_code == 2 and "choose one" in refused.output
