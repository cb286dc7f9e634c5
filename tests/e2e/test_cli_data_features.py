"""End to end through the command line: simulate, load the bundled data, build features for all three."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset
from deepcredit.features.engine import FeatureFrame

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_features_for_simulated_uci_and_otc(tmp_path):
    _ok(["simulate", "--people", "800", "--seed", "3", "--chunk-size", "400", "--out", str(tmp_path / "sim")])
    _ok(["load", "uci", "--out", str(tmp_path / "uci")])
    _ok(["load", "otc", "--out", str(tmp_path / "otc")])
    expected_rows = {"sim": 800, "uci": 30_000, "otc": 48_423}
    for name, rows in expected_rows.items():
        out = tmp_path / f"{name}.parquet"
        _ok(["features", "--data", str(tmp_path / name), "--out", str(out)])
        ff = FeatureFrame.load(out)
        assert len(ff.frame) == rows
        assert set(ff.meta) >= {"data_fingerprint", "versions", "dataset"}
        assert not set(ff.names) & {"sex", "age", "marital_status"}  # protected: never features


def test_features_as_of_a_chosen_date(tmp_path):
    _ok(["simulate", "--people", "300", "--seed", "1", "--out", str(tmp_path / "sim")])
    out = tmp_path / "today.parquet"
    _ok(["features", "--data", str(tmp_path / "sim"), "--out", str(out), "--as-of", "2025-06-01",
         "--features", "n_bad_90d,degree"])
    frame = pd.read_parquet(out)
    assert len(frame) == 300 and (frame["as_of"] == pd.Timestamp("2025-06-01")).all()
    assert list(frame.columns) == ["person_id", "as_of", "label", "n_bad_90d", "degree"]
    # a name the data set does not have: one line naming it and the names it has, nothing written
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "sim"), "--out", str(tmp_path / "x.parquet"),
                                 "--features", "n_bad_90d,bill_slope_90d"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "unknown feature(s): bill_slope_90d" in result.output and "bill_slope_180d" in result.output
    assert not (tmp_path / "x.parquet").exists()


def test_unknown_data_set_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 2
    assert "manifest.json is missing" in result.output
    assert not (tmp_path / "f.parquet").exists()


def _otc_format(path, header: bool) -> None:
    """A small signed-rating network in OTC's format: 40 traders rating each other over two years."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 600
    src, dst = rng.integers(1, 41, n), rng.integers(1, 41, n)
    keep = src != dst
    t0 = int(pd.Timestamp("2014-01-01").timestamp())
    rows = pd.DataFrame({"SOURCE": src[keep], "TARGET": dst[keep],
                         "RATING": rng.choice([-10, -6, -1, 1, 2, 5, 10], keep.sum()),
                         "TIME": np.sort(t0 + rng.integers(0, 730 * 86400, keep.sum()))})
    rows.to_csv(path, index=False, header=header)


def test_load_a_path_in_otc_format_with_and_without_header(tmp_path):
    for header in (True, False):
        src = tmp_path / f"ratings-{header}.csv"
        _otc_format(src, header)
        out = tmp_path / f"ds-{header}"
        _ok(["load", str(src), "--out", str(out), "--threshold", "-5", "--cadence", "QS"])
        ds = Dataset(out)
        outcomes = ds.read("outcomes")
        assert outcomes["as_of"].nunique() >= 6 and outcomes["label"].sum() > 0
        assert ds.spec.relations is not None and ds.spec.relations.signed
        feats = tmp_path / f"f-{header}.parquet"
        _ok(["features", "--data", str(out), "--out", str(feats)])
        assert "incoming_negative_share" in FeatureFrame.load(feats).names
    a, b = (Dataset(tmp_path / f"ds-{h}").read("outcomes") for h in (True, False))
    pd.testing.assert_frame_equal(a, b)  # the header changes nothing


def test_load_a_monthly_cadence_and_a_fixed_window(tmp_path):
    src = tmp_path / "r.csv"
    _otc_format(src, header=False)
    _ok(["load", str(src), "--out", str(tmp_path / "m"), "--cadence", "MS", "--window-days", "30"])
    out = Dataset(tmp_path / "m").read("outcomes")
    assert out["as_of"].nunique() >= 20 and (out["window_days"] == 30).all()


def test_load_an_unknown_name_or_a_bad_file_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["load", "nope", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "neither a bundled data set" in result.output
    assert len(result.output.strip().splitlines()) <= 2 and "Traceback" not in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,5,1400000000\n3,4,x,1400000001\n")
    result = runner.invoke(app, ["load", str(bad), "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "row 2 (line 2)" in result.output and "RATING" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_german_credit_through_the_cli_from_draft_to_features(tmp_path):
    import gzip
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    raw = gzip.decompress((root / "src/deepcredit/data/datasets/files/german_credit.csv.gz").read_bytes())
    (tmp_path / "german_credit.csv").write_bytes(raw)
    _ok(["spec", "draft", str(tmp_path / "german_credit.csv"), "--out", str(tmp_path / "draft.toml")])
    checked = " ".join(_ok(["spec", "check", str(tmp_path / "draft.toml")]).split())
    # the walkthrough quotes this draft's warning and a typo's error at their lines: they must stay true
    page = " ".join((root / "docs/bring-your-own-data.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"`warning: (\d+ TODO markers left in the spec \(lines [\d, ]+), \.\.\.\)", page)
    assert quoted and quoted.group(1) in checked, checked
    spec = root / "docs/examples/german_credit.toml"
    typo = spec.read_text(encoding="utf-8").replace('dimension = "credit_history"', 'dimension = "credit-history"')
    (tmp_path / "typo.toml").write_text(typo, encoding="utf-8")
    said = runner.invoke(app, ["spec", "check", str(tmp_path / "typo.toml")]).output
    error = re.search(r"error: typo.toml, (line \d+, field '[^']+')", page)
    assert error and error.group(1) in " ".join(said.split()), said
    _ok(["ingest", "--spec", str(spec), "--people", str(tmp_path / "german_credit.csv"), "--out", str(tmp_path / "g")])
    _ok(["validate", str(tmp_path / "g")])
    _ok(["features", "--data", str(tmp_path / "g"), "--out", str(tmp_path / "g.parquet")])
    ff = FeatureFrame.load(tmp_path / "g.parquet")
    assert len(ff.frame) == 1000 and len(ff.names) == 17
    assert not {"personal_status_and_sex", "age_in_years", "foreign_worker"} & set(ff.names)
    assert {str(f.dimension) for f in ff.definitions} == {"identity", "credit_history", "fulfilment_capacity",
                                                          "behaviour_preferences", "social_connections"}
    assert ff.frame["label"].sum() == 300


def test_spec_check_lists_the_features_a_spec_gives_in_its_declared_windows(tmp_path):
    weekly = ('spec_version = 1\nname = "weekly"\n\n[windows]\nperiod = 7\nrecent = 14\nmedium = 28\nlong = 56\n\n'
              '[events.kinds]\nbill = { amount = "owed" }\n\n[events.statuses]\nok = { meaning = "kept" }\n'
              'late = { meaning = "late" }\n\n[outcomes]\nwindow_days_column = "window_days"\n')
    (tmp_path / "weekly.toml").write_text(weekly)
    shown = " ".join(_ok(["spec", "check", str(tmp_path / "weekly.toml"), "--features"]).split())
    assert "history windows: period 7, recent 14, medium 28, long 56 days" in shown
    assert "n_bad_14d" in shown and "n_bad_56d" in shown and "2 weeks" in shown  # texts wrap in the table
    assert "each event, as the sequence members read it: kind, status, amount (signed log)" in shown
    measured = weekly.replace("[events.statuses]", '[[events.measures]]\nname = "channel"\ntype = "categorical"\n'
                              'values = { atm = { description = "how often you used a cash machine" } }\n\n'
                              '[events.statuses]')
    (tmp_path / "measured.toml").write_text(measured)
    shown = " ".join(_ok(["spec", "check", str(tmp_path / "measured.toml")]).split())
    assert "(pretrained and hybrid members), channel=atm" in shown and "do not read it" not in shown
