"""Attentive modality hopping (Yoon, Dey, Lee & Jung, ICASSP 2020, "Attentive Modality Hopping
Mechanism for Speech Emotion Recognition").

Each modality is encoded by a bidirectional GRU; its initial summary is the mean of its states.
Then, for ``hops`` rounds, each modality in turn (vision → audio → text, as in the paper) is
re-summarised by attention over its own time steps, with the query formed from the *other*
modalities' current summaries; later modalities in a round already see the updated summaries
("hopping"). The final summaries are concatenated and classified.

Missing modalities and deviations:

* The query of modality m is a learned projection of the mean of the *present* other
  modalities' summaries (the paper concatenates all others); with none present, m's own
  summary is the query.
* An absent modality is never attended to nor updated; in the final concatenation it gets a
  learned placeholder with a presence flag (:class:`~affectkit.models.fusion_base.FusedHead`).
* The encoder kind is configurable (``encoder``; the paper's is a BiGRU, the default here).
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusedHead, FusionModel, masked_softmax
from affectkit.types import Modality

HOP_ORDER = (Modality.VISION, Modality.AUDIO, Modality.TEXT)


@MODELS.register("fusion.hopping")
class ModalityHopping(FusionModel):
    """Iterative cross-conditioned attention over each modality's sequence."""

    name = "fusion.hopping"
    summary = "attentive modality hopping (attention conditioned on the other modalities)"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.2, encoder: str = "gru", hops: int = 2,
                 max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, encoder=encoder, max_frames=max_frames,
                         flag_columns=flag_columns)
        self.hops = int(hops)
        self.query = nn.ModuleDict({m.value: nn.Linear(hidden, hidden) for m in self.modalities})
        self.fuse = FusedHead(self.modalities, hidden, hidden, n_outputs, dropout)

    def forward(self, inputs, lengths=None, masks=None):
        B, enc = self.encode(inputs, lengths, masks)
        summary = {m: e.pooled for m, e in enc.items()}
        order = [m for m in HOP_ORDER if m in enc]
        scale = self.hidden ** -0.5
        for _ in range(self.hops):
            for m in order:
                others = [o for o in enc if o != m]
                if others:
                    w = torch.stack([enc[o].present.float() for o in others], 1)[..., None]
                    ctx = (torch.stack([summary[o] for o in others], 1) * w).sum(1)
                    n = w.sum(1)
                    ctx = torch.where(n > 0, ctx / n.clamp(min=1), summary[m])
                else:
                    ctx = summary[m]
                q = self.query[m.value](ctx)  # (B, H)
                scores = torch.einsum("bth,bh->bt", enc[m].seq, q) * scale
                a = masked_softmax(scores, enc[m].frames)
                new = torch.einsum("bt,bth->bh", a, enc[m].seq)
                summary[m] = torch.where(enc[m].present[:, None], new, summary[m])
        present = self.presence(enc, B, self.fuse.absent.device)
        h, logits = self.fuse(summary, present)
        return self.outputs(h, logits)
