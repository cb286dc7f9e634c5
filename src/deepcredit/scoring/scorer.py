"""The one Scorer: from any CreditModel and a ModelInput to what a person sees.

    scorer = Scorer(model)                        # any CreditModel: a scorecard, a member, the stack
    card = scorer.report(inp)                     # person_id, as_of, pd, score, band, five sub-scores, reasons
    card, reasons = scorer.explain(inp)           # the same, plus the long table of reason codes

Batch scoring, `deepcredit explain`, evaluation and the service all score through it, so PD -> score ->
band -> sub-scores -> reasons is built here and nowhere else.

Every CreditModel explains its logit as base + per-dimension (and, where it can, per-feature)
contributions in log-odds. On the score scale a logit contribution c is worth -factor * c points, so:

- score: the scale's whole-point score of the model's PD (the same number predict_proba gives); for a
  scorecard that is exactly base points + the points of the person's bins (its logit is defined by them);
- sub-scores: one per dimension **the model has input data for** (a feature it uses, or a tower that
  reads that dimension's data: events for history, capacity and behaviour, the graph for social
  connections). The base's points are shared equally among those dimensions, each adds its own points,
  rounded so that they add up to the unclipped whole-point score exactly (largest remainders), and
  clipping is shared out by scale.split_total. A dimension without data gets no points and is reported as
  "no data" (<NA> in frames, null in JSON) instead of a neutral share it never earned;
- no record (`<dimension>_no_record`, one boolean per dimension): the model has data for the dimension, but
  this person's record holds nothing in it, so its sub-score is what anyone without history there gets.
  Read from the feature definitions, not from one data set: every feature of the dimension that the input
  holds has the value the engine gives a person with no rows in its source (FeatureDef.fill, else missing:
  no events before as_of, no connections, no attribute on file). All of the dimension's features count,
  not only those the model uses, so one used count at 0 does not hide a record the person has; a
  dimension without features in the input (read by a tower alone) or without data is never flagged;
- reason codes (the one policy, docs/scoring.md): up to `top` features with the largest risk-increasing
  contributions (positive log-odds relative to the model's base, i.e. points taken off; at least one whole
  point), among the features the model uses, leaving out a feature whose value already is where its advice
  is met: 0 or below where higher is riskier, at or past its declared `met_at` (118% repaid meets 'pay in
  full') (at_floor); ties break by the features' catalogue order. Text comes from the feature definitions;
  a reason on a missing value shows what that means (FeatureDef.missing, else NO_RECORD) and no advice to
  change it (MISSING_ADVICE). What a dimension's contribution holds beyond its features' (a recurrent tower
  over the events, a graph tower, a deep part: everything a model explains per dimension only) competes
  as one more reason of that dimension, `<dimension>_as_a_whole` (AS_A_WHOLE: its words and advice), so a
  model without per-feature contributions (the sequence or graph member alone) still names its reasons;
  such reasons take at most half the places (one of one), so a person still reads specific figures, and
  each shows as its value the person's figure of that dimension furthest beyond typical on its risky side
  (scoring.figures), with advice about that figure (its own, else the dimension's general advice). Advice
  on an attribute is given only where another value of it is less risky than the person's own
  (scoring.advice: not in the least risky category; not a value on its declared safe side).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef, Kind, Source, shown_in
from deepcredit.features.templates import (
    AGAINST_ADVICE,
    IMPROVE_BY_DIMENSION,
    MISSING_ADVICE,
    NETWORK,
    NO_RECORD,
    NOT_ACTIONABLE,
    PAY_ON_TIME,
    PROFILE_AS_IS,
    REGULAR,
)
from deepcredit.models.base import DIMENSIONS, CreditModel, Explanation, proba_columns
from deepcredit.models.scale import ScoreScale, not_probabilities, split_total
from deepcredit.models.stack import instance_views
from deepcredit.scoring.advice import ALREADY_BEST, ALREADY_TOWARDS, already_best, safe_side, towards_met
from deepcredit.scoring.figures import figure_text, telling_figures

LONG_COLUMNS = ("row", "person_id", "as_of", "rank", "feature", "dimension", "value", "contribution",
                "points_lost", "reason", "how_to_improve")
STRUCTURAL_DIMENSIONS = (Dimension.SOCIAL_CONNECTIONS.value,)
AS_A_WHOLE = {d.value: FeatureDef(f"{d.value}_as_a_whole", d, Source.DERIVED, "", text, advice) for d, text, advice in (
    (Dimension.IDENTITY, "your profile read as a whole, beyond any one detail", PROFILE_AS_IS),
    (Dimension.CREDIT_HISTORY, "your record of keeping commitments read as a whole, beyond any one figure",
     PAY_ON_TIME),
    (Dimension.FULFILMENT_CAPACITY, "your means and what you owe read as a whole, beyond any one figure",
     IMPROVE_BY_DIMENSION[Dimension.FULFILMENT_CAPACITY]),
    (Dimension.BEHAVIOUR_PREFERENCES, "your activity and habits read as a whole, beyond any one figure", REGULAR),
    (Dimension.SOCIAL_CONNECTIONS, "your connections read as a whole, beyond any one figure", NETWORK))}
"""The reason of what a dimension's contribution holds beyond its features' (module docstring): words that
are true whichever part of a model carries it (the events in order, a graph, a deep part's reading of a
profile's attributes together), and the dimension's general advice."""
WHOLE_NAMES = frozenset(w.name for w in AS_A_WHOLE.values())
NO_RECORD_PART = "no record on file: this part is scored as for people without history"
"""Beside a sub-score that rests on no record of the person's (`<dimension>_no_record`), wherever a person
reads their card (the CLI, the service's JSON and page): a number alone would read as earned. "On file", not
"yet": retention may have retired a person's only records (service/retention.py)."""


def top_losses(loss: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of an (n, k) matrix of losses, the columns of the `top` largest positive losses.

    Returns (cols (n, t), valid (n, t)): valid is False where fewer than t losses are positive. A stable
    sort on -loss breaks ties by column order, so the same input always gives the same reasons.
    """
    n, k = loss.shape
    t = max(0, min(int(top), k))
    order = np.argsort(-loss, axis=1, kind="stable")[:, :t]
    valid = np.take_along_axis(loss, order, axis=1) > 0
    return order, valid


def apportion(real: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Integers per cell, close to `real` (n, k), whose rows add up to `total` (n,): largest remainders.

    Ties in the remainders go to the earlier column (stable sort), so the result is deterministic.
    """
    real = np.asarray(real, dtype=float)
    n, k = real.shape
    out = np.floor(real).astype(np.int64)
    left = np.asarray(total, dtype=np.int64) - out.sum(axis=1)
    q, r = np.divmod(left, k)  # r in [0, k)
    out += q[:, None]
    order = np.argsort(-(real - np.floor(real)), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), (n, k)).copy(), axis=1)
    out += rank < r[:, None]
    return out


def subscores(explanation: Explanation, pd_: np.ndarray, scale: ScoreScale,
              dimensions: Sequence[str] = DIMENSIONS) -> tuple[np.ndarray, np.ndarray]:
    """(score (n,), sub-scores (n, len(dimensions))) in whole points; sub-scores add up to the score exactly.

    The total is the scale's score of `pd_`; the explanation only decides how it splits across the
    dimensions with data (any contribution booked to another dimension is shared like the base).
    """
    dims = list(dimensions) or list(DIMENSIONS)
    factor, offset = scale.factor, scale.offset
    target = np.rint(scale.raw_score(pd_)).astype(np.int64)  # unclipped whole-point score
    by_dim = explanation.by_dimension[DIMENSIONS]
    others = [d for d in DIMENSIONS if d not in dims]
    base_logit = np.asarray(explanation.base, dtype=float)
    if others:
        base_logit = base_logit + by_dim[others].to_numpy(dtype=float).sum(axis=1)
    base_real = offset - factor * base_logit
    base = int(np.rint(np.median(base_real))) if len(base_real) else int(np.rint(offset))
    points = -factor * by_dim[dims].to_numpy(dtype=float)
    points += ((base_real - base) / len(dims))[:, None]  # a base that varies by row: shared equally
    return split_total(target, apportion(points, target - base), base, scale)


def used_features(model: CreditModel, explanation: Explanation | None = None) -> list[str]:
    """What the model uses: its `used_features_` when it has them, else any feature with a contribution."""
    used = model.used_features_
    if used is not None:
        return list(used)
    if explanation is None or explanation.by_feature is None:
        return []
    f = explanation.by_feature
    return [c for c in f.columns if (f[c].to_numpy() != 0).any()]


def input_dimensions(model: CreditModel, definitions: Sequence[FeatureDef] = ()) -> list[str]:
    """The dimensions a fitted model has input data for, in DIMENSIONS order.

    A combination (fitted_members, e.g. the stack): the union over its members with a non-zero weight. A
    member: the dimensions of the features it uses (`used_features_`, else its `definitions_`, else
    `definitions`), plus those its towers read: event sequences speak to the sequence groups (history,
    capacity, behaviour), the graph to social connections.
    """
    if members := model.fitted_members():
        have = set().union(*(input_dimensions(m.model, definitions) for m in members if m.weight > 0))
        return [d for d in DIMENSIONS if d in have]
    defs = list(model.definitions_ or definitions)
    dim_of = {d.name: d.dimension.value for d in defs}
    used = model.used_features_
    names = list(used) if used is not None else [d.name for d in defs if not d.is_protected()]
    have = {dim_of[n] for n in names if n in dim_of}
    views = instance_views(model)
    if "temporal" in views:
        from deepcredit.models.towers import (  # torch: only for models that have it
            SEQUENCE_GROUPS,
            SequenceTower,
        )

        net = getattr(model, "net_", None)  # a declared measure's channels speak to the measure's dimension
        towers = [m for m in net.modules() if isinstance(m, SequenceTower)] if net is not None else []
        have |= set(SEQUENCE_GROUPS).union(*(t.groups for t in towers))
    if "structural" in views:
        have |= set(STRUCTURAL_DIMENSIONS)
    return [d for d in DIMENSIONS if d in have]


def model_scale(model: CreditModel) -> ScoreScale:
    """The scale a model's scores are read on: its own `scale_` (a scorecard's points) or the default."""
    scale = getattr(model, "scale_", None)
    return scale if isinstance(scale, ScoreScale) else ScoreScale()


class Scorer:
    """PD, score, band, sub-scores and reason codes of any CreditModel, on any ModelInput."""

    def __init__(self, model: CreditModel, scale: ScoreScale | None = None, top: int = 4) -> None:
        self.model = model
        self.scale = scale or model_scale(model)
        self.top = top
        self._dimensions: list[str] | None = None

    def dimensions(self, inp: ModelInput | None = None) -> list[str]:
        """The dimensions with data (fixed per model; `inp` only supplies definitions a model lacks)."""
        if self._dimensions is None:
            self._dimensions = input_dimensions(self.model, inp.definitions if inp is not None else ())
        return self._dimensions

    def probability(self, inp: ModelInput, explanation: Explanation | None = None) -> np.ndarray:
        """P(default) per row: the explanation's exact logit when given, else the model's (= predict_proba).
        A row whose logit is NaN is refused here, naming the person, before any score, band or sub-score."""
        decision = explanation.decision if explanation is not None else None
        p = proba_columns(self.model.decision_function(inp) if decision is None else decision)[:, 1]
        bad = not_probabilities(p)
        if bad.size:
            first = inp.keys.iloc[int(bad[0])]
            raise ValueError(f"{self.model.kind}: {bad.size} of {len(p)} rows have no PD (NaN logit; the first: "
                             f"person {first['person_id']} as of {pd.Timestamp(first['as_of']).date()}): "
                             "no score is given for them; the model or its input is broken")
        return p

    def report(self, inp: ModelInput, explain: bool = True, explanation: Explanation | None = None
               ) -> pd.DataFrame:
        """One row per input row: person_id, as_of, pd, score, band, the five sub-scores, reasons 1..top.

        Sub-scores are nullable integers (<NA>: the model has no data for that dimension), then one boolean
        `<dimension>_no_record` per dimension (True: the person has no record there; module docstring). Reason columns:
        reason_{i} (feature), reason_{i}_text, reason_{i}_improve, reason_{i}_dimension, reason_{i}_value
        (the person's value as they read it: shown_value), reason_{i}_points (points taken off); empty
        where a row has fewer reasons. So a report row holds all the service keeps of a score. explain=False stops after the band: the same scores without
        the explanation pass (for the stack, several times the cost of the scores themselves).
        """
        return self._report(inp, explain, explanation)[0]

    def explain(self, inp: ModelInput, explanation: Explanation | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(report, long reason table) from one explanation pass."""
        return self._report(inp, True, explanation)

    def _report(self, inp: ModelInput, explain: bool, explanation: Explanation | None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        # Columns are gathered as arrays and joined to the keys once: inserting ~20 columns one by one
        # costs about a millisecond each, most of the time of a one-person re-score's report.
        scale, top = self.scale, self.top
        if explain and explanation is None:
            explanation = self.model.explain(inp) if len(inp) else nothing_to_explain()
        pd_ = self.probability(inp, explanation)
        cols: dict[str, object] = {"pd": pd_}
        if explanation is None:
            score = scale.score(pd_)
            cols.update(score=score, band=scale.band(np.asarray(score)).astype(str))
            return _joined(inp.keys, cols), pd.DataFrame(columns=list(LONG_COLUMNS))
        n = len(pd_)
        dims = self.dimensions(inp)
        score, sub = subscores(explanation, pd_, scale, dims)
        cols.update(score=score, band=scale.band(score).astype(str))
        for d in DIMENSIONS:
            cols[d] = pd.arrays.IntegerArray(sub[:, dims.index(d)].astype(np.int64), np.zeros(n, dtype=bool)) \
                if d in dims else pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        empty = no_record(inp.X, inp.definitions, dims)
        for j, d in enumerate(DIMENSIONS):
            cols[no_record_column(d)] = empty[:, j]
        reasons = self.reasons(inp, explanation)
        row, rank = reasons["row"].to_numpy(dtype=np.int64), reasons["rank"].to_numpy(dtype=np.int64)
        shown = np.array([shown_value(f, v) for f, v in zip(reasons["feature"], reasons["value"], strict=True)],
                         dtype=object)
        sources = {"": reasons["feature"].to_numpy(dtype=object), "_text": reasons["reason"].to_numpy(dtype=object),
                   "_improve": reasons["how_to_improve"].to_numpy(dtype=object),
                   "_dimension": reasons["dimension"].to_numpy(dtype=object), "_value": shown}
        for i in range(1, top + 1):
            at = rank == i
            where = row[at]
            for suffix, source in sources.items():
                values = np.full(n, np.nan, dtype=object)
                values[where] = source[at]
                cols[f"reason_{i}{suffix}"] = values
            points = np.zeros(n, dtype=np.int64)
            points[where] = reasons["points_lost"].to_numpy(dtype=np.int64)[at]
            missing = np.ones(n, dtype=bool)
            missing[where] = False
            cols[f"reason_{i}_points"] = pd.arrays.IntegerArray(points, missing)
        return _joined(inp.keys, cols), reasons

    def reasons(self, inp: ModelInput, explanation: Explanation) -> pd.DataFrame:
        """Long table of reason codes: one row per (input row, rank) with a risk-increasing contribution."""
        return reason_table(self.model, inp, explanation, self.scale, self.top, self.dimensions(inp))


def no_record_column(dimension: str) -> str:
    """The report column saying a person has no record in `dimension` (Scorer.report)."""
    return f"{dimension}_no_record"


def no_record(X: pd.DataFrame, definitions: Sequence[FeatureDef], dimensions: Sequence[str]) -> np.ndarray:
    """(rows, len(DIMENSIONS)) booleans: True where every feature of a dimension in `dimensions` that X holds
    has what a person with no rows in its source gets (the engine's LEFT JOIN: FeatureDef.fill, else missing).

    Why from `fill`: it is the one place a definition says what "no rows" reads as (0 for counts), for
    every source and every data set, so no list of 'record-counting' features has to be kept in step."""
    out = np.zeros((len(X), len(DIMENSIONS)), dtype=bool)
    by_dim: dict[str, list[FeatureDef]] = {}
    for f in definitions:
        if f.name in X.columns and f.dimension.value in dimensions:
            by_dim.setdefault(f.dimension.value, []).append(f)
    for d, feats in by_dim.items():
        empty = np.ones(len(X), dtype=bool)
        for f in feats:
            col = X[f.name]
            gone = col.isna().to_numpy(dtype=bool)
            if f.fill is not None and f.kind is not Kind.CATEGORICAL:
                gone |= pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan) == f.fill
            empty &= gone
        out[:, DIMENSIONS.index(d)] = empty
    return out


def nothing_to_explain() -> Explanation:
    """The explanation of no rows (a model's own pass may not take an empty batch: packed sequences cannot)."""
    return Explanation(np.zeros(0), pd.DataFrame(np.zeros((0, len(DIMENSIONS))), columns=list(DIMENSIONS)),
                       decision=np.zeros(0))


def _joined(keys: pd.DataFrame, cols: dict[str, object]) -> pd.DataFrame:
    """The keys (copied) with the columns added, in one step."""
    out = keys.reset_index(drop=True)
    return pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1).set_axis(keys.index, axis=0)


def advice_way(d: FeatureDef) -> int:
    """Which way following a feature's advice moves its value: against its risk, else its improve_direction."""
    return -int(np.sign(d.risk_direction)) if d.risk_direction else d.improve_direction


def at_floor(X: pd.DataFrame, cols: list[str], defs: dict[str, FeatureDef]) -> np.ndarray:
    """(rows, cols): True where a feature's value already is where its advice is met.

    By default, where higher is riskier (risk_direction +1) and the value is 0 or below: counts, shares and
    amounts cannot go lower there, and a trend at or below 0 is not getting worse, so "your late payments
    lower the score" would be wrong and its advice impossible to follow. A feature that declares the value
    where its advice is met (FeatureDef.met_at: a share of 1 for 'pay what is due in full') is at it there
    and anywhere past it the way its advice moves (118% repaid meets 'pay in full'). A model may still give
    such a value a risk-increasing contribution (a share of 0 among few connections, say), but that is the
    model reading something else through it, not a reason the person can act on."""
    out = np.zeros((len(X), len(cols)), dtype=bool)
    met = {j: (defs[c].met_at if defs[c].met_at is not None else 0.0, advice_way(defs[c]))
           for j, c in enumerate(cols) if defs[c].kind is not Kind.CATEGORICAL
           and (defs[c].risk_direction > 0 or (defs[c].met_at is not None and advice_way(defs[c]) != 0))}
    if met:  # one conversion for all of them: this runs in every one-person re-score
        pos = list(met)
        values = X[[cols[j] for j in pos]].to_numpy(dtype=float, na_value=np.nan)
        at = np.array([met[j][0] for j in pos])
        way = np.array([met[j][1] for j in pos])
        out[:, pos] = (values - at) * way >= 0  # NaN compares False: a missing value keeps its reason
    return out


def shown_value(feature: str, value: object) -> str:
    """A reason's value as a person reads it: for a dimension as a whole its telling figure or nothing,
    'missing' where the person's value is, else the value as reason_table labelled it in its feature's unit
    (FeatureDef.label: '+0.06 days per month', '437.27 EUR'); a number whose feature declares no unit (a
    definition made in code, or a model saved before every feature declared one) is written as a number
    with no unit: thousands grouped, at most 4 significant digits after the point."""
    if feature in WHOLE_NAMES:
        return value if isinstance(value, str) else ""  # its telling figure (scoring.figures), if any
    if value is None:
        return "missing"
    if isinstance(value, float) and math.isfinite(value):
        return shown_in("", value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def as_a_whole(explanation: Explanation, by_feature: pd.DataFrame, defs: dict[str, FeatureDef],
               scale: ScoreScale, top: int, dimensions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(contribution, loss), each (n, len(DIMENSIONS)): what each dimension's contribution holds beyond its
    features' (0 to float rounding for a model explained feature by feature), and that as a candidate
    reason: at least a whole point, in a dimension the model has data for (one a person reads "no data"
    about gives no reason), and only the largest max(1, top // 2) of a row's dimensions."""
    rest = explanation.by_dimension[list(DIMENSIONS)].to_numpy(dtype=float)
    known = [j for j, c in enumerate(by_feature.columns) if c in defs]
    if known:
        member = np.zeros((len(known), len(DIMENSIONS)))  # features x dimensions indicator: one matrix product
        member[np.arange(len(known)), [DIMENSIONS.index(defs[by_feature.columns[j]].dimension.value) for j in known]] = 1
        rest = rest - by_feature.to_numpy(dtype=float)[:, known] @ member
    whole = np.where((np.rint(scale.factor * rest) >= 1) & np.isin(DIMENSIONS, list(dimensions)), rest, 0.0)
    largest, _ = top_losses(whole, max(1, top // 2))  # half the places at most: specific figures keep the rest
    loss = np.zeros_like(whole)
    np.put_along_axis(loss, largest, np.take_along_axis(whole, largest, axis=1), axis=1)
    return rest, loss


def reason_table(model: CreditModel, inp: ModelInput, explanation: Explanation, scale: ScoreScale,
                 top: int = 4, dimensions: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table of reason codes (the one policy; see the module docstring). `dimensions`: those the
    model has data for (input_dimensions; the Scorer passes the ones it keeps)."""
    if top <= 0 or len(inp) == 0:
        return pd.DataFrame(columns=list(LONG_COLUMNS))
    defs = {d.name: d for d in (getattr(model, "definitions_", None) or inp.definitions)}
    used = set(used_features(model, explanation))
    by_feature = explanation.by_feature if explanation.by_feature is not None else pd.DataFrame(index=inp.keys.index)
    cols = [c for c in by_feature.columns if c in used and c in defs]
    order = {d: i for i, d in enumerate(defs)}
    cols.sort(key=lambda c: order[c])  # ties break by catalogue order
    contrib = by_feature[cols].to_numpy(dtype=float) if cols else np.zeros((len(inp), 0))
    # a reason must cost at least one whole point, and the person must be able to move it the safer way
    movable = ~at_floor(inp.X, cols, defs)
    cost = np.where((contrib > 0) & movable, contrib, 0.0)  # what each feature costs, a point or not
    reference = getattr(model, "reference_", None) or {}
    against = against_advice(inp.X, cols, defs, reference) | safe_side(inp.X, cols, defs, reference,
                                                                        getattr(model, "spread_", None) or {})
    best = already_best(model, inp.X, cols, defs)
    met, no_gain = towards_met(model, inp.X, cols, defs)  # where the spec says where the advice moves them
    against |= no_gain & ~best
    loss = np.where(np.rint(scale.factor * contrib) >= 1, cost, 0.0)
    if dimensions is None:
        dimensions = input_dimensions(model, inp.definitions)
    whole, whole_loss = as_a_whole(explanation, by_feature, defs, scale, top, dimensions)
    contrib, loss = np.hstack([contrib, whole]), np.hstack([loss, whole_loss])
    advised = {d.dimension.value for d in defs.values() if d.actionable and not d.is_protected()}
    defs = {**defs, **{w.name: w for w in AS_A_WHOLE.values()}}
    cols = [*cols, *(AS_A_WHOLE[d].name for d in DIMENSIONS)]
    pick, valid = top_losses(loss, top)
    r, rank = np.nonzero(valid)
    c = pick[r, rank]
    names = np.array(cols, dtype=object)[c]
    X = inp.X
    keys = inp.keys
    # advice that would move a value the riskier way, or change a value the person does not have, is neither a
    # reason's own nor a whole dimension's
    named_cols = cols[: len(cols) - len(DIMENSIONS)]
    off = against | best | met | X[named_cols].isna().to_numpy(dtype=bool)
    advisable = np.where(off, 0.0, cost) if off.any() else cost
    advice = whole_advice(names, r, named_cols, advisable, defs, advised)
    named = c < against.shape[1]
    for i in np.flatnonzero(named)[best[r[named], c[named]]]:
        advice[i] = ALREADY_BEST  # no other value of it is less risky: advice would only repeat what they do
    for i in np.flatnonzero(named)[against[r[named], c[named]]]:
        advice[i] = AGAINST_ADVICE
    for i in np.flatnonzero(named)[met[r[named], c[named]]]:
        advice[i] = ALREADY_TOWARDS  # already where the advice points: it would only repeat what they have
    values = np.full(len(r), None, dtype=object)  # a dimension as a whole has no one value
    for j in np.unique(c[c < len(named_cols)]):  # one vectorised gather per feature
        m, d = c == j, defs[cols[j]]
        col = X[cols[j]].astype(object).to_numpy()[r[m]]
        # a value missing because it was a code (FeatureDef.codes) shows what the code means
        said = X[d.codes].astype(object).to_numpy()[r[m]] if d.codes and d.codes in X else np.full(len(col), None)
        gone, unsaid = pd.isna(col), pd.isna(said)
        values[m] = [(d.missing or NO_RECORD if u else s) if g else d.label(v)
                     for v, s, g, u in zip(col, said, gone, unsaid, strict=True)]
        for i in np.flatnonzero(m)[gone & unsaid]:
            advice[i] = MISSING_ADVICE  # nothing on record: no advice to change a value they do not have
    tell_figures(model, X, r, names, values, advice, defs)
    return pd.DataFrame({
        "row": r, "person_id": keys["person_id"].to_numpy()[r], "as_of": keys["as_of"].to_numpy()[r],
        "rank": rank + 1, "feature": names,
        "dimension": [defs[n].dimension.value for n in names],
        "value": values,
        "contribution": contrib[r, c],
        "points_lost": np.rint(scale.factor * contrib[r, c]).astype(np.int64),
        "reason": [defs[n].description for n in names],
        "how_to_improve": advice,
    }, columns=list(LONG_COLUMNS))


def tell_figures(model: CreditModel, X: pd.DataFrame, rows: np.ndarray, names: np.ndarray, values: np.ndarray,
                 advice: list[str], defs: dict[str, FeatureDef]) -> None:
    """Beside each dimension read as a whole, the person's most telling figure of it that is not already one
    of their reasons (scoring.figures), as its value, and advice about that same figure: its own, if the
    person can act on it, else the dimension's general advice, never another feature's (audit I, F5: "active
    in 1 of the last 12 months" beside "Pay your utility bills through your account")."""
    reference, spread = getattr(model, "reference_", None), getattr(model, "spread_", None)
    if not spread:
        return
    for dimension, whole in AS_A_WHOLE.items():
        mine = np.flatnonzero(names == whole.name)
        told = telling_figures(X, rows[mine], dimension, defs, reference, spread, (rows, names))
        for i, name in zip(mine, told, strict=True):
            if name is None:
                continue
            d = defs[name]
            values[i] = figure_text(d, X[name].iloc[rows[i]])
            if d.actionable and d.improve:
                advice[i] = d.improve
            elif advice[i] != NOT_ACTIONABLE:  # not another feature's advice beside this figure
                advice[i] = whole.improve


def against_advice(X: pd.DataFrame, cols: list[str], defs: dict[str, FeatureDef],
                   reference: dict[str, float]) -> np.ndarray:
    """(rows, cols): True where following the feature's advice would move the person's value the way the
    model finds riskier.

    A feature whose risk direction is not declared can cost points from either side: "how long ago you
    last used the services: 11 days" may cost points because the model finds very recent activity risky.
    Its advice ("use your account regularly") moves the value one way (improve_direction); a contribution
    is relative to the model's typical person, so a value below the model's typical value (`reference`:
    medians over its training rows) is risky for being low, one above it for being high. Where that is the
    advice's own direction, the advice would make things worse. Values equal to the typical one, missing
    ones, declared risk directions and models without a reference keep their advice."""
    out = np.zeros((len(X), len(cols)), dtype=bool)
    for j, name in enumerate(cols):
        d = defs[name]
        if d.risk_direction == 0 and d.improve_direction != 0 and name in reference:
            value = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float)
            out[:, j] = np.sign(value - reference[name]) == d.improve_direction  # NaN compares False
    return out


def whole_advice(names: np.ndarray, rows: np.ndarray, cols: list[str], cost: np.ndarray,
                 defs: dict[str, FeatureDef], advised: set[str]) -> list[str]:
    """Each reason's how-to-improve text. A dimension read as a whole has no one figure of its own, so it
    takes the advice of the feature, among the model's actionable ones of that dimension that are not
    already among the person's reasons, that costs this person most (`cost`: rows x cols, each feature's
    risk-increasing contribution where the person can move it), in the words the data set's spec declares
    for it. Where none costs them anything, the dimension's general advice (AS_A_WHOLE); where the data set
    has no actionable feature of that dimension at all (`advised`: the dimensions that have one), no advice
    (NOT_ACTIONABLE). So a data set whose spec says nothing of balances never reads "bring your balance
    down", one that declares every attribute of a dimension not actionable is not told to change it, and
    no advice is given twice. Vectorised per dimension: report cards give millions of reasons."""
    out = np.array([defs[n].improve for n in names], dtype=object)
    index = {c: j for j, c in enumerate(cols)}
    at = np.fromiter((index.get(n, -1) for n in names), np.int64, count=len(names))  # a whole reason: -1
    named = np.zeros(cost.shape, dtype=bool)  # rows x cols: the feature is already one of the row's reasons
    feature = at >= 0
    named[rows[feature], at[feature]] = True
    for dimension, whole in AS_A_WHOLE.items():
        mine = np.flatnonzero(names == whole.name)
        if not len(mine):
            continue
        if dimension not in advised:
            out[mine] = NOT_ACTIONABLE
            continue
        own = np.array([j for j, c in enumerate(cols) if defs[c].actionable and defs[c].dimension.value == dimension],
                       dtype=np.int64)
        if not len(own):
            continue
        r = rows[mine]
        left = np.where(named[np.ix_(r, own)], 0.0, cost[np.ix_(r, own)])
        best = left.argmax(axis=1)  # ties: the first in catalogue order
        costs = left[np.arange(len(r)), best] > 0
        out[mine[costs]] = np.array([defs[cols[j]].improve for j in own], dtype=object)[best[costs]]
    return out.tolist()
