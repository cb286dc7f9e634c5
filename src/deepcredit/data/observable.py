"""The achievable limit of a simulated world: each person's PD given what can be observed before as-of.

Why: the Bayes limit (AUC of the true PD) uses each person's latent risk, which no model can see; about
50 events over two years reveal it only partly, so the gap to it mixes a model's shortfall with noise no
model can remove. This gauge is the PD a model that knew the simulator's story exactly would give from
the data a model may read, so the gap to it is the model's own.

What it conditions on (everything dated strictly before as-of; protected attributes are left out, as
they are for every model):

- the person's own profile: education, occupation, identity verification, city tier, tenure (joined_at),
  income (or that it is missing) and credit limit -- exact likelihoods of the simulator's formulas (the
  occupation's override of students and retirees by age is integrated over the unseen age);
- the person's own events before as-of: their number (negative binomial: Poisson with a Gamma(2)
  activity), every event's kind, status category, days late and whether the merchant is in the risky
  block -- exact, except that an event's place on the drift ramp is taken at the centre of its
  10-day bin;
- the person's own relations first seen before as-of: their kinds (shared devices are commoner among
  risky people);
- with the simulator's temporal option, the order of the person's event kinds before as-of (the sticky
  chain's exact likelihood, its latent t integrated on a grid);
- the neighbours (out-edges before as-of) through one summary, the mean of their own-data posterior means
  of the latent risk: its joint relation with the person's latent risk and with the true neighbour term
  of the PD is a linear-Gaussian model per degree, estimated on the world's truth (a handful of numbers).

The latent variables are integrated numerically: the risk z on a grid of 0.1 over [-4.5, 4.5], the
drift d (0 with probability 0.8, else 6 midpoints of each drift range) and its onset (6 midpoints of
90..270 days before as-of). PD = E[sigmoid(INTERCEPT + 1.15 (z + d) + 0.35 n + profile effects)]
under the posterior of (z, d) and the conditional distribution of the neighbour term n (a normal one,
integrated with the probit approximation of the logistic-normal integral).

It does not condition on the neighbours' information about the person beyond that summary, on
in-edges, on event amounts (they carry information about a missing income) or on protected attributes,
so a model could in principle exceed it by a little; it is a gauge, not a bound.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit, logsumexp, ndtr

from deepcredit.data import simulate as sim
from deepcredit.data.dataset import Dataset

Z_GRID = np.round(np.arange(-4.5, 4.5001, 0.1), 10)
R_STEP = 0.05
R_GRID = np.round(np.arange(-6.5, 9.0001, R_STEP), 10)
Z_AT = np.rint((Z_GRID - R_GRID[0]) / R_STEP).astype(np.int64)  # index of each z in the risk grid
BIN_DAYS = 10
RECENT_DAYS = 270  # the earliest drift onset: older events never see a drift
N_BINS = RECENT_DAYS // BIN_DAYS + 1  # the last bin holds every older event
EDU_CUTS = np.array([-1.7, -0.35, 0.35, 1.2, 2.1])
TIER_CUTS = np.array([-1.1, -0.35, 0.35, 1.0])
OCC_INCOME = np.array([1.0, 1.0, 1.1, 0.8, 0.3, 0.4, 0.7])
CATEGORIES = 4  # kept, bad, severe, neutral (as recorded: days_late 0, 1-59, >= 60, empty)
DEGREE_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 11, 16)
T_GRID = np.linspace(-4.0, 4.0, 33)  # the temporal option's latent t


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-300, None))


def _scenarios() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(drift, onset in days before as-of, prior weight) of every drift scenario; drift 0 first."""
    worse = 1.0 + 1.2 * (np.arange(6) + 0.5) / 6
    better = -(0.6 + 0.9 * (np.arange(6) + 0.5) / 6)
    onsets = 90 + 180 * (np.arange(6) + 0.5) / 6
    d = np.concatenate([[0.0], np.repeat(np.concatenate([worse, better]), len(onsets))])
    o = np.concatenate([[0.0], np.tile(onsets, 12)])
    w = np.concatenate([[0.8], np.full(12 * len(onsets), 0.1 / 6 / len(onsets))])
    return d, o, w


def _event_tables() -> np.ndarray:
    """Log-likelihood of an event's risk-driven outcome on R_GRID: rows 0..47 are (kind 0..5, category,
    risky merchant) of non-transfer events; rows 48..106 add the days late (1..59) of a late event."""
    r = R_GRID
    rows = []
    risky = expit(-3.0 + 0.8 * r)
    p_bad_severe = expit(-1.6 + 0.7 * r)
    for k in range(sim.TRANSFER):
        pn = expit(-2.2 + 0.7 * r) if k == sim.BILL else np.full_like(r, sim.KIND_NEUTRAL[k])
        pb = expit(sim.KIND_BAD[k] + 1.1 * r)
        cat = [(1 - pn) * (1 - pb), (1 - pn) * pb * (1 - p_bad_severe), (1 - pn) * pb * p_bad_severe, pn]
        for c in range(CATEGORIES):
            for m in (0, 1):
                rows.append(_log(cat[c]) + _log(risky if m else 1 - risky))
    mu, sd = np.log(4.0) + 0.3 * r, 0.9
    cdf = [np.zeros_like(r)] + [ndtr((np.log(k) - mu) / sd) for k in range(1, 59)] + [np.ones_like(r)]
    rows += [_log(cdf[k] - cdf[k - 1]) for k in range(1, 60)]
    return np.array(rows)


def _ordinal(level: np.ndarray, cuts: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """log P(searchsorted(cuts, shift + e) == level), e ~ N(0, 1): people x z grid."""
    lo = np.concatenate([[-np.inf], cuts])[level][:, None] - shift[None, :]
    hi = np.concatenate([cuts, [np.inf]])[level][:, None] - shift[None, :]
    return _log(ndtr(hi) - ndtr(lo))


def _profile_loglik(people: pd.DataFrame, as_of: pd.Timestamp, n_pre: np.ndarray, exposure_days: np.ndarray,
                    activity_norm: float, mean_events: float, kinds: np.ndarray, edge_kinds: np.ndarray
                    ) -> np.ndarray:
    """Everything that depends on z alone (not on the drift): people x z grid."""
    z = Z_GRID
    edu = people["education"].map({v: i for i, v in enumerate(sim.EDUCATION)}).to_numpy()
    occ = people["occupation"].map({v: i for i, v in enumerate(sim.OCCUPATIONS)}).to_numpy()
    ll = _ordinal(edu, EDU_CUTS, -0.5 * z)
    ll += _ordinal(people["city_tier"].to_numpy() - 1, TIER_CUTS, 0.25 * z)
    # occupation: softmax over 0..4, then students (age < 24) and retirees (age >= 63) by age, unseen
    logits = np.stack([np.zeros_like(z), -0.8 - 0.4 * z, -1.2 + 0.1 * z, -1.6 + 0.5 * z, -2.6 + 0.8 * z])
    log_soft = logits - logsumexp(logits, axis=0)
    young, old = 0.5 * ndtr((3 * z - 17) / 12), 0.7 * ndtr(-(22 + 3 * z) / 12)
    occ_ll = np.vstack([log_soft + _log(1 - young - old), _log(young), _log(old)])  # 7 x grid
    ll += occ_ll[occ]
    verified = people["identity_verified"].to_numpy().astype(bool)
    p_ver = expit(1.8 - 0.7 * z)
    ll += np.where(verified[:, None], _log(p_ver), _log(1 - p_ver))
    tenure = ((as_of - pd.to_datetime(people["joined_at"])).dt.total_seconds() / 86_400).to_numpy()
    theta = 700 * np.exp(-0.25 * z)
    capped = tenure[:, None] >= 3650 - 1e-3
    ll += np.where(capped, -3630 / theta, -np.log(theta) - (tenure[:, None] - 20) / theta)
    income = people["income"].to_numpy(dtype=np.float64)
    missing = np.isnan(income)
    base = np.log(4500 * OCC_INCOME[occ]) + 0.15 * (edu - 2)
    p_missing = expit(-3.5 + 0.6 * z)
    inc_ll = -0.5 * ((np.log(np.where(missing, 1.0, income))[:, None] - base[:, None] + 0.2 * z) / 0.45) ** 2
    ll += np.where(missing[:, None], _log(p_missing), _log(1 - p_missing) + inc_ll)
    # credit limit: rounded to 100 (at least 100) of income * exp(0.7 - 0.2 z + 0.4 e)
    limit = people["credit_limit"].to_numpy(dtype=np.float64)
    mu = np.where(missing, base, np.log(np.where(missing, 1.0, income)))[:, None] + 0.7 - np.where(
        missing[:, None], 0.4, 0.2) * z
    sd = np.where(missing, np.hypot(0.45, 0.4), 0.4)[:, None]
    hi = (np.log(limit + 50)[:, None] - mu) / sd
    lo = np.where((limit <= 100)[:, None], -np.inf, (np.log(np.maximum(limit - 50, 1e-9))[:, None] - mu) / sd)
    ll += _log(ndtr(hi) - ndtr(lo))
    # number of events before as-of: Poisson(g * mu), g ~ Gamma(2, 1/2): negative binomial
    tm = 0.5 * np.exp(-0.1 * z)[None, :] * (mean_events * exposure_days / activity_norm)[:, None]
    ll += n_pre[:, None] * np.log(tm) - (n_pre[:, None] + 2) * np.log1p(tm)
    # kinds of events (the mix tilts with z) and of relations (shared devices: risky people)
    mix = np.log(sim.KIND_SHARE)[:, None] + np.outer(sim.KIND_TILT, z)
    ll += kinds @ (mix - logsumexp(mix, axis=0))
    p_shared = np.minimum(0.04 * np.exp(0.6 * z), 0.4)
    ll += edge_kinds[:, [0]] * _log(0.7 - p_shared) + edge_kinds[:, [2]] * _log(p_shared)
    return ll


def _own_posterior(ll_z: np.ndarray, counts: sparse.csr_matrix, tables: np.ndarray) -> np.ndarray:
    """log p(z, d | own data) up to a constant per person: people x drift values x z grid (onsets summed).

    An event's risk is z + d * ramp; bins that share a shift of the risk grid form runs (the ramp grows
    towards as-of), so each scenario costs one slice per distinct shift of the bins' cumulative sums."""
    n = ll_z.shape[0]
    d, o, w = _scenarios()
    drifts = np.unique(d)
    per_bin = (counts @ tables).reshape(n, N_BINS, len(R_GRID))  # log-lik of each bin's events at each risk
    cum = np.zeros((N_BINS + 1, n, len(R_GRID)))  # C order: each bin's (people x risk) block is contiguous
    np.cumsum(per_bin.transpose(1, 0, 2), axis=0, out=cum[1:])
    step = int(Z_AT[1] - Z_AT[0])

    def at(run_lo: int, run_hi: int, shift: int) -> np.ndarray:  # bins [run_lo, run_hi) at z + shift
        sl = slice(int(Z_AT[0]) + shift, int(Z_AT[-1]) + shift + 1, step)
        return cum[run_hi][:, sl] - cum[run_lo][:, sl]

    centre = (np.arange(N_BINS) + 0.5) * BIN_DAYS
    out = np.full((n, len(drifts), len(Z_GRID)), -np.inf)
    base = ll_z - 0.5 * Z_GRID ** 2  # prior N(0, 1)
    for s in range(len(d)):
        ramp = np.clip((o[s] - centre) / sim.RAMP_DAYS, 0.0, 1.0)
        ramp[-1] = 0.0
        shift = np.rint(d[s] * ramp / R_STEP).astype(np.int64)
        # the shift falls towards older bins: shifted runs first, then the unshifted rest in one slice
        cuts = np.flatnonzero(np.diff(shift)) + 1
        unshifted = int(np.flatnonzero(shift == 0)[0])
        total = base + at(unshifted, N_BINS, 0)
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, N_BINS], strict=True):
            if shift[lo]:
                total += at(lo, hi, int(shift[lo]))
        j = np.searchsorted(drifts, d[s])
        out[:, j] = np.logaddexp(out[:, j], total + np.log(w[s]))
    return out


def _degree_bucket(degree: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(DEGREE_BUCKETS), degree, side="right") - 1


def _chain_tables() -> np.ndarray:
    """Temporal option: log P(an event's kind | the previous event's kind, z, t) for (kind, same as the
    previous or not) x z grid x t grid: repeat with sigmoid(-1 + 1.5 t), else a fresh draw from the mix."""
    mix = np.log(sim.KIND_SHARE)[:, None] + np.outer(sim.KIND_TILT, Z_GRID)
    pi = np.exp(mix - logsumexp(mix, axis=0))[:, :, None]  # kind x z x 1
    rho = expit(sim.STICKY_INTERCEPT + sim.STICKY_SLOPE * T_GRID)[None, None, :]
    out = np.empty((len(sim.KINDS), 2, len(Z_GRID), len(T_GRID)))
    out[:, 0] = np.log((1 - rho) * pi)
    out[:, 1] = np.log(rho + (1 - rho) * pi)
    return out.reshape(2 * len(sim.KINDS), -1)


def observable_pd(dataset: Dataset, mean_events: float = 50.0, history_days: int = 730, temporal: float = 0.0,
                  chunk: int = 2000) -> pd.DataFrame:
    """person_id, observable_pd (and own_posterior_mean_z) for every person of a simulated world.

    mean_events, history_days and temporal: the simulate_world arguments the world was made with (with
    `temporal`, the order of the kinds is a sticky chain and its latent t is integrated too).
    """
    con = dataset.connect()
    as_of = pd.Timestamp(_one(con, "SELECT min(as_of) FROM outcomes"))
    people = con.execute("SELECT * FROM people ORDER BY person_id").df()
    truth = con.execute("SELECT person_id, z FROM truth ORDER BY person_id").df()
    ids = people["person_id"].to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    n = len(ids)
    start = np.maximum(pd.to_datetime(people["joined_at"]).to_numpy(),
                       np.datetime64(as_of - pd.Timedelta(days=history_days)))
    exposure = (np.datetime64(as_of) - start) / np.timedelta64(1, "D")
    window = int(_one(con, "SELECT max(window_days) FROM outcomes"))
    span = (np.datetime64(as_of + pd.Timedelta(days=window)) - start) / np.timedelta64(1, "D")
    activity_norm = float(np.mean(np.exp(-0.1 * truth["z"].to_numpy()) * span))

    if bool(temporal) != ("temporal_risk" in con.execute("SELECT * FROM truth LIMIT 0").df().columns):
        raise ValueError(f"observable_pd: temporal={temporal} does not match the world "
                         "(simulated with the temporal option or not)")
    ev = con.execute("SELECT person_id, ts, kind, days_late, counterparty FROM events WHERE ts < ? "
                     "ORDER BY person_id, ts", [as_of.to_pydatetime()]).df()
    who = pos.reindex(ev["person_id"]).to_numpy()
    kind = ev["kind"].map({v: i for i, v in enumerate(sim.KINDS)}).to_numpy()
    kinds = np.zeros((n, len(sim.KINDS)))
    np.add.at(kinds, (who, kind), 1.0)
    n_pre = kinds.sum(axis=1)
    chain = np.zeros((n, 2 * len(sim.KINDS)))  # temporal option: (kind, same as the previous) counts
    if temporal:
        first = np.r_[True, who[1:] != who[:-1]]
        same = np.r_[False, kind[1:] == kind[:-1]] & ~first
        np.add.at(chain, (who[~first], 2 * kind[~first] + same[~first]), 1.0)
        kinds = np.zeros((n, len(sim.KINDS)))  # only the first kind is a fresh draw from the mix
        np.add.at(kinds, (who[first], kind[first]), 1.0)
    t_grid, log_prior_t = (T_GRID, -0.5 * T_GRID ** 2) if temporal else (np.zeros(1), np.zeros(1))
    log_prior_t = log_prior_t - logsumexp(log_prior_t)
    chain_tables = _chain_tables() if temporal else np.zeros((chain.shape[1], len(Z_GRID)))

    def chain_ll(c: slice) -> np.ndarray:  # people x z x t
        return (chain[c] @ chain_tables).reshape(-1, len(Z_GRID), len(t_grid)) + log_prior_t
    late = ev["days_late"].to_numpy(dtype=np.float64)
    cat = np.select([np.isnan(late), late == 0, late < 60], [3, 0, 1], 2)
    merchant = ev["counterparty"].str.slice(1).where(kind != sim.TRANSFER, "0").astype(int).to_numpy()
    risky = (merchant >= sim.N_MERCHANTS - sim.RISKY_MERCHANTS).astype(np.int64)
    days = ((as_of - pd.to_datetime(ev["ts"])).dt.total_seconds() / 86_400).to_numpy()
    tbin = np.minimum((days // BIN_DAYS).astype(np.int64), N_BINS - 1)
    informative = kind != sim.TRANSFER
    row = who * N_BINS + tbin
    col = (kind * CATEGORIES + cat) * 2 + risky
    dl_rows = informative & (cat == 1)
    rows = np.concatenate([row[informative], row[dl_rows]])
    cols = np.concatenate([col[informative], 48 + late[dl_rows].astype(np.int64) - 1])
    tables = _event_tables()
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n * N_BINS, len(tables)))

    rel = con.execute("SELECT source, target, kind FROM relations WHERE ts < ?", [as_of.to_pydatetime()]).df()
    src, tgt = pos.reindex(rel["source"]).to_numpy(), pos.reindex(rel["target"]).to_numpy()
    edge_kinds = np.zeros((n, 3))
    np.add.at(edge_kinds, (src, rel["kind"].map({v: i for i, v in enumerate(sim.RELATION_KINDS)}).to_numpy()), 1.0)
    degree = np.bincount(src, minlength=n)

    ll_z = _profile_loglik(people, as_of, n_pre, exposure, activity_norm, mean_events, kinds, edge_kinds)
    drifts = np.unique(_scenarios()[0])
    post = np.empty((n, len(drifts), len(Z_GRID)), dtype=np.float32)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        post[lo:hi] = _own_posterior(ll_z[lo:hi], counts[lo * N_BINS:hi * N_BINS], tables)
        post[lo:hi] -= post[lo:hi].max(axis=(1, 2), keepdims=True)
    m_own = np.empty(n)
    for lo in range(0, n, chunk):
        c = slice(lo, min(lo + chunk, n))
        own = logsumexp(post[c].astype(np.float64), axis=1) + logsumexp(chain_ll(c), axis=2)  # people x z
        p = np.exp(own - own.max(axis=1, keepdims=True))
        m_own[c] = (p * Z_GRID).sum(axis=1) / p.sum(axis=1)

    # the neighbours: M = mean of their own-data posterior means; (z, M, n) linear-Gaussian per degree
    z_true = truth["z"].to_numpy()
    M = np.bincount(src, weights=m_own[tgt], minlength=n) / np.maximum(degree, 1)
    n_true = np.bincount(src, weights=z_true[tgt], minlength=n) / np.maximum(degree, 1)
    bucket = _degree_bucket(degree)
    m_mean, m_sd = np.zeros((n, len(Z_GRID))), np.ones(n)
    n_mean, n_sd = np.zeros((n, len(Z_GRID))), np.zeros(n)
    for b in np.unique(bucket[degree > 0]):
        rows_b = np.flatnonzero((bucket == b) & (degree > 0))
        X1 = np.column_stack([np.ones(len(rows_b)), z_true[rows_b]])
        cm, res_m = _ols(X1, M[rows_b])
        X2 = np.column_stack([X1, M[rows_b]])
        cn, res_n = _ols(X2, n_true[rows_b])
        m_mean[rows_b] = cm[0] + cm[1] * Z_GRID[None, :]
        m_sd[rows_b] = res_m
        n_mean[rows_b] = cn[0] + cn[1] * Z_GRID[None, :] + cn[2] * M[rows_b, None]
        n_sd[rows_b] = res_n
    tenure = ((as_of - pd.to_datetime(people["joined_at"])).dt.total_seconds() / 86_400).to_numpy()
    fixed = (sim.INTERCEPT + 0.4 * ~people["identity_verified"].to_numpy().astype(bool)
             + 0.3 * (people["occupation"].to_numpy() == "unemployed") + 0.2 * (tenure < 180))
    pd_ = np.zeros(n)
    step = max(1, chunk // len(t_grid))
    for lo in range(0, n, step):
        c = slice(lo, min(lo + step, n))
        like_m = np.where((degree[c] > 0)[:, None], -0.5 * ((M[c, None] - m_mean[c]) / m_sd[c, None]) ** 2, 0.0)
        # people x drift x z x t
        q = (post[c].astype(np.float64) + like_m[:, None, :])[..., None] + chain_ll(c)[:, None, :, :]
        q = np.exp(q - q.max(axis=(1, 2, 3), keepdims=True))
        q /= q.sum(axis=(1, 2, 3), keepdims=True)
        # E over the neighbour term n ~ N(mean, sd): the probit approximation of the logistic-normal integral
        scale = 1 / np.sqrt(1 + np.pi / 8 * (0.35 * n_sd[c]) ** 2)
        eta = (fixed[c, None, None, None] + 1.15 * (Z_GRID[None, None, :, None] + drifts[None, :, None, None])
               + 0.35 * n_mean[c][:, None, :, None] + temporal * t_grid[None, None, None, :])
        pd_[c] = (q * expit(eta * scale[:, None, None, None])).sum(axis=(1, 2, 3))
    return pd.DataFrame({"person_id": ids, "observable_pd": pd_, "own_posterior_mean_z": m_own})


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None  # an aggregate always returns a row
    return row[0]


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return coef, float(max(np.sqrt(np.mean(resid ** 2)), 1e-3))
