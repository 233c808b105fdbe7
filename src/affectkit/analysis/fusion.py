"""Probability-guided late fusion that works with any subset of modalities.

Each modality m that is present gives calibrated emotion probabilities ``p_m`` (7 canonical
emotions), a sentiment score ``s_m`` in [−3, 3] and a confidence ``c_m`` in [0, 1]
(1 − normalised entropy of ``p_m``). Fused output:

    p = Σ_m w_m c_m p_m / Σ_m w_m c_m          s = Σ_m v_m c_m s_m / Σ_m v_m c_m

with reliability weights ``w`` (emotion) and ``v`` (sentiment) per modality, after each
modality's probabilities are calibrated by a temperature (:meth:`LateFusion.calibrate`). The
shipped weights and temperatures come from each model's accuracy on a corpus it was not trained
on (``affect defaults fit-fusion``); :func:`fit_weights` fits weights on any validation set. This is the "probability-guided fusion" idea of the
Broad-Mamba ERC paper reduced to what is robust with missing modalities: a missing modality
simply has no term, so no imputation is needed, and an unsure modality (flat ``p_m``) counts less.
A linear opinion pool (rather than a product of experts) is used so that one over-confident
wrong modality cannot veto the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from affectkit.taxonomy import CANONICAL_EMOTIONS

N_EMO = len(CANONICAL_EMOTIONS)


def confidence(p: np.ndarray) -> float:
    """1 − H(p)/log K: 1 for a one-hot, 0 for uniform."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1.0)
    h = -(p * np.log(p)).sum()
    return float(1.0 - h / np.log(len(p)))


@dataclass
class ModalityOutput:
    emotion_probs: np.ndarray  # (7,), sums to 1
    sentiment: float | None = None  # [-3, 3]
    confidence: float | None = None
    #: text valence/arousal on −1…1 (:mod:`affectkit.analysis.text_dimensions`), else None
    dimensions: dict[str, float] | None = None

    def __post_init__(self) -> None:
        p = np.asarray(self.emotion_probs, dtype=float)
        if p.shape != (N_EMO,):
            raise ValueError(f"emotion_probs must have shape ({N_EMO},), got {p.shape}")
        self.emotion_probs = p / p.sum()
        if self.confidence is None:
            self.confidence = confidence(self.emotion_probs)


@dataclass
class LateFusion:
    """Confidence- and reliability-weighted opinion pool over present modalities."""

    emotion_weights: dict[str, float] = field(
        default_factory=lambda: {"text": 1.0, "audio": 1.0, "vision": 1.0})
    sentiment_weights: dict[str, float] = field(
        default_factory=lambda: {"text": 1.0, "audio": 1.0, "vision": 1.0})
    temperatures: dict[str, float] = field(default_factory=dict)
    min_weight: float = 1e-3
    #: a modality whose top class is neutral abstains (weight ``min_weight``) when another
    #: present modality's top class is an emotion: a still face or a flat voice does not
    #: outvote the modality that does show the emotion; when every modality reads neutral, they
    #: pool as usual. A fixed, documented rule (not fitted: there is no labelled
    #: conversational emotion video to fit it on)
    neutral_abstains: bool = False
    #: whether the abstention also applies to the sentiment pool (``None``: as
    #: :attr:`neutral_abstains`). On mosi400 training videos it hurt sentiment in 12 of 12
    #: folds (a text read as emotionally neutral still carries its opinion), so the shipped
    #: ``fusion.json`` sets it ``false`` (``python -m affectkit.evaluation.fusion_mosi400``)
    sentiment_abstains: bool | None = None

    def calibrate(self, modality: str, out: ModalityOutput) -> ModalityOutput:
        """Temperature-scale a modality's probabilities (softmax(log p / T)); confidence is
        recomputed, sentiment kept."""
        t = self.temperatures.get(modality, 1.0)
        if t == 1.0:
            return out
        z = np.log(np.clip(out.emotion_probs, 1e-8, 1.0)) / t
        p = np.exp(z - z.max())
        return ModalityOutput(p / p.sum(), out.sentiment, dimensions=out.dimensions)

    def __call__(self, outputs: Mapping[str, ModalityOutput]) -> ModalityOutput | None:
        if not outputs:
            return None
        ws, ps = [], []
        ab = self._abstentions(outputs)
        for m, o in outputs.items():
            ws.append(max(self.emotion_weights.get(m, 1.0) * o.confidence * ab[m], self.min_weight))
            ps.append(o.emotion_probs)
        w = np.asarray(ws)
        p = (w[:, None] * np.stack(ps)).sum(0) / w.sum()
        sab = ab if self.sentiment_abstains in (None, True) else {m: 1.0 for m in outputs}
        sv = [(max(self.sentiment_weights.get(m, 1.0) * o.confidence * sab[m], self.min_weight),
               o.sentiment) for m, o in outputs.items() if o.sentiment is not None]
        s = (sum(a * b for a, b in sv) / sum(a for a, _ in sv)) if sv else None
        return ModalityOutput(p, s)

    def _abstentions(self, outputs: Mapping[str, ModalityOutput]) -> dict[str, float]:
        """1 for a voting modality, 0 for one that abstains (see :attr:`neutral_abstains`)."""
        k = CANONICAL_EMOTIONS.index("neutral")
        neutral = {m: int(np.argmax(o.emotion_probs)) == k for m, o in outputs.items()}
        if not self.neutral_abstains or all(neutral.values()):
            return {m: 1.0 for m in outputs}
        return {m: 0.0 if neutral[m] else 1.0 for m in outputs}

    def to_dict(self) -> dict:
        return {"emotion_weights": self.emotion_weights,
                "sentiment_weights": self.sentiment_weights, "temperatures": self.temperatures,
                "neutral_abstains": self.neutral_abstains,
                "sentiment_abstains": self.sentiment_abstains}


def fit_weights(
    outputs: list[Mapping[str, ModalityOutput]],
    targets: list[float] | list[int],
    *,
    kind: str,
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
) -> dict[str, float]:
    """Grid-search reliability weights on validation items.

    ``kind="emotion"``: maximise accuracy (targets are canonical emotion ids).
    ``kind="sentiment"``: maximise Pearson r (targets are scores).
    Items may lack modalities; the search covers every modality seen.
    """
    import itertools

    mods = sorted({m for o in outputs for m in o})
    best, best_score = {m: 1.0 for m in mods}, -np.inf
    t = np.asarray(targets, dtype=float)
    for combo in itertools.product(grid, repeat=len(mods)):
        if not any(combo):
            continue
        w = dict(zip(mods, combo))
        fuse = LateFusion(emotion_weights=w, sentiment_weights=w)
        fused = [fuse(o) for o in outputs]
        if kind == "emotion":
            pred = np.array([f.emotion_probs.argmax() for f in fused])
            score = float((pred == t).mean())
        elif kind == "sentiment":
            pred = np.array([f.sentiment if f.sentiment is not None else 0.0 for f in fused])
            score = float(np.corrcoef(pred, t)[0, 1]) if pred.std() > 0 else -np.inf
        else:
            raise ValueError(f"kind must be 'emotion' or 'sentiment', got {kind!r}")
        if score > best_score + 1e-9:
            best, best_score = w, score
    return best
