"""Cross-corpus check of the shipped text valence/arousal head (EmoBank-trained).

The head (:mod:`affectkit.analysis.text_dimensions`, built by ``affect defaults build --only
text_dimensions``) never saw MOSI or MOSEI. Their sentiment labels (−3…3, mean of annotators)
are a valence rating of the spoken sentence, so the head's valence should track them:

* ``corr`` / ``ccc``: Pearson and concordance correlation of predicted valence (−1…1) with
  sentiment / 3 (also −1…1) on each corpus's official **test** split;
* ``non0_acc2``: sign agreement on items with non-zero sentiment (MOSI's Non0 Acc-2 rule,
  threshold 0 on the head's valence, fixed a priori, not tuned).

Arousal has no label in either corpus and is not scored here. EmoBank's own test CCC is read
from the shipped ``inference.json`` (written by the build, selection on EmoBank dev).

Usage::

    python -m affectkit.evaluation.text_dimensions --out benchmarks/results/text-dimensions
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

CORPORA = ("mosi", "mosei")


def score_corpus(head, corpus: str) -> dict:
    from affectkit import metrics as M
    from affectkit.data.base import load_corpus
    from affectkit.features.provider import get_features

    utts = [u for u in load_corpus(corpus).utterances
            if u.split == "test" and u.sentiment is not None and (u.text or "").strip()]
    res = get_features(head.run.extractor_name, utts, progress=False)
    utts = [u for u in utts if u.id in res.values]
    X = np.stack([res.values[u.id] for u in utts])
    v = head.from_features(X)["valence"]
    s = np.asarray([u.sentiment for u in utts], float) / 3.0
    nz = s != 0
    return {"corpus": corpus, "split": "test", "n": len(utts),
            "corr": float(M.pearson(s, v)), "ccc": float(M.ccc(s, v)),
            "non0_acc2": float(np.mean((v[nz] > 0) == (s[nz] > 0))), "n_non0": int(nz.sum()),
            "mean_valence": float(v.mean()), "mean_label": float(s.mean())}


def main(argv: list[str] | None = None) -> dict:
    from affectkit.analysis.text_dimensions import FOLDER, DimensionalHead

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--head", type=Path, default=FOLDER)
    ap.add_argument("--out", type=Path, help="write OUT.json")
    a = ap.parse_args(argv)
    head = DimensionalHead(a.head)
    info = head.run.info
    res = {"head": str(a.head), "emobank_test": info.get("test"), "emobank_valid": info.get(
        "valid"), "built": info.get("built"), "cross_corpus": [score_corpus(head, c)
                                                                for c in CORPORA],
           "date": date.today().isoformat(),
           "command": "python -m affectkit.evaluation.text_dimensions " + " ".join(argv or [])}
    for r in res["cross_corpus"]:
        print(f"{r['corpus']:6s} test n={r['n']}: corr {r['corr']:.3f}  ccc {r['ccc']:.3f}  "
              f"non0 acc2 {r['non0_acc2']:.3f}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
    return res


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
