"""Early fusion: concatenate the modalities' (pooled) features, then one MLP.

The classic feature-level scheme (Snoek, Worring & Smeulders, ACM MM 2005, "Early versus late
fusion in semantic video analysis"; the "EF" baselines of Zadeh et al., 2017, and of
MultiBench): no per-modality model, the MLP sees all raw features at once.

Missing modalities: each modality's pooled features are LayerNorm-ed; a missing modality is
replaced by a *learned* placeholder vector in that modality's feature space, and a presence
flag per modality is appended, so the MLP can tell "absent" from any real value. Deviation from
the textbook version (which has no notion of missing input): the placeholder and the flags.
Sequences are mean-pooled over their valid frames (this model has no temporal layer).
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusionModel, masked_mean
from affectkit.types import Modality


@MODELS.register("fusion.early")
class EarlyFusion(FusionModel):
    """Concatenated pooled features → MLP (learned placeholders for missing modalities)."""

    name = "fusion.early"
    summary = "early fusion: concat pooled features (+presence flags) → MLP"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 64,
                 dropout: float = 0.2, max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, max_frames=max_frames,
                         flag_columns=flag_columns, build_encoders=False)
        self.norms = nn.ModuleDict({m.value: nn.LayerNorm(self.input_dims[m]) for m in self.modalities})
        self.absent = nn.ParameterDict({
            m.value: nn.Parameter(torch.randn(self.input_dims[m]) * 0.02) for m in self.modalities})
        width = sum(self.input_dims.values()) + len(self.modalities)
        self.trunk = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, hidden), nn.GELU(),
                                   nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        vs = self.views(inputs, lengths, masks)
        B = next(iter(vs.values())).x.shape[0]
        dev = next(iter(vs.values())).x.device
        parts, flags = [], []
        for m in self.modalities:
            a = self.absent[m.value].expand(B, -1)
            if m in vs:
                v = vs[m]
                x = self.norms[m.value](masked_mean(v.x, v.frames))
                parts.append(torch.where(v.present[:, None], x, a))
                flags.append(v.present)
            else:
                parts.append(a)
                flags.append(torch.zeros(B, dtype=torch.bool, device=dev))
        h = self.trunk(torch.cat(parts + [torch.stack(flags, 1).float()], -1))
        return self.outputs(h, self.head(h))
