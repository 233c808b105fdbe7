"""Sentiment intensity regression on [−3, 3] (MOSI/MOSEI), one sample per utterance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from affectkit import metrics as M
from affectkit.tasks.base import TASKS, Task


@TASKS.register("sentiment")
class SentimentTask(Task):
    """Sentiment score regression on [−3, 3] (MOSI/MOSEI). Targets: float32 (N,).

    The model's ``"score"`` (or the single logit) is the prediction; L1 loss as in MMSA.
    """

    kind = "sentiment"
    default_key = "mae"
    curve_metric = "non0_f1"
    metric_names = ("mae", "non0_acc2", "has0_acc2", "non0_f1", "has0_f1", "acc7", "acc5",
                    "acc3", "corr", "loss")
    label_keys = ("sentiment",)

    def __init__(self, labels: Sequence[str] | None = None, **kw: Any) -> None:
        super().__init__(labels or ["sentiment"], key_metric=kw.get("key_metric"))

    @classmethod
    def resolve_labels(cls, targets, configured, skipped):
        return ["sentiment"]

    @property
    def n_outputs(self) -> int:
        return 1

    @staticmethod
    def _score(outputs):
        return outputs["score"] if "score" in outputs else outputs["logits"][:, 0]

    def loss(self, outputs, target):
        import torch.nn.functional as F

        return F.l1_loss(self._score(outputs).reshape(-1), target.float().reshape(-1))

    def predict(self, outputs):
        return self._score(outputs).reshape(-1).detach().cpu().numpy()

    def metrics(self, y_true, y_pred):
        return M.sentiment_metrics(y_true, y_pred)

    def categories(self, target):
        import torch

        return (torch.sign(target.float()) + 1).long()  # 0 negative, 1 neutral, 2 positive
