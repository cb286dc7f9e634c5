"""The minimum-evidence rule: a screen judges a gap only on enough decisions, and flags it only when an exact
test finds it; otherwise it reads 'too few to judge', neither a pass nor a flag."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy.stats import binom, binomtest, fisher_exact

from deepcredit.evaluation.evidence import (
    FLAG,
    PASS,
    TOO_FEW,
    compare_rates,
    compare_to_prediction,
    count_tails,
)


def test_a_handful_of_approvals_is_too_few_to_judge():
    """audit: 0 of 207 approved against 2 of 193 was flagged as a disparate-impact ratio of 0.00."""
    v = compare_rates(0, 207, 2, 193, past_threshold=True)
    assert v.result == TOO_FEW and v.p_value is None
    assert v.why == "only 2 approved among the 400 people compared, under 5 expected per group"


def test_no_declines_is_too_few_to_judge_even_within_the_threshold():
    """A cut-off that approves everyone gives every group 100%: within the threshold, and not a pass."""
    v = compare_rates(200, 200, 300, 300, past_threshold=False)
    assert v.result == TOO_FEW and "only 0 declined" in v.why


def test_a_gap_past_the_threshold_is_flagged_only_when_the_exact_test_finds_it():
    clear = compare_rates(0, 100, 50, 100, past_threshold=True)
    assert clear.result == FLAG
    assert clear.p_value == pytest.approx(fisher_exact([[0, 100], [50, 50]]).pvalue)
    chance = compare_rates(8, 40, 12, 40, past_threshold=True)  # a ratio of 0.67 on 20 approvals
    assert chance.result == TOO_FEW and chance.p_value > 0.05 and "could be chance" in chance.why
    assert compare_rates(38, 40, 40, 40, past_threshold=False).result == TOO_FEW  # 2 declines: too few
    assert compare_rates(30, 40, 32, 40, past_threshold=False).result == PASS


def test_observed_against_predicted():
    assert compare_to_prediction(4, np.full(40, 0.05), past_threshold=True).result == TOO_FEW  # 2 bads expected
    v = compare_to_prediction(4, np.full(40, 0.2), past_threshold=True)  # 8 expected, 4 seen: chance
    assert v.result == TOO_FEW and v.p_value == pytest.approx(2 * binom.cdf(4, 40, 0.2))
    assert compare_to_prediction(40, np.full(200, 0.05), past_threshold=True).result == FLAG
    assert compare_to_prediction(21, np.full(200, 0.1), past_threshold=False).result == PASS


def test_the_count_of_equal_pds_is_binomial():
    """Every PD alike: the Poisson-binomial is the binomial, its pmf (differences of the lower tail) too."""
    k = np.arange(301)
    tails = np.array([count_tails(np.full(300, 0.17), int(j)) for j in k])
    assert tails[:, 0] == pytest.approx(binom.cdf(k, 300, 0.17), abs=1e-12)
    assert tails[:, 1] == pytest.approx(binom.sf(k - 1, 300, 0.17), abs=1e-12)
    assert np.diff(tails[:, 0], prepend=0.0) == pytest.approx(binom.pmf(k, 300, 0.17), abs=1e-12)


def test_the_count_of_ten_people_matches_every_outcome_enumerated():
    pds = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.45, 0.5, 0.6, 0.8, 0.95])
    pmf = np.zeros(11)
    for outcome in product((0, 1), repeat=10):
        x = np.array(outcome)
        pmf[x.sum()] += np.prod(np.where(x == 1, pds, 1 - pds))
    for k in range(11):
        lower, upper = count_tails(pds, k)
        assert lower == pytest.approx(pmf[: k + 1].sum(), abs=1e-12)
        assert upper == pytest.approx(pmf[k:].sum(), abs=1e-12)


def test_spread_pds_are_tested_against_their_own_distribution_not_the_binomial_of_their_mean():
    """Half the group at 2%, half at 50% (mean PD 26%): 64 bads of 200 where 52 are predicted. The count's
    standard deviation is 5.2 (the sum of p(1 - p)), not the 6.2 of the binomial at 26%, which saw chance."""
    pds = np.r_[np.full(100, 0.02), np.full(100, 0.5)]
    v = compare_to_prediction(64, pds, past_threshold=True)
    assert v.result == FLAG and v.p_value == pytest.approx(0.027, abs=0.001)
    assert binomtest(64, 200, 0.26).pvalue > 0.05  # the old test: "the gap could be chance"


def test_a_large_group_gets_the_refined_normal_approximation():
    """Above EXACT_MAX rows: the normal of the exact mean and variance with a skew term, close to the exact tails."""
    pds = np.random.default_rng(1).uniform(0, 0.04, 10_000)
    mean, sd = pds.sum(), np.sqrt(np.sum(pds * (1 - pds)))
    for k in (int(mean - 2.5 * sd), int(mean + 2.5 * sd)):
        exact, approx = count_tails(pds, k), count_tails(pds, k, exact_max=0)
        assert approx == pytest.approx(exact, rel=0.02)
    assert count_tails(np.r_[np.zeros(10), np.ones(5)], 5, exact_max=0) == (1.0, 1.0)


def test_holm_adjusts_step_down_in_the_order_given():
    from deepcredit.evaluation.evidence import holm

    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_a_family_judges_each_test_on_its_adjusted_p_value():
    """A gap a single Fisher test finds (p 0.012) is chance among twenty tests: Holm's adjusted p decides."""
    from deepcredit.evaluation.evidence import Family

    def tests(family: Family) -> list:
        found = family.judge(compare_rates, 60, 200, 85, 200, past_threshold=True)
        rest = [family.judge(compare_rates, 30, 60, 31, 60, past_threshold=False) for _ in range(19)]
        return [found, *rest]

    alone = compare_rates(60, 200, 85, 200, past_threshold=True)
    assert alone.result == FLAG and alone.p_adjusted is None
    first = Family()
    raw = tests(first)
    assert raw[0].result == FLAG and first.size == 20  # the first pass only collects
    judged = tests(first.adjusted())
    assert judged[0].result == TOO_FEW and "could be chance" in judged[0].why and "Holm-adjusted over 20" in judged[0].why
    assert judged[0].p_value == pytest.approx(alone.p_value) and judged[0].p_adjusted == pytest.approx(20 * alone.p_value)
    assert judged[1].result == PASS and judged[1].p_adjusted == pytest.approx(1.0)
    assert set(judged[0].to_dict()) == {"result", "p_value", "p_adjusted", "why"}


def test_a_second_pass_that_asks_for_other_tests_is_refused():
    from deepcredit.evaluation.evidence import Family

    first = Family()
    first.judge(compare_rates, 60, 200, 85, 200, past_threshold=True)
    second = first.adjusted()
    with pytest.raises(RuntimeError, match="order is broken"):
        second.judge(compare_to_prediction, 10, np.full(100, 0.1), past_threshold=False)
