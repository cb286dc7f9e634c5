"""The minimum-evidence rule of the fairness screens: when a gap between rates is evidence, when it is noise.

Why: a screen compares rates (the approval rates of two groups; a group's bads against what its PDs predict),
and on a handful of decisions a rate is noise. 0 of 207 approved against 2 of 193 is a disparate-impact
ratio of 0.00, and a screen that flags it reads exactly like one that found something; a cut-off that
declines nobody gives every group the same 100% and a ratio of 1.00, a "pass" that measured nothing.

So every comparison gets one of three verdicts:

- too few to judge: a group compared is expected to hold fewer than MIN_EXPECTED people on either side
  (approved or declined; bad or good) were the rates equal, the usual condition for testing a 2x2 table;
  or the gap is past the screen's threshold but an exact test (Fisher's between two groups; a group's bad
  count against the Poisson-binomial distribution its people's PDs give it) cannot tell it from chance at the
  ALPHA level;
- flag: past the threshold, and the test finds the gap at the ALPHA level;
- pass: enough evidence, and the gap is within the threshold.

"Finds it at the ALPHA level" reads the p-value adjusted for every test the report makes (Holm-Bonferroni,
`holm`, over a `Family`): the fairness audit compares the lowest and highest of several groups, for several
attributes and screens, and at 5% per test some of twenty comparisons of equal rates would be flagged by
chance alone. The raw p-value is kept beside the adjusted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import fisher_exact, norm, poisson_binom

PASS, FLAG, TOO_FEW = "pass", "flag", "too few to judge"
MIN_EXPECTED = 5
ALPHA = 0.05
EXACT_MAX = 10_000
"""A group of up to this many rows has its bad count tested against the exact Poisson-binomial (scipy's, whose
cost grows with the square of the rows: up to a second or so at 10,000 on two shared cores, four times that at
20,000); a larger one against the refined normal approximation (Volkova 1996; Hong 2013): the normal of the same
mean (the sum of the PDs) and variance (the sum of p(1 - p)), continuity-corrected, plus a term for the count's
skew. Checked against the exact tails at 10,000 rows: within 5% where a tail is 0.005 to 0.015 (5 to 3,000 bads
expected); further out it is understated (toward a flag) where few bads are expected: 0.0013 read as 0.0011 at
20, 0.0020 as 0.0015 at 5."""
RULE = (f"A screen judges a comparison only on enough decisions: each group compared must be expected to hold "
        f"at least {MIN_EXPECTED} people on each side (approved and declined; for calibration, bad and good) "
        f"were its rate the same as the other's (or as predicted), and a gap past the screen's threshold is "
        f"flagged only when an exact test (Fisher's between the two groups; for calibration, the Poisson-binomial "
        f"distribution of a group's bad count given each person's PD, its refined normal approximation above "
        f"{EXACT_MAX:,} people) "
        f"finds it at the {ALPHA:.0%} level after the Holm-Bonferroni correction over every test the report makes "
        f"(each pair of groups an approval screen could have compared, each group's calibration test, at each "
        f"cut-off shown): the raw and the adjusted p-value are both reported, and the adjusted one decides. "
        f"Otherwise it reads 'too few to judge': neither a pass nor a flag.")


@dataclass(frozen=True)
class Verdict:
    """A screen's result (PASS, FLAG or TOO_FEW), the exact test's raw p-value (None when not tested), its
    Holm-adjusted p-value (None until a Family adjusts it) and why; `test` and `past_threshold` let a Family
    judge it again on the adjusted p-value."""

    result: str
    p_value: float | None
    why: str
    p_adjusted: float | None = None
    test: str = ""
    past_threshold: bool = False

    def to_dict(self) -> dict:
        return {"result": self.result, "p_value": self.p_value, "p_adjusted": self.p_adjusted, "why": self.why}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given: the i-th smallest of m is multiplied by
    m - i + 1, kept at least as large as the one before it and at most 1. A test is rejected at ALPHA exactly
    when Holm's step-down procedure rejects it, and the family-wise error stays at ALPHA."""
    p = np.asarray(p_values, dtype=float)
    out = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (p.size - rank) * float(p[i])))
        out[i] = running
    return out.tolist()


class Family:
    """The tests one report makes, adjusted together. Why two passes: a screen's verdict needs its adjusted
    p-value, which needs every other test's. The caller runs its screens once with `Family()`, whose `judge`
    runs each test and returns its verdict unchanged, then again with `family.adjusted()`, whose `judge`
    returns the first pass's verdict of the same test judged on its Holm-adjusted p-value: the same screens
    in the same order meet the same tests, so the second pass runs none of them again (an exact test is what
    an audit costs: a Poisson-binomial over EXACT_MAX people takes about a second)."""

    def __init__(self, first: Family | None = None) -> None:
        self.ran: list[tuple[Callable[..., Verdict], Verdict]] = []
        """Every test asked for, in order, with its verdict (the raw one)."""
        self._first = None if first is None else first.ran
        self._adjusted = None if first is None else holm(first.p_values)
        self._tested = 0

    def judge(self, test: Callable[..., Verdict], *args, **kwargs) -> Verdict:
        """The verdict of `test(*args, **kwargs)` (compare_rates, compare_to_prediction): run in the first
        pass; in the second, the first pass's verdict of the same test, on its adjusted p-value."""
        i = len(self.ran)
        if self._first is None:
            v = test(*args, **kwargs)
        elif i >= len(self._first) or self._first[i][0] is not test:
            raise RuntimeError("a second pass asked for other tests than the first: the family's order is broken")
        else:
            v = self._first[i][1]
        self.ran.append((test, v))
        if v.p_value is None or self._adjusted is None:  # not tested (too few), or the first pass
            return v
        p_adj = self._adjusted[self._tested]
        self._tested += 1
        if not v.past_threshold:
            return replace(v, p_adjusted=p_adj)
        return _chance(v.p_value, v.test, p_adj, len(self._adjusted))

    def adjusted(self) -> Family:
        """The second pass's family: the Holm-adjusted p-values of the tests run so far."""
        return Family(self)

    @property
    def p_values(self) -> list[float]:
        """The raw p-values of the tests made (those not too few to test), in order."""
        return [v.p_value for _, v in self.ran if v.p_value is not None]

    @property
    def size(self) -> int:
        return len(self.p_values)


def _short(expected: dict[str, float]) -> str | None:
    """The side (e.g. 'approved') a group compared is expected to hold fewer than MIN_EXPECTED of, or None."""
    return next((side for side, e in expected.items() if e < MIN_EXPECTED), None)


def _chance(p: float, test: str, adjusted: float | None = None, family: int = 1) -> Verdict:
    """Judged on the adjusted p-value where there is one (a family of `family` tests), else on the raw one."""
    said = f"{test} p = {p:.2g}" + ("" if adjusted is None else f", Holm-adjusted over {family} tests {adjusted:.2g}")
    decides = p if adjusted is None else adjusted
    return Verdict(FLAG if decides < ALPHA else TOO_FEW, p, said if decides < ALPHA else f"the gap could be chance, "
                   f"{said}", adjusted, test, True)


def compare_rates(k1: int, n1: int, k2: int, n2: int, *, past_threshold: bool,
                  sides: tuple[str, str] = ("approved", "declined")) -> Verdict:
    """Two groups' rates k1/n1 and k2/n2, whose gap is (past_threshold) or is not past the screen's threshold.

    sides: what a count k and its complement n - k are (for the reason given when too few)."""
    n = n1 + n2
    pooled = (k1 + k2) / n if n else 0.0
    if (side := _short({sides[0]: min(n1, n2) * pooled, sides[1]: min(n1, n2) * (1 - pooled)})) is not None:
        count = k1 + k2 if side == sides[0] else n - k1 - k2
        return Verdict(TOO_FEW, None, f"only {count:,} {side} among the {n:,} people compared, "
                                      f"under {MIN_EXPECTED} expected per group")
    p = float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    test = "Fisher's exact test"
    return _chance(p, test) if past_threshold else Verdict(PASS, p, "within the threshold", test=test)


def count_tails(pds: Sequence[float] | np.ndarray, k: int, exact_max: int = EXACT_MAX) -> tuple[float, float]:
    """P(X <= k) and P(X >= k), X the number of bads among independent people of these PDs: a sum of
    Bernoulli(p_i), the Poisson-binomial. Why not the binomial of the mean PD: PDs that differ make the count
    vary less (the sum of p(1 - p) is at most n times p(1 - p) at the mean PD), so that binomial would take a
    real miscalibration for chance. Exact up to `exact_max` people, else the refined normal (EXACT_MAX)."""
    p = np.clip(np.asarray(pds, dtype=float).ravel(), 0.0, 1.0)
    n = p.size
    if n <= exact_max:  # the upper tail as the lower tail of the goods, so a small one keeps its precision
        return float(poisson_binom(p).cdf(k)), float(poisson_binom(1.0 - p).cdf(n - k))
    mean, sd = float(p.sum()), float(np.sqrt(np.sum(p * (1.0 - p))))
    if sd == 0.0:  # every PD 0 or 1: the count is certain
        return float(k >= mean), float(k <= mean)
    skew = float(np.sum(p * (1.0 - p) * (1.0 - 2.0 * p))) / sd ** 3
    lo, up = (k + 0.5 - mean) / sd, (k - 0.5 - mean) / sd
    lower = norm.cdf(lo) + skew * (1.0 - lo * lo) * norm.pdf(lo) / 6.0
    upper = norm.sf(up) - skew * (1.0 - up * up) * norm.pdf(up) / 6.0
    return float(np.clip(lower, 0.0, 1.0)), float(np.clip(upper, 0.0, 1.0))


def compare_to_prediction(k: int, pds: Sequence[float] | np.ndarray, *, past_threshold: bool,
                          sides: tuple[str, str] = ("bad", "good")) -> Verdict:
    """An observed count k among people of these PDs against the count they predict, whose gap is (or is not)
    past the threshold: two-sided, twice the smaller tail of the count's Poisson-binomial (count_tails)."""
    p = np.clip(np.asarray(pds, dtype=float).ravel(), 0.0, 1.0)
    n = p.size
    expected = {sides[0]: float(p.sum()), sides[1]: float(n - p.sum())}
    if (side := _short(expected)) is not None:
        return Verdict(TOO_FEW, None, f"{expected[side]:.1f} {side} expected among its {n:,} people, "
                                      f"under {MIN_EXPECTED}")
    lower, upper = count_tails(p, k)
    pvalue = min(1.0, 2.0 * min(lower, upper))
    test = "Poisson-binomial test" + ("" if n <= EXACT_MAX else " (refined normal approximation)")
    return _chance(pvalue, test) if past_threshold else Verdict(PASS, pvalue, "within the threshold", test=test)
