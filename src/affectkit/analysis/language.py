"""Text language detection for routing ``affect analyze`` to an English or a multilingual head.

Two offline detectors from PyPI, both measured on held-out text by
``python -m affectkit.analysis.language`` (``benchmarks/results/language-id.json``):

* ``langid`` (``langid.py``, BSD; naive Bayes over byte n-grams, model bundled) — the default:
  measured better on our held-out sets (2026-11-27: mean accuracy 0.838 vs 0.786 over 18 sets,
  short texts ≤ 5 words 0.727 vs 0.662, MELD dialogue lines 0.93 vs 0.68; the
  English-vs-other decision that routing uses: 0.938 vs 0.950);
* ``lingua`` (``lingua-language-detector``, Apache-2.0; n-gram models bundled in the wheel,
  low-accuracy mode) — optional, used when asked for (``detector="lingua"``).

Neither reads romanised Hindi tweets as Hindi (XLM-T ``hi``: 0.00 for both); both are
near-perfect on Chinese and Arabic script.

:func:`detect_language` returns an ISO 639-1 code and a confidence in [0, 1]; texts with no
letters (empty, emoji-only, numbers) and texts the detector cannot place give ``None`` —
callers then use the multilingual head, which handles English too. For speech the language
Whisper detected is used instead (``affect analyze`` records which source it took).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DETECTORS = ("lingua", "langid")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class LanguageGuess:
    lang: str | None
    confidence: float
    detector: str

    def to_dict(self) -> dict:
        return {"lang": self.lang, "confidence": round(self.confidence, 4),
                "detector": self.detector}


@functools.lru_cache(maxsize=1)
def _lingua():
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


@functools.lru_cache(maxsize=1)
def _langid():
    from langid.langid import LanguageIdentifier, model

    return LanguageIdentifier.from_modelstring(model, norm_probs=True)


class FastLangid:
    """langid's own model and byte n-gram tokeniser, scored sparsely.

    ``langid.classify`` multiplies the dense 7,480-feature count vector by the 7,480 × 97
    class matrix (and casts that matrix to float64) on every call; a short line has only
    ~20–60 non-zero features, so summing just those rows gives the same log-probabilities
    (float64, same model; only the summation order differs) at ~10× the speed. Softmax
    replaces langid's 97 × 97 pairwise normalisation (the same probabilities). The
    agreement with ``langid.classify`` is measured by
    ``python -m affectkit.evaluation.text_emotion speed`` (``benchmarks/results/
    text-emotion-speed.json``: ``fast_langid_agreement``).
    """

    def __init__(self, ident=None) -> None:
        import numpy as np

        ident = ident or _langid()
        self.nextmove = list(ident.tk_nextmove)
        self.output = {int(k): tuple(v) for k, v in ident.tk_output.items()}
        self.ptc = np.asarray(ident.nb_ptc, dtype=np.float64)
        self.pc = np.asarray(ident.nb_pc, dtype=np.float64)
        self.classes = [str(c) for c in ident.nb_classes]

    def classify(self, text: str) -> tuple[str, float]:
        import numpy as np

        nm, state, states = self.nextmove, 0, {}
        for b in text.encode("utf8"):
            state = nm[(state << 8) + b]
            states[state] = states.get(state, 0) + 1
        feats: dict[int, int] = {}
        for s, c in states.items():
            for i in self.output.get(s, ()):
                feats[i] = feats.get(i, 0) + c
        pd = self.pc.copy()
        if feats:
            idx = np.fromiter(feats.keys(), dtype=np.intp, count=len(feats))
            cnt = np.fromiter(feats.values(), dtype=np.float64, count=len(feats))
            pd += cnt @ self.ptc[idx]
        p = np.exp(pd - pd.max())
        p /= p.sum()
        k = int(p.argmax())
        return self.classes[k], float(p[k])


@functools.lru_cache(maxsize=1)
def _fast_langid() -> FastLangid:
    return FastLangid()


def available_detector(preferred: str = "langid") -> str:
    """``preferred`` if importable, else the other one; raises if neither is installed."""
    order = (preferred,) + tuple(d for d in DETECTORS if d != preferred)
    for name in order:
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    raise ImportError("no language detector installed: pip install langid")


def detect_language(text: str, detector: str | None = None) -> LanguageGuess:
    """The language of ``text`` (ISO 639-1) and the detector's confidence."""
    name = detector or available_detector()
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {name!r}")
    if not isinstance(text, str) or not _LETTER.search(text):
        return LanguageGuess(None, 0.0, name)
    if name == "lingua":
        vals = _lingua().compute_language_confidence_values(text)
        if not vals or vals[0].value <= 0.0:
            return LanguageGuess(None, 0.0, name)
        return LanguageGuess(vals[0].language.iso_code_639_1.name.lower(), float(vals[0].value),
                             name)
    lang, p = _fast_langid().classify(text)
    return LanguageGuess(lang, float(p), name)


# --- measurement -----------------------------------------------------------------------------


def held_out_sets(per_lang: int = 200) -> dict[str, list[tuple[str, str]]]:
    """Held-out text of known language: XLM-T test tweets (ar de en es fr hi it pt), XED
    Finnish and projection lines (test parts), MELD test utterances (short English dialogue),
    ECPE clauses (Chinese); ``per_lang`` items each, first in sha1(id) order."""
    import hashlib

    from affectkit.data import load_corpus

    def take(utts, n):
        utts = [u for u in utts if u.text and u.text.strip()]
        return sorted(utts, key=lambda u: hashlib.sha1(u.id.encode()).hexdigest())[:n]

    sets: dict[str, list[tuple[str, str]]] = {}
    xl = load_corpus("xlmt-sentiment").utterances
    for u in take([u for u in xl if u.split == "test"], 10 ** 9):
        sets.setdefault(f"xlmt-{u.meta['lang']}", []).append((u.text, u.meta["lang"]))
    sets = {k: v[:per_lang] for k, v in sets.items()}
    xp = load_corpus("xed-projections").utterances + load_corpus("xed-fi").utterances
    for lang in ("fi", "de", "es", "fr", "it", "nl", "pl", "pt"):
        sets[f"xed-{lang}"] = [(u.text, lang) for u in take(
            [u for u in xp if u.meta.get("lang") == lang and u.split == "test"], per_lang)]
    sets["meld-en"] = [(u.text, "en") for u in take(
        [u for u in load_corpus("meld").utterances if u.split == "test"], per_lang)]
    sets["ecpe-zh"] = [(u.text, "zh") for u in take(load_corpus("ecpe-zh").utterances, per_lang)]
    return sets


def measure(per_lang: int = 200) -> dict:
    """Accuracy of each detector on :func:`held_out_sets`, also by length (≤ 5 words vs
    longer)."""
    import time

    sets = held_out_sets(per_lang)
    out: dict[str, dict] = {}
    for det in DETECTORS:
        try:
            __import__(det)
        except ImportError:
            continue
        detect_language("warm up", det)
        rows, t0, n_all = {}, time.perf_counter(), 0
        short_ok = short_n = long_ok = long_n = 0
        bin_ok = bin_n = 0
        for name, items in sets.items():
            ok = 0
            for text, lang in items:
                got = detect_language(text, det).lang
                hit = got == lang
                ok += hit
                bin_ok += (got == "en") == (lang == "en")  # the routing decision
                bin_n += 1
                if len(text.split()) <= 5:
                    short_ok += hit
                    short_n += 1
                else:
                    long_ok += hit
                    long_n += 1
            rows[name] = {"n": len(items), "accuracy": ok / max(1, len(items))}
            n_all += len(items)
        dt = time.perf_counter() - t0
        out[det] = {"per_set": rows,
                    "mean_accuracy": sum(r["accuracy"] for r in rows.values()) / len(rows),
                    "short_accuracy": short_ok / max(1, short_n), "n_short": short_n,
                    "long_accuracy": long_ok / max(1, long_n), "n_long": long_n,
                    "english_vs_other_accuracy": bin_ok / max(1, bin_n),
                    "texts_per_s": n_all / dt}
    return out


def main() -> None:  # pragma: no cover - benchmark entry point
    import datetime as dt
    import json
    from pathlib import Path

    res = measure()
    res = {"date": dt.date.today().isoformat(),
           "command": "python -m affectkit.analysis.language", **res}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/language-id.json").write_text(json.dumps(res, indent=1))
    for det in DETECTORS:
        if det in res:
            r = res[det]
            print(f"{det}: mean {r['mean_accuracy']:.3f}, ≤5 words {r['short_accuracy']:.3f} "
                  f"(n={r['n_short']}), longer {r['long_accuracy']:.3f}, en-vs-other "
                  f"{r['english_vs_other_accuracy']:.3f}, "
                  f"{r['texts_per_s']:.0f} texts/s")
            print("  " + ", ".join(f"{k} {v['accuracy']:.2f}" for k, v in r["per_set"].items()))


if __name__ == "__main__":  # pragma: no cover
    main()
