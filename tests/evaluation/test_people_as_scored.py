"""evaluation/pipeline.py: the fairness audit reads each scored row's protected attributes as they were then."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import DatasetSpec, Outcomes
from deepcredit.data.spec_profile import Attribute, Profile
from deepcredit.evaluation.fairness import sensitive_frame
from deepcredit.evaluation.pipeline import people_as_scored


def test_the_audit_reads_the_profile_version_valid_at_each_scored_rows_date(tmp_path: Path) -> None:
    """With attribute history the people table has a row per version; the audit had read each person's first
    file row, whatever the date of the scored row."""
    spec = DatasetSpec(name="hist", outcomes=Outcomes(label="bad", window_days=30), profile=Profile(
        valid_from="since", attributes=[Attribute(name="status", type="categorical", dimension="identity",
                                                  protected=True)]))
    pd.DataFrame({"person_id": ["a", "b", "a", "c"], "since": ["", "", "2024-03-01", "2024-05-01"],
                  "status": ["single", "married", "married", "single"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "a", "b", "c"], "as_of": ["2024-02-01", "2024-06-01", "2024-06-01", "2024-04-01"],
                  "bad": [0, 1, 0, 1]}).to_csv(tmp_path / "outcomes.csv", index=False)
    ds = ingest_with_spec(spec, {"people": tmp_path / "people.csv", "outcomes": tmp_path / "outcomes.csv"},
                          tmp_path / "ds")
    scored = ds.read("outcomes")[["person_id", "as_of"]]
    people, keys = people_as_scored(ds, scored)
    groups = sensitive_frame(people, keys, ["status"], as_of=scored["as_of"], declared=["status"])["status"]
    seen = dict(zip(zip(scored["person_id"], scored["as_of"].dt.month, strict=True), groups.astype(str), strict=True))
    assert seen == {("a", 2): "single", ("a", 6): "married", ("b", 6): "married", ("c", 4): "unknown"}
