"""Dialogue context models (models/dialogue.py) on the dialogue sample unit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affectkit.config import TrainerConfig
from affectkit.data.batch import collate, speaker_onehots
from affectkit.errors import ConfigError
from affectkit.models import MODELS, create_model
from affectkit.tasks import make_task
from affectkit.tasks.emotion_cause import MAX_T
from affectkit.training import Trainer
from affectkit.types import Modality

T, A = Modality.TEXT, Modality.AUDIO
DIALOGUE = [n for n in MODELS.names() if getattr(MODELS.get(n), "unit", "") == "dialogue"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(n, seed, mods=(T,)):
    """Label of utterance t = sign of the previous utterance's first text feature."""
    rng = np.random.default_rng(seed)
    feats = {m: {} for m in mods}
    ys, groups, dids = [], [], []
    for d in range(n):
        k = int(rng.integers(2, 9))
        ids = [f"{seed}_{d}/{t}" for t in range(k)]
        x = rng.normal(size=(k, 4)).astype(np.float32)
        for t, i in enumerate(ids):
            for m in mods:
                feats[m][i] = x[t] if m is T else rng.normal(size=3).astype(np.float32)
            ys.append(int(x[t - 1, 0] > 0) if t else 0)
        groups.append(ids)
        dids.append(f"{seed}_{d}")
    kinds = {m: "vector" for m in mods}
    return collate(dids, feats, kinds, np.asarray(ys), unit="dialogue", groups=groups)


def test_registry_has_the_context_models():
    assert {"dialogue.ssm", "dialogue.gru", "dialogue.transformer", "dialogue.none"} <= set(DIALOGUE)


@pytest.mark.parametrize("name", DIALOGUE)
def test_padding_never_changes_a_dialogue(name):
    b = _data(6, 0)
    torch.manual_seed(0)
    m = create_model(name, input_dims={T: 4}, n_outputs=2, hidden=16).eval()
    with torch.no_grad():
        full = m(b.inputs, lengths=b.lengths)["logits"]
        for r in range(len(b)):
            one = b.take([r])
            alone = m(one.inputs, lengths=one.lengths)["logits"][0]
            n = int(b.target_lengths[r])
            torch.testing.assert_close(alone[:n], full[r, :n], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", DIALOGUE)
def test_context_models_learn_a_rule_only_context_reveals(name):
    torch.manual_seed(0)
    task = make_task("dialogue_emotion", ["neg", "pos"])
    train, valid, test = _data(200, 1), _data(40, 2), _data(60, 3)
    model = create_model(name, input_dims={T: 4}, n_outputs=2, hidden=32, dropout=0.0)
    cfg = TrainerConfig(epochs=15, batch_size=16, lr=0.005, patience=0, progress=False)
    tr = Trainer(model, task, cfg, seed=0)
    tr.fit(train, valid)
    ua = tr.evaluate(test)["ua"]
    if name == "dialogue.none":
        assert ua < 0.62  # nothing to learn from an utterance alone (chance 0.5)
    else:
        assert ua > 0.8, (name, ua)


def test_probability_guided_fusion_of_two_modalities():
    b = _data(4, 5, mods=(T, A))
    m = create_model("dialogue.ssm", input_dims={T: 4, A: 3}, n_outputs=3, hidden=16).eval()
    out = m(b.inputs, lengths=b.lengths)
    w = out["weights"]
    assert w.shape == (4, b.inputs[T].shape[1], 2)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    p = out["logits"].exp().sum(-1)
    torch.testing.assert_close(p, torch.ones_like(p), atol=1e-4, rtol=1e-4)


def test_speaker_slots():
    oh = speaker_onehots(["a", "b", "c", "d"], {"a": "ann", "b": "bob", "c": "ann", "d": "cy"}, 2)
    assert oh.argmax(1).tolist() == [0, 1, 0, 1] and oh.sum() == 4  # cy shares the last slot
    b = collate(["d"], {T: {i: np.zeros(4, np.float32) for i in "ab"}}, {T: "vector"},
                np.array([0, 1]), unit="dialogue", groups=[["a", "b"]],
                speakers={"a": "x", "b": "y"}, speaker_slots=3)
    assert b.inputs[T].shape == (1, 2, 7)
    assert b.inputs[T][0, :, 4:].tolist() == [[1, 0, 0], [0, 1, 0]]


def test_unknown_context_is_a_clear_error():
    with pytest.raises(ConfigError, match="context"):
        create_model("dialogue.ssm", input_dims={T: 4}, n_outputs=2, context="lstm")


# --- emotion–cause pairs ---------------------------------------------------------------------


def test_pair_scores_hand_worked():
    from affectkit.tasks.emotion_cause import pair_scores

    gold = {("d", 2, 1, "angry"), ("d", 2, 2, "angry"), ("d", 4, 3, "sad")}
    pred = {("d", 2, 1, "angry"), ("d", 4, 3, "happy")}
    s = pair_scores(gold, pred)
    # micro: 1 of 2 predicted right, 1 of 3 gold found → P .5, R .333, F1 .4
    assert s["pair_p"] == 0.5 and abs(s["pair_r"] - 1 / 3) < 1e-9 and abs(s["pair_f1"] - 0.4) < 1e-9
    # ignoring the emotion: 2 of 2 predicted right, 2 of 3 found → F1 .8
    assert abs(s["pair_f1_any"] - 0.8) < 1e-9
    # per emotion: angry P 1 R .5 → .667 (2 gold), sad 0 (1 gold), happy 0 (0 gold)
    assert abs(s["pair_wf1"] - (2 / 3 * 2 + 0 * 1) / 3) < 1e-9
    assert pair_scores(gold, set())["pair_f1"] == 0.0 and pair_scores(set(), set())["pair_wf1"] == 0.0


def test_emotion_cause_encoding_and_metrics_on_a_dialogue():
    task = make_task("emotion_cause", ["angry", "neutral", "sad"])
    targets = {"a": ("neutral", ()), "b": ("angry", ("a", "b")), "c": ("sad", ("a", "zz"))}
    y = task.encode_dialogues([["a", "b", "c"]], targets)
    assert y.shape == (3, 1 + MAX_T) and y[:, 0].tolist() == [1, 0, 2]
    assert y[1, 1:4].tolist() == [1, 1, 0] and y[2, 1:4].tolist() == [1, 0, 0]  # zz: not in dialogue
    b = collate(["d"], {T: {i: np.zeros(2, np.float32) for i in "abc"}}, {T: "vector"}, y,
                unit="dialogue", groups=[["a", "b", "c"]], pad_value=task.pad_value)
    # a perfect prediction scores 1; one missed cause costs recall
    pred = np.concatenate([b.target[..., :1].numpy().astype(float),
                           b.target[..., 1:4].numpy().astype(float)], -1)
    assert task.metrics(b.target.numpy(), pred)["pair_wf1"] == 1.0
    pred[0, 1, 2] = 0.0  # b→b missed
    m = task.metrics(b.target.numpy(), pred)
    assert m["n_gold_pairs"] == 3 and m["n_pred_pairs"] == 2 and m["pair_f1"] == pytest.approx(0.8)


def test_emotion_cause_model_trains_through_the_trainer():
    """Synthetic rule: utterance i is angry iff its first feature > 0.5, and its cause is the
    previous utterance."""
    rng = np.random.default_rng(0)

    def make(n, seed):
        rng = np.random.default_rng(seed)
        feats, targets, groups, dids = {}, {}, [], []
        for d in range(n):
            k = int(rng.integers(3, 8))
            ids = [f"{seed}_{d}/{t}" for t in range(k)]
            for t, i in enumerate(ids):
                x = rng.normal(size=4).astype(np.float32)
                feats[i] = x
                angry = x[0] > 0.5 and t > 0
                targets[i] = ("angry", (ids[t - 1],)) if angry else ("neutral", ())
            groups.append(ids)
            dids.append(f"{seed}_{d}")
        return dids, groups, feats, targets

    task = make_task("emotion_cause", ["angry", "neutral"])
    parts = {}
    for side, (n, seed) in {"train": (150, 1), "valid": (40, 2), "test": (40, 3)}.items():
        dids, groups, feats, targets = make(n, seed)
        parts[side] = collate(dids, {T: feats}, {T: "vector"},
                              task.encode_dialogues(groups, targets), unit="dialogue",
                              groups=groups, pad_value=task.pad_value)
    torch.manual_seed(0)
    model = create_model("dialogue.ecpe", input_dims={T: 4}, n_outputs=2, hidden=32, dropout=0.0)
    cfg = TrainerConfig(epochs=20, batch_size=16, lr=0.005, patience=0, progress=False,
                        eval_batch_size=7)
    tr = Trainer(model, task, cfg, seed=0)
    tr.fit(parts["train"], parts["valid"])
    m = tr.evaluate(parts["test"])
    assert m["pair_wf1"] > 0.7, m
    assert 0.1 <= task.threshold <= 0.9  # chosen on validation
    del rng


def test_cause_entailment_scores_only_history_candidates_of_emotion_utterances():
    task = make_task("cause_entailment", ["angry", "neutral"])
    targets = {"a": ("neutral", ()), "b": ("angry", ("a",)), "c": ("angry", ("c",))}
    y = task.encode_dialogues([["a", "b", "c"]], targets)[None]  # (1, 3, 1 + MAX_T)
    pred = np.zeros((1, 3, 4))
    pred[0, :, 0] = [1, 0, 0]
    # candidates: b→a, b→b, c→a, c→b, c→c (a is neutral: none; no future candidates)
    pred[0, 1, 1] = 0.9  # b→a right
    pred[0, 2, 1] = 0.9  # c→a wrong
    pred[0, 0, 2] = 0.9  # a→b: not a candidate, ignored
    m = task.metrics(y, pred)
    assert m["n_candidates"] == 5 and m["n_causes"] == 2
    # positives: P 1/2, R 1/2 → .5; negatives: 3 gold, predicted negative 3 of which 2 right
    assert m["cee_pos_f1"] == pytest.approx(0.5) and m["cee_neg_f1"] == pytest.approx(2 / 3)

