"""Tensor Fusion Network (Zadeh et al., EMNLP 2017, "Tensor Fusion Network for Multimodal
Sentiment Analysis").

Each modality's embedding z_m (from its sub-network) is extended with a constant 1 and the
fused representation is the outer product ⊗_m [1; z_m], which holds the unimodal, bimodal and
trimodal interaction terms; a post-fusion MLP maps it to the output.

Missing modalities: an absent modality contributes [1; 0] — exactly the constant slot of the
outer product — so the tensor reduces to the interaction terms among the modalities that are
present (the sub-tensors TFN already contains); presence flags are appended to the post-fusion
input so the MLP knows which case it is in. Deviations: the sub-networks are this package's
sequence encoders (``encoder``; the paper uses an LSTM for text and mean-pooled DNNs for audio and
video) followed by a projection to ``tensor_dim`` (small: the tensor has ∏(tensor_dim+1) cells).
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusionModel
from affectkit.types import Modality


@MODELS.register("fusion.tfn")
class TensorFusion(FusionModel):
    """Outer product of [1; z_m] over modalities → MLP."""

    name = "fusion.tfn"
    summary = "Tensor Fusion Network (outer product of [1; z_m])"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.2, encoder: str = "gru", tensor_dim: int = 12,
                 max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, encoder=encoder, max_frames=max_frames,
                         flag_columns=flag_columns)
        self.tensor_dim = int(tensor_dim)
        self.sub = nn.ModuleDict({m.value: nn.Sequential(nn.Linear(hidden, tensor_dim), nn.Tanh())
                                  for m in self.modalities})
        M = len(self.modalities)
        width = (tensor_dim + 1) ** M + M
        self.post = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, hidden), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        B, enc = self.encode(inputs, lengths, masks)
        dev = self.head.weight.device
        present = self.presence(enc, B, dev)
        ones = torch.ones(B, 1, device=dev)
        fused = ones
        for j, m in enumerate(self.modalities):
            z = torch.zeros(B, self.tensor_dim, device=dev)
            if m in enc:
                z = torch.where(present[:, j:j + 1], self.sub[m.value](enc[m].pooled), z)
            zz = torch.cat([ones, z], -1)  # absent → [1; 0]: only the constant slot survives
            fused = torch.einsum("bi,bj->bij", fused, zz).reshape(B, -1)
        h = self.post(torch.cat([fused, present.float()], -1))
        return self.outputs(h, self.head(h))
