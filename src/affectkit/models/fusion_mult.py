"""MulT — Multimodal Transformer (Tsai et al., ACL 2019, "Multimodal Transformer for Unaligned
Multimodal Language Sequences").

Each modality is projected by a temporal 1-D convolution and given sinusoidal positions. For
every *target* modality, directional crossmodal transformers let it attend to each *source*
modality (queries from the target, keys/values from the source; no alignment needed); the
crossmodal outputs are fused and passed through a self-attention transformer; the per-target
summaries are concatenated and mapped to the output.

Missing modalities and deviations:

* The crossmodal outputs of a target are *averaged over the sources present for that sample*
  (MulT concatenates them), so a missing source simply drops out of the mean; with no source
  present the target keeps its own (residual) stream.
* A missing *target* contributes a learned placeholder to the final concatenation
  (:class:`~affectkit.models.fusion_base.FusedHead`), with presence flags.
* The summary of a target sequence is the masked mean over valid frames (MulT takes the last
  time step, which is a padding position for variable-length inputs).
* Small by default: width 32, 4 heads, one crossmodal and one self-attention layer.
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import (
    FusedHead,
    FusionModel,
    masked_mean,
    safe_key_mask,
    sinusoid,
)
from affectkit.types import Modality


class CrossAttention(nn.Module):
    """Pre-norm multi-head attention. q: (B, Tq, d), kv: (B, Tk, d), kv_frames: (B, Tk) bool."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.nq, self.nkv = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_frames: torch.Tensor) -> torch.Tensor:
        k = self.nkv(kv)
        a, _ = self.att(self.nq(q), k, k, key_padding_mask=safe_key_mask(kv_frames), need_weights=False)
        return self.drop(a)


class FeedForward(nn.Module):
    """Pre-norm position-wise feed-forward with residual. (B, T, d) → (B, T, d)."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * d, d), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


@MODELS.register("fusion.mult")
class MulT(FusionModel):
    """Directional crossmodal transformers for every (target, source) pair + self-attention."""

    name = "fusion.mult"
    summary = "MulT crossmodal transformer (pairwise directional cross-attention)"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 32,
                 heads: int = 4, dropout: float = 0.1, kernel: int = 3, max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, max_frames=max_frames,
                         flag_columns=flag_columns, build_encoders=False)
        self.norms = nn.ModuleDict({m.value: nn.LayerNorm(self.input_dims[m]) for m in self.modalities})
        self.proj = nn.ModuleDict({
            m.value: nn.Conv1d(self.input_dims[m], hidden, kernel, padding=kernel // 2, bias=False)
            for m in self.modalities})
        pairs = [(t, s) for t in self.modalities for s in self.modalities if s != t]
        self.cross = nn.ModuleDict({f"{t.value}_from_{s.value}": CrossAttention(hidden, heads, dropout)
                                    for t, s in pairs})
        self.cross_ff = nn.ModuleDict({m.value: FeedForward(hidden, dropout) for m in self.modalities})
        self.self_att = nn.ModuleDict({m.value: CrossAttention(hidden, heads, dropout)
                                       for m in self.modalities})
        self.self_ff = nn.ModuleDict({m.value: FeedForward(hidden, dropout) for m in self.modalities})
        self.fuse = FusedHead(self.modalities, hidden, 2 * hidden, n_outputs, dropout)

    def forward(self, inputs, lengths=None, masks=None):
        vs = self.views(inputs, lengths, masks)
        B = next(iter(vs.values())).x.shape[0]
        dev = self.fuse.absent.device
        seqs = {}
        for m, v in vs.items():
            fm = v.frames[..., None].float()
            x = self.norms[m.value](v.x) * fm  # keep masked frames at 0 for the convolution
            h = self.proj[m.value](x.transpose(1, 2)).transpose(1, 2)
            seqs[m] = (h + sinusoid(h.shape[1], self.hidden, dev)) * fm
        summaries = {}
        for t, vt in vs.items():
            acc = torch.zeros_like(seqs[t])
            n = torch.zeros(B, 1, 1, device=dev)
            for s, vsrc in vs.items():
                if s == t:
                    continue
                a = self.cross[f"{t.value}_from_{s.value}"](seqs[t], seqs[s], vsrc.frames)
                w = vsrc.present.float()[:, None, None]  # the branch vanishes where s is absent
                acc, n = acc + w * a, n + w
            x = self.cross_ff[t.value](seqs[t] + acc / n.clamp(min=1))
            x = x + self.self_att[t.value](x, x, vt.frames)
            x = self.self_ff[t.value](x)
            summaries[t] = masked_mean(x, vt.frames)
        present = torch.stack([vs[m].present if m in vs else torch.zeros(B, dtype=torch.bool, device=dev)
                               for m in self.modalities], 1)
        h, logits = self.fuse(summaries, present)
        return self.outputs(h, logits)
