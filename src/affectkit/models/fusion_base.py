"""Shared pieces of the fusion zoo (``fusion.*`` models): reading inputs in which any modality
may be missing, per-modality sequence encoders, and the :class:`FusionModel` base class.

Missing modalities. A model built for modalities ``input_dims`` accepts, at forward time, any
subset of them, expressed in any of three ways (they are equivalent, and tested to be):

* the key is absent from ``inputs`` — the modality is missing for the whole batch;
* ``masks[m]`` of shape (B,) is 0 for a row — the modality is missing for that sample;
* ``masks[m]`` of shape (B, T) (frame mask) or ``lengths[m]`` (B,) leaves a row with no valid
  frame — missing for that sample (this is what frame drop at rate 1.0 produces).

Values under a zero mask are never read: they are zeroed before any layer that mixes frames or
samples, so a model cannot tell a masked row of real data from a masked row of garbage. A
missing modality is never replaced by a zero tensor posing as data; each model excludes it from
its fusion explicitly (masked means, skipped attention branches, the constant term of TFN/LMF,
learned "absent" embeddings for early fusion) and the docstrings say how.

Inputs may be vectors (B, D) — treated as one-frame sequences — or sequences (B, T, D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from affectkit.models.base import AffectModel
from affectkit.models.ssm import BroadMambaEncoder, compact
from affectkit.types import Modality

ENCODERS = ("mean", "gru", "ssm")


@dataclass
class ModalityView:
    """One modality of a batch after reading masks.

    Attributes:
        x: (B, T, D) features with invalid frames set to 0.
        frames: (B, T) bool, valid frames.
        present: (B,) bool, the sample has at least one valid frame of this modality.
    """

    x: torch.Tensor
    frames: torch.Tensor
    present: torch.Tensor


@dataclass
class Encoded:
    """A modality after its encoder: ``seq`` (B, T', H), ``frames`` (B, T') bool, ``pooled``
    (B, H) (0 where absent, never to be used there) and ``present`` (B,) bool."""

    seq: torch.Tensor
    frames: torch.Tensor
    pooled: torch.Tensor
    present: torch.Tensor


def _key(m) -> Modality:
    return m if isinstance(m, Modality) else Modality.parse(m)


def read_inputs(
    input_dims: dict[Modality, int],
    inputs: dict,
    lengths: dict | None = None,
    masks: dict | None = None,
    *,
    name: str = "model",
) -> dict[Modality, ModalityView]:
    """Normalise ``inputs`` (+ ``lengths``/``masks``) into :class:`ModalityView` objects.

    Returns only the modalities whose key is in ``inputs``; modalities of ``input_dims`` that
    are absent are simply not in the result.

    Raises:
        ValueError: a modality the model was not built for, a feature dimension that differs
            from ``input_dims``, a mask whose shape fits neither (B,) nor (B, T), or no input.
    """
    lengths = {_key(k): v for k, v in (lengths or {}).items()}
    masks = {_key(k): v for k, v in (masks or {}).items()}
    out: dict[Modality, ModalityView] = {}
    for k, x in inputs.items():
        m = _key(k)
        if m not in input_dims:
            raise ValueError(
                f"{name}: got input for modality {m.value!r} but the model was built for "
                f"{[d.value for d in input_dims]}; rebuild it with input_dims including {m.value}"
            )
        if x.dim() == 2:
            x = x[:, None, :]
        if x.dim() != 3 or x.shape[-1] != input_dims[m]:
            raise ValueError(
                f"{name}: inputs[{m.value}] has shape {tuple(x.shape)}; expected (B, {input_dims[m]}) "
                f"or (B, T, {input_dims[m]})"
            )
        B, T, _ = x.shape
        frames = torch.ones(B, T, dtype=torch.bool, device=x.device)
        if m in lengths and lengths[m] is not None:
            L = lengths[m].to(x.device)
            frames &= torch.arange(T, device=x.device)[None, :] < L[:, None]
        if m in masks and masks[m] is not None:
            mk = masks[m].to(x.device)
            if mk.dim() == 1 and mk.shape[0] == B:
                frames &= (mk > 0)[:, None]
            elif mk.dim() == 2 and mk.shape == (B, T):
                frames &= mk > 0
            else:
                raise ValueError(
                    f"{name}: masks[{m.value}] has shape {tuple(mk.shape)}; expected ({B},) "
                    f"(presence per sample) or ({B}, {T}) (valid frames)"
                )
        x = torch.where(frames[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        out[m] = ModalityView(x.float(), frames, frames.any(1))
    if not out:
        raise ValueError(f"{name}: no input modality given (inputs is empty)")
    return out


def batch_size(views: dict[Modality, ModalityView]) -> int:
    return next(iter(views.values())).x.shape[0]


def cap_frames(x: torch.Tensor, frames: torch.Tensor, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average consecutive frames into at most ``cap`` bins, honouring the frame mask.

    A bin's value is the mean of its valid frames and it is valid if any frame in it is.

    Shapes: x (B, T, D), frames (B, T) → (B, ceil(T/k), D), (B, ceil(T/k)) with k = ceil(T/cap).
    """
    B, T, D = x.shape
    if cap <= 0 or T <= cap:
        return x, frames
    k = -(-T // cap)
    pad = k * -(-T // k) - T
    fm = frames.to(x.dtype)
    if pad:
        x = torch.cat([x, x.new_zeros(B, pad, D)], 1)
        fm = torch.cat([fm, fm.new_zeros(B, pad)], 1)
    xs = (x * fm[..., None]).reshape(B, -1, k, D).sum(2)
    n = fm.reshape(B, -1, k).sum(2)
    return xs / n.clamp(min=1)[..., None], n > 0


def masked_mean(seq: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Mean over valid frames. (B, T, H), (B, T) → (B, H); 0 where no frame is valid."""
    fm = frames.to(seq.dtype)[..., None]
    return (seq * fm).sum(1) / fm.sum(1).clamp(min=1)


class SequenceEncoder(nn.Module):
    """Per-modality encoder: (B, T, D) + frames → sequence (B, T', H) and pooled (B, H).

    Kinds:
        ``"mean"``: frame-wise LayerNorm → Linear → GELU; pooled = masked mean.
        ``"gru"``: bidirectional GRU over the valid frames (compacted, packed); pooled = masked
            mean of the outputs.
        ``"ssm"``: :class:`~affectkit.models.ssm.BroadMambaEncoder` (bidirectional selective
            SSM + broad block); pooled = masked mean.
    """

    def __init__(self, in_dim: int, hidden: int, *, kind: str = "mean", dropout: float = 0.1,
                 d_state: int = 8) -> None:
        super().__init__()
        if kind not in ENCODERS:
            raise ValueError(f"encoder={kind!r}; allowed: {', '.join(ENCODERS)}")
        self.kind = kind
        if kind == "mean":
            self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, hidden))
        elif kind == "gru":
            self.norm = nn.LayerNorm(in_dim)
            self.gru = nn.GRU(in_dim, hidden // 2, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * (hidden // 2), hidden)
        else:

            self.net = BroadMambaEncoder(in_dim, hidden, d_state=d_state, dropout=dropout)

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(seq, frames_out, pooled)``."""
        fm = frames.to(x.dtype)[..., None]
        if self.kind == "mean":
            seq = self.net(x) * fm
        elif self.kind == "gru":
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

            xc, L = compact(self.norm(x), frames)
            packed = pack_padded_sequence(xc, L.clamp(min=1).cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, _ = self.gru(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            frames = torch.arange(x.shape[1], device=x.device)[None, :] < L[:, None]
            fm = frames.to(x.dtype)[..., None]
            seq = self.out(out) * fm
        else:
            seq, frames = self.net(x, frames)
        return seq, frames, masked_mean(seq, frames)


class FusionModel(AffectModel):
    """Base of the ``fusion.*`` models: modality bookkeeping and the per-modality encoders.

    ``flag_columns`` maps a modality to the column of a 0/1 per-frame validity flag in its
    features (``{"vision": 0}`` for ``vision.fer_frames``, whose column 0 is ``face_found``):
    frames with flag 0 are treated as missing frames, and a sample with none as missing that
    modality.

    Subclasses call :meth:`views` (raw inputs) or :meth:`encode` (encoded modalities) at the
    start of ``forward`` and must give every sample a finite output, even a sample with no
    modality at all (it then gets the model's "nothing observed" prediction).
    """

    family: ClassVar[str] = "fusion"
    input_kinds: ClassVar[dict[str, str]] = {"*": "sequence"}
    tolerates_missing: ClassVar[bool] = True
    #: per-sample presence masks (B,) and all-zero frame masks are understood as "missing"
    accepts_presence_masks: ClassVar[bool] = True

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, hidden: int = 48,
                 dropout: float = 0.1, encoder: str = "mean", max_frames: int = 32,
                 d_state: int = 8, flag_columns: dict[str, int] | None = None,
                 build_encoders: bool = True) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        if not self.input_dims:
            raise ValueError(f"{self.name}: input_dims is empty; give at least one modality")
        self.modalities: list[Modality] = [m for m in Modality if m in self.input_dims]
        self.hidden = int(hidden)
        self.max_frames = int(max_frames)
        # flags of modalities this model does not use are ignored (one config, many subsets)
        self.flag_columns = {Modality.parse(k): int(v) for k, v in (flag_columns or {}).items()
                             if Modality.parse(k) in self.input_dims}
        for m, c in self.flag_columns.items():
            if not 0 <= c < self.input_dims[m]:
                raise ValueError(f"{self.name}: flag_columns[{m.value}]={c} is not a column of "
                                 f"a {m.value} input of width {self.input_dims.get(m)}")
        if build_encoders:
            self.encoders = nn.ModuleDict({
                m.value: SequenceEncoder(self.input_dims[m], hidden, kind=encoder,
                                         dropout=dropout, d_state=d_state)
                for m in self.modalities
            })

    def views(self, inputs, lengths=None, masks=None) -> dict[Modality, ModalityView]:
        """Read inputs and cap the number of frames (``max_frames``)."""
        self.check_inputs(inputs)
        vs = read_inputs(self.input_dims, inputs, lengths, masks, name=self.name)
        for m, v in vs.items():
            x, fr = v.x, v.frames
            if m in self.flag_columns:  # e.g. vision.fer_frames' face_found: no face = no frame
                fr = fr & (x[..., self.flag_columns[m]] > 0.5)
                x = x * fr[..., None]
            x, fr = cap_frames(x, fr, self.max_frames)
            vs[m] = ModalityView(x, fr, fr.any(1))
        return vs

    def encode(self, inputs, lengths=None, masks=None) -> tuple[int, dict[Modality, Encoded]]:
        """Views → per-modality encoders. Returns ``(batch_size, {modality: Encoded})``."""
        vs = self.views(inputs, lengths, masks)
        out = {}
        for m, v in vs.items():
            seq, fr, pooled = self.encoders[m.value](v.x, v.frames)
            out[m] = Encoded(seq, fr, pooled, v.present)
        return batch_size(vs), out

    def presence(self, enc: dict, B: int, device) -> torch.Tensor:
        """(B, M) bool over ``self.modalities``; False for missing keys."""
        cols = [enc[m].present if m in enc else torch.zeros(B, dtype=torch.bool, device=device)
                for m in self.modalities]
        return torch.stack(cols, 1)


# --- small shared blocks ----------------------------------------------------------------------


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over ``mask``-ed entries; rows with no valid entry get all zeros (not NaN)."""
    s = scores.masked_fill(~mask, float("-inf"))
    any_valid = mask.any(dim, keepdim=True)
    s = torch.where(any_valid, s, torch.zeros_like(s))
    return torch.softmax(s, dim) * mask.to(scores.dtype)


def sinusoid(T: int, d: int, device=None) -> torch.Tensor:
    """Fixed sinusoidal position table (T, d) (Vaswani et al.)."""
    pos = torch.arange(T, device=device, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, device=device, dtype=torch.float32)
    ang = pos / torch.pow(10000.0, i / d)
    pe = torch.zeros(T, d, device=device)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d // 2])
    return pe


def safe_key_mask(frames: torch.Tensor) -> torch.Tensor:
    """``key_padding_mask`` for ``nn.MultiheadAttention`` (True = ignore) that never masks a
    whole row: rows without any valid key keep key 0 (whose value is 0, as masked inputs are
    zeroed) so attention stays finite; callers discard those rows' results via presence."""
    pad = ~frames
    empty = ~frames.any(1)
    if empty.any():
        pad = pad.clone()
        pad[empty, 0] = False
    return pad


class FusedHead(nn.Module):
    """Concatenate per-modality vectors, using a learned *absent* embedding (and a presence
    flag) for a missing modality, then MLP → embedding → linear head.

    This is how models whose paper concatenates modality vectors keep working with any subset:
    the placeholder is a learned parameter in the fused space (like a [MASK] token), never a
    zero input that looks like data, and the presence flags tell the MLP which is which.
    """

    def __init__(self, modalities: list[Modality], dim: int, hidden: int, n_outputs: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.modalities = list(modalities)
        self.absent = nn.Parameter(torch.zeros(len(modalities), dim))
        nn.init.normal_(self.absent, std=0.02)
        M = len(modalities)
        self.mlp = nn.Sequential(nn.Linear(M * dim + M, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, vecs: dict[Modality, torch.Tensor], present: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """vecs: {m: (B, dim)} (entries may be missing); present: (B, M) bool → (emb, logits)."""
        parts = []
        for j, m in enumerate(self.modalities):
            a = self.absent[j].expand(present.shape[0], -1)
            parts.append(torch.where(present[:, j:j + 1], vecs[m], a) if m in vecs else a)
        h = self.mlp(torch.cat(parts + [present.float()], dim=-1))
        return h, self.head(h)
