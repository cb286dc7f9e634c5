"""How well a PD ranks bads above goods: AUC, Gini and KS, computed in one place.

Why here: the stack chooses its combiner by validation AUC (models/), the evaluation reports AUC, Gini and
KS (evaluation/), and training and the benchmarks print them (workflows/); models/ is the lowest layer all
of them may import, so each reads these functions rather than a copy of its own. Computed on the PD, so
they agree with scikit-learn exactly; label 1 = bad.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def labelled(y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0 good, 1 bad) and predictions as flat arrays of one length; a clear error otherwise."""
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and predictions ({p.size}) differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (good) or 1 (bad)")
    if np.isnan(p).any():
        raise ValueError("predictions contain NaN")
    return y, p


def two_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < y.size


def auc(y: Sequence[int] | np.ndarray, pd_: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve of the PD (NaN if only one class is present)."""
    y, p = labelled(y, pd_)
    return float(roc_auc_score(y, p)) if two_classes(y) else float("nan")


def gini_of(a: float) -> float:
    """Gini (accuracy ratio) of an AUC: 2 AUC - 1."""
    return 2 * a - 1


def gini(y: Sequence[int] | np.ndarray, pd_: Sequence[float] | np.ndarray) -> float:
    """Gini (accuracy ratio) = 2 AUC - 1."""
    return gini_of(auc(y, pd_))


def ks(y: Sequence[int] | np.ndarray, pd_: Sequence[float] | np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the PD distributions of bads and goods (= max TPR - FPR;
    NaN if only one class is present)."""
    y, p = labelled(y, pd_)
    if not two_classes(y):
        return float("nan")
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    return float(np.max(tpr - fpr))
