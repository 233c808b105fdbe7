"""Whole-batch modality dropout."""

from __future__ import annotations

import torch

from affectkit.errors import ConfigError
from affectkit.training.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("modality_dropout")
class ModalityDropout(Strategy):
    """Drop each modality from a training batch with probability ``p`` (keeping at least one).

    Only for models with ``tolerates_missing = True``; the model sees a missing key, never a
    zero tensor. The draw uses torch's RNG, which the trainer reseeds per epoch.
    """

    name = "modality_dropout"

    def __init__(self, p: float = 0.2) -> None:
        if not 0 <= p < 1:
            raise ConfigError(f"trainer.strategy_args.p must be in [0, 1), got {p}")
        self.p = p

    def on_fit_start(self, trainer):
        if not getattr(trainer.model, "tolerates_missing", False):
            raise ConfigError(
                f"strategy modality_dropout needs a model that tolerates missing modalities; "
                f"{trainer.model.name!r} does not"
            )

    def transform_batch(self, trainer, batch):
        mods = list(batch.inputs)
        keep = [m for m in mods if torch.rand(()) >= self.p]
        if not keep:
            keep = [mods[int(torch.randint(len(mods), ()))]]
        return batch.replace(inputs={m: batch.inputs[m] for m in keep},
                             lengths={m: v for m, v in batch.lengths.items() if m in keep},
                             masks={m: v for m, v in batch.masks.items() if m in keep})

    def state(self):
        return {"name": self.name, "p": self.p}
