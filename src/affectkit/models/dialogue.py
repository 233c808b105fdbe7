"""Dialogue-level context models for emotion recognition in conversation (ERC).

One sample is a conversation: per modality, a (B, T, D) sequence of *utterance* vectors (T
utterances, ``lengths`` valid) — the ``dialogue`` sample unit of :mod:`affectkit.data.batch`.
Each model returns per-utterance ``logits`` (B, T, C), ``utterance_embedding`` (B, T, H) and a
pooled ``embedding`` (B, H).

Context encoders (``context``), the same head on top of each so they compare fairly:

* ``ssm`` — the bidirectional selective state-space + broad-learning encoder of
  :mod:`affectkit.models.ssm` (Broad-Mamba: no self-attention, linear in dialogue length);
* ``gru`` — a bidirectional GRU (the classic ERC baseline, also linear);
* ``transformer`` — self-attention layers with key-padding masks (quadratic in length);
* ``none`` — no context: the head on each utterance alone (the utterance-level baseline).

Speaker awareness: with ``data.speaker_slots: k`` the batches append to every utterance vector
a one-hot of its speaker's slot in the dialogue (order of first appearance, the k-th slot shared
by any further speakers), so states know who speaks; see :func:`affectkit.data.batch.collate`.

Several modalities are fused by **probability guidance** (after "Revisiting Multi-modal Emotion
Learning with Broad State Space Models and Probability-guidance Fusion", 2024): each modality
has its own context encoder and classifier; its confidence c_m = 1 − H(p_m)/log K gives fusion
weights w = softmax_m(β·c_m + b_m) per utterance, and the fused distribution is Σ_m w_m p_m
(its log is returned as ``logits``). Deviation: the paper's inter-modal consistency losses are
left out; the guidance is learned through the task loss only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from affectkit.errors import ConfigError
from affectkit.models.base import MODELS, AffectModel
from affectkit.models.ssm import BroadMambaEncoder
from affectkit.types import Modality

CONTEXTS = ("ssm", "gru", "transformer", "none")


class ContextEncoder(nn.Module):
    """(B, T, D) utterance vectors + valid mask (B, T) → (B, T, H) contextual states."""

    def __init__(self, in_dim: int, hidden: int, context: str, *, n_layers: int = 1,
                 dropout: float = 0.2, heads: int = 4) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ConfigError(f"model.args.context={context!r}; allowed: {', '.join(CONTEXTS)}")
        self.context = context
        self.inp = nn.Sequential(nn.LayerNorm(in_dim), nn.Dropout(dropout),
                                 nn.Linear(in_dim, hidden), nn.GELU())
        if context == "ssm":
            self.net = BroadMambaEncoder(hidden, hidden, n_layers=n_layers, dropout=dropout)
        elif context == "gru":
            self.net = nn.GRU(hidden, hidden // 2, num_layers=n_layers, batch_first=True,
                              bidirectional=True, dropout=dropout if n_layers > 1 else 0.0)
        elif context == "transformer":
            layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout,
                                               batch_first=True, norm_first=True)
            self.net = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        if self.context == "ssm":
            h, _ = self.net(h, valid)  # valid utterances are already left-aligned
        elif self.context == "gru":
            L = valid.sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(h, L, batch_first=True,
                                                       enforce_sorted=False)
            out, _ = self.net(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                    total_length=x.shape[1])
        elif self.context == "transformer":  # self-attention needs positions (sinusoidal)
            h = self.net(h + _positions(h.shape[1], h.shape[2], h.dtype),
                         src_key_padding_mask=~valid)
        return self.drop(h) * valid[..., None].to(h.dtype)


def _positions(T: int, d: int, dtype) -> torch.Tensor:
    """Sinusoidal position codes (T, d) (any length; no parameters)."""
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float32)
    ang = pos / torch.pow(10000.0, i / d)
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d // 2])
    return pe.to(dtype)


class DialogueModel(AffectModel):
    """Per-modality context encoders + heads; probability-guided fusion of several modalities.

    Args:
        context: ``ssm`` | ``gru`` | ``transformer`` | ``none``.
        hidden: state width H.
        n_layers: context layers.
        dropout: dropout rate.
    """

    family = "dialogue"
    unit = "dialogue"
    input_kinds = {"*": "sequence"}
    context_kind = "ssm"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int,
                 context: str | None = None, hidden: int = 128, n_layers: int = 1,
                 dropout: float = 0.2) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        self.context = context or self.context_kind
        self.mods = sorted(self.input_dims, key=lambda m: m.value)
        self.encoders = nn.ModuleDict({m.value: ContextEncoder(
            self.input_dims[m], hidden, self.context, n_layers=n_layers, dropout=dropout)
            for m in self.mods})
        self.heads = nn.ModuleDict({m.value: nn.Linear(hidden, n_outputs) for m in self.mods})
        self.beta = nn.Parameter(torch.tensor(4.0))
        self.bias = nn.Parameter(torch.zeros(len(self.mods)))

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        first = inputs[self.mods[0]]
        B, T = first.shape[:2]
        L = (lengths or {}).get(self.mods[0])
        valid = (torch.arange(T)[None, :] < L[:, None]) if L is not None \
            else torch.ones(B, T, dtype=torch.bool)
        states, logits = [], []
        for m in self.mods:
            h = self.encoders[m.value](inputs[m], valid)
            states.append(h)
            logits.append(self.heads[m.value](h))
        if len(self.mods) == 1:
            out_logits, emb, w = logits[0], states[0], None
        else:
            logp = torch.stack([lg.log_softmax(-1) for lg in logits], 2)  # (B, T, M, C)
            p = logp.exp()
            K = p.shape[-1]
            conf = 1 + (p * logp).sum(-1) / math.log(max(K, 2))  # 1 − H/log K
            w = torch.softmax(self.beta * conf + self.bias, dim=2)  # (B, T, M)
            out_logits = torch.log((w[..., None] * p).sum(2).clamp(min=1e-8))
            emb = (w[..., None] * torch.stack(states, 2)).sum(2)
        vm = valid[..., None].to(emb.dtype)
        pooled = (emb * vm).sum(1) / vm.sum(1).clamp(min=1)
        out = {"logits": out_logits, "utterance_embedding": emb, "embedding": pooled}
        if w is not None:
            out["weights"] = w
        return out


@MODELS.register("dialogue.ssm")
class DialogueSSM(DialogueModel):
    """Broad-Mamba dialogue context (bidirectional selective SSM + broad block), linear in T."""

    name = "dialogue.ssm"
    summary = "dialogue context: bidirectional selective SSM + broad block (Broad-Mamba)"
    context_kind = "ssm"


@MODELS.register("dialogue.gru")
class DialogueGRU(DialogueModel):
    """Bidirectional GRU dialogue context (baseline)."""

    name = "dialogue.gru"
    summary = "dialogue context: bidirectional GRU"
    context_kind = "gru"


@MODELS.register("dialogue.transformer")
class DialogueTransformer(DialogueModel):
    """Self-attention dialogue context (baseline, quadratic in dialogue length)."""

    name = "dialogue.transformer"
    summary = "dialogue context: transformer encoder"
    context_kind = "transformer"


@MODELS.register("dialogue.none")
class DialogueNoContext(DialogueModel):
    """The same head on each utterance alone (no context), for the context ablation."""

    name = "dialogue.none"
    summary = "no dialogue context: per-utterance head (ablation)"
    context_kind = "none"


@MODELS.register("dialogue.ecpe")
class DialogueCausePairs(DialogueModel):
    """Emotions + emotion–cause pair scores over a dialogue (task ``emotion_cause``).

    The context encoder (``context``, Broad-Mamba SSM by default) gives utterance states h;
    the pair score of (emotion utterance i, candidate cause j) is an MLP over
    [h_i, h_j, h_i ⊙ h_j, e(clip(i − j, −8, 8))] with a learned relative-distance embedding e
    (causes are mostly the utterance itself or a recent one). Outputs ``pair_logits``
    (B, T, T) beside the per-utterance emotion ``logits``.

    ``window`` k > 0 scores only candidates with |i − j| ≤ k (B·T·(2k+1) pairs instead of
    B·T², for long documents); the others get the constant logit :attr:`outside` (probability
    ≈ 2e-9, no gradient), so they are never predicted. ECPE: 98.2 % of the gold pairs lie
    within 3 clauses.
    """

    name = "dialogue.ecpe"
    summary = "dialogue context + emotion head + pairwise cause scorer (emotion–cause pairs)"
    context_kind = "ssm"
    max_distance = 8
    outside = -20.0

    def __init__(self, *, input_dims, n_outputs, context=None, hidden: int = 128,
                 n_layers: int = 1, dropout: float = 0.2, window: int = 0) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, context=context,
                         hidden=hidden, n_layers=n_layers, dropout=dropout)
        if window < 0:
            raise ConfigError(f"model.args.window={window}; 0 (all pairs) or k > 0")
        self.window = int(window)
        self.distance = nn.Embedding(2 * self.max_distance + 1, 16)
        self.pair = nn.Sequential(nn.Linear(3 * hidden + 16, hidden), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, inputs, lengths=None, masks=None):
        out = super().forward(inputs, lengths=lengths, masks=masks)
        h = out["utterance_embedding"]  # (B, T, H)
        B, T, H = h.shape
        if self.window:
            out["pair_logits"] = self._windowed(h)
            return out
        hi = h[:, :, None, :].expand(B, T, T, H)
        hj = h[:, None, :, :].expand(B, T, T, H)
        k = self.max_distance
        d = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).clamp(-k, k) + k
        e = self.distance(d)[None].expand(B, T, T, -1)
        out["pair_logits"] = self.pair(torch.cat([hi, hj, hi * hj, e], -1)).squeeze(-1)
        return out

    def _windowed(self, h: torch.Tensor) -> torch.Tensor:
        B, T, H = h.shape
        k = self.window
        off = torch.arange(-k, k + 1)  # candidate j = i + off
        j = torch.arange(T)[:, None] + off[None, :]  # (T, 2k+1)
        inside = (j >= 0) & (j < T)
        jc = j.clamp(0, T - 1)
        hi = h[:, :, None, :].expand(B, T, 2 * k + 1, H)
        hj = h[:, jc]  # (B, T, 2k+1, H)
        d = (-off).clamp(-self.max_distance, self.max_distance) + self.max_distance
        e = self.distance(d)[None, None].expand(B, T, -1, -1)
        s = self.pair(torch.cat([hi, hj, hi * hj, e], -1)).squeeze(-1)  # (B, T, 2k+1)
        full = h.new_full((B, T, T + 2 * k), self.outside)  # column c = j + k
        cols = (torch.arange(T)[:, None] + off[None, :] + k).expand(B, T, -1)
        full = full.scatter(2, cols, torch.where(inside, s, torch.full_like(s, self.outside)))
        return full[:, :, k:k + T]
