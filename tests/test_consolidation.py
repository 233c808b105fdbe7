"""Regression tests of the core consolidation (issue 10): one way to reload a run, tasks that
own their labels and sample unit, dialogue samples end to end through the Trainer, one
feature path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from affectkit.config import TrainerConfig
from affectkit.data.batch import Batch, collate
from affectkit.models.base import AffectModel
from affectkit.tasks import TASKS, make_task
from affectkit.training import Trainer
from affectkit.types import Modality

T = Modality.TEXT


def test_suites_are_found_from_the_evaluation_package():
    from affectkit.evaluation.suites import load_suite

    s = load_suite("mosi")
    assert s.name == "mosi" and s.entries


# --- the run-reload bug: face.minixception with the pretrained FER head -----------------------


def _png(path, value: int) -> None:
    import cv2

    rng = np.random.default_rng(value)
    img = (rng.random((48, 48)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


@pytest.fixture
def fer_run(tmp_path, monkeypatch):
    """A face.minixception run (pretrained head kept: labels ⊂ FER's) on a tiny CK+-48 tree."""
    from affectkit.config import load_config
    from affectkit.experiment import run_experiment

    monkeypatch.setenv("AFFECTKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "ckplus48"
    k = 0
    for s in range(6):
        for q, emo in enumerate(("happy", "sadness", "surprise"), start=1):
            for frame in (1, 2):
                k += 1
                _png(root / emo / f"S{100 + s:03d}_{q:03d}_{frame:08d}.png", k)
    cfg_file = tmp_path / "fer.yaml"
    cfg_file.write_text(
        f"name: fer-head\nstore: {tmp_path / 'store'}\n"
        f"data: {{corpus: ckplus, root: {root}, split: kfold, folds: 3, "
        "label: emotion}\nfeatures: {vision: vision.gray48}\n"
        "model: {name: face.minixception, args: {tune: head, augment: false}}\n"
        "task: {kind: emotion}\ntrainer: {epochs: 2, batch_size: 8, lr: 0.01, patience: 0, "
        "progress: false}\n")
    cfg = load_config(cfg_file)
    res = run_experiment(cfg, run_root=tmp_path / "runs", progress=False, folds=None)
    run_dir = next((tmp_path / "runs" / "seed0").iterdir())
    return cfg, res, run_dir


def test_pretrained_head_run_reloads_identically_through_every_path(fer_run, tmp_path):
    from affectkit.analysis.heads import RunModel
    from affectkit.evaluation.robustness import load_run as robustness_load
    from affectkit.experiment import evaluate_run, load_run
    from affectkit.training.checkpoint import RunDir
    from affectkit.training.strategies.corrkd import CorrKD

    cfg, res, run_dir = fer_run
    # the former local input is an ordinary extractor cached in the one store (config `store`)
    store = run_dir.parents[2] / "store"
    assert len(list((store / "vision.gray48").rglob("*.npy"))) == 36
    assert not (run_dir.parents[2] / "cache" / "vision.gray48").exists()
    spec = json.loads((run_dir / "model.json").read_text())
    assert spec["args"]["labels"] == ["happy", "sad", "surprised"]  # injected labels are saved
    saved = json.loads((run_dir / "test_metrics.json").read_text())["test"]

    # 1. evaluate_run (affect evaluate)
    ev = evaluate_run(run_dir, "test")
    assert ev["ua"] == pytest.approx(saved["ua"]) and ev["wa"] == pytest.approx(saved["wa"])

    # 2. robustness (affect robustness)
    rr = robustness_load(run_dir)
    assert rr.trainer.model.pretrained_head
    assert rr.evaluate(rr.data())["ua"] == pytest.approx(saved["ua"])

    # reference outputs of the trained model on the test items
    lr = load_run(run_dir)
    batch = lr.batch("test")
    ref = lr.trainer.forward_all(batch)["logits"]

    # 3. the analyzer's RunModel (an exported run folder with inference.json)
    info = {"modality": "vision", "kind": "image", "input_dim": 48,
            "labels": json.loads((run_dir / "task.json").read_text())["labels"]}
    (run_dir / "inference.json").write_text(json.dumps(info))
    rm = RunModel(run_dir)
    assert rm.model.pretrained_head
    feats = [lr.prep.feats[Modality.VISION][i] for i in lr.fold.test]
    torch.testing.assert_close(rm.outputs_from_features(feats)["logits"], ref)

    # 4. a CorrKD teacher
    student = type("S", (), {"input_dims": {Modality.VISION: 48}, "n_outputs": 3})()
    teacher = CorrKD(teacher=str(run_dir)).load_teacher(
        type("Tr", (), {"model": student, "seed": 0, "run_dir": None})())
    teacher.eval()
    with torch.no_grad():
        torch.testing.assert_close(teacher(batch.inputs)["logits"], ref)

    # 5. a folder written before model.json existed reloads the same way (labels injected)
    (run_dir / "model.json").unlink()
    model, _ = RunDir(run_dir).load_model(input_dims={Modality.VISION: 48})
    assert model.pretrained_head
    with torch.no_grad():
        torch.testing.assert_close(model(batch.inputs)["logits"], ref)


def test_evaluate_run_scores_the_split_it_is_asked_for(fer_run):
    from affectkit.experiment import evaluate_run

    _, _, run_dir = fer_run
    data = json.loads((run_dir / "data.json").read_text())
    sizes = {s: len(data[s]) for s in ("train", "valid", "test")}
    got = {s: int(np.asarray(evaluate_run(run_dir, s)["confusion"]).sum())
           for s in ("train", "valid", "test")}
    assert got == sizes


# --- tasks own their labels -----------------------------------------------------------------


def test_tasks_own_label_reading_and_encoding():
    from collections import Counter

    from affectkit.errors import ConfigError

    emo = TASKS.get("emotion")
    targets = {"a": "happy", "b": "sad", "c": "angry"}
    skipped = Counter()
    labels = emo.resolve_labels(targets, ["happy", "sad"], skipped)
    assert labels == ["happy", "sad"] and "c" not in targets and sum(skipped.values()) == 1
    assert make_task("emotion", labels).encode(["sad", "happy"]).tolist() == [1, 0]
    ml = make_task("multilabel", ["joy", "fear"])
    assert ml.encode([("fear",), ("joy", "fear")]).tolist() == [[0, 1], [1, 1]]
    with pytest.raises(ConfigError, match="cannot train a sentiment task"):
        TASKS.get("sentiment").check_label_key("emotion")
    with pytest.raises(ConfigError, match="data.label='colour'"):
        emo.check_label_key("colour")


# --- a dialogue-unit task end to end through the Trainer --------------------------------------


class TinyTagger(AffectModel):
    """Per-utterance logits from a unidirectional GRU over the dialogue: (B, T, D) → (B, T, C)."""

    name = "test.tagger"
    input_kinds = {"text": "sequence"}

    def __init__(self, *, input_dims, n_outputs):
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        d = input_dims[T]
        self.gru = nn.GRU(d, 16, batch_first=True)
        self.out = nn.Linear(16, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        h, _ = self.gru(inputs[T])
        return {"logits": self.out(h), "embedding": h.mean(1)}


def _dialogues(n_dialogues: int, seed: int):
    """Utterance label = the sign of the *previous* utterance's first feature: only a context
    model can learn it (the utterance alone carries no information)."""
    rng = np.random.default_rng(seed)
    feats, ys, groups, dids = {}, [], [], []
    for d in range(n_dialogues):
        n = int(rng.integers(2, 9))
        ids = [f"d{seed}_{d}/{t}" for t in range(n)]
        x = rng.normal(size=(n, 4)).astype(np.float32)
        for t, i in enumerate(ids):
            feats[i] = x[t]
            ys.append(int(x[t - 1, 0] > 0) if t else 0)
        groups.append(ids)
        dids.append(f"d{seed}_{d}")
    return dids, groups, feats, np.asarray(ys)


def test_dialogue_unit_batches_pad_and_trim():
    dids, groups, feats, y = _dialogues(5, 0)
    b = collate(dids, {T: feats}, {T: "vector"}, y, unit="dialogue", groups=groups, pad_value=-100)
    L = max(len(g) for g in groups)
    assert b.inputs[T].shape == (5, L, 4) and b.target.shape == (5, L)
    assert b.target_lengths.tolist() == [len(g) for g in groups]
    short = int(np.argmin([len(g) for g in groups]))
    assert (b.target[short, len(groups[short]):] == -100).all()
    sub = b.take([short])
    assert sub.target.shape[1] == len(groups[short]) == sub.inputs[T].shape[1]
    assert sub.item_ids == [groups[short]]
    with pytest.raises(Exception, match="targets"):
        collate(dids, {T: feats}, {T: "vector"}, y[:-1], unit="dialogue", groups=groups)


def test_dialogue_task_trains_end_to_end_through_the_trainer(tmp_path):
    torch.manual_seed(0)
    task = make_task("dialogue_emotion", ["neg", "pos"])
    assert task.unit == "dialogue"
    parts = {}
    for side, (n, seed) in {"train": (160, 1), "valid": (40, 2), "test": (40, 3)}.items():
        dids, groups, feats, y = _dialogues(n, seed)
        parts[side] = collate(dids, {T: feats}, {T: "vector"}, y, unit="dialogue",
                              groups=groups, pad_value=task.pad_value)
    model = TinyTagger(input_dims={T: 4}, n_outputs=2)
    cfg = TrainerConfig(epochs=12, batch_size=16, lr=0.01, patience=0, progress=False,
                        eval_batch_size=7)  # odd eval batches: outputs of unequal T are padded
    tr = Trainer(model, task, cfg, seed=0, run_dir=tmp_path / "run")
    fit = tr.fit(parts["train"], parts["valid"])
    test = tr.evaluate(parts["test"], "test")
    n_utts = int(parts["test"].target_lengths.sum())
    assert sum(np.asarray(test["confusion"]).ravel()) == n_utts  # padding is not scored
    assert test["ua"] > 0.8, test  # the context rule is learned (chance: 0.5)
    assert fit.best_epoch >= 0 and (tmp_path / "run" / "task.json").exists()
