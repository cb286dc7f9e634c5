"""Reason-code coverage: how often the reasons people read name one specific figure, and come with advice.

Why: the reason policy (scoring.scorer) lets what a dimension holds beyond its features compete as that
dimension "read as a whole" ("your record of keeping commitments read as a whole"), and gives some reasons no
advice (a value the person cannot change, one with nothing on record, one the usual advice would make worse).
Both are honest, and both say less than a named figure with advice; a model whose reasons are mostly "as a
whole" or mostly without advice explains itself poorly, and the report says how often that happens.
"""

from __future__ import annotations

import pandas as pd

from deepcredit.features.templates import AGAINST_ADVICE, MISSING_ADVICE, NOT_ACTIONABLE

NO_ADVICE = frozenset({AGAINST_ADVICE, MISSING_ADVICE, NOT_ACTIONABLE})
"""How-to-improve texts that say there is nothing to do here (not advice)."""
COVERAGE_NOTE = ("A reason names a specific feature, or a dimension 'read as a whole' (what a model reads in a "
                 "dimension beyond its named features: a recurrent tower over the events, a graph, a deep part); it "
                 "comes with advice unless its text says there is nothing to change (a value the person cannot "
                 "change, nothing on record, or one the usual advice would make worse).")


def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def reason_coverage(reasons: pd.DataFrame, explained: int, *, scored: int, top: int) -> dict:
    """Coverage of the long reason table (scoring.scorer.LONG_COLUMNS) of `explained` rows, a sample of the
    `scored` ones (all of them when equal), each with up to `top` reasons.

    Per row (a person at an as-of date) with at least one reason: the share whose top reason names a specific
    feature, and whose every reason does; per reason: the share naming a specific feature and the share with
    advice (a how-to-improve text other than NO_ADVICE's); and how often each dimension is read as a whole."""
    from deepcredit.scoring.advice import ALREADY_BEST, ALREADY_TOWARDS  # here, as WHOLE_NAMES: see below
    from deepcredit.scoring.scorer import WHOLE_NAMES  # here: the report renders coverage without the models

    whole = reasons["feature"].isin(WHOLE_NAMES).to_numpy()
    text = reasons["how_to_improve"].astype(object)
    none = NO_ADVICE | {ALREADY_BEST, ALREADY_TOWARDS}  # "yours is already ...": nothing to do here either
    advice = (text.notna() & (text.astype(str).str.strip() != "") & ~text.isin(none)).to_numpy()
    rows = reasons["row"].nunique()
    top_specific = reasons.loc[(reasons["rank"] == 1).to_numpy() & ~whole, "row"].nunique()
    with_whole = reasons.loc[whole, "row"].nunique()
    counts = reasons.loc[whole, "dimension"].value_counts()
    return {
        "rows_scored": int(scored), "rows_explained": int(explained), "top": int(top),
        "rows_with_reasons": int(rows), "share_with_reasons": _share(rows, explained),
        "share_top_reason_specific": _share(top_specific, rows),
        "share_every_reason_specific": _share(rows - with_whole, rows),
        "reasons": int(len(reasons)), "share_reasons_specific": _share(int((~whole).sum()), len(reasons)),
        "share_reasons_with_advice": _share(int(advice.sum()), len(reasons)),
        "share_specific_reasons_with_advice": _share(int((advice & ~whole).sum()), int((~whole).sum())),
        "read_as_a_whole": {str(d): int(k) for d, k in counts.items()},
    }


def coverage_rows(c: dict) -> list[list[str]]:
    """The report's table: what is measured, and its value."""
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1%}"

    sampled = c["rows_explained"] < c["rows_scored"]
    rows = [["rows explained", f"{c['rows_explained']:,}" + (f" (a random sample of the {c['rows_scored']:,} scored)"
                                                             if sampled else " (every row scored)")],
            [f"rows with at least one reason (up to {c['top']})", pct(c["share_with_reasons"])],
            ["of those, top reason names a specific feature", pct(c["share_top_reason_specific"])],
            ["of those, every reason names a specific feature", pct(c["share_every_reason_specific"])],
            ["reasons naming a specific feature", f"{pct(c['share_reasons_specific'])} of {c['reasons']:,}"],
            ["reasons with advice", pct(c["share_reasons_with_advice"])],
            ["specific reasons with advice", pct(c["share_specific_reasons_with_advice"])]]
    rows += [[f"'{d.replace('_', ' ')}' read as a whole", f"{k:,} reasons"] for d, k in c["read_as_a_whole"].items()]
    return rows
