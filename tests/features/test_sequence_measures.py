"""What each history row records besides kind, status and amount reaches the sequence members: a number as a
signed-log channel, each declared value of a category as a 0/1 channel, explained in the measure's own
dimension, cut at the as-of date like every other event channel."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from tests.data.test_activity_log import TRANSACTIONS, _ingest
from tests.data.test_categorical_measures import BUCKETED, CHANNELS, WITH_CHANNEL

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.bundle import build_model_input
from deepcredit.features.sequences import NUMERIC, Coding, MeasureChannel, Sequences, from_lists, hash_bucket
from deepcredit.models.base import load_model, save_model
from deepcredit.models.hybrid import HybridModel
from deepcredit.models.pretrain import histories_of, pretrain
from deepcredit.models.sequence import SequenceModel, SequencePrep
from deepcredit.models.towers import SEQUENCE_GROUPS, sequence_groups
from deepcredit.scoring.scorer import Scorer

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

BALANCE, ATM = "measure:balance", "measure:channel=atm"


def test_each_measure_adds_its_channels_after_the_event_channels(tmp_path):
    ds = _ingest(tmp_path, TRANSACTIONS.assign(channel=CHANNELS), WITH_CHANNEL)
    seq = build_model_input(ds).sequences
    assert seq.measures == ((ATM, "behaviour_preferences"), (BALANCE, "fulfilment_capacity"))
    assert seq.numeric.shape[-1] == len(NUMERIC) + 2
    a = 2  # rows: (as_of, person) order; a on 1 March sees all four of a's rows, oldest first
    real = seq.lengths[a]
    assert real == 4
    atm, balance = seq.numeric[a, :real, len(NUMERIC)], seq.numeric[a, :real, len(NUMERIC) + 1]
    assert atm.tolist() == [0.0, 1.0, 0.0, 1.0]  # branch, atm, online, atm
    assert np.allclose(balance, np.log1p([1000, 700, 1700, 1200]))
    b = 3
    assert seq.numeric[b, : seq.lengths[b], len(NUMERIC) + 1] == pytest.approx(
        np.sign([800, 100, -300]) * np.log1p(np.abs([800, 100, -300])))
    assert np.isnan(seq.numeric[b, seq.lengths[b] - 1, len(NUMERIC)])  # b's last row records no channel: unknown


def test_a_measure_a_row_does_not_record_reads_as_the_training_mean_not_as_zero():
    """An event a merchant reports carries no balance: the model must not read it as a balance of 0."""
    kind = np.array([[1, 1, 1, 0]])
    numeric = np.zeros((1, 4, len(NUMERIC) + 1), np.float32)
    numeric[0, :3, -1] = [np.log1p(1000), np.log1p(3000), np.nan]
    seq = Sequences(kind, kind.copy(), numeric, np.array([3]), measures=((BALANCE, "fulfilment_capacity"),))
    prep = SequencePrep.fit(seq, np.array([0]), 4)
    assert prep.mean[-1] == pytest.approx((np.log1p(1000) + np.log1p(3000)) / 2)  # of the recorded rows only
    z = prep.tensors(seq, np.array([0]), torch.device("cpu")).numeric[0, :, -1].numpy()
    assert z[2] == 0.0 and z[0] < 0 < z[1] and not np.isnan(z).any()


def test_a_later_row_changes_no_measure_channel_before_it(tmp_path):
    base = _ingest(tmp_path / "a", TRANSACTIONS.assign(channel=CHANNELS), WITH_CHANNEL)
    later = pd.DataFrame({"account": ["a"], "booked": ["2024-02-29"], "type": ["debit"], "amount": [50],
                          "balance": [-9000], "channel": ["atm"]})
    more = _ingest(tmp_path / "b", pd.concat([TRANSACTIONS.assign(channel=CHANNELS), later]), WITH_CHANNEL)
    before, after = build_model_input(base).sequences, build_model_input(more).sequences
    first = slice(0, 2)  # the 1 February rows: the new row of 29 February is after them
    assert np.array_equal(before.numeric[first], after.numeric[first])
    assert after.lengths[2] == before.lengths[2] + 1  # seen on 1 March


def _atm(rng: np.random.Generator, bad: bool) -> str:
    return "atm" if rng.random() < (0.7 if bad else 0.2) else "online"


def _world(tmp_path, n: int = 80, channel=_atm, spec: str = WITH_CHANNEL, balance_tells: bool = True):
    """People whose cash-machine use and falling balance go with default, one row a week for 10 weeks (the
    balance falls alike for everybody unless `balance_tells`)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    bad = rng.random(n) < 0.4
    rows = []
    for i in range(n):
        for w in range(10):
            rows.append((f"p{i}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * w), "debit", 20.0,
                         float(500 - (40 if bad[i] and balance_tells else 5) * w), channel(rng, bad[i])))
    events = pd.DataFrame(rows, columns=["account", "booked", "type", "amount", "balance", "channel"])
    people = pd.DataFrame({"account": [f"p{i}" for i in range(n)], "branch": ["north"] * n})
    outcomes = pd.DataFrame({"account": people["account"], "as_of": "2024-04-01", "defaulted": bad.astype(int)})
    for name, frame in (("people", people), ("transactions", events), ("outcomes", outcomes)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    files = {k: tmp_path / f"{v}.csv" for k, v in (("people", "people"), ("events", "transactions"),
                                                      ("outcomes", "outcomes"))}
    return build_model_input(ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds"))


def test_the_sequence_member_reads_and_explains_measures_in_their_dimensions(tmp_path):
    inp = _world(tmp_path)
    model = SequenceModel(hidden=8, layers=1, max_epochs=3, batch_size=32, seed=0).fit(inp)
    groups = model.net_.tower.groups
    assert ATM in groups["behaviour_preferences"] and BALANCE in groups["fulfilment_capacity"]
    ex = model.explain(inp)
    assert np.allclose(ex.logit(), model.decision_function(inp), atol=1e-5)
    scorer = Scorer(model)
    assert scorer.dimensions() == ["credit_history", "fulfilment_capacity", "behaviour_preferences"]
    seq = inp.sequences
    without = replace(seq, numeric=seq.numeric[..., : len(NUMERIC)], measures=())
    with pytest.raises(ValueError, match=r"trained on the event measures \['measure:channel=atm', 'measure:balance'\]"):
        model.predict_proba(replace(inp, sequences=without))


def test_a_measure_declared_in_another_dimension_makes_its_own_group():
    groups = sequence_groups([("measure:years_at_address", "identity"), (BALANCE, "fulfilment_capacity")])
    assert groups["identity"] == ("measure:years_at_address",)
    assert groups["fulfilment_capacity"] == (*SEQUENCE_GROUPS["fulfilment_capacity"], BALANCE)
    assert sequence_groups() == SEQUENCE_GROUPS


def test_spark_lists_carry_the_measure_channels_in_the_coding_order():
    """What a Spark executor gets per row (collect_list of sequence_sql's columns) pads like DuckDB's rows."""
    code = Coding(measures=(MeasureChannel(ATM, "channel", "0", "behaviour_preferences"),))
    assert code.channels == (*NUMERIC, "m0")
    lists = {"rn": np.array([[1, 2], None], dtype=object), "k": np.array([[1, 1], None], dtype=object),
             "s": np.array([[1, 1], None], dtype=object), "m0": np.array([[1.0, None], None], dtype=object),
             **{c: np.array([[0.5, 0.25], None], dtype=object) for c in NUMERIC}}
    seq = from_lists(lists, 4, code)
    assert seq.measures == ((ATM, "behaviour_preferences"),) and seq.numeric.shape == (2, 4, len(NUMERIC) + 1)
    assert np.isnan(seq.numeric[0, 0, -1]) and seq.numeric[0, 1, -1] == 1.0  # oldest first: rn 2 (a NULL), then rn 1
    assert seq.lengths.tolist() == [2, 0]


SHOPS = [f"shop {i:02d}" for i in range(40)]


def _shop(rng: np.random.Generator, bad: bool) -> str:
    """Where a person shops: people who default mostly at five of forty shops; nothing else tells them apart."""
    return str(rng.choice(SHOPS[:5] if bad and rng.random() < 0.7 else SHOPS[5:]))


def _bucket(value: str, buckets: int) -> int:
    return 1 + int(hashlib.md5(value.encode()).hexdigest()[:4], 16) % buckets


def test_a_category_in_buckets_is_one_code_channel_each_value_at_its_hash_bucket(tmp_path):
    ds = _ingest(tmp_path, TRANSACTIONS.assign(channel=CHANNELS), BUCKETED)
    seq = build_model_input(ds).sequences
    assert seq.measures == ((ATM, "behaviour_preferences"), ("measure:channel", "behaviour_preferences", 64),
                            (BALANCE, "fulfilment_capacity"))
    code = len(NUMERIC) + 1
    a, b = 2, 3  # a on 1 March: branch, atm, online, atm; b: branch, atm and a row recording no channel
    assert seq.numeric[a, :4, code].tolist() == [_bucket(v, 64) for v in ("branch", "atm", "online", "atm")]
    assert seq.numeric[b, :2, code].tolist() == [_bucket("branch", 64), _bucket("atm", 64)]
    assert np.isnan(seq.numeric[b, 2, code])
    prep = SequencePrep.fit(seq, np.arange(len(seq.lengths)), 8)
    assert (prep.mean[code], prep.std[code]) == (0.0, 1.0) and len(prep.code_freq) == 1
    assert len(prep.code_freq[0]) == 65 and sum(prep.code_freq[0]) == pytest.approx(1.0)
    data = prep.tensors(seq, np.arange(len(seq.lengths)), torch.device("cpu"))
    assert data.numeric[a, :4, code].tolist() == seq.numeric[a, :4, code].tolist()  # bucket numbers, as they are
    assert data.numeric[b, 2, code] == 0.0  # recorded none: the padding bucket


def test_hash_buckets_are_md5s_in_sql_for_any_text():
    import duckdb

    texts = ["5411", "grocery", "Café ü", "", "it's"]
    con = duckdb.connect()
    got = [con.execute(f"SELECT 1 + {hash_bucket('x', 1000)} FROM (SELECT ?::VARCHAR AS x)", [t]).fetchone()[0]
           for t in texts]
    assert got == [_bucket(t, 1000) for t in texts]


def test_the_sequence_member_learns_a_category_of_many_values_through_its_buckets(tmp_path):
    """Forty shops, five of them where people who default shop: declared in buckets, the member tells them
    apart; the tower embeds the buckets (zero at first), explains them in the measure's dimension, and its
    explanations still add up to the logit."""
    spec = BUCKETED.replace("values = { atm", "# values = { atm").replace("buckets = 64", "buckets = 128")
    inp = _world(tmp_path / "with", n=160, channel=_shop, spec=spec, balance_tells=False)
    blind = _world(tmp_path / "without", n=160, channel=_shop, spec=WITH_CHANNEL, balance_tells=False)  # atm only
    y = inp.y
    auc = {}
    for name, data in (("buckets", inp), ("values", blind)):
        model = SequenceModel(hidden=16, layers=1, max_epochs=12, batch_size=32, seed=0, dropout=0.0).fit(data)
        auc[name] = roc_auc_score(y, model.predict_proba(data)[:, 1])
    assert auc["buckets"] > auc["values"] + 0.1, auc
    assert len(model.net_.tower.code_emb) == 0  # the member without buckets has no code channel
    model = SequenceModel(hidden=8, layers=1, max_epochs=2, batch_size=32, seed=0).fit(inp)
    tower = model.net_.tower
    assert "measure:channel" in tower.groups["behaviour_preferences"]
    code = len(NUMERIC)
    assert len(tower.channel_columns()["measure:channel"]) == 1 + 8  # its numeric column (held at 0), its embedding
    ex = model.explain(inp)
    assert np.allclose(ex.logit(), model.decision_function(inp), atol=1e-5)
    seq = inp.sequences
    moved = seq.numeric.copy()
    moved[..., code] = np.where(seq.kind > 0, _bucket(SHOPS[0], 128), 0)
    assert not np.allclose(model.decision_function(replace(inp, sequences=replace(seq, numeric=moved))),
                           model.decision_function(inp))


def test_pretraining_the_hybrid_member_and_a_saved_member_read_the_buckets(tmp_path):
    """The pretrained encoder's tower embeds the buckets too and passes them on to the hybrid member it
    warm-starts; a saved sequence member loads with its code channel and gives the same logits."""
    spec = BUCKETED.replace("values = { atm", "# values = { atm")
    inp = _world(tmp_path / "world", n=60, channel=_shop, spec=spec, balance_tells=False)
    encoder = pretrain(histories_of(inp), {"epochs": 1, "min_steps": 0, "dim": 8, "layers": 1, "max_slice": 8}, seed=0)
    assert len(encoder.tower.code_emb) == 1 and float(encoder.tower.code_emb[0].weight.detach().abs().sum()) > 0
    assert np.array_equal(encoder.embed(inp), encoder.embed(inp))
    hybrid = HybridModel(max_epochs=1, batch_size=32, seed=0).warm_start(encoder).fit(inp)
    assert np.allclose(hybrid.explain(inp).logit(), hybrid.decision_function(inp), atol=1e-5)
    model = SequenceModel(hidden=8, layers=1, max_epochs=1, batch_size=32, seed=0).fit(inp)
    save_model(model, tmp_path / "model", inp)
    loaded = load_model(tmp_path / "model")
    assert np.array_equal(loaded.decision_function(inp), model.decision_function(inp))
