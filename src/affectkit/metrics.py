"""The field's metrics, computed one way.

Sentiment (MOSI/MOSEI, −3..3 scores) follows MMSA's ``__eval_mosei_regression`` exactly:

* **Has0 Acc-2 / F1**: ``truth >= 0`` vs ``pred >= 0`` over all items (zero counts as positive).
* **Non0 Acc-2 / F1**: items whose *truth* is exactly 0 are dropped; ``truth > 0`` vs ``pred > 0``.
* **Acc-3/5/7**: clip to ±1/±2/±3 and round (:func:`affectkit.taxonomy.sentiment_classes`).
* **F1** is scikit-learn's ``average="weighted"`` over the two classes, as MMSA computes it.
* **MAE** on raw (unclipped) predictions; **Corr** is Pearson's r.

Classification: **WA** (weighted accuracy, i.e. plain accuracy), **UA** (unweighted accuracy =
macro-averaged recall, "UAR"), macro/weighted F1, confusion matrix (rows = truth).
Dimensional: **CCC** (Lin's concordance correlation coefficient).
Multi-label: macro/micro F1 at per-label thresholds chosen on a development set.

Every function takes array-likes and returns plain Python floats (JSON-able).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from affectkit.taxonomy import sentiment_classes

__all__ = [
    "accuracy", "unweighted_accuracy", "f1", "confusion", "classification_metrics",
    "sentiment_metrics", "ccc", "pearson", "mae", "multilabel_metrics", "choose_thresholds",
]


def _arr(x, dtype=None) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim != 1:
        a = a.reshape(-1)
    return a


def _check_same_length(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("cannot compute a metric on 0 items")


# --- classification -------------------------------------------------------------------------


def confusion(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = number of items of true class *i* predicted as *j*.

    >>> confusion([0, 0, 1, 2], [0, 1, 1, 2]).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    """
    t, p = _arr(y_true, int), _arr(y_pred, int)
    _check_same_length(t, p)
    k = n_classes if n_classes is not None else int(max(t.max(), p.max())) + 1
    c = np.zeros((k, k), dtype=np.int64)
    np.add.at(c, (t, p), 1)
    return c


def accuracy(y_true, y_pred) -> float:
    """Plain accuracy (= "WA", weighted accuracy, in speech emotion papers)."""
    t, p = _arr(y_true), _arr(y_pred)
    _check_same_length(t, p)
    return float(np.mean(t == p))


def unweighted_accuracy(y_true, y_pred, n_classes: int | None = None) -> float:
    """Mean per-class recall over the classes present in ``y_true`` ("UA", "UAR").

    >>> unweighted_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    c = confusion(y_true, y_pred, n_classes)
    support = c.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(c)[present] / support[present]))


def f1(y_true, y_pred, average: str = "macro", n_classes: int | None = None) -> float:
    """F1 over classes present in ``y_true`` or ``y_pred`` (scikit-learn's default label set).

    ``average``: ``"macro"`` (unweighted mean), ``"weighted"`` (by true support) or
    ``"micro"`` (= accuracy for single-label data). A class with no predicted and no true item
    is ignored; a class with zero precision and recall contributes 0 (sklearn's
    ``zero_division=0``).
    """
    c = confusion(y_true, y_pred, n_classes).astype(float)
    tp = np.diag(c)
    pred_n, true_n = c.sum(axis=0), c.sum(axis=1)
    if average == "micro":
        return float(tp.sum() / c.sum())
    labels = (pred_n + true_n) > 0
    denom = pred_n + true_n
    f = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
    if average == "macro":
        return float(f[labels].mean())
    if average == "weighted":
        w = true_n[labels]
        return float((f[labels] * w).sum() / w.sum()) if w.sum() else 0.0
    raise ValueError(f"average must be 'macro', 'weighted' or 'micro', got {average!r}")


def classification_metrics(y_true, y_pred, labels: Sequence[str] | None = None) -> dict:
    """WA, UA, macro/weighted F1 and the confusion matrix (with its label order).

    Args:
        y_true, y_pred: integer class ids, shape (N,).
        labels: class names in id order; fixes the matrix size (classes absent from both
            sides still get a row and column).
    """
    n = len(labels) if labels is not None else None
    c = confusion(y_true, y_pred, n)
    return {
        "wa": accuracy(y_true, y_pred),
        "ua": unweighted_accuracy(y_true, y_pred, n),
        "macro_f1": f1(y_true, y_pred, "macro", n),
        "weighted_f1": f1(y_true, y_pred, "weighted", n),
        "n": int(len(_arr(y_true))),
        "confusion": c.tolist(),
        "labels": list(labels) if labels is not None else list(range(c.shape[0])),
    }


# --- regression / sentiment -----------------------------------------------------------------


def mae(y_true, y_pred) -> float:
    t, p = _arr(y_true, float), _arr(y_pred, float)
    _check_same_length(t, p)
    return float(np.mean(np.abs(t - p)))


def pearson(y_true, y_pred) -> float:
    """Pearson's r; 0.0 when either side is constant (r undefined) rather than NaN."""
    t, p = _arr(y_true, float), _arr(y_pred, float)
    _check_same_length(t, p)
    if t.std() == 0 or p.std() == 0:
        return 0.0
    return float(np.corrcoef(t, p)[0, 1])


def ccc(y_true, y_pred) -> float:
    """Lin's concordance correlation coefficient (population moments).

    ``2 cov(x, y) / (var x + var y + (mean x − mean y)²)``

    >>> ccc([1, 2, 3], [1, 2, 3])
    1.0
    """
    t, p = _arr(y_true, float), _arr(y_pred, float)
    _check_same_length(t, p)
    mt, mp = t.mean(), p.mean()
    cov = np.mean((t - mt) * (p - mp))
    denom = t.var() + p.var() + (mt - mp) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def sentiment_metrics(y_true, y_pred) -> dict:
    """MOSI/MOSEI regression metrics (MMSA's definitions; see the module docstring).

    Args:
        y_true: gold scores in [−3, 3], shape (N,).
        y_pred: predicted scores (any real), shape (N,).

    Returns:
        ``has0_acc2, has0_f1, non0_acc2, non0_f1, acc3, acc5, acc7, mae, corr, n, n_non0``.
    """
    t, p = _arr(y_true, float), _arr(y_pred, float)
    _check_same_length(t, p)
    out: dict = {}
    bt, bp = sentiment_classes(t, 2), sentiment_classes(p, 2)  # Has0: >= 0
    out["has0_acc2"] = accuracy(bt, bp)
    out["has0_f1"] = f1(bt, bp, "weighted", 2)
    nz = t != 0
    if nz.any():
        nt, npred = (t[nz] > 0).astype(int), (p[nz] > 0).astype(int)
        out["non0_acc2"] = accuracy(nt, npred)
        out["non0_f1"] = f1(nt, npred, "weighted", 2)
    else:
        out["non0_acc2"] = out["non0_f1"] = float("nan")
    for k in (3, 5, 7):
        out[f"acc{k}"] = accuracy(sentiment_classes(t, k), sentiment_classes(p, k))
    out["mae"] = mae(t, p)
    out["corr"] = pearson(t, p)
    out["n"] = int(len(t))
    out["n_non0"] = int(nz.sum())
    return out


# --- multi-label ----------------------------------------------------------------------------


def _binary_f1(t: np.ndarray, p: np.ndarray) -> float:
    tp = float(np.sum(t & p))
    denom = float(np.sum(t) + np.sum(p))
    return 2 * tp / denom if denom else 0.0


def multilabel_metrics(y_true, scores, thresholds=0.5, labels: Sequence[str] | None = None) -> dict:
    """Macro/micro F1 for multi-label predictions.

    Args:
        y_true: 0/1 matrix, shape (N, L).
        scores: probabilities, shape (N, L).
        thresholds: scalar or per-label array of shape (L,).
        labels: label names (for the per-label F1 listing).

    Macro F1 averages the per-label F1 over all L labels (a label never true and never
    predicted scores 0, as in scikit-learn with ``zero_division=0``).
    """
    t = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if t.shape != s.shape or t.ndim != 2:
        raise ValueError(f"y_true {t.shape} and scores {s.shape} must be equal 2-D shapes")
    th = np.broadcast_to(np.asarray(thresholds, dtype=float), (t.shape[1],))
    p = s >= th
    per = [_binary_f1(t[:, j], p[:, j]) for j in range(t.shape[1])]
    return {
        "macro_f1": float(np.mean(per)),
        "micro_f1": _binary_f1(t.ravel(), p.ravel()),
        "exact_match": float(np.mean(np.all(t == p, axis=1))),
        "per_label_f1": dict(zip(labels or [str(j) for j in range(len(per))], per, strict=True)),
        "n": int(t.shape[0]),
    }


def choose_thresholds(y_true, scores, grid: Sequence[float] | None = None) -> np.ndarray:
    """Per-label threshold maximising that label's F1. Call it on a development split only.

    Returns:
        thresholds, shape (L,).
    """
    t = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    grid = np.asarray(grid if grid is not None else np.arange(0.05, 0.96, 0.05))
    best = np.full(t.shape[1], 0.5)
    for j in range(t.shape[1]):
        f = [_binary_f1(t[:, j], s[:, j] >= g) for g in grid]
        best[j] = float(grid[int(np.argmax(f))])
    return best
