"""Face cross-corpus / in-domain protocols on synthetic features (fast, no shared data)."""

from __future__ import annotations

import numpy as np

from affectkit.evaluation import generalise_vision as gv
from affectkit.types import Modality, Utterance


def _synthetic(rng) -> dict:
    """Features with a class signal (shared between corpora) in 263 dims."""
    centres = rng.normal(0, 1, (8, gv.DIM))

    def x(c):
        return (centres[c] * 1.5 + rng.normal(0, 1, gv.DIM)).astype(np.float32)

    fp, fpx = [], []
    for i in range(900):
        c = i % 8
        split = ("train", "train", "train", "valid", "test")[i % 5]
        soft = np.full(8, 0.02)
        soft[c] = 1 - 0.02 * 7
        fp.append(Utterance(id=f"ferplus/{i}", corpus="ferplus", split=split,
                            media={Modality.VISION: f"/x/{i}.jpg"}, emotion_original=gv.FERPLUS[c],
                            meta={"soft": soft.tolist(), "majority": i % 7 != 0}))
        fpx.append(x(c))
    fer_classes = ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
    fer_map = [4, 5, 6, 1, 3, 2, 0]  # → FER+ centre index
    fer, ferx = [], []
    for i in range(700):
        c = i % 7
        fer.append(Utterance(id=f"fer2013/{i}", corpus="fer2013",
                             split=("train", "train", "valid", "test")[i % 4],
                             emotion=fer_classes[c]))
        ferx.append(x(fer_map[c]))
    ck_classes = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
    ck_map = [4, 7, 5, 6, 1, 3, 2]
    ck, ckx = [], []
    for i in range(420):
        c = i % 7
        ck.append(Utterance(id=f"ckplus/{i}", corpus="ckplus", speaker=f"ckplus/S{i % 30:03d}",
                            emotion_original=ck_classes[c]))
        ckx.append(x(ck_map[c]))
    return {"ferplus": gv.Faces(fp, np.stack(fpx)), "fer2013": gv.Faces(fer, np.stack(ferx)),
            "ckplus": gv.Faces(ck, np.stack(ckx),
                               np.stack(ckx) + rng.normal(0, 0.3, (len(ckx), gv.DIM)))}


def test_protocol_rows_learn_the_signal_and_keep_test_out(monkeypatch):
    d = _synthetic(np.random.default_rng(0))
    monkeypatch.setattr(gv, "load", lambda **kw: d)
    monkeypatch.setattr(gv, "MLP_EPOCHS", 8)
    monkeypatch.setattr(gv, "SMALL_EPOCHS", 8)
    monkeypatch.setattr(gv, "LR_C", (0.1,))
    res = gv.run(seeds=1, progress=False)
    rows = {(r.get("corpus") or r["direction"], r["model"]): r for r in res["rows"]}
    assert rows[("ferplus", "MLP (soft vote targets)")]["accuracy"]["mean"] > 90
    assert rows[("ferplus", "MLP (soft vote targets)")]["n_test"] == sum(
        u.split == "test" and u.meta["majority"] for u in d["ferplus"].utts)
    assert rows[("ckplus", "LR")]["folds"] == 10 and rows[("ckplus", "MLP")]["runs"] == 10
    assert rows[("fer2013", "LR")]["accuracy"]["mean"] > 90
    flip = rows[("ckplus", "LR, mirrored copies (train) + mirror average (test)")]
    assert flip["folds"] == 10 and flip["accuracy"]["mean"] > 90
    assert rows[("FER+ → CK+", "LR")]["n_test"] == 420
    assert rows[("FER+ → CK+", "LR")]["UA"]["mean"] > 80
    assert rows[("CK+ → FER+ test", "MLP")]["UA"]["mean"] > 80
    # zero-shot uses the first 7 dims (random here): it cannot be good
    assert rows[("ckplus", "zero-shot FaceExpressionNet")]["accuracy"]["mean"] < 60
    assert "| ferplus |" in res["markdown"] and "FER+ → CK+" in res["markdown"]


def test_zero_shot_maps_faceapi_classes_and_marks_unknown():
    X = np.zeros((3, gv.DIM), np.float32)
    X[0, 1] = 1  # happy
    X[1, 3] = 1  # angry
    X[2, 0] = 1  # neutral: not a CK+ class
    classes = ("angry", "contempt", "happy")
    assert gv._zero_shot(X, classes, lambda c: c).tolist() == [2, 0, -1]
