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

Distributed (``torchrun``, ``WORLD_SIZE`` > 1; :mod:`affectkit.training.distributed`): the model
is wrapped in ``DistributedDataParallel`` (gloo on CPU); ``trainer.batch_size`` stays the global
batch, each rank takes a strided shard of it and scales its loss so the averaged gradient is the
global-batch gradient; evaluation shards the rows and gathers the outputs, so every metric is
over the whole split and identical on every rank; only rank 0 writes the run folder.
scikit-learn baselines (closed form) are fitted on rank 0 only; the other ranks receive its
results.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from affectkit.config import TrainerConfig
from affectkit.data.batch import Batch
from affectkit.errors import ConfigError
from affectkit.progress import progress as _progress
from affectkit.tasks import Task
import affectkit.training.distributed as D
from affectkit.training.checkpoint import (RunDir, load_weights, optimizer_from_flat,
                                           optimizer_to_flat, save_tensors, write_json)
from affectkit.training.strategies import Strategy, make_strategy

#: strategies whose state comes from the training batches (SuCI: a per-subject dictionary whose
#: size follows the subjects seen), refused under torch.distributed unless the strategy sets
#: ``supports_distributed = True``
_PER_RANK_STATE = frozenset({"suci"})


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
        self.run = RunDir(self.run_dir) if self.run_dir is not None else None
        self.strategy = strategy or make_strategy(self.cfg.strategy, self.cfg.strategy_args)
        self.resolved_config = resolved_config
        self.resume = resume
        self.epoch = 0
        self.step = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.dist = D.context()  # one process unless started by torchrun (WORLD_SIZE > 1)
        self._ddp: torch.nn.Module | None = None

    @property
    def _writes(self) -> bool:
        """This process writes the run folder (rank 0 only under torch.distributed)."""
        return self.run_dir is not None and self.dist.is_main

    def _forward(self, batch, train: bool = False) -> dict[str, torch.Tensor]:
        """The model on one batch; under bf16 autocast when ``trainer.precision == "bf16"``,
        with floating outputs returned in float32 (losses and metrics stay exact). Training
        steps go through the DDP wrapper when there is one (gradient all-reduce)."""
        model = self._ddp if (train and self._ddp is not None) else self.model
        if self.cfg.precision != "bf16":
            return model(batch.inputs, lengths=batch.lengths or None,
                         masks=batch.masks or None)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(batch.inputs, lengths=batch.lengths or None,
                        masks=batch.masks or None)
        return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
                for k, v in out.items()}

    @property
    def closed_form(self) -> bool:
        """The model fits in one call (``fit_closed_form``: the scikit-learn baselines)
        instead of by gradient steps; prediction is the same forward pass for both."""
        return callable(getattr(self.model, "fit_closed_form", None))

    # -- public API ---------------------------------------------------------------------------
    def fit(self, train: Batch, valid: Batch) -> FitResult:
        """Train on ``train``, select on ``valid``; leaves the best weights in the model."""
        torch.set_num_threads(max(1, self.cfg.threads))
        t0 = time.perf_counter()
        self.task.fit_train(train.target.numpy())
        if self._writes:
            self.run.mkdir()
            if self.resolved_config is not None:
                self.run.write("config.json", self.resolved_config)
        if self.closed_form:
            return self._fit_closed_form(train, valid, t0)
        return self._fit_torch(train, valid, t0)

    @torch.no_grad()
    def predict(self, data: Batch) -> np.ndarray:
        """Task predictions for ``data`` (class ids, scores or probabilities), in order.

        Under torch.distributed every rank must call it (it gathers); all get the same array."""
        if self.closed_form and self.dist.enabled:  # fitted (and calibrated) on rank 0 only
            pred = self.task.predict(self._forward_rows(data, range(len(data)))) \
                if self.dist.is_main else None
            return D.broadcast_object(pred, self.dist)
        return self.task.predict(self.forward_all(data))

    @torch.no_grad()
    def forward_all(self, data: Batch) -> dict[str, torch.Tensor]:
        """Model outputs for ``data`` in eval mode, concatenated over batches.

        Under torch.distributed each rank runs a contiguous block of rows and the blocks are
        gathered back in order, so every rank returns the outputs of the whole of ``data``."""
        if not self.dist.enabled:
            return self._forward_rows(data, range(len(data)))
        if self.closed_form:
            out = self._forward_rows(data, range(len(data))) if self.dist.is_main else None
            return D.broadcast_object(out, self.dist)
        local = self._forward_rows(data, D.shard_range(len(data), self.dist))
        parts = D.all_gather_objects(local, self.dist)
        keys = next((list(p) for p in parts if p), [])
        return {k: _cat([p[k] for p in parts if p]) for k in keys}

    def _forward_rows(self, data: Batch, rows: range) -> dict[str, torch.Tensor]:
        """Model outputs (eval mode, this process only) for ``rows`` of ``data``."""
        if hasattr(self.model, "eval"):
            self.model.eval()
        outs: dict[str, list[torch.Tensor]] = {}
        bs = self.cfg.eval_batch_size
        for i in range(rows.start, rows.stop, bs):
            b = data.take(range(i, min(i + bs, rows.stop)))
            o = self._forward(b)
            for k, v in o.items():
                outs.setdefault(k, []).append(v.detach())
        return {k: _cat(v) for k, v in outs.items()}

    def evaluate(self, data: Batch, split: str = "test") -> dict:
        """Metrics of the current model on ``data`` (call after :meth:`fit`)."""
        pred = self.predict(data)
        m = self.task.metrics(data.target.numpy(), pred)
        m["split"] = split
        return m

    # -- models fitted in one call ---------------------------------------------------------
    def _fit_closed_form(self, train: Batch, valid: Batch, t0: float) -> FitResult:
        if self.dist.enabled:
            D.note(f"{getattr(self.model, 'name', 'model')} is fitted in closed form "
                   "(scikit-learn): it runs on rank 0 only; the other "
                   f"{self.dist.world - 1} process(es) wait for its results", self.dist)
            if not self.dist.is_main:
                return D.broadcast_object(None, self.dist)
        seed_everything(self.seed)
        info = self.model.fit_closed_form(train, valid, self.task, seed=self.seed)
        pv = self.task.predict(self._forward_rows(valid, range(len(valid))))
        self.task.calibrate(valid.target.numpy(), pv)
        vm = self.task.metrics(valid.target.numpy(), pv)
        vm["selection"] = info
        res = FitResult(0, vm, [{"epoch": 0, "valid": _scalars(vm)}], time.perf_counter() - t0, False)
        self._write_final(res)
        return D.broadcast_object(res, self.dist)

    # -- the loop -----------------------------------------------------------------------------
    def _lr_lambda(self, total_steps: int):
        warm = max(1, int(self.cfg.warmup * total_steps))

        def f(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            prog = min(1.0, (step - warm) / max(1, total_steps - warm))
            return 0.5 * (1 + math.cos(math.pi * prog)) * 0.99 + 0.01

        return f

    def _fit_torch(self, train: Batch, valid: Batch, t0: float) -> FitResult:
        cfg = self.cfg
        seed_everything(self.seed)
        model = self.model
        groups = self.strategy.param_groups(
            self, model.param_groups(lr=cfg.lr, weight_decay=cfg.weight_decay))
        if cfg.epochs == 0:  # score a pretrained model as it is (no optimizer needed)
            self.task.calibrate(valid.target.numpy(), self.predict(valid))
            res = FitResult(-1, self.evaluate(valid, "valid"), [], time.perf_counter() - t0, False)
            if self._writes:
                self.run.save_model(model.trainable_state_dict(),
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
        has_last = D.broadcast_object(
            self.run_dir is not None and self.resume and (self.run_dir / "last.json").exists(),
            self.dist)
        if has_last:
            start_epoch, best_key, best_epoch, bad, history = self._load_last(opt)
            resumed_from = start_epoch
        self.strategy.on_fit_start(self)
        ctx = self.dist
        if ctx.enabled:
            ok = getattr(self.strategy, "supports_distributed", None)
            if not (ok if ok is not None else self.strategy.name not in _PER_RANK_STATE):
                raise ConfigError(
                    f"strategy {self.strategy.name!r} builds state from the training batches it "
                    "sees, and under torch.distributed each rank sees a different shard; train "
                    "it in one process (without torchrun / --nproc)")
            # after the strategy hooks (they may add modules); DDP copies rank 0's weights
            from torch.nn.parallel import DistributedDataParallel as DDP

            self._ddp = DDP(model, find_unused_parameters=self._may_skip_params(train))
        stopped = False
        progress = _progress(cfg.progress and ctx.is_main)
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
                perm = torch.randperm(len(train))  # the same on every rank
                if ctx.rank:  # rank-own stream for dropout/augmentation draws
                    seed_everything(self.seed * 1_000_003 + epoch + 104_729 * ctx.rank)
                tot, nb = 0.0, 0
                for i in range(0, len(train), cfg.batch_size):
                    self.step = epoch * steps_per_epoch + i // cfg.batch_size
                    for g in opt.param_groups:
                        g["lr"] = g["initial_lr"] * lr_f(self.step)
                    idx = perm[i:i + cfg.batch_size]
                    mine = D.shard(idx, ctx)
                    # every rank steps with the others; one with no rows left runs one row at 0
                    scale = D.loss_scale(len(mine), len(idx), ctx)
                    batch = self.strategy.transform_batch(self, train.take(mine if len(mine) else idx[:1]))
                    out = self._forward(batch, train=True)
                    loss = self.strategy.loss(self, model, batch, out)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"{model.name}: loss is {loss.item()} at epoch {epoch} step {self.step}; "
                            "lower trainer.lr or check the features for NaN/inf"
                        )
                    opt.zero_grad(set_to_none=True)
                    (loss * scale if ctx.enabled else loss).backward()
                    if cfg.grad_clip:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    opt.step()
                    tot += float(loss.detach()) * scale / ctx.world
                    nb += 1
                if ctx.enabled:  # global-batch mean losses; rank 0's BatchNorm statistics
                    tot = D.all_reduce_sum([tot], ctx)[0]
                    D.broadcast_module(model, ctx, buffers_only=True)
                vm = self._validate(valid)
                key = vm[self.task.key_metric]
                rec = {"epoch": epoch, "train_loss": tot / max(nb, 1), "valid": _scalars(vm)}
                history.append(rec)
                if self.task.better(key, best_key):
                    best_key, best_epoch, bad = key, epoch, 0
                    self.best_state = {k: v.detach().clone()
                                       for k, v in model.trainable_state_dict().items()}
                    if self._writes:
                        self.run.save_model(model.trainable_state_dict(),
                                            {"epoch": epoch, "value": key,
                                             "key_metric": self.task.key_metric})
                else:
                    bad += 1
                self.strategy.on_epoch_end(self, epoch, vm)
                if self._writes:
                    self._save_last(opt, epoch + 1, best_key, best_epoch, bad, history)
                progress.update(task_id, advance=1, status=(
                    f"loss {rec['train_loss']:.3f} · valid {self.task.key_metric} {key:.4f} "
                    f"(best {best_key:.4f} @ {best_epoch})"))
        if self.best_state is None and self.run_dir is not None and (self.run_dir / "model.safetensors").exists():
            self.load_weights(self.run_dir / "model.safetensors")
        elif self.best_state is not None:
            model.load_state_dict(self.best_state, strict=False)
        self._ddp = None
        D.broadcast_module(model, ctx)  # every rank scores rank 0's selected weights
        # post-processing (thresholds) is fitted on validation predictions of the best model
        self.task.calibrate(valid.target.numpy(), self.predict(valid))
        best_valid = self.evaluate(valid, "valid")
        res = FitResult(best_epoch, best_valid, history, time.perf_counter() - t0, stopped, resumed_from)
        self._write_final(res)
        return res

    def _may_skip_params(self, train: Batch) -> bool:
        """Whether a training step may leave trainable parameters without a gradient (DDP must
        then look for them each step): a non-default strategy (inputs dropped at random), a
        model that tolerates missing inputs, or one probe step on two rows (eval mode: no
        random draws, no statistics updated) that leaves some parameter without a gradient."""
        if type(self.strategy) is not Strategy or getattr(self.model, "tolerates_missing", False):
            return True
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.model.eval()
        try:
            probe = train.take(range(min(2, len(train))))
            loss = self.task.loss(self._forward(probe), probe.target)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        finally:
            self.model.train()
        return any(g is None for g in grads)

    def _validate(self, valid: Batch) -> dict:
        outs = self.forward_all(valid)
        vm = self.task.metrics(valid.target.numpy(), self.task.predict(outs))
        vm["loss"] = float(self.task.loss(outs, valid.target))
        return vm

    # -- checkpoints --------------------------------------------------------------------------
    def _save_last(self, opt, next_epoch, best_key, best_epoch, bad, history) -> None:
        assert self.run_dir is not None
        ot, ometa = optimizer_to_flat(opt)
        # trainable tensors (+ buffers) only: a LoRA run does not rewrite the frozen encoder
        tensors = {f"model.{k}": v for k, v in self.model.trainable_state_dict().items()} | ot
        if self.best_state is not None:
            tensors |= {f"best.{k}": v for k, v in self.best_state.items()}
        save_tensors(tensors, self.run_dir / "last.safetensors")
        write_json({"next_epoch": next_epoch, "best_key": best_key, "best_epoch": best_epoch,
                     "bad_epochs": bad, "history": history, "optimizer": ometa,
                     "strategy": self.strategy.state(), "seed": self.seed,
                     "config_hash": self._config_hash()},
                    self.run_dir / "last.json")

    def _config_hash(self) -> str | None:
        """The config signature of the resolved config (with its seed)."""
        if self.resolved_config is None:
            return None
        from affectkit.config import config_signature

        return config_signature(self.resolved_config)

    def _read_last(self) -> tuple[dict, dict[str, torch.Tensor]]:
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
        return meta, load_file(str(self.run_dir / "last.safetensors"))

    def _load_last(self, opt):
        if not self.dist.enabled:
            meta, t = self._read_last()
        else:  # rank 0 reads the folder; the others get its content (no shared disk needed)
            got = None
            if self.dist.is_main:
                try:
                    got = self._read_last()
                except ConfigError as e:
                    got = e
            got = D.broadcast_object(got, self.dist)
            if isinstance(got, ConfigError):
                raise got
            meta, t = got
        self.model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")},
                                   strict=False)
        best = {k[5:]: v for k, v in t.items() if k.startswith("best.")}
        self.best_state = best or None
        optimizer_from_flat(opt, t, meta["optimizer"])
        return (meta["next_epoch"], meta["best_key"], meta["best_epoch"], meta["bad_epochs"],
                meta["history"])

    def load_weights(self, path: str | Path) -> None:
        load_weights(self.model, path)

    def _write_final(self, res: FitResult) -> None:
        if not self._writes:
            return
        self.run.write("task.json", self.task.state())
        self.run.write("metrics.json", {"best_epoch": res.best_epoch, "valid": res.best_valid,
                     "history": res.history, "seconds": round(res.seconds, 2),
                     "stopped_early": res.stopped_early, "resumed_from": res.resumed_from,
                     "seed": self.seed})


def _scalars(m: dict) -> dict:
    return {k: v for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate batch outputs; per-dialogue outputs ((B, T, ...) or pair scores (B, T, T))
    whose sizes differ between batches are zero-padded to the largest (positions beyond a
    dialogue's length are padding, ignored by the task)."""
    if parts[0].dim() >= 2 and len({p.shape[1:] for p in parts}) > 1:
        size = [max(p.shape[d] for p in parts) for d in range(1, parts[0].dim())]
        padded = []
        for p in parts:
            pad: list[int] = []
            for d in range(p.dim() - 1, 0, -1):
                pad += [0, size[d - 1] - p.shape[d]]
            padded.append(torch.nn.functional.pad(p, pad))
        parts = padded
    return torch.cat(parts)
