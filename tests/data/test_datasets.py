"""The bundled real data sets: counts, point-in-time dating, labels against the raw files, validation."""

from __future__ import annotations

import gzip
import io
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.dataset import Dataset, validate_tables
from deepcredit.data.datasets import load_bundled
from deepcredit.data.datasets.uci import read_bundled
from deepcredit.data.schema import TABLES
from deepcredit.data.validate import check_known_people, read_and_validate

UCI_AS_OF = pd.Timestamp("2005-10-01")


def _raw(filename: str, **kwargs: object) -> pd.DataFrame:
    """The shipped file read directly, independently of the loaders under test."""
    data = gzip.decompress(files("deepcredit.data.datasets").joinpath("files", filename).read_bytes())
    return pd.read_csv(io.BytesIO(data), **kwargs)


@pytest.fixture(scope="module")
def uci(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_bundled("uci", tmp_path_factory.mktemp("uci") / "ds")


@pytest.fixture(scope="module")
def otc(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_bundled("otc", tmp_path_factory.mktemp("otc") / "ds")


@pytest.fixture(scope="module")
def otc_raw() -> pd.DataFrame:
    raw = _raw("bitcoin_otc_ratings.csv.gz", header=None, names=["source", "target", "rating", "time"])
    raw["ts"] = pd.to_datetime(raw["time"], unit="s")
    return raw


def _sources(ds: Dataset) -> dict:
    return {t: ds.table_path(t) for t in ds.manifest.tables}


# --- UCI ------------------------------------------------------------------------------------------

def test_uci_counts_and_default_rate(uci: Dataset) -> None:
    rows = {t: e["rows"] for t, e in uci.manifest.tables.items()}
    assert rows == {"people": 30_000, "events": 360_000, "relations": 0, "outcomes": 30_000}
    outcomes = uci.read("outcomes")
    assert round(outcomes["label"].mean(), 4) == 0.2212
    assert (outcomes["as_of"] == UCI_AS_OF).all() and (outcomes["window_days"] == 30).all()
    assert uci.manifest.snapshot_date == "2005-10-31"


def test_uci_events_are_monthly_and_before_as_of(uci: Dataset) -> None:
    events = uci.read("events")
    assert (events["ts"] < UCI_AS_OF).all()
    assert sorted(events["ts"].dt.strftime("%Y-%m-%d").unique()) == [
        "2005-04-30", "2005-05-31", "2005-06-30", "2005-07-31", "2005-08-31", "2005-09-30"]
    per_person = events.groupby(["person_id", "kind"]).size()
    assert (per_person == 6).all() and len(per_person) == 60_000
    assert np.isfinite(events["amount"]).all() and (events["amount"] < 0).any()  # credit balances kept


def test_uci_hand_picked_rows(uci: Dataset) -> None:
    con = uci.connect()
    person = con.execute("SELECT * FROM people WHERE person_id = 'uci-00001'").df().iloc[0]
    assert (person["sex"], person["age"], person["marital_status"], person["education"],
            person["credit_limit"]) == ("female", 24.0, "married", "university", 20000.0)
    ev = con.execute("SELECT strftime(ts, '%m') AS m, kind, amount, status, days_late FROM events "
                     "WHERE person_id = 'uci-00001'").df().set_index(["m", "kind"])
    # raw row ID 1: PAY_0=2 (Sep), PAY_3=-1 (Jul), PAY_6=-2 (Apr); BILL_AMT1=3913; PAY_AMT2=689 (Aug)
    assert tuple(ev.loc[("09", "repayment"), ["status", "days_late"]]) == ("late", 60.0)
    assert tuple(ev.loc[("07", "repayment"), ["status", "days_late"]]) == ("paid_full", 0.0)
    assert ev.loc[("04", "repayment"), "status"] == "no_consumption"
    assert ev.loc[("09", "bill"), "amount"] == 3913.0 and ev.loc[("09", "bill"), "status"] == "open"
    assert ev.loc[("08", "repayment"), "amount"] == 689.0
    # raw row ID 27: BILL_AMT1 = -109, a credit balance
    assert con.execute("SELECT amount FROM events WHERE person_id = 'uci-00027' AND kind = 'bill' "
                       "AND ts = '2005-09-30'").fetchone()[0] == -109.0
    labels = dict(con.execute("SELECT person_id, label FROM outcomes WHERE person_id IN "
                              "('uci-00001', 'uci-00003', 'uci-00027', 'uci-00069')").fetchall())
    assert labels == {"uci-00001": 1, "uci-00003": 0, "uci-00027": 1, "uci-00069": 0}


def test_uci_tables_validate(uci: Dataset) -> None:
    """Each non-empty table passes validation; the empty relations table has the right typed columns."""
    snapshot = uci.snapshot_date
    frames = {t: read_and_validate(uci.table_path(t), TABLES[t], snapshot)
              for t in ("people", "events", "outcomes")}
    people = pd.Index(frames["people"]["person_id"])
    for t in ("events", "outcomes"):
        check_known_people(frames[t], ("person_id",), people, t, None)
    relations = pd.read_parquet(uci.table_path("relations"))
    assert list(relations.columns) == list(TABLES["relations"].names) and relations.empty
    assert str(relations["ts"].dtype) == "datetime64[us]" and str(relations["weight"].dtype) == "float64"


def test_uci_validate_tables(uci: Dataset) -> None:
    validate_tables(_sources(uci), uci.manifest.snapshot_date)


# --- Bitcoin OTC ----------------------------------------------------------------------------------

def test_otc_counts(otc: Dataset) -> None:
    rows = {t: e["rows"] for t, e in otc.manifest.tables.items()}
    assert (rows["people"], rows["events"], rows["relations"]) == (5_881, 35_592, 35_592)
    events = otc.read("events")
    assert (events["status"] == "negative").sum() == 3_563
    assert otc.manifest.snapshot_date == "2016-01-26"


def test_otc_tables_validate(otc: Dataset) -> None:
    validate_tables(_sources(otc), otc.manifest.snapshot_date)


def test_otc_outcomes_are_exactly_the_active_people(otc: Dataset, otc_raw: pd.DataFrame) -> None:
    seen = pd.concat([otc_raw[["source", "ts"]].set_axis(["p", "ts"], axis=1),
                      otc_raw[["target", "ts"]].set_axis(["p", "ts"], axis=1)])
    first = seen.groupby("p")["ts"].min()
    first.index = "otc-" + first.index.astype(str)
    outcomes = otc.read("outcomes")
    assert (outcomes["person_id"].map(first) < outcomes["as_of"]).all()
    active = {a: int((first < a).sum()) for a in outcomes["as_of"].unique()}
    assert outcomes.groupby("as_of").size().to_dict() == active


def test_otc_labels_agree_with_raw(otc: Dataset, otc_raw: pd.DataFrame) -> None:
    outcomes = otc.read("outcomes")
    end = outcomes["as_of"] + pd.to_timedelta(outcomes["window_days"], unit="D")
    assert (end.groupby(outcomes["as_of"]).first().iloc[:-1].to_numpy()
            == np.sort(outcomes["as_of"].unique())[1:]).all()  # windows tile the quarters
    bad = otc_raw.loc[otc_raw["rating"] <= -5]
    for i in outcomes.sample(300, random_state=0).index.union(outcomes.index[outcomes["label"] == 1][:50]):
        pid, as_of = outcomes.at[i, "person_id"], outcomes.at[i, "as_of"]
        hit = ((("otc-" + bad["target"].astype(str)) == pid) & (bad["ts"] >= as_of) & (bad["ts"] < end[i])).any()
        assert outcomes.at[i, "label"] == int(hit), (pid, as_of)
    label = outcomes.set_index(["person_id", "as_of"])["label"]
    q3 = pd.Timestamp("2013-07-01")
    assert label[("otc-2028", q3)] == 1  # 3719,2028,-10,1372639153 (2013-07-01 00:39)
    assert label[("otc-3531", q3)] == 1  # 4421,3531,-10,1376434099 and 2835,3531,-10,1380471158 (Sep 29)
    assert label[("otc-3764", q3)] == 0  # only 4107,3764,-1,1372769228: a mild dispute
    assert ("otc-4501", q3) not in label.index  # first seen 2013-07-01 05:17: not active before as_of


# --- shipped files --------------------------------------------------------------------------------

def test_an_altered_bundled_file_is_refused() -> None:
    with pytest.raises(ValueError, match="damaged or altered"):
        read_bundled("uci_credit_card.csv.gz", "0" * 64)
