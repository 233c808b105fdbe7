"""The Task contract: a task owns its labels, targets, sample unit, loss and metrics.

A :class:`Task` decides everything about *what is predicted*; models and the trainer stay
generic:

==========================  ==================================================================
``label_keys``              which utterance labels it reads (``data.label`` values), the first
                            being the default; :data:`LABEL_READERS` holds the readers
``resolve_labels``          the label space from the data (and ``data.labels``), dropping (and
                            counting) items outside it
``encode``                  labels → a target array (class ids, scores, 0/1 rows ...)
``unit``                    ``"utterance"`` (one sample per utterance) or ``"dialogue"`` (one
                            sample per conversation; targets padded with ``pad_value``)
``loss``/``predict``        model outputs (``"logits"`` / ``"score"``) → loss / predictions
``metrics``                 predictions → :mod:`affectkit.metrics`; ``key_metric`` drives
                            selection on validation only; ``curve_metric`` is what robustness
                            curves plot
==========================  ==================================================================

Adding a task is one file in this package with ``@TASKS.register("name")``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from affectkit.errors import ConfigError
from affectkit.registry import Registry
from affectkit.taxonomy import map_to_canonical
from affectkit.types import Utterance

if TYPE_CHECKING:
    import torch

TASKS: Registry[type[Task]] = Registry("task", "affectkit.tasks")

# Direction of every metric a task may be selected on.
LOWER_IS_BETTER = {"mae", "loss"}
POLARITY = ("negative", "neutral", "positive")


def _sentiment(u: Utterance) -> float | None:
    return None if u.sentiment is None or u.sentiment != u.sentiment else float(u.sentiment)


def _polarity(u: Utterance) -> str | None:
    s = _sentiment(u)
    return None if s is None else POLARITY[int(np.sign(s)) + 1]


def _emotions(u: Utterance) -> tuple[str, ...] | None:
    if u.emotions is not None:
        return tuple(u.emotions)
    return (u.emotion,) if u.emotion else None


def _dimensional(u: Utterance) -> tuple[float, float] | None:
    if u.valence is None or u.arousal is None:
        return None
    return (float(u.valence), float(u.arousal))


def _emotion_cause(u: Utterance) -> tuple[str, tuple[str, ...]] | None:
    if not u.emotion:
        return None
    return (u.emotion, tuple(c.cause_id for c in u.causes))


def _emotion_cause_any(u: Utterance) -> tuple[str, tuple[str, ...]]:
    """Emotion clause or not (ECPE's binary view): ``("emotion" | "none", cause ids)``; every
    unit is kept (non-emotion clauses are part of the document)."""
    has = bool(u.emotions) or (u.emotion is not None and u.emotion != "neutral")
    return ("emotion" if has else "none", tuple(c.cause_id for c in u.causes))


#: ``data.label`` value → reader of that label from an utterance (``None`` = unlabelled).
LABEL_READERS: dict[str, Callable[[Utterance], Any]] = {
    "emotion": lambda u: u.emotion,
    "emotion_original": lambda u: u.emotion_original,
    "emotion_canonical": lambda u: map_to_canonical(u.emotion_original or u.emotion, u.corpus),
    "sentiment": _sentiment,
    "sentiment_polarity": _polarity,
    "emotions": _emotions,
    "dimensional": _dimensional,
    "emotion_cause": _emotion_cause,
    "emotion_cause_any": _emotion_cause_any,
}


def read_label(u: Utterance, key: str) -> Any:
    """The ``key`` label of ``u`` (``None`` when it has none)."""
    try:
        return LABEL_READERS[key](u)
    except KeyError:
        raise ConfigError(f"data.label={key!r}; allowed: {', '.join(LABEL_READERS)}") from None


class Task:
    """Base class.

    Attributes:
        kind: registry name.
        labels: class/label/dimension names in output order.
        n_outputs: width of the model head.
        default_key: metric used for model selection unless the config names another.
        curve_metric: the metric robustness curves report by default.
        label_keys: ``data.label`` values this task can learn from.
        unit: ``"utterance"`` or ``"dialogue"``.
        pad_value: target value of padding positions (dialogue unit).
    """

    kind: ClassVar[str]
    default_key: ClassVar[str]
    curve_metric: ClassVar[str] = "loss"
    metric_names: ClassVar[tuple[str, ...]]
    label_keys: ClassVar[tuple[str, ...]] = ()
    unit: ClassVar[str] = "utterance"
    pad_value: ClassVar[float] = -100
    #: model outputs the task reads besides ``logits``/``score`` (e.g. ``pair_logits``)
    extra_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, labels: Sequence[str] | None = None, *, key_metric: str | None = None,
                 **_: Any) -> None:
        self.labels = list(labels) if labels is not None else []
        self.key_metric = key_metric or self.default_key
        if self.key_metric not in self.metric_names:
            raise ConfigError(
                f"task.key_metric={self.key_metric!r} is not a {self.kind} metric; "
                f"allowed: {', '.join(self.metric_names)}"
            )

    # -- labels and targets -------------------------------------------------------------------
    @classmethod
    def check_label_key(cls, key: str) -> None:
        if key not in LABEL_READERS:
            raise ConfigError(f"data.label={key!r}; allowed: {', '.join(LABEL_READERS)}")
        if cls.label_keys and key not in cls.label_keys:
            raise ConfigError(f"data.label={key!r} cannot train a {cls.kind} task; "
                              f"use one of {', '.join(cls.label_keys)}")

    @classmethod
    def resolve_labels(cls, targets: dict[str, Any], configured: Sequence[str] | None,
                       skipped: Counter) -> list[str]:
        """The label space for ``targets`` (id → label); removes (and counts in ``skipped``)
        the items the task cannot use. Default: a fixed space, nothing removed."""
        return list(configured or [])

    def encode(self, ys: Sequence[Any]) -> np.ndarray:
        """Labels of some items → their target array (first axis = items)."""
        return np.asarray(ys, dtype=np.float32)

    def encode_dialogues(self, groups: Sequence[Sequence[str]], targets: dict[str, Any]) -> np.ndarray:
        """Dialogue unit: the targets of every utterance of ``groups`` (dialogues in turn
        order), flattened in that order. Override when a target refers to positions inside
        its dialogue (cause links)."""
        return self.encode([targets[i] for g in groups for i in g])

    # -- selection ----------------------------------------------------------------------------
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

    def categories(self, target: torch.Tensor) -> torch.Tensor | None:
        """Coarse category ids of targets (for prototype-based distillation); ``None`` if the
        task has none."""
        return None

    def state(self) -> dict:
        """JSON-able state saved beside a checkpoint (labels, thresholds, ...)."""
        return {"kind": self.kind, "labels": self.labels, "key_metric": self.key_metric}

    def load_state(self, state: dict) -> None:
        self.labels = list(state.get("labels", self.labels))


class ClassLabels:
    """Mixin: single-label classes found in the data (or ``data.labels``), sorted."""

    @classmethod
    def resolve_labels(cls, targets, configured, skipped):
        labels = list(configured) if configured else sorted({y for y in targets.values()})
        keep = set(labels)
        for i in [i for i, y in targets.items() if y not in keep]:
            skipped[f"label {targets[i]!r} not in data.labels"] += 1
            del targets[i]
        return labels

    def encode(self, ys):
        idx = {c: i for i, c in enumerate(self.labels)}
        try:
            return np.array([idx[y] for y in ys], dtype=np.int64)
        except KeyError as e:
            raise ConfigError(f"label {e.args[0]!r} is not one of the task's labels "
                              f"{self.labels}") from None


def make_task(kind: str, labels: Sequence[str] | None = None, **kwargs: Any) -> Task:
    """Build a registered task (``kind`` in :data:`TASKS`)."""
    return TASKS.get(kind)(labels, **kwargs)


def ccc_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Differentiable CCC per column. pred, target: (N, D) → (D,)."""
    pm, tm = pred.mean(0), target.mean(0)
    pv, tv = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - pm) * (target - tm)).mean(0)
    return 2 * cov / (pv + tv + (pm - tm) ** 2 + 1e-8)
