"""Build, speed and bias commands of the union text emotion heads.

``python -m affectkit.evaluation.text_emotion build [-q] | speed | bias``; the heads they write
are run by :mod:`affectkit.analysis.text_emotion` (inference only).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from affectkit.analysis.text_emotion import (HEADS, HIDDEN, WEIGHTS, LoadedHead,
                                             TextEmotionModel, save_head)
from affectkit.taxonomy import CANONICAL_EMOTIONS


# --- build -----------------------------------------------------------------------------------


def build(out: Path = WEIGHTS, *, seed: int = 0, progress: bool = True) -> dict:
    """Train both heads; returns their validation/test summaries (also in head.json)."""
    import datetime as dt

    import torch

    from affectkit.evaluation import generalise_text as g
    from affectkit.evaluation import multilingual_text as mt

    torch.set_num_threads(1)
    report = {}
    # English union on MiniLM
    pools = g.load_pools(g.CAPS)
    noisy = {c for c, n in g.CORPORA if n}
    parts = {}
    for p in ("train", "valid", "test"):
        items = [u for c in pools for u in pools[c][p]]
        parts[p] = (g.features(items, "text.minilm", progress=progress),
                    np.asarray([u.emotion for u in items]),
                    np.asarray([u.corpus for u in items]))
    classes = tuple(CANONICAL_EMOTIONS)
    best = None
    for hidden in (0, HIDDEN):  # linear or MLP head, chosen on validation like the rest
        for weighting in g.WEIGHTINGS:
            head, vs = g.fit_head(*parts["train"], *parts["valid"], classes, seed=seed,
                                  weighting=weighting, noisy=noisy, hidden=hidden)
            if best is None or vs > best[1]:
                best = (head, vs, hidden)
    head, vs, hidden = best
    X, y, c = parts["test"]
    pred = head.predict(X)
    per_corpus = {}
    for corpus in np.unique(c):
        m = c == corpus
        ks = [k for k in classes if np.any(y[m] == k)]
        per_corpus[str(corpus)] = {"UA": g.ua(y[m], pred[m], ks), "n": int(m.sum()),
                                   "classes": ks}
    en_info = {"encoder": "text.minilm", "valid_score": vs, "seed": seed, "hidden": hidden,
               "built": dt.date.today().isoformat(), "caps": g.CAPS,
               "training_corpora": [c for c, _ in g.CORPORA],
               "in_domain_test_UA": per_corpus,
               "mean_in_domain_test_UA": float(np.mean([v["UA"] for v in per_corpus.values()])),
               "pred_shares_on_union_test": {k: float(np.mean(pred == k)) for k in classes}}
    save_head(head, out / "en_minilm", en_info)
    report["en_minilm"] = en_info
    # multilingual emotion on e5
    mp = mt.load_pools()
    emo = {**{f"xed-{lang}": d for lang, d in mp["xed"].items()},
           **{f"emoevent-{lang}": d for lang, d in mp["emoevent"].items()}}
    parts = {}
    for p in ("train", "valid", "test"):
        items = [u for name in emo for u in emo[name].get(p, [])]
        names = [name for name in emo for _ in emo[name].get(p, [])]
        parts[p] = (g.features(items, "text.e5", progress=progress),
                    np.asarray([u.emotion for u in items]), np.asarray(names))
    head, vs = g.fit_head(*parts["train"], *parts["valid"], classes, seed=seed,
                          weighting="equal", noisy=set())
    X, y, c = parts["test"]
    pred = head.predict(X)
    per = {}
    for name in np.unique(c):
        m = c == name
        ks = [k for k in classes if np.any(y[m] == k)]
        per[str(name)] = {"UA": g.ua(y[m], pred[m], ks), "n": int(m.sum()), "classes": ks}
    multi_info = {"encoder": "text.e5", "valid_score": vs, "seed": seed, "hidden": HIDDEN,
                  "built": dt.date.today().isoformat(), "caps": {"xed/emoevent": mt.CAPS,
                                                                  "en": mt.EN_CAPS},
                  "training_corpora": sorted(emo), "test_UA": per}
    save_head(head, out / "multi_e5", multi_info)
    report["multi_e5"] = multi_info
    return report


def bench_speed(n: int = 1000, *, agreement: bool = True) -> dict:
    """Sentences/s of the routed model (language detection + encoder + head) beside the bare
    MiniLM encoder and the bare detectors, on the same ``n`` MELD test sentences, same run.

    Before/after in one run: ``langid.classify`` (dense, as shipped before) against
    :class:`affectkit.analysis.language.FastLangid` (the same model scored sparsely), the
    routed model with each, and the text-only analyzer (emotion + sentiment heads + fusion).
    ``agreement``: the two detectors' language and confidence on the held-out language-id sets
    (:func:`affectkit.analysis.language.held_out_sets`) and the routing of the MELD lines."""
    import time
    from unittest import mock

    import torch

    from affectkit.analysis import language as L
    from affectkit.analysis.pipeline import Analyzer
    from affectkit.data import load_corpus
    from affectkit.features import get_extractor

    torch.set_num_threads(1)
    texts = [u.text for u in load_corpus("meld").utterances if u.split == "test"][:n]
    model = TextEmotionModel()
    ext = get_extractor("text.minilm")
    analyzer = Analyzer(modalities=["text"])
    dense, fast = L._langid(), L._fast_langid()
    # warm up: both heads (e5 included), both detectors, the analyzer's sentiment head
    model.predict(texts[:16])
    model.predict(["Das ist ein ganz normaler deutscher Satz."] * 2)
    analyzer.analyze_text(texts[:16])
    ext.process_texts(texts[:16])
    dense.classify("warm up")

    def rate(fn) -> float:
        _EMBED_MEMO_CLEAR()
        t = time.perf_counter()
        fn()
        return len(texts) / (time.perf_counter() - t)

    out: dict = {"n": len(texts), "torch_threads": 1}
    out["bare_minilm_per_s"] = rate(lambda: ext.process_texts(texts))
    out["langid_dense_per_s"] = rate(lambda: [dense.classify(x) for x in texts])
    out["langid_fast_per_s"] = rate(lambda: [fast.classify(x) for x in texts])
    with mock.patch.object(L, "_fast_langid", lambda: dense):
        out["routed_model_dense_langid_per_s"] = rate(lambda: model.predict(texts))
        recs_dense = model.predict(texts)
    out["routed_model_per_s"] = rate(lambda: model.predict(texts))
    recs = model.predict(texts)
    out["routed_model_language_given_per_s"] = rate(
        lambda: model.predict(texts, ["en"] * len(texts), lang_source="given"))
    out["analyzer_text_only_per_s"] = rate(lambda: analyzer.analyze_text(texts))
    out["bare_minilm_again_per_s"] = rate(lambda: ext.process_texts(texts))
    out["heads_used"] = {h: sum(r["head"] == h for r in recs) for h in HEADS}
    out["routing_agreement_meld"] = {
        "same_head": sum(a["head"] == b["head"] for a, b in zip(recs, recs_dense)) / len(recs),
        "same_lang": sum(a["lang"] == b["lang"] for a, b in zip(recs, recs_dense)) / len(recs)}
    if agreement:
        sets = L.held_out_sets(200)
        sets["meld-en-1000"] = [(t, "en") for t in texts]
        rows = {}
        for name, items in sets.items():
            a = [dense.classify(t) for t, _ in items if L._LETTER.search(t)]
            b = [fast.classify(t) for t, _ in items if L._LETTER.search(t)]
            rows[name] = {"n": len(a), "same_lang": sum(x[0] == y[0] for x, y in zip(a, b)),
                          "max_abs_conf_diff": max((abs(x[1] - y[1]) for x, y in zip(a, b)),
                                                   default=0.0)}
        out["fast_langid_agreement"] = {
            "texts": sum(r["n"] for r in rows.values()),
            "same_lang": sum(r["same_lang"] for r in rows.values()),
            "max_abs_conf_diff": max(r["max_abs_conf_diff"] for r in rows.values()),
            "per_set": rows}
    return out


def _EMBED_MEMO_CLEAR() -> None:
    """Timed passes must encode: drop the memoised embeddings of the previous pass."""
    from affectkit.analysis import text_emotion as te

    te._EMBED_MEMO.clear()


def eec_bias(folder: str | Path = WEIGHTS) -> dict:
    """Gender and race gaps of the English head on the Equity Evaluation Corpus.

    For each (template, emotion word) group: the mean probability of the sentence's own
    emotion for female vs male persons (names and noun phrases) and for African-American vs
    European-American names. Reports the mean signed and absolute gaps over groups, the
    largest, and the recall of the gold emotion (7-way argmax) per group of persons."""
    from affectkit.data import load_corpus
    from affectkit.evaluation.generalise_text import features

    head = LoadedHead.load(Path(folder) / "en_minilm")
    utts = [u for u in load_corpus("eec").utterances if u.emotion is not None]
    P = head.probs(features(utts, head.encoder, progress=False))
    col = {k: i for i, k in enumerate(head.classes)}
    p_gold = np.asarray([P[i, col[u.emotion]] for i, u in enumerate(utts)])
    hit = np.asarray([head.classes[int(P[i].argmax())] == u.emotion for i, u in enumerate(utts)])
    groups: dict[tuple, list[int]] = {}
    for i, u in enumerate(utts):
        groups.setdefault((u.meta["template"], u.meta["emotion_word"]), []).append(i)

    def gap(attr: str, a: str, b: str) -> dict:
        diffs = []
        for idx in groups.values():
            xa = [p_gold[i] for i in idx if utts[i].meta[attr] == a]
            xb = [p_gold[i] for i in idx if utts[i].meta[attr] == b]
            if xa and xb:
                diffs.append(float(np.mean(xa) - np.mean(xb)))
        d = np.asarray(diffs)
        return {"groups": len(d), f"mean_signed_gap_{a}_minus_{b}": float(d.mean()),
                "mean_abs_gap": float(np.abs(d).mean()), "max_abs_gap": float(np.abs(d).max()),
                "share_groups_abs_gap_over_0.05": float(np.mean(np.abs(d) > 0.05))}

    def recall_by(attr: str) -> dict:
        vals = sorted({u.meta[attr] for u in utts if u.meta[attr]})
        return {v: float(hit[[u.meta[attr] == v for u in utts]].mean()) for v in vals}

    return {
        "n_sentences": len(utts), "gold_emotion_recall": float(hit.mean()),
        "recall_by_gender": recall_by("gender"), "recall_by_race": recall_by("race"),
        "gender": gap("gender", "female", "male"),
        "race": gap("race", "African-American", "European"),
    }


def main() -> None:  # pragma: no cover - build entry point
    import sys

    cmd = sys.argv[1:2]
    if cmd == ["build"]:
        rep = build(progress="-q" not in sys.argv)
    elif cmd == ["speed"]:
        import datetime as dt
        import platform

        rep = {"command": "python -m affectkit.evaluation.text_emotion speed",
               "date": dt.date.today().isoformat(), "machine": platform.machine(),
               **bench_speed()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-speed.json").write_text(json.dumps(rep, indent=1))
    elif cmd == ["bias"]:
        import datetime as dt

        rep = {"command": "python -m affectkit.evaluation.text_emotion bias",
               "date": dt.date.today().isoformat(), **eec_bias()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-eec.json").write_text(json.dumps(rep, indent=1))
    else:
        raise SystemExit("usage: python -m affectkit.evaluation.text_emotion build [-q] | speed "
                         "| bias")
    print(json.dumps(rep, indent=1, default=float))


if __name__ == "__main__":  # pragma: no cover
    main()
