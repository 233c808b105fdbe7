"""Build, speed and bias commands of the union text emotion heads.

``python -m affectkit.evaluation.text_emotion build [-q] | speed | bias``; the heads they write
are run by :mod:`affectkit.analysis.text_emotion` (inference only).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from affectkit.analysis.text_emotion import (CONVERSATION_ADAPTER, HEADS, HIDDEN, WEIGHTS,
                                             ConversationAdapter, LoadedHead, TextEmotionModel,
                                             save_head)
from affectkit.taxonomy import CANONICAL_EMOTIONS


# --- build -----------------------------------------------------------------------------------


def _ua_by_group(y, pred, groups, classes) -> dict:
    """UA per group (corpus or language) over the classes present in that group's gold."""
    from affectkit.evaluation import generalise_text as g

    out = {}
    for name in np.unique(groups):
        m = groups == name
        ks = [k for k in classes if np.any(y[m] == k)]
        out[str(name)] = {"UA": g.ua(y[m], pred[m], ks), "n": int(m.sum()), "classes": ks}
    return out


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
    per_corpus = _ua_by_group(y, pred, c, classes)
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
    per = _ua_by_group(y, pred, c, classes)
    multi_info = {"encoder": "text.e5", "valid_score": vs, "seed": seed, "hidden": HIDDEN,
                  "built": dt.date.today().isoformat(), "caps": {"xed/emoevent": mt.CAPS,
                                                                  "en": mt.EN_CAPS},
                  "training_corpora": sorted(emo), "test_UA": per}
    save_head(head, out / "multi_e5", multi_info)
    report["multi_e5"] = multi_info
    return report


# --- conversation mode: a residual adapter on the English head ------------------------------

CONVERSATION_CORPORA = ("meld", "iemocap")
CONVERSATION_EPOCHS = 40
CONVERSATION_BIAS_GRID = tuple(float(b) for b in np.round(np.arange(-2.0, 3.01, 0.25), 2))
IEMOCAP_CLASSES = ("neutral", "happy", "sad", "angry")


def _conversation_parts(progress: bool = False) -> dict:
    """MELD (official split) and IEMOCAP (sessions 1-4 train/valid, session 5 test, speaker
    independence asserted) items with a canonical label, with their MiniLM features; plus the
    RECCON-DailyDialog test part (never trained on: an unseen conversational corpus)."""
    from affectkit.data import load_corpus
    from affectkit.data.splits import Fold, assert_speaker_independent
    from affectkit.evaluation import generalise_text as g

    out: dict = {}
    for corpus in (*CONVERSATION_CORPORA, "reccon"):
        utts = [u for u in load_corpus(corpus).utterances
                if u.emotion in CANONICAL_EMOTIONS and u.text and u.text.strip()]
        parts = {p: [u for u in utts if u.split == p] for p in ("train", "valid", "test")}
        if corpus == "reccon":
            parts = {"test": parts["test"]}
        if corpus == "iemocap":
            assert_speaker_independent(Fold("iemocap-erc", [u.id for u in parts["train"]],
                                            [u.id for u in parts["valid"]],
                                            [u.id for u in parts["test"]]), utts,
                                       check_valid=False)  # valid: carved from sessions 1-4
        out[corpus] = {p: (g.features(v, "text.minilm", progress=progress),
                           np.asarray([u.emotion for u in v])) for p, v in parts.items()}
    return out


def _weighted_f1(y, pred, classes) -> float:
    from sklearn.metrics import f1_score

    return 100 * float(f1_score(y, pred, labels=list(classes), average="weighted",
                                zero_division=0))


def fit_conversation_adapter(base: LoadedHead, parts: dict, *, seed: int = 0,
                             epochs: int = CONVERSATION_EPOCHS):
    """Train the residual conversation head on top of the frozen general head.

    Loss: cross-entropy of (general raw logits + adapter logits) on the train parts of
    :data:`CONVERSATION_CORPORA`, each corpus one equal share of the weight, classes at their
    natural frequency (a conversation's prior is what the mode is for). The adapter's last
    layer starts at zero (it starts as the general head). The epoch and the neutral bias are
    chosen on the corpora's validation parts (mean weighted F1, IEMOCAP on its 4 classes);
    no test part is looked at. Returns ``(ConversationAdapter, validation score, epoch)``."""
    import copy

    import torch

    from affectkit.analysis.text_emotion import _module

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = base.classes
    X = np.concatenate([parts[c]["train"][0] for c in CONVERSATION_CORPORA]).astype(np.float32)
    y = np.concatenate([parts[c]["train"][1] for c in CONVERSATION_CORPORA])
    cor = np.concatenate([[c] * len(parts[c]["train"][1]) for c in CONVERSATION_CORPORA])
    w = np.zeros(len(y))
    for c in CONVERSATION_CORPORA:
        w[cor == c] = 1.0 / np.sum(cor == c)
    w /= w.mean()
    yi = np.asarray([classes.index(k) for k in y])
    Z = base.logits(X).astype(np.float32)
    model = _module(X.shape[1], len(classes), HIDDEN)
    torch.nn.init.zeros_(model[-1].weight)
    torch.nn.init.zeros_(model[-1].bias)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    Xt, Zt = torch.from_numpy(X), torch.from_numpy(Z)
    yt, wt = torch.from_numpy(yi), torch.from_numpy(w.astype(np.float32))
    valid = {c: (parts[c]["valid"][0], parts[c]["valid"][1], base.logits(parts[c]["valid"][0]))
             for c in CONVERSATION_CORPORA}
    ks = {"iemocap": IEMOCAP_CLASSES}
    best = (-1.0, None, 0.0, -1)
    for ep in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(yi)))
        for b in range(0, len(order), 256):
            i = order[b:b + 256]
            loss = (torch.nn.functional.cross_entropy(Zt[i] + model(Xt[i]), yt[i],
                                                      reduction="none") * wt[i]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            zv = {c: zg + model(torch.from_numpy(np.asarray(xv, np.float32))).numpy()
                  for c, (xv, _, zg) in valid.items()}
        for bias in CONVERSATION_BIAS_GRID:
            sc = []
            for c, (_, yv, _) in valid.items():
                z = zv[c].copy()
                z[:, classes.index("neutral")] += bias
                sc.append(_weighted_f1(yv, np.asarray(classes)[z.argmax(1)],
                                       ks.get(c, classes)))
            if np.mean(sc) > best[0]:
                best = (float(np.mean(sc)), copy.deepcopy(model.state_dict()), bias, ep)
    model.load_state_dict(best[1])
    model.eval()
    return ConversationAdapter(base, model, best[2]), best[0], best[3]


def conversation_scores(model, parts: dict) -> dict:
    """Test weighted F1 / UA (percent) of a head (general or adapter) on MELD test (7 classes),
    IEMOCAP session 5 (4 classes, 7-way answers) and RECCON-DD test (unseen, 7 classes)."""
    from affectkit.evaluation import generalise_text as g

    out = {}
    for c, ks in (("meld", CANONICAL_EMOTIONS), ("iemocap", IEMOCAP_CLASSES),
                  ("reccon", CANONICAL_EMOTIONS)):
        X, y = parts[c]["test"]
        pred = np.asarray(model.classes)[model.probs(X).argmax(1)]
        ks = tuple(k for k in ks if np.any(y == k))
        out[c] = {"weighted_f1": _weighted_f1(y, pred, ks), "ua": 100 * g.ua(y, pred, ks),
                  "n": int(len(y)),
                  "pred_shares": {k: float(np.mean(pred == k)) for k in model.classes}}
    return out


def conversation_mode(head: LoadedHead, *, seeds: int = 3, progress: bool = False) -> dict:
    """The general head vs the general head + conversation adapter on MELD test, IEMOCAP
    session 5 and the unseen RECCON-DD test: adapters trained with ``seeds`` seeds (mean ± sd),
    and the shipped adapter when there is one."""
    parts = _conversation_parts(progress)
    rows: dict = {"general head (shipped)": conversation_scores(head, parts)}
    per_seed = []
    for seed in range(seeds):
        adapter, vs, ep = fit_conversation_adapter(head, parts, seed=seed)
        per_seed.append({**conversation_scores(adapter, parts), "valid_weighted_f1": vs,
                         "epoch": ep, "neutral_bias": adapter.neutral_bias})
    rows["general head + conversation adapter"] = {
        c: {k: {"mean": float(np.mean([r[c][k] for r in per_seed])),
                "sd": float(np.std([r[c][k] for r in per_seed], ddof=1)) if seeds > 1 else 0.0}
            for k in ("weighted_f1", "ua")}
        for c in ("meld", "iemocap", "reccon")}
    rows["general head + conversation adapter"]["per_seed"] = per_seed
    if (WEIGHTS / CONVERSATION_ADAPTER / "head.json").is_file():
        shipped = ConversationAdapter.load(WEIGHTS / CONVERSATION_ADAPTER, head)
        rows["general head + conversation adapter (shipped, seed 0)"] = conversation_scores(
            shipped, parts)
    return {"protocol": (
        "adapter: residual MLP (384-256-7) whose logits are added to the frozen general head's; "
        "trained on MELD train + IEMOCAP sessions 1-4 train (equal corpus shares, natural class "
        f"frequencies), {CONVERSATION_EPOCHS} epochs, epoch and neutral bias chosen on MELD dev + "
        "IEMOCAP valid (mean weighted F1). Scored: MELD test (7 classes), IEMOCAP session 5 "
        "(4 classes, 7-way answers), RECCON-DD test (never trained on by either head)."),
        "seeds": seeds, "rows": rows}


def build_conversation(out: Path = WEIGHTS, *, seed: int = 0, progress: bool = True) -> dict:
    """Train and save the conversation adapter of the shipped ``en_minilm`` head."""
    import datetime as dt

    import torch

    from affectkit.analysis.text_emotion import save_head

    torch.set_num_threads(1)
    base = LoadedHead.load(out / "en_minilm")
    parts = _conversation_parts(progress)
    adapter, vs, ep = fit_conversation_adapter(base, parts, seed=seed)
    info = {"encoder": base.encoder, "base": "en_minilm", "valid_weighted_f1": vs, "epoch": ep,
            "seed": seed, "hidden": HIDDEN, "built": dt.date.today().isoformat(),
            "training_corpora": list(CONVERSATION_CORPORA),
            "base_head_valid_score": base.info.get("valid_score"),
            "test": conversation_scores(adapter, parts)}
    save_head(adapter, out / CONVERSATION_ADAPTER, info)
    return info


def bench_speed(n: int = 1000, *, agreement: bool = True, rounds: int = 3) -> dict:
    """Sentences/s of the routed model (language detection + encoder + head) beside the bare
    MiniLM encoder and the bare detectors, on the same ``n`` MELD test sentences, same run.

    Before/after in one run: ``langid.classify`` (dense, as shipped before) against
    :class:`affectkit.analysis.language.FastLangid` (the same model scored sparsely), the
    routed model with each, and the text-only analyzer (emotion + sentiment heads + fusion);
    ``rounds`` interleaved rounds, the median of each measure reported (all rounds kept).
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

    import os

    def routed_dense():
        with mock.patch.object(L, "_fast_langid", lambda: dense):
            model.predict(texts)

    # interleaved rounds (the machine is shared: its load drifts), median per measure
    measures = {
        "bare_minilm_per_s": lambda: ext.process_texts(texts),
        "langid_dense_per_s": lambda: [dense.classify(x) for x in texts],
        "langid_fast_per_s": lambda: [fast.classify(x) for x in texts],
        "routed_model_dense_langid_per_s": routed_dense,
        "routed_model_per_s": lambda: model.predict(texts),
        "routed_model_language_given_per_s": lambda: model.predict(
            texts, ["en"] * len(texts), lang_source="given"),
        "analyzer_text_only_per_s": lambda: analyzer.analyze_text(texts),
    }
    out: dict = {"n": len(texts), "torch_threads": 1, "rounds": rounds,
                 "load_avg_1min_start": os.getloadavg()[0]}
    runs: dict[str, list[float]] = {k: [] for k in measures}
    for _ in range(rounds):
        for k, fn in measures.items():
            runs[k].append(rate(fn))
    out.update({k: float(np.median(v)) for k, v in runs.items()})
    out["all_rounds"] = runs
    out["load_avg_1min_end"] = os.getloadavg()[0]
    with mock.patch.object(L, "_fast_langid", lambda: dense):
        recs_dense = model.predict(texts)
    recs = model.predict(texts)
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


def indomain(seeds: int = 3, progress: bool = True) -> dict:
    """The shipped English union head on in-domain test sets beside single-corpus heads.

    MELD: the official test part (2,610; the official split, as the MELD suite — not
    speaker-independent: the main cast is in every part); IEMOCAP: session 5 (speakers
    Ses05F/M, asserted disjoint from the training sessions), items whose label is a canonical
    emotion (angry, happy, neutral, sad; excited/frustrated are not canonical). The union head
    answers 7-way (a class the corpus lacks counts as an error). Beside it: the suite rows
    (``benchmarks/results/meld.json``; the IEMOCAP suite is 6-class, not comparable) and a
    head trained on that corpus alone with the union recipe (:func:`generalise_text.fit_head`:
    MLP, class-balanced, epoch and neutral bias chosen on the corpus' validation part), over
    ``seeds`` seeds. Weighted F1 (the suites' key metric), UA, WA, macro-F1, in percent."""
    from sklearn.metrics import f1_score

    from affectkit.data import load_corpus
    from affectkit.data.splits import Fold, assert_speaker_independent
    from affectkit.evaluation import generalise_text as g

    head = LoadedHead.load(WEIGHTS / "en_minilm")

    def score(y, pred, classes):
        return {"weighted_f1": 100 * float(f1_score(y, pred, labels=list(classes),
                                                    average="weighted", zero_division=0)),
                "ua": 100 * g.ua(y, pred, classes), "wa": 100 * float(np.mean(y == pred)),
                "macro_f1": 100 * g.macro_f1(y, pred, classes), "n": int(len(y))}

    out: dict = {}
    for corpus in ("meld", "iemocap"):
        utts = [u for u in load_corpus(corpus).utterances if u.emotion in CANONICAL_EMOTIONS]
        parts = {p: [u for u in utts if u.split == p] for p in ("train", "valid", "test")}
        if corpus == "iemocap":
            assert_speaker_independent(Fold("iemocap-erc", [u.id for u in parts["train"]],
                                            [u.id for u in parts["valid"]],
                                            [u.id for u in parts["test"]]), utts,
                                       check_valid=False)  # valid: carved from sessions 1-4
        classes = tuple(k for k in CANONICAL_EMOTIONS if any(u.emotion == k for u in parts["test"]))
        X = {p: g.features(v, "text.minilm", progress=progress) for p, v in parts.items()}
        Y = {p: np.asarray([u.emotion for u in v]) for p, v in parts.items()}
        P = head.probs(X["test"])
        union_pred = np.asarray(head.classes)[P.argmax(1)]
        rows = {"union head (shipped, 7-way)": score(Y["test"], union_pred, classes)}
        # what a domain prior would recover (a measurement, not shipped): the union head
        # restricted to the corpus' classes, its neutral logit shifted by a bias chosen on the
        # corpus' validation part (weighted F1)
        cols = [head.classes.index(k) for k in classes]
        zv = np.log(head.probs(X["valid"])[:, cols] + 1e-12)
        zt = np.log(P[:, cols] + 1e-12)
        k_neu = list(classes).index("neutral")

        def shifted(z, b):
            z = z.copy()
            z[:, k_neu] += b
            return np.asarray(classes)[z.argmax(1)]

        grid = np.round(np.arange(-2.0, 3.01, 0.25), 2)
        best_b = max(grid, key=lambda b: (f1_score(Y["valid"], shifted(zv, b), average="weighted",
                                                    zero_division=0), -abs(b)))
        rows["union head, corpus classes + neutral bias chosen on its validation part"] = {
            **score(Y["test"], shifted(zt, best_b), classes), "neutral_bias": float(best_b)}
        single = []
        for seed in range(seeds):
            h, _ = g.fit_head(X["train"], Y["train"], np.asarray([corpus] * len(Y["train"])),
                              X["valid"], Y["valid"], np.asarray([corpus] * len(Y["valid"])),
                              classes, seed=seed, weighting="equal", noisy=set())
            single.append(score(Y["test"], h.predict(X["test"]), classes))
        rows[f"{corpus}-only head, same recipe"] = {
            k: {"mean": float(np.mean([r[k] for r in single])),
                "sd": float(np.std([r[k] for r in single], ddof=1)) if seeds > 1 else 0.0}
            for k in single[0] if k != "n"}
        out[corpus] = {"classes": list(classes), "n_test": len(parts["test"]),
                       "n_train": len(parts["train"]), "rows": rows,
                       "union_pred_shares": {k: float(np.mean(union_pred == k))
                                             for k in head.classes},
                       "gold_shares": {k: float(np.mean(Y["test"] == k)) for k in classes}}
    out["conversation_mode"] = conversation_mode(head, seeds=seeds, progress=progress)
    suite = Path("benchmarks/results/meld.json")
    if suite.is_file():
        doc = json.loads(suite.read_text())
        out["meld"]["suite_rows"] = {
            f"{r['label']} ({r['group']})": {k: {"mean": 100 * r["metrics"][k]["mean"],
                                               "sd": 100 * r["metrics"][k]["sd"]}
                                           for k in ("weighted_f1", "ua", "wa", "macro_f1")}
            for r in doc["rows"] if r["group"].startswith("7-class")}
        out["meld"]["suite_date"] = doc.get("date")
    return out


def main() -> None:  # pragma: no cover - build entry point
    import sys

    cmd = sys.argv[1:2]
    if cmd == ["build"]:
        rep = build(progress="-q" not in sys.argv)
    elif cmd == ["build-conversation"]:
        rep = build_conversation(progress="-q" not in sys.argv)
    elif cmd == ["speed"]:
        import datetime as dt
        import platform

        rep = {"command": "python -m affectkit.evaluation.text_emotion speed",
               "date": dt.date.today().isoformat(), "machine": platform.machine(),
               **bench_speed()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-speed.json").write_text(json.dumps(rep, indent=1))
    elif cmd == ["indomain"]:
        import datetime as dt

        import torch

        torch.set_num_threads(1)
        rep = {"command": "python -m affectkit.evaluation.text_emotion indomain",
               "date": dt.date.today().isoformat(), **indomain(progress="-q" not in sys.argv)}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-indomain.json").write_text(json.dumps(rep, indent=1))
    elif cmd == ["bias"]:
        import datetime as dt

        rep = {"command": "python -m affectkit.evaluation.text_emotion bias",
               "date": dt.date.today().isoformat(), **eec_bias()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-eec.json").write_text(json.dumps(rep, indent=1))
    else:
        raise SystemExit("usage: python -m affectkit.evaluation.text_emotion build [-q] | "
                         "build-conversation [-q] | speed "
                         "| indomain [-q] | bias")
    print(json.dumps(rep, indent=1, default=float))


if __name__ == "__main__":  # pragma: no cover
    main()
