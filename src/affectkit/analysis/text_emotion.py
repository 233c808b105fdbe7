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

Build: ``python -m affectkit.evaluation.text_emotion build`` (writes
``affectkit/weights/text_emotion_union/``; training code lives in ``evaluation/``, this module
only runs the shipped heads).
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
# sub-folder of WEIGHTS holding the conversation-mode adapter of ``en_minilm`` (optional)
CONVERSATION_ADAPTER = "en_minilm_conversation"


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
                              "`python -m affectkit.evaluation.text_emotion build`")
        info = json.loads((folder / "head.json").read_text())
        model = _module(384, len(info["classes"]), info.get("hidden", HIDDEN))
        model.load_state_dict(load_file(str(folder / "head.safetensors")))
        model.eval()
        return cls(folder.name, info["encoder"], tuple(info["classes"]),
                   float(info["neutral_bias"]), model, info)

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Raw logits (before the neutral bias)."""
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(np.asarray(X, np.float32))).numpy()

    def probs(self, X: np.ndarray) -> np.ndarray:
        return _softmax_with_bias(self.logits(X), self.classes, self.neutral_bias)


def _softmax_with_bias(z: np.ndarray, classes: tuple[str, ...], bias: float) -> np.ndarray:
    z = np.array(z, dtype=np.float64)
    if "neutral" in classes:
        z[:, classes.index("neutral")] += bias
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


@dataclass
class ConversationAdapter:
    """Conversation mode of the English head: a residual head whose logits are *added* to the
    general head's raw logits, with its own neutral bias (``head.json``: ``neutral_bias``).

    Trained on the train parts of MELD and IEMOCAP (spoken dialogue: TV series, acted dyads)
    on top of the frozen general head, epoch and neutral bias chosen on their validation
    parts (``python -m affectkit.evaluation.text_emotion build-conversation``). Used only when
    the input *is* a conversation (a conversation file with speaker turns), never chosen by
    corpus: the general head stays what the leave-one-corpus-out table measures."""

    base: LoadedHead
    model: object
    neutral_bias: float
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, base: LoadedHead) -> ConversationAdapter:
        from safetensors.torch import load_file

        info = json.loads((folder / "head.json").read_text())
        if tuple(info["classes"]) != base.classes:
            from affectkit.errors import ConfigError

            raise ConfigError(f"{folder}: adapter classes {info['classes']} differ from the "
                              f"general head's {list(base.classes)}; rebuild it with "
                              "`python -m affectkit.evaluation.text_emotion build-conversation`")
        model = _module(384, len(info["classes"]), info.get("hidden", HIDDEN))
        model.load_state_dict(load_file(str(folder / "head.safetensors")))
        model.eval()
        return cls(base, model, float(info["neutral_bias"]), info)

    weighting = "one equal share per conversation corpus, natural class frequencies"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.base.classes

    @property
    def encoder(self) -> str:
        return self.base.encoder

    def logits(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            d = self.model(torch.from_numpy(np.asarray(X, np.float32))).numpy()
        return self.base.logits(X) + d

    def probs(self, X: np.ndarray) -> np.ndarray:
        return _softmax_with_bias(self.logits(X), self.classes, self.neutral_bias)


def _windows(text: str, n: int = MINILM_WINDOW_WORDS) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + n]) for i in range(0, len(words), n)] or [text]


_EMBED_MEMO: dict = {}


def embed(encoder: str, texts: list[str]) -> np.ndarray:
    """Utterance vectors; MiniLM texts longer than a window are windowed and averaged.

    The last two results are memoised by (encoder, texts), so the emotion heads and the
    sentiment head share one encoder pass over the same utterances."""
    key = (encoder, tuple(texts))
    if key in _EMBED_MEMO:
        return _EMBED_MEMO[key].copy()
    out = _embed(encoder, texts)
    if len(_EMBED_MEMO) >= 2:
        _EMBED_MEMO.pop(next(iter(_EMBED_MEMO)))
    _EMBED_MEMO[key] = out
    return out


def _embed(encoder: str, texts: list[str]) -> np.ndarray:
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
        conv = folder / CONVERSATION_ADAPTER
        self.conversation = (ConversationAdapter.load(conv, self.heads["en_minilm"])
                             if (conv / "head.json").is_file() else None)

    def route(self, lang: str | None) -> str:
        return "en_minilm" if lang == "en" else "multi_e5"

    def predict(self, texts: list[str], langs: list[str | None] | None = None,
                lang_source: str = "given", *, conversation: bool = False) -> list[dict]:
        """One record per text: ``label``, ``probs`` (canonical 7; classes a head lacks get 0),
        ``lang``, ``lang_source`` (``given`` / ``detected`` / ``none``), ``head``.

        ``conversation=True`` (the texts are the turns of one conversation): English turns go
        through the conversation adapter (:class:`ConversationAdapter`) when one is shipped;
        their record's ``head`` stays ``en_minilm`` and ``mode`` says ``conversation``.

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
            if conversation and head_name == "en_minilm" and self.conversation is not None:
                head = self.conversation
                for i in idx:
                    recs[i]["mode"] = "conversation"
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

    ``dimensions``: a :class:`~affectkit.analysis.text_dimensions.DimensionalHead` (EmoBank
    valence/arousal, English): English texts get ``ModalityOutput.dimensions`` from the same
    MiniLM vectors (memoised, no second encoder pass); other texts get none.
    """

    modality = "text"

    def __init__(self, model: TextEmotionModel | None = None, sentiment=None,
                 dimensions=None) -> None:
        self.model = model or TextEmotionModel()
        self.sentiment = sentiment
        self.dimensions = dimensions
        self.last_records: list[dict] = []

    def predict(self, texts: list[str], languages: list[str | None] | None = None, *,
                conversation: bool = False):
        from affectkit.analysis.fusion import ModalityOutput
        from affectkit.taxonomy import valence_sentiment

        recs = self.model.predict(texts, languages, lang_source="asr",
                                  conversation=conversation)
        english = [i for i, r in enumerate(recs) if r["head"] == "en_minilm"]
        sent: dict[int, float] = {}
        if self.sentiment is not None and english:
            scores = self.sentiment.scores([texts[i] for i in english])
            sent = {i: float(v) for i, v in zip(english, scores, strict=True)}
        dims: dict[int, dict[str, float]] = {}
        if self.dimensions is not None and english:
            D = self.dimensions.scores([texts[i] for i in english])
            dims = {i: {k: float(v[j]) for k, v in D.items()} for j, i in enumerate(english)}
        outs = []
        for i, r in enumerate(recs):
            if r["probs"] is None:  # empty text: uniform, zero confidence
                p = np.full(len(CANONICAL_EMOTIONS), 1.0 / len(CANONICAL_EMOTIONS))
                outs.append(ModalityOutput(p, 0.0, 0.0))
                continue
            p = np.asarray([r["probs"][k] for k in CANONICAL_EMOTIONS]) + 1e-9
            s = sent.get(i)
            r["sentiment_source"] = "head" if s is not None else "emotion valence"
            outs.append(ModalityOutput(p, s if s is not None else valence_sentiment(p),
                                       dimensions=dims.get(i)))
        self.last_records = recs
        return outs


class SentimentHead:
    """The exported union sentiment head: ``scores(texts)`` → −3…3 (the ``.scores`` contract
    that ``analysis.text_emotion.UnionTextPredictor`` expects of a sentiment model)."""

    def __init__(self, folder=None) -> None:
        from pathlib import Path

        import torch
        from safetensors.torch import load_file

        from affectkit.errors import ConfigError

        folder = Path(folder) if folder else (Path(__file__).resolve().parents[1] / "weights"
                                              / "text_sentiment_union")
        if not (folder / "head.safetensors").is_file():
            raise ConfigError(f"{folder}: no head.safetensors; export it with "
                              "`python -m affectkit.evaluation.text_sentiment_union --save`")
        self.info = json.loads((folder / "head.json").read_text())
        self.model = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(384, 256),
                                         torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                         torch.nn.Linear(256, 1))
        self.model.load_state_dict(load_file(str(folder / "head.safetensors")))
        self.model.eval()

    def scores_from_features(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            s = self.model(torch.from_numpy(np.asarray(X, np.float32))).squeeze(1).numpy()
        return np.clip(s, -3.0, 3.0)

    def scores(self, texts: list[str]) -> np.ndarray:
        from affectkit.analysis.text_emotion import embed

        return self.scores_from_features(embed("text.minilm", list(texts)))
