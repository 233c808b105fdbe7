"""Tasks: what is predicted, its loss, its metrics and its key metric. Models don't own tasks.

A :class:`Task` reads a model's output dict (``"logits"`` for classes, ``"score"`` for
regression), computes the training loss, turns outputs into predictions, and scores them with
:mod:`affectkit.metrics`. The key metric (with its direction) drives early stopping and model
selection on the validation split only.

Kinds (registry :data:`TASKS`): ``sentiment`` (−3..3 regression, L1 loss as in MMSA),
``emotion`` (single-label cross-entropy), ``multilabel`` (sigmoid BCE, per-label thresholds
chosen on the development split), ``dimensional`` (1 − CCC loss per dimension).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from affectkit import metrics as M
from affectkit.errors import ConfigError
from affectkit.registry import Registry

if TYPE_CHECKING:
    import torch

TASKS: Registry[type[Task]] = Registry("task")

# Direction of every metric a task may be selected on.
LOWER_IS_BETTER = {"mae", "loss"}


class Task:
    """Base class.

    Attributes:
        kind: registry name.
        labels: class/label/dimension names in output order.
        n_outputs: width of the model head.
        default_key: metric used for model selection unless the config names another.
    """

    kind: ClassVar[str]
    default_key: ClassVar[str]
    metric_names: ClassVar[tuple[str, ...]]

    def __init__(self, labels: Sequence[str] | None = None, *, key_metric: str | None = None,
                 **_: Any) -> None:
        self.labels = list(labels) if labels is not None else []
        self.key_metric = key_metric or self.default_key
        if self.key_metric not in self.metric_names:
            raise ConfigError(
                f"task.key_metric={self.key_metric!r} is not a {self.kind} metric; "
                f"allowed: {', '.join(self.metric_names)}"
            )

    @property
    def greater_is_better(self) -> bool:
        return self.key_metric not in LOWER_IS_BETTER

    def better(self, a: float, b: float | None) -> bool:
        """Is key-metric value ``a`` better than ``b`` (``None`` = nothing yet)?"""
        if b is None or np.isnan(b):
            return not np.isnan(a)
        return a > b if self.greater_is_better else a < b

    @property
    def n_outputs(self) -> int:
        return len(self.labels)

    # -- to implement -------------------------------------------------------------------------
    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, outputs: dict[str, torch.Tensor]) -> np.ndarray:
        """Model outputs → what metrics consume (class ids, scores, probabilities)."""
        raise NotImplementedError

    def metrics(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        raise NotImplementedError

    # -- optional -----------------------------------------------------------------------------
    def fit_train(self, y_train: np.ndarray) -> None:
        """See the training targets (class weights, target scaling). Default: nothing."""

    def calibrate(self, y_valid: np.ndarray, p_valid: np.ndarray) -> None:
        """Fit post-processing on the validation split (thresholds). Default: nothing."""

    def state(self) -> dict:
        """JSON-able state saved beside a checkpoint (labels, thresholds, ...)."""
        return {"kind": self.kind, "labels": self.labels, "key_metric": self.key_metric}

    def load_state(self, state: dict) -> None:
        self.labels = list(state.get("labels", self.labels))


@TASKS.register("emotion")
class EmotionTask(Task):
    """Single-label classification over the corpus's (or the canonical) label set.

    Targets: int64 class ids, shape (N,). Predictions: class ids (N,).
    """

    kind = "emotion"
    default_key = "ua"
    metric_names = ("ua", "wa", "macro_f1", "weighted_f1", "loss")

    def __init__(self, labels: Sequence[str], *, key_metric: str | None = None,
                 class_weights: bool = False, label_smoothing: float = 0.0, **kw: Any) -> None:
        super().__init__(labels, key_metric=key_metric)
        if len(self.labels) < 2:
            raise ConfigError(f"emotion task needs at least 2 labels, got {self.labels}")
        self.use_class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.weights: np.ndarray | None = None

    def fit_train(self, y_train: np.ndarray) -> None:
        if self.use_class_weights:
            counts = np.bincount(np.asarray(y_train, int), minlength=self.n_outputs).astype(float)
            w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / self.n_outputs, 0.0)
            self.weights = w

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

    def state(self):
        s = super().state()
        s["class_weights"] = None if self.weights is None else self.weights.tolist()
        return s


@TASKS.register("sentiment")
class SentimentTask(Task):
    """Sentiment score regression on [−3, 3] (MOSI/MOSEI). Targets: float32 (N,).

    The model's ``"score"`` (or the single logit) is the prediction; L1 loss as in MMSA.
    """

    kind = "sentiment"
    default_key = "mae"
    metric_names = ("mae", "non0_acc2", "has0_acc2", "non0_f1", "has0_f1", "acc7", "acc5",
                    "acc3", "corr", "loss")

    def __init__(self, labels: Sequence[str] | None = None, **kw: Any) -> None:
        super().__init__(labels or ["sentiment"], key_metric=kw.get("key_metric"))

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


@TASKS.register("multilabel")
class MultiLabelTask(Task):
    """Multi-label emotions (GoEmotions). Targets: float32 0/1 matrix (N, L).

    Predictions are sigmoid probabilities; per-label thresholds are chosen on the validation
    split by :meth:`calibrate` (never on test) and used for every later evaluation.
    """

    kind = "multilabel"
    default_key = "macro_f1"
    metric_names = ("macro_f1", "micro_f1", "loss")

    def __init__(self, labels: Sequence[str], *, key_metric: str | None = None, **kw: Any) -> None:
        super().__init__(labels, key_metric=key_metric)
        self.thresholds: np.ndarray | None = None

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


@TASKS.register("dimensional")
class DimensionalTask(Task):
    """Dimensional regression (valence/arousal/...) trained with 1 − CCC per dimension.

    Targets: float32 (N, D). Predictions: the model's ``"score"`` (N, D) or logits.
    """

    kind = "dimensional"
    default_key = "ccc_mean"
    metric_names = ("ccc_mean", "loss")

    def __init__(self, labels: Sequence[str] = ("valence", "arousal"), **kw: Any) -> None:
        super().__init__(labels, key_metric=kw.get("key_metric"))

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


def ccc_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Differentiable CCC per column. pred, target: (N, D) → (D,)."""
    pm, tm = pred.mean(0), target.mean(0)
    pv, tv = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - pm) * (target - tm)).mean(0)
    return 2 * cov / (pv + tv + (pm - tm) ** 2 + 1e-8)


def make_task(kind: str, labels: Sequence[str] | None = None, **kwargs: Any) -> Task:
    """Build a registered task (``kind`` in :data:`TASKS`)."""
    return TASKS.get(kind)(labels, **kwargs)
