"""The simulated world: valid tables, determinism, resuming, and the signals it promises to contain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepcredit.data.dataset import Dataset, validate_tables
from deepcredit.data.schema import BAD_STATUSES, SEVERE_STATUSES, TABLES
from deepcredit.data.simulate import simulate_world
from deepcredit.evaluation.limits import world_bayes_auc

PEOPLE, SEED, CHUNK = 3000, 11, 1000
AS_OF = pd.Timestamp("2026-01-01")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return simulate_world(tmp_path_factory.mktemp("world") / "ds", people=PEOPLE, seed=SEED, chunk_size=CHUNK)


@pytest.fixture(scope="module")
def frames(world: Dataset) -> dict[str, pd.DataFrame]:
    return {t: world.read(t) for t in [*TABLES, "truth"]}


def _in(values: pd.Series, vocab: frozenset[str]) -> np.ndarray:
    return values.isin(vocab).to_numpy()


def test_tables_pass_validation(world: Dataset) -> None:
    validated = validate_tables({t: world.table_path(t) for t in TABLES}, world.manifest.snapshot_date)
    assert len(validated["people"]) == PEOPLE
    assert world.manifest.snapshot_date == "2026-06-30"
    assert world.has("truth")
    assert not any(p.name.startswith(".") for p in world.root.rglob("*"))


def test_column_types_match_the_schema(world: Dataset) -> None:
    expected = {
        "string": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
        "timestamp": pa.timestamp("us"),
    }
    for name, spec in TABLES.items():
        schema = pq.read_schema(sorted(world.table_path(name).glob("*.parquet"))[0])
        for col in spec.columns:
            if col.name in schema.names:
                assert schema.field(col.name).type == expected[col.type.value], (name, col.name)
    people = pq.read_schema(world.table_path("people") / "part-00000.parquet")
    assert set(people.names) == set(TABLES["people"].names)


def test_ids_are_deterministic_from_the_index(frames: dict[str, pd.DataFrame]) -> None:
    ids = frames["people"]["person_id"]
    assert ids.iloc[0] == f"s{SEED}-p0000001" and ids.iloc[-1] == f"s{SEED}-p{PEOPLE:07d}"
    assert ids.is_unique


def test_same_seed_same_world_other_seed_other_world(world: Dataset, tmp_path: Path) -> None:
    again = simulate_world(tmp_path / "again", people=PEOPLE, seed=SEED, chunk_size=CHUNK)
    other = simulate_world(tmp_path / "other", people=PEOPLE, seed=SEED + 1, chunk_size=CHUNK)
    assert again.fingerprint() == world.fingerprint()
    assert again.manifest.extras["truth"]["sha256"] == world.manifest.extras["truth"]["sha256"]
    assert other.fingerprint() != world.fingerprint()
    assert all(other.manifest.tables[t]["sha256"] != world.manifest.tables[t]["sha256"] for t in TABLES)
    # other people: no id of one world names someone in the other (a model's record of its fitted rows,
    # person and as-of date, would take the other world's rows for its own)
    assert not set(other.read("people")["person_id"]) & set(world.read("people")["person_id"])


def test_a_crashed_run_resumes_and_matches_a_clean_run(tmp_path: Path) -> None:
    n, chunk = 1200, 400
    clean = simulate_world(tmp_path / "clean" / "ds", people=n, seed=5, chunk_size=chunk)

    def crash(done: int) -> None:
        raise KeyboardInterrupt(f"crashed after {done}")

    out = tmp_path / "crashy" / "ds"
    with pytest.raises(KeyboardInterrupt):
        simulate_world(out, people=n, seed=5, chunk_size=chunk, on_progress=crash)
    assert not out.exists()  # nothing half-written appears at out
    first = next(out.parent.glob(".ds.seed5.n1200.*.partial")) / "events" / "part-00000.parquet"
    inode = first.stat().st_ino
    progress: list[int] = []
    resumed = simulate_world(out, people=n, seed=5, chunk_size=chunk, on_progress=progress.append)
    assert progress == [400, 800, 1200]
    assert (resumed.root / "events" / "part-00000.parquet").stat().st_ino == inode  # chunk 0 was kept
    assert resumed.fingerprint() == clean.fingerprint()
    assert not list(out.parent.glob("*.partial"))


def test_bayes_auc_and_default_rate_are_believable(world: Dataset, frames: dict[str, pd.DataFrame]) -> None:
    assert 0.78 < world_bayes_auc(world) < 0.9
    assert 0.08 < frames["outcomes"]["label"].mean() < 0.16
    truth = frames["truth"]
    assert truth["true_pd"].between(0, 1).all()
    assert 0.08 < truth["true_pd"].mean() < 0.16


def test_events_per_person_and_mix(frames: dict[str, pd.DataFrame]) -> None:
    events = frames["events"]
    assert 45 < len(events) / PEOPLE < 56
    assert set(events["kind"]) == {"bill", "repayment", "instalment", "rental", "order", "utility", "transfer"}
    bad = _in(events["status"], BAD_STATUSES)
    assert 0.04 < bad.mean() < 0.15
    assert (events["days_late"][bad] > 0).all()
    kept = ~bad & events["days_late"].notna().to_numpy()
    assert (events["days_late"][kept] == 0).all()
    due = events["due_ts"].notna()
    late = pd.to_timedelta(events.loc[due, "days_late"], unit="D")
    assert (events.loc[due, "due_ts"] + late == events.loc[due, "ts"]).all()
    transfers = events[events["kind"] == "transfer"]
    assert transfers["counterparty"].isin(frames["people"]["person_id"]).all()  # another person of the world
    assert events.loc[events["kind"] != "transfer", "counterparty"].str.match(r"^m\d{4}$").all()


def test_events_after_as_of_reveal_the_outcome(frames: dict[str, pd.DataFrame]) -> None:
    events, outcomes = frames["events"], frames["outcomes"]
    after = events[events["ts"] >= AS_OF]
    assert len(after) > 5 * PEOPLE
    assert (events["ts"] >= AS_OF - pd.Timedelta(days=730)).all()
    broken = set(after.loc[_in(after["status"], SEVERE_STATUSES), "person_id"])
    defaulters = set(outcomes.loc[outcomes["label"] == 1, "person_id"])
    assert broken == defaulters
    joined = frames["people"].set_index("person_id")["joined_at"]
    assert (joined < AS_OF).all()
    assert (events["ts"].to_numpy() >= joined.loc[events["person_id"]].to_numpy()).all()


def test_social_graph_is_homophilous(frames: dict[str, pd.DataFrame]) -> None:
    relations = frames["relations"]
    z = frames["truth"].set_index("person_id")["z"]
    assert np.corrcoef(z.loc[relations["source"]], z.loc[relations["target"]])[0, 1] > 0.3
    assert 3 < len(relations) / PEOPLE < 6  # out-degree; undirected degree about twice that
    assert (relations["source"] != relations["target"]).all()
    assert 0.02 < (relations["ts"] >= AS_OF).mean() < 0.15
    assert relations["weight"].between(0, 1, inclusive="right").all()


def test_protected_attributes_are_nearly_independent_of_risk(frames: dict[str, pd.DataFrame]) -> None:
    people = frames["people"].merge(frames["truth"], on="person_id")
    assert abs(people.groupby("sex")["z"].mean().diff().iloc[-1]) < 0.15
    assert -0.35 < np.corrcoef(people["age"], people["z"])[0, 1] < -0.1  # the documented mild effect
    assert np.corrcoef(np.log(people["credit_limit"]), people["z"])[0, 1] < -0.2


def test_recent_worsening_predicts_beyond_the_history_average(frames: dict[str, pd.DataFrame]) -> None:
    """Given the whole-history bad rate, the recent bad rate still raises the true risk."""
    events = frames["events"]
    before = events[events["ts"] < AS_OF].assign(bad=lambda e: _in(e["status"], BAD_STATUSES))
    recent = before["ts"] >= AS_OF - pd.Timedelta(days=90)
    per = pd.DataFrame({
        "overall": before.groupby("person_id")["bad"].mean(),
        "recent": before[recent].groupby("person_id")["bad"].mean(),
    }).dropna().join(frames["truth"].set_index("person_id"))
    logit = np.log(per["true_pd"] / (1 - per["true_pd"]))
    x = np.column_stack([np.ones(len(per)), per["overall"], per["recent"]])
    coef, *_ = np.linalg.lstsq(x, logit, rcond=None)
    assert coef[2] > 0.4  # about 0.85 here; about -0.15 in the same world with the drift switched off
    # The mechanism: for worsening people the last 90 days are worse than the rest of their history.
    worse = per[per["drift"] > 0.5]
    assert worse["recent"].mean() > worse["overall"].mean() + 0.05


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="people"):
        simulate_world(tmp_path / "x", people=0, seed=1)
    with pytest.raises(ValueError, match="window_days"):
        simulate_world(tmp_path / "x", people=10, seed=1, window_days=5)
    assert not any(tmp_path.iterdir())


def test_an_out_that_is_a_file_is_refused_before_the_world_is_simulated(tmp_path: Path) -> None:
    from deepcredit.data.errors import DataValidationError

    out = tmp_path / "notes.txt"
    out.write_text("mine")
    progress: list[int] = []
    with pytest.raises(DataValidationError, match="already exists and is a file: refusing to replace it"):
        simulate_world(out, people=50, seed=1, on_progress=progress.append)
    assert progress == [] and out.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
