"""Speech-emotion models on log-mel frames: a multi-scale CNN and a small CRNN.

Input: ``audio`` (B, T, F) log-mel frames (``audio.logmel``, 100 frames/s) with lengths (B,).
Both normalise each mel band with BatchNorm (learned train-set statistics, so no separate
feature scaler), optionally SpecAugment the input while training, and pool over time with
attention that ignores padding.
"""

from __future__ import annotations

import torch
from torch import nn

from affectkit.models.base import MODELS, AffectModel, AttentionPool
from affectkit.types import Modality


def spec_augment(x: torch.Tensor, lengths: torch.Tensor | None, n_time: int = 2, t_width: int = 20,
                 n_freq: int = 2, f_width: int = 8) -> torch.Tensor:
    """Zero random time and frequency stripes (Park et al., 2019). x: (B, T, F)."""
    B, T, F = x.shape
    x = x.clone()
    for _ in range(n_freq):
        w = torch.randint(0, f_width + 1, (B,))
        s = (torch.rand(B) * (F - w).clamp(min=1)).long()
        f = torch.arange(F)[None, :]
        x = x.masked_fill(((f >= s[:, None]) & (f < (s + w)[:, None]))[:, None, :], 0.0)
    for _ in range(n_time):
        w = torch.randint(0, t_width + 1, (B,))
        L = lengths if lengths is not None else torch.full((B,), T)
        s = (torch.rand(B) * (L - w).clamp(min=1)).long()
        t = torch.arange(T)[None, :]
        x = x.masked_fill(((t >= s[:, None]) & (t < (s + w)[:, None]))[:, :, None], 0.0)
    return x


class _Conv(nn.Sequential):
    def __init__(self, cin: int, cout: int, k=3, pool=(2, 2)) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, padding="same", bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(pool) if pool else nn.Identity())


class _LogMelModel(AffectModel):
    input_kinds = {"audio": "sequence"}
    required_modalities = (Modality.AUDIO,)

    def __init__(self, *, input_dims, n_outputs, time_stride: int = 2, augment: bool = True):
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        self.n_mels = self.input_dims[Modality.AUDIO]
        self.in_norm = nn.BatchNorm1d(self.n_mels)
        self.time_stride = time_stride
        self.augment = augment

    #: shorter inputs are zero-padded (masked) up to this many frames, so the pooling stack
    #: always has a frame left (a 0.1 s clip gets an output, not a torch error)
    min_frames = 16

    def _prep(self, inputs, lengths):
        x = inputs[Modality.AUDIO].float()  # (B, T, F)
        L = lengths.get(Modality.AUDIO) if lengths else None
        if L is None:
            L = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        if x.shape[1] < self.min_frames:
            x = nn.functional.pad(x, (0, 0, 0, self.min_frames - x.shape[1]))
        valid = (torch.arange(x.shape[1])[None, :] < L[:, None]).float()[..., None]
        x = self.in_norm(x.transpose(1, 2)).transpose(1, 2) * valid  # padding stays 0
        if self.training and self.augment:
            x = spec_augment(x, L)
        if self.time_stride > 1:  # 100 → 50 frames/s: emotion cues are slower; 2× cheaper
            x = nn.functional.avg_pool1d(x.transpose(1, 2), self.time_stride,
                                         ceil_mode=True).transpose(1, 2)
            L = (L + self.time_stride - 1) // self.time_stride
        return x, L


@MODELS.register("voice.mscnn")
class MultiScaleCNN(_LogMelModel):
    """Multi-scale CNN: parallel 3/5/7 kernels on the log-mel image, two conv blocks,
    attention pooling over time."""

    family = "voice"
    summary = "multi-scale CNN + attention pooling on log-mel"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, channels: int = 16,
                 dropout: float = 0.3, time_stride: int = 2, augment: bool = True) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, time_stride=time_stride,
                         augment=augment)
        c = channels
        # a strided stem first: the multi-scale branches then run at 1/4 of the pixels
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.branches = nn.ModuleList(
            [nn.Conv2d(c, c, k, padding="same", bias=False) for k in (3, 5, 7)])
        self.bn0 = nn.BatchNorm2d(3 * c)
        self.body = nn.Sequential(nn.MaxPool2d(2), _Conv(3 * c, 2 * c), _Conv(2 * c, 4 * c, pool=(2, 1)))
        self.pool = AttentionPool(4 * c)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * c, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        x, L = self._prep(inputs, lengths)
        z = x.transpose(1, 2)[:, None]  # (B, 1, F, T)
        T0 = z.shape[-1]

        def mask(z):  # re-zero padded time steps so padding never leaks into valid ones
            t = torch.arange(z.shape[-1])[None, :]
            Lz = (L * z.shape[-1] + T0 - 1) // T0
            return z * (t < Lz[:, None]).to(z.dtype)[:, None, None, :]

        z = mask(self.stem(z))
        z = mask(torch.relu(self.bn0(torch.cat([b(z) for b in self.branches], 1))))
        for block in self.body:
            z = mask(block(z))  # (B, C, F/16, T/8) at the end
        z = z.mean(2).transpose(1, 2)  # (B, T/8, C)
        h = self.pool(z, ((L + 7) // 8).clamp(min=1, max=z.shape[1]))
        return self.outputs(h, self.head(self.drop(h)))


@MODELS.register("voice.crnn")
class CRNN(_LogMelModel):
    """Small CRNN: three conv blocks (pool frequency, and time ×2 once), a bidirectional GRU,
    attention pooling."""

    family = "voice"
    summary = "3 conv blocks + BiGRU + attention pooling on log-mel"

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, channels: int = 16,
                 hidden: int = 64, dropout: float = 0.3, time_stride: int = 2,
                 augment: bool = True) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs, time_stride=time_stride,
                         augment=augment)
        c = channels
        self.convs = nn.Sequential(_Conv(1, c, pool=(2, 2)), _Conv(c, 2 * c, pool=(2, 1)),
                                   _Conv(2 * c, 2 * c, pool=(2, 1)))
        self.rnn = nn.GRU(2 * c * (self.n_mels // 8), hidden, batch_first=True, bidirectional=True)
        self.pool = AttentionPool(2 * hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        x, L = self._prep(inputs, lengths)
        z = x.transpose(1, 2)[:, None]
        for block in self.convs:  # re-zero the padding after each block: no leak into the GRU
            z = block(z)
            t = torch.arange(z.shape[-1])[None, :]
            Lz = (L * z.shape[-1] + x.shape[1] - 1) // x.shape[1]
            z = z * (t < Lz[:, None]).to(z.dtype)[:, None, None, :]
        # z: (B, C, F/8, T/2)
        B, C, Fr, T = z.shape
        z = z.permute(0, 3, 1, 2).reshape(B, T, C * Fr)
        L2 = ((L + 1) // 2).clamp(min=1, max=T)
        packed = nn.utils.rnn.pack_padded_sequence(z, L2.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        h = self.pool(out, L2)
        return self.outputs(h, self.head(self.drop(h)))
