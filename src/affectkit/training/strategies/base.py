"""The Strategy contract: named hook points of the one training loop, and their registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from affectkit.data.batch import Batch
from affectkit.registry import Registry

if TYPE_CHECKING:
    from affectkit.training.checkpoint import RunDir
    from affectkit.training.trainer import Trainer

STRATEGIES: Registry[type] = Registry("strategy", "affectkit.training.strategies")


class Strategy:
    """Hook points of the training loop. Subclass and override what your scheme changes.

    Distillation (a teacher's outputs added to the loss), modality dropout (inputs removed at
    random), multistage schedules (freeze/unfreeze in ``on_epoch_start``) all fit here. Adding a
    strategy is one file in this package with ``@STRATEGIES.register("name")``.
    """

    name = "default"

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (after a resume, too)."""

    def param_groups(self, trainer: Trainer, groups: list[dict]) -> list[dict]:
        """Adjust the AdamW parameter groups before the optimizer is built: add a strategy's
        own trainable modules (a distillation projector), or parameters a multistage schedule
        will unfreeze later (their groups may start with ``lr`` 0). Default: unchanged."""
        return groups

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before each training epoch (``trainer.model`` is in train mode)."""

    def transform_batch(self, trainer: Trainer, batch: Batch) -> Batch:
        """Change a *training* batch before the forward pass (augmentation, dropping inputs)."""
        return batch

    def loss(self, trainer: Trainer, model: torch.nn.Module, batch: Batch,
             outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of one batch. Default: the task's loss."""
        return trainer.task.loss(outputs, batch.target)

    def on_epoch_end(self, trainer: Trainer, epoch: int, valid_metrics: dict) -> None:
        """Called after validation of each epoch."""

    def on_load(self, model: torch.nn.Module, run: RunDir) -> None:
        """Called by :meth:`RunDir.load_model` on a freshly built model, before the run's
        weights are loaded: re-attach modules this strategy added to the model (their weights
        are in ``model.safetensors``) and restore state the strategy saved beside them
        (``run.strategy_tensors()``). Default: nothing (the strategy only shaped training)."""

    def state(self) -> dict:
        """JSON-able state saved with the run (resumable strategies)."""
        return {"name": self.name}


STRATEGIES.register("default")(Strategy)


def make_strategy(name: str | None, args: dict | None = None) -> Strategy:
    """A registered strategy by name (``None`` = the plain loop)."""
    if not name:
        return Strategy()
    return STRATEGIES.get(name)(**(args or {}))
