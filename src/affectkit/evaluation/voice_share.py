"""Exploration for issue 11's "no class above 40 % on a held-out corpus" bound (single-clip
voice head): ``python -m affectkit.evaluation.voice_share`` → ``benchmarks/results/voice_share.json``.

Protocol: the leave-one-corpus-out 4-class table of :mod:`.generalise_audio` (same features,
same LR head, same (corpus, class)-balanced weights, C chosen on speaker-disjoint validation
parts of the *training* corpora, 1 seed: LR is deterministic), for input variants that a
single clip can use (no test-corpus statistics):

* ``plain``: ``audio.whisper`` as shipped (mean ‖ std of the encoder frames);
* ``clip norm``: each 1024-d vector z-scored over its own dimensions, separately for the mean
  half and the std half (removes a clip's global offset and scale, e.g. channel gain/colour,
  without any other clip);
* ``mean half only``: the 512-d frame mean, z-scored over its dimensions.

Reported per held-out corpus: UA and the largest predicted-class share (``pred max``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from affectkit.evaluation import generalise_audio as ga


def clip_norm(X: np.ndarray) -> np.ndarray:
    h = X.shape[1] // 2
    parts = [X[:, :h], X[:, h:]]
    return np.concatenate([(p - p.mean(1, keepdims=True)) / (p.std(1, keepdims=True) + 1e-6)
                           for p in parts], axis=1)


def mean_half(X: np.ndarray) -> np.ndarray:
    m = X[:, : X.shape[1] // 2]
    return (m - m.mean(1, keepdims=True)) / (m.std(1, keepdims=True) + 1e-6)


VARIANTS = {"plain": lambda X: X, "clip norm": clip_norm, "mean half only": mean_half}


def run() -> dict:
    from dataclasses import replace

    d = ga.load(progress=False)
    out = {"date": time.strftime("%Y-%m-%d"), "protocol": __doc__.split("\n\n", 1)[1].strip(),
           "rows": []}
    for name, fn in VARIANTS.items():
        dv = replace(d, X=fn(d.X.astype(np.float64)).astype(np.float32))
        for r in ga.loco(dv, "4", "whisper-base + LR", seeds=1):
            out["rows"].append({"variant": name, "held_out": r["held_out"],
                                "UA": r["UA"]["mean"], "pred_max": r["pred_max"],
                                "pred_shares": r["pred_shares"]})
            print(name, r["held_out"], round(r["UA"]["mean"], 1), r["pred_max"], flush=True)
    return out


if __name__ == "__main__":
    res = run()
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/voice_share.json").write_text(json.dumps(res, indent=1))
