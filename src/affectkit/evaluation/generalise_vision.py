"""Facial expression in and across corpora: ``affect bench generalise --modality vision``.

Features: ``vision.faceapi`` on the 48×48 crops (taken whole, resized to 112×112 RGB): the
FaceExpressionNet 256-d embedding and its 7 probabilities (263-d; the utterance-level ``mean_``
block, which for a single image is the image's own vector). FER+ items reuse the FER2013
features of the same jpg (FER+ is a relabelling of those files).

Heads (standardisation → model), mean ± sd over seeds:

* ``zero-shot``: FaceExpressionNet's own 7-way prediction, no training (FER2013 / CK+ labels
  mapped to canonical; classes it cannot predict — CK+/FER+ ``contempt`` — count as errors);
* ``LR``: multinomial logistic regression, C chosen on the validation part;
* ``MLP``: one hidden layer (512, GELU, dropout 0.3), AdamW, class-balanced; FER+ trains on the
  **soft vote distribution** (cross-entropy with soft targets), the others on hard labels;
  epoch chosen on validation accuracy.

Protocols (model selection never sees a test item):

1. **FER+** (8 classes, FER+ order): train = FER+ train (all loaded images, soft targets),
   validation = FER+ valid (majority images), test = FER+ test **majority** images once →
   majority accuracy (issue goal ≥ 85 %).
2. **FER2013** (7 classes): train = Training, validation = PublicTest, test = PrivateTest →
   accuracy (goal ≥ 70 %).
3. **CK+48** (7 classes): 10 subject-disjoint folds (``speaker_kfold(k=10)``: validation = the
   next fold's subjects), accuracy mean ± sd over folds × seeds (goal ≥ 95 %). Checked
   subject-disjoint in code.
4. **Cross-corpus** on the 7 classes both share (anger, contempt, disgust, fear, happiness,
   sadness, surprise — no neutral): train FER+ (train, plurality label in the 7; validation =
   FER+ valid) → test CK+ (all 981); train CK+ (subject-disjoint 85/15 train/validation) →
   test FER+ test majority images of the 7 classes. UA (mean recall) and macro-F1.

Caveat: FaceExpressionNet's training data is undocumented and may include CK+ and FER2013
images, so in-domain rows may be optimistic and "cross-corpus" is cross-*label-set*, not
necessarily unseen faces.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from affectkit.errors import DataError

FEATURE = "vision.faceapi"
DIM = 263  # mean_ block: 7 probabilities + 256 embedding
FERPLUS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
SHARED7 = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
CK_TO_FERPLUS = {"anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
                 "happy": "happiness", "sadness": "sadness", "surprise": "surprise"}
FACEAPI = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
GOALS = {"ferplus": 85.0, "fer2013": 70.0, "ckplus": 95.0}
LR_C = (0.01, 0.03, 0.1, 0.3, 1.0)
MLP_EPOCHS = 40
SMALL_EPOCHS = 80  # CK+ (900 images) needs more passes


@dataclass
class Faces:
    utts: list
    X: np.ndarray  # (n, 263)
    X_flip: np.ndarray | None = None  # the same of the horizontally mirrored images


def _flipped(utts) -> np.ndarray:
    """[7 probs, 256 emb] of each image mirrored left-right (the extractor's own path:
    RGB → whole image as the face → 112×112 → FaceExpressionNet)."""
    from affectkit.features.vision.faceapi import classify, face_crop_direct
    from affectkit.media import load_image
    from affectkit.types import Modality

    crops = [face_crop_direct(load_image(u.media[Modality.VISION])[:, ::-1]) for u in utts]
    out = []
    for i in range(0, len(crops), 64):
        p, e = classify(np.stack(crops[i: i + 64]))
        out.append(np.concatenate([p, e], axis=1))
    return np.concatenate(out).astype(np.float32)


def _features(utts, progress: bool) -> np.ndarray:
    from affectkit.features import FeatureStore, extract, load_features
    from affectkit.types import Modality

    store = FeatureStore()
    rep = extract(utts, [FEATURE], store, progress=progress)
    if rep.failures:
        f = rep.failures[0]
        raise DataError(f"{FEATURE} failed on {len(rep.failures)} item(s), first {f.item}: "
                        f"{f.error}")
    return np.stack(load_features(utts, [FEATURE], store)[Modality.VISION])[:, :DIM].astype(
        np.float32)


def load(*, quick: bool = False, progress: bool = True) -> dict[str, Faces]:
    from affectkit.data import load_corpus
    from affectkit.types import Modality

    out: dict[str, Faces] = {}
    rng = np.random.default_rng(0)
    fer = load_corpus("fer2013").utterances
    ck = load_corpus("ckplus").utterances
    fp = load_corpus("ferplus").utterances
    if quick:
        fer = [fer[i] for i in sorted(rng.choice(len(fer), 1500, replace=False))]
        keep = {str(u.media[Modality.VISION]) for u in fer}
        fp = [u for u in fp if str(u.media[Modality.VISION]) in keep]
    Xf = _features(fer, progress)
    by_path = {str(u.media[Modality.VISION]): i for i, u in enumerate(fer)}
    out["fer2013"] = Faces(fer, Xf)
    fp = [u for u in fp if str(u.media[Modality.VISION]) in by_path]
    out["ferplus"] = Faces(fp, Xf[[by_path[str(u.media[Modality.VISION])] for u in fp]])
    out["ckplus"] = Faces(ck, _features(ck, progress), _flipped(ck))
    return out


# -- heads ---------------------------------------------------------------------------------
def _standardise(Xtr, *others):
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    return [(x - mu) / sd for x in (Xtr, *others)]


def _balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    cnt = np.bincount(y, minlength=k).astype(np.float64)
    w = np.where(cnt > 0, len(y) / (k * np.maximum(cnt, 1)), 0.0)
    return w[y]


def fit_lr(Xtr, ytr, Xv, yv, k: int):
    from sklearn.linear_model import LogisticRegression

    best = None
    for C in LR_C:
        m = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
        m.fit(Xtr, ytr)
        acc = float((m.predict(Xv) == yv).mean())
        if best is None or acc > best[0]:
            best = (acc, m)
    model = best[1]

    def predict(X):
        p = np.zeros((len(X), k))
        p[:, model.classes_] = model.predict_proba(X)
        return p

    return predict


def fit_mlp(Xtr, Ttr, Xv, yv, k: int, seed: int, *, epochs: int | None = None,
            soft: bool = False):
    """``Ttr``: int labels, or (n, k) soft targets when ``soft``."""
    import torch
    from torch import nn

    epochs = epochs or MLP_EPOCHS
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Linear(Xtr.shape[1], 512), nn.GELU(), nn.Dropout(0.3), nn.Linear(512, k))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    X = torch.from_numpy(Xtr.astype(np.float32))
    if soft:
        T = torch.from_numpy(np.asarray(Ttr, np.float32))
        hard = np.asarray(Ttr).argmax(1)
    else:
        hard = np.asarray(Ttr)
        T = torch.nn.functional.one_hot(torch.from_numpy(hard), k).float()
    w = torch.from_numpy(_balanced_weights(hard, k).astype(np.float32))
    Xv_t = torch.from_numpy(Xv.astype(np.float32))
    best = (-1.0, None)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(X))
        for i in range(0, len(order), 256):
            b = torch.from_numpy(order[i: i + 256])
            logp = torch.log_softmax(net(X[b]), 1)
            loss = (-(T[b] * logp).sum(1) * w[b]).sum() / w[b].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = float((net(Xv_t).argmax(1).numpy() == yv).mean())
        if acc > best[0]:
            best = (acc, {n: p.clone() for n, p in net.state_dict().items()})
    net.load_state_dict(best[1])
    net.eval()

    def predict(Xq):
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(Xq.astype(np.float32))), 1).numpy()

    return predict


# -- metrics -------------------------------------------------------------------------------
def ua(y, p, k: int) -> float:
    present = [c for c in range(k) if (y == c).any()]
    return float(np.mean([(p[y == c] == c).mean() for c in present]))


def macro_f1(y, p, k: int) -> float:
    from sklearn.metrics import f1_score

    present = sorted(set(y.tolist()))
    return float(f1_score(y, p, labels=present, average="macro", zero_division=0))


def _summ(v) -> dict:
    v = np.asarray(v, dtype=np.float64) * 100
    return {"mean": round(float(v.mean()), 2), "sd": round(float(v.std(ddof=1)) if len(v) > 1
                                                            else 0.0, 2), "n": len(v)}


def _zero_shot(X: np.ndarray, classes: tuple[str, ...], canon_of) -> np.ndarray:
    """FaceExpressionNet argmax mapped into ``classes`` (-1 where it has no counterpart)."""
    pred = X[:, :7].argmax(1)
    idx = {canon_of(c): i for i, c in enumerate(classes)}
    return np.array([idx.get(FACEAPI[p], -1) for p in pred])


def _canon(label: str) -> str:
    from affectkit.taxonomy import canonical

    return canonical(label)


# -- protocols -----------------------------------------------------------------------------
def ferplus_rows(d: dict[str, Faces], seeds: int) -> list[dict]:
    f = d["ferplus"]
    k = len(FERPLUS)
    y = np.array([FERPLUS.index(u.emotion_original) for u in f.utts])
    soft = np.array([u.meta["soft"] for u in f.utts])
    maj = np.array([u.meta["majority"] for u in f.utts])
    split = np.array([u.split for u in f.utts])
    tr, va, te = split == "train", (split == "valid") & maj, (split == "test") & maj
    Xtr, Xv, Xte = _standardise(f.X[tr], f.X[va], f.X[te])
    rows = []
    zs = _zero_shot(f.X[te], FERPLUS, _canon)
    rows.append(_row("ferplus", "zero-shot FaceExpressionNet", [(y[te], zs)], k, te.sum()))
    lr = fit_lr(Xtr, y[tr], Xv, y[va], k)
    rows.append(_row("ferplus", "LR (hard plurality labels)", [(y[te], lr(Xte).argmax(1))], k,
                     te.sum()))
    res = []
    for s in range(seeds):
        m = fit_mlp(Xtr, soft[tr], Xv, y[va], k, s, soft=True)
        res.append((y[te], m(Xte).argmax(1)))
    rows.append(_row("ferplus", "MLP (soft vote targets)", res, k, te.sum()))
    return rows


def fer2013_rows(d: dict[str, Faces], seeds: int) -> list[dict]:
    f = d["fer2013"]
    classes = ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
    k = 7
    y = np.array([classes.index(u.emotion) for u in f.utts])
    split = np.array([u.split for u in f.utts])
    tr, va, te = split == "train", split == "valid", split == "test"
    Xtr, Xv, Xte = _standardise(f.X[tr], f.X[va], f.X[te])
    rows = [_row("fer2013", "zero-shot FaceExpressionNet",
                 [(y[te], _zero_shot(f.X[te], classes, lambda c: c))], k, te.sum())]
    lr = fit_lr(Xtr, y[tr], Xv, y[va], k)
    rows.append(_row("fer2013", "LR", [(y[te], lr(Xte).argmax(1))], k, te.sum()))
    res = [(y[te], fit_mlp(Xtr, y[tr], Xv, y[va], k, s)(Xte).argmax(1)) for s in range(seeds)]
    rows.append(_row("fer2013", "MLP", res, k, te.sum()))
    return rows


def ckplus_rows(d: dict[str, Faces], seeds: int) -> list[dict]:
    from affectkit.data.splits import speaker_kfold

    f = d["ckplus"]
    classes = tuple(sorted({u.emotion_original for u in f.utts}))
    k = len(classes)
    y = np.array([classes.index(u.emotion_original) for u in f.utts])
    idx = {u.id: i for i, u in enumerate(f.utts)}
    spk = np.array([u.speaker for u in f.utts])
    split = speaker_kfold(f.utts, k=10, seed=0)
    zs, lr_res, mlp_res, flip_res = [], [], [], []
    zmap = _zero_shot(f.X, tuple(_canon(c) for c in classes), lambda c: c)
    for fold in split.folds:
        tr = np.array([idx[i] for i in fold.train])
        va = np.array([idx[i] for i in fold.valid])
        te = np.array([idx[i] for i in fold.test])
        assert not (set(spk[tr]) & set(spk[te])) and not (set(spk[va]) & set(spk[te])), \
            "CK+ fold is not subject-disjoint"
        Xtr, Xv, Xte = _standardise(f.X[tr], f.X[va], f.X[te])
        zs.append((y[te], zmap[te]))
        lr_res.append((y[te], fit_lr(Xtr, y[tr], Xv, y[va], k)(Xte).argmax(1)))
        for s in range(seeds):
            m = fit_mlp(Xtr, y[tr], Xv, y[va], k, s, epochs=SMALL_EPOCHS)
            mlp_res.append((y[te], m(Xte).argmax(1)))
        if f.X_flip is not None:  # train on both mirror images, average them at test time
            Xf = f.X_flip
            Xtr2, Xv2, Xte2, Xvf, Xtef = _standardise(np.concatenate([f.X[tr], Xf[tr]]),
                                                     f.X[va], f.X[te], Xf[va], Xf[te])
            del Xvf
            lr = fit_lr(Xtr2, np.concatenate([y[tr], y[tr]]), Xv2, y[va], k)
            flip_res.append((y[te], (lr(Xte2) + lr(Xtef)).argmax(1)))
    rows = [_row("ckplus", "zero-shot FaceExpressionNet", zs, k, len(y), folds=10),
            _row("ckplus", "LR", lr_res, k, len(y), folds=10),
            _row("ckplus", "MLP", mlp_res, k, len(y), folds=10)]
    if flip_res:
        rows.append(_row("ckplus", "LR, mirrored copies (train) + mirror average (test)",
                         flip_res, k, len(y), folds=10))
    return rows


def cross_rows(d: dict[str, Faces], seeds: int) -> list[dict]:
    k = len(SHARED7)
    fp, ck = d["ferplus"], d["ckplus"]
    fy = np.array([SHARED7.index(u.emotion_original) if u.emotion_original in SHARED7 else -1
                   for u in fp.utts])
    fsplit = np.array([u.split for u in fp.utts])
    fmaj = np.array([u.meta["majority"] for u in fp.utts])
    cy = np.array([SHARED7.index(CK_TO_FERPLUS[u.emotion_original]) for u in ck.utts])
    rows = []
    # FER+ → CK+
    tr, va = (fsplit == "train") & (fy >= 0), (fsplit == "valid") & (fy >= 0) & fmaj
    Xtr, Xv, Xte = _standardise(fp.X[tr], fp.X[va], ck.X)
    lr = fit_lr(Xtr, fy[tr], Xv, fy[va], k)
    rows.append(_xrow("FER+ → CK+", "LR", [(cy, lr(Xte).argmax(1))], k))
    rows.append(_xrow("FER+ → CK+", "MLP", [
        (cy, fit_mlp(Xtr, fy[tr], Xv, fy[va], k, s)(Xte).argmax(1)) for s in range(seeds)], k))
    # CK+ → FER+ test (subject-disjoint train / validation inside CK+)
    subj = np.array([u.speaker for u in ck.utts])
    rng = np.random.default_rng(0)
    us = np.array(sorted(set(subj)))
    val_s = set(rng.choice(us, max(1, int(round(0.15 * len(us)))), replace=False).tolist())
    cva = np.array([s in val_s for s in subj])
    te = (fsplit == "test") & (fy >= 0) & fmaj
    Xtr, Xv, Xte = _standardise(ck.X[~cva], ck.X[cva], fp.X[te])
    lr = fit_lr(Xtr, cy[~cva], Xv, cy[cva], k)
    rows.append(_xrow("CK+ → FER+ test", "LR", [(fy[te], lr(Xte).argmax(1))], k))
    rows.append(_xrow("CK+ → FER+ test", "MLP", [
        (fy[te], fit_mlp(Xtr, cy[~cva], Xv, cy[cva], k, s, epochs=SMALL_EPOCHS)(Xte).argmax(1))
        for s in range(seeds)], k))
    return rows


def _row(corpus, model, res, k, n, folds: int = 1) -> dict:
    acc = [float((y == p).mean()) for y, p in res]
    return {"table": "in-domain", "corpus": corpus, "model": model, "n_test": int(n),
            "folds": folds, "runs": len(res), "accuracy": _summ(acc),
            "UA": _summ([ua(y, p, k) for y, p in res]),
            "goal": GOALS.get(corpus)}


def _xrow(direction, model, res, k) -> dict:
    y_all = np.concatenate([y for y, _ in res[:1]])
    p_all = np.concatenate([p for _, p in res])
    shares = Counter(SHARED7[i] for i in p_all if i >= 0)
    return {"table": "cross-corpus", "direction": direction, "model": model,
            "n_test": int(len(y_all)), "runs": len(res),
            "UA": _summ([ua(y, p, k) for y, p in res]),
            "macro_f1": _summ([macro_f1(y, p, k) for y, p in res]),
            "pred_shares": {c: round(shares[c] / len(p_all), 4) for c in SHARED7},
            "gold_shares": {c: round(float((y_all == i).mean()), 4) for i, c in enumerate(SHARED7)}}


def _fmt(s: dict) -> str:
    return f"{s['mean']:.1f} ± {s['sd']:.1f}"


def render(rows: list[dict]) -> str:
    out = ["| corpus | model | test items | folds × seeds | accuracy % | UA % | goal |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["table"] == "in-domain":
            goal = f"≥ {r['goal']:.0f}" if r["goal"] else ""
            out.append(f"| {r['corpus']} | {r['model']} | {r['n_test']} | {r['runs']} | "
                       f"{_fmt(r['accuracy'])} | {_fmt(r['UA'])} | {goal} |")
    out += ["", "| direction (7 shared classes) | model | test items | seeds | UA % | macro-F1 % |"
            " largest predicted share |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["table"] == "cross-corpus":
            top = max(r["pred_shares"].items(), key=lambda kv: kv[1])
            out.append(f"| {r['direction']} | {r['model']} | {r['n_test']} | {r['runs']} | "
                       f"{_fmt(r['UA'])} | {_fmt(r['macro_f1'])} | {top[0]} {top[1]:.2f} |")
    return "\n".join(out)


def run(*, seeds: int = 3, quick: bool = False, progress: bool = True) -> dict:
    import torch

    torch.set_num_threads(1)
    d = load(quick=quick, progress=progress)
    rows = []
    for fn in (ferplus_rows, fer2013_rows, ckplus_rows, cross_rows):
        rows.extend(fn(d, seeds))
    return {"protocol": __doc__.split("\n\n", 1)[1].strip(), "rows": rows,
            "feature": FEATURE, "markdown": render(rows)}
