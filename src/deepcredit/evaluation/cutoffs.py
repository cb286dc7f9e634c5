"""Whether the audited cut-off decides anything, and, for information, the cut-off that would decline a stated share.

Why: the default cut-off (600, 5:1 good:bad odds on the fixed scale) suits a population defaulting at
10-20%. On a portfolio with a 3% bad rate it approved every row: the decisions table then read 0 declined,
and the fairness screens of approvals compared 100% with 100%, a "pass" that measured nothing. The report
says so when a cut-off approves (or declines) everyone or nearly everyone, and shows the cut-off that would
decline as many people as the portfolio has bads, without ever changing the cut-off the user set.
"""

from __future__ import annotations

import numpy as np

NEARLY_ALL = 0.98
"""A cut-off that approves (or declines) at least this share of rows decides (nearly) nothing."""


def one_sided(approval_rate: float | None, n: int) -> str | None:
    """'approves everyone', 'approves nearly everyone (99.6%)', the same for declines, or None."""
    if approval_rate is None or not np.isfinite(approval_rate) or n == 0:
        return None
    for verb, share in (("approves", approval_rate), ("declines", 1 - approval_rate)):
        if share >= 1:
            return f"{verb} everyone"
        if share >= NEARLY_ALL:
            return f"{verb} nearly everyone ({share:.1%})"
    return None


def cutoff_declining(y: np.ndarray, score: np.ndarray, share: float) -> dict:
    """The whole-point cut-off (score >= cut-off approved) whose declined share comes closest to `share`, with
    what it would do: the share of rows it declines and the share of all bads among them."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(y).astype(np.int64)
    candidates = np.unique(np.r_[s, s.max() + 1]) if s.size else np.array([0.0])
    declined = np.searchsorted(np.sort(s), candidates, side="left") / max(s.size, 1)  # share with score < cut-off
    cut = float(candidates[int(np.argmin(np.abs(declined - share)))])
    out = s < cut
    return {"share": float(share), "cutoff": cut, "declined_share": float(out.mean()) if s.size else None,
            "bads_declined_share": float(y[out].sum() / y.sum()) if y.sum() else None}


def cutoff_context(y: np.ndarray, score: np.ndarray, approval_rate: float | None) -> dict:
    """{'one_sided': words or None, 'at_bad_rate': the cut-off declining the observed bad rate's share}."""
    y = np.asarray(y)
    bad_rate = float(np.mean(y)) if y.size else 0.0
    return {"one_sided": one_sided(approval_rate, int(y.size)),
            "at_bad_rate": {**cutoff_declining(y, score, bad_rate), "basis": "the observed bad rate"}}


def cutoff_words(c: dict) -> str | None:
    """The report's warning for a one-sided cut-off (None when it decides both ways), with the informative cut-off."""
    if not c.get("one_sided"):
        return None
    ref = c.get("at_bad_rate") or {}
    info = ""
    if ref.get("declined_share") is not None and ref.get("bads_declined_share") is not None:
        info = (f" For information only: a cut-off of {ref['cutoff']:.0f} would decline {ref['declined_share']:.1%}, "
                f"about the observed bad rate ({ref['share']:.1%}), and with them {ref['bads_declined_share']:.0%} "
                "of all bads; the cut-off audited stays the one set (--cutoff).")
    return (f"The cut-off {c['cutoff']:.0f} {c['one_sided']}: the decisions at it and the fairness screens of "
            "approvals say little about the model (a screen without enough declines or approvals reads 'too few "
            f"to judge', not 'pass').{info}")


def informative_cutoff(c: dict) -> float | None:
    """The cut-off the fairness screens run at beside the one set (`c`: an evaluation's cutoff summary with
    its context), or None: only where the cut-off set is one-sided and the one at the bad rate declines some
    rows and approves others. Why: at a cut-off that approves everyone every approval screen reads 'too few
    to judge'; the same screens at the informative cut-off say what the ranking would do to each group."""
    ref = c.get("at_bad_rate") or {}
    share = ref.get("declined_share")
    if not c.get("one_sided") or share is None or not 0 < share < 1:
        return None
    return float(ref["cutoff"])


def audit_cutoff_words(fairness: dict) -> str | None:
    """The same warning for a fairness audit's results (its cut-off, approval rate and rows), or None; where
    the screens ran at the informative cut-off too, it says that both are shown and which is which."""
    if fairness.get("cutoff") is None:
        return None
    words = cutoff_words({"cutoff": fairness["cutoff"],
                          "one_sided": one_sided(fairness.get("approval_rate"), fairness.get("n", 0))})
    info = fairness.get("at_informative_cutoff")
    if words and info:
        words += (f" The approval screens are therefore shown twice: at the cut-off set, {fairness['cutoff']:.0f}, "
                  f"the one audited, and at the informative cut-off {info['cutoff']:.0f} (approving "
                  f"{info['approval_rate']:.1%}), for information.")
    return words
