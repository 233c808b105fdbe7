"""Dimensional emotion (valence/arousal ...) trained with 1 − CCC, one sample per utterance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit import metrics as M
from affectkit.tasks.base import TASKS, Task, ccc_torch


@TASKS.register("dimensional")
class DimensionalTask(Task):
    """Dimensional regression (valence/arousal/...) trained with 1 − CCC per dimension.

    Targets: float32 (N, D). Predictions: the model's ``"score"`` (N, D) or logits.
    """

    kind = "dimensional"
    default_key = "ccc_mean"
    curve_metric = "ccc_mean"
    metric_names = ("ccc_mean", "loss")
    label_keys = ("dimensional",)

    def __init__(self, labels: Sequence[str] = ("valence", "arousal"), **kw: Any) -> None:
        super().__init__(labels or ("valence", "arousal"), key_metric=kw.get("key_metric"))

    @classmethod
    def resolve_labels(cls, targets, configured, skipped):
        return list(configured or ("valence", "arousal"))

    def _pred(self, outputs):
        return outputs["score"] if "score" in outputs and outputs["score"].dim() == 2 else outputs["logits"]

    def loss(self, outputs, target):
        return 1.0 - ccc_torch(self._pred(outputs), target.float()).mean()

    def predict(self, outputs):
        return self._pred(outputs).detach().cpu().numpy()

    def metrics(self, y_true, y_pred):
        y_true, y_pred = np.asarray(y_true).reshape(len(y_true), -1), np.asarray(y_pred).reshape(len(y_pred), -1)
        per = {f"ccc_{n}": M.ccc(y_true[:, j], y_pred[:, j]) for j, n in enumerate(self.labels)}
        out = {"ccc_mean": float(np.mean(list(per.values()))), **per}
        out.update({f"mae_{n}": M.mae(y_true[:, j], y_pred[:, j]) for j, n in enumerate(self.labels)})
        out["n"] = int(len(y_true))
        return out
