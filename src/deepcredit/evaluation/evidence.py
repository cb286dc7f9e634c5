"""The minimum-evidence rule of the fairness screens: when a gap between rates is evidence, when it is noise.

Why: a screen compares rates (the approval rates of two groups; a group's bad rate against its mean PD),
and on a handful of decisions a rate is noise. 0 of 207 approved against 2 of 193 is a disparate-impact
ratio of 0.00, and a screen that flags it reads exactly like one that found something; a cut-off that
declines nobody gives every group the same 100% and a ratio of 1.00, a "pass" that measured nothing.

So every comparison gets one of three verdicts:

- too few to judge: a group compared is expected to hold fewer than MIN_EXPECTED people on either side
  (approved or declined; bad or good) were the rates equal, the usual condition for testing a 2x2 table;
  or the gap is past the screen's threshold but an exact test (Fisher's between two groups, the binomial
  test of a count against its predicted rate) cannot tell it from chance at the ALPHA level;
- flag: past the threshold, and the test finds the gap at the ALPHA level;
- pass: enough evidence, and the gap is within the threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scipy.stats import binomtest, fisher_exact

PASS, FLAG, TOO_FEW = "pass", "flag", "too few to judge"
MIN_EXPECTED = 5
ALPHA = 0.05
RULE = (f"A screen judges a comparison only on enough decisions: each group compared must be expected to hold "
        f"at least {MIN_EXPECTED} people on each side (approved and declined; for calibration, bad and good) "
        f"were its rate the same as the other's (or as predicted), and a gap past the screen's threshold is "
        f"flagged only when an exact test (Fisher's between the two groups, binomial against the mean PD) "
        f"finds it at the {ALPHA:.0%} level. Otherwise it reads 'too few to judge': neither a pass nor a flag.")


@dataclass(frozen=True)
class Verdict:
    """A screen's result (PASS, FLAG or TOO_FEW), the exact test's p-value (None when not tested) and why."""

    result: str
    p_value: float | None
    why: str

    def to_dict(self) -> dict:
        return asdict(self)


def _short(expected: dict[str, float]) -> str | None:
    """The side (e.g. 'approved') a group compared is expected to hold fewer than MIN_EXPECTED of, or None."""
    return next((side for side, e in expected.items() if e < MIN_EXPECTED), None)


def _chance(p: float, test: str) -> Verdict:
    return Verdict(FLAG, p, f"{test} p = {p:.2g}") if p < ALPHA else \
        Verdict(TOO_FEW, p, f"the gap could be chance, {test} p = {p:.2g}")


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
    return _chance(p, "Fisher's exact test") if past_threshold else Verdict(PASS, p, "within the threshold")


def compare_to_prediction(k: int, n: int, predicted: float, *, past_threshold: bool,
                          sides: tuple[str, str] = ("bad", "good")) -> Verdict:
    """An observed count k of n against its predicted rate, whose gap is (or is not) past the threshold."""
    expected = {sides[0]: n * predicted, sides[1]: n * (1 - predicted)}
    if (side := _short(expected)) is not None:
        return Verdict(TOO_FEW, None, f"{expected[side]:.1f} {side} expected among its {n:,} people, "
                                      f"under {MIN_EXPECTED}")
    p = float(binomtest(k, n, min(max(predicted, 0.0), 1.0)).pvalue)
    return _chance(p, "binomial test") if past_threshold else Verdict(PASS, p, "within the threshold")
