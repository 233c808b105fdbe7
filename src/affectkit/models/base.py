"""Model base class, the model registry and small shared blocks.

A model is one class in ``affectkit/models/<family>.py`` registered with
``@MODELS.register("family.name")``. Its constructor takes keyword-only, typed arguments —
they *are* its configuration — always including ``input_dims: dict[Modality, int]`` and
``n_outputs``. ``forward(inputs, lengths=None, masks=None)`` takes ``dict[Modality, Tensor]``
and returns a dict with ``"logits"`` (B, n_outputs), ``"embedding"`` (B, E) and, when the head
has one output, ``"score"`` (B,).

Class attributes declare what the model needs:

* ``input_kinds``: per modality, the tensor form expected — ``"vector"`` (B, D),
  ``"sequence"`` (B, T, D) with ``lengths`` (B,), ``"image"`` (B, 1, H, W) or ``"tokens"``
  (B, L) int64 with ``masks`` (B, L). ``"*"`` as key means "any modality in ``input_dims``".
* ``required_modalities`` and ``tolerates_missing``.
* ``no_decay`` / ``lr_scale``: parameter groups are chosen by parameter *name*
  (:meth:`AffectModel.param_groups`), never by position.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import torch
from torch import nn

from affectkit.errors import ConfigError
from affectkit.registry import Registry
from affectkit.types import Modality

MODELS: Registry[type] = Registry("model", "affectkit.models")


class AffectModel(nn.Module):
    """Base of the PyTorch models trained by :class:`affectkit.training.Trainer`."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    input_kinds: ClassVar[dict[str, str]] = {"*": "vector"}
    required_modalities: ClassVar[tuple[Modality, ...]] = ()
    tolerates_missing: ClassVar[bool] = False
    #: regexes on parameter names that get no weight decay
    no_decay: ClassVar[tuple[str, ...]] = (r"\.bias$", r"norm", r"\.bn\d*\.", r"(^|\.)ln")
    #: {regex on parameter names: learning-rate multiplier}; first match wins
    lr_scale: ClassVar[dict[str, float]] = {}

    def __init__(self, *, input_dims: dict[Modality, int], n_outputs: int) -> None:
        super().__init__()
        self.input_dims = {Modality.parse(k): int(v) for k, v in input_dims.items()}
        self.n_outputs = int(n_outputs)
        missing = [m for m in self.required_modalities if m not in self.input_dims]
        if missing:
            raise ConfigError(
                f"model {self.name!r} requires modalities {[str(m) for m in missing]} but the "
                f"config gives features only for {[str(m) for m in self.input_dims]}; add "
                f"features.{missing[0]}: <extractor>"
            )

    @classmethod
    def input_kind(cls, modality: Modality) -> str:
        return cls.input_kinds.get(str(modality), cls.input_kinds.get("*", "vector"))

    def check_inputs(self, inputs: dict[Modality, torch.Tensor]) -> None:
        if not self.tolerates_missing:
            missing = [m for m in self.input_dims if m not in inputs]
            if missing:
                raise ValueError(
                    f"{self.name}: inputs lack {[str(m) for m in missing]} and this model does "
                    "not tolerate missing modalities"
                )

    def outputs(self, embedding: torch.Tensor, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"embedding": embedding, "logits": logits}
        if logits.shape[-1] == 1:
            out["score"] = logits[:, 0]
        return out

    def param_groups(self, *, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups by parameter name: (lr multiplier, decay or not)."""
        groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
        names: dict[tuple[float, bool], list[str]] = {}
        for n, p in self.named_parameters():
            if not p.requires_grad:
                continue
            scale = next((s for pat, s in self.lr_scale.items() if re.search(pat, n)), 1.0)
            decay = p.ndim > 1 and not any(re.search(pat, n) for pat in self.no_decay)
            groups.setdefault((scale, decay), []).append(p)
            names.setdefault((scale, decay), []).append(n)
        return [
            {"params": ps, "lr": lr * s, "weight_decay": weight_decay if d else 0.0,
             "names": names[(s, d)]}
            for (s, d), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors worth saving: all by default; frozen-backbone models save only deltas."""
        return {k: v for k, v in self.state_dict().items()}

    def n_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


# --- shared blocks ---------------------------------------------------------------------------


class MLP(nn.Module):
    """Linear → GELU → Dropout blocks. ``dims`` = [in, hidden..., out]."""

    def __init__(self, dims: list[int], dropout: float = 0.0, norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            last = i == len(dims) - 2
            layers.append(nn.Linear(a, b))
            if not last:
                if norm:
                    layers.append(nn.LayerNorm(b))
                layers += [nn.GELU(), nn.Dropout(dropout)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AttentionPool(nn.Module):
    """Attention pooling over time. x: (B, T, D), lengths: (B,) → (B, D)."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        a = self.score(x).squeeze(-1)  # (B, T)
        if lengths is not None:
            t = torch.arange(x.shape[1], device=x.device)[None, :]
            a = a.masked_fill(t >= lengths[:, None].clamp(min=1), float("-inf"))
        w = a.softmax(-1).unsqueeze(-1)
        return (w * x).sum(1)


def create_model(name: str, *, input_dims: dict[Modality, int], n_outputs: int, **kwargs: Any):
    """Instantiate a registered model; unknown keyword arguments name the allowed ones."""
    import inspect

    cls = MODELS.get(name)
    sig = inspect.signature(cls.__init__)
    allowed = [p for p in sig.parameters if p not in ("self", "input_dims", "n_outputs")]
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    bad = [k for k in kwargs if k not in allowed]
    if bad and not has_var_kw:
        raise ConfigError(
            f"model {name!r}: unknown argument {bad[0]!r}; allowed: {', '.join(allowed) or '(none)'}"
        )
    model = cls(input_dims=input_dims, n_outputs=n_outputs, **kwargs)
    if not getattr(model, "name", ""):
        model.name = name  # the registry name, for messages and progress bars
    return model


def model_info(name: str) -> dict[str, Any]:
    """Registry entry as a JSON-able dict (``affect models list --json``)."""
    import inspect

    cls = MODELS.get(name)
    sig = inspect.signature(cls.__init__)
    args = {}
    for p in sig.parameters.values():
        if p.name in ("self", "input_dims", "n_outputs") or p.kind is p.VAR_KEYWORD:
            continue
        args[p.name] = None if p.default is inspect.Parameter.empty else p.default
    return {
        "name": name,
        "family": getattr(cls, "family", ""),
        "kind": "sklearn" if getattr(cls, "is_sklearn", False) else "torch",
        "summary": getattr(cls, "summary", "") or (cls.__doc__ or "").strip().splitlines()[0],
        "input_kinds": dict(getattr(cls, "input_kinds", {})),
        "required_modalities": [str(m) for m in getattr(cls, "required_modalities", ())],
        "tolerates_missing": bool(getattr(cls, "tolerates_missing", False)),
        "args": args,
    }
