"""Issue 15 plug-ins: CCC task against hand-worked values, EmoBank dimensional labels,
counterfactual subtraction on a toy model with a known bias, SuCI and first-order MAML."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affectkit import metrics as M
from affectkit.tasks.base import ccc_torch, make_task


# --- CCC --------------------------------------------------------------------------------------
# Hand-worked (population moments):
#   t = 1,2,3,4 ; p = 2,3,4,5 : var t = var p = cov = 1.25, (mean diff)^2 = 1
#       → 2·1.25 / (1.25 + 1.25 + 1) = 2.5 / 3.5 = 5/7
#   t = 1,2,3 ; p = 2,4,6     : var t = 2/3, var p = 8/3, cov = 4/3, (2 − 4)^2 = 4
#       → (8/3) / (2/3 + 8/3 + 4) = 8/22 = 4/11
#   t = 1,2,3 ; p = 3,2,1     : → −1 ;   p constant → 0
HAND = [
    ([1, 2, 3, 4], [2, 3, 4, 5], 5 / 7),
    ([1, 2, 3], [2, 4, 6], 4 / 11),
    ([1, 2, 3], [3, 2, 1], -1.0),
    ([1, 2, 3], [2, 2, 2], 0.0),
]


@pytest.mark.parametrize("t,p,want", HAND)
def test_ccc_metric_hand_values(t, p, want):
    assert M.ccc(t, p) == pytest.approx(want, abs=1e-9)


def test_ccc_torch_matches_hand_values_per_column():
    t = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    p = torch.tensor([[2.0, 4.0], [3.0, 3.0], [4.0, 2.0], [5.0, 1.0]])
    got = ccc_torch(p, t)
    # column 0: shifted copy → 5/7; column 1: reversed (same mean, same var) → −1
    assert got[0].item() == pytest.approx(5 / 7, abs=1e-6)
    assert got[1].item() == pytest.approx(-1.0, abs=1e-6)


def test_dimensional_task_loss_and_metrics():
    task = make_task("dimensional", ["valence", "arousal"])
    t = np.array([[1, 1], [2, 2], [3, 3]], dtype=np.float32)
    p = np.array([[2, 3], [4, 2], [6, 1]], dtype=np.float32)
    loss = task.loss({"score": torch.tensor(p)}, torch.tensor(t))
    # valence 4/11, arousal −1 → loss = 1 − mean = 1 − (4/11 − 1)/2
    assert loss.item() == pytest.approx(1 - (4 / 11 - 1) / 2, abs=1e-6)
    m = task.metrics(t, p)
    assert m["ccc_valence"] == pytest.approx(4 / 11)
    assert m["ccc_arousal"] == pytest.approx(-1.0)
    assert m["ccc_mean"] == pytest.approx((4 / 11 - 1) / 2)
    assert m["mae_valence"] == pytest.approx((1 + 2 + 3) / 3)
    assert m["n"] == 3


def test_ccc_loss_gradient_improves_ccc():
    torch.manual_seed(0)
    t = torch.randn(64, 2)
    p = torch.zeros(64, 2, requires_grad=True)
    with torch.no_grad():
        p += 0.1 * torch.randn(64, 2)
    task = make_task("dimensional", ["valence", "arousal"])
    opt = torch.optim.SGD([p], lr=1.0)
    first = task.loss({"score": p}, t).item()
    for _ in range(50):
        opt.zero_grad()
        task.loss({"score": p}, t).backward()
        opt.step()
    assert task.loss({"score": p}, t).item() < first - 0.5


def test_emobank_dimensional_labels(shared):
    from affectkit.data.base import load_corpus
    from affectkit.tasks.base import read_label

    root = shared("text/emobank")
    utts = load_corpus("emobank", root).utterances
    assert len(utts) > 9000
    labs = [read_label(u, "dimensional") for u in utts[:200]]
    assert all(lab is not None and 1 <= lab[0] <= 5 and 1 <= lab[1] <= 5 for lab in labs)
    assert {u.split for u in utts} == {"train", "valid", "test"}
