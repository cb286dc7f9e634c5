"""A feature file is one Parquet file holding its own definitions, and `features --out` replaces only one."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.errors import DataValidationError
from deepcredit.data.schema import Dimension
from deepcredit.features.engine import META_KEY, FeatureFrame, check_features_out, feature_meta
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.workflows.evaluate import check_same_features

DEFS = [FeatureDef("x", Dimension.CREDIT_HISTORY, Source.EVENTS, "AVG(a)", "the average", "pay on time")]


def _frame(n: int = 3) -> FeatureFrame:
    frame = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "as_of": pd.Timestamp("2024-01-01"),
                          "label": [0, 1, 0][:n], "x": [1.0, 2.0, 3.0][:n]})
    return FeatureFrame(frame, list(DEFS), {"data_fingerprint": "f" * 64})


def test_the_definitions_travel_inside_the_parquet_file(tmp_path):
    """Review: the table and a .json sidecar were two writes; a kill between them left a new table beside an
    old sidecar, which `monitor` trusted. One file is one atomic write: no sidecar, nothing to disagree."""
    out = tmp_path / "f.parquet"
    _frame().save(out)
    assert not (tmp_path / "f.json").exists()
    assert META_KEY in pq.read_schema(out).metadata
    back = FeatureFrame.load(out)
    assert back.definitions == DEFS and back.meta == {"data_fingerprint": "f" * 64}
    assert [FeatureDef.from_dict(d) for d in feature_meta(out)["features"]] == DEFS


def test_an_older_pair_still_reads_and_its_stale_sidecar_goes_when_replaced(tmp_path):
    out = tmp_path / "old.parquet"
    _frame().frame.to_parquet(out, index=False)  # an older DeepCredit's table: its definitions beside it
    (tmp_path / "old.json").write_text(json.dumps({"dataset": "w", "features": [d.to_dict() for d in DEFS]}))
    assert FeatureFrame.load(out).definitions == DEFS
    check_features_out(out)  # a feature file: replaceable
    _frame(2).save(out)
    assert not (tmp_path / "old.json").exists()  # it described the table it no longer sits beside
    assert len(FeatureFrame.load(out).frame) == 2


def test_monitor_compares_the_definitions_each_file_holds(tmp_path):
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    _frame().save(ref)
    other = _frame()
    other.definitions = [replace(DEFS[0], sql="SUM(a)")]
    other.save(new)
    with pytest.raises(DataValidationError, match="computed otherwise"):
        check_same_features(ref, new, _frame().frame, other.frame)
    _frame().save(new)
    check_same_features(ref, new, _frame().frame, _frame().frame)


@pytest.mark.parametrize("name", ["feats.json", "FEATS.JSON"])
def test_an_out_named_json_is_one_clear_error(tmp_path, name):
    """Review: `--out feats.json` wrote the sidecar over the table, and said it wrote 300 rows."""
    res = CliRunner().invoke(app, ["features", "--data", str(tmp_path / "none"), "--out", str(tmp_path / name)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "a feature file is Parquet: name it .parquet, not .json" in " ".join(res.output.split())
    with pytest.raises(DataValidationError, match="not .json"):
        _frame().save(tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_file_features_did_not_write_is_refused(tmp_path):
    """Review: an existing mine.parquet (and mine.json) were replaced silently; README: a command replaces
    only its own earlier output."""
    mine = tmp_path / "mine.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(mine)
    (tmp_path / "mine.json").write_text('{"mine": true}\n')
    before = mine.read_bytes(), (tmp_path / "mine.json").read_bytes()
    res = CliRunner().invoke(app, ["features", "--data", str(tmp_path / "none"), "--out", str(mine)])
    assert res.exit_code == 2, res.output
    words = " ".join(res.output.split())
    assert "already exists and is a file that `deepcredit features` did not write: refusing" in words, words
    with pytest.raises(DataValidationError, match="did not write"):
        _frame().save(mine)
    assert (mine.read_bytes(), (tmp_path / "mine.json").read_bytes()) == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(DataValidationError, match="did not write"):
        check_features_out(notes)
    (tmp_path / "d").mkdir()
    with pytest.raises(DataValidationError, match="is a directory"):
        check_features_out(tmp_path / "d")


def test_a_json_beside_a_new_feature_file_is_left_alone(tmp_path):
    """Only the sidecar of a feature file being replaced is removed: a user's f.json beside a new f.parquet stays."""
    (tmp_path / "f.json").write_text('{"features": ["mine"]}')
    _frame().save(tmp_path / "f.parquet")
    assert (tmp_path / "f.json").read_text() == '{"features": ["mine"]}'


def test_what_features_out_may_replace_and_the_words_of_each_refusal(tmp_path):
    """Pinned: an absent name and a feature file (an older pair too) are replaceable; a .json name, a symbolic
    link, a directory (empty or not) and a file DeepCredit did not write are refused, each in these words."""
    _frame().save(tmp_path / "f.parquet")
    _frame().frame.to_parquet(tmp_path / "old.parquet", index=False)
    (tmp_path / "old.json").write_text(json.dumps({"features": [d.to_dict() for d in DEFS]}))
    for ok in ("new.parquet", "f.parquet", "old.parquet", "no/such/folder/f.parquet"):
        check_features_out(tmp_path / ok)
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    (tmp_path / "link.parquet").symlink_to(tmp_path / "f.parquet")
    (tmp_path / "dangling.parquet").symlink_to(tmp_path / "nowhere.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "mine.parquet")
    tail = ": refusing to replace it (choose another output file)"
    words = {
        "x.json": "a feature file is Parquet: name it .parquet, not .json",
        "f.JSON": "a feature file is Parquet: name it .parquet, not .json",
        "link.parquet": "already exists and is a symbolic link (replacing it would not replace what it points to)"
                        + tail,
        "dangling.parquet": "already exists and is a symbolic link (replacing it would not replace what it points to)"
                            + tail,
        "empty": "already exists and is a directory (--out is the Parquet file to write)" + tail,
        "full": "already exists and is a directory (--out is the Parquet file to write)" + tail,
        "mine.parquet": "already exists and is a file that `deepcredit features` did not write" + tail,
    }
    for name, said in words.items():
        with pytest.raises(DataValidationError) as err:
            check_features_out(tmp_path / name)
        assert str(err.value) == f"{tmp_path / name}: {said}", name
