"""Late (decision-level) fusion: one encoder + head per modality, predictions averaged.

The decision-level scheme contrasted with early fusion by Snoek, Worring & Smeulders (ACM MM
2005, "Early versus late fusion in semantic video analysis") and used as the "LF" baseline of
MMSA/MultiBench.

Each modality m gives its own prediction ``ŷ_m``; the fused prediction is a weighted mean over
the *present* modalities with learned weights ``softmax(w)`` renormalised per sample, so a
missing modality simply has no term; a sample with no modality gets a learned bias. The
embedding is the same weighted mean of the per-modality embeddings. Deviation from a plain
average: the weights are learned.
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusionModel, masked_softmax
from affectkit.types import Modality


@MODELS.register("fusion.late")
class LateFusion(FusionModel):
    """Per-modality encoder + head; presence-renormalised weighted mean of predictions."""

    name = "fusion.late"
    summary = "late fusion: per-modality predictions, weighted mean over present modalities"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.2, encoder: str = "mean", max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, encoder=encoder, max_frames=max_frames,
                         flag_columns=flag_columns)
        self.heads = nn.ModuleDict({
            m.value: nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_outputs))
            for m in self.modalities})
        self.weight_logits = nn.Parameter(torch.zeros(len(self.modalities)))
        self.empty_bias = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, inputs, lengths=None, masks=None):
        B, enc = self.encode(inputs, lengths, masks)
        dev = self.weight_logits.device
        present = self.presence(enc, B, dev)
        w = masked_softmax(self.weight_logits.expand(B, -1), present)  # (B, M)
        logits = self.empty_bias.expand(B, -1) * (~present.any(1, keepdim=True)).float()
        emb = torch.zeros(B, self.hidden, device=dev)
        for j, m in enumerate(self.modalities):
            if m in enc:
                logits = logits + w[:, j:j + 1] * self.heads[m.value](enc[m].pooled)
                emb = emb + w[:, j:j + 1] * enc[m].pooled
        out = self.outputs(emb, logits)
        out["weights"] = w
        return out
