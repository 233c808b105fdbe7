"""Chinese ECPE protocol pieces: the binary emotion-clause label, the standard pair P/R/F1
(hand-worked), and the corpus's own folds with a validation part carved from training folds."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.data.splits import corpus_folds
from affectkit.errors import DataError
from affectkit.tasks import make_task, read_label
from affectkit.tasks.emotion_cause import MAX_T, pair_scores
from affectkit.types import CauseLink, Utterance


def clause(doc, k, emotion=None, causes=(), fold=1, emotions=None):
    return Utterance(id=f"ecpe-zh/{doc}/{k}", corpus="ecpe-zh", text=f"c{k}",
                     dialogue_id=f"ecpe-zh/{doc}", turn=k - 1, emotion=emotion,
                     emotions=emotions,
                     causes=tuple(CauseLink(f"ecpe-zh/{doc}/{c}") for c in causes),
                     meta={"fold": fold})


def test_binary_emotion_clause_label_keeps_every_clause():
    assert read_label(clause(1, 1), "emotion_cause_any") == ("none", ())
    assert read_label(clause(1, 2, "happy", (1, 2)), "emotion_cause_any") == (
        "emotion", ("ecpe-zh/1/1", "ecpe-zh/1/2"))
    # two disagreeing emotions: emotion is None but it is an emotion clause
    assert read_label(clause(1, 3, None, (3,), emotions=("fear", "sad")),
                      "emotion_cause_any")[0] == "emotion"
    neutral = Utterance(id="x", corpus="ecf", emotion="neutral")
    assert read_label(neutral, "emotion_cause_any")[0] == "none"


def test_ecpe_pair_prf_by_hand():
    # gold: doc a (3→2), (3→3); doc b (1→1). Pred: (3→2) right, (3→4) wrong cause,
    # (2→2) wrong emotion clause, b (1→1) right. 2 TP / 4 pred / 3 gold.
    gold = {("a", 3, 2, "emotion"), ("a", 3, 3, "emotion"), ("b", 1, 1, "emotion")}
    pred = {("a", 3, 2, "emotion"), ("a", 3, 4, "emotion"), ("a", 2, 2, "emotion"),
            ("b", 1, 1, "emotion")}
    s = pair_scores(gold, pred, neutral="none")
    assert s["pair_p"] == pytest.approx(2 / 4) and s["pair_r"] == pytest.approx(2 / 3)
    assert s["pair_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # 4/7
    assert s["pair_wf1"] == pytest.approx(s["pair_f1"])  # one category: the same number
    assert s["pair_p_any"] == s["pair_p"] and s["pair_r_any"] == s["pair_r"]
    # emotion clauses: gold {a3, b1}, pred {a3, a2, b1} → P 2/3, R 1
    assert s["emotion_clause_p"] == pytest.approx(2 / 3) and s["emotion_clause_r"] == 1.0
    # cause clauses: gold {a2, a3, b1}, pred {a2, a4, b1} → P 2/3, R 2/3
    assert s["cause_clause_f1"] == pytest.approx(2 / 3)


def test_task_uses_none_as_the_no_emotion_label_and_predicted_emotion_clauses():
    task = make_task("emotion_cause", ["emotion", "none"])
    assert task.neutral == "none"
    assert make_task("emotion_cause", ["anger", "neutral"]).neutral == "neutral"
    # one document, 3 clauses; gold: clause 2 (index 1) is the emotion clause, causes 0 and 1
    targets = {"c0": ("none", ()), "c1": ("emotion", ("c0", "c1")), "c2": ("none", ())}
    y = task.encode_dialogues([["c0", "c1", "c2"]], targets)[None]  # (1, 3, 1 + MAX_T)
    assert y.shape == (1, 3, 1 + MAX_T) and list(y[0, 1, 1:4]) == [1, 1, 0]
    e, n = task.labels.index("emotion"), task.labels.index("none")
    pred = np.zeros((1, 3, 1 + 3))
    pred[0, :, 0] = [n, e, e]           # clause 2 wrongly an emotion clause too
    pred[0, 1, 1:] = [0.9, 0.6, 0.1]    # (1→0) p .9, (1→1) p .6
    pred[0, 2, 1:] = [0.0, 0.0, 0.8]    # (2→2): a wrong pair
    pred[0, 0, 1:] = [0.99, 0, 0]       # clause 0 predicted "none": its pair never counts
    task.threshold = 0.5
    m = task.metrics(y, pred)
    assert (m["pair_p"], m["pair_r"]) == (pytest.approx(2 / 3), 1.0)
    task.threshold = 0.7  # (1→1) drops out
    m = task.metrics(y, pred)
    assert (m["pair_p"], m["pair_r"]) == (0.5, 0.5)
    # calibration (on validation data): F1 .667 at 0.1 (adds 1→2 at .1), .8 from 0.15 to
    # 0.6, .5 to 0.8, .667 above; the first best of the grid wins
    task.calibrate(y, pred)
    assert task.threshold == 0.15


def test_corpus_folds_test_each_fold_and_validate_on_other_folds_documents():
    utts = [clause(d, k, fold=(d % 3) + 1) for d in range(30) for k in (1, 2, 3)]
    split = corpus_folds(utts, valid_fraction=0.2, seed=0)
    assert [f.name for f in split.folds] == ["fold1", "fold2", "fold3"]
    doc = {u.id: u.dialogue_id for u in utts}
    fold_of = {u.id: u.meta["fold"] for u in utts}
    for k, f in enumerate(split.folds, 1):
        assert {fold_of[i] for i in f.test} == {k}
        assert k not in {fold_of[i] for i in f.train + f.valid}
        assert len(f.train) + len(f.valid) + len(f.test) == len(utts)
        tr, va = {doc[i] for i in f.train}, {doc[i] for i in f.valid}
        assert not tr & va and len(va) == 4  # 20% of 20 training documents, whole documents
    again = corpus_folds(utts, valid_fraction=0.2, seed=0)
    assert [f.valid for f in again.folds] == [f.valid for f in split.folds]
    assert corpus_folds(utts, valid_fraction=0.2, seed=1).folds[0].valid != split.folds[0].valid
    with pytest.raises(DataError, match="no meta\\['fold'\\].*kfold or official"):
        corpus_folds([clause(1, 1, fold=None)] + utts)


def test_ecpe_text_loses_segmentation_spaces():
    from affectkit.data.corpora.ecpe_zh import unsegment

    assert unsegment(" 我 很 怕 ") == "我很怕"
    assert unsegment("买 了 iPhone 5 s 手机") == "买了iPhone 5 s手机"


def test_windowed_pair_scorer_equals_the_full_one_inside_the_window():
    import torch

    from affectkit.errors import ConfigError
    from affectkit.models import create_model
    from affectkit.types import Modality

    torch.manual_seed(0)
    kw = dict(input_dims={Modality.TEXT: 6}, n_outputs=2, hidden=8, context="gru")
    full = create_model("dialogue.ecpe", **kw).eval()
    win = create_model("dialogue.ecpe", window=2, **kw).eval()
    win.load_state_dict(full.state_dict())
    x = {Modality.TEXT: torch.randn(2, 7, 6, requires_grad=True)}
    L = {Modality.TEXT: torch.tensor([7, 4])}
    pf, pw = full(x, L)["pair_logits"], win(x, L)["pair_logits"]
    i, j = torch.meshgrid(torch.arange(7), torch.arange(7), indexing="ij")
    near = (i - j).abs() <= 2
    torch.testing.assert_close(pw[:, near], pf[:, near])
    assert (pw[:, ~near] == win.outside).all()
    pw[:, ~near].sum().backward()  # outside the window: constant, no gradient
    assert x[Modality.TEXT].grad is None or x[Modality.TEXT].grad.abs().max() == 0
    with pytest.raises(ConfigError, match="window"):
        create_model("dialogue.ecpe", window=-1, **kw)
