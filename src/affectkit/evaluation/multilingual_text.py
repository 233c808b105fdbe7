"""Multilingual text: per-language tables for heads on ``text.e5`` (and ``text.minilm`` beside
it, to show what an English-only encoder does on other languages).

``python -m affectkit.evaluation.multilingual_text`` writes
``benchmarks/results/multilingual-text.{json,md}``.

Three tables, each with heads trained as in :mod:`.generalise_text` (MLP on frozen
features, class-balanced loss, epoch and neutral bias chosen on validation parts only):

* **XED emotion** (canonical classes of Plutchik single-label lines: angry, disgusted,
  fearful, happy, sad, surprised; English and Finnish also neutral): (a) *English only* — a
  head trained on XED-en train, scored on every language's test part (zero-shot transfer
  through the encoder); (b) *all languages* — trained on the train parts of en, fi and the 7
  projections, scored per language. XED has no official split: the loaders' sha1 split.
* **EmoEvent-es** (six Ekman classes; ``others`` left out): trained on EmoEvent-en train
  (+ es train in the second column; its validation part carved from es train), scored on the
  Spanish dev part (the es test part is withheld from the shared copy) and the English test part.
* **XLM-T sentiment** (negative/neutral/positive): trained on all 8 languages' train parts,
  per-language test; and trained on English only, per-language test.

Pools are capped (sha1(id) order, :data:`CAPS`) so the e5 encoder fits the shared CPU; the
caps are in the JSON. Mean ± sd over seeds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from affectkit.evaluation.generalise_text import (
    _h, canonical_items, capped, features, fit_head, macro_f1, ua,
)
from affectkit.taxonomy import CANONICAL_EMOTIONS
from affectkit.types import Utterance

CAPS = {"train": 150, "valid": 50, "test": 150}
EN_CAPS = {"train": 300, "valid": 80, "test": 150}
XLMT_CAPS = {"train": 120, "valid": 40, "test": 150}
XED_LANGS = ("en", "fi", "de", "es", "fr", "it", "nl", "pl", "pt")
ENCODERS = ("text.e5", "text.minilm")


def _by_lang(utts: Sequence[Utterance]) -> dict[str, list[Utterance]]:
    out: dict[str, list[Utterance]] = {}
    for u in utts:
        out.setdefault(u.meta.get("lang", "en"), []).append(u)
    return out


def load_pools() -> dict[str, dict[str, dict[str, list[Utterance]]]]:
    """``{table: {language: {split: items}}}``."""
    from affectkit.data import load_corpus

    xed: dict[str, dict[str, list[Utterance]]] = {}
    xed["en"] = capped(canonical_items(load_corpus("xed").utterances), EN_CAPS)
    xed["fi"] = capped(canonical_items(load_corpus("xed-fi").utterances), CAPS)
    for lang, utts in sorted(_by_lang(load_corpus("xed-projections").utterances).items()):
        xed[lang] = capped(canonical_items(utts), CAPS)
    # Spanish: the shared copy has train + dev only. dev is scored ("test" below), so the
    # validation part of a head trained with Spanish is carved from the Spanish train part.
    es = canonical_items(load_corpus("emoevent-es").utterances)
    es_train = sorted((u for u in es if u.split == "train"), key=lambda u: _h(u.id))
    es_dev = sorted((u for u in es if u.split == "valid"), key=lambda u: _h(u.id))
    emoevent = {
        "en": capped(canonical_items(load_corpus("emoevent").utterances), EN_CAPS),
        "es": {"train": es_train[:400], "valid": es_train[400:500], "test": es_dev[:300]},
    }
    xlmt = {lang: capped([u for u in utts if u.text and u.text.strip()], XLMT_CAPS)
            for lang, utts in sorted(_by_lang(load_corpus("xlmt-sentiment").utterances).items())}
    return {"xed": xed, "emoevent": emoevent, "xlmt": xlmt}


def pool_items(pools=None):
    pools = pools or load_pools()
    for table, langs in pools.items():
        items = [u for lang in langs for p in ("train", "valid", "test")
                 for u in langs[lang].get(p, [])]
        yield table, items


def _label(u: Utterance) -> str:
    if u.sentiment is not None and u.emotion is None:
        return {-1.0: "negative", 0.0: "neutral", 1.0: "positive"}[float(u.sentiment)]
    return str(u.emotion)


ORDER = tuple(CANONICAL_EMOTIONS) + ("negative", "positive")


def _score(head, X, y, classes) -> dict:
    m = np.isin(y, classes)
    pred = head.predict(X[m])
    return {"UA": ua(y[m], pred, classes), "macro_f1": macro_f1(y[m], pred, classes),
            "n": int(m.sum())}


def _train(feat, pools, train_langs, classes, seed):
    def stack(part):
        Xs, ys, cs = [], [], []
        for lang in train_langs:
            items = pools[lang].get(part, [])
            if not items:
                continue
            y = np.asarray([_label(u) for u in items])
            m = np.isin(y, classes)
            Xs.append(feat[lang][part][m])
            ys.append(y[m])
            cs.append(np.full(m.sum(), lang))
        return np.concatenate(Xs), np.concatenate(ys), np.concatenate(cs)

    X, y, c = stack("train")
    Xv, yv, cv = stack("valid")
    head, _ = fit_head(X, y, c, Xv, yv, cv, classes, seed=seed, weighting="equal", noisy=set())
    return head


def _table(feat, pools, setups, classes_of, test_part, seeds) -> dict:
    """``{setup: {lang: {UA, macro_f1 mean/sd, n}}}``."""
    out: dict[str, dict] = {}
    for setup, train_langs in setups.items():
        per_lang: dict[str, list[dict]] = {}
        for seed in range(seeds):
            classes = classes_of(train_langs)
            head = _train(feat, pools, train_langs, classes, seed)
            for lang in pools:
                items = pools[lang].get(test_part, [])
                if not items:
                    continue
                y = np.asarray([_label(u) for u in items])
                per_lang.setdefault(lang, []).append(_score(head, feat[lang][test_part], y,
                                                            classes))
        out[setup] = {lang: _agg(rs) for lang, rs in per_lang.items()}
    return out


def _agg(rs: list[dict]) -> dict:
    def ms(k):
        v = [r[k] for r in rs]
        return {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
    return {"UA": ms("UA"), "macro_f1": ms("macro_f1"), "n": rs[0]["n"]}


def run(*, seeds: int = 3, progress: bool = True, encoders: Sequence[str] = ENCODERS) -> dict:
    import torch

    torch.set_num_threads(1)
    pools = load_pools()
    feats: dict[str, dict] = {}
    for enc in encoders:
        feats[enc] = {}
        for table, items in pool_items(pools):
            X = features(items, enc, progress=progress)
            i, ft = 0, {}
            for lang in pools[table]:
                ft[lang] = {}
                for p in ("train", "valid", "test"):
                    n = len(pools[table][lang].get(p, []))
                    ft[lang][p] = X[i:i + n]
                    i += n
            feats[enc][table] = ft

    def emo_classes(pl):
        def f(train_langs):
            present = {_label(u) for lang in train_langs for u in pl[lang]["train"]}
            return tuple(k for k in CANONICAL_EMOTIONS if k in present)
        return f

    results: dict[str, dict] = {}
    for enc in encoders:
        f = feats[enc]
        xed_all = tuple(pools["xed"])
        results[enc] = {
            "xed": _table(f["xed"], pools["xed"],
                          {"trained on en": ("en",), "trained on all languages": xed_all},
                          emo_classes(pools["xed"]), "test", seeds),
            "emoevent": _table(f["emoevent"], pools["emoevent"],
                               {"trained on en": ("en",), "trained on en+es": ("en", "es")},
                               emo_classes(pools["emoevent"]), "test", seeds),
            "xlmt": _table(f["xlmt"], pools["xlmt"],
                           {"trained on en": ("en",),
                            "trained on all languages": tuple(pools["xlmt"])},
                           lambda _: ("negative", "neutral", "positive"), "test", seeds),
        }
    sizes = {t: {lang: {p: len(v) for p, v in d.items()} for lang, d in langs.items()}
             for t, langs in pools.items()}
    return {"results": results, "pool_sizes": sizes, "seeds": seeds,
            "markdown": markdown(results), "protocol": __doc__.split("\n\n", 2)[2].strip()}


def markdown(results: dict) -> str:
    encs = list(results)
    parts = []
    titles = {"xed": "XED emotion (test part, UA over the canonical classes)",
              "emoevent": "EmoEvent (Spanish dev part / English test part, UA over the six Ekman classes)",
              "xlmt": "XLM-T sentiment (test part, 3-class macro-F1)"}
    for table, title in titles.items():
        setups = list(results[encs[0]][table])
        langs = list(results[encs[0]][table][setups[0]])
        key = "macro_f1" if table == "xlmt" else "UA"
        cols = [f"{e} · {s}" for e in encs for s in setups]
        lines = [f"**{title}**", "", "| language | n | " + " | ".join(cols) + " |",
                 "|---|---|" + "---|" * len(cols)]
        for lang in langs:
            cells = [lang, str(results[encs[0]][table][setups[0]][lang]["n"])]
            for e in encs:
                for s in setups:
                    d = results[e][table][s][lang][key]
                    cells.append(f"{d['mean']:.3f} ± {d['sd']:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main() -> None:  # pragma: no cover - benchmark entry point
    import argparse
    import datetime as dt
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    res = run(seeds=a.seeds, progress=not a.quiet)
    res["date"] = dt.date.today().isoformat()
    res["command"] = (f"python -m affectkit.evaluation.multilingual_text --seeds {a.seeds}"
                      + (" -q" if a.quiet else ""))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "multilingual-text.json").write_text(json.dumps(res, indent=1, default=float))
    (out / "multilingual-text.md").write_text(
        f"### Multilingual text\n\n`{res['command']}` — {res['date']}, {a.seeds} seed(s)\n\n"
        f"{res['protocol']}\n\n{res['markdown']}\n")


if __name__ == "__main__":  # pragma: no cover
    main()
