"""Training and export of the shipped voice model on Whisper encoder features (issue 11).

The protocol is the leave-one-corpus-out one of :mod:`affectkit.evaluation.generalise_audio`;
:mod:`affectkit.analysis.voice_whisper` runs the exported heads (inference only).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from pathlib import Path

import numpy as np

from affectkit.analysis.voice_whisper import ADAPT_MIN, FEATURE, FOLDER_NAME
from affectkit.errors import ConfigError


def train_head(X: np.ndarray, y: np.ndarray, corpus: np.ndarray, speaker: np.ndarray, *,
               head: str = "lr", seed: int = 0, X_aug: tuple = ()):
    """Fit the shipped head on (X, y) with (corpus, class)-balanced weights; hyper-parameter
    chosen on one speaker group per corpus (see the module doc). ``X_aug``: augmented copies
    of X's rows, added to the training rows only (the total weight unchanged), as in
    :func:`affectkit.evaluation.generalise_audio.loco`. Returns (head, valid UA)."""
    from affectkit.evaluation import generalise_audio as ga

    class _D:  # the minimal view _valid_mask needs
        pass

    d = _D()
    d.ids, d.corpus, d.speaker = list(range(len(y))), corpus, speaker
    allm = np.ones(len(y), bool)
    valid = ga._valid_mask(d, allm, seed)
    train = ~valid
    w = ga.cell_weights(corpus, y)
    k = 1 + len(X_aug)

    def rows(m):
        return (np.concatenate([X[m]] + [A[m] for A in X_aug]), np.concatenate([y[m]] * k),
                np.concatenate([w[m]] * k) / k)

    h = ga.make_head(head).fit(*rows(train), X[valid], y[valid], w[valid], seed=seed)
    valid_ua = float(getattr(h, "valid_ua", float("nan")))
    if head == "mlp":  # refit on everything for the chosen number of epochs
        h2 = ga.MLPHead(epochs=h.best_epoch).fit(*rows(allm), seed=seed)
        h = h2
    return h, valid_ua


def export(h, dest: Path, meta: dict, name: str = "head") -> Path:
    """Write ``<name>.safetensors`` + ``model.json`` for an :class:`LRHead` or :class:`MLPHead`."""
    from safetensors.numpy import save_file

    from affectkit.evaluation.generalise_audio import LRHead

    dest.mkdir(parents=True, exist_ok=True)
    if isinstance(h, LRHead):
        sc, lr = h.model[0], h.model[-1]
        labels = [str(c) for c in lr.classes_]
        W, b = lr.coef_, lr.intercept_
        if W.shape[0] == 1:  # binary: sklearn keeps one row
            W, b = np.vstack([-W, W]) / 2, np.array([-b[0], b[0]]) / 2
        tensors = {"mu": sc.mean_, "sd": sc.scale_, "W1": W, "b1": b}
        kind = "logistic-regression"
    else:
        sd = {k: v.detach().numpy() for k, v in h.net.state_dict().items()}
        labels = [str(c) for c in h.classes_]
        tensors = {"mu": h.mu, "sd": h.sd, "W1": sd["0.weight"], "b1": sd["0.bias"],
                   "W2": sd["3.weight"], "b2": sd["3.bias"]}
        kind = "mlp-256-gelu"
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()},
              str(dest / f"{name}.safetensors"))
    mj = dest / "model.json"
    info = json.loads(mj.read_text()) if name != "head" and mj.is_file() else {}
    if name == "head":
        info = {"labels": labels, "head": kind, **meta}
    else:
        if info.get("labels") != labels:
            raise ConfigError(f"{name}: labels {labels} differ from head's {info.get('labels')}")
        info[name] = {"head": kind, **meta}
    mj.write_text(json.dumps(info, indent=1, default=str))
    return dest


def build(dest: str | Path | None = None, *, head: str = "lr", seed: int = 0,
          progress: bool = True, feature: str = FEATURE, augment: int = 0) -> dict:
    """Train the shipped voice model on all shared speech corpora and export it.
    ``feature``: ``audio.whisper`` (default) or ``audio.whisper_pad30``; ``augment``: K
    augmented copies of every clip as extra training rows."""
    from affectkit.analysis.predictors import DEFAULTS_DIR
    from affectkit.evaluation import generalise_audio as ga
    from affectkit.features import get_extractor

    dest = Path(dest) if dest is not None else DEFAULTS_DIR / FOLDER_NAME
    if feature not in (FEATURE, "audio.whisper_pad30"):
        raise ConfigError(f"feature must be {FEATURE} or audio.whisper_pad30, got {feature!r}")
    d = ga.load(feature=feature, progress=progress, augment=augment)
    keep = d.canon != ""
    X, y = d.X[keep], d.canon[keep]
    aug = tuple(A[keep] for A in d.X_aug)
    h, valid_ua = train_head(X, y, d.corpus[keep], d.speaker[keep], head=head, seed=seed,
                             X_aug=aug)
    Xs = ga.speaker_norm(d.X, d.speaker)[keep]  # each speaker z-scored over all its clips
    aug_s = tuple(ga.speaker_norm(A, d.speaker)[keep] for A in d.X_aug)
    ha, valid_ua_a = train_head(Xs, y, d.corpus[keep], d.speaker[keep], head=head, seed=seed,
                                X_aug=aug_s)
    ext = get_extractor(feature)
    meta = {
        "extractor": feature,
        "extractor_params": {k: v for k, v in ext.params().items() if k != "device"},
        "extractor_signature": ext.signature(),
        "model_version": ext.model_version,
        "trained_on": {c: int(n) for c, n in Counter(d.corpus[keep].tolist()).items()},
        "class_counts": {c: int(n) for c, n in sorted(Counter(y.tolist()).items())},
        "label_maps": {"ravdess": "calm → neutral", "tess": "ps → surprised",
                       "emodb": "boredom left out"},
        "selection": "hyper-parameter on one held-out speaker group per corpus (20 % of TESS "
                     "items); weights balance every (corpus, class) cell",
        "C": getattr(h, "C", None), "epochs": getattr(h, "best_epoch", None),
        "valid_ua": round(valid_ua, 4), "seed": seed, "augment": augment,
        "cross_corpus": "benchmarks/results/generalise-audio.md (leave-one-corpus-out)",
        "built": _dt.date.today().isoformat(),
    }
    export(h, dest, meta)
    export(ha, dest, {"C": getattr(ha, "C", None), "epochs": getattr(ha, "best_epoch", None),
                      "valid_ua": round(valid_ua_a, 4), "adapt_min": ADAPT_MIN,
                      "input": "features z-scored per speaker (training) / per call (inference)"},
           name="head_adapted")
    return {"dest": str(dest), **meta, "labels": [str(c) for c in h.classes_],
            "adapted_valid_ua": round(valid_ua_a, 4)}
