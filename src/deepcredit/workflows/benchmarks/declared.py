"""A data set a user declared (German credit is the shipped one): our scorecard and stack against the peers.

The data set comes in through the public path (a spec and `load`/`ingest`), so its features are what the
templates make of the declarations. The peers (optbinning's default `Scorecard`, LightGBM defaults) read
the same declared attributes raw, protected ones left out, as their tutorials would. Two protocols over
the rows in the data set's own file order, both on all rows:

    split  train_test_split(test_size=0.3, stratify=y, random_state=42): fit on 70 %, AUC on 30 %
    cv     RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=42): 25 fits, AUC mean and sd

Dated data asked for a time split instead (`test_from`): train on the rows dated before it whose outcome
is known by then, test on the rows dated on or after it (models.splits.time_split), as deployment would.

Every model sees the same folds, and no fit here chooses anything on its held-out rows. One earlier choice
did look at German's: the scorecard's small-data rule was found on these very split and folds
(docs/benchmarks.md, "Where the small-data rule came from"), so German's figures are not clean evidence for it.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from deepcredit.data.dataset import Dataset
from deepcredit.evaluation.metrics import fold_sd
from deepcredit.evaluation.rolling import rolling_origin_folds
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.models.splits import Fold, time_split, unmatured_rows
from deepcredit.workflows.benchmarks.models import ModelsRun, fit_stack, members_for, metrics, stack_pds

Folds = list[tuple[np.ndarray, np.ndarray]]
PEERS = ("peer:optbinning", "peer:lightgbm", "peer:lightgbm_on_our_features")
"""The peers: optbinning and LightGBM on the raw declared attributes, and LightGBM on DeepCredit's own feature
matrix (the same features the members read), which tells the models' part of a gap from the features'."""


def in_file_order(ds: Dataset, inp: ModelInput) -> ModelInput:
    """The model input's rows in the order the people file lists them (the protocols' row order). With
    attribute history a person has a row per profile version: persons are ranked by their first row."""
    people = ds.read("people")["person_id"].astype(str).drop_duplicates()
    rank = pd.Series(np.arange(len(people)), index=people.to_numpy())
    return inp.take(np.argsort(rank.loc[inp.keys["person_id"].astype(str)].to_numpy(), kind="stable"))


def raw_inputs(ds: Dataset, inp: ModelInput) -> pd.DataFrame:
    """The declared, non-protected attributes as stored (text as pandas category), aligned with inp's rows;
    dates are left out (a peer's tutorial reads no raw timestamps). Where the profile has a history, each
    row reads the version valid strictly before its as-of date (none before the first: missing), never a
    later one."""
    attrs = [a for a in ds.spec.profile.attributes if not a.protected and a.type != "date"]
    names = [a.name for a in attrs]
    if not ds.spec.profile.valid_from:
        people = ds.read("people")
        people.index = people["person_id"].astype(str)
        X = people.loc[inp.keys["person_id"].astype(str), names].reset_index(drop=True)
    else:
        X = ds.profile_as_of(inp.keys)[names]
    return peer_frame(X)


def peer_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64, anything else as pandas category: what the peers' defaults read."""
    X = X.copy()
    for c in X.columns:
        X[c] = X[c].astype("float64") if pd.api.types.is_numeric_dtype(X[c]) else X[c].astype("category")
    return X


@dataclass(frozen=True)
class Protocol:
    """Folds every model is fitted and tested on, and how their results are read: each fold's metrics
    (mean and sd over folds when there are several), or, `pooled`, one set over every fold's test rows."""

    name: str
    folds: Folds
    describe: str
    pooled: bool = False
    periods: tuple[str, ...] = ()


def protocols(y: np.ndarray, cv: bool, keys: pd.DataFrame | None = None, test_from: object = None,
              rolling: int = 0, period: str = "quarter") -> list[Protocol]:
    """The protocols asked for. Dated data (keys with known_at): a time split at `test_from`, or rolling
    origin over the last `rolling` periods; otherwise the random split and, with cv, repeated CV."""
    if keys is None and (test_from is not None or rolling):
        raise ValueError("a split over time needs the rows' keys")
    if test_from is not None and keys is not None:
        fold = time_split(keys, test_from)
        return [Protocol("time", [(fold.train, fold.predict)],
                         f"a time split: train on rows dated before {pd.Timestamp(test_from).date()} whose outcome "
                         "is known by then, test on the rows dated on or after it")]
    if rolling and keys is not None:
        folds = rolling_origin_folds(keys["as_of"], rolling, period, keys["known_at"])
        return [Protocol("rolling", [(f.train, f.predict) for f in folds],
                         f"rolling origin: each of the last {rolling} periods ({period}) tested on models fitted on "
                         "the rows dated before it whose outcome is known by then; metrics over the pooled test rows",
                         pooled=True, periods=tuple(f.period for f in folds))]
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.3, stratify=y, random_state=42)
    out = [Protocol("split", [(train, test)], "stratified 70/30, random_state=42, rows in file order")]
    if cv:
        out.append(Protocol("cv", list(RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=42).split(idx, y)),
                            "RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=42)"))
    return out


def peer_columns(X: pd.DataFrame, train: np.ndarray) -> tuple[list[str], dict[str, str]]:
    """The raw attributes the peers read on these training rows, and those left out with why: one with fewer
    than two values there carries nothing to bin or split, and an empty one crashed optbinning's prebinning
    (sklearn's "Found array with 0 sample(s)") with no column named."""
    left: dict[str, str] = {}
    for c in X.columns:
        n = X[c].iloc[train].nunique(dropna=True)
        if n < 2:
            left[c] = "no value in the training rows" if n == 0 else "one value in every training row"
    return [c for c in X.columns if c not in left], left


def peer_optbinning(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    as_object = X.astype({c: object for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)})
    card = Scorecard(binning_process=BinningProcess(list(X.columns)), estimator=LogisticRegression())
    card.fit(as_object.iloc[train], y[train])
    return np.asarray(card.predict_proba(as_object.iloc[test]))[:, 1]


def peer_lightgbm(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(verbose=-1).fit(X.iloc[train], y[train])
    return np.asarray(clf.predict_proba(X.iloc[test]))[:, 1]


def fold_predictions(inp: ModelInput, X: pd.DataFrame, ours: pd.DataFrame, members: list[str], args: ModelsRun,
                     train: np.ndarray, test: np.ndarray, log_name: str,
                     log: Callable[[str], None]) -> tuple[dict[str, np.ndarray], dict]:
    """({model: PD of every test row}, what the stack and card were) for one fold. X: the declared
    attributes raw; ours: DeepCredit's feature matrix, as the peers read them."""
    y = inp.y
    kept, left_out = peer_columns(X, train)
    raw = X[kept]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card = ScorecardModel().fit(inp.take(train))
        stack = fit_stack(inp, train, members, args, log_name, log)
        pds = {f"member:{k}": p for k, p in stack_pds(stack, inp.take(test)).items() if k != "stack"}
        pds.update({"scorecard": card.predict_proba(inp.take(test))[:, 1],
                    "stack": stack.predict_proba(inp.take(test))[:, 1],
                    "peer:optbinning": peer_optbinning(raw, y, train, test),
                    "peer:lightgbm": peer_lightgbm(raw, y, train, test),
                    "peer:lightgbm_on_our_features": peer_lightgbm(ours, y, train, test)})
    info = {"scorecard_small_data": bool(card.small_data_), "stack_members": [k for k, _ in stack.members_],
            "stack_skipped": dict(stack.skipped_), "meta_weights": stack.metrics_.get("meta_weights"),
            "stack_chose": stack.metrics_.get("combiner", {}).get("chosen"), "peer_left_out": left_out}
    return pds, info


def run(ds: Dataset, args: ModelsRun, cv: bool, step: Callable[[str], None] = lambda s: None,
        log: Callable[[str], None] = lambda line: print(line, flush=True), test_from: object = None,
        rolling: int = 0, period: str = "quarter") -> dict:
    """{models: {name: metrics of the first protocol}, cv: {name: auc_mean/std, ks_mean/std}, members, rows,
    bad_rate, ...}. With `test_from` (a time split) or `rolling` (rolling origin: models hold the pooled
    metrics and auc_by_period), there is no cv."""
    inp = in_file_order(ds, build_model_input(ds, views=("tabular", "temporal", "structural")))
    views = {"tabular"} | ({"temporal"} if inp.sequences is not None else set()) \
        | ({"structural"} if inp.graph is not None and inp.graph.edge_index.shape[1] else set())
    members = members_for(views, args)
    X, ours, y = raw_inputs(ds, inp), peer_frame(inp.X), inp.y
    keys = inp.label_keys
    chosen = protocols(y, cv, keys, test_from, rolling, period)
    results: dict[str, list[dict]] = {}
    pooled: dict[str, list[np.ndarray]] = {}  # each model's PDs of every fold's test rows, in fold order
    stack_info: dict = {}
    choices: dict[str, str | None] = {}
    for proto in chosen:
        n = len(proto.folds)
        step(f"{ds.name}: scorecard, stack and peers ({proto.name}, {n} fit{'s' if n > 1 else ''})")
        runs = []
        for i, (train, test) in enumerate(proto.folds):
            t0 = time.perf_counter()
            pds, info = fold_predictions(inp, X, ours, members, args, train, test, f"{ds.name} {proto.name} {i}", log)
            stack_info = info if proto is chosen[0] and (i == 0 or proto.pooled) else stack_info
            if proto is chosen[0] and proto.pooled:
                choices[proto.periods[i]] = info["stack_chose"]
            both = 0 < y[test].sum() < len(test)  # a period may hold one outcome only
            r = {m: metrics(y[test], p) if both else {"auc": None, "ks": None} for m, p in pds.items()}
            log(json.dumps({"protocol": proto.name, "fold": i, "seconds": round(time.perf_counter() - t0, 1),
                            **{m: v["auc"] for m, v in r.items()}}))
            runs.append(r)
            if proto.pooled:
                for m, p in pds.items():
                    pooled.setdefault(m, []).append(p)
        results[proto.name] = runs
    first = chosen[0]
    tested = np.concatenate([test for _, test in first.folds])
    trained = np.unique(np.concatenate([train for train, _ in first.folds]))
    if first.pooled:
        models = {m: {**metrics(y[tested], np.concatenate(v)),
                      "auc_by_period": dict(zip(first.periods, [r[m]["auc"] for r in results[first.name]],
                                                strict=True))}
                  for m, v in pooled.items()}
    else:
        models = {m: dict(r) for m, r in results[first.name][0].items()}
    models = {m: {k: v for k, v in r.items() if k in ("auc", "ks", "ece", "auc_by_period")} for m, r in models.items()}
    out: dict = {"split": first.describe, "train_rows": int(len(trained)), "test_rows": int(len(tested)),
                 "test_bads": int(y[tested].sum()), "members": members,
                 "models": models, "rows": int(len(y)), "bad_rate": round(float(y.mean()), 4),
                 "inputs": f"{X.shape[1]} declared attributes (protected ones left out); peers read them raw"
                 + "".join(f"; {c} left out of the peers ({why})" for c, why in stack_info.get("peer_left_out", {}).items()),
                 **stack_info}
    if first.name == "time":
        out["unmatured_rows"] = unmatured_rows(keys, Fold(*first.folds[0]))
    if first.pooled:
        out["test_periods"] = list(first.periods)
        out["stack_chose_by_period"] = choices  # a blend, or the member it fell back to, refitted each period
    if "cv" in results:
        cv_runs = results["cv"]
        out["cv_protocol"] = chosen[1].describe
        out["cv"] = {m: {f"{k}_{s}": round(float(fn([r[m][k] for r in cv_runs])), 4)
                         for k in ("auc", "ks") for s, fn in (("mean", np.mean), ("std", fold_sd))}
                     for m in cv_runs[0]}
        for m, c in out["cv"].items():
            models[m]["cv_auc"] = c["auc_mean"]
    return out
