"""Contract over every registered task (``affectkit.tasks.TASKS``), on tiny synthetic labels.

For each task: its declarations (label keys, unit, key/curve metrics among ``metric_names``),
labels read from utterances with its own label key, ``resolve_labels`` (items outside the
configured labels are removed and counted), ``encode``, ``loss``/``predict``/``metrics`` on
outputs of the unit's shape — (N, C) per utterance, (B, T, C) per dialogue with targets padded
with ``pad_value``, padding never counted — the loss decreasing when the outputs are optimised
for it (and the key metric improving with it), and a JSON ``state()``/``load_state()`` round trip.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from affectkit.data.batch import UNITS
from affectkit.errors import ConfigError
from affectkit.tasks import LABEL_READERS, LOWER_IS_BETTER, TASKS, make_task, read_label
from affectkit.types import CauseLink, Utterance

NAMES = TASKS.names()
EMOS = ("angry", "happy", "sad", "neutral")


def utterances(n: int = 24, n_dialogues: int = 4) -> list[Utterance]:
    """Utterances carrying every kind of label, in ``n_dialogues`` conversations."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        emo = EMOS[i % len(EMOS)]
        extra = EMOS[(i + 1) % len(EMOS)]
        d = i % n_dialogues
        # an emotion is caused by the previous turn of its dialogue (emotion–cause tasks)
        causes = (CauseLink(cause_id=f"c/{d}/{i - n_dialogues}", emotion=emo),) \
            if i >= n_dialogues and emo != "neutral" else ()
        out.append(Utterance(
            id=f"c/{d}/{i}", corpus="c", speaker=f"c/s{i % 3}", text=f"text {i}",
            dialogue_id=f"c/{d}", turn=i // n_dialogues,
            emotion=emo, emotion_original=emo,
            emotions=(emo, extra) if i % 3 == 0 else (emo,),
            sentiment=float(rng.uniform(-3, 3)),
            valence=float(rng.uniform(1, 5)), arousal=float(rng.uniform(1, 5)), causes=causes))
    return out


def build(kind: str):
    """(task, targets id → label, utterances) with the task's own default label key."""
    cls = TASKS.get(kind)
    utts = utterances()
    key = cls.label_keys[0] if cls.label_keys else "emotion"
    targets = {u.id: read_label(u, key) for u in utts}
    assert all(v is not None for v in targets.values()), f"{kind}: no {key} labels read"
    labels = cls.resolve_labels(dict(targets), None, Counter())
    return make_task(kind, labels), targets, utts


def encoded(task, targets, utts):
    """Targets of the task's unit: (N, ...) per utterance, (B, T, ...) padded per dialogue."""
    if task.unit == "utterance":
        return torch.as_tensor(task.encode([targets[u.id] for u in utts]))
    dialogues: dict[str, list[Utterance]] = {}
    for u in sorted(utts, key=lambda u: (u.dialogue_id, u.turn)):
        dialogues.setdefault(u.dialogue_id, []).append(u)
    rows = [task.encode_dialogues([[u.id for u in d]], targets) for d in dialogues.values()]
    rows[-1] = rows[-1][:-2]  # one shorter dialogue: real padding
    T = max(len(r) for r in rows)
    out = np.full((len(rows), T) + rows[0].shape[1:], task.pad_value, dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return torch.as_tensor(out)


def _pairs(task) -> bool:
    """Tasks that also read pair scores (B, T, T) (emotion–cause pairs)."""
    return "pair_logits" in getattr(task, "extra_outputs", ())


def outputs_like(task, target: torch.Tensor, z: torch.Tensor) -> dict:
    """One raw tensor z holds every output the task reads: logits, then (pair tasks) the
    (B, T, T) pair scores in the last T columns."""
    C = task.n_outputs
    out = {"logits": z[..., :C] if _pairs(task) else z}
    if _pairs(task):
        out["pair_logits"] = z[..., C:]
    if task.n_outputs == 1:
        out["score"] = z[..., 0]
    return out


def raw_outputs(task, target: torch.Tensor, seed: int = 0) -> torch.Tensor:
    lead = target.shape[:2] if task.unit == "dialogue" else target.shape[:1]
    g = torch.Generator().manual_seed(seed)
    width = task.n_outputs + (target.shape[1] if _pairs(task) else 0)
    return torch.randn(*lead, width, generator=g)


@pytest.mark.parametrize("kind", NAMES)
def test_declared(kind):
    cls = TASKS.get(kind)
    assert cls.kind == kind and cls.unit in UNITS
    assert cls.label_keys and set(cls.label_keys) <= set(LABEL_READERS)
    assert cls.default_key in cls.metric_names and cls.curve_metric in cls.metric_names
    for key in cls.label_keys:
        cls.check_label_key(key)
    others = [k for k in LABEL_READERS if k not in cls.label_keys]
    if others:
        with pytest.raises(ConfigError, match="cannot train"):
            cls.check_label_key(others[0])
    with pytest.raises(ConfigError):
        make_task(kind, build(kind)[0].labels, key_metric="no_such_metric")


@pytest.mark.parametrize("kind", NAMES)
def test_resolve_and_encode(kind):
    task, targets, utts = build(kind)
    assert task.n_outputs >= 1 and all(isinstance(x, str) for x in task.labels)
    groups = [[u.id for u in utts]]
    y = task.encode_dialogues(groups, targets) if task.unit == "dialogue" \
        else task.encode([targets[u.id] for u in utts])
    assert len(y) == len(utts) and np.isfinite(np.asarray(y, float)).all()
    # configured labels narrower than the data: the rest is removed and counted, or (fixed
    # label spaces such as sentiment) nothing is removed
    cls = TASKS.get(kind)
    narrow = dict(targets)
    skipped: Counter = Counter()
    labels = cls.resolve_labels(narrow, task.labels[:2], skipped)
    assert len(narrow) + sum(skipped.values()) == len(targets)
    sub = make_task(kind, labels)
    if task.unit == "dialogue":  # every kept item encodes
        sub.encode_dialogues([list(narrow)], narrow)
    else:
        sub.encode(list(narrow.values()))


@pytest.mark.parametrize("kind", NAMES)
def test_loss_predict_metrics_on_the_unit_shape(kind):
    task, targets, utts = build(kind)
    y = encoded(task, targets, utts)
    task.fit_train(y.numpy())
    z = raw_outputs(task, y).requires_grad_()
    loss = task.loss(outputs_like(task, y, z), y)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    with torch.no_grad():
        pred = task.predict(outputs_like(task, y, z.detach()))
    assert len(pred) == len(y)
    if task.unit == "dialogue":
        assert np.asarray(pred).shape[:2] == tuple(y.shape[:2])
        pad = (y == task.pad_value)
        while pad.dim() > 2:
            pad = pad.all(-1)
        assert pad.any(), "the synthetic dialogues are padded"
        assert (z.grad[pad] == 0).all(), "padded positions must not reach the loss"
    m = task.metrics(y.numpy(), pred)
    json.dumps(m, default=float)
    for name in (task.key_metric, task.curve_metric):
        assert name == "loss" or name in m, (kind, name, sorted(m))


@pytest.mark.parametrize("kind", NAMES)
def test_padding_never_changes_dialogue_metrics(kind):
    task, targets, utts = build(kind)
    if task.unit != "dialogue":
        pytest.skip(f"{kind} has one sample per utterance")
    y = encoded(task, targets, utts)
    z = raw_outputs(task, y)
    pad = (y == task.pad_value)
    while pad.dim() > 2:  # per-utterance target rows (emotion + cause flags) are padded whole
        pad = pad.all(-1)
    z2 = z.clone()
    z2[pad] = 50 * torch.randn(int(pad.sum()), z.shape[-1])
    a = task.metrics(y.numpy(), task.predict(outputs_like(task, y, z)))
    b = task.metrics(y.numpy(), task.predict(outputs_like(task, y, z2)))
    assert a[task.key_metric] == b[task.key_metric]
    la, lb = (task.loss(outputs_like(task, y, t), y) for t in (z, z2))
    torch.testing.assert_close(la, lb)


@pytest.mark.parametrize("kind", NAMES)
def test_optimising_the_loss_improves_the_key_metric(kind):
    task, targets, utts = build(kind)
    y = encoded(task, targets, utts)
    task.fit_train(y.numpy())
    z = raw_outputs(task, y, seed=1).requires_grad_()
    first = float(task.loss(outputs_like(task, y, z), y))
    before = task.metrics(y.numpy(), task.predict(outputs_like(task, y, z.detach())))
    opt = torch.optim.Adam([z], lr=0.1)
    for _ in range(150):
        loss = task.loss(outputs_like(task, y, z), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first
    task.calibrate(y.numpy(), task.predict(outputs_like(task, y, z.detach())))
    after = task.metrics(y.numpy(), task.predict(outputs_like(task, y, z.detach())))
    key = task.key_metric
    assert task.better(after[key], before[key]), (key, before[key], after[key])
    assert task.greater_is_better == (key not in LOWER_IS_BETTER)


@pytest.mark.parametrize("kind", NAMES)
def test_state_round_trip(kind):
    task, targets, utts = build(kind)
    y = encoded(task, targets, utts)
    task.fit_train(y.numpy())
    task.calibrate(y.numpy(), task.predict(outputs_like(task, y, raw_outputs(task, y))))
    state = json.loads(json.dumps(task.state()))
    assert state["kind"] == kind and state["labels"] == task.labels
    again = make_task(state["kind"], state["labels"], key_metric=state["key_metric"])
    again.load_state(state)
    assert json.loads(json.dumps(again.state())) == state
    z = raw_outputs(task, y, seed=5)
    np.testing.assert_array_equal(
        np.asarray(task.predict(outputs_like(task, y, z))),
        np.asarray(again.predict(outputs_like(again, y, z))))
    m1 = task.metrics(y.numpy(), task.predict(outputs_like(task, y, z)))
    m2 = again.metrics(y.numpy(), again.predict(outputs_like(again, y, z)))
    assert m1[task.key_metric] == m2[task.key_metric]
