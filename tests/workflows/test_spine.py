"""As-of runs on a data set with attribute history: a person is one row, however many profile versions.

The people table of a data set declaring `[profile] valid_from` holds a row per version; `score --as-of`,
`features --as-of` and `peers` had taken those rows for persons (duplicate (person_id, as_of) rows, and an
IndexError in peers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.bundle import build_model_input
from deepcredit.workflows.benchmarks.declared import in_file_order
from deepcredit.workflows.score import Spine, read_scores
from deepcredit.workflows.spine import as_of_spine

runner = CliRunner()
N = 60
"""Persons: the first 20 have a second version (from 2024-03-01); the last has one version only, from
2024-09-01 (after the as-of date the tests use)."""
AS_OF = "2024-07-01"

SPEC = """
spec_version = 1
name = "hist"
snapshot_date = 2025-01-01

[profile]
valid_from = "since"

[[profile.attributes]]
name = "city"
type = "categorical"
dimension = "identity"
description = "the city you live in"
actionable = false

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"
description = "your income"
improve = "Keep your income details up to date."

[outcomes]
label = "bad"
window_days = 30
"""


def history_dataset(root: Path) -> Dataset:
    """N persons, N + 20 profile rows; each person's rows apart in the file (a second version comes later)."""
    ids = [f"p{i:03d}" for i in range(N)]
    first = [{"person_id": p, "since": "", "city": ["Lyon", "Oslo", "Rome"][i % 3], "income": 1000 + 50 * i}
             for i, p in enumerate(ids[:-1])]
    second = [{"person_id": p, "since": "2024-03-01", "city": "Paris", "income": 5000 + i}
              for i, p in enumerate(ids[:20])]
    late = [{"person_id": ids[-1], "since": "2024-09-01", "city": "Nice", "income": 999}]
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(first + second + late).to_csv(root / "people.csv", index=False)
    bad = (np.random.default_rng(0).random(N - 1) < 0.3).astype(int)
    pd.DataFrame({"person_id": ids[:-1], "as_of": "2024-02-01", "bad": bad}).to_csv(root / "outcomes.csv",
                                                                                     index=False)
    return ingest_with_spec(spec_from_toml(SPEC), {"people": root / "people.csv", "outcomes": root / "outcomes.csv"},
                            root / "ds")


@pytest.fixture(scope="module")
def hist(tmp_path_factory) -> Dataset:
    return history_dataset(tmp_path_factory.mktemp("hist"))


def test_the_spine_as_of_a_date_is_one_row_per_person_not_per_profile_version(hist):
    assert len(hist.read("people")) == N + 20
    spine = as_of_spine(hist, pd.Timestamp(AS_OF))
    assert len(spine) == N and spine["person_id"].is_unique and (spine["as_of"] == pd.Timestamp(AS_OF)).all()
    assert as_of_spine(hist, pd.Timestamp(AS_OF), "p003")["person_id"].tolist() == ["p003"]
    batch = Spine(hist, AS_OF, size=25)  # what `score --as-of` reads, chunk by chunk
    try:
        assert batch.n_rows == N and sum(len(batch.rows(i)) for i in range(len(batch))) == N
    finally:
        batch.close()


def test_features_as_of_a_date_give_each_person_once_with_the_version_valid_then(hist, tmp_path):
    out = tmp_path / "f.parquet"
    result = runner.invoke(app, ["features", "--data", str(hist.root), "--as-of", AS_OF, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{N:,} rows" in " ".join(result.output.split())
    frame = pd.read_parquet(out).set_index("person_id")
    assert len(frame) == N and frame.index.is_unique
    assert frame.loc["p000", "city"] == "Paris" and frame.loc["p030", "city"] == "Lyon"  # the later version once
    # a person whose first version starts after the date is still a row; their profile reads missing, as the
    # feature engine reads any version not valid yet
    assert pd.isna(frame.loc[f"p{N - 1:03d}", "city"]) and pd.isna(frame.loc[f"p{N - 1:03d}", "income"])


def test_score_as_of_a_date_scores_each_person_once(hist, tmp_path):
    from deepcredit.models.base import save_model
    from deepcredit.models.gbdt import GBDTModel

    inp = build_model_input(hist, views=["tabular"])
    model = save_model(GBDTModel(n_estimators=5).fit(inp), tmp_path / "model", inp, config={"data": hist.name})
    out = tmp_path / "scores"
    result = runner.invoke(app, ["score", "--model", str(model), "--data", str(hist.root), "--out", str(out),
                                 "--as-of", AS_OF, "--no-explain", "--chunk-size", "25"])
    assert result.exit_code == 0, result.output
    assert f"{N:,} rows" in " ".join(result.output.split())
    scores = read_scores(out)
    assert len(scores) == N and scores["person_id"].is_unique
    explained = runner.invoke(app, ["explain", "--model", str(model), "--data", str(hist.root), "--person", "p000",
                                    "--as-of", AS_OF])
    assert explained.exit_code == 0, explained.output


def test_the_peers_rank_persons_by_their_first_row_in_the_people_file(hist):
    """peers had died with an IndexError: every version of a person was ranked, so the order outgrew the rows."""
    inp = build_model_input(hist, views=["tabular"])
    ordered = in_file_order(hist, inp)
    assert len(ordered.keys) == len(inp.keys) == N - 1
    assert ordered.keys["person_id"].tolist() == [f"p{i:03d}" for i in range(N - 1)]
