"""The input check of `score` (audit I, F4): categories never seen in training, a rise in missing values and a
change of unit warn per feature, are recorded in the job's manifest, and refuse under strict; training
figures an artifact lacks are skipped."""

from __future__ import annotations

import gzip
import io
import json
import warnings
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.datasets import load_bundled
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.schema import Dimension
from deepcredit.data.simulate import simulate_world
from deepcredit.data.spec import builtin_spec
from deepcredit.data.validate import DataValidationError
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import load_model, robust_spread
from deepcredit.scoring.input_check import (
    SAMPLE_ROWS,
    InputMismatchWarning,
    check_features,
    check_scoring_input,
    finding_text,
    psi,
)
from deepcredit.workflows.score import Spine, score_batch
from deepcredit.workflows.train import train_model

CAT = FeatureDef("status", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "", "your status", "",
                 kind=Kind.CATEGORICAL)
NUM = FeatureDef("amount", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "", "the amount", "")
REFERENCE = {"median": {"amount": 2000.0}, "spread": {"amount": 2500.0}}


def _frame(n: int = 200, status: list[str] | None = None, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"status": pd.Categorical((status or ["low", "high"]) * (n // 2)),
                         "amount": rng.gamma(1.0, 2000.0, n) * scale})


def test_matching_input_has_no_finding():
    assert check_features(_frame(), [CAT, NUM], REFERENCE, {"status": ["high", "low"]}) == []


def test_unseen_categories_and_a_change_of_unit_are_found_without_any_persons_value():
    found = check_features(_frame(status=["overdrawn", "high"], scale=0.001), [CAT, NUM], REFERENCE,
                           {"status": ["high", "low"]})
    assert [f["feature"] for f in found] == ["status", "amount"]
    assert found[0]["unseen_share"] == 0.5 and found[0]["unseen_categories"] == 1
    assert found[1]["training_median"] == 2000.0 and found[1]["median"] < 20
    text = finding_text(found[0])
    assert text.startswith("status: 50.0% of rows hold 1 category never seen") and "overdrawn" not in text
    assert "another unit" in finding_text(found[1])


def test_reference_fields_an_old_artifact_lacks_are_skipped_and_new_ones_are_used():
    x = _frame(status=["overdrawn", "high"])
    x.loc[: len(x) // 2, "amount"] = np.nan
    assert check_features(x, [CAT, NUM], {}) == []  # no categories, medians, missing shares or bins: nothing
    edges = list(np.quantile(_frame()["amount"], [0.25, 0.5, 0.75]))
    full = {**REFERENCE, "categories": {"status": ["high", "low"]}, "missing": {"amount": 0.0, "status": 0.0},
            "bins": {"amount": {"edges": edges, "shares": [0.25] * 4}}}
    shifted = x.assign(amount=x["amount"] + 3000)
    found = {f["feature"]: f for f in check_features(shifted, [CAT, NUM], full)}
    assert found["status"]["unseen_share"] == 0.5
    assert found["amount"]["missing_share"] > 0.5 and found["amount"]["training_missing_share"] == 0.0
    assert found["amount"]["psi"] >= 0.25 and "median" not in found["amount"]  # moved, but not tenfold


def test_a_small_batch_from_the_training_distribution_does_not_read_as_changed_data():
    """A PSI of 0.25 is what chance gives 50 rows over 10 bins about one batch in five: 60 features scored
    on such a batch warned of a dozen changes that were not there; a real shift at 2,000 rows still warns."""
    rng = np.random.default_rng(3)
    defs = [FeatureDef(f"x{i}", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "", f"x{i}", "") for i in range(60)]
    edges = list(np.quantile(rng.normal(size=100_000), np.linspace(0.1, 0.9, 9)))
    reference = {"bins": {d.name: {"edges": edges, "shares": [0.1] * 10} for d in defs}}
    small = pd.DataFrame({d.name: rng.normal(size=50) for d in defs})
    assert [f for f in check_features(small, defs, reference) if "psi" in f] == []
    moved = pd.DataFrame({d.name: rng.normal(0.8, 1.0, size=2_000) for d in defs[:1]})
    assert check_features(moved, defs[:1], reference)[0]["psi"] >= 0.25


def test_psi_is_zero_on_training_bins_and_large_when_everything_moves():
    values = np.arange(100.0)
    assert psi(values, [24.5, 49.5, 74.5], [0.25] * 4) == pytest.approx(0.0)
    assert psi(values + 1000, [24.5, 49.5, 74.5], [0.25] * 4) > 1


@pytest.fixture(scope="module")
def german(tmp_path_factory):
    root = tmp_path_factory.mktemp("input_check")
    ds = load_bundled("german", root / "g")
    cfg = RunConfig(model="gbdt", member_params={"gbdt": {"n_estimators": 20}}, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = train_model(cfg, ds, root / "m")
    packed = files("deepcredit.data.datasets").joinpath("files", "german_credit.csv.gz").read_bytes()
    raw = pd.read_csv(io.BytesIO(gzip.decompress(packed)))
    col = "status_of_existing_checking_account"
    raw[col] = raw[col].replace({"... < 0 DM": "overdrawn", "no checking account": "none"})
    raw["credit_amount"] = raw["credit_amount"] / 1000
    raw.to_csv(root / "shifted.csv", index=False)
    shifted = ingest_with_spec(builtin_spec("german"), {"people": root / "shifted.csv"}, root / "g4")
    return root, ds, shifted, trained.path


def test_score_warns_per_feature_and_records_it_in_the_job_manifest(german, tmp_path):
    _, ds, shifted, art = german
    cfg = RunConfig(scoring={"chunk_size": 400})
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputMismatchWarning)  # the training data itself: no warning
        score_batch(art, ds, tmp_path / "ok", cfg)
    assert json.loads((tmp_path / "ok" / "_job.json").read_text())["input_check"]["findings"] == []
    with pytest.warns(InputMismatchWarning) as caught:
        score_batch(art, shifted, tmp_path / "s", cfg)
    said = [str(w.message) for w in caught if issubclass(w.category, InputMismatchWarning)]
    assert len(said) == 2 and said[0].startswith("input check: status_of_existing_checking_account: ")
    assert "credit_amount: median" in said[1]
    check = json.loads((tmp_path / "s" / "_job.json").read_text())["input_check"]
    assert check["rows_checked"] == 1000  # every row: the sample spans the spine, not the first chunk
    assert [f["feature"] for f in check["findings"]] == ["status_of_existing_checking_account", "credit_amount"]


def test_strict_refuses_naming_the_features_before_anything_is_written(german, tmp_path):
    _, _, shifted, art = german
    artifact, model = load_artifact(art), load_model(art)
    defs = [FeatureDef.from_dict(d) for d in artifact.manifest["features"]]
    spine = Spine(shifted, None, 1000)
    with pytest.raises(DataValidationError, match=r"status_of_existing_checking_account: .*credit_amount: median"):
        check_scoring_input(artifact, model, defs, shifted, spine.sample(SAMPLE_ROWS), strict=True)
    spine.close()


def _world_and_gbdt(tmp_path, people: int, trees: int):
    """A simulated world (seed 5) and a small GBDT trained on it (its warnings silenced)."""
    ds = simulate_world(tmp_path / "w", people=people, seed=5, chunk_size=people)
    cfg = RunConfig(model="gbdt", member_params={"gbdt": {"n_estimators": trees}}, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds, train_model(cfg, ds, tmp_path / "m")


def test_a_model_scored_on_its_own_training_data_in_tiny_chunks_is_not_refused(tmp_path):
    # the audit: --strict-input --chunk-size 500 refused the very world the model was trained on, its
    # check reading the first chunk only (a few hundred rows) and a heavy tail's standard deviation
    ds, trained = _world_and_gbdt(tmp_path, people=600, trees=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputMismatchWarning)
        job = score_batch(trained.path, ds, tmp_path / "out",
                          RunConfig(scoring={"chunk_size": 60, "strict_input": True, "explain": False}))
    assert job["input_check"]["findings"] == [] and job["input_check"]["rows_checked"] == 600  # every row, not 60


def test_scoring_as_of_a_date_before_people_joined_warns_with_a_count_and_strict_refuses(tmp_path):
    # the audit: --as-of before every signup gave 3,000 scores, and explain a score, without a word
    from deepcredit.workflows.explain import explain_person

    ds, trained = _world_and_gbdt(tmp_path, people=300, trees=10)
    people = ds.read("people")
    as_of = people["joined_at"].median().normalize()
    later = people["joined_at"] > as_of
    assert 0 < later.sum() < len(people)
    with pytest.warns(InputMismatchWarning, match=rf"{later.sum():,} rows are scored as of a date before their "
                                                  r"person joined \(joined_at\)"):
        job = score_batch(trained.path, ds, tmp_path / "out", RunConfig(scoring={"as_of": as_of.date(), "explain": False}))
    assert job["input_check"]["before_joining"] == later.sum()
    with pytest.raises(DataValidationError, match="before their person joined"):
        score_batch(trained.path, ds, tmp_path / "strict", RunConfig(scoring={"as_of": as_of.date(), "strict_input": True}))
    assert not (tmp_path / "strict").exists()  # refused before the job wrote anything
    person = people.loc[later, "person_id"].iloc[0]
    with pytest.warns(InputMismatchWarning, match=rf"explained as of {as_of:%Y-%m-%d}, before the person joined"):
        explain_person(trained.path, ds, person, str(as_of.date()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputMismatchWarning)  # joined before: no warning
        explain_person(trained.path, ds, people.loc[~later, "person_id"].iloc[0], str(as_of.date()))


def test_a_change_of_unit_is_caught_by_the_robust_spread():
    rng = np.random.default_rng(1)
    trained = rng.gamma(1.0, 2000.0, 5000)
    reference = {"median": {"amount": float(np.median(trained))},
                 "robust_spread": {"amount": float(np.subtract(*np.quantile(trained, [0.75, 0.25])))}}
    for scale in (100, 0.01, 1000):
        x = pd.DataFrame({"amount": rng.gamma(1.0, 2000.0, 2000) * scale})
        found = check_features(x, [NUM], reference)
        assert len(found) == 1 and found[0]["spread_basis"] == "iqr", scale
        assert "spread (IQR off the median)" in finding_text(found[0]) and "another unit" in finding_text(found[0])
    assert check_features(pd.DataFrame({"amount": rng.gamma(1.0, 2000.0, 2000)}), [NUM], reference) == []


def _zero_inflated(n: int, rng: np.random.Generator, zeros: float, tail: bool) -> np.ndarray:
    """A trend of days late: mostly 0, some small slopes, and (tail) a few huge ones."""
    values = np.where(rng.random(n) < zeros, 0.0, rng.normal(0.0, 3.0, n))
    if tail:
        k = n // 200
        values[rng.choice(n, k, replace=False)] = rng.choice([-1, 1], k) * rng.uniform(500, 2000, k)
    return values


def test_a_heavy_tailed_features_sample_without_its_tail_is_not_another_unit():
    rng = np.random.default_rng(2)
    trained = _zero_inflated(20_000, rng, 0.8, tail=True)
    reference = {"median": {"amount": 0.0}, "spread": {"amount": float(np.std(trained))},  # std ~ 50
                 "robust_spread": {"amount": robust_spread(trained)}}
    sample = pd.DataFrame({"amount": _zero_inflated(500, rng, 0.8, tail=False)})  # std ~ 1.3
    assert check_features(sample, [NUM], reference) == []
    assert len(check_features(sample.assign(amount=sample["amount"] * 100), [NUM], reference)) == 1  # a unit


def test_the_robust_spread_of_a_mass_of_zeros_does_not_move_with_its_share():
    # an interquartile range over every value is 0 at 80% zeros and a sliver next to 0 at about half: a few
    # points of share moved it tenfold (another world of the simulator read as another unit)
    rng = np.random.default_rng(3)
    spreads = [robust_spread(_zero_inflated(20_000, rng, zeros, tail=False)) for zeros in (0.3, 0.5, 0.55, 0.8)]
    assert all(s is not None and 2.5 < s < 5.5 for s in spreads), spreads  # the slopes' own: 4.05 for N(0, 3)


def test_an_artifact_without_robust_spreads_keeps_the_standard_deviation_rule():
    x = _frame(scale=0.001)
    found = check_features(x, [NUM], REFERENCE)  # REFERENCE: median and standard deviation only
    assert found[0]["spread_basis"] == "std" and "spread (std)" in finding_text(found[0])
