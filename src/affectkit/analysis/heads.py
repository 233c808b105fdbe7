"""Default text and voice models: trainer runs shipped under ``affectkit/weights/default``.

Each shipped model is a folder written by ``affect defaults build`` from a trainer run
(``configs/default/*.yaml``): ``config.json`` (resolved experiment config), ``task.json``
(labels, calibration), ``model.safetensors`` and ``inference.json`` (input dims/forms, the
labels' canonical names, validation/test metrics). Loading needs no corpus: features are
computed on the fly from the raw input with the same extractor the model was trained on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from affectkit.analysis.fusion import ModalityOutput
from affectkit.errors import ConfigError
from affectkit.taxonomy import CANONICAL_EMOTIONS, map_to_canonical, valence_sentiment
from affectkit.types import Modality

MISSING_HINT = ("the default models are not built; run `affect defaults build` "
                "(needs the training corpora, see docs/model_card.md)")


class RunModel:
    """A trained run folder, ready for inference on raw inputs of one modality.

    Reloaded through :class:`~affectkit.training.RunDir` like every other run; inference is a
    plain forward pass of the model (no trainer).
    """

    def __init__(self, folder: str | Path) -> None:
        from affectkit.training.checkpoint import RunDir

        rd = RunDir(folder)
        rd.require("config.json", "task.json", "model.safetensors", "inference.json",
                   hint=MISSING_HINT)
        self.folder = rd.path
        self.cfg = rd.config()
        self.info = rd.read("inference.json")
        self.modality = Modality.parse(self.info["modality"])
        self.extractor_name = self.cfg.features[str(self.modality)]
        self.kinds = {self.modality: self.info["kind"]}
        self.model, self.task = rd.load_model(
            cfg=self.cfg, input_dims={self.modality: int(self.info["input_dim"])})
        self._extract = _feature_fn(self.extractor_name)

    def outputs(self, raw_inputs: list) -> dict:
        """Model outputs (``logits``/``score`` ...) for raw inputs (strings or 16 kHz arrays)."""
        return self.outputs_from_features(self._extract(raw_inputs))

    def outputs_from_features(self, feats: list, batch_size: int = 256) -> dict:
        """Model outputs for features already computed with :attr:`extractor_name`."""
        import torch

        from affectkit.data.batch import collate

        outs: dict[str, list] = {}
        with torch.no_grad():
            for s in range(0, len(feats), batch_size):
                chunk = feats[s:s + batch_size]
                ids = [str(i) for i in range(len(chunk))]
                b = collate(ids, {self.modality: dict(zip(ids, chunk))}, self.kinds,
                            np.zeros(len(ids), dtype=np.float32),
                            max_tokens=self.cfg.data.max_tokens)
                o = self.model(b.inputs, lengths=b.lengths or None, masks=b.masks or None)
                for k, v in o.items():
                    outs.setdefault(k, []).append(v.detach().float())
        return {k: torch.cat(v) for k, v in outs.items()}

    def emotion_probs(self, raw_inputs: list | None = None, *, features: list | None = None) -> np.ndarray:
        """(N, 7) probabilities in canonical order (classes summed onto their canonical name)."""
        import torch

        out = self.outputs(raw_inputs) if features is None else self.outputs_from_features(features)
        logits = out["logits"]
        T = float(getattr(self.task, "temperature", 1.0) or 1.0)
        p = torch.softmax(logits / T, dim=-1).numpy()
        canon = np.zeros((len(p), len(CANONICAL_EMOTIONS)))
        for j, lab in enumerate(self.info["labels"]):
            c = map_to_canonical(lab)
            if c is None:
                raise ConfigError(f"{self.folder}: label {lab!r} has no canonical emotion")
            canon[:, CANONICAL_EMOTIONS.index(c)] += p[:, j]
        return canon

    def features(self, raw_inputs: list) -> list:
        return self._extract(raw_inputs)

    def scores(self, raw_inputs: list | None = None, *, features: list | None = None) -> np.ndarray:
        out = self.outputs(raw_inputs) if features is None else self.outputs_from_features(features)
        return np.clip(np.asarray(self.task.predict(out), dtype=float), -3, 3)


def _feature_fn(name: str):
    """Raw inputs → per-item features, with the extractor used at training time."""
    from affectkit.features.base import EXTRACTORS, get_extractor

    if name not in EXTRACTORS:
        raise ConfigError(f"features {name!r} cannot be computed from raw inputs at analysis "
                          "time (ship a model trained on a registered extractor)")
    ext = get_extractor(name)
    if ext.modality is Modality.TEXT:
        return lambda xs: ext.process_texts(list(xs))
    return lambda xs: [ext.process_signal(x, 16000) for x in xs]


class TextPredictor:
    """Transcript → emotion (MELD-trained head) and sentiment (MOSEI/MOSI-trained head)."""

    modality = "text"

    def __init__(self, emotion: RunModel, sentiment: RunModel | None) -> None:
        self.emotion, self.sentiment = emotion, sentiment

    @classmethod
    def load(cls, folder: Path) -> TextPredictor:
        sent = folder / "text_sentiment"
        return cls(RunModel(folder / "text_emotion"), RunModel(sent) if sent.exists() else None)

    def predict(self, texts: list[str]) -> list[ModalityOutput]:
        feats = self.emotion.features(texts)  # one MiniLM pass shared by both heads
        P = self.emotion.emotion_probs(features=feats)
        if self.sentiment is None:
            S = [valence_sentiment(p) for p in P]
        elif self.sentiment.extractor_name == self.emotion.extractor_name:
            S = self.sentiment.scores(features=feats)
        else:
            S = self.sentiment.scores(texts)
        return [ModalityOutput(p, float(s)) for p, s in zip(P, S)]


class VoicePredictor:
    """16 kHz speech slice → emotion (acted-speech-trained head); sentiment = expected valence."""

    modality = "audio"

    def __init__(self, emotion: RunModel) -> None:
        self.emotion = emotion

    @classmethod
    def load(cls, folder: Path) -> VoicePredictor:
        return cls(RunModel(folder / "voice_emotion"))

    def predict(self, signals: list[np.ndarray]) -> list[ModalityOutput]:
        P = self.emotion.emotion_probs(signals)
        return [ModalityOutput(p, valence_sentiment(p)) for p in P]
