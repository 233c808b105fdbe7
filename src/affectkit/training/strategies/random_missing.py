"""``random_missing`` — sample-level modality dropout. Every training sample independently gets a
    missingness pattern: with probability ``p_full`` all modalities, otherwise one of the
    incomplete non-empty patterns uniformly (for text/audio/vision: T, A, V, TA, TV, AV); with
    ``frame_drop`` > 0 each kept sequence also loses a random share (up to ``frame_drop``) of
    its frames. Missing is expressed as presence/frame masks (never as zeros in the data), so
    the model must declare ``accepts_presence_masks`` (all ``fusion.*`` models do).
    (The Trainer's own ``modality_dropout`` drops a modality for a whole batch.)

(The ``modality_dropout`` strategy drops a modality for a whole batch.)
"""

from __future__ import annotations

import itertools

import torch

from affectkit.data.batch import Batch
from affectkit.errors import ConfigError
from affectkit.training.strategies.base import STRATEGIES, Strategy
from affectkit.types import Modality

def _frames_mask(batch: Batch, m: Modality) -> torch.Tensor:
    """Current valid-frame mask (B, T) of a sequence input, or presence (B,) of a vector."""
    x = batch.inputs[m]
    B = x.shape[0]
    if x.dim() == 3:
        T = x.shape[1]
        fr = torch.ones(B, T, dtype=torch.bool)
        if m in batch.lengths:
            fr &= torch.arange(T)[None, :] < batch.lengths[m][:, None]
        mk = batch.masks.get(m)
        if mk is not None:
            fr &= (mk > 0) if mk.dim() == 2 else (mk > 0)[:, None]
        return fr
    fr = torch.ones(B, dtype=torch.bool)
    mk = batch.masks.get(m)
    if mk is not None:
        fr &= (mk > 0) if mk.dim() == 1 else (mk > 0).any(1)
    return fr


def with_masks(batch: Batch, present: dict[Modality, torch.Tensor],
               frame_keep: dict[Modality, torch.Tensor] | None = None) -> Batch:
    """A copy of ``batch`` whose masks also hide absent samples (``present[m]`` (B,) bool) and
    dropped frames (``frame_keep[m]`` (B, T) bool). Inputs are shared, never zeroed."""
    masks = dict(batch.masks)
    for m in batch.inputs:
        cur = _frames_mask(batch, m)
        p = present.get(m)
        if cur.dim() == 2:
            if p is not None:
                cur = cur & p[:, None]
            if frame_keep is not None and m in frame_keep:
                cur = cur & frame_keep[m]
        elif p is not None:
            cur = cur & p
        masks[m] = cur.float()
    return batch.replace(masks=masks)


def incomplete_patterns(mods: list[Modality]) -> list[tuple[Modality, ...]]:
    """Non-empty proper subsets of ``mods`` (6 for three modalities)."""
    return [c for r in range(1, len(mods)) for c in itertools.combinations(mods, r)]


def _require_masks(trainer, name: str) -> None:
    if not getattr(trainer.model, "accepts_presence_masks", False):
        raise ConfigError(
            f"strategy {name} needs a model that reads per-sample presence masks "
            f"(accepts_presence_masks = True, e.g. the fusion.* models); {trainer.model.name!r} "
            "does not. Use trainer.strategy: modality_dropout (whole-batch) instead"
        )


@STRATEGIES.register("random_missing")
class RandomMissing(Strategy):
    """Sample-level modality dropout (and optional frame drop); see the module docstring.

    Args:
        p_full: probability that a sample keeps all modalities.
        frame_drop: maximum share of frames dropped from each kept sequence (0 = off).
    """

    name = "random_missing"

    def __init__(self, p_full: float = 0.3, frame_drop: float = 0.0) -> None:
        if not 0 <= p_full <= 1:
            raise ConfigError(f"trainer.strategy_args.p_full must be in [0, 1], got {p_full}")
        if not 0 <= frame_drop < 1:
            raise ConfigError(f"trainer.strategy_args.frame_drop must be in [0, 1), got {frame_drop}")
        self.p_full = float(p_full)
        self.frame_drop = float(frame_drop)

    def on_fit_start(self, trainer):
        _require_masks(trainer, self.name)

    def sample(self, batch: Batch) -> Batch:
        """Draw patterns with torch's global RNG (the Trainer reseeds it per epoch)."""
        mods = [m for m in Modality if m in batch.inputs]
        B = len(batch)
        pats = incomplete_patterns(mods)
        if not pats:
            return batch
        full = torch.rand(B) < self.p_full
        choice = torch.randint(len(pats), (B,))
        present = {m: full | torch.tensor([m in pats[c] for c in choice.tolist()])
                   for m in mods}
        keep = None
        if self.frame_drop > 0:
            keep = {}
            for m in mods:
                x = batch.inputs[m]
                if x.dim() == 3:
                    rate = torch.rand(B, 1) * self.frame_drop
                    k = torch.rand(B, x.shape[1]) >= rate
                    # never drop every frame of a kept modality (that is modality dropout's job)
                    fr = _frames_mask(batch, m)
                    none_left = ~(k & fr).any(1)
                    k[none_left] = True
                    keep[m] = k
        return with_masks(batch, present, keep)

    def transform_batch(self, trainer, batch):
        return self.sample(batch)

    def state(self):
        return {"name": self.name, "p_full": self.p_full, "frame_drop": self.frame_drop}
