"""Conversations: emotion–cause links and grounded reasons for every non-neutral utterance.

:class:`CausePredictor` runs a trained ``dialogue.ecpe`` run folder (shipped as
``weights/default/conversation_causes``, built by ``affect defaults build --only
conversation_causes`` from ``configs/default/conversation_causes.yaml``: ECF train, threshold
chosen on validation) over a whole conversation: per-utterance context-aware emotion
probabilities and a (T, T) matrix of cause probabilities.

:func:`explain` attaches to each utterance whose fused emotion is not neutral a
:class:`Reason` record built only from what the analysis measured:

* ``causes``: earlier utterances (or the utterance itself) whose cause probability passes the
  model's validation threshold, best first — never a later utterance;
* ``words``: the words whose removal lowers the text model's probability of that emotion the
  most (occlusion attribution, one batched pass of the text predictor over the variants);
* ``cues``: the *present* modalities that moved the fused decision towards the emotion
  (their probability of it, relative to the modalities that were present);
* ``sentence``: a fixed template over those fields, e.g. *"Ben sounds angry (voice, text:
  'forgot') after Ana's 'you forgot again' (cause 0.81)."*

No free-text generation: a tiny local LLM paraphrase was not added (see docs/conversations.md).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from affectkit.errors import ConfigError
from affectkit.taxonomy import CANONICAL_EMOTIONS, map_to_canonical

MODALITY_WORDS = {"text": "words", "audio": "voice", "vision": "face"}
MAX_CAUSES = 3
MAX_WORDS = 3
WORD_RE = re.compile(r"\S+")


@dataclass
class Reason:
    """Why utterance ``utterance`` was given ``emotion`` (see the module docstring)."""

    utterance: int
    emotion: str
    causes: list[dict] = field(default_factory=list)   # {"utterance", "score", "speaker", "text"}
    words: list[dict] = field(default_factory=list)    # {"word", "weight"}
    cues: list[dict] = field(default_factory=list)     # {"modality", "share"}
    sentence: str = ""
    words_skipped: bool = False  # beyond the word-attribution budget of a long conversation

    def to_json(self) -> dict:
        return asdict(self)


class CausePredictor:
    """A trained emotion–cause run folder applied to a conversation."""

    def __init__(self, folder: str | Path) -> None:
        from affectkit.training.checkpoint import RunDir

        rd = RunDir(folder)
        rd.require("config.json", "model.json", "task.json", "model.safetensors",
                   hint="run `affect defaults build --only conversation_causes` (needs ECF)")
        self.cfg = rd.config(validate=False)
        self.model, self.task = rd.load_model(cfg=self.cfg)
        if "pair_logits" not in getattr(self.task, "extra_outputs", ()):
            raise ConfigError(f"{folder}: task {self.task.kind!r} predicts no cause pairs")
        self.extractor = self.cfg.features["text"]
        self.speaker_slots = self.cfg.data.speaker_slots

    #: conversations longer than this are scored in overlapping windows (memory stays bounded:
    #: the pair scorer is quadratic in the window, not in the conversation)
    window = 64

    def predict(self, texts: list[str], speakers: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """(T, 7) canonical emotion probabilities and (T, T) cause probabilities (row i =
        emotion utterance, column j = candidate cause). Long conversations are scored in
        windows of :attr:`window` utterances (stride half a window); each row comes from a
        window where it has at least a quarter window of earlier context, so causes further
        back than ~¾ of a window get probability 0."""
        from affectkit.features.base import get_extractor

        ext = get_extractor(self.extractor)
        feats = ext.process_texts([t if t and t.strip() else "…" for t in texts])
        T, W = len(texts), self.window
        if T <= W:
            return self._score(feats, speakers)
        E = np.zeros((T, len(CANONICAL_EMOTIONS)))
        P = np.zeros((T, T))
        for s in range(0, T, W // 2):
            e = min(T, s + W)
            s0 = max(0, e - W)
            e_w, p_w = self._score(feats[s0:e], speakers[s0:e])
            first = s0 + (W // 4 if s0 > 0 else 0)
            E[first:e] = e_w[first - s0:]
            P[first:e, s0:e] = p_w[first - s0:]
            if e == T:
                break
        return E, P

    def _score(self, feats: list, speakers: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from affectkit.data.batch import collate
        from affectkit.types import Modality

        ids = [str(i) for i in range(len(feats))]
        b = collate(["conversation"], {Modality.TEXT: dict(zip(ids, feats))},
                    {Modality.TEXT: "sequence"}, np.zeros(len(ids), np.int64), unit="dialogue",
                    groups=[ids], speakers=dict(zip(ids, speakers)),
                    speaker_slots=self.speaker_slots)
        with torch.no_grad():
            out = self.model(b.inputs, lengths=b.lengths)
        p = out["logits"][0].softmax(-1).numpy()
        canon = np.zeros((len(feats), len(CANONICAL_EMOTIONS)))
        for j, lab in enumerate(self.task.labels):
            c = map_to_canonical(lab)
            if c in CANONICAL_EMOTIONS:
                canon[:, CANONICAL_EMOTIONS.index(c)] += p[:, j]
        return canon, out["pair_logits"][0].sigmoid().numpy()

    @property
    def threshold(self) -> float:
        return float(self.task.threshold)


def modality_cues(per_modality: dict, emotion: str) -> list[dict]:
    """Present modalities ranked by their probability of ``emotion`` (share of the sum over
    the present modalities); a modality is a cue when it favours the emotion (its own top
    class) or gives it at least 40 % of the present modalities' probability mass."""
    k = CANONICAL_EMOTIONS.index(emotion)
    probs = {m: float(o.emotion_probs[k]) for m, o in per_modality.items() if o is not None}
    total = sum(probs.values()) or 1.0
    cues = []
    for m, p in sorted(probs.items(), key=lambda kv: -kv[1]):
        top = int(np.argmax(per_modality[m].emotion_probs)) == k
        if top or p / total >= 0.4:
            cues.append({"modality": m, "share": round(p / total, 3)})
    return cues


def word_attribution(text: str, emotion: str, text_predictor, max_words: int = 40) -> list[dict]:
    """Occlusion: the drop in the text model's probability of ``emotion`` when each word is
    removed (the first ``max_words`` words); positive weights only, best first."""
    words = WORD_RE.findall(text or "")[:max_words]
    if len(words) < 2 or text_predictor is None:
        return []
    k = CANONICAL_EMOTIONS.index(emotion)
    variants = [text] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    outs = text_predictor.predict(variants)
    base = float(outs[0].emotion_probs[k])
    drops = [(w, base - float(o.emotion_probs[k])) for w, o in zip(words, outs[1:])]
    drops = [(re.sub(r"^\W+|\W+$", "", w) or w, d) for w, d in drops if d > 0.01]
    return [{"word": w, "weight": round(d, 3)}
            for w, d in sorted(drops, key=lambda x: -x[1])[:MAX_WORDS]]


def _quote(text: str | None, n: int = 60) -> str:
    t = " ".join((text or "").split())
    return f"'{t[:n - 1]}…'" if len(t) > n else f"'{t}'"


def sentence(r: Reason, speaker: str | None, utts: list) -> str:
    """The template: who, the emotion, the cues (and key words), the best cause."""
    who = speaker or f"Utterance {r.utterance + 1}"
    cue = ", ".join(MODALITY_WORDS.get(c["modality"], c["modality"]) for c in r.cues)
    words = ", ".join(f"'{w['word']}'" for w in r.words)
    inner = "; ".join(x for x in (cue, f"key words {words}" if words else "") if x)
    s = f"{who} sounds {r.emotion}" + (f" ({inner})" if inner else "")
    if r.causes:
        c = r.causes[0]
        if c["utterance"] == r.utterance:
            s += f" because of what they say here (cause {c['score']:.2f})"
        else:
            src = utts[c["utterance"]]
            whose = f"{src.speaker}'s" if src.speaker else f"utterance {c['utterance'] + 1}:"
            s += f" after {whose} {_quote(src.text)} (cause {c['score']:.2f})"
    return s + "."


def explain(utts: list, *, causes: tuple[np.ndarray, float] | None = None,
            text_predictor=None, max_attributed: int = 300) -> list[Reason]:
    """Reason records for the non-neutral utterances of one conversation (in order).

    Args:
        utts: :class:`~affectkit.analysis.results.UtteranceResult` of the conversation.
        causes: ``(pair probabilities (T, T), threshold)`` from :class:`CausePredictor`, or
            ``None`` (no cause links).
        text_predictor: the text predictor (for word attribution), or ``None``.
        max_attributed: word attribution for at most this many utterances (it costs one
            text-model pass per word); the later ones get ``words = []`` and
            ``words_skipped = True``.
    """
    reasons = []
    attributed = 0
    for i, u in enumerate(utts):
        emo = u.emotion
        if emo is None or emo == "neutral":
            continue
        r = Reason(i, emo)
        if causes is not None:
            pairs, th = causes
            cand = [(j, float(pairs[i, j])) for j in range(i + 1) if pairs[i, j] >= th]
            for j, s in sorted(cand, key=lambda x: -x[1])[:MAX_CAUSES]:
                r.causes.append({"utterance": j, "score": round(s, 3),
                                 "speaker": utts[j].speaker, "text": utts[j].text})
        r.cues = modality_cues(u.per_modality, emo)
        if u.text and "text" in u.per_modality:
            if attributed < max_attributed:
                r.words = word_attribution(u.text, emo, text_predictor)
                attributed += 1
            else:
                r.words_skipped = True
        r.sentence = sentence(r, u.speaker, utts)
        reasons.append(r)
    return reasons
