"""Low-rank Multimodal Fusion (Liu et al., ACL 2018, "Efficient Low-rank Multimodal Fusion
with Modality-Specific Factors").

TFN's weight tensor factorised into ``rank`` modality-specific factors: with ẑ_m = [1; z_m],
h = Σ_r λ_r ∏_m (W_m^(r) ẑ_m) + b, computed without forming the outer product.

Missing modalities: an absent modality has ẑ_m = [1; 0], so its factor reduces to the bias row
W_m^(r)[:, 0] — the same constant slot as in TFN. Deviation: sub-networks are this package's
sequence encoders (``encoder``), and a small MLP head follows the fused vector.
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusionModel
from affectkit.types import Modality


@MODELS.register("fusion.lmf")
class LowRankFusion(FusionModel):
    """Rank-r modality-specific factors multiplied across modalities."""

    name = "fusion.lmf"
    summary = "Low-rank Multimodal Fusion (rank-r modality factors)"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.2, encoder: str = "gru", rank: int = 4,
                 max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, encoder=encoder, max_frames=max_frames,
                         flag_columns=flag_columns)
        self.rank = int(rank)
        self.factors = nn.ParameterDict({
            m.value: nn.Parameter(torch.empty(rank, hidden + 1, hidden)) for m in self.modalities})
        for p in self.factors.values():
            nn.init.xavier_normal_(p)
        self.rank_weights = nn.Parameter(torch.full((1, rank), 1.0 / rank))
        self.fusion_bias = nn.Parameter(torch.zeros(hidden))
        self.drop = nn.Dropout(dropout)
        self.post = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        B, enc = self.encode(inputs, lengths, masks)
        dev = self.head.weight.device
        present = self.presence(enc, B, dev)
        ones = torch.ones(B, 1, device=dev)
        prod = None
        for j, m in enumerate(self.modalities):
            z = torch.zeros(B, self.hidden, device=dev)
            if m in enc:
                z = torch.where(present[:, j:j + 1], self.drop(enc[m].pooled), z)
            f = torch.einsum("bi,rio->bro", torch.cat([ones, z], -1), self.factors[m.value])
            prod = f if prod is None else prod * f
        fused = torch.einsum("xr,bro->bo", self.rank_weights, prod) + self.fusion_bias
        h = self.post(fused)
        return self.outputs(h, self.head(h))
