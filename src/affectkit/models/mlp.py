"""MLP heads on fixed-size feature vectors (e.g. frozen MiniLM sentence embeddings)."""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MLP, MODELS, AffectModel
from affectkit.types import Modality


@MODELS.register("mlp")
class MLPHead(AffectModel):
    """MLP on the concatenation of the given vector features (any modalities).

    With ``features: {text: text.minilm}`` this is the "frozen MiniLM + MLP head" text model.
    Inputs: per modality (B, D_m) → logits (B, n_outputs).
    """

    family = "mlp"
    summary = "MLP head on concatenated feature vectors (frozen encoders)"
    input_kinds = {"*": "vector"}

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 256,
                 layers: int = 1, dropout: float = 0.3, input_dropout: float = 0.1,
                 norm_inputs: bool | str = True) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        self.order = sorted(self.input_dims, key=lambda m: m.value)
        d = sum(self.input_dims[m] for m in self.order)
        # True/"layer": LayerNorm (embeddings of one extractor share a scale, it fixes offsets
        # between extractors). "batch": per-feature standardisation with running statistics,
        # for heterogeneous hand-crafted features (Hz, dB, seconds side by side).
        if norm_inputs == "batch":
            self.in_norm = nn.BatchNorm1d(d)
        elif norm_inputs in (True, "layer"):
            self.in_norm = nn.LayerNorm(d)
        elif norm_inputs in (False, None, "none"):
            self.in_norm = nn.Identity()
        else:
            from affectkit.errors import ConfigError

            raise ConfigError(f"mlp: norm_inputs={norm_inputs!r}; allowed: true/layer, batch, false/none")
        self.drop = nn.Dropout(input_dropout)
        self.body = MLP([d] + [hidden] * layers, dropout=dropout) if layers > 0 else nn.Identity()
        self.act = nn.Sequential(nn.GELU(), nn.Dropout(dropout)) if layers > 0 else nn.Identity()
        self.head = nn.Linear(hidden if layers > 0 else d, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        x = torch.cat([inputs[m].float() for m in self.order], -1)
        h = self.act(self.body(self.drop(self.in_norm(x))))
        return self.outputs(h, self.head(h))
