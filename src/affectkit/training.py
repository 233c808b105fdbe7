"""The one Trainer: fit / evaluate / predict, seeds, early stopping, checkpoints, resume.

Everything that differs between training schemes goes through a :class:`Strategy` (named hook
points), never a second loop::

    optimizer groups                             strategy.param_groups(trainer, groups)
    for epoch:                                   strategy.on_epoch_start(trainer, epoch)
        for batch in shuffled(train):            batch = strategy.transform_batch(trainer, batch)
            outputs = model(batch.inputs, ...)
            loss = strategy.loss(trainer, model, batch, outputs)    # default: task.loss
            backward, clip, AdamW step, LR schedule
        valid metrics → key metric → best checkpoint / patience
                                                 strategy.on_epoch_end(trainer, epoch, metrics)

Model selection and early stopping look at the validation split only; test data is never
passed to :meth:`Trainer.fit`. With ``run_dir`` set, every epoch writes ``last.safetensors``
(model + optimizer tensors) and ``last.json`` (epoch, best, history) so an interrupted run
resumes where it stopped; the best weights go to ``model.safetensors`` with
``config.json`` (resolved config), ``task.json`` and ``metrics.json`` beside them. No pickle.

Reproducibility: each epoch reseeds torch/numpy/random from ``(seed, epoch)``, so the same seed
gives the same result, and a resumed run gives the same result as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affectkit.config import TrainerConfig
from affectkit.errors import ConfigError
from affectkit.registry import Registry
from affectkit.tasks import Task
from affectkit.types import Modality

STRATEGIES: Registry[type] = Registry("strategy")


# --- data ------------------------------------------------------------------------------------


@dataclass
class TensorData:
    """An in-memory split: model inputs per modality, targets and utterance ids.

    Attributes:
        inputs: per modality, (N, ...) tensors (see ``AffectModel.input_kinds``).
        target: (N,) class ids / scores, or (N, L) multi-label / dimensional targets.
        ids: N utterance ids (metrics and predictions are reported against them).
        lengths: per modality (N,) valid lengths of padded sequences.
        masks: per modality (N, L) attention masks (tokens) or presence masks.
        groups: optional (N,) group ids (speaker) for diagnostics.
    """

    inputs: dict[Modality, torch.Tensor]
    target: torch.Tensor
    ids: list[str]
    lengths: dict[Modality, torch.Tensor] = field(default_factory=dict)
    masks: dict[Modality, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name, d in (("inputs", self.inputs), ("lengths", self.lengths), ("masks", self.masks)):
            for m, t in d.items():
                if len(t) != n:
                    raise ValueError(f"TensorData.{name}[{m}] has {len(t)} rows, ids has {n}")
        if len(self.target) != n:
            raise ValueError(f"TensorData.target has {len(self.target)} rows, ids has {n}")

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, idx: Sequence[int] | torch.Tensor, trim: bool = True) -> TensorData:
        """Rows ``idx``. With ``trim``, padded sequences/tokens are cut to the longest item of
        the batch (a batch of short sentences should not pay for the corpus's longest one)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        inputs = {m: t[idx_t] for m, t in self.inputs.items()}
        lengths = {m: t[idx_t] for m, t in self.lengths.items()}
        masks = {m: t[idx_t] for m, t in self.masks.items()}
        if trim:
            for m, L in lengths.items():
                if len(L) and inputs[m].dim() >= 2:
                    inputs[m] = inputs[m][:, :max(1, int(L.max()))]
            for m, mk in masks.items():
                if len(mk) and mk.dim() == 2 and inputs[m].dim() == 2:
                    n = max(1, int(mk.sum(1).max()))
                    inputs[m], masks[m] = inputs[m][:, :n], mk[:, :n]
        return TensorData(inputs, self.target[idx_t], [self.ids[i] for i in idx_t.tolist()],
                          lengths, masks)

    def vectors(self) -> np.ndarray:
        """All vector inputs concatenated (modality order), for scikit-learn models. (N, ΣD)"""
        parts = []
        for m in sorted(self.inputs, key=lambda m: m.value):
            t = self.inputs[m]
            if t.dim() == 3:  # a sequence: mean+std pooled over valid frames
                L = self.lengths.get(m)
                mask = (torch.arange(t.shape[1])[None, :] < L[:, None]).float() if L is not None \
                    else torch.ones(t.shape[:2])
                denom = mask.sum(1, keepdim=True).clamp(min=1)
                mean = (t * mask[..., None]).sum(1) / denom
                var = (((t - mean[:, None]) ** 2) * mask[..., None]).sum(1) / denom
                t = torch.cat([mean, var.sqrt()], -1)
            parts.append(t.reshape(len(t), -1).float().numpy())
        return np.concatenate(parts, axis=1)


# --- strategies ------------------------------------------------------------------------------


class Strategy:
    """Hook points of the training loop. Subclass and override what your scheme changes.

    Distillation (a teacher's outputs added to the loss), modality dropout (inputs removed at
    random), multistage schedules (freeze/unfreeze in ``on_epoch_start``) all fit here.
    """

    name = "default"

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (after a resume, too)."""

    def param_groups(self, trainer: Trainer, groups: list[dict]) -> list[dict]:
        """Adjust the AdamW parameter groups before the optimizer is built: add a strategy's
        own trainable modules (a distillation projector), or parameters a multistage schedule
        will unfreeze later (their groups may start with ``lr`` 0). Default: unchanged."""
        return groups

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before each training epoch (``trainer.model`` is in train mode)."""

    def transform_batch(self, trainer: Trainer, batch: TensorData) -> TensorData:
        """Change a *training* batch before the forward pass (augmentation, dropping inputs)."""
        return batch

    def loss(self, trainer: Trainer, model: torch.nn.Module, batch: TensorData,
             outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of one batch. Default: the task's loss."""
        return trainer.task.loss(outputs, batch.target)

    def on_epoch_end(self, trainer: Trainer, epoch: int, valid_metrics: dict) -> None:
        """Called after validation of each epoch."""

    def state(self) -> dict:
        """JSON-able state saved with the run (resumable strategies)."""
        return {"name": self.name}


STRATEGIES.register("default")(Strategy)


@STRATEGIES.register("modality_dropout")
class ModalityDropout(Strategy):
    """Drop each modality from a training batch with probability ``p`` (keeping at least one).

    Only for models with ``tolerates_missing = True``; the model sees a missing key, never a
    zero tensor. The draw uses torch's RNG, which the trainer reseeds per epoch.
    """

    name = "modality_dropout"

    def __init__(self, p: float = 0.2) -> None:
        if not 0 <= p < 1:
            raise ConfigError(f"trainer.strategy_args.p must be in [0, 1), got {p}")
        self.p = p

    def on_fit_start(self, trainer):
        if not getattr(trainer.model, "tolerates_missing", False):
            raise ConfigError(
                f"strategy modality_dropout needs a model that tolerates missing modalities; "
                f"{trainer.model.name!r} does not"
            )

    def transform_batch(self, trainer, batch):
        mods = list(batch.inputs)
        keep = [m for m in mods if torch.rand(()) >= self.p]
        if not keep:
            keep = [mods[int(torch.randint(len(mods), ()))]]
        return TensorData({m: batch.inputs[m] for m in keep}, batch.target, batch.ids,
                          {m: v for m, v in batch.lengths.items() if m in keep},
                          {m: v for m, v in batch.masks.items() if m in keep})

    def state(self):
        return {"name": self.name, "p": self.p}


def make_strategy(name: str | None, args: dict | None = None) -> Strategy:
    if not name:
        return Strategy()
    import affectkit.strategies  # noqa: F401  (registers random_missing, corrkd)

    return STRATEGIES.get(name)(**(args or {}))


# --- checkpoint helpers ----------------------------------------------------------------------


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path, meta: dict | None = None) -> None:
    from safetensors.torch import save_file

    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
              metadata={k: json.dumps(v) for k, v in (meta or {}).items()})
    tmp.replace(path)  # atomic: an interruption never leaves a half-written checkpoint


def _write_json(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default), encoding="utf-8")
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path | Modality):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for k, v in meta["scalars"].items():
        pid, name = k.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


# --- the trainer -----------------------------------------------------------------------------


@dataclass
class FitResult:
    best_epoch: int
    best_valid: dict
    history: list[dict]
    seconds: float
    stopped_early: bool
    resumed_from: int | None = None


class Trainer:
    """Fits a model to a task with AdamW, warm-up + cosine LR, early stopping on validation.

    Args:
        model: an :class:`~affectkit.models.AffectModel` (or a scikit-learn baseline from
            ``affectkit.models.classical``, fitted in :meth:`fit` without the epoch loop).
        task: the :class:`~affectkit.tasks.Task` (loss, metrics, key metric).
        config: :class:`~affectkit.config.TrainerConfig`.
        seed: training seed.
        run_dir: where checkpoints go; ``None`` keeps everything in memory.
        strategy: hook object; default from ``config.strategy``.
        resolved_config: the full experiment config, saved as ``config.json``.
        resume: continue from ``run_dir/last.*`` when present.
    """

    def __init__(self, model, task: Task, config: TrainerConfig | None = None, *, seed: int = 0,
                 run_dir: str | Path | None = None, strategy: Strategy | None = None,
                 resolved_config: dict | None = None, resume: bool = True) -> None:
        self.model = model
        self.task = task
        self.cfg = config or TrainerConfig()
        self.seed = int(seed)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.strategy = strategy or make_strategy(self.cfg.strategy, self.cfg.strategy_args)
        self.resolved_config = resolved_config
        self.resume = resume
        self.epoch = 0
        self.step = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def _forward(self, batch) -> dict[str, torch.Tensor]:
        """The model on one batch; under bf16 autocast when ``trainer.precision == "bf16"``,
        with floating outputs returned in float32 (losses and metrics stay exact)."""
        if self.cfg.precision != "bf16":
            return self.model(batch.inputs, lengths=batch.lengths or None,
                              masks=batch.masks or None)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.model(batch.inputs, lengths=batch.lengths or None,
                             masks=batch.masks or None)
        return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
                for k, v in out.items()}

    @property
    def is_sklearn(self) -> bool:
        return bool(getattr(self.model, "is_sklearn", False))

    # -- public API ---------------------------------------------------------------------------
    def fit(self, train: TensorData, valid: TensorData) -> FitResult:
        """Train on ``train``, select on ``valid``; leaves the best weights in the model."""
        torch.set_num_threads(max(1, self.cfg.threads))
        t0 = time.perf_counter()
        self.task.fit_train(train.target.numpy())
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if self.resolved_config is not None:
                _write_json(self.resolved_config, self.run_dir / "config.json")
        if self.is_sklearn:
            return self._fit_sklearn(train, valid, t0)
        return self._fit_torch(train, valid, t0)

    @torch.no_grad()
    def predict(self, data: TensorData) -> np.ndarray:
        """Task predictions for ``data`` (class ids, scores or probabilities), in order."""
        if self.is_sklearn:
            return self.model.predict_task(data.vectors(), self.task)
        return self.task.predict(self.forward_all(data))

    @torch.no_grad()
    def forward_all(self, data: TensorData) -> dict[str, torch.Tensor]:
        """Model outputs for ``data`` in eval mode, concatenated over batches."""
        self.model.eval()
        outs: dict[str, list[torch.Tensor]] = {}
        bs = self.cfg.eval_batch_size
        for i in range(0, len(data), bs):
            b = data.take(range(i, min(i + bs, len(data))))
            o = self._forward(b)
            for k, v in o.items():
                outs.setdefault(k, []).append(v.detach())
        return {k: torch.cat(v) for k, v in outs.items()}

    def evaluate(self, data: TensorData, split: str = "test") -> dict:
        """Metrics of the current model on ``data`` (call after :meth:`fit`)."""
        pred = self.predict(data)
        m = self.task.metrics(data.target.numpy(), pred)
        m["split"] = split
        return m

    # -- scikit-learn baselines ----------------------------------------------------------------
    def _fit_sklearn(self, train: TensorData, valid: TensorData, t0: float) -> FitResult:
        seed_everything(self.seed)
        info = self.model.fit_task(train.vectors(), train.target.numpy(), valid.vectors(),
                                   valid.target.numpy(), self.task, seed=self.seed)
        pv = self.model.predict_task(valid.vectors(), self.task)
        self.task.calibrate(valid.target.numpy(), pv)
        vm = self.task.metrics(valid.target.numpy(), pv)
        vm["selection"] = info
        res = FitResult(0, vm, [{"epoch": 0, "valid": _scalars(vm)}], time.perf_counter() - t0, False)
        self._write_final(res)
        return res

    # -- the loop -----------------------------------------------------------------------------
    def _lr_lambda(self, total_steps: int):
        warm = max(1, int(self.cfg.warmup * total_steps))

        def f(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            prog = min(1.0, (step - warm) / max(1, total_steps - warm))
            return 0.5 * (1 + math.cos(math.pi * prog)) * 0.99 + 0.01

        return f

    def _fit_torch(self, train: TensorData, valid: TensorData, t0: float) -> FitResult:
        cfg = self.cfg
        seed_everything(self.seed)
        model = self.model
        groups = self.strategy.param_groups(
            self, model.param_groups(lr=cfg.lr, weight_decay=cfg.weight_decay))
        if cfg.epochs == 0:  # score a pretrained model as it is (no optimizer needed)
            self.task.calibrate(valid.target.numpy(), self.predict(valid))
            res = FitResult(-1, self.evaluate(valid, "valid"), [], time.perf_counter() - t0, False)
            if self.run_dir is not None:
                _save_tensors(model.trainable_state_dict(), self.run_dir / "model.safetensors",
                              {"epoch": -1, "note": "as given, not trained"})
            self._write_final(res)
            return res
        if not groups:
            raise ConfigError(f"model {model.name!r} has no trainable parameters")
        for g in groups:
            g.pop("names", None)
            g["initial_lr"] = g["lr"]
        self.optimizer = opt = torch.optim.AdamW(groups, lr=cfg.lr)
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        lr_f = self._lr_lambda(steps_per_epoch * cfg.epochs)
        history: list[dict] = []
        best_key: float | None = None
        best_epoch, bad = -1, 0
        start_epoch, resumed_from = 0, None
        if self.run_dir is not None and self.resume and (self.run_dir / "last.json").exists():
            start_epoch, best_key, best_epoch, bad, history = self._load_last(opt)
            resumed_from = start_epoch
        self.strategy.on_fit_start(self)
        stopped = False
        progress = _progress(cfg.progress)
        with progress:
            task_id = progress.add_task(f"{model.name} seed {self.seed}", total=cfg.epochs,
                                        completed=start_epoch, status="")
            for epoch in range(start_epoch, cfg.epochs):
                if cfg.patience and bad >= cfg.patience:
                    stopped = True
                    break
                self.epoch = epoch
                # Per-epoch reseed: shuffling, dropout and strategy draws depend only on
                # (seed, epoch), which makes resume exact.
                seed_everything(self.seed * 1_000_003 + epoch)
                model.train()
                self.strategy.on_epoch_start(self, epoch)
                perm = torch.randperm(len(train))
                tot, nb = 0.0, 0
                for i in range(0, len(train), cfg.batch_size):
                    self.step = epoch * steps_per_epoch + i // cfg.batch_size
                    for g in opt.param_groups:
                        g["lr"] = g["initial_lr"] * lr_f(self.step)
                    batch = self.strategy.transform_batch(self, train.take(perm[i:i + cfg.batch_size]))
                    out = self._forward(batch)
                    loss = self.strategy.loss(self, model, batch, out)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"{model.name}: loss is {loss.item()} at epoch {epoch} step {self.step}; "
                            "lower trainer.lr or check the features for NaN/inf"
                        )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    opt.step()
                    tot += float(loss.detach())
                    nb += 1
                vm = self._validate(valid)
                key = vm[self.task.key_metric]
                rec = {"epoch": epoch, "train_loss": tot / max(nb, 1), "valid": _scalars(vm)}
                history.append(rec)
                if self.task.better(key, best_key):
                    best_key, best_epoch, bad = key, epoch, 0
                    self.best_state = {k: v.detach().clone()
                                       for k, v in model.trainable_state_dict().items()}
                    if self.run_dir is not None:
                        _save_tensors(model.trainable_state_dict(), self.run_dir / "model.safetensors",
                                      {"epoch": epoch, "key_metric": self.task.key_metric,
                                       "value": key})
                else:
                    bad += 1
                self.strategy.on_epoch_end(self, epoch, vm)
                if self.run_dir is not None:
                    self._save_last(opt, epoch + 1, best_key, best_epoch, bad, history)
                progress.update(task_id, advance=1, status=(
                    f"loss {rec['train_loss']:.3f} · valid {self.task.key_metric} {key:.4f} "
                    f"(best {best_key:.4f} @ {best_epoch})"))
        if self.best_state is None and self.run_dir is not None and (self.run_dir / "model.safetensors").exists():
            self.load_weights(self.run_dir / "model.safetensors")
        elif self.best_state is not None:
            model.load_state_dict(self.best_state, strict=False)
        # post-processing (thresholds) is fitted on validation predictions of the best model
        self.task.calibrate(valid.target.numpy(), self.predict(valid))
        best_valid = self.evaluate(valid, "valid")
        res = FitResult(best_epoch, best_valid, history, time.perf_counter() - t0, stopped, resumed_from)
        self._write_final(res)
        return res

    def _validate(self, valid: TensorData) -> dict:
        outs = self.forward_all(valid)
        vm = self.task.metrics(valid.target.numpy(), self.task.predict(outs))
        vm["loss"] = float(self.task.loss(outs, valid.target))
        return vm

    # -- checkpoints --------------------------------------------------------------------------
    def _save_last(self, opt, next_epoch, best_key, best_epoch, bad, history) -> None:
        assert self.run_dir is not None
        ot, ometa = _optimizer_to_flat(opt)
        # trainable tensors (+ buffers) only: a LoRA run does not rewrite the frozen encoder
        tensors = {f"model.{k}": v for k, v in self.model.trainable_state_dict().items()} | ot
        if self.best_state is not None:
            tensors |= {f"best.{k}": v for k, v in self.best_state.items()}
        _save_tensors(tensors, self.run_dir / "last.safetensors")
        _write_json({"next_epoch": next_epoch, "best_key": best_key, "best_epoch": best_epoch,
                     "bad_epochs": bad, "history": history, "optimizer": ometa,
                     "strategy": self.strategy.state(), "seed": self.seed,
                     "config_hash": self._config_hash()},
                    self.run_dir / "last.json")

    def _config_hash(self) -> str | None:
        """Hash of the resolved config minus settings that do not change results."""
        if self.resolved_config is None:
            return None
        import hashlib

        c = json.loads(json.dumps(self.resolved_config, default=str))
        for k in ("progress", "threads", "eval_batch_size"):
            (c.get("trainer") or {}).pop(k, None)
        return hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()[:16]

    def _load_last(self, opt):
        from safetensors.torch import load_file

        assert self.run_dir is not None
        meta = json.loads((self.run_dir / "last.json").read_text())
        if meta.get("config_hash") != self._config_hash():
            raise ConfigError(
                f"{self.run_dir}/last.json belongs to a different configuration; resuming it "
                "would mix two experiments. Use another run directory or delete that one"
            )
        if meta.get("seed") != self.seed:
            raise ConfigError(
                f"{self.run_dir}/last.json was written with seed {meta.get('seed')}, not "
                f"{self.seed}; use another run directory or pass resume=False"
            )
        t = load_file(str(self.run_dir / "last.safetensors"))
        self.model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")},
                                   strict=False)
        best = {k[5:]: v for k, v in t.items() if k.startswith("best.")}
        self.best_state = best or None
        _optimizer_from_flat(opt, t, meta["optimizer"])
        return (meta["next_epoch"], meta["best_key"], meta["best_epoch"], meta["bad_epochs"],
                meta["history"])

    def load_weights(self, path: str | Path) -> None:
        from safetensors.torch import load_file

        sd = load_file(str(path))
        missing, unexpected = self.model.load_state_dict(sd, strict=False)
        if unexpected:
            raise ConfigError(f"{path}: unexpected tensors {unexpected[:3]} for {self.model.name}")
        own = set(self.model.trainable_state_dict())
        lacking = [k for k in missing if k in own]
        if lacking:
            raise ConfigError(f"{path}: missing tensors {lacking[:3]} for {self.model.name}")

    def _write_final(self, res: FitResult) -> None:
        if self.run_dir is None:
            return
        _write_json(self.task.state(), self.run_dir / "task.json")
        _write_json({"best_epoch": res.best_epoch, "valid": res.best_valid,
                     "history": res.history, "seconds": round(res.seconds, 2),
                     "stopped_early": res.stopped_early, "resumed_from": res.resumed_from,
                     "seed": self.seed}, self.run_dir / "metrics.json")


def _scalars(m: dict) -> dict:
    return {k: v for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[status]}"), transient=True)
