"""Pooling of the Whisper encoder frames for voice emotion (issue 11):
``python -m affectkit.evaluation.voice_pooling [corpora …]`` →
``benchmarks/results/voice_pooling.{json,md}``.

Protocol: the in-domain, speaker-independent protocols of :mod:`.generalise_audio` (RAVDESS 8
classes in 6 actor folds, EmoDB 7 classes LOSO, EMOVO 7 classes LOSO; each fold's validation
speaker group chosen by :mod:`affectkit.data.splits`, never a test speaker; every fold asserted
speaker-disjoint), on ``audio.whisper_frames`` (Whisper base encoder, 50 Hz, 512-d,
loudness-normalised input, not padded). Heads, all with (corpus, class)-balanced weights and
selection on the fold's validation part only:

* ``mean‖std + LR``: the shipped pooling (this equals ``audio.whisper``), LR with C chosen on
  validation UA, then refit on train + validation (:class:`.generalise_audio.LRHead`);
* ``mean‖std‖max + LR``: the per-dimension maximum over frames added (1536-d), same LR;
* ``attentive + linear``: frames averaged in groups of 4 (12.5 Hz, for CPU time), standardised
  with the training frames' statistics, a learned score per frame (``Linear(512, 1)``), softmax
  over the clip's frames, attention-weighted mean and standard deviation (1024-d) → dropout 0.3
  → linear layer; AdamW (lr 3e-3), weighted cross-entropy, the epoch (≤ 20) with the best
  validation UA kept;
* ``… + speaker norm`` (transductive, as the committed speaker-norm rows): LR rows z-score each
  speaker's pooled vectors with that speaker's own statistics (as :mod:`.generalise_audio`);
  ``mean‖std of speaker-normed frames + LR`` instead z-scores each speaker's *frames* before
  pooling; the attentive head sees speaker-normed frames.

Values: UA in percent, mean ± sd over seeds × folds; paired difference of each head against
``mean‖std + LR`` (with / without speaker norm) on the same folds, with a 95 % t-interval
(verdict "tie" when it includes 0).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from affectkit.evaluation import generalise_audio as ga

CORPORA = ("emodb", "emovo", "ravdess")
FRAMES = "audio.whisper_frames"
EPOCHS = 20
SEEDS = 1
DOWNSAMPLE = 4  # attentive head: mean of 4 frames (80 ms steps) — 4× less compute on one CPU


def load_frames(corpora=CORPORA, progress: bool = False):
    """Utterances and their (T, 512) float32 frames (extracted into the store if missing)."""
    from affectkit.data import load_corpus
    from affectkit.features import FeatureStore, extract, load_features
    from affectkit.types import Modality

    utts = [u for c in corpora for u in load_corpus(c).utterances]
    store = FeatureStore()
    rep = extract(utts, [FRAMES], store, progress=progress)
    bad = {f.item for f in rep.failures}
    utts = [u for u in utts if u.id not in bad]
    frames = load_features(utts, [FRAMES], store)[Modality.AUDIO]
    return utts, [np.asarray(f, np.float32) for f in frames], sorted(bad)


def speaker_frame_norm(frames, speakers):
    """Z-score each speaker's frames with the mean and sd over all that speaker's frames."""
    out = list(frames)
    for s in set(speakers):
        ix = [i for i, t in enumerate(speakers) if t == s]
        st = np.concatenate([frames[i] for i in ix])
        mu, sd = st.mean(0), st.std(0) + 1e-6
        for i in ix:
            out[i] = ((frames[i] - mu) / sd).astype(np.float32)
    return out


def pool(frames, how: str) -> np.ndarray:
    parts = [np.stack([f.mean(0) for f in frames]), np.stack([f.std(0) for f in frames])]
    if how == "msm":
        parts.append(np.stack([f.max(0) for f in frames]))
    return np.concatenate(parts, axis=1).astype(np.float32)


class AttentiveHead:
    """Attentive statistics pooling over frames + linear classifier (see module doc)."""

    def __init__(self, epochs: int = EPOCHS, lr: float = 3e-3, weight_decay: float = 1e-2,
                 dropout: float = 0.3, batch: int = 32) -> None:
        self.epochs, self.lr, self.wd, self.dropout, self.batch = epochs, lr, weight_decay, \
            dropout, batch

    def _net(self, d: int, k: int):
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(s, drop):
                super().__init__()
                s.score = nn.Linear(d, 1)
                s.drop = nn.Dropout(drop)
                s.out = nn.Linear(2 * d, k)

            def forward(s, x, mask):  # x (B, T, d), mask (B, T) True = real frame
                a = s.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
                w = torch.softmax(a, dim=1).unsqueeze(-1)
                mu = (w * x).sum(1)
                sd = ((w * (x - mu.unsqueeze(1)) ** 2).sum(1) + 1e-5).sqrt()
                return s.out(s.drop(torch.cat([mu, sd], dim=1)))

        return Net(self.dropout)

    def _batches(self, frames, order):
        """Padded, standardised (index, x, mask) batches of consecutive ``order`` items."""
        import torch

        out = []
        for i in range(0, len(order), self.batch):
            ix = list(order[i:i + self.batch])
            T = max(len(frames[j]) for j in ix)
            x = np.zeros((len(ix), T, frames[ix[0]].shape[1]), np.float32)
            m = np.zeros((len(ix), T), bool)
            for r, j in enumerate(ix):
                f = (frames[j] - self.mu) / self.sd
                x[r, :len(f)] = f
                m[r, :len(f)] = True
            out.append((torch.as_tensor(ix), torch.from_numpy(x), torch.from_numpy(m)))
        return out

    def fit(self, frames, y, w, fv, yv, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.classes_ = sorted(set(y))
        idx = {c: i for i, c in enumerate(self.classes_)}
        st = np.concatenate(frames)
        self.mu, self.sd = st.mean(0), st.std(0) + 1e-6
        yt = torch.tensor([idx[c] for c in y])
        wt = torch.from_numpy(np.asarray(w, np.float32))
        net = self._net(st.shape[1], len(self.classes_))
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.wd)
        # batches of similar length (less padding), built once, visited in random order
        batches = self._batches(frames, np.argsort([len(f) for f in frames], kind="stable"))
        vb = self._batches(fv, np.argsort([len(f) for f in fv], kind="stable"))
        best, best_state, best_ep = -1.0, None, 0
        for ep in range(self.epochs):
            net.train()
            for c in rng.permutation(len(batches)):
                b, x, m = batches[c]
                loss = (torch.nn.functional.cross_entropy(net(x, m), yt[b], reduction="none")
                        * wt[b]).sum() / wt[b].sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.net = net.eval()
            s = ga.ua(yv, self._predict(vb, len(fv)))
            if s > best:
                best, best_ep = s, ep + 1
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
        net.load_state_dict(best_state)
        self.valid_ua, self.best_epoch = best, best_ep
        self.net = net.eval()
        return self

    def _predict(self, batches, n):
        import torch

        out = np.empty(n, dtype=object)
        with torch.no_grad():
            for ix, x, m in batches:
                out[ix.numpy()] = np.array(self.classes_)[self.net(x, m).argmax(1).numpy()]
        return out.astype(str)

    def predict(self, frames):
        return self._predict(self._batches(frames, np.argsort([len(f) for f in frames],
                                                              kind="stable")), len(frames))


def downsample(f: np.ndarray, k: int = DOWNSAMPLE) -> np.ndarray:
    """Mean of each ``k`` consecutive frames (the last group may be shorter)."""
    n = -(-len(f) // k)
    pad = n * k - len(f)
    g = np.concatenate([f, np.repeat(f[-1:], pad, 0)]) if pad else f
    return g.reshape(n, k, f.shape[1]).mean(1).astype(np.float32)


HEADS = ("mean‖std + LR", "mean‖std‖max + LR", "mean‖std of speaker-normed frames + LR",
         "attentive + linear")


def run(corpora=CORPORA, seeds: int = SEEDS, epochs: int = EPOCHS, heads=HEADS,
        progress: bool = True) -> dict:
    import torch
    from rich.progress import Progress

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    utts, frames, failed = load_frames(corpora, progress)
    speakers = [f"{u.corpus}/{u.speaker}" for u in utts]
    labels = np.array([u.emotion for u in utts])
    corp = np.array([u.corpus for u in utts])
    pos = {u.id: i for i, u in enumerate(utts)}
    normed = speaker_frame_norm(frames, speakers)
    sp = np.array(speakers)
    pooled = {}
    for h in heads:
        if "LR" in h:
            how = "msm" if "max" in h else "ms"
            if "speaker-normed frames" in h:
                pooled[(h, True)] = pool(normed, how)
            else:
                pooled[(h, False)] = pool(frames, how)
                pooled[(h, True)] = ga.speaker_norm(pooled[(h, False)], sp)
    if any("attentive" in h for h in heads):
        frames = [downsample(f) for f in frames]
        normed = [downsample(f) for f in normed]
    rows = []
    d = ga.Data(ids=[u.id for u in utts], corpus=corp, speaker=np.array(speakers),
                label=labels, canon=labels, X=np.zeros((len(utts), 1), np.float32), utts=utts)
    jobs = [(c, h, spk) for c in corpora for h in heads for spk in (False, True)
            if not ("speaker-normed frames" in h and not spk)]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("voice pooling", total=len(jobs))
        for c, h, spk in jobs:
            split = ga.in_domain_split(d, c)
            split.check([u for u in utts if u.corpus == c])
            n_seeds = seeds if "attentive" in h else 1  # LR is deterministic
            uas, info = [], []
            for fold in split.folds:
                tr = np.array([pos[i] for i in fold.train])
                va = np.array([pos[i] for i in fold.valid], int)
                te = np.array([pos[i] for i in fold.test])
                assert not set(d.speaker[tr]) & set(d.speaker[te]), "speaker leak"
                assert not set(d.speaker[va]) & set(d.speaker[te]), "speaker leak"
                w_all = ga.cell_weights(corp[np.concatenate([tr, va])],
                                        labels[np.concatenate([tr, va])])
                wt, wv = w_all[: len(tr)], w_all[len(tr):]
                for seed in range(n_seeds):
                    if "LR" in h:
                        X = pooled[(h, spk)]
                        m = ga.LRHead().fit(X[tr], labels[tr], wt, X[va], labels[va], wv)
                        pred = m.predict(X[te])
                        info.append({"C": m.C})
                    else:
                        F = normed if spk else frames
                        m = AttentiveHead(epochs=epochs).fit(
                            [F[i] for i in tr], labels[tr], wt, [F[i] for i in va], labels[va],
                            seed=seed)
                        pred = m.predict([F[i] for i in te])
                        info.append({"epoch": m.best_epoch})
                    uas.append(ga.ua(labels[te], pred))
            rows.append({"corpus": c, "head": h, "speaker_norm": spk,
                         "protocol": split.protocol, "folds": len(split.folds),
                         "seeds": n_seeds, "UA": ga._summ(uas), "selected": info,
                         "goal_UA": ga.GOALS.get(c)})
            print(c, h, spk, round(rows[-1]["UA"]["mean"], 1), flush=True)
            bar.advance(task)
    pairs = []
    for r in rows:
        if r["head"] == HEADS[0]:
            continue
        b = next(o for o in rows if o["corpus"] == r["corpus"] and o["head"] == HEADS[0]
                 and o["speaker_norm"] == r["speaker_norm"])
        a_v = np.asarray(r["UA"]["values"]).reshape(r["folds"], r["seeds"]).mean(1)
        b_v = np.asarray(b["UA"]["values"])
        pairs.append(_pair(r, a_v - b_v))
    return {"date": time.strftime("%Y-%m-%d"), "command": "python -m "
            "affectkit.evaluation.voice_pooling " + " ".join(corpora),
            "protocol": (__doc__ or "").split("\n\n", 1)[1].strip(), "feature": FRAMES,
            "epochs": epochs, "seeds_attentive": seeds, "failed_items": failed,
            "items_per_corpus": dict(Counter(corp.tolist())), "rows": rows, "paired": pairs,
            "seconds": round(time.perf_counter() - t0, 1)}


def _pair(r, diff):
    from scipy import stats

    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    half = float(stats.t.ppf(0.975, len(diff) - 1) * se) if len(diff) > 1 else 0.0
    m = float(diff.mean())
    v = "better" if m - half > 0 else "worse" if m + half < 0 else "tie"
    return {"corpus": r["corpus"], "head": r["head"], "speaker_norm": r["speaker_norm"],
            "n_folds": len(diff), "diff_mean": m, "diff_sd": float(diff.std(ddof=1)),
            "ci95_half": half, "verdict": v}


def render(res: dict) -> str:
    out = [f"`{res['command']}` — {res['date']}; attentive head: {res['seeds_attentive']} "
           f"seeds × folds, ≤ {res['epochs']} epochs (chosen on validation)", "",
           "| corpus | head | speaker norm | seeds × folds | UA | diff vs mean‖std + LR "
           "(fold-paired) | verdict | goal |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        p = next((q for q in res["paired"] if q["corpus"] == r["corpus"]
                  and q["head"] == r["head"] and q["speaker_norm"] == r["speaker_norm"]), None)
        dd = (f"{p['diff_mean']:+.1f} ± {p['diff_sd']:.1f} (CI ± {p['ci95_half']:.1f})"
              if p else "—")
        g = f"≥ {r['goal_UA']:.0f}" if r["goal_UA"] else ""
        out.append(f"| {r['corpus']} | {r['head']} | {'yes' if r['speaker_norm'] else 'no'} | "
                   f"{r['seeds']} × {r['folds']} | {ga._fmt(r['UA'])} | {dd} | "
                   f"{p['verdict'] if p else ''} | {g} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    cs = tuple(sys.argv[1:]) or CORPORA
    res = run(cs)
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "voice_pooling.json").write_text(json.dumps(res, indent=1))
    (out / "voice_pooling.md").write_text(render(res))
    print(render(res))
