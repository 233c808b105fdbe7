"""Cross-corpus speech emotion: ``affect bench generalise --modality audio``.

Corpora (the shared speech corpora): RAVDESS (English, 24 actors), TESS (English, 2 speakers),
EmoDB (German, 10), EMOVO (Italian, 6), URDU (Urdu, 29, spontaneous). Labels are mapped onto the
canonical set with the opt-in maps of :mod:`affectkit.taxonomy` (RAVDESS ``calm`` → neutral,
TESS ``ps`` → surprised); EmoDB ``boredom`` has no canonical class and is left out of the
cross-corpus sets (it stays in the in-domain EmoDB protocol).

Three tables:

1. **Leave one corpus out, 4 classes** (neutral / happy / sad / angry, shared by all five):
   train on four corpora, score the fifth once.
2. **Leave one corpus out, canonical set**: train on every canonical class present in the four
   training corpora (7 when RAVDESS, TESS or EMOVO train; URDU adds only the four), score the
   held-out corpus's items whose class the model knows; UA and macro-F1 over the classes
   present in the held-out corpus.
3. **In-domain, speaker-independent**, every corpus with its own labels and the protocol of
   ``affect benchmark <corpus>``: RAVDESS 8 classes in 6 actor-disjoint folds, EmoDB 7 classes
   leave-one-speaker-out, EMOVO 7 classes leave-one-speaker-out, TESS 7 classes train on one
   speaker / test the other, URDU 4 classes in 5 speaker-disjoint folds.

Model selection never sees a test item: in the leave-one-corpus-out tables the validation part
is one speaker group of each *training* corpus (20 % of the items of TESS, which has 2
speakers); in-domain it is the fold's validation group (:mod:`affectkit.data.splits`). The
hyper-parameter (LR: C; MLP: epoch) chosen on it is refit on train + validation (LR) or kept
(MLP, best epoch), then the test part is scored once. Every fold is checked speaker-disjoint.

Models on ``audio.whisper`` (Whisper base encoder, mean ‖ std, 1024-d, loudness-normalised):

* ``LR``: standardisation + multinomial logistic regression, sample weights that give every
  (corpus, class) cell the same total weight (so TESS's 2,800 clips do not dominate and no
  class is favoured).
* ``MLP``: standardisation + one hidden layer (256, GELU, dropout 0.3), AdamW, the same
  weights, epoch chosen on validation UA; mean ± sd over seeds.
* ``LR + speaker norm``: each speaker's features z-scored with that speaker's own mean and sd
  before the LR — *transductive* (it uses the unlabelled test speakers' feature statistics);
  only meaningful when a speaker has several emotions (not URDU, where 26 of 29 speakers have
  one).

Values are percentages, mean ± sd over seeds (LOCO; LR is deterministic, so its sd is 0) or
over seeds × folds (in-domain). ``pred max`` is the largest predicted-class share on the held-out
corpus (the issue's bound for a shipped model: ≤ 40 % on a balanced corpus).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from affectkit.errors import ConfigError, DataError

CORPORA = ("ravdess", "tess", "emodb", "emovo", "urdu")
FOUR = ("neutral", "happy", "sad", "angry")
FEATURE = "audio.whisper"
LR_C = (0.01, 0.03, 0.1, 0.3, 1.0)
MLP_EPOCHS = 60
GOALS = {"ravdess": 75.0, "emodb": 85.0, "emovo": 58.0}
LOCO_GOAL = 60.0


@dataclass
class Data:
    ids: list[str]
    corpus: np.ndarray  # (n,) str
    speaker: np.ndarray  # (n,) str, "<corpus>/<speaker>"
    label: np.ndarray  # (n,) corpus's own label (EmoDB boredom, RAVDESS calm, TESS ps kept)
    canon: np.ndarray  # (n,) canonical label or "" when unmappable
    X: np.ndarray  # (n, d) float32
    utts: list
    #: augmented copies 1..K of X (same rows), for training rows only (see ``load(augment=)``)
    X_aug: tuple = ()


def _cap_cells(us: list, corpus: str, cap: int) -> list:
    """At most ``cap`` utterances per (speaker, canonical class) cell, the ones with the
    smallest sha1 of their id (deterministic, independent of the order and of the feature)."""
    import hashlib

    from affectkit.taxonomy import map_to_canonical

    cells: dict = defaultdict(list)
    for u in us:
        cells[(u.speaker, map_to_canonical(u.emotion, corpus) or "")].append(u)
    keep = set()
    for items in cells.values():
        items = sorted(items, key=lambda u: hashlib.sha1(u.id.encode()).hexdigest())
        keep.update(u.id for u in items[:cap])
    return [u for u in us if u.id in keep]


def load(corpora=CORPORA, feature: str = FEATURE, *, quick: bool = False,
         progress: bool = True, four_only: bool = False, cap: int | None = None,
         augment: int = 0) -> Data:
    """Utterances of ``corpora`` with their ``feature`` vectors (extracted into the default
    FeatureStore when missing). ``four_only``: only items whose canonical class is one of
    :data:`FOUR` (enough for the 4-class leave-one-corpus-out table, at ~60 % of the
    extraction). ``cap``: at most that many items per (speaker, class) cell (see
    :func:`_cap_cells`; with 100 it only thins TESS, 200 words per speaker and emotion).
    ``augment``: also the features of augmented copies 1..K of every item (speed ±10 %, gain
    ±6 dB, white noise at SNR 10–30 dB; :mod:`affectkit.features.audio.augment`), used only as
    extra *training* rows by :func:`loco`."""
    from affectkit.data import load_corpus
    from affectkit.features import FeatureStore, extract, load_features
    from affectkit.taxonomy import map_to_canonical
    from affectkit.types import Modality

    utts = []
    for c in corpora:
        us = load_corpus(c).utterances
        if not us:
            raise DataError(f"corpus {c!r} has no utterances (is the shared data present?)")
        if four_only:
            us = [u for u in us if map_to_canonical(u.emotion, c) in FOUR]
        if cap:
            us = _cap_cells(us, c, cap)
        if quick:
            rng = np.random.default_rng(0)
            us = [us[i] for i in sorted(rng.choice(len(us), min(len(us), 120), replace=False))]
        utts.extend(us)
    store = FeatureStore()
    rep = extract(utts, [feature], store, progress=progress)
    if rep.failures:
        bad = {f.item for f in rep.failures}
        utts = [u for u in utts if u.id not in bad]
    feats = load_features(utts, [feature], store)
    X = np.stack(feats[Modality.AUDIO]).astype(np.float32)
    X_aug = []
    for k in range(1, augment + 1):
        from affectkit.features import get_extractor

        ext = get_extractor(feature, augment=k)
        rep_k = extract(utts, [ext], store, progress=progress)
        if rep_k.failures:
            raise DataError(f"augmented copy {k}: {len(rep_k.failures)} items failed where the "
                            f"clean signal did not, e.g. {rep_k.failures[0]}")
        X_aug.append(np.stack(load_features(utts, [ext], store)[Modality.AUDIO]).astype(
            np.float32))
    canon = np.array([map_to_canonical(u.emotion, u.corpus) or "" for u in utts])
    return Data(
        ids=[u.id for u in utts],
        corpus=np.array([u.corpus for u in utts]),
        speaker=np.array([f"{u.corpus}/{u.speaker}" for u in utts]),
        label=np.array([u.emotion for u in utts]),
        canon=canon,
        X=X,
        utts=utts,
        X_aug=tuple(X_aug),
    )


# -- heads ---------------------------------------------------------------------------------------
def cell_weights(corpus: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights giving every (corpus, class) cell the same total, normalised to mean 1."""
    cells = Counter(zip(corpus, y))
    w = np.array([1.0 / cells[(c, t)] for c, t in zip(corpus, y)])
    return w * len(w) / w.sum()


def speaker_norm(X: np.ndarray, speaker: np.ndarray) -> np.ndarray:
    """Z-score each speaker's rows with that speaker's own mean and sd (transductive)."""
    out = np.empty_like(X)
    for s in np.unique(speaker):
        m = speaker == s
        mu = X[m].mean(axis=0)
        sd = X[m].std(axis=0) + 1e-6
        out[m] = (X[m] - mu) / sd
    return out


def ua(y_true, y_pred, labels=None) -> float:
    from sklearn.metrics import recall_score

    labels = sorted(set(y_true)) if labels is None else labels
    return float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def macro_f1(y_true, y_pred) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
                          zero_division=0))


class LRHead:
    """Standardise + multinomial logistic regression with sample weights; C chosen on
    validation UA, then refit on train + validation."""

    def __init__(self, C: float | None = None) -> None:
        self.C = C

    def _fit(self, X, y, w, C):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        m = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=300, tol=1e-3))
        m.fit(X, y, logisticregression__sample_weight=w)
        return m

    def fit(self, X, y, w, Xv=None, yv=None, wv=None, seed: int = 0):
        if self.C is None:
            if Xv is None or len(Xv) == 0:
                raise ConfigError("LRHead: no C and no validation data to choose it")
            scores = []
            for C in LR_C:
                m = self._fit(X, y, w, C)
                scores.append(ua(yv, m.predict(Xv)))
            self.C = LR_C[int(np.argmax(scores))]
            self.valid_ua = max(scores)
        if Xv is not None and len(Xv):
            X, y, w = np.concatenate([X, Xv]), np.concatenate([y, yv]), np.concatenate([w, wv])
        self.model = self._fit(X, y, w, self.C)
        self.classes_ = list(self.model.classes_)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)

    def predict(self, X):
        return self.model.predict(X)


class MLPHead:
    """Standardise + Linear(d, 256) → GELU → Dropout(0.3) → Linear(256, K); AdamW, weighted
    cross-entropy; the epoch with the best validation UA is kept (at most ``epochs``)."""

    def __init__(self, hidden: int = 256, dropout: float = 0.3, epochs: int = MLP_EPOCHS,
                 lr: float = 1e-3, weight_decay: float = 1e-2, batch: int = 64) -> None:
        self.hidden, self.dropout, self.epochs = hidden, dropout, epochs
        self.lr, self.weight_decay, self.batch = lr, weight_decay, batch
        self.best_epoch: int | None = None

    def _net(self, d, k):
        import torch.nn as nn

        return nn.Sequential(nn.Linear(d, self.hidden), nn.GELU(), nn.Dropout(self.dropout),
                             nn.Linear(self.hidden, k))

    def fit(self, X, y, w, Xv=None, yv=None, wv=None, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.classes_ = sorted(set(y))
        idx = {c: i for i, c in enumerate(self.classes_)}
        self.mu = X.mean(axis=0)
        self.sd = X.std(axis=0) + 1e-6
        Xt = torch.from_numpy(((X - self.mu) / self.sd).astype(np.float32))
        yt = torch.tensor([idx[c] for c in y])
        wt = torch.from_numpy(np.asarray(w, np.float32))
        net = self._net(X.shape[1], len(self.classes_))
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, best_ep = -1.0, None, 0
        n = len(Xt)
        for ep in range(self.epochs):
            net.train()
            perm = torch.from_numpy(rng.permutation(n))
            for i in range(0, n, self.batch):
                b = perm[i:i + self.batch]
                loss = (torch.nn.functional.cross_entropy(net(Xt[b]), yt[b], reduction="none")
                        * wt[b]).sum() / wt[b].sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            if Xv is not None and len(Xv):
                self.net = net
                s = ua(yv, self.predict(Xv))
                if s > best:
                    best, best_ep = s, ep + 1
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if best_state is not None:
            net.load_state_dict(best_state)
            self.valid_ua = best
        self.best_epoch = best_ep or self.epochs
        self.net = net.eval()
        return self

    def predict_proba(self, X):
        import torch

        with torch.no_grad():
            z = self.net(torch.from_numpy(((X - self.mu) / self.sd).astype(np.float32)))
            return torch.softmax(z, dim=1).numpy()

    def predict(self, X):
        return np.array(self.classes_)[self.predict_proba(X).argmax(axis=1)]


MODELS = {
    "whisper-base + LR": dict(head="lr", spk=False, seeds=1),
    "whisper-base + MLP": dict(head="mlp", spk=False, seeds=None),
    "whisper-base + LR + speaker norm (transductive)": dict(head="lr", spk=True, seeds=1),
}


#: short names for ``--models`` / ``run(models=...)``
MODEL_ALIASES = {"lr": "whisper-base + LR", "mlp": "whisper-base + MLP",
                 "spk": "whisper-base + LR + speaker norm (transductive)"}


def make_head(kind: str):
    return LRHead() if kind == "lr" else MLPHead()


# -- protocols -----------------------------------------------------------------------------------
def _valid_mask(d: Data, train_mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """One speaker group (of 5) per training corpus; 20 % of the items for TESS (2 speakers)."""
    rng = np.random.default_rng(seed)
    valid = np.zeros(len(d.ids), bool)
    for c in np.unique(d.corpus[train_mask]):
        m = train_mask & (d.corpus == c)
        spk = sorted(set(d.speaker[m]))
        if len(spk) >= 5:
            rng.shuffle(spk)
            chosen = set(spk[: max(1, len(spk) // 5)])
            valid |= m & np.isin(d.speaker, list(chosen))
        else:
            idx = np.flatnonzero(m)
            valid[rng.choice(idx, len(idx) // 5, replace=False)] = True
    return valid


def _summ(vals):
    """Mean, sd and n of fractions, in percent; ``values`` keeps each seed × fold score in
    run order so that two features run with the same seeds and folds can be paired."""
    a = np.asarray(vals, float) * 100
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "n": int(len(a)), "values": [round(float(v), 4) for v in a]}


def loco(d: Data, classes: str, model: str, seeds: int, on_test=None) -> list[dict]:
    """Leave-one-corpus-out rows for one class set (``"4"`` or ``"canonical"``) and model.
    ``on_test(held, classes, gold, proba)``, if given, receives each seed's held-out
    probabilities (e.g. to calibrate fusion temperatures on corpora a head never saw)."""
    spec = MODELS[model]
    X = speaker_norm(d.X, d.speaker) if spec["spk"] else d.X
    Xa = [speaker_norm(A, d.speaker) if spec["spk"] else A for A in d.X_aug]
    n_seeds = spec["seeds"] or seeds
    rows = []
    corpora = sorted(set(d.corpus), key=list(CORPORA).index)
    for held in corpora:
        keep = d.canon != ""
        if classes == "4":
            keep &= np.isin(d.canon, FOUR)
        train_all = keep & (d.corpus != held)
        known = set(d.canon[train_all])
        test = keep & (d.corpus == held) & np.isin(d.canon, list(known))
        if not test.any():
            continue
        res = defaultdict(list)
        shares_all = []
        for seed in range(n_seeds):
            valid = _valid_mask(d, train_all, seed)
            train = train_all & ~valid
            assert not set(d.speaker[train]) & set(d.speaker[test]), "speaker leak"
            assert not set(d.speaker[valid]) & set(d.speaker[test]), "speaker leak"
            w = cell_weights(d.corpus[train_all], d.canon[train_all])
            wmap = dict(zip(np.flatnonzero(train_all), w))
            wt = np.array([wmap[i] for i in np.flatnonzero(train)])
            wv = np.array([wmap[i] for i in np.flatnonzero(valid)])
            Xt, yt = X[train], d.canon[train]
            if Xa:  # augmented copies of the training rows; the total weight stays the same
                Xt = np.concatenate([Xt] + [A[train] for A in Xa])
                yt = np.concatenate([yt] * (1 + len(Xa)))
                wt = np.concatenate([wt] * (1 + len(Xa))) / (1 + len(Xa))
            head = make_head(spec["head"]).fit(Xt, yt, wt, X[valid],
                                               d.canon[valid], wv, seed=seed)
            pred = head.predict(X[test])
            if on_test is not None:
                on_test(held, [str(c) for c in head.classes_], d.canon[test],
                        head.predict_proba(X[test]))
            gold = d.canon[test]
            res["UA"].append(ua(gold, pred))
            res["macro_f1"].append(macro_f1(gold, pred))
            shares_all.append(Counter(pred))
        n = int(test.sum())
        pred_shares = {c: round(sum(s[c] for s in shares_all) / (n * n_seeds), 4)
                       for c in sorted(known)}
        gold_shares = {c: round(v / n, 4) for c, v in sorted(Counter(d.canon[test]).items())}
        rows.append({
            "table": f"loco-{classes}", "model": model, "held_out": held,
            "train": [c for c in corpora if c != held], "classes": sorted(known),
            "n_test": n, "UA": _summ(res["UA"]), "macro_f1": _summ(res["macro_f1"]),
            "pred_shares": pred_shares, "gold_shares": gold_shares,
            "pred_max": max(pred_shares.values()),
        })
    return rows


def in_domain_split(d: Data, corpus: str):
    from affectkit.data import leave_one_speaker_out, speaker_kfold

    utts = [u for u in d.utts if u.corpus == corpus]
    if corpus == "ravdess":
        return speaker_kfold(utts, 6)
    if corpus == "urdu":
        return speaker_kfold(utts, 5)
    return leave_one_speaker_out(utts)  # emodb, emovo, tess (2 speakers: train one, test other)


def in_domain(d: Data, corpus: str, model: str, seeds: int) -> dict:
    spec = MODELS[model]
    m = d.corpus == corpus
    X = speaker_norm(d.X, d.speaker) if spec["spk"] else d.X
    pos = {i: k for k, i in enumerate(d.ids)}
    split = in_domain_split(d, corpus)
    split.check([u for u in d.utts if u.corpus == corpus])
    n_seeds = spec["seeds"] or seeds
    uas, f1s = [], []
    for fold in split.folds:
        tr = np.array([pos[i] for i in fold.train])
        va = np.array([pos[i] for i in fold.valid], int)
        te = np.array([pos[i] for i in fold.test])
        assert not set(d.speaker[tr]) & set(d.speaker[te]), "speaker leak"
        y = d.label
        w_all = cell_weights(d.corpus[np.concatenate([tr, va])], y[np.concatenate([tr, va])])
        wt, wv = w_all[: len(tr)], w_all[len(tr):]
        for seed in range(n_seeds):
            head = make_head(spec["head"]).fit(X[tr], y[tr], wt, X[va], y[va], wv, seed=seed)
            pred = head.predict(X[te])
            uas.append(ua(y[te], pred))
            f1s.append(macro_f1(y[te], pred))
    assert m.any()
    return {"table": "in-domain", "model": model, "corpus": corpus, "protocol": split.protocol,
            "folds": len(split.folds), "seeds": n_seeds, "classes": sorted(set(d.label[m])),
            "UA": _summ(uas), "macro_f1": _summ(f1s), "goal_UA": GOALS.get(corpus)}


# -- entry point ---------------------------------------------------------------------------------
def _fmt(s):
    return f"{s['mean']:.1f} ± {s['sd']:.1f}"


def render(rows: list[dict]) -> str:
    out = []
    for table, title in (("loco-4", "Leave one corpus out — 4 classes (neutral, happy, sad, "
                          "angry)"),
                         ("loco-canonical", "Leave one corpus out — canonical classes known "
                          "to the training corpora")):
        rs = [r for r in rows if r["table"] == table]
        if not rs:
            continue
        out += [f"#### {title}", "",
                "| model | held out | classes | n | UA | macro-F1 | pred max | predicted shares |",
                "|---|---|---|---|---|---|---|---|"]
        for r in rs:
            sh = ", ".join(f"{k} {100 * v:.0f}" for k, v in r["pred_shares"].items() if v > 0)
            out.append(f"| {r['model']} | {r['held_out']} | {len(r['classes'])} | {r['n_test']} "
                       f"| {_fmt(r['UA'])} | {_fmt(r['macro_f1'])} | "
                       f"{100 * r['pred_max']:.0f} | {sh} |")
        out.append("")
        models = sorted({r["model"] for r in rs}, key=list(MODELS).index)
        out.append("Mean UA over held-out corpora: " + "; ".join(
            f"{m}: {np.mean([r['UA']['mean'] for r in rs if r['model'] == m]):.1f}"
            for m in models) + (f" (goal ≥ {LOCO_GOAL:.0f})" if table == "loco-4" else ""))
        out.append("")
    rs = [r for r in rows if r["table"] == "in-domain"]
    if rs:
        out += ["#### In-domain, speaker-independent (each corpus's own labels)", "",
                "| model | corpus | classes | protocol | seeds × folds | UA | macro-F1 | goal |",
                "|---|---|---|---|---|---|---|---|"]
        for r in rs:
            g = f"≥ {r['goal_UA']:.0f}" if r["goal_UA"] else ""
            out.append(f"| {r['model']} | {r['corpus']} | {len(r['classes'])} | "
                       f"{r['protocol'].split(':')[0]} | {r['seeds']} × {r['folds']} | "
                       f"{_fmt(r['UA'])} | {_fmt(r['macro_f1'])} | {g} |")
        out.append("")
    return "\n".join(out)


def _rows(d: Data, seeds: int, models, progress: bool, label: str,
          four_only: bool = False, loco_only: bool = False) -> list[dict]:
    corpora = sorted(set(d.corpus), key=list(CORPORA).index)
    jobs = ([("loco", cls, m) for cls in ("4", "canonical") for m in models]
            + [("in", c, m) for c in corpora for m in models
               if not (c == "urdu" and MODELS[m]["spk"])])
    if four_only:  # the items of the other classes were never loaded
        jobs = [j for j in jobs if j[:2] == ("loco", "4")]
    if loco_only:
        jobs = [j for j in jobs if j[0] == "loco"]
    if len(corpora) < 2:
        jobs = [j for j in jobs if j[0] == "in"]
    rows: list[dict] = []
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"generalise audio ({label})", total=len(jobs))
        for kind, what, m in jobs:
            if kind == "loco":
                rows.extend(loco(d, what, m, seeds))
            else:
                rows.append(in_domain(d, what, m, seeds))
            bar.advance(task)
    return rows


def _subset(d: Data, ids: list[str]) -> Data:
    pos = {i: k for k, i in enumerate(d.ids)}
    ix = np.array([pos[i] for i in ids], int)
    return Data(ids=list(ids), corpus=d.corpus[ix], speaker=d.speaker[ix], label=d.label[ix],
                canon=d.canon[ix], X=d.X[ix], utts=[d.utts[k] for k in ix],
                X_aug=tuple(A[ix] for A in d.X_aug))


def _key(r: dict) -> tuple:
    return (r["table"], r["model"], r.get("held_out") or r.get("corpus"))


def paired(rows_a: list[dict], rows_b: list[dict], name_a: str, name_b: str) -> list[dict]:
    """Paired UA differences ``a − b`` (percentage points) of rows run on the same items,
    seeds and folds. In-domain: over the seeds × folds of one corpus. Leave-one-corpus-out:
    over the held-out corpora (one value each: the mean over seeds). ``verdict``: ``a``/``b``
    when the 95 % t-interval of the mean difference excludes 0, else ``tie``."""
    from scipy import stats

    def verdict(diff):
        diff = np.asarray(diff, float)
        if len(diff) < 2 or np.allclose(diff, diff[0]) and diff[0] == 0:
            return "tie", None
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        half = float(stats.t.ppf(0.975, len(diff) - 1) * se) if se > 0 else 0.0
        m = float(diff.mean())
        return (name_a if m - half > 0 else name_b if m + half < 0 else "tie"), half

    b_by = {_key(r): r for r in rows_b}
    out = []
    for r in rows_a:
        o = b_by.get(_key(r))
        if o is None or r["table"] != "in-domain":
            continue
        diff = np.asarray(r["UA"]["values"]) - np.asarray(o["UA"]["values"])
        v, half = verdict(diff)
        out.append({"table": "in-domain", "model": r["model"], "corpus": r["corpus"],
                    "n_pairs": len(diff), "UA_a": r["UA"]["mean"], "UA_b": o["UA"]["mean"],
                    "diff_mean": float(diff.mean()),
                    "diff_sd": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
                    "ci95_half": half, "wins_a": int((diff > 0).sum()),
                    "wins_b": int((diff < 0).sum()), "verdict": v})
    for table in ("loco-4", "loco-canonical"):
        for m in dict.fromkeys(r["model"] for r in rows_a if r["table"] == table):
            pa = [r for r in rows_a if r["table"] == table and r["model"] == m]
            pairs = [(r, b_by[_key(r)]) for r in pa if _key(r) in b_by]
            if not pairs:
                continue
            diff = np.array([a["UA"]["mean"] - b["UA"]["mean"] for a, b in pairs])
            v, half = verdict(diff)
            out.append({"table": table, "model": m, "corpus": "mean over held-out corpora",
                        "n_pairs": len(diff),
                        "UA_a": float(np.mean([a["UA"]["mean"] for a, _ in pairs])),
                        "UA_b": float(np.mean([b["UA"]["mean"] for _, b in pairs])),
                        "per_corpus_diff": {a["held_out"]: round(float(x), 2)
                                            for (a, _), x in zip(pairs, diff)},
                        "pred_max_a": max(a["pred_max"] for a, _ in pairs),
                        "pred_max_b": max(b["pred_max"] for _, b in pairs),
                        "diff_mean": float(diff.mean()),
                        "diff_sd": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
                        "ci95_half": half, "wins_a": int((diff > 0).sum()),
                        "wins_b": int((diff < 0).sum()), "verdict": v})
    return out


def render_paired(pairs: list[dict], name_a: str, name_b: str) -> str:
    out = [f"#### Paired difference: {name_a} − {name_b} (UA points, same items, seeds, folds)",
           "", f"| table | model | corpus | pairs | {name_a} | {name_b} | diff mean ± sd | "
           "95 % CI half-width | wins a/b | verdict |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in pairs:
        ci = "—" if r["ci95_half"] is None else f"{r['ci95_half']:.1f}"
        out.append(f"| {r['table']} | {r['model']} | {r['corpus']} | {r['n_pairs']} | "
                   f"{r['UA_a']:.1f} | {r['UA_b']:.1f} | {r['diff_mean']:+.1f} ± "
                   f"{r['diff_sd']:.1f} | {ci} | {r['wins_a']}/{r['wins_b']} | {r['verdict']} |")
    return "\n".join(out + [""])


def run(*, seeds: int = 3, quick: bool = False, progress: bool = True,
        feature: str = FEATURE, corpora=CORPORA, models=None, four_only: bool = False,
        cap: int | None = None, augment: int = 0) -> dict:
    """All three tables (see the module docstring).

    ``feature`` other than ``audio.whisper`` (e.g. ``audio.whisper_pad30``): the same tables
    for that feature *and* for ``audio.whisper`` on exactly the same items (those both
    features have), with the same seeds and folds, plus their paired differences.
    ``corpora``: a subset of :data:`CORPORA` (the leave-one-corpus-out tables then cover
    only those). ``models``: a subset of :data:`MODELS` names (default all).
    ``four_only``: only the 4-class leave-one-corpus-out table, on the items of those classes;
    ``cap``: at most that many items per (speaker, class) cell (see :func:`load`).
    ``augment`` K > 0: the leave-one-corpus-out tables trained with K augmented copies of every
    training item (validation and test stay clean) *and* without, on the same items, seeds and
    validation groups, with their paired differences (one comparison at a time: not with
    another ``feature``).
    """
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    corpora = tuple(corpora)
    bad = [c for c in corpora if c not in CORPORA]
    if bad:
        raise ConfigError(f"corpora: unknown {bad}; choose from {', '.join(CORPORA)}")
    models = [MODEL_ALIASES.get(m, m) for m in (models or MODELS)]
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise ConfigError(f"models: unknown {bad}; choose from {', '.join(MODEL_ALIASES)} "
                          f"or {list(MODELS)}")
    if augment < 0:
        raise ConfigError(f"augment must be ≥ 0, got {augment}")
    if augment and feature != FEATURE:
        raise ConfigError("augment compares augmented with clean training on one feature; "
                          "run it without --feature (or compare features without --augment)")
    sel = dict(four_only=four_only, cap=cap)
    d = load(corpora, feature, quick=quick, progress=progress, augment=augment, **sel)
    res: dict = {}
    if augment:
        name = f"{feature} + {augment} augmented cop{'y' if augment == 1 else 'ies'}"
        rows = [dict(r, feature=name, augment=augment)
                for r in _rows(d, seeds, models, progress, name, four_only, loco_only=True)]
        clean = dataclasses.replace(d, X_aug=())
        rows_b = [dict(r, feature=feature, augment=0)
                  for r in _rows(clean, seeds, models, progress, feature, four_only,
                                 loco_only=True)]
        pairs = paired(rows, rows_b, name, feature)
        md = (f"### Training with augmentation: {name}\n\n{render(rows)}\n### Without "
              f"augmentation (same items, seeds, validation groups)\n\n{render(rows_b)}\n"
              f"{render_paired(pairs, name, feature)}")
        res = {"baseline_feature": feature, "baseline_rows": rows_b, "paired": pairs}
    elif feature != FEATURE:
        base = load(corpora, FEATURE, quick=quick, progress=progress, **sel)
        common = [i for i in d.ids if i in set(base.ids)]
        d, base = _subset(d, common), _subset(base, common)
        rows = [dict(r, feature=feature)
                for r in _rows(d, seeds, models, progress, feature, four_only)]
        rows_b = [dict(r, feature=FEATURE)
                  for r in _rows(base, seeds, models, progress, FEATURE, four_only)]
        pairs = paired(rows, rows_b, feature, FEATURE)
        md = (f"### Features: {feature}\n\n{render(rows)}\n### Features: {FEATURE} (same "
              f"items, seeds, folds)\n\n{render(rows_b)}\n{render_paired(pairs, feature, FEATURE)}")
        res = {"baseline_feature": FEATURE, "baseline_rows": rows_b, "paired": pairs}
    else:
        rows = [dict(r, feature=feature)
                for r in _rows(d, seeds, models, progress, feature, four_only)]
        md = render(rows)
    doc = __doc__ or ""
    protocol = doc[doc.index("Three tables"):].strip()
    return {"protocol": protocol, "feature": feature, "corpora": list(corpora),
            "models": models, "four_only": four_only, "cap": cap, "augment": augment,
            "n_items": len(d.ids),
            "items_per_corpus": dict(Counter(d.corpus.tolist())),
            "seconds": round(time.perf_counter() - t0, 1), "rows": rows, **res,
            "markdown": md}
