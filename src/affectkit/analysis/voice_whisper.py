"""The shipped voice emotion model on Whisper encoder features (issue 11).

``16 kHz slice → audio.whisper (Whisper base encoder, loudness-normalised, mean ‖ std, 1024-d)
→ standardise → head → 7 canonical emotion probabilities``; sentiment is the expected valence
(:func:`affectkit.taxonomy.valence_sentiment`), as for the other voice model.

Training data: every shared speech corpus — RAVDESS (calm → neutral), TESS (ps → surprised),
EmoDB (boredom left out), EMOVO, URDU — with sample weights that give every (corpus, class)
cell the same total, so no corpus and no class dominates. The head's hyper-parameter (C for the
logistic regression, the epoch for the MLP) is chosen on one held-out speaker group per corpus
(20 % of TESS's items) and the head is refit on everything (LR). Its cross-corpus behaviour is
the leave-one-corpus-out table of ``affect bench generalise --modality audio`` (same head, same
weights, each corpus held out in turn).

Two heads are shipped:

* ``head.safetensors`` — on the raw features; used for a single clip or a few.
* ``head_adapted.safetensors`` — on *speaker-normalised* features (each training speaker's
  vectors z-scored with that speaker's mean and sd). :meth:`WhisperVoicePredictor.predict`
  uses it when it is given at least :data:`ADAPT_MIN` slices at once (``affect analyze`` passes
  all the voice slices of one file, or of one diarised speaker when diarisation labelled
  them), z-scoring them with their own mean and sd first. In the leave-one-corpus-out table
  this is the "speaker norm" row: it removes most of the per-corpus class skew (largest
  predicted share 44 % on held-out RAVDESS, ≤ 38 % on the other four, 4 classes; ≤ 30 % on
  all five with the canonical set) but it assumes the slices span several emotions: a
  recording in one single emotion is pulled towards the middle.

Each ``*.safetensors`` holds ``mu``, ``sd`` and the layers ``W1``, ``b1`` [, ``W2``, ``b2``];
``model.json`` has the labels, the extractor and its parameters, head kinds, training counts,
validation metrics and the build date. Inference is NumPy only; the extractor's model load is
shared with speech recognition.

Build it with ``affect defaults build-voice`` (:func:`affectkit.evaluation.voice_build.build`;
this module only runs the shipped heads).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from affectkit.analysis.fusion import ModalityOutput
from affectkit.errors import ConfigError
from affectkit.taxonomy import CANONICAL_EMOTIONS

FOLDER_NAME = "voice_emotion_whisper"
FEATURE = "audio.whisper"
ADAPT_MIN = 12  # slices needed before the speaker-normalised head is used


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class WhisperVoicePredictor:
    """Loudness-invariant voice emotion on Whisper base encoder features."""

    modality = "audio"
    name = "audio.whisper-voice"

    def __init__(self, folder: str | Path) -> None:
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not (folder / "head.safetensors").is_file() or not (folder / "model.json").is_file():
            raise ConfigError(f"{folder}: head.safetensors / model.json missing; build the voice "
                              "model with `affect defaults build-voice` (needs the shared corpora)")
        self.folder = folder
        self.info = json.loads((folder / "model.json").read_text())
        self.params = load_file(str(folder / "head.safetensors"))
        ad = folder / "head_adapted.safetensors"
        self.adapted = load_file(str(ad)) if ad.is_file() else None
        self.labels = list(self.info["labels"])
        bad = [lab for lab in self.labels if lab not in CANONICAL_EMOTIONS]
        if bad:
            raise ConfigError(f"{folder}/model.json: labels {bad} are not canonical emotions")
        self._cols = [CANONICAL_EMOTIONS.index(lab) for lab in self.labels]
        self._ext = None

    @classmethod
    def load(cls, folder: str | Path) -> WhisperVoicePredictor:
        folder = Path(folder)
        return cls(folder / FOLDER_NAME if (folder / FOLDER_NAME).is_dir() else folder)

    @property
    def extractor(self):
        if self._ext is None:
            from affectkit.features import get_extractor

            self._ext = get_extractor(self.info["extractor"], **self.info["extractor_params"])
        return self._ext

    def probs_from_features(self, feats: np.ndarray, *, adapt: bool | None = None) -> np.ndarray:
        """(N, 7) canonical probabilities from (N, 1024) ``audio.whisper`` vectors.

        ``adapt``: z-score the N vectors with their own statistics and use the speaker-
        normalised head; ``None`` = when N >= :data:`ADAPT_MIN` and that head is shipped."""
        feats = np.asarray(feats, np.float64)
        if adapt is None:
            adapt = self.adapted is not None and len(feats) >= ADAPT_MIN
        if adapt:
            if self.adapted is None:
                raise ConfigError(f"{self.folder}: no head_adapted.safetensors; rebuild the "
                                  "voice model with `affect defaults build-voice`")
            p = self.adapted
            feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-6)
        else:
            p = self.params
        z = (feats - p["mu"]) / p["sd"]
        z = z @ p["W1"].T + p["b1"]
        if "W2" in p:
            z = _gelu(z) @ p["W2"].T + p["b2"]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        q = e / e.sum(axis=1, keepdims=True)
        out = np.zeros((len(q), len(CANONICAL_EMOTIONS)))
        out[:, self._cols] = q
        return out

    def features(self, signals: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.extractor.process_signal(x, 16_000) for x in signals])

    def predict(self, signals: list[np.ndarray]) -> list[ModalityOutput]:
        from affectkit.taxonomy import valence_sentiment

        if not signals:
            return []
        P = self.probs_from_features(self.features(signals))
        return [ModalityOutput(p, valence_sentiment(p)) for p in P]
