"""Fairness audit by protected group (sex, age band, marital status), computed with fairlearn.

Protected attributes are *audited*, never model inputs: they are joined to the scored rows by person_id
after scoring, only to split the numbers.

The decision audited is the merchant's approval rule (score >= cutoff). Being approved is the favourable
outcome, so, in fairlearn's terms, y_pred = approved and the "positive" class of y_true is a *good* payer:

- approval rate per group = fairlearn selection_rate;
- disparate-impact ratio = lowest / highest group approval rate (fairlearn demographic_parity_ratio);
  below 0.8 fails the four-fifths screen (a screen that asks for a look, not a legal finding);
- equal opportunity = approval rate among people who did repay (fairlearn true_positive_rate); the gap
  is its largest difference between groups (fairlearn equal_opportunity_difference), flagged above 0.1;
- calibration per group = observed bads against the bads its PDs predict (n x mean PD, the sum of its PDs),
  tested in every group against the distribution of its bad count given each person's PD (the Poisson-binomial,
  not the binomial of its mean PD, which spread PDs would make too lenient; evidence.compare_to_prediction)
  and flagged when the test finds the gap and it is material: the observed good:bad
  odds off the predicted odds by more than a factor of CALIBRATION_ODDS_MAX. A score that means different
  risk for different groups is unfair even at equal approval rates. Why odds, not the absolute gap (still
  reported): 130 bads where 40 were predicted is a gap of only 0.045 at a 2% PD but 3.4 times the odds
  (about 88 points on the default scale); a gap in odds is a gap in score points at every bad rate.

Groups smaller than `min_group_size` are shown but left out of the ratios and gaps: on a handful of people
a rate is noise, and one tiny group would otherwise decide every flag. Large groups are not enough either:
each screen is judged by the minimum-evidence rule of evaluation/evidence.py (enough expected decisions on
each side, an exact test for a flag, its p-value Holm-adjusted over every test of the audit), else it reads
"too few to judge", neither a pass nor a flag; a cut-off that approves everyone thus passes no approval
screen, and the approval screens then run at the informative cut-off too (`informative`), shown beside.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_ratio,
    equal_opportunity_difference,
    selection_rate,
    true_positive_rate,
)

from deepcredit.data.schema import PROTECTED_ATTRIBUTES
from deepcredit.evaluation.evidence import (
    ALPHA,
    FLAG,
    MIN_EXPECTED,
    PASS,
    RULE,
    TOO_FEW,
    Family,
    Verdict,
    compare_rates,
    compare_to_prediction,
)
from deepcredit.evaluation.metrics import to_jsonable

AGE_BANDS = ((0, "<25"), (25, "25-34"), (35, "35-49"), (50, "50+"))
"""(lowest age, label), ascending: an age band runs up to the next band's lowest age."""
UNKNOWN = "unknown"
AN_AGE = re.compile(r"(^|_)age(_|$)", re.IGNORECASE)
"""Only where nothing is declared (the legacy fixed names): a numeric attribute named as an age (age,
age_in_years, customer_age) is banded by AGE_BANDS."""
MAX_VALUES = 10
"""A numeric attribute of at most this many distinct values is compared value by value; one of more, in bands."""
QUANTILE_BANDS = 5
FOUR_FIFTHS = 0.8
TPR_GAP_MAX = 0.1
CALIBRATION_ODDS_MAX = 1.25
"""A group's observed good:bad odds further than this factor (either way) from the odds its mean PD predicts
is a material miscalibration: ln 1.25 of log-odds, about 16 points on the default scale (PDO 50); at a mean PD
near 30% it is the 0.05 absolute gap the screen used before, and it stays as strict at a 2% or a 90% PD."""


def age_band(age: pd.Series | np.ndarray) -> pd.Series:
    """Age in years -> '<25', '25-34', '35-49', '50+' (missing -> 'unknown')."""
    a = pd.to_numeric(pd.Series(age), errors="coerce")
    lows = np.array([lo for lo, _ in AGE_BANDS], dtype=float)
    labels = np.array([name for _, name in AGE_BANDS], dtype=object)
    idx = np.clip(np.searchsorted(lows, a.to_numpy(dtype=float), side="right") - 1, 0, len(lows) - 1)
    return pd.Series(np.where(a.isna(), UNKNOWN, labels[idx]), index=a.index, dtype=object)


def age_at(born: pd.Series, as_of: pd.Series) -> pd.Series:
    """Age in whole years on each row's as-of date (the birthday counted on the day itself); missing -> NaN."""
    b = pd.to_datetime(pd.Series(born).reset_index(drop=True), errors="coerce")
    d = pd.to_datetime(pd.Series(as_of).reset_index(drop=True), errors="coerce")
    years = d.dt.year - b.dt.year
    before_birthday = (d.dt.month < b.dt.month) | ((d.dt.month == b.dt.month) & (d.dt.day < b.dt.day))
    return (years - before_birthday.astype(float)).astype(float)


def bands_by(values: pd.Series, lows: Sequence[float]) -> pd.Series:
    """Numbers -> ordered bands from ascending lower bounds (each band runs up to the next band's lowest):
    'under 30', '30 to under 41', ..., '58 and over'; missing -> 'unknown'. A categorical in band order."""
    a = pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce")
    edges = sorted(set(float(x) for x in lows))
    labels = ([f"under {_n(edges[0])}"] if edges else []) + \
        [f"{_n(lo)} to under {_n(hi)}" for lo, hi in zip(edges, edges[1:], strict=False)] + \
        ([f"{_n(edges[-1])} and over"] if edges else ["all"])
    idx = np.searchsorted(np.asarray(edges, dtype=float), a.to_numpy(dtype=float), side="right")
    named = np.where(a.isna(), UNKNOWN, np.asarray(labels, dtype=object)[np.minimum(idx, len(labels) - 1)])
    return _ordered(named, labels)


def quantile_bands(values: pd.Series, k: int = QUANTILE_BANDS) -> pd.Series:
    """Numbers -> up to k bands of about equal size, bounded by observed values (bands_by's labels)."""
    a = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    if not a.size:
        return bands_by(values, [])
    lows = np.unique(np.quantile(a, np.arange(1, k) / k, method="higher"))
    return bands_by(values, [x for x in lows if x > a.min()])


def _n(x: float) -> str:
    return f"{x:,.10g}"


def _ordered(labels: np.ndarray, order: Sequence[str]) -> pd.Series:
    """The labels as an ordered categorical of the categories present, in `order`, 'unknown' last."""
    present = set(labels.tolist())
    cats = [c for c in dict.fromkeys([*order, UNKNOWN]) if c in present]
    return pd.Series(pd.Categorical(labels, categories=cats, ordered=True))


def sensitive_frame(people: pd.DataFrame, person_id: pd.Series | np.ndarray,
                    protected: Sequence[str] | None = None,
                    as_of: pd.Series | np.ndarray | None = None, *, declared: Collection[str] = (),
                    bands: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """The protected attributes of each scored row (joined by person_id), missing as 'unknown'.

    protected: the attributes to audit (default: the legacy fixed names).
    as_of: each scored row's as-of date (row-aligned with person_id), needed for date attributes.
    declared: those of them a spec declares protected, or the user names: what they are, not what they are
    called, decides their groups. bands: declared lower bounds of bands per attribute (for a date: of the age).
    Only attributes the people table has with at least one known value are returned (OTC has none).

    Groups: a date (a date of birth) becomes the age at each row's as-of date, in AGE_BANDS (column
    `age_band`, or `<name>_age_band` where that is taken); a number with declared bands gets them; a declared
    number of more than MAX_VALUES values gets QUANTILE_BANDS quantile bands, whatever its name (`<name>_band`:
    geburtsjahr, years_lived, age alike). Only an attribute nobody declared (the legacy fixed names) is read by
    its name: `age`, or a many-valued number named as an age (AN_AGE), gets AGE_BANDS; any other many-valued
    number quantile bands. Everything else is compared value by value. Banded columns are ordered
    categoricals, so the audit lists their groups in order.
    """
    names = PROTECTED_ATTRIBUTES if protected is None else tuple(protected)
    cols = [c for c in dict.fromkeys(names) if c in people.columns and people[c].notna().any()]
    keys = pd.DataFrame({"person_id": np.asarray(person_id).astype(str)})
    attrs = people[["person_id", *cols]].drop_duplicates("person_id").astype({"person_id": str})
    joined = keys.merge(attrs, on="person_id", how="left", validate="many_to_one")
    out = pd.DataFrame(index=keys.index)
    told = bands or {}
    for c in cols:
        values = joined[c]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        many = numeric and values.nunique() > MAX_VALUES
        if pd.api.types.is_datetime64_any_dtype(values):
            if as_of is None:
                raise ValueError(f"fairness audit: {c} is a date; its age bands need each row's as-of date")
            dates = pd.Series(np.asarray(as_of)).reset_index(drop=True)
            if len(dates) != len(keys):
                raise ValueError(f"fairness audit: {len(dates)} as-of dates for {len(keys)} scored rows")
            ages = age_at(values, dates)
            out[_age_column(c, cols, out)] = (bands_by(ages, told[c]) if c in told else age_band(ages)).array
        elif c in told and numeric:
            out[f"{c}_band"] = bands_by(values, told[c]).array
        elif c in declared and many:
            out[f"{c}_band"] = quantile_bands(values).array
        elif c not in declared and (c == "age" or (many and AN_AGE.search(c))):  # undeclared: read by its name
            out["age_band" if c == "age" else _age_column(c, cols, out)] = age_band(values).to_numpy()
        elif many:
            out[f"{c}_band"] = quantile_bands(values).array
        else:
            out[c] = values.astype(object).where(values.notna(), UNKNOWN).astype(str).to_numpy()
    return out


def _age_column(name: str, cols: Sequence[str], out: pd.DataFrame) -> str:
    """`age_band` where no other attribute has it (the legacy `age` always does), else `<name>_age_band`."""
    return "age_band" if "age_band" not in out.columns and "age" not in cols else f"{name}_age_band"


def _group_order(label: str, order: Sequence[str] = ()) -> tuple[int, str]:
    """Bands in their order (the column's categories, else age bands in age order), other groups
    alphabetically, 'unknown' last."""
    ranked = list(order) or [name for _, name in AGE_BANDS]
    return (2, label) if label == UNKNOWN else (0, f"{ranked.index(label):03d}") if label in ranked else (1, label)


def _observed_bad_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true)) if len(y_true) else float("nan")


def _mean_pd(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred)) if len(y_pred) else float("nan")


def odds_ratio(bads: pd.Series | np.ndarray, n: pd.Series | np.ndarray,
               mean_pd: pd.Series | np.ndarray) -> np.ndarray:
    """Observed over predicted bad odds per group (> 1: more bads than its PDs predict). The observed rate is
    kept half a person from 0 and 1 (no bad among n reads 0.5 / n), so the ratio is finite."""
    k, m = np.asarray(bads, dtype=float), np.asarray(n, dtype=float)
    q = np.clip(np.asarray(mean_pd, dtype=float), 1e-12, 1 - 1e-12)
    r = np.clip(k, 0.5, m - 0.5) / m
    return np.asarray((r / (1 - r)) / (q / (1 - q)), dtype=float)


def _material(ratio: float, odds_max: float) -> bool:
    """Whether an odds ratio is outside [1 / odds_max, odds_max]."""
    return bool(abs(np.log(ratio)) > np.log(odds_max))


def _audit_one(name: str, groups: pd.Series, y: np.ndarray, approved: np.ndarray, pd_: np.ndarray | None,
               min_group_size: int, four_fifths: float, tpr_gap_max: float, calibration_odds_max: float,
               family: Family, order: Sequence[str] = ()) -> dict:
    good = 1 - y  # fairlearn's positive class: the person repaid
    decisions = MetricFrame(metrics={"n": count, "approval_rate": selection_rate, "tpr": true_positive_rate},
                            y_true=good, y_pred=approved, sensitive_features=groups.rename(name))
    table = decisions.by_group.copy()
    table["n"] = table["n"].astype(int)
    by = groups.to_numpy()
    table["approved"] = pd.Series(approved).groupby(by).sum().astype(int)  # counts: what the evidence rule reads
    table["goods"] = pd.Series(good).groupby(by).sum().astype(int)
    table["goods_approved"] = pd.Series(good * approved).groupby(by).sum().astype(int)
    table["bads"] = pd.Series(y).groupby(by).sum().astype(int)
    table["bad_rate"] = pd.Series(y).groupby(by).mean()
    table["approval_rate_bads"] = pd.Series(approved[y == 1]).groupby(by[y == 1]).mean()
    if pd_ is not None:
        calib = MetricFrame(metrics={"bad_rate": _observed_bad_rate, "mean_pd": _mean_pd},
                            y_true=y, y_pred=pd_, sensitive_features=groups.rename(name))
        table["mean_pd"] = calib.by_group["mean_pd"]
        table["expected_bads"] = table["n"] * table["mean_pd"]
        table["calibration_gap"] = table["bad_rate"] - table["mean_pd"]
        table["calibration_odds_ratio"] = odds_ratio(table["bads"], table["n"], table["mean_pd"])
    table["audited"] = table["n"] >= min_group_size
    table = table.loc[sorted(table.index, key=lambda g: _group_order(g, order))]
    audited = table.index[table["audited"]].tolist()
    out: dict = {"attribute": name, "groups": table.reset_index().rename(columns={name: "group"}),
                 "small_groups": table.index[~table["audited"]].tolist(), "flags": [], "too_few": [], "screens": {}}
    mask = groups.isin(audited).to_numpy()
    label = name.replace("_", " ")
    if len(audited) < 2:  # nothing to compare: not audited, which is not a pass
        out.update(disparate_impact=None, tpr_gap=None, four_fifths_fail=None, not_audited=(
            f"fewer than two groups of at least {min_group_size} rows"))
        return out
    sf = groups[mask].to_numpy()
    di = demographic_parity_ratio(good[mask], approved[mask], sensitive_features=sf)
    gap = equal_opportunity_difference(good[mask], approved[mask], sensitive_features=sf)
    rates = table.loc[audited, "approval_rate"]
    lo, hi = _extremes(rates)
    t = table.loc
    four = family.judge(compare_rates, t[lo, "approved"], t[lo, "n"], t[hi, "approved"], t[hi, "n"],
                        past_threshold=di < four_fifths)
    pairs = _other_pairs(family, table, audited, ("approved", "n"), (lo, hi))
    out.update(disparate_impact=di, tpr_gap=gap, most_approved=str(hi), least_approved=str(lo),
               four_fifths_fail=None if four.result == TOO_FEW else four.result == FLAG)
    _record(out, "four_fifths", four, di, pairs, f"disparate-impact ratio {_against(di, four_fifths)}"
            + (f" < {four_fifths:g} (four-fifths screen)" if di < four_fifths else "")
            + f": '{lo}' approved {rates.min():.1%} vs '{hi}' {rates.max():.1%}")
    tpr = table.loc[audited, "tpr"].dropna()
    if len(tpr) >= 2:
        tlo, thi = _extremes(tpr)
        eo = family.judge(compare_rates, t[tlo, "goods_approved"], t[tlo, "goods"], t[thi, "goods_approved"],
                          t[thi, "goods"], past_threshold=gap > tpr_gap_max,
                          sides=("good payers approved", "good payers declined"))
        pairs = _other_pairs(family, table, tpr.index.tolist(), ("goods_approved", "goods"), (tlo, thi))
        _record(out, "equal_opportunity", eo, gap, pairs, f"equal-opportunity gap {_against(gap, tpr_gap_max)}"
                + (f" > {tpr_gap_max:g}" if gap > tpr_gap_max else "")
                + f": good payers in '{tlo}' approved {tpr.min():.1%} vs '{thi}' {tpr.max():.1%}")
    if pd_ is not None:
        cg, ratio = table.loc[audited, "calibration_gap"], table.loc[audited, "calibration_odds_ratio"]
        material = {g: _material(ratio[g], calibration_odds_max) for g in audited}
        verdicts = {g: family.judge(compare_to_prediction, t[g, "bads"], pd_[by == g], past_threshold=material[g])
                    for g in audited}
        out["groups"]["calibration_verdict"] = [verdicts[g].result if g in verdicts else None for g in table.index]
        flagged = [g for g, v in verdicts.items() if v.result == FLAG]
        # a thin group within the band does not block a pass (as a group under min_group_size does not);
        # one past it that cannot be judged does, and so does having no group to judge at all
        unsure = [g for g, v in verdicts.items() if v.result == TOO_FEW and material[g]]
        judged = [g for g, v in verdicts.items() if v.result != TOO_FEW]
        worst = max(flagged or unsure or audited, key=lambda g: abs(np.log(ratio[g])))
        out["max_calibration_gap"] = float(cg[cg.abs().idxmax()])
        out.update(worst_calibration_group=str(worst), worst_calibration_odds_ratio=float(ratio[worst]),
                   worst_calibration_gap=float(cg[worst]))
        verdict = verdicts[worst] if flagged or unsure or not judged else \
            Verdict(PASS, None, "every group judged within the band" + (
                f" ({len(audited) - len(judged)} too few to judge)" if len(judged) < len(audited) else ""))
        _record(out, "calibration", verdict, float(ratio[worst]), len(audited), f"calibration gap in '{worst}': "
                f"observed bad rate {t[worst, 'bad_rate']:.1%} vs mean PD {t[worst, 'mean_pd']:.1%} "
                f"({t[worst, 'bads']:,} bads where {t[worst, 'expected_bads']:.1f} were predicted; the observed odds "
                f"{ratio[worst]:.2f} times the predicted, band 1/{calibration_odds_max:g} to {calibration_odds_max:g})")
    if out["too_few"]:  # one line per attribute: a one-sided cut-off makes every attribute too few to judge
        out["too_few"] = [f"{label}: " + "; ".join(out["too_few"])]
    return out


def _against(value: float, threshold: float) -> str:
    """A value beside the threshold it is compared with, to as many decimals as tell them apart: a gap of
    0.1019 past a 0.1 threshold reads 0.102, never "0.10 > 0.1"."""
    for decimals in (2, 3, 4):
        shown = f"{value:.{decimals}f}"
        if float(shown) != threshold:
            return shown
    return f"{value:.6g}"


def _extremes(rates: pd.Series) -> tuple[str, str]:
    """The lowest and the highest rate's groups, two different groups even when every rate is the same."""
    order = rates.sort_values(kind="stable").index
    return order[0], order[-1]


def _other_pairs(family: Family, table: pd.DataFrame, groups: list, cols: tuple[str, str],
                 chosen: tuple[str, str]) -> int:
    """Test every other pair of `groups` too (their counts: cols = (k, n)), so that the family holds each
    comparison the screen chose its lowest and highest group among; returns the number of pairs."""
    t = table.loc
    for a, b in combinations(groups, 2):
        if {a, b} != set(chosen):
            family.judge(compare_rates, t[a, cols[0]], t[a, cols[1]], t[b, cols[0]], t[b, cols[1]],
                         past_threshold=False)
    return len(groups) * (len(groups) - 1) // 2


def _record(out: dict, screen: str, verdict: Verdict, value: float, compared: int, words: str) -> None:
    """Keep a screen's verdict; a flag joins `flags`, a gap too thin to judge `too_few` (with why). compared:
    the pairs of groups (approval screens) or groups (calibration) it chose among."""
    out["screens"][screen] = {"value": value, **verdict.to_dict(), "compared": compared}
    if verdict.result == FLAG:
        out["flags"].append(f"{out['attribute'].replace('_', ' ')}: {words}")
    elif verdict.result == TOO_FEW:
        out["too_few"].append(f"{words} ({verdict.why})")


def fairness_audit(y: np.ndarray, approved: np.ndarray, sensitive: pd.DataFrame, *, pd_: np.ndarray | None = None,
                   cutoff: float | None = None, min_group_size: int = 30, four_fifths: float = FOUR_FIFTHS,
                   tpr_gap_max: float = TPR_GAP_MAX, calibration_odds_max: float = CALIBRATION_ODDS_MAX,
                   informative: tuple[float, np.ndarray] | None = None, informative_basis: str = "") -> dict:
    """Audit approvals (and, given PDs, calibration) for each column of `sensitive` (row-aligned with y).

    informative: (cut-off, approved at it) where the cut-off set is one-sided (cutoffs.informative_cutoff):
    the approval screens run there too, under "at_informative_cutoff" (calibration does not depend on the
    cut-off and is judged once). Every test of both is one Holm family (evidence.Family).

    Returns JSON types: {"attributes": {name: {...groups table, disparate_impact, tpr_gap, screens (each one's
    verdict: pass, flag or too few to judge, with its raw and Holm-adjusted p-values and why), flags,
    too_few}}, "flags": [every flag, one line each], "too_few_to_judge": [every screen too thin to judge],
    "tests": the family's size, the rule and settings used, and "at_informative_cutoff" (or None)}.
    """
    y = np.asarray(y).astype(np.int64)
    approved = np.asarray(approved).astype(np.int64)
    if len(sensitive) != y.size or approved.size != y.size:
        raise ValueError(f"fairness audit: {y.size} labels, {approved.size} decisions, "
                         f"{len(sensitive)} rows of protected attributes")
    if informative is not None and np.asarray(informative[1]).size != y.size:
        raise ValueError(f"fairness audit: {np.asarray(informative[1]).size} decisions at the informative cut-off "
                         f"for {y.size} labels")
    p = None if pd_ is None else np.asarray(pd_, dtype=float)
    columns = {}
    for col in sensitive.columns:
        values = sensitive[col].reset_index(drop=True)
        order = [str(c) for c in values.cat.categories] if isinstance(values.dtype, pd.CategoricalDtype) else []
        columns[str(col)] = (values.astype(object).fillna(UNKNOWN).astype(str), order)
    if calibration_odds_max <= 1:
        raise ValueError(f"fairness audit: calibration_odds_max must be above 1, not {calibration_odds_max}")
    settings = (min_group_size, four_fifths, tpr_gap_max, calibration_odds_max)

    def screens(family: Family) -> tuple[dict, dict | None]:
        main = {c: _audit_one(c, g, y, approved, p, *settings, family, o) for c, (g, o) in columns.items()}
        if informative is None:
            return main, None
        at = np.asarray(informative[1]).astype(np.int64)
        return main, {c: _audit_one(c, g, y, at, None, *settings, family, o) for c, (g, o) in columns.items()}

    first = Family()
    screens(first)  # runs every test
    family = first.adjusted()
    attributes, at_info = screens(family)  # the same verdicts, judged on the adjusted p-values (none run again)
    result = {
        "cutoff": cutoff, "which": "the cut-off set (--cutoff)", "n": int(y.size),
        "approval_rate": float(approved.mean()) if y.size else None,
        "favourable": "approved", "min_group_size": min_group_size, "four_fifths": four_fifths,
        "tpr_gap_max": tpr_gap_max, "calibration_odds_max": calibration_odds_max,
        "evidence_rule": RULE, "min_expected": MIN_EXPECTED, "alpha": ALPHA, "correction": "Holm-Bonferroni",
        "tests": family.size, **_summary(attributes), "at_informative_cutoff": None,
    }
    if informative is not None and at_info is not None:
        cut, at = informative[0], np.asarray(informative[1])
        result["at_informative_cutoff"] = {
            "cutoff": float(cut), "which": "the informative cut-off, for information (" + (
                informative_basis or "where the cut-off set is one-sided") + "): the cut-off audited stays the one set",
            "approval_rate": float(at.mean()) if y.size else None, "n": int(y.size), **_summary(at_info)}
    return to_jsonable(result)


def _summary(attributes: dict) -> dict:
    return {"attributes": attributes, "flags": [f for a in attributes.values() for f in a["flags"]],
            "too_few_to_judge": [f for a in attributes.values() for f in a["too_few"]]}
