"""Single-label emotion (or any class) recognition, one sample per utterance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit import metrics as M
from affectkit.errors import ConfigError
from affectkit.tasks.base import TASKS, ClassLabels, Task


@TASKS.register("emotion")
class EmotionTask(ClassLabels, Task):
    """Single-label classification over the corpus's (or the canonical) label set.

    Targets: int64 class ids, shape (N,). Predictions: class ids (N,).
    """

    kind = "emotion"
    default_key = "ua"
    curve_metric = "ua"
    metric_names = ("ua", "wa", "macro_f1", "weighted_f1", "loss")
    label_keys = ("emotion", "emotion_original", "emotion_canonical", "sentiment_polarity")

    def __init__(self, labels: Sequence[str], *, key_metric: str | None = None,
                 class_weights: bool = False, label_smoothing: float = 0.0, **kw: Any) -> None:
        super().__init__(labels, key_metric=key_metric)
        if len(self.labels) < 2:
            raise ConfigError(f"{self.kind} task needs at least 2 labels, got {self.labels}")
        self.use_class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.weights: np.ndarray | None = None

    def fit_train(self, y_train: np.ndarray) -> None:
        if self.use_class_weights:
            y = np.asarray(y_train, int).ravel()
            y = y[y >= 0]
            counts = np.bincount(y, minlength=self.n_outputs).astype(float)
            self.weights = np.where(counts > 0,
                                    counts.sum() / np.maximum(counts, 1) / self.n_outputs, 0.0)

    def loss(self, outputs, target):
        import torch
        import torch.nn.functional as F

        w = None
        if self.weights is not None:
            w = torch.as_tensor(self.weights, dtype=outputs["logits"].dtype,
                                device=outputs["logits"].device)
        return F.cross_entropy(outputs["logits"], target.long(), weight=w,
                               label_smoothing=self.label_smoothing)

    def predict(self, outputs):
        return outputs["logits"].argmax(-1).cpu().numpy()

    def metrics(self, y_true, y_pred):
        return M.classification_metrics(y_true, y_pred, self.labels)

    def categories(self, target):
        return target.long()

    def state(self):
        s = super().state()
        s["class_weights"] = None if self.weights is None else self.weights.tolist()
        return s
