"""Metrics: hand-worked cases, and scikit-learn where the definitions overlap."""

import numpy as np
import pytest
from sklearn import metrics as skm

from affectkit import metrics as M


def test_classification_hand_worked():
    # truth: 3×A, 1×B ; predictions: all A  → WA 0.75, UA (1 + 0)/2 = 0.5
    r = M.classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], labels=["A", "B", "C"])
    assert r["wa"] == 0.75
    assert r["ua"] == 0.5  # class C absent from the truth: not averaged in
    assert r["confusion"] == [[3, 0, 0], [1, 0, 0], [0, 0, 0]]
    # F1(A) = 2·3/(4+3) = 6/7, F1(B) = 0 → macro 3/7, weighted 0.75·6/7
    assert r["macro_f1"] == pytest.approx(3 / 7)
    assert r["weighted_f1"] == pytest.approx(0.75 * 6 / 7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 5, 200)
    p = np.where(rng.random(200) < 0.6, t, rng.integers(0, 5, 200))
    p[p == 4] = 3  # a class never predicted
    assert M.accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    assert M.unweighted_accuracy(t, p) == pytest.approx(skm.balanced_accuracy_score(t, p))
    for avg in ("macro", "weighted", "micro"):
        assert M.f1(t, p, avg) == pytest.approx(skm.f1_score(t, p, average=avg, zero_division=0))
    np.testing.assert_array_equal(M.confusion(t, p, 5), skm.confusion_matrix(t, p, labels=range(5)))


def test_sentiment_hand_worked():
    truth = [-2.0, -0.4, 0.0, 0.0, 1.2, 2.8]
    pred = [-1.0, 0.3, -0.2, 0.0, 2.0, 3.5]
    r = M.sentiment_metrics(truth, pred)
    # Has0 (>=0): truth 0,0,1,1,1,1 ; pred 0,1,0,1,1,1 → 4/6
    assert r["has0_acc2"] == pytest.approx(4 / 6)
    # Non0: drop the two zero truths; truth>0: 0,0,1,1 ; pred>0: 0,1,1,1 → 3/4
    assert r["non0_acc2"] == pytest.approx(0.75)
    assert r["n_non0"] == 4
    # Acc-7: truth rounds to -2,0,0,0,1,3 ; pred (clipped) -1,0,0,0,2,3 → 4/6
    assert r["acc7"] == pytest.approx(4 / 6)
    # MAE on unclipped predictions
    assert r["mae"] == pytest.approx(np.mean([1.0, 0.7, 0.2, 0.0, 0.8, 0.7]))
    assert r["corr"] == pytest.approx(np.corrcoef(truth, pred)[0, 1])
    # F1 is the weighted F1 of the binary decision (MMSA)
    nt = np.array([0, 0, 1, 1])
    npd = np.array([0, 1, 1, 1])
    assert r["non0_f1"] == pytest.approx(skm.f1_score(nt, npd, average="weighted"))


def test_sentiment_mmsa_reference():
    """Re-implementation of MMSA's __eval_mosei_regression, compared on random data."""
    rng = np.random.default_rng(3)
    t = np.round(rng.uniform(-3, 3, 300) * 3) / 3
    t[:20] = 0.0
    p = t + rng.normal(0, 1.0, 300)
    nz = t != 0
    ref = {
        "non0_acc2": skm.accuracy_score(t[nz] > 0, p[nz] > 0),
        "non0_f1": skm.f1_score(t[nz] > 0, p[nz] > 0, average="weighted"),
        "has0_acc2": skm.accuracy_score(t >= 0, p >= 0),
        "has0_f1": skm.f1_score(t >= 0, p >= 0, average="weighted"),
        "acc7": np.mean(np.round(np.clip(p, -3, 3)) == np.round(np.clip(t, -3, 3))),
        "acc5": np.mean(np.round(np.clip(p, -2, 2)) == np.round(np.clip(t, -2, 2))),
        "mae": np.mean(np.abs(p - t)),
    }
    r = M.sentiment_metrics(t, p)
    for k, v in ref.items():
        assert r[k] == pytest.approx(v), k


def test_ccc():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert M.ccc(x, x) == pytest.approx(1.0)
    # shift by 1: cov = var = 1.25, mean diff 1 → 2·1.25/(1.25+1.25+1) = 2.5/3.5
    assert M.ccc(x, x + 1) == pytest.approx(2.5 / 3.5)
    c = x - x.mean()
    assert M.ccc(c, -c) == pytest.approx(-1.0)  # perfect disagreement around a shared mean
    # -x: cov −1.25, mean diff 5 → −2.5/(2.5+25)
    assert M.ccc(x, -x) == pytest.approx(-2.5 / 27.5)
    assert M.pearson(x, np.ones(4)) == 0.0  # undefined → 0, not NaN


def test_multilabel_and_thresholds():
    t = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    s = np.array([[0.9, 0.2], [0.6, 0.4], [0.3, 0.1], [0.2, 0.35]])
    r = M.multilabel_metrics(t, s, 0.5, labels=["a", "b"])
    assert r["per_label_f1"] == {"a": 1.0, "b": 0.0}
    assert r["macro_f1"] == 0.5
    assert r["macro_f1"] == pytest.approx(skm.f1_score(t, s >= 0.5, average="macro", zero_division=0))
    assert r["micro_f1"] == pytest.approx(skm.f1_score(t, s >= 0.5, average="micro"))
    th = M.choose_thresholds(t, s)
    assert th[0] > 0.3 and th[0] <= 0.6
    assert th[1] <= 0.35 and th[1] > 0.2
    assert M.multilabel_metrics(t, s, th)["macro_f1"] == 1.0


def test_errors_are_clear():
    with pytest.raises(ValueError, match="3 items but y_pred has 2"):
        M.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="average must be"):
        M.f1([0], [0], "samples")
