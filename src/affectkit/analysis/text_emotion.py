"""Text emotion heads trained on the union of corpora, routed by language.

Two heads on frozen encoders (linear or 384 → 256 → 7 MLP, whichever scores better on
validation; recorded in ``head.json``), trained with the code of
:mod:`affectkit.evaluation.generalise_text` (class-balanced loss; epoch, per-corpus weighting
and the neutral-logit bias chosen on the corpora's validation parts, never on a test part):

* ``en_minilm``: ``text.minilm`` features, English union — MELD, IEMOCAP, GoEmotions-Ekman,
  EmoContext, XED-en, EmoEvent-en, TweetEval, SemEval-2018 E-c, CrowdFlower and TEC (noisy),
  labels mapped to the canonical 7 only where they are spellings of them;
* ``multi_e5``: ``text.e5`` features, XED (en, fi and the 7 projections) and EmoEvent (en, es).

Both are *frozen-encoder MLP heads*, not MiniLM LoRA: LoRA on the union did not fit the shared
2-core CPU in this session (see docs/text.md).

Routing (:meth:`TextEmotionModel.predict`): a text whose language is English (given, e.g. by
Whisper, or detected by :mod:`affectkit.analysis.language`) goes to ``en_minilm``; any other
language, or no detectable language (emoji-only, numbers), goes to ``multi_e5``. When several
texts are given at once (a file, a conversation) and no languages are given, the language of
the whole input is detected once, and a line whose own guess differs with confidence below
:data:`BATCH_PRIOR_CONFIDENCE` keeps the input's language (short lines are where detectors
fail: langid 0.73 on ≤ 5 words). The record of
each prediction says which head ran and where the language came from.

Long texts: e5 windows them itself (see :mod:`affectkit.features.text.e5`); for MiniLM (256
word pieces) the text is split into windows of :data:`MINILM_WINDOW_WORDS` words whose
embeddings are averaged and re-normalised, so nothing is silently truncated.

Build: ``python -m affectkit.analysis.text_emotion build`` (writes
``affectkit/weights/text_emotion_union/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.taxonomy import CANONICAL_EMOTIONS

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "text_emotion_union"
HEADS = {"en_minilm": "text.minilm", "multi_e5": "text.e5"}
MINILM_WINDOW_WORDS = 150
# Per-line language guesses below this confidence yield to the whole input's language.
BATCH_PRIOR_CONFIDENCE = 0.9
HIDDEN = 256


def _module(dim: int, n: int, hidden: int = HIDDEN):
    import torch

    if not hidden:
        return torch.nn.Sequential(torch.nn.Linear(dim, n))
    return torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(dim, hidden),
                               torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(hidden, n))


def save_head(head, folder: Path, info: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.model.state_dict().items()},
              str(folder / "head.safetensors"))
    meta = {"classes": list(head.classes), "neutral_bias": head.neutral_bias,
            "weighting": head.weighting, "hidden": HIDDEN, **info}  # info may override hidden
    (folder / "head.json").write_text(json.dumps(meta, indent=1, default=float))


@dataclass
class LoadedHead:
    name: str
    encoder: str
    classes: tuple[str, ...]
    neutral_bias: float
    model: object
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> LoadedHead:
        from safetensors.torch import load_file

        from affectkit.errors import ConfigError

        if not (folder / "head.json").is_file():
            raise ConfigError(f"{folder}: no head.json; build the text emotion heads with "
                              "`python -m affectkit.analysis.text_emotion build`")
        info = json.loads((folder / "head.json").read_text())
        model = _module(384, len(info["classes"]), info.get("hidden", HIDDEN))
        model.load_state_dict(load_file(str(folder / "head.safetensors")))
        model.eval()
        return cls(folder.name, info["encoder"], tuple(info["classes"]),
                   float(info["neutral_bias"]), model, info)

    def probs(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            z = self.model(torch.from_numpy(np.asarray(X, np.float32))).numpy()
        if "neutral" in self.classes:
            z[:, self.classes.index("neutral")] += self.neutral_bias
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)


def _windows(text: str, n: int = MINILM_WINDOW_WORDS) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + n]) for i in range(0, len(words), n)] or [text]


def embed(encoder: str, texts: list[str]) -> np.ndarray:
    """Utterance vectors; MiniLM texts longer than a window are windowed and averaged."""
    from affectkit.features import get_extractor

    if encoder == "text.e5":
        return np.stack(get_extractor("text.e5").process_texts(texts))
    ext = get_extractor(encoder)
    pieces, owner = [], []
    for i, t in enumerate(texts):
        for w in _windows(t):
            pieces.append(w)
            owner.append(i)
    V = np.stack(ext.process_texts(pieces))
    out = np.zeros((len(texts), V.shape[1]), np.float32)
    np.add.at(out, np.asarray(owner), V)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class TextEmotionModel:
    """The two heads and the language routing."""

    def __init__(self, folder: str | Path = WEIGHTS) -> None:
        folder = Path(folder)
        self.heads = {name: LoadedHead.load(folder / name) for name in HEADS}

    def route(self, lang: str | None) -> str:
        return "en_minilm" if lang == "en" else "multi_e5"

    def predict(self, texts: list[str], langs: list[str | None] | None = None,
                lang_source: str = "given") -> list[dict]:
        """One record per text: ``label``, ``probs`` (canonical 7; classes a head lacks get 0),
        ``lang``, ``lang_source`` (``given`` / ``detected`` / ``none``), ``head``.

        Empty or whitespace-only texts get ``label = None`` and an ``error`` naming the fix,
        instead of failing the batch."""
        from affectkit.analysis.language import detect_language

        recs: list[dict] = [{} for _ in texts]
        routed: dict[str, list[int]] = {}
        batch = None
        if langs is None and len(texts) > 1:  # one conversation / file: its dominant language
            joined = " ".join(t for t in texts if isinstance(t, str))[:4000]
            batch = detect_language(joined).lang
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                recs[i] = {"label": None, "probs": None, "lang": None, "lang_source": "none",
                           "head": None, "error": "empty text: nothing to classify (give a "
                           "non-empty 'text' field)"}
                continue
            if langs is not None and langs[i]:
                lang, src = langs[i], lang_source
            else:
                g = detect_language(t)
                lang, src = g.lang, ("detected" if g.lang else "none")
                if batch and lang and lang != batch and g.confidence < BATCH_PRIOR_CONFIDENCE:
                    # a line the detector is unsure of keeps the file's language (texts with
                    # no letters keep no language: the multilingual vocabulary has emoji)
                    lang, src = batch, "detected (file)"
            head = self.route(lang)
            recs[i] = {"lang": lang, "lang_source": src, "head": head}
            routed.setdefault(head, []).append(i)
        for head_name, idx in routed.items():
            head = self.heads[head_name]
            P = head.probs(embed(head.encoder, [texts[i] for i in idx]))
            for row, i in zip(P, idx, strict=True):
                probs = {k: 0.0 for k in CANONICAL_EMOTIONS}
                probs.update({k: float(v) for k, v in zip(head.classes, row, strict=True)})
                recs[i].update(label=head.classes[int(row.argmax())], probs=probs)
        return recs


class UnionTextPredictor:
    """Drop-in for ``analysis.heads.TextPredictor`` (same ``predict(texts)`` contract) with the
    routed union heads for emotion; sentiment from the shipped sentiment head when one is given
    (it is English-trained: for non-English texts the sentiment is the expected valence of the
    emotion probabilities instead, and the record says so).

    ``predict(texts, languages=None)``: ``languages`` are ISO codes from the ASR (Whisper) per
    text, or ``None`` to detect them. :attr:`last_records` keeps the per-text language, its
    source and the head used, for the result rows.
    """

    modality = "text"

    def __init__(self, model: TextEmotionModel | None = None, sentiment=None) -> None:
        self.model = model or TextEmotionModel()
        self.sentiment = sentiment
        self.last_records: list[dict] = []

    def predict(self, texts: list[str], languages: list[str | None] | None = None):
        from affectkit.analysis.fusion import ModalityOutput
        from affectkit.taxonomy import valence_sentiment

        recs = self.model.predict(texts, languages, lang_source="asr")
        english = [i for i, r in enumerate(recs) if r["head"] == "en_minilm"]
        sent: dict[int, float] = {}
        if self.sentiment is not None and english:
            scores = self.sentiment.scores([texts[i] for i in english])
            sent = {i: float(v) for i, v in zip(english, scores, strict=True)}
        outs = []
        for i, r in enumerate(recs):
            if r["probs"] is None:  # empty text: uniform, zero confidence
                p = np.full(len(CANONICAL_EMOTIONS), 1.0 / len(CANONICAL_EMOTIONS))
                outs.append(ModalityOutput(p, 0.0, 0.0))
                continue
            p = np.asarray([r["probs"][k] for k in CANONICAL_EMOTIONS]) + 1e-9
            s = sent.get(i)
            r["sentiment_source"] = "head" if s is not None else "emotion valence"
            outs.append(ModalityOutput(p, s if s is not None else valence_sentiment(p)))
        self.last_records = recs
        return outs


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


def bench_speed(n: int = 1000) -> dict:
    """Sentences/s of the routed model (language detection + encoder + head) beside the bare
    MiniLM encoder and the bare detector, on the same ``n`` MELD test sentences, same run."""
    import time

    import torch

    from affectkit.analysis.language import detect_language
    from affectkit.data import load_corpus
    from affectkit.features import get_extractor

    torch.set_num_threads(1)
    texts = [u.text for u in load_corpus("meld").utterances if u.split == "test"][:n]
    model = TextEmotionModel()
    ext = get_extractor("text.minilm")
    model.predict(texts[:16])  # warm up: model loads
    ext.process_texts(texts[:16])
    out = {"n": len(texts), "torch_threads": 1}
    t = time.perf_counter()
    ext.process_texts(texts)
    out["bare_minilm_per_s"] = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    for x in texts:
        detect_language(x)
    out["language_detection_per_s"] = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    recs = model.predict(texts)
    out["routed_model_per_s"] = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    model.predict(texts, ["en"] * len(texts), lang_source="given")
    out["routed_model_language_given_per_s"] = len(texts) / (time.perf_counter() - t)
    out["heads_used"] = {h: sum(r["head"] == h for r in recs) for h in HEADS}
    return out


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

        rep = {"command": "python -m affectkit.analysis.text_emotion speed",
               "date": dt.date.today().isoformat(), "machine": platform.machine(),
               **bench_speed()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-speed.json").write_text(json.dumps(rep, indent=1))
    elif cmd == ["bias"]:
        import datetime as dt

        rep = {"command": "python -m affectkit.analysis.text_emotion bias",
               "date": dt.date.today().isoformat(), **eec_bias()}
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/text-emotion-eec.json").write_text(json.dumps(rep, indent=1))
    else:
        raise SystemExit("usage: python -m affectkit.analysis.text_emotion build [-q] | speed "
                         "| bias")
    print(json.dumps(rep, indent=1, default=float))


if __name__ == "__main__":  # pragma: no cover
    main()
