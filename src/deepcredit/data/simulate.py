"""A synthetic world whose hidden creditworthiness drives all five dimensions, with known true risk.

Why simulate: real credit data never tells you the best AUC a model *could* reach, and never lets you
prove that a feature pipeline is point-in-time. A simulated world does both: every person's true default
probability is stored (table ``truth``), so the Bayes limit ``roc_auc(label, true_pd)`` is known, and the
events *after* ``as_of`` reveal the outcome, so any feature that peeks past ``as_of`` scores suspiciously well.

The generative story, for each person (all randomness from one seed; see "Determinism" below):

1. **Latent risk.** ``z ~ N(0, 1)``; higher ``z`` means *riskier* (less creditworthy). A drift ``d``:
   80% of people are stable (``d = 0``), 10% worsen recently (``d ~ U(1.0, 2.2)``) and 10% improve
   (``d ~ -U(0.6, 1.5)``). The drift ramps in linearly over ``RAMP_DAYS`` starting at an onset between
   270 and 90 days before ``as_of``, so the risk at time t is ``z + d * ramp(t)`` and the *current* risk
   at ``as_of`` is ``s = z + d``. A worsening person therefore looks better on their whole-history
   average than they are now: recency and trend carry signal.
2. **Profile (identity, fulfilment capacity).** Protected attributes are nearly independent of ``z``:
   sex is independent; age has a *mild* correlation (``age = 41 - 3 z + 12 e``, corr about -0.24, younger
   people slightly riskier); marital status depends on age only. Education, occupation, identity
   verification, city tier, tenure (``joined_at``), income and credit limit all depend on ``z`` (plus
   noise). Income is missing for a few percent of people, more often for risky ones.
3. **Social graph (social connections).** Within each chunk people are sorted by ``z + N(0, 1)`` and each
   links to 1 + Poisson(3) near neighbours in that order (homophily: risky people know risky people);
   plus Poisson(0.5) random edges to anyone in the world. Edge kinds contact / transfer / shared_device
   (shared devices more common among risky people), tie strength ``weight`` in (0, 1], ``ts`` mostly
   before ``as_of`` (7% after). Out-degree averages about 4, so the undirected degree is about 8.
4. **Outcome.** ``true_pd = sigmoid(INTERCEPT + 1.15 s + 0.35 mean_z(neighbours before as_of)
   + 0.4 [not verified] + 0.3 [unemployed] + 0.2 [tenure < 180 days])``: a small social-contagion
   term and a few profile effects. ``label ~ Bernoulli(true_pd)``; the intercept gives a default rate of
   about 11.5%. Since everything observable is generated from the latents plus independent noise, no
   model can beat ``true_pd``: its AUC (``evaluation.limits.world_bayes_auc``) is the ceiling (about 0.84 at 100k people; LightGBM on
   simple hand-made features reaches about 0.79).
5. **Events (credit history, behaviour preferences).** About ``mean_events`` per person (Poisson with a
   Gamma(2) activity, so some people have many more; fewer for recent joiners) over
   ``[max(as_of - history_days, joined_at), as_of + window_days)``. The kind mix tilts with ``z``
   (risky people: more instalments, orders and transfers; fewer utility bills), amounts are log-normal
   and scale with income, risky people shop more at a block of "risky" merchants (m1800-m1999) and
   transfer money to their graph neighbours. Each event's status is drawn from the risk at its time:
   neutral (revolving bill, open order, no_consumption, transfer), else bad with probability
   ``sigmoid(offset_kind + 1.1 risk_t)``, and a bad event is severe (missed / not_returned) with
   probability ``sigmoid(-1.6 + 0.7 risk_t)``. ``days_late`` is 0 for kept commitments, 1-59 for late
   ones, 60/90/120 (days past due when written off) for severe ones and empty for neutral ones;
   ``due_ts = ts - days_late`` (empty for neutral). After ``as_of`` the events agree with the label:
   a defaulter has at least one severe event in the window, a non-defaulter none (their severe draws
   become merely late).

6. **Temporal structure the feature catalogue does not encode (option, off by default).** With
   ``temporal = b > 0`` each person also has a latent ``t ~ N(0, 1)``, independent of everything else,
   that adds ``b t`` to the outcome logit and shows only in the *order* of their events: event kinds
   follow a sticky chain in time order, each event repeating the previous one's kind with probability
   ``sigmoid(-1 + 1.5 t)`` (transitions between kinds; runs of one kind are bursts), otherwise drawn
   from the person's z-tilted mix as before. The chain's stationary mix is that same mix, so kind
   shares, counts, windows and every other aggregate carry (almost) nothing about ``t``; only a model
   of the sequence does. ``truth`` then has ``temporal_risk``. Its draws come from a separate random
   stream, so a world without the option is byte-identical to one made before the option existed.

Determinism: the world is a pure function of (seed, people, chunk_size, as_of, window_days, history_days,
mean_events, temporal). ``chunk_size`` matters (the homophily sort is within a chunk and each chunk has its own
random stream), so the same seed with another chunk size gives a statistically identical but different
world. Latent ``z`` for everyone is drawn first (8 bytes a person), so cross-chunk neighbours are known.

Streaming and resuming: each chunk's five tables are written as part files into a staging directory
named after the parameters; a chunk whose five parts exist is skipped, so a crashed run resumes where it
stopped. The data set appears at ``out`` only once every chunk is written (one atomic rename).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from deepcredit.data.dataset import Dataset, check_replaceable, finalize_dataset
from deepcredit.data.io import atomic_write_parquet, writes_out
from deepcredit.data.spec import builtin_spec

SIMULATOR_VERSION = 1
"""Bump when the generative story changes, so stale partial runs are never resumed."""

DAY_US = 86_400_000_000
SECOND_US = 1_000_000
RAMP_DAYS = 60
INTERCEPT = -3.0
"""Chosen so that about 11.5% of people default (see the tests)."""
TABLE_NAMES = ("people", "events", "relations", "outcomes", "truth")

SEXES = ("female", "male")
MARITAL = ("single", "married", "divorced", "widowed")
EDUCATION = ("primary", "secondary", "vocational", "bachelor", "master", "doctorate")
OCCUPATIONS = ("salaried", "civil_servant", "self_employed", "gig_worker", "unemployed", "student", "retired")
RELATION_KINDS = ("contact", "transfer", "shared_device")

# Event kinds with their mix (base share, tilt of the log-share per unit of z), amount scale relative to
# monthly income, and the log-odds offset of a bad status.
KINDS = ("bill", "repayment", "instalment", "rental", "order", "utility", "transfer")
KIND_SHARE = np.array([0.20, 0.14, 0.12, 0.07, 0.25, 0.14, 0.08])
KIND_TILT = np.array([-0.15, 0.0, 0.35, -0.10, 0.15, -0.30, 0.30])
KIND_AMOUNT = np.array([0.35, 0.25, 0.12, 0.05, 0.04, 0.03, 0.10])
KIND_BAD = np.array([-2.9, -3.1, -2.6, -2.8, -2.5, -3.2, 0.0])
KIND_NEUTRAL = np.array([np.nan, 0.0, 0.0, 0.0, 0.05, 0.03, 1.0])  # bill: revolving, depends on risk
TRANSFER = KINDS.index("transfer")
BILL = KINDS.index("bill")
# Status by kind and category: kept, kept (alternative wording), bad, severe, neutral.
STATUS_TABLE = (
    ("on_time", "paid_full", "late", "missed", "revolving"),
    ("paid_full", "on_time", "overdue", "missed", "neutral"),
    ("on_time", "on_time", "late", "missed", "neutral"),
    ("returned", "returned", "returned_late", "not_returned", "neutral"),
    ("paid_full", "paid_full", "late", "missed", "open"),
    ("on_time", "paid_full", "late", "missed", "no_consumption"),
    ("neutral", "neutral", "neutral", "neutral", "neutral"),
)
STATUSES = tuple(sorted({s for row in STATUS_TABLE for s in row}))
STATUS_INDEX = np.array([[STATUSES.index(s) for s in row] for row in STATUS_TABLE])
KEPT, KEPT_ALT, BAD, SEVERE, NEUTRAL = range(5)
DEFAULT_KINDS = np.array([KINDS.index(k) for k in ("instalment", "repayment", "bill", "order", "rental")])
DEFAULT_KIND_P = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
N_MERCHANTS, RISKY_MERCHANTS = 2000, 200
STICKY_INTERCEPT, STICKY_SLOPE = -1.0, 1.5
"""Temporal option: an event repeats the previous kind with probability sigmoid(-1 + 1.5 t)."""


@dataclass(frozen=True)
class _World:
    """Parameters of one world, with its dates as integer microseconds."""

    people: int
    seed: int
    chunk_size: int
    as_of: str
    window_days: int
    history_days: int
    mean_events: float
    temporal: float = 0.0

    @property
    def as_of_us(self) -> int:
        return int(pd.Timestamp(self.as_of).value // 1000)

    @property
    def snapshot_us(self) -> int:
        return self.as_of_us + self.window_days * DAY_US

    @property
    def history_us(self) -> int:
        return self.as_of_us - self.history_days * DAY_US

    def key(self) -> str:
        fields = asdict(self)
        if not self.temporal:  # the key of a world without the option is the one it had before the option
            del fields["temporal"]
        text = json.dumps({**fields, "version": SIMULATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def chunks(self) -> list[tuple[int, int, int]]:
        return [(c, lo, min(lo + self.chunk_size, self.people))
                for c, lo in enumerate(range(0, self.people, self.chunk_size))]

    def rng(self, chunk: int, stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(chunk, stream)))


@writes_out
def simulate_world(out: Path, people: int, seed: int, chunk_size: int = 50_000,
                   on_progress: Callable[[int], None] | None = None, as_of: str = "2026-01-01",
                   window_days: int = 180, history_days: int = 730, mean_events: float = 50.0,
                   temporal: float = 0.0) -> Dataset:
    """Simulate `people` people into a data set at `out` (resuming a crashed run with the same arguments).

    `on_progress` gets the number of people written so far after each chunk. `temporal`: weight of the
    latent risk that shows only in the order of events (story step 6); 0 leaves it out.
    """
    if people < 1 or chunk_size < 1:
        raise ValueError("people and chunk_size must be at least 1")
    if window_days < 30 or history_days < 30 or mean_events <= 0 or temporal < 0:
        raise ValueError("window_days and history_days must be at least 30, mean_events positive and "
                         "temporal not negative")
    as_of = str(pd.Timestamp(as_of).normalize().date())
    world = _World(people, seed, chunk_size, as_of, window_days, history_days, float(mean_events), float(temporal))
    out = Path(out)
    check_replaceable(out)  # before the world is simulated, not after
    staging = out.with_name(f".{out.name}.seed{seed}.n{people}.{world.key()}.partial")
    z_all = _latent_z(world)
    ids_all = person_ids(np.arange(people), people, seed)
    for c, lo, hi in world.chunks():
        parts = [staging / t / f"part-{c:05d}.parquet" for t in TABLE_NAMES]
        if not all(p.exists() for p in parts):
            tables = _simulate_chunk(world, c, lo, hi, z_all, ids_all)
            for path, t in zip(parts, TABLE_NAMES, strict=True):
                atomic_write_parquet(path, tables[t])
        if on_progress is not None:
            on_progress(hi)
    for leftover in staging.rglob(".*.tmp"):  # from a run killed mid-write
        leftover.unlink()
    snapshot = pd.Timestamp(as_of) + pd.Timedelta(days=window_days)
    description = (f"Simulated world: {people:,} people, seed {seed}, as_of {as_of}, "
                   f"{window_days}-day outcome window, {history_days} days of history "
                   f"(deepcredit simulator v{SIMULATOR_VERSION}, chunk size {chunk_size})"
                   + (f"; temporal structure of weight {temporal:g}." if temporal else "."))
    return finalize_dataset(staging, out, name=f"simulated-{people}-seed{seed}",
                            snapshot_date=str(snapshot.date()), description=description, extras=("truth",),
                            spec=builtin_spec("simulator"))


def person_ids(index: np.ndarray, people: int, seed: int) -> pa.Array:
    """'s42-p0000001' for global index 0 of the world of seed 42: fixed width (at least 7 digits) so ids sort
    like indices. The seed is in the id because worlds of different seeds are different people: with ids
    shared between worlds, a model's record of the rows it was fitted on (person and as-of date) took a
    held-out world's every row for a training row."""
    width = max(7, len(str(people)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(index, dtype=np.int64) + 1), pa.string()),
                          width=width, padding="0")
    return pc.binary_join_element_wise(f"s{seed}-p", digits, "")


# --- the generative story, one chunk at a time ----------------------------------------------------------

def expit(x: np.ndarray | float) -> np.ndarray:
    """The logistic function, written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def _latent_z(world: _World) -> np.ndarray:
    """Everyone's latent risk, drawn first so that neighbours in other chunks are known."""
    return np.concatenate([world.rng(c, 0).standard_normal(hi - lo) for c, lo, hi in world.chunks()])


def _simulate_chunk(world: _World, chunk: int, lo: int, hi: int, z_all: np.ndarray,
                    ids_all: pa.Array) -> dict[str, pa.Table]:
    rng = world.rng(chunk, 1)
    n = hi - lo
    z = z_all[lo:hi]
    ids = ids_all.slice(lo, n)
    kind_of_drift = rng.random(n)
    drift = np.where(kind_of_drift < 0.10, rng.uniform(1.0, 2.2, n),
                     np.where(kind_of_drift < 0.20, -rng.uniform(0.6, 1.5, n), 0.0))
    onset_us = world.as_of_us - rng.uniform(90, 270, n) * DAY_US

    people, profile = _people(rng, world, z, ids)
    relations, edges = _relations(rng, world, lo, z_all, ids_all, profile["start_us"])
    # Contagion: mean latent risk of the people one was linked to before as_of.
    before = edges["ts_us"] < world.as_of_us
    src, tgt = edges["src"][before], edges["tgt"][before]
    degree = np.bincount(src, minlength=n)
    nbr_z = np.bincount(src, weights=z_all[tgt], minlength=n) / np.maximum(degree, 1)
    current = z + drift
    logit = (INTERCEPT + 1.15 * current + 0.35 * nbr_z + 0.4 * ~profile["verified"]
             + 0.3 * profile["unemployed"] + 0.2 * (profile["tenure_days"] < 180))
    temporal = None
    if world.temporal:  # its own stream: the draws of a world without the option are untouched
        rng_t = world.rng(chunk, 2)
        t = rng_t.standard_normal(n)
        logit = logit + world.temporal * t
        temporal = {"rng": rng_t, "t": t, "sticky": expit(STICKY_INTERCEPT + STICKY_SLOPE * t)}
    true_pd = expit(logit)
    label = (rng.random(n) < true_pd).astype(np.int64)
    events = _events(rng, world, z, drift, onset_us, profile, label, ids, edges, ids_all, temporal)

    outcomes = pa.table({
        "person_id": ids,
        "as_of": pa.array(np.full(n, world.as_of_us), pa.timestamp("us")),
        "label": pa.array(label, pa.int64()),
        "window_days": pa.array(np.full(n, world.window_days), pa.int64()),
    })
    truth = pa.table({"person_id": ids, "true_pd": true_pd, "z": z, "drift": drift,
                      **({"temporal_risk": temporal["t"]} if temporal else {})})
    return {"people": people, "events": events, "relations": relations, "outcomes": outcomes,
            "truth": truth}


def _categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row from softmax(logits) (rows: people, columns: categories)."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(logits))
    return np.minimum((u[:, None] > cum).sum(axis=1), logits.shape[1] - 1)


def _take(vocab: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(vocab, pa.string()).take(pa.array(index))


def _timestamps(us: np.ndarray) -> pa.Array:
    """Whole seconds, naive timestamp[us]; NaN becomes null."""
    us = np.asarray(us, dtype=np.float64)
    valid = ~np.isnan(us)
    whole = (np.floor(np.where(valid, us, 0) / SECOND_US) * SECOND_US).astype(np.int64)
    return pa.array(whole, pa.timestamp("us"), mask=~valid)


def _people(rng: np.random.Generator, world: _World, z: np.ndarray,
            ids: pa.Array) -> tuple[pa.Table, dict[str, np.ndarray]]:
    n = len(z)
    e = rng.standard_normal((n, 6))
    u = rng.random((n, 6))
    age = np.floor(np.clip(41 - 3.0 * z + 12 * e[:, 0], 18, 85))
    sex = (u[:, 0] < 0.5).astype(np.int64)
    p_married = 0.7 * expit((age - 30) / 5)
    p_divorced = 0.12 * (age > 30)
    p_widowed = 0.25 * (age > 65)
    marital = np.select([u[:, 1] < p_widowed, u[:, 1] < p_widowed + p_divorced,
                         u[:, 1] < p_widowed + p_divorced + p_married], [3, 2, 1], 0)
    edu = np.searchsorted(np.array([-1.7, -0.35, 0.35, 1.2, 2.1]), -0.5 * z + e[:, 1])
    occ = _categorical(rng, np.stack([np.zeros(n), -0.8 - 0.4 * z, -1.2 + 0.1 * z, -1.6 + 0.5 * z,
                                      -2.6 + 0.8 * z], axis=1))
    occ = np.where((age < 24) & (u[:, 2] < 0.5), 5, np.where((age >= 63) & (u[:, 2] < 0.7), 6, occ))
    verified = u[:, 3] < expit(1.8 - 0.7 * z)
    tier = np.searchsorted(np.array([-1.1, -0.35, 0.35, 1.0]), 0.25 * z + e[:, 2]) + 1
    tenure_days = np.minimum(20 + rng.exponential(700 * np.exp(-0.25 * z)), 3650)
    joined_us = world.as_of_us - tenure_days * DAY_US
    occ_income = np.array([1.0, 1.0, 1.1, 0.8, 0.3, 0.4, 0.7])[occ]
    income = np.round(4500 * occ_income * np.exp(-0.2 * z + 0.15 * (edu - 2) + 0.45 * e[:, 3]), 2)
    limit = np.maximum(np.round(income * np.exp(0.7 - 0.2 * z + 0.4 * e[:, 4]) / 100) * 100, 100.0)
    income_missing = u[:, 4] < expit(-3.5 + 0.6 * z)
    table = pa.table({
        "person_id": ids,
        "sex": _take(SEXES, sex),
        "age": age,
        "marital_status": _take(MARITAL, marital),
        "education": _take(EDUCATION, edu),
        "occupation": _take(OCCUPATIONS, occ),
        "identity_verified": pa.array(verified, pa.bool_()),
        "city_tier": pa.array(tier, pa.int64()),
        "joined_at": _timestamps(joined_us),
        "credit_limit": limit,
        "income": pa.array(income, pa.float64(), mask=income_missing),
    })
    profile = {"income": income, "verified": verified, "unemployed": occ == 4, "tenure_days": tenure_days,
               "start_us": np.maximum(joined_us, world.history_us)}
    return table, profile


def _relations(rng: np.random.Generator, world: _World, lo: int, z_all: np.ndarray, ids_all: pa.Array,
               start_us: np.ndarray) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Homophilous edges within the chunk plus a few random ones across the world, sorted by source."""
    n = len(start_us)
    z = z_all[lo:lo + n]
    order = np.argsort(z + rng.standard_normal(n), kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    k_near = 1 + rng.poisson(3.0, n)
    src_near = np.repeat(np.arange(n), k_near)
    offset = rng.geometric(0.3, len(src_near)) * rng.choice(np.array([-1, 1]), len(src_near))
    tgt_near = lo + order[np.clip(rank[src_near] + offset, 0, n - 1)]
    k_far = rng.poisson(0.5, n)
    src_far = np.repeat(np.arange(n), k_far)
    tgt_far = rng.integers(0, world.people, len(src_far))
    src = np.concatenate([src_near, src_far])
    tgt = np.concatenate([tgt_near, tgt_far])
    keep = tgt != src + lo
    pair = (src[keep].astype(np.int64) * world.people + tgt[keep])
    pair = np.unique(pair)  # drops repeated edges and sorts by source
    src, tgt = pair // world.people, pair % world.people
    m = len(src)
    p_shared = np.minimum(0.04 * np.exp(0.6 * z[src]), 0.4)
    u = rng.random(m)
    kind = np.where(u < p_shared, 2, np.where(u < p_shared + 0.3, 1, 0))
    weight = np.clip(np.round(rng.beta(np.where(kind == 2, 5.0, 2.0), 3.0), 3), 0.001, 1.0)
    after = rng.random(m) < 0.07
    ts_us = np.where(after, world.as_of_us + rng.random(m) * world.window_days * DAY_US,
                     start_us[src] + rng.random(m) * (world.as_of_us - start_us[src]))
    table = pa.table({
        "source": ids_all.take(pa.array(src + lo)),
        "target": ids_all.take(pa.array(tgt)),
        "kind": _take(RELATION_KINDS, kind),
        "weight": weight,
        "ts": _timestamps(ts_us),
    })
    return table, {"src": src, "tgt": tgt, "ts_us": ts_us}


def _sticky_kinds(rng: np.random.Generator, fresh: np.ndarray, pe: np.ndarray, ts_us: np.ndarray,
                 sticky: np.ndarray) -> np.ndarray:
    """Kinds as a sticky chain in each person's time order: an event repeats the previous event's kind with
    the person's probability `sticky`, else keeps its own fresh draw (so the mix stays the fresh one)."""
    order = np.lexsort((ts_us, pe))
    p = pe[order]
    first = np.r_[True, p[1:] != p[:-1]]
    repeat = ~first & (rng.random(len(p)) < sticky[p])
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(p))))  # the last fresh event so far
    kind = np.empty_like(fresh)
    kind[order] = fresh[order][source]
    return kind


def _events(rng: np.random.Generator, world: _World, z: np.ndarray, drift: np.ndarray, onset_us: np.ndarray,
            profile: dict[str, np.ndarray], label: np.ndarray, ids: pa.Array, edges: dict[str, np.ndarray],
            ids_all: pa.Array, temporal: dict | None = None) -> pa.Table:
    n = len(z)
    start_us = profile["start_us"]
    span_us = world.snapshot_us - start_us
    activity = rng.gamma(2.0, 0.5, n) * np.exp(-0.1 * z) * span_us
    counts = rng.poisson(world.mean_events * activity / activity.mean())
    pe = np.repeat(np.arange(n), counts)
    m = len(pe)
    ts_us = start_us[pe] + rng.random(m) * span_us[pe]

    # Kind mix tilts with z: sample per event against the person's cumulative shares, one kind at a time.
    shares = np.log(KIND_SHARE)[None, :] + np.outer(z, KIND_TILT)
    shares = np.exp(shares - shares.max(axis=1, keepdims=True))
    cum = np.cumsum(shares / shares.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(m)
    kind = np.zeros(m, dtype=np.int64)
    for j in range(len(KINDS) - 1):
        kind += u > cum[pe, j]
    if temporal is not None:
        kind = _sticky_kinds(temporal["rng"], kind, pe, ts_us, temporal["sticky"])

    # Status from the risk at the event's time: drift ramps in after the onset.
    ramp = np.clip((ts_us - onset_us[pe]) / (RAMP_DAYS * DAY_US), 0.0, 1.0)
    risk = z[pe] + drift[pe] * ramp
    p_neutral = np.where(kind == BILL, expit(-2.2 + 0.7 * risk), KIND_NEUTRAL[kind])
    neutral = rng.random(m) < p_neutral
    bad = rng.random(m) < expit(KIND_BAD[kind] + 1.1 * risk)
    severe = bad & (rng.random(m) < expit(-1.6 + 0.7 * risk))
    post = ts_us >= world.as_of_us
    severe &= ~post | (label[pe] == 1)  # after as_of, only defaulters break commitments for good
    alt = rng.random(m) < 0.4
    category = np.select([neutral, severe, bad, alt], [NEUTRAL, SEVERE, BAD, KEPT_ALT], KEPT)
    late_days = np.clip(np.ceil(rng.lognormal(np.log(4.0) + 0.3 * risk, 0.9)), 1, 59)
    written_off = 30.0 * rng.integers(2, 5, m)
    days_late = np.select([category == NEUTRAL, category == SEVERE, category == BAD],
                          [np.nan, written_off, late_days], 0.0)

    # Every defaulter breaks one commitment for good inside the window (due and recorded after as_of).
    defaulters = np.flatnonzero(label == 1)
    d = len(defaulters)
    d_kind = DEFAULT_KINDS[rng.choice(len(DEFAULT_KINDS), d, p=DEFAULT_KIND_P)]
    d_late = np.minimum(30.0 * rng.integers(1, 4, d), world.window_days / 2)
    d_due = world.as_of_us + rng.random(d) * (world.window_days * DAY_US - d_late * DAY_US)
    pe = np.concatenate([pe, defaulters])
    kind = np.concatenate([kind, d_kind])
    category = np.concatenate([category, np.full(d, SEVERE)])
    days_late = np.concatenate([days_late, d_late])
    ts_us = np.concatenate([ts_us, d_due + d_late * DAY_US])
    risk = np.concatenate([risk, z[defaulters] + drift[defaulters]])
    m += d
    # Whole seconds, so that the due date (ts - days_late) never falls after ts.
    ts_us = np.floor(ts_us / SECOND_US) * SECOND_US
    due_us = np.where(category == NEUTRAL, np.nan, ts_us - np.nan_to_num(days_late) * DAY_US)

    amount = np.round(profile["income"][pe] * KIND_AMOUNT[kind] * rng.lognormal(0.0, 0.6, m), 2)
    amount = np.maximum(amount, 0.01)
    # Counterparties: merchants (risky people favour the risky block), transfers go to graph neighbours.
    risky_shop = rng.random(m) < expit(-3.0 + 0.8 * risk)
    merchant = np.where(risky_shop, N_MERCHANTS - RISKY_MERCHANTS + rng.integers(0, RISKY_MERCHANTS, m),
                        np.floor((N_MERCHANTS - RISKY_MERCHANTS) * rng.random(m) ** 2).astype(np.int64))
    degree = np.bincount(edges["src"], minlength=n)
    first_edge = np.concatenate([[0], np.cumsum(degree)[:-1]])
    pick = first_edge[pe] + np.floor(rng.random(m) * degree[pe]).astype(np.int64)
    stranger = rng.integers(0, world.people, m)
    friend = (np.where(degree[pe] > 0, edges["tgt"][np.minimum(pick, len(edges["tgt"]) - 1)], stranger)
              if len(edges["tgt"]) else stranger)
    merchants = pc.binary_join_element_wise(
        "m", pc.utf8_lpad(pc.cast(pa.array(np.arange(N_MERCHANTS)), pa.string()), width=4, padding="0"), "")
    counterparty = pc.if_else(pa.array(kind == TRANSFER), ids_all.take(pa.array(friend)),
                              merchants.take(pa.array(merchant)))

    order = np.lexsort((ts_us, pe))
    status = STATUS_INDEX[kind, category]
    return pa.table({
        "person_id": ids.take(pa.array(pe[order])),
        "ts": _timestamps(ts_us[order]),
        "kind": _take(KINDS, kind[order]),
        "amount": amount[order],
        "status": _take(STATUSES, status[order]),
        "due_ts": _timestamps(due_us[order]),
        "days_late": pa.array(days_late[order], pa.float64(), from_pandas=True),
        "counterparty": counterparty.take(pa.array(order)),
    })
