"""Study G: DeepCredit scorecard's small-data binning rules, on development data only (never German credit).

Data: UCI credit card (profile-only flat table: 20 attributes, SEX/AGE/MARRIAGE left out as protected;
EDUCATION categorical, PAY_* numeric) and the simulator's profile table (30,000 people, seed 7). Each is
subsampled to 1,000 rows (stratified, one seed per subsample) and scored by stratified 5-fold CV; every
variant sees the same folds. At 800 training rows the card runs in its small-data mode (SMALL_DATA).

Variants (patched only here, never in the package):
  a      current rules
  b0     value-bin floor off (optbinning's default: min_bin_n_event / min_bin_n_nonevent = None)
  b2     value-bin floor lowered to 2 bads and 2 goods
  c_pool rare-category pooling off (category_floor -> min_bin_size part only; 0 in small-data mode)
  c_miss special/missing bins get their own WoE whatever their counts (optbinning's behaviour)
  d      optbinning's default Scorecard (benchmark peer code, workflows/benchmarks/scorecards.fit_optbinning)

    python scripts/study_small_data_binning.py --work DIR [--subsamples 50] [--data uci,sim,ucicat]
    # appends to DIR/folds.csv (resumes); the simulated world is made in DIR/sim_world when missing.
    # Results of 2026-12-06: docs/results/scorecard-rules-study-2026-12-06.md (about 57 minutes on 2 busy cores).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optbinning
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.models import binning as B
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.workflows.benchmarks.scorecards import fit_optbinning

ROOT = Path(__file__).resolve().parents[1]
UCI = ROOT.parent / "shared" / "data" / "uci_credit_card.csv"
HERE = Path(".")  # --work sets it
OUT = HERE / "folds.csv"
N_SUB, FOLDS = 1000, 5


# -- data -----------------------------------------------------------------------------------------

def _def(name: str, kind: Kind = Kind.NUMERIC, risk: int = 0) -> FeatureDef:
    return FeatureDef(name, Dimension.FULFILMENT_CAPACITY, Source.PROFILE, f"MAX({name})", name, "n/a",
                      risk_direction=risk, kind=kind, protected=False)


def load_uci() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, list[FeatureDef]]:
    raw = pd.read_csv(UCI)
    y = raw["default.payment.next.month"].to_numpy().astype(int)
    peer = raw.drop(columns=["ID", "SEX", "AGE", "MARRIAGE", "default.payment.next.month"])  # the peer's frame
    ours = peer.astype(float)
    ours["EDUCATION"] = peer["EDUCATION"].astype(int).astype(str)  # a code, not a quantity
    defs = [_def(c, Kind.CATEGORICAL if c == "EDUCATION" else Kind.NUMERIC) for c in ours.columns]
    return ours, peer, y, defs


def load_ucicat() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, list[FeatureDef]]:
    """Sensitivity: UCI with the PAY_* status codes as categories (the category path of the binning, where
    the floor also limits how categories group); the peer gets the same string columns."""
    ours, peer, y, _ = load_uci()
    pay = [c for c in ours.columns if c.startswith("PAY_") and not c.startswith("PAY_AMT")]
    for c in pay:
        ours[c] = peer[c].astype(int).astype(str)
    peer = ours.copy()
    defs = [_def(c, Kind.CATEGORICAL if ours[c].dtype == object else Kind.NUMERIC) for c in ours.columns]
    return ours, peer, y, defs


def load_sim() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, list[FeatureDef]]:
    """The simulator's profile table; risk directions as its spec declares them (0 where it declares none)."""
    if not (HERE / "sim_world").exists():
        from deepcredit.data.simulate import simulate_world
        simulate_world(HERE / "sim_world", people=30_000, seed=7, mean_events=1.0)  # profiles and labels are read
    people = pd.read_parquet(HERE / "sim_world/people")
    out = pd.read_parquet(HERE / "sim_world/outcomes")
    df = people.merge(out[["person_id", "as_of", "label"]], on="person_id")
    tenure = (df["as_of"] - df["joined_at"]).dt.total_seconds() / 86400  # known at as_of
    ours = pd.DataFrame({"education": df["education"].astype(str), "occupation": df["occupation"].astype(str),
                         "identity_verified": df["identity_verified"].astype(float),
                         "city_tier": df["city_tier"].astype(float), "tenure_days": tenure,
                         "credit_limit": df["credit_limit"].astype(float), "income": df["income"].astype(float)})
    risk = {"identity_verified": -1, "tenure_days": -1, "credit_limit": -1, "income": -1}
    defs = [_def(c, Kind.CATEGORICAL if ours[c].dtype == object else Kind.NUMERIC, risk.get(c, 0))
            for c in ours.columns]
    return ours, ours.copy(), df["label"].to_numpy().astype(int), defs


def as_input(X: pd.DataFrame, y: np.ndarray, defs: list[FeatureDef]) -> ModelInput:
    keys = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(len(X))], "as_of": pd.Timestamp("2025-01-01"),
                         "label": y})
    return ModelInput(FeatureFrame(pd.concat([keys, X.reset_index(drop=True)], axis=1), list(defs)))


# -- variants (patches live only inside the context manager) -----------------------------------------

ORIG_OB = optbinning.OptimalBinning


def _floor_ob(k: int | None):
    """optbinning.OptimalBinning with the value-bin floor the binning passes replaced by min(floor, k)."""
    def make(**kw):
        f = kw.get("min_bin_n_event")
        kw["min_bin_n_event"] = kw["min_bin_n_nonevent"] = (min(f, k) or None) if (f and k) else None
        return ORIG_OB(**kw)
    return make


def _woe_extras_free(self, t, n_event, n_nonevent):
    """binning.WoEBinning._woe with special/missing bins held to the value bins' rule (e > 0 and ne > 0)."""
    saved = B.MIN_EVENTS
    B.MIN_EVENTS = 0
    try:
        min_bin_size, self.min_bin_size = self.min_bin_size, None
        try:
            return ORIG_WOE(self, t, n_event, n_nonevent)
        finally:
            self.min_bin_size = min_bin_size
    finally:
        B.MIN_EVENTS = saved


ORIG_WOE = B.WoEBinning._woe


@contextlib.contextmanager
def variant(name: str):
    saved = {}
    try:
        if name in ("b0", "b2"):
            saved["ob"] = optbinning.OptimalBinning
            optbinning.OptimalBinning = _floor_ob(None if name == "b0" else 2)
        elif name == "c_pool":
            saved["cf"] = B.WoEBinning.category_floor
            B.WoEBinning.category_floor = lambda self, y: math.ceil((self.min_bin_size or 0.0) * len(y))
        elif name == "c_miss":
            saved["woe"] = B.WoEBinning._woe
            B.WoEBinning._woe = _woe_extras_free
        yield
    finally:
        if "ob" in saved:
            optbinning.OptimalBinning = saved["ob"]
        if "cf" in saved:
            B.WoEBinning.category_floor = saved["cf"]
        if "woe" in saved:
            B.WoEBinning._woe = saved["woe"]


OURS = ("a", "b0", "b2", "c_pool", "c_miss")


def run_fold(ours: pd.DataFrame, peer: pd.DataFrame, y: np.ndarray, defs, tr: np.ndarray, te: np.ndarray,
             variants: tuple[str, ...]) -> dict[str, float]:
    res = {}
    inp_tr, inp_te = as_input(ours.iloc[tr], y[tr], defs), as_input(ours.iloc[te], y[te], defs)
    for v in variants:
        if v == "d":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, proba, _ = fit_optbinning(peer.iloc[tr].reset_index(drop=True), y[tr])
                res[v] = roc_auc_score(y[te], proba(peer.iloc[te].reset_index(drop=True)))
            continue
        with variant(v):
            m = ScorecardModel().fit(inp_tr)
        assert m.small_data_, "expected the small-data mode"
        p = m.predict_proba(inp_te)[:, 1]
        res[v] = roc_auc_score(y[te], p)
        res[f"{v}_logloss"] = log_loss(y[te], np.clip(p, 1e-6, 1 - 1e-6))
        tabs = m.card_.features  # how often the card holds a value bin with fewer than 5 bads or goods
        res[f"{v}_bins"] = sum(t.n_value_bins for t in tabs)
        res[f"{v}_thin"] = sum(1 for t in tabs for i in range(t.n_value_bins)
                               if min(t.event[i], t.count[i] - t.event[i]) < 5)
        res[f"{v}_used"] = len(tabs)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--subsamples", type=int, default=20)
    ap.add_argument("--data", default="uci,sim")
    ap.add_argument("--variants", default=",".join([*OURS, "d"]))
    args = ap.parse_args()
    global HERE, OUT
    HERE = args.work
    HERE.mkdir(parents=True, exist_ok=True)
    OUT = HERE / "folds.csv"
    variants = tuple(args.variants.split(","))
    done = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame(columns=["data", "sub", "fold"])
    seen = set(zip(done["data"], done["sub"], done["fold"], strict=True))
    for data in args.data.split(","):
        ours, peer, y, defs = {"uci": load_uci, "sim": load_sim, "ucicat": load_ucicat}[data]()
        for s in range(args.subsamples):
            idx, _ = train_test_split(np.arange(len(y)), train_size=N_SUB, stratify=y, random_state=1000 + s)
            ys = y[idx]
            for f, (tr, te) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=s).split(idx, ys)):
                if (data, s, f) in seen:
                    continue
                t0 = time.perf_counter()
                res = run_fold(ours.iloc[idx].reset_index(drop=True), peer.iloc[idx].reset_index(drop=True), ys,
                               defs, tr, te, variants)
                row = {"data": data, "sub": s, "fold": f, "n_train": len(tr), "bads_train": int(ys[tr].sum()),
                       **res, "secs": round(time.perf_counter() - t0, 1)}
                pd.DataFrame([row]).to_csv(OUT, mode="a", header=not OUT.exists(), index=False)
                print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
