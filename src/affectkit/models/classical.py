"""scikit-learn baselines: majority class, linear models, SVM, MLP on feature vectors.

They take the same ``input_dims``/``n_outputs`` keywords as the PyTorch models, consume the
concatenated vector features (sequences are mean+std pooled by
:func:`affectkit.data.batch.pool_vectors`), and choose their one regularisation
hyper-parameter on the validation split by the task's key metric — never on test. Features are
standardised on the training split. The fitted estimators are not saved (scikit-learn objects
only serialise through pickle, which affectkit does not write); a run stores the chosen
hyper-parameter, so refitting from ``config.json`` reproduces it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from affectkit.errors import ConfigError
from affectkit.models.base import MODELS
from affectkit.types import Modality


class SklearnModel:
    """Base class of the scikit-learn baselines (not an ``nn.Module``).

    The Trainer's protocol for models fitted in one call: :meth:`fit_closed_form` instead of
    gradient steps, and the same forward call as every model (``model(inputs, lengths=...)`` →
    ``{"logits"}`` or ``{"score"}``), so prediction, evaluation and metrics share one path.
    Class predictions come back as one-hot logits (their argmax is the estimator's
    ``predict``), multi-label probabilities as float64 logits (their sigmoid is the
    probability).
    """

    is_sklearn = True
    name: ClassVar[str] = ""
    family: ClassVar[str] = "classical"
    summary: ClassVar[str] = ""
    input_kinds: ClassVar[dict[str, str]] = {"*": "vector"}
    required_modalities: ClassVar[tuple[Modality, ...]] = ()
    tolerates_missing: ClassVar[bool] = False
    #: the hyper-parameter searched on validation and its grid
    param: ClassVar[str | None] = None
    kinds: ClassVar[tuple[str, ...]] = ("emotion", "sentiment", "multilabel")

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int,
                 grid: list[float] | None = None) -> None:
        self.input_dims = {Modality.parse(k): int(v) for k, v in input_dims.items()}
        self.n_outputs = n_outputs
        self.grid = list(grid) if grid is not None else list(self.default_grid())
        self.estimator: Any = None
        self.scaler: Any = None
        self.chosen: dict = {}
        self._task: Any = None

    @classmethod
    def input_kind(cls, modality: Modality) -> str:
        return "vector"

    def default_grid(self) -> list[float]:
        return [1.0]

    def build(self, kind: str, value: float, seed: int):
        raise NotImplementedError

    # -- driven by Trainer ---------------------------------------------------------------------
    def _check(self, task) -> None:
        if task.kind not in self.kinds:
            raise ConfigError(f"model {self.name!r} does not support task kind {task.kind!r}; "
                              f"supported: {', '.join(self.kinds)}")

    def fit_closed_form(self, train, valid, task, *, seed: int = 0) -> dict:
        """Fit on a training :class:`~affectkit.data.batch.Batch`, choosing the
        hyper-parameter on the validation batch by the task's key metric."""
        return self.fit_task(train.vectors(), train.target.numpy(), valid.vectors(),
                             valid.target.numpy(), task, seed=seed)

    def __call__(self, inputs, lengths=None, masks=None) -> dict:
        import torch

        from affectkit.data.batch import pool_vectors

        if self.estimator is None:
            raise ConfigError(f"{self.name}: not fitted (scikit-learn estimators are refitted "
                              "from the run's config, never loaded)")
        pred = self._predict_scaled(self.scaler.transform(pool_vectors(inputs, lengths)),
                                    self._task)
        kind = self._task.kind
        if kind == "emotion":
            logits = np.zeros((len(pred), self.n_outputs))
            logits[np.arange(len(pred)), pred] = 1.0
            return {"logits": torch.from_numpy(logits)}
        if kind == "sentiment":
            return {"score": torch.from_numpy(np.asarray(pred, np.float64))}
        if kind == "dimensional":  # (N, D) scores, one column per dimension
            return {"score": torch.from_numpy(np.asarray(pred, np.float64).reshape(len(pred), -1))}
        p = np.clip(np.asarray(pred, np.float64), 1e-12, 1 - 1e-12)
        return {"logits": torch.from_numpy(np.log(p) - np.log1p(-p))}

    def fit_task(self, X, y, Xv, yv, task, *, seed: int = 0) -> dict:
        from sklearn.preprocessing import StandardScaler

        self._check(task)
        self._task = task
        self.scaler = StandardScaler().fit(X)
        Xs, Xvs = self.scaler.transform(X), self.scaler.transform(Xv)
        key = task.key_metric if task.key_metric != "loss" else task.default_key
        tried = []
        best = None
        for v in self.grid:
            est = self.build(task.kind, v, seed)
            est.fit(Xs, self._fit_target(y, task))
            self.estimator = est
            m = task.metrics(yv, self._predict_scaled(Xvs, task))
            tried.append({"value": v, key: m[key]})
            if best is None or task.better(m[key], best[1]):
                best = (v, m[key], est)
        self.estimator = best[2]
        self.chosen = {"param": self.param, "value": best[0], "key_metric": key,
                       "valid": best[1], "tried": tried}
        return self.chosen

    def _fit_target(self, y, task):
        if task.kind == "emotion":
            return np.asarray(y, int)
        return np.asarray(y)

    def predict_task(self, X, task) -> np.ndarray:
        return self._predict_scaled(self.scaler.transform(X), task)

    def _predict_scaled(self, Xs, task) -> np.ndarray:
        est = self.estimator
        if task.kind == "emotion":
            return np.asarray(est.predict(Xs), int)
        if task.kind == "sentiment":
            return np.asarray(est.predict(Xs), float).reshape(-1)
        if task.kind == "dimensional":
            return np.asarray(est.predict(Xs), float).reshape(len(Xs), -1)
        if task.kind == "multilabel":
            if hasattr(est, "predict_proba"):
                p = est.predict_proba(Xs)
                if isinstance(p, list):  # MultiOutput: list of (N, 2)
                    p = np.stack([q[:, 1] for q in p], 1)
                return np.asarray(p, float)
            return 1 / (1 + np.exp(-np.asarray(est.decision_function(Xs), float)))
        raise ConfigError(f"{self.name}: task kind {task.kind!r} unsupported")

    def n_parameters(self, trainable_only: bool = False) -> int:
        est = self.estimator
        n = 0
        for a in ("coef_", "intercept_", "support_vectors_", "dual_coef_"):
            if est is not None and hasattr(est, a):
                n += int(np.asarray(getattr(est, a)).size)
        return n


@MODELS.register("sk.majority")
class Majority(SklearnModel):
    """Majority class (classification) / training mean (regression) / label prior (multi-label)."""

    summary = "majority-class / mean baseline"
    kinds = ("emotion", "sentiment", "multilabel", "dimensional")

    def build(self, kind, value, seed):
        from sklearn.dummy import DummyClassifier, DummyRegressor

        if kind in ("sentiment", "dimensional"):
            return DummyRegressor(strategy="mean")
        return _Prior() if kind == "multilabel" else DummyClassifier(strategy="most_frequent")


class _Prior:
    """Multi-label prior: every item gets the training label frequencies."""

    def fit(self, X, Y):
        self.p = np.asarray(Y, float).mean(0)
        return self

    def predict_proba(self, X):
        return np.tile(self.p, (len(X), 1))


@MODELS.register("sk.logreg")
class LogReg(SklearnModel):
    """(Multinomial / one-vs-rest) logistic regression; C chosen on validation. Ridge for
    sentiment regression (alpha = 1/C)."""

    summary = "logistic regression (ridge for regression); C on validation"
    param = "C"

    def default_grid(self):
        return [0.01, 0.1, 1.0]

    def build(self, kind, value, seed):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.multiclass import OneVsRestClassifier

        if kind == "sentiment":
            return Ridge(alpha=1.0 / value)
        lr = LogisticRegression(C=value, max_iter=300, random_state=seed)
        return OneVsRestClassifier(lr, n_jobs=1) if kind == "multilabel" else lr


@MODELS.register("sk.ridge")
class RidgeReg(SklearnModel):
    """Ridge regression (sentiment scores, or one column per dimension of a ``dimensional``
    task: a closed-form least-squares fit, not the CCC loss); alpha chosen on validation."""

    summary = "ridge regression; alpha on validation"
    param = "alpha"
    kinds = ("sentiment", "dimensional")

    def default_grid(self):
        return [1.0, 10.0, 100.0, 1000.0]

    def build(self, kind, value, seed):
        from sklearn.linear_model import Ridge

        return Ridge(alpha=value)


@MODELS.register("sk.svm")
class SVM(SklearnModel):
    """RBF-kernel SVM (SVR for regression), class-balanced; C chosen on validation."""

    summary = "RBF SVM / SVR; C on validation"
    param = "C"
    kinds = ("emotion", "sentiment")

    def default_grid(self):
        return [0.3, 1.0, 3.0, 10.0]

    def build(self, kind, value, seed):
        from sklearn.svm import SVC, SVR

        if kind == "sentiment":
            return SVR(C=value)
        return SVC(C=value, kernel="rbf", gamma="scale", class_weight="balanced",
                   random_state=seed)


@MODELS.register("sk.linear_svm")
class LinearSVM(SklearnModel):
    """Linear SVM, class-balanced; C chosen on validation."""

    summary = "linear SVM; C on validation"
    param = "C"
    kinds = ("emotion",)

    def default_grid(self):
        return [0.001, 0.01, 0.1, 1.0]

    def build(self, kind, value, seed):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=value, class_weight="balanced", random_state=seed, max_iter=5000)


@MODELS.register("sk.mlp")
class SkMLP(SklearnModel):
    """scikit-learn MLP (one hidden layer of 256, early stopping inside train); L2 alpha on
    validation."""

    summary = "scikit-learn MLP; alpha on validation"
    param = "alpha"
    kinds = ("emotion", "sentiment")

    def default_grid(self):
        return [1e-3, 1e-1]

    def build(self, kind, value, seed):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPRegressor if kind == "sentiment" else MLPClassifier
        return cls(hidden_layer_sizes=(256,), alpha=value, max_iter=300, early_stopping=True,
                   random_state=seed)
