"""The population stability index (PSI) of bin counts, and whether chance alone could give it.

One arithmetic for the two places that ask "has this data moved?": `score`'s input check
(scoring.input_check: a batch against training's stored bin shares) and monitoring (evaluation.stability:
a batch against a reference sample). Scoring sits below evaluation, so it lives here.

    PSI = sum over bins of (a - e) * ln(a / e), each share floored at EPS

The floor keeps a bin that one side leaves empty finite (one empty bin of ten adds about 0.69 to the
index), so a small batch's PSI is large by chance alone. Whether it is beyond chance is Pearson's
chi-square test of the counts, which an empty bin does not break; which form of it depends on what is known
of the reference:
- a reference *sample* (both sides' counts): the test of the 2 x bins table (`two_sample_chance`);
- training's stored *shares* (artifacts keep shares, not counts): the goodness of fit of the batch's counts
  to those shares (`fit_p_value`). With many training rows the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import chi2, chi2_contingency, chisquare

EPS = 1e-4
"""The floor of each share (one in ten thousand): a bin that empties counts as strong drift, not infinity."""


def psi_terms(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray,
              eps: float = EPS) -> np.ndarray:
    """Each bin's contribution to the PSI of the `actual` shares against the `expected` ones (each floored at
    `eps`, not renormalised: a sample against itself gives exactly 0)."""
    e = np.maximum(np.asarray(expected, dtype=float), eps)
    a = np.maximum(np.asarray(actual, dtype=float), eps)
    return np.asarray((a - e) * np.log(a / e))


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (all zero where there are none)."""
    return np.asarray(counts, dtype=float) / max(float(np.sum(counts)), 1.0)


def two_sample_chance(expected_n: np.ndarray, actual_n: np.ndarray, alpha: float) -> tuple[float, float]:
    """p-value of two samples' bin counts under no drift, and the PSI chance alone reaches in `alpha` of samples.

    The PSI is the symmetric (Jeffreys) divergence of the shares: with no drift, PSI * n_e * n_a / (n_e + n_a)
    is about chi-square with (bins - 1) degrees of freedom, which gives the chance level. The p-value is
    Pearson's chi-square test of the same counts (the same statistic to first order), which stays right where a
    few rows leave a bin empty and the EPS floor makes the PSI itself large.
    """
    if expected_n.size < 2:
        return 1.0, 0.0
    n_e, n_a = int(expected_n.sum()), int(actual_n.sum())
    p_value = float(chi2_contingency(np.array([expected_n, actual_n]), correction=False)[1])
    return p_value, float(chi2.isf(alpha, expected_n.size - 1) * (n_e + n_a) / (n_e * n_a))


def fit_p_value(counts: np.ndarray, expected_shares: Sequence[float] | np.ndarray) -> float:
    """p-value of a batch's bin counts drawn from the `expected_shares` (Pearson's goodness of fit)."""
    expected = np.clip(np.asarray(expected_shares, dtype=float), 1e-9, None)
    return float(chisquare(counts, expected / expected.sum() * counts.sum()).pvalue)
