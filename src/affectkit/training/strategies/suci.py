"""``suci`` — Subject Causal Intervention (Yang et al., 2024, arXiv:2403.05963) as a strategy.

Models pick up subject-specific shortcuts (a speaker's habitual pitch, a face's resting
expression); the subject is a confounder of input and label. SuCI replaces P(Y | X) with the
backdoor adjustment P(Y | do(X)) = Σ_z P(Y | X, z) P(z) over a *dictionary of subject
prototypes* z_1..z_K, approximated (normalised weighted geometric mean, as in the paper) by
feeding the model ``x + W_o Σ_k α_k(x) P(z_k) z̃_k`` with attention weights
``α(x) = softmax_k((W_q x)·(W_k z̃_k) / √h)``.

How it runs on the one Trainer:

* **dictionary** — during the first training epoch the strategy averages each modality's
  (frame-pooled) input vectors per training subject (``transform_batch``); at the end of that
  epoch the prototypes z_k and the prior P(z_k) = n_k / N are frozen (buffers of the module).
  The adjustment is off during that first epoch (and its validation) and on from then on.
* **adjustment** — a small module added to the model as ``model.suci`` (so it is optimised,
  checkpointed and restored with the best epoch) and applied to the model's inputs by a
  forward pre-hook, in training *and* at inference; sequence inputs get the same vector added
  to every frame.

Deviations from the paper, deliberate:

1. The dictionary is built from the model's *inputs* (frozen encoder features), not from a
   backbone's intermediate representation, so the strategy works for any model without a
   hook into its layers.
2. Prototypes are centred on their prior-weighted mean (z̃_k = z_k − Σ_j P(z_j) z_j): the mean
   is a constant the model's biases absorb anyway, and centring makes the adjustment exactly
   zero with a single subject — SuCI then *is* the plain model (unit-tested).
3. ``W_o`` starts at zero, so training starts from the plain model.

Subjects come from :attr:`Batch.speakers` (the corpus's speaker ids, filled by
``Prepared.batch``); items whose speaker is unknown share one "unknown" subject, and a batch
without speakers (built by hand) makes every item that subject — with one subject SuCI is the
plain model, and the strategy warns.

Reloading: the module's weights (``suci.*``) go into ``model.safetensors`` with the model's;
the frozen dictionary (prototypes and prior) is written once, when it is built, to the run
folder's ``strategy.safetensors``. :meth:`RunDir.load_model` calls :meth:`SuCI.on_load`, which
attaches the module and restores that dictionary before the weights are loaded, so
``affect evaluate`` on a SuCI run folder scores exactly what the training run scored.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from affectkit.data.batch import Batch
from affectkit.errors import ConfigError
from affectkit.training.strategies.base import STRATEGIES, Strategy
from affectkit.types import Modality

UNKNOWN = "<unknown>"


class SubjectIntervention(nn.Module):
    """The backdoor-adjustment module over a subject dictionary, one per input modality.

    Args:
        dims: per modality, the feature dimension (last axis of the input).
        hidden: attention width h.
    """

    def __init__(self, dims: dict[Modality, int], hidden: int = 64) -> None:
        super().__init__()
        self.mods = sorted(dims, key=lambda m: m.value)
        self.hidden = hidden
        self.q = nn.ModuleDict({m.value: nn.Linear(dims[m], hidden, bias=False) for m in self.mods})
        self.k = nn.ModuleDict({m.value: nn.Linear(dims[m], hidden, bias=False) for m in self.mods})
        self.o = nn.ModuleDict({m.value: nn.Linear(dims[m], dims[m], bias=False) for m in self.mods})
        for lin in self.o.values():
            nn.init.zeros_(lin.weight)
        # not persistent: the dictionary is rebuilt from the data; restoring an earlier epoch's
        # weights (early stopping) must not shrink it back
        for m in self.mods:
            self.register_buffer(f"z_{m.value}", torch.zeros(1, dims[m]), persistent=False)
        self.register_buffer("prior", torch.ones(1), persistent=False)
        self.register_buffer("active", torch.zeros((), dtype=torch.bool), persistent=False)

    def set_dictionary(self, protos: dict[Modality, torch.Tensor], prior: torch.Tensor) -> None:
        """Freeze the prototypes (K, D_m) and the prior P(z) (K,)."""
        prior = prior.float() / prior.float().sum()
        for m in self.mods:
            z = protos[m].float()
            centred = z - (prior[:, None] * z).sum(0, keepdim=True)
            setattr(self, f"z_{m.value}", centred)
        self.prior = prior
        self.active = torch.ones((), dtype=torch.bool)

    def dictionary(self) -> dict[str, torch.Tensor]:
        """The frozen dictionary as named tensors (centred prototypes per modality, prior)."""
        out = {f"z_{m.value}": getattr(self, f"z_{m.value}") for m in self.mods}
        return out | {"prior": self.prior}

    def load_dictionary(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`dictionary` exactly (no re-centring) and switch the adjustment on."""
        need = [f"z_{m.value}" for m in self.mods] + ["prior"]
        missing = [k for k in need if k not in tensors]
        if missing:
            raise ConfigError(f"suci: the saved dictionary lacks {missing}; it was written for "
                              "other input modalities — retrain the run")
        for m in self.mods:
            z = tensors[f"z_{m.value}"].float()
            if z.shape[-1] != getattr(self, f"z_{m.value}").shape[-1]:
                raise ConfigError(f"suci: saved {m} prototypes are {z.shape[-1]}-d, the model's "
                                  f"input is {getattr(self, f'z_{m.value}').shape[-1]}-d")
            setattr(self, f"z_{m.value}", z)
        self.prior = tensors["prior"].float()
        self.active = torch.ones((), dtype=torch.bool)

    def adjustment(self, m: Modality, pooled: torch.Tensor) -> torch.Tensor:
        """``W_o Σ_k α_k(x) P(z_k) z̃_k`` for pooled inputs (B, D) → (B, D)."""
        z = getattr(self, f"z_{m.value}")
        att = (self.q[m.value](pooled) @ self.k[m.value](z).T) / math.sqrt(self.hidden)
        w = torch.softmax(att, -1) * self.prior[None, :]
        return self.o[m.value](w @ z)

    def forward(self, inputs: dict, lengths: dict | None = None) -> dict:
        if not bool(self.active):
            return inputs
        out = dict(inputs)
        for m, x in inputs.items():
            if m not in self.mods or not torch.is_floating_point(x):
                continue
            pooled = _pool(x, (lengths or {}).get(m))
            adj = self.adjustment(m, pooled)
            out[m] = x + (adj[:, None, :] if x.dim() == 3 else adj)
        return out


def _pool(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if x.dim() == 2:
        return x.float()
    if lengths is None:
        return x.float().mean(1)
    mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).float()
    return (x.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def subjects_of(batch: Batch) -> list[str]:
    """The subject of each row: :attr:`Batch.speakers`, ``UNKNOWN`` where it is missing."""
    if batch.speakers is None:
        return [UNKNOWN] * len(batch)
    return [s or UNKNOWN for s in batch.speakers]


@STRATEGIES.register("suci")
class SuCI(Strategy):
    """Subject causal intervention; see the module docstring.

    Args:
        hidden: attention width of the adjustment.
        lr_scale: learning-rate multiplier of the adjustment module.
    """

    name = "suci"

    def __init__(self, hidden: int = 64, lr_scale: float = 1.0) -> None:
        self.hidden = int(hidden)
        self.lr_scale = float(lr_scale)
        self.module: SubjectIntervention | None = None
        self._sums: dict[str, dict[Modality, torch.Tensor]] = {}
        self._counts: dict[str, int] = {}
        self.n_subjects = 0

    # -- wiring ----------------------------------------------------------------------------------
    def attach(self, model: nn.Module) -> SubjectIntervention:
        """Add the module to ``model`` (as ``model.suci``) and hook it in front of its forward."""
        if getattr(model, "suci", None) is not None:
            self.module = model.suci
            return self.module
        dims = {Modality.parse(k): int(v) for k, v in model.input_dims.items()}
        self.module = SubjectIntervention(dims, self.hidden)
        model.add_module("suci", self.module)

        def hook(mod, args, kwargs):
            inputs = args[0] if args else kwargs.pop("inputs")
            new = mod.suci(inputs, kwargs.get("lengths"))
            return (new,) + tuple(args[1:]), kwargs

        model.register_forward_pre_hook(hook, with_kwargs=True)
        return self.module

    def param_groups(self, trainer, groups):
        mod = self.attach(trainer.model)
        lr = trainer.cfg.lr * self.lr_scale
        params = [p for n, p in mod.named_parameters() if n.startswith(("q.", "k.", "o."))]
        return groups + [{"params": params, "lr": lr, "weight_decay": trainer.cfg.weight_decay}]

    def on_fit_start(self, trainer) -> None:
        """On a resumed run, restore the dictionary the interrupted run built."""
        run = trainer.run
        if (self.module is None or run is None or not trainer.resume
                or not run.exists("last.json")):
            return
        saved = run.strategy_tensors()
        if saved is not None:
            self.module.load_dictionary(saved[0])
            self.n_subjects = int(saved[0]["prior"].numel())

    def on_load(self, model: nn.Module, run) -> None:
        """Reloading a run folder: attach the module (its weights are in ``model.safetensors``)
        and restore the dictionary from ``strategy.safetensors``. A run without that file
        must never have switched the adjustment on (``W_o`` still zero), else it is an error:
        its scores cannot be reproduced."""
        mod = self.attach(model)
        saved = run.strategy_tensors()
        if saved is not None:
            mod.load_dictionary(saved[0])
            self.n_subjects = int(saved[0]["prior"].numel())
            return
        from safetensors import safe_open

        with safe_open(str(run.file("model.safetensors")), framework="pt") as f:
            trained = any(f.get_tensor(k).abs().sum() > 0 for k in f.keys()
                          if k.startswith("suci.o."))
        if trained:
            raise ConfigError(f"{run.path}: a SuCI run without strategy.safetensors (written "
                              "before the dictionary was saved); its adjustment cannot be "
                              "restored — retrain the run")

    # -- dictionary ------------------------------------------------------------------------------
    def transform_batch(self, trainer, batch: Batch) -> Batch:
        if self.module is None or bool(self.module.active):
            return batch
        pooled = {m: _pool(x, batch.lengths.get(m)).detach() for m, x in batch.inputs.items()
                  if m in self.module.mods and torch.is_floating_point(x)}
        for j, s in enumerate(subjects_of(batch)):
            acc = self._sums.setdefault(s, {})
            for m, v in pooled.items():
                acc[m] = acc.get(m, 0) + v[j]
            self._counts[s] = self._counts.get(s, 0) + 1
        return batch

    def on_epoch_end(self, trainer, epoch, valid_metrics) -> None:
        if self.module is None or bool(self.module.active) or not self._counts:
            return
        subjects = sorted(self._counts)
        n = torch.tensor([self._counts[s] for s in subjects], dtype=torch.float32)
        protos = {m: torch.stack([self._sums[s][m] / self._counts[s] for s in subjects])
                  for m in self.module.mods if all(m in self._sums[s] for s in subjects)}
        if set(protos) != set(self.module.mods):
            return
        self.module.set_dictionary(protos, n)
        self.n_subjects = len(subjects)
        dist = getattr(trainer, "dist", None)  # under torchrun only rank 0 writes the folder
        if trainer.run is not None and getattr(dist, "is_main", True):
            trainer.run.save_strategy(self.module.dictionary(),
                                      {"strategy": self.state(), "subjects": subjects})
        if self.n_subjects == 1:
            warnings.warn("suci: one subject in the training data (speakers unknown?) — the "
                          "adjustment is zero and SuCI is the plain model", stacklevel=2)
        self._sums.clear()

    def state(self) -> dict:
        return {"name": self.name, "hidden": self.hidden, "lr_scale": self.lr_scale,
                "n_subjects": self.n_subjects}
