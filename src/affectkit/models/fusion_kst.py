"""Key-sparse Transformer (Chen, Xing, Xu, Xu & Du, ICASSP 2022, "Key-Sparse Transformer for
Multimodal Speech Emotion Recognition").

Attention in which every query keeps only its ``top_k`` highest-scoring keys (the others are
set to −∞ before the softmax), so the redundant, emotion-irrelevant frames get exactly zero
weight. Each modality gets a key-sparse self-attention layer; then each modality attends, again
key-sparsely, to the frames of all other modalities (cross-modal stage); summaries are masked
means, concatenated and classified.

Missing modalities and deviations:

* In the cross-modal stage a target attends to the concatenated frames of the *present* other
  modalities (absent ones are key-masked); with none present the branch is skipped (residual).
* An absent target gets a learned placeholder in the final concatenation, with presence flags.
* The paper pairs audio and text with interleaved cross-attention blocks; here any subset of
  text/audio/vision uses one self and one cross layer per modality (small, width 32).
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS
from affectkit.models.fusion_base import FusedHead, FusionModel, masked_mean, sinusoid
from affectkit.types import Modality


class KeySparseAttention(nn.Module):
    """Multi-head attention keeping the ``top_k`` largest scores per query.

    Shapes: q (B, Tq, d), kv (B, Tk, d), kv_frames (B, Tk) bool → (B, Tq, d). Rows without any
    valid key return 0.
    """

    def __init__(self, d: int, heads: int, top_k: int, dropout: float) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden={d} must be divisible by heads={heads}")
        self.h, self.dk, self.top_k = heads, d // heads, int(top_k)
        self.nq, self.nkv = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_frames: torch.Tensor) -> torch.Tensor:
        B, Tq, _ = q.shape
        Tk = kv.shape[1]
        qh = self.q(self.nq(q)).view(B, Tq, self.h, self.dk).transpose(1, 2)
        kvn = self.nkv(kv)
        kh = self.k(kvn).view(B, Tk, self.h, self.dk).transpose(1, 2)
        vh = self.v(kvn).view(B, Tk, self.h, self.dk).transpose(1, 2)
        s = qh @ kh.transpose(-1, -2) / self.dk ** 0.5  # (B, h, Tq, Tk)
        valid = kv_frames[:, None, None, :].expand_as(s)
        s = s.masked_fill(~valid, float("-inf"))
        k = min(self.top_k, Tk)
        kth = s.topk(k, dim=-1).values[..., -1:]  # k-th largest (−inf if fewer valid keys)
        keep = valid & (s >= kth)
        s = s.masked_fill(~keep, float("-inf"))
        s = torch.where(keep.any(-1, keepdim=True), s, torch.zeros_like(s))
        a = torch.softmax(s, -1) * keep.float()
        out = (self.drop(a) @ vh).transpose(1, 2).reshape(B, Tq, -1)
        return self.o(out)


@MODELS.register("fusion.kst")
class KeySparseTransformer(FusionModel):
    """Key-sparse self-attention per modality, then key-sparse cross-modal attention."""

    name = "fusion.kst"
    summary = "key-sparse transformer (top-k keys per query), self + cross-modal"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 32,
                 heads: int = 4, top_k: int = 8, dropout: float = 0.1, max_frames: int = 32,
                 flag_columns: dict[str, int] | None = None) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, hidden=hidden,
                         dropout=dropout, max_frames=max_frames,
                         flag_columns=flag_columns, build_encoders=False)
        mods = [m.value for m in self.modalities]
        self.proj = nn.ModuleDict({m.value: nn.Sequential(nn.LayerNorm(self.input_dims[m]),
                                                          nn.Linear(self.input_dims[m], hidden))
                                   for m in self.modalities})
        self.self_att = nn.ModuleDict({m: KeySparseAttention(hidden, heads, top_k, dropout) for m in mods})
        self.cross_att = nn.ModuleDict({m: KeySparseAttention(hidden, heads, top_k, dropout) for m in mods})
        self.ff = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden),
                                                  nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden))
                                 for m in mods})
        self.fuse = FusedHead(self.modalities, hidden, 2 * hidden, n_outputs, dropout)

    def forward(self, inputs, lengths=None, masks=None):
        vs = self.views(inputs, lengths, masks)
        B = next(iter(vs.values())).x.shape[0]
        dev = self.fuse.absent.device
        seqs = {}
        for m, v in vs.items():
            fm = v.frames[..., None].float()
            h = (self.proj[m.value](v.x) + sinusoid(v.x.shape[1], self.hidden, dev)) * fm
            seqs[m] = (h + self.self_att[m.value](h, h, v.frames)) * fm
        summaries = {}
        for t, vt in vs.items():
            x = seqs[t]
            others = [s for s in vs if s != t]
            if others:
                kv = torch.cat([seqs[s] for s in others], 1)
                kvf = torch.cat([vs[s].frames for s in others], 1)
                x = x + self.cross_att[t.value](x, kv, kvf)
            x = x + self.ff[t.value](x)
            summaries[t] = masked_mean(x, vt.frames)
        present = torch.stack([vs[m].present if m in vs else torch.zeros(B, dtype=torch.bool, device=dev)
                               for m in self.modalities], 1)
        h, logits = self.fuse(summaries, present)
        return self.outputs(h, logits)
