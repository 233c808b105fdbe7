"""Broad-Mamba encoders + probability-guided fusion (after "Revisiting Multi-modal Emotion
Learning with Broad State Space Models and Probability-guidance Fusion", 2024).

Each modality is encoded by the bidirectional selective-SSM + broad-learning encoder of
:mod:`affectkit.models.ssm` and has its own prediction head. The fused output is guided by how
*sure* each modality is:

* classification (``n_outputs > 1``): each modality's class probabilities p_m give a confidence
  c_m = 1 − H(p_m)/log K; fusion weights are w = softmax_m(β·c_m + b_m) over the modalities
  present; the fused distribution is Σ_m w_m p_m (its log is returned as ``logits``, so
  cross-entropy applies unchanged).
* regression (``n_outputs == 1``, e.g. sentiment): each head predicts a mean μ_m and a
  log-variance s_m; w = softmax_m(−s_m + b_m) over present modalities (inverse-variance style
  weighting) and the fused score is Σ_m w_m μ_m.

The same weights pool the per-modality embeddings into ``embedding``; ``weights`` (B, M) is
returned for inspection. Deviations: the paper fuses utterance representations in a
conversation model and maximises inter-modal consistency with extra losses; here the guidance
is learned only through the task loss (the Trainer's task sees the fused output), and the
encoder runs over frames of one utterance (see :mod:`affectkit.models.ssm`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusionModel, masked_softmax
from affectkit.types import Modality


@MODELS.register("fusion.pgf")
class ProbabilityGuidedFusion(FusionModel):
    """Broad-Mamba per-modality encoders; confidence-weighted fusion of their predictions."""

    name = "fusion.pgf"
    summary = "Broad-Mamba SSM encoders + probability-guided (confidence-weighted) fusion"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.2, encoder: str = "ssm", d_state: int = 8,
                 max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, encoder=encoder, max_frames=max_frames,
                         flag_columns=flag_columns, d_state=d_state)
        self.regression = n_outputs == 1
        width = 2 if self.regression else n_outputs
        self.heads = nn.ModuleDict({
            m.value: nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.GELU(),
                                   nn.Linear(hidden, width)) for m in self.modalities})
        self.beta = nn.Parameter(torch.tensor(1.0))
        self.modality_bias = nn.Parameter(torch.zeros(len(self.modalities)))
        self.empty_out = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, inputs, lengths=None, masks=None):
        B, enc = self.encode(inputs, lengths, masks)
        dev = self.modality_bias.device
        present = self.presence(enc, B, dev)
        M = len(self.modalities)
        guide = torch.zeros(B, M, device=dev)
        preds = []
        embs = []
        for j, m in enumerate(self.modalities):
            if m in enc:
                o = self.heads[m.value](enc[m].pooled)
                if self.regression:
                    preds.append(o[:, :1])
                    guide[:, j] = -o[:, 1]  # −log variance: confident → larger weight
                else:
                    p = o.softmax(-1)
                    conf = 1 + (p * p.clamp(min=1e-8).log()).sum(-1) / math.log(p.shape[-1])
                    preds.append(p)
                    guide[:, j] = self.beta * conf
                embs.append(enc[m].pooled)
            else:
                preds.append(torch.zeros(B, 1 if self.regression else self.n_outputs, device=dev))
                embs.append(torch.zeros(B, self.hidden, device=dev))
        w = masked_softmax(guide + self.modality_bias, present)  # (B, M), 0 where absent
        fused = (torch.stack(preds, 1) * w[..., None]).sum(1)
        none = ~present.any(1, keepdim=True)
        if self.regression:
            logits = torch.where(none, self.empty_out.expand(B, -1), fused)
        else:
            logits = torch.where(none, self.empty_out.log_softmax(-1).expand(B, -1),
                                 fused.clamp(min=1e-8).log())
        emb = (torch.stack(embs, 1) * w[..., None]).sum(1)
        out = self.outputs(emb, logits)
        out["weights"] = w
        return out
