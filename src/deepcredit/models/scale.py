"""The DeepCredit score scale: probability of default (PD) <-> a 350-950 score, and named bands.

    score = offset + factor * ln(good:bad odds),   factor = PDO / ln 2,   offset = base_score - factor * ln(base_odds)

Every model maps its (calibrated) PD through the same ScoreScale, so a 640 means the same risk whichever
model produced it.

Why the defaults (600 points at 5:1 good:bad odds, 50 points to double the odds): credit populations that
lenders score typically default at 10-20%. At 5:1 odds (PD 16.7%) such a population centres on 600-650
(its median person is safer than its mean), and PDs from about 86% down to 0.15% fill 350-950:

    PD   80%  50%  30%  20%  10%   5%   2%   1%  0.5%  0.2%
    score 384  484  545  584  642  696  765  815  866   932

so the default bands are each a real step in risk: poor (PD above ~29%), fair (~17-29%), good (~9-17%),
very good (~5-9%) and excellent (below ~5%); with a PDO of 50 each of the 50-point bands from fair to very
good is exactly one doubling of the good:bad odds. A PDO of 20 (the classic 600-at-50:1 convention) would
squeeze the same population into ~480-700 and leave most of the range unused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_BANDS: tuple[tuple[str, int], ...] = (
    ("poor", 350),
    ("fair", 550),
    ("good", 600),
    ("very good", 650),
    ("excellent", 700),
)
"""(name, lowest score in the band), ascending; a band runs up to the next band's lower bound."""

_EPS = 1e-12


def not_probabilities(pd: np.ndarray | float) -> np.ndarray:
    """Positions of the values that are not a probability: NaN, below 0 or above 1."""
    p = np.atleast_1d(np.asarray(pd, dtype=float))
    return np.flatnonzero(~((p >= 0) & (p <= 1)))


def check_probabilities(pd: np.ndarray | float) -> None:
    """Refuse PDs that are not probabilities, naming how many and the first: scored, a NaN would read as
    the worst score (or -2**63) and a PD outside [0, 1] as a clipped extreme, never as an error."""
    bad = not_probabilities(pd)
    if bad.size:
        first = float(np.atleast_1d(np.asarray(pd, dtype=float))[bad[0]])
        raise ValueError(f"a PD must be a probability in [0, 1]: {bad.size} value(s) are not "
                         f"(the first at row {int(bad[0])}: {first})")


@dataclass(frozen=True)
class ScoreScale:
    """Maps PD to a clipped score and back; pure and vectorised (numpy arrays in, arrays out)."""

    base_score: float = 600.0
    base_odds: float = 5.0
    """good:bad odds that score base_score points."""
    pdo: float = 50.0
    """points to double the odds."""
    lo: int = 350
    hi: int = 950
    bands: tuple[tuple[str, int], ...] = field(default=DEFAULT_BANDS)

    def __post_init__(self) -> None:
        if self.pdo <= 0 or self.base_odds <= 0:
            raise ValueError("ScoreScale: pdo and base_odds must be positive")
        if not self.lo < self.hi:
            raise ValueError(f"ScoreScale: lo ({self.lo}) must be below hi ({self.hi})")
        bands = tuple((str(n), int(b)) for n, b in self.bands)
        object.__setattr__(self, "bands", bands)
        lows = [b for _, b in bands]
        if not bands or lows[0] != self.lo or any(b >= a for b, a in zip(lows, lows[1:], strict=False)) \
                or lows[-1] > self.hi:
            raise ValueError(f"ScoreScale: band lower bounds must ascend strictly from lo={self.lo} "
                             f"and stay within hi={self.hi}, got {lows}")

    # -- the mapping -------------------------------------------------------------------------------
    @property
    def factor(self) -> float:
        return self.pdo / np.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * np.log(self.base_odds)

    def raw_score(self, pd: np.ndarray | float) -> np.ndarray:
        """Unclipped, unrounded score: offset + factor * ln((1-pd)/pd); a PD that is not a probability
        (NaN, < 0, > 1) is refused (check_probabilities)."""
        check_probabilities(pd)
        p = np.clip(np.asarray(pd, dtype=float), _EPS, 1 - _EPS)
        return self.offset + self.factor * (np.log1p(-p) - np.log(p))

    def score(self, pd: np.ndarray | float) -> np.ndarray:
        """Whole-point scores clipped to [lo, hi] (int64)."""
        return self.clip(np.rint(self.raw_score(pd)))

    def clip(self, raw: np.ndarray | float) -> np.ndarray:
        return np.clip(np.asarray(raw), self.lo, self.hi).astype(np.int64)

    def pd(self, score: np.ndarray | float) -> np.ndarray:
        """The PD a score stands for (inverse of raw_score; a clipped score gives the PD at the clip)."""
        s = np.asarray(score, dtype=float)
        return 1.0 / (1.0 + np.exp((s - self.offset) / self.factor))

    def band(self, score: np.ndarray | float) -> np.ndarray:
        """Band name per score (object array); scores outside [lo, hi] fall in the end bands."""
        names = np.array([n for n, _ in self.bands], dtype=object)
        lows = np.array([b for _, b in self.bands], dtype=float)
        idx = np.searchsorted(lows, np.asarray(score, dtype=float), side="right") - 1
        return names[np.clip(idx, 0, len(names) - 1)]

    def disagreement(self, score: np.ndarray, pd: np.ndarray | None = None, band: np.ndarray | None = None,
                     tolerance: float = 1.0) -> tuple[int, str, str] | None:
        """The first row whose score, PD and band are not one reading of this scale: (position, column,
        what is wrong), or None where all agree. Why: a file edited by hand (scores lowered, PD and band
        left) read as score drift but as no change in band shares, bad rates by band and mean PD; whichever
        column is right, the checks cannot all be. A score may differ from its PD's by `tolerance` points
        (rounding); rows missing a value are skipped."""
        s = np.asarray(score, dtype=float)
        why: dict[str, np.ndarray] = {}
        if pd is not None:
            p = np.asarray(pd, dtype=float)
            known = np.isfinite(s) & ~np.isnan(p)
            not_pd = known & ~((p >= 0) & (p <= 1))
            expected = np.full(s.shape, np.nan)
            ok = known & ~not_pd
            expected[ok] = np.clip(self.raw_score(p[ok]), self.lo, self.hi)
            why["pd"] = not_pd | (ok & (np.abs(s - expected) > tolerance))
        if band is not None:
            b = np.asarray(band, dtype=object)
            known = np.isfinite(s) & np.array([v is not None and v == v for v in b], dtype=bool)
            named = np.full(s.shape, None, dtype=object)
            named[known] = self.band(s[known])
            why["band"] = known & (np.array([str(v) for v in b], dtype=object) != named)
        bad = np.logical_or.reduce(list(why.values())) if why else np.zeros(s.shape, dtype=bool)
        if not bad.any():
            return None
        i = int(np.argmax(bad))
        if "pd" in why and why["pd"][i]:
            p_i = float(np.asarray(pd, dtype=float)[i])
            if not 0 <= p_i <= 1:
                return i, "pd", f"{p_i:g} is not a probability"
            reads = int(np.rint(np.clip(self.raw_score(p_i), self.lo, self.hi)))
            return i, "score", (f"score {s[i]:g} where its pd {p_i:.6g} is {reads} points on the score scale "
                                f"({self.words()}): the score and the pd disagree")
        return i, "band", (f"band '{np.asarray(band, dtype=object)[i]}' where the score {s[i]:g} falls in "
                           f"'{self.band(s[i:i + 1])[0]}' (band edges {self.edges_words()}): the band and the score "
                           "disagree")

    def words(self) -> str:
        """'600 points at 5:1 good:bad odds, 50 to double them'."""
        return f"{self.base_score:g} points at {self.base_odds:g}:1 good:bad odds, {self.pdo:g} to double them"

    def edges_words(self) -> str:
        """'poor from 350, fair from 550, ...'."""
        return ", ".join(f"{n} from {b}" for n, b in self.bands)

    # -- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"base_score": self.base_score, "base_odds": self.base_odds, "pdo": self.pdo, "lo": self.lo,
                "hi": self.hi, "bands": [[n, b] for n, b in self.bands]}

    @classmethod
    def from_dict(cls, d: dict) -> ScoreScale:
        return cls(base_score=float(d["base_score"]), base_odds=float(d["base_odds"]), pdo=float(d["pdo"]),
                   lo=int(d["lo"]), hi=int(d["hi"]), bands=tuple((n, int(b)) for n, b in d["bands"]))


def split_total(raw_total: np.ndarray, dim_points: np.ndarray, base: int, scale: ScoreScale
                ) -> tuple[np.ndarray, np.ndarray]:
    """Split whole-point totals into per-dimension sub-scores that add up exactly to the clipped total.

    raw_total = base + dim_points.sum(axis=1) (all integers). Each dimension gets an equal share of the
    base points (the first `base mod k` dimensions one point more, in the fixed dimension order) plus the
    points its features earned; a dimension with no features keeps just its share, i.e. a neutral
    sub-score. When the total is clipped to [lo, hi], the points cut off are taken from the dimensions
    that pushed it past the bound, in proportion to how far each pushed (largest remainders get the
    rounding), so the sum stays exact and no sub-score crosses its neutral share.

    Returns (total (n,), subscores (n, k)), both int64, with subscores.sum(axis=1) == total.
    """
    dim_points = np.asarray(dim_points, dtype=np.int64)
    n, k = dim_points.shape
    q, r = divmod(int(base), k)
    shares = np.full(k, q, dtype=np.int64)
    shares[:r] += 1
    sub = dim_points + shares
    raw_total = np.asarray(raw_total, dtype=np.int64)
    total = scale.clip(raw_total)
    excess = raw_total - total  # > 0: clipped at hi; < 0: clipped at lo
    rows = np.flatnonzero(excess)
    if rows.size:
        sign = np.sign(excess[rows])[:, None]
        push = np.clip(dim_points[rows] * sign, 0, None).astype(float)  # points pushing past the bound
        push_sum = push.sum(axis=1, keepdims=True)
        weights = np.where(push_sum > 0, push / np.where(push_sum > 0, push_sum, 1), 1.0 / k)
        amount = np.abs(excess[rows])[:, None] * weights
        cut = np.floor(amount).astype(np.int64)
        left = np.abs(excess[rows]) - cut.sum(axis=1)
        # largest remainder; ties go to the earlier dimension (stable, deterministic)
        order = np.argsort(-(amount - cut), axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(k)[None, :].repeat(rows.size, axis=0), axis=1)
        cut += rank < left[:, None]
        sub[rows] -= cut * sign.astype(np.int64)
    return total, sub
