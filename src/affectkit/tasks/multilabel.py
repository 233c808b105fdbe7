"""Multi-label emotions (GoEmotions), one sample per utterance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit import metrics as M
from affectkit.tasks.base import TASKS, Task


@TASKS.register("multilabel")
class MultiLabelTask(Task):
    """Multi-label emotions (GoEmotions). Targets: float32 0/1 matrix (N, L).

    Predictions are sigmoid probabilities; per-label thresholds are chosen on the validation
    split by :meth:`calibrate` (never on test) and used for every later evaluation.
    """

    kind = "multilabel"
    default_key = "macro_f1"
    curve_metric = "macro_f1"
    metric_names = ("macro_f1", "micro_f1", "loss")
    label_keys = ("emotions",)

    def __init__(self, labels: Sequence[str], *, key_metric: str | None = None, **kw: Any) -> None:
        super().__init__(labels, key_metric=key_metric)
        self.thresholds: np.ndarray | None = None

    @classmethod
    def resolve_labels(cls, targets, configured, skipped):
        labels = list(configured) if configured else sorted({c for y in targets.values() for c in y})
        keep = set(labels)
        for i in list(targets):
            ys = tuple(c for c in targets[i] if c in keep)
            if not ys:
                skipped["label not in data.labels"] += 1
                del targets[i]
            else:
                targets[i] = ys
        return labels

    def encode(self, ys):
        idx = {c: i for i, c in enumerate(self.labels)}
        y = np.zeros((len(ys), len(self.labels)), np.float32)
        for r, cs in enumerate(ys):
            for c in cs:
                y[r, idx[c]] = 1.0
        return y

    def loss(self, outputs, target):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(outputs["logits"], target.float())

    def predict(self, outputs):
        return outputs["logits"].sigmoid().detach().cpu().numpy()

    def calibrate(self, y_valid, p_valid):
        self.thresholds = M.choose_thresholds(y_valid, p_valid)

    def metrics(self, y_true, y_pred):
        if self.thresholds is None:
            # during training: tune on this very (validation) set, i.e. the figure selection
            # will use once calibrated; test is only ever scored after calibrate().
            th = M.choose_thresholds(y_true, y_pred)
        else:
            th = self.thresholds
        r = M.multilabel_metrics(y_true, y_pred, th, self.labels)
        r["thresholds"] = [float(x) for x in th]
        return r

    def state(self):
        s = super().state()
        s["thresholds"] = None if self.thresholds is None else self.thresholds.tolist()
        return s

    def load_state(self, state):
        super().load_state(state)
        if state.get("thresholds") is not None:
            self.thresholds = np.asarray(state["thresholds"], float)
