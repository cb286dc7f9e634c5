"""From any model's Explanation to what a person sees: PD, score, band, five sub-scores, reason codes.

Every CreditModel explains its logit as base + per-dimension (and, where it can, per-feature)
contributions in log-odds. On the score scale a logit contribution c is worth -factor * c points, so:

- score: the scale's whole-point score of the model's PD (the same number predict_proba gives);
- sub-scores: the base's points and each dimension's points, rounded so that they add up to the
  unclipped whole-point score exactly (largest remainders), then split into five sub-scores with
  scale.split_total (equal shares of the base, clipping shared out), so the five add up to the score;
- reason codes: up to `top` features with the largest risk-increasing contributions (positive log-odds,
  i.e. points taken off relative to the model's base; at least one whole point), among the features the
  model uses; ties break by the features' catalogue order, so the same input always gives the same
  reasons. Text comes from the feature definitions (description: "Your score is lowered by: ...",
  improve: what to do).

A model that gives no per-feature contributions (e.g. the graph member alone) gets sub-scores but no
reason codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef
from deepcredit.models.base import DIMENSIONS, CreditModel, Explanation, proba_columns
from deepcredit.scoring.explain import top_losses
from deepcredit.scoring.scale import ScoreScale, split_total

REASON_FIELDS = ("feature", "text", "improve", "points")
"""Per reason rank i (1..top), the wide report has columns reason_{i}, reason_{i}_text, _improve, _points."""
LONG_COLUMNS = ("row", "person_id", "as_of", "rank", "feature", "dimension", "value", "contribution",
                "points_lost", "reason", "how_to_improve")


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


def subscores(explanation: Explanation, pd_: np.ndarray, scale: ScoreScale) -> tuple[np.ndarray, np.ndarray]:
    """(score (n,), sub-scores (n, 5)) in whole points; sub-scores add up to the score exactly.

    The total is the scale's score of `pd_`; the explanation only decides how it splits across the
    five dimensions (its logit should equal logit(pd_), which every CreditModel guarantees).
    """
    factor, offset = scale.factor, scale.offset
    target = np.rint(scale.raw_score(pd_)).astype(np.int64)  # unclipped whole-point score
    base_real = offset - factor * np.asarray(explanation.base, dtype=float)
    base = int(np.rint(np.median(base_real))) if len(base_real) else int(np.rint(offset))
    dims = -factor * explanation.by_dimension[DIMENSIONS].to_numpy(dtype=float)
    dims += ((base_real - base) / len(DIMENSIONS))[:, None]  # a base that varies by row: shared equally
    points = apportion(dims, target - base)
    return split_total(target, points, base, scale)


def _definitions(model: CreditModel, inp: ModelInput) -> list[FeatureDef]:
    return list(getattr(model, "definitions_", None) or inp.definitions)


def used_features(model: CreditModel, explanation: Explanation) -> list[str]:
    """What the model uses: its `used_features_` when it has them, else any feature with a contribution."""
    used = getattr(model, "used_features_", None)
    if used is not None:
        return list(used)
    if explanation.by_feature is None:
        return []
    f = explanation.by_feature
    return [c for c in f.columns if (f[c].to_numpy() != 0).any()]


def reason_table(model: CreditModel, inp: ModelInput, explanation: Explanation, scale: ScoreScale,
                 top: int = 4) -> pd.DataFrame:
    """Long table of reason codes: one row per (input row, rank) with a risk-increasing contribution."""
    if explanation.by_feature is None or top <= 0 or len(inp) == 0:
        return pd.DataFrame(columns=list(LONG_COLUMNS))
    defs = {d.name: d for d in _definitions(model, inp)}
    used = set(used_features(model, explanation))
    cols = [c for c in explanation.by_feature.columns if c in used and c in defs]
    order = {d: i for i, d in enumerate(defs)}
    cols.sort(key=lambda c: order[c])  # ties break by catalogue order
    contrib = explanation.by_feature[cols].to_numpy(dtype=float) if cols else np.zeros((len(inp), 0))
    # a reason must cost at least one whole point
    pick, valid = top_losses(np.where(np.rint(scale.factor * contrib) >= 1, contrib, 0.0), top)
    r, rank = np.nonzero(valid)
    c = pick[r, rank]
    names = np.array(cols, dtype=object)[c]
    X = inp.X
    keys = inp.keys
    values = np.empty(len(r), dtype=object)
    for j in np.unique(c):  # one vectorised gather per feature
        m = c == j
        col = X[cols[j]].astype(object).to_numpy()[r[m]]
        values[m] = [None if pd.isna(v) else v for v in col]
    return pd.DataFrame({
        "row": r, "person_id": keys["person_id"].to_numpy()[r], "as_of": keys["as_of"].to_numpy()[r],
        "rank": rank + 1, "feature": names,
        "dimension": [defs[n].dimension.value for n in names],
        "value": values,
        "contribution": contrib[r, c],
        "points_lost": np.rint(scale.factor * contrib[r, c]).astype(np.int64),
        "reason": [defs[n].description for n in names], "how_to_improve": [defs[n].improve for n in names],
    }, columns=list(LONG_COLUMNS))


def report_card(model: CreditModel, inp: ModelInput, scale: ScoreScale | None = None, top: int = 4,
                explanation: Explanation | None = None, explain: bool = True) -> pd.DataFrame:
    """One row per input row: person_id, as_of, pd, score, band, the five sub-scores, reasons 1..top.

    Reason columns: reason_{i} (feature), reason_{i}_text, reason_{i}_improve, reason_{i}_points (points
    taken off); empty where a row has fewer reasons. explain=False stops after the band: the same scores
    without the explanation pass (for the stack, several times the cost of the scores themselves).
    """
    scale = scale or ScoreScale()
    if explain and explanation is None:
        explanation = model.explain(inp)
    decision = explanation.decision if explanation is not None else None
    pd_ = proba_columns(model.decision_function(inp) if decision is None else decision)[:, 1]  # = predict_proba
    out = inp.keys.copy()
    out["pd"] = pd_
    if explanation is None:
        out["score"] = scale.score(pd_)
        out["band"] = scale.band(out["score"].to_numpy()).astype(str)
        return out
    score, sub = subscores(explanation, pd_, scale)
    out["score"] = score
    out["band"] = scale.band(score).astype(str)
    for j, d in enumerate(DIMENSIONS):
        out[d] = sub[:, j]
    reasons = reason_table(model, inp, explanation, scale, top)
    for i in range(1, top + 1):
        got = reasons[reasons["rank"] == i].set_index("row")
        out[f"reason_{i}"] = got["feature"].reindex(out.index).astype(object).to_numpy()
        out[f"reason_{i}_text"] = got["reason"].reindex(out.index).astype(object).to_numpy()
        out[f"reason_{i}_improve"] = got["how_to_improve"].reindex(out.index).astype(object).to_numpy()
        out[f"reason_{i}_points"] = got["points_lost"].reindex(out.index).astype("Int64")
    return out
