"""Text valence and arousal for ``affect analyze``: the shipped EmoBank head.

The head (``weights/default/text_dimensions``) is an ordinary trainer run exported by
``affect defaults build --only text_dimensions`` from ``configs/default/text_dimensions.yaml``:
an MLP on the frozen MiniLM sentence vector (``text.minilm``) trained on EmoBank's train split
with the CCC loss (task ``dimensional``), selected on its dev split; its test CCC is recorded
in ``inference.json`` and docs/model_card.md.

It reads the *same* MiniLM vectors as the union emotion and sentiment heads
(:func:`affectkit.analysis.text_emotion.embed`, memoised), so it costs no second encoder pass.

Scale: EmoBank rates valence and arousal on 1–5 (SAM); the analyzer reports
``(x − 3) / 2`` clipped to −1…1 (−1 = most negative / calmest, 0 = neutral, 1 = most
positive / most aroused). The head is English-trained: other languages get no value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parents[1] / "weights" / "default" / "text_dimensions"
DIMENSIONS = ("valence", "arousal")
ENCODER = "text.minilm"


def to_unit(x: np.ndarray) -> np.ndarray:
    """EmoBank's 1–5 scale → −1…1."""
    return np.clip((np.asarray(x, np.float64) - 3.0) / 2.0, -1.0, 1.0)


class DimensionalHead:
    """``from_features(X)`` / ``scores(texts)`` → {dimension: (N,) values on −1…1}."""

    def __init__(self, folder: str | Path | None = None) -> None:
        from affectkit.analysis.heads import RunModel
        from affectkit.errors import ConfigError

        self.folder = Path(folder) if folder else FOLDER
        self.run = RunModel(self.folder)
        if self.run.extractor_name != ENCODER:
            raise ConfigError(f"{self.folder}: trained on {self.run.extractor_name!r}; the "
                              f"analyzer shares {ENCODER!r} vectors — rebuild with "
                              "`affect defaults build --only text_dimensions`")
        self.labels = list(self.run.info["labels"])
        missing = [d for d in DIMENSIONS if d not in self.labels]
        if missing:
            raise ConfigError(f"{self.folder}: no {missing} output (labels {self.labels})")

    def from_features(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = self.run.outputs_from_features(list(np.asarray(X, np.float32)))
        key = "score" if "score" in out and out["score"].dim() == 2 else "logits"
        Y = out[key].numpy()
        return {d: to_unit(Y[:, self.labels.index(d)]) for d in DIMENSIONS}

    def scores(self, texts: list[str]) -> dict[str, np.ndarray]:
        from affectkit.analysis.text_emotion import embed

        return self.from_features(embed(ENCODER, list(texts)))


def load_default() -> DimensionalHead | None:
    """The shipped head, or ``None`` when it was not built (valence/arousal are then absent)."""
    if not (FOLDER / "model.safetensors").is_file():
        return None
    return DimensionalHead(FOLDER)
