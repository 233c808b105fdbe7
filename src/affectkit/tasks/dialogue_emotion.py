"""Emotion recognition in conversation with the dialogue as the sample unit.

One training sample is a whole conversation: the model sees the utterance features of the
dialogue in order (``(B, T, D)`` with lengths) and returns per-utterance logits ``(B, T, C)``;
targets are ``(B, T)`` class ids padded with :attr:`pad_value`, which the loss and the metrics
ignore. Metrics are computed over utterances, so they are comparable with ``emotion``.
"""

from __future__ import annotations

import numpy as np

from affectkit import metrics as M
from affectkit.tasks.base import TASKS
from affectkit.tasks.emotion import EmotionTask


@TASKS.register("dialogue_emotion")
class DialogueEmotionTask(EmotionTask):
    """Per-utterance emotion classes, one sample per dialogue. Targets: int64 (B, T), padded."""

    kind = "dialogue_emotion"
    unit = "dialogue"

    def loss(self, outputs, target):
        import torch
        import torch.nn.functional as F

        logits = outputs["logits"]
        w = None
        if self.weights is not None:
            w = torch.as_tensor(self.weights, dtype=logits.dtype)
        T = min(logits.shape[1], target.shape[1])
        return F.cross_entropy(logits[:, :T].reshape(-1, logits.shape[-1]),
                               target[:, :T].reshape(-1).long(), weight=w,
                               ignore_index=int(self.pad_value),
                               label_smoothing=self.label_smoothing)

    def predict(self, outputs):
        return outputs["logits"].argmax(-1).cpu().numpy()

    def metrics(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        T = min(y_true.shape[1], np.asarray(y_pred).shape[1])
        t, p = y_true[:, :T].ravel(), np.asarray(y_pred)[:, :T].ravel()
        keep = t != self.pad_value
        return M.classification_metrics(t[keep], p[keep], self.labels)
