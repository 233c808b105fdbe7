"""Multistage multitask training (the M2SE scheme): a stage schedule, run stage by stage.

A :class:`StageSchedule` lists stages; each stage names its sources — ``(task, corpus,
weight)`` — the number of epochs (over the stage's pooled sources) and its learning rate::

    stages:
      - name: sentiment
        sources: [{task: sentiment, corpus: mosei, weight: 1.0}]
        epochs: 1
        lr: 0.001
      - name: mixture
        sources:
          - {task: sentiment, corpus: mosei, weight: 1.0}
          - {task: emotion, corpus: meld, weight: 1.0}
        epochs: 1
        lr: 0.0005

It round-trips through YAML/JSON (:meth:`StageSchedule.to_yaml`, :meth:`StageSchedule.from_yaml`,
the same :func:`affectkit.config.from_dict` as every other config, so an unknown key is an error
that names it).

:func:`run_stages` trains *any* ``torch.nn.Module`` through the schedule. The caller supplies one
:class:`Source` per ``task:corpus`` key: its size and a ``loss(model, indices)`` closure — the
model and the data stay the caller's business, so the same scheme drives a shared-encoder
multi-head model and a language model with LoRA. Within a stage every optimisation step draws one
source with probability proportional to ``weight`` × its size share (``sampling: size``, the
default — the M2SE mixture of concatenated corpora) or to ``weight`` alone (``sampling:
weight``), then a batch from that source (each source is walked in a seeded random order without
replacement, reshuffled when exhausted). Steps per stage = ``ceil(epochs × Σ sizes / batch)``.

Checkpoints: after each stage the trainable tensors go to ``<run>/stage<k>-<name>/
model.safetensors`` with ``stage.json`` (steps, mean loss per source, seconds, digests of the
weights it started from and ended with). A rerun skips finished stages by loading their
checkpoint, so stage k+1 always starts from stage k's weights — also after an interruption.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from affectkit.config import from_dict, to_dict
from affectkit.errors import ConfigError
from affectkit.progress import progress as _progress
from affectkit.training.checkpoint import RunDir, save_tensors, write_json

SAMPLING = ("size", "weight")


@dataclass
class StageSource:
    """One (task, corpus) mixture component of a stage."""

    task: str = ""
    corpus: str = ""
    weight: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.task}:{self.corpus}"


@dataclass
class Stage:
    """One training stage: its sources, epochs over their pooled examples, learning rate."""

    name: str = ""
    sources: list[StageSource] = field(default_factory=list)
    epochs: float = 1.0
    lr: float = 1e-3


@dataclass
class StageSchedule:
    """Stages run in order, each starting from the previous stage's weights.

    Attributes:
        stages: the stages.
        batch_size: examples per optimisation step (one source per step).
        sampling: ``size`` (source drawn ∝ weight × size) or ``weight`` (∝ weight).
        weight_decay, warmup, grad_clip: AdamW decay, warm-up fraction of each stage's steps
            (then cosine decay), gradient-norm clip (0 = off).
        seed: seed of the source draws, batch orders and the model's dropout.
    """

    stages: list[Stage] = field(default_factory=list)
    batch_size: int = 16
    sampling: str = "size"
    weight_decay: float = 0.01
    warmup: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0

    def validate(self) -> StageSchedule:
        if not self.stages:
            raise ConfigError("stages: give at least one stage (name, sources, epochs, lr)")
        if self.sampling not in SAMPLING:
            raise ConfigError(f"sampling={self.sampling!r}; allowed: {', '.join(SAMPLING)}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {self.batch_size}")
        names = [s.name for s in self.stages]
        for k, st in enumerate(self.stages):
            where = f"stages[{k}]"
            if not st.name:
                raise ConfigError(f"{where}.name is required")
            if not st.sources:
                raise ConfigError(f"{where} ({st.name}): sources is empty; give at least one "
                                  "{task, corpus, weight}")
            if st.epochs <= 0 or st.lr <= 0:
                raise ConfigError(f"{where} ({st.name}): epochs and lr must be > 0")
            for j, s in enumerate(st.sources):
                if not s.task or not s.corpus:
                    raise ConfigError(f"{where}.sources[{j}]: task and corpus are required")
                if s.weight <= 0:
                    raise ConfigError(f"{where}.sources[{j}] ({s.key}): weight must be > 0")
        if len(set(names)) != len(names):
            raise ConfigError(f"stages: stage names must be unique, got {names}")
        return self

    # -- config round trip ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "schedule") -> StageSchedule:
        return from_dict(cls, dict(d), where).validate()

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> StageSchedule:
        import yaml

        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith(("stages", "{")) \
            else None
        where = str(p) if p is not None else "schedule"
        if p is not None and not p.exists():
            raise ConfigError(f"{p}: stage schedule file not found")
        raw = yaml.safe_load(p.read_text(encoding="utf-8") if p is not None else str(text_or_path))
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: top level must be a mapping with a 'stages' list")
        return cls.from_dict(raw, where)

    @property
    def source_keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for st in self.stages:
            for s in st.sources:
                seen[s.key] = None
        return list(seen)


@dataclass
class Source:
    """A training source as :func:`run_stages` sees it: ``n`` examples and a loss over a list of
    example indices (``loss(model, idx) -> scalar tensor``)."""

    n: int
    loss: Callable[[torch.nn.Module, list[int]], torch.Tensor]


@dataclass
class StageResult:
    name: str
    steps: int
    seconds: float
    loss: dict[str, float]
    draws: dict[str, int]
    start_digest: str
    end_digest: str
    path: str
    resumed: bool = False


def trainable_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a stage checkpoint holds: ``trainable_state_dict()`` when the model has one, else
    the parameters that require gradients (a frozen backbone is not rewritten)."""
    if callable(getattr(model, "trainable_state_dict", None)):
        return dict(model.trainable_state_dict())
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode())
        h.update(tensors[k].detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def stage_dir(run: str | Path, k: int, name: str) -> Path:
    return Path(run) / f"stage{k + 1}-{name}"


def _draw_probs(stage: Stage, sources: dict[str, Source], sampling: str) -> np.ndarray:
    w = np.array([s.weight * (sources[s.key].n if sampling == "size" else 1.0)
                  for s in stage.sources], dtype=np.float64)
    return w / w.sum()


def run_stages(model: torch.nn.Module, schedule: StageSchedule, sources: dict[str, Source], *,
               run_dir: str | Path | None = None, progress: bool = True,
               on_stage_end: Callable[[int, StageResult], None] | None = None,
               ) -> list[StageResult]:
    """Train ``model`` through ``schedule`` (see the module docstring); returns one
    :class:`StageResult` per stage. Finished stages found in ``run_dir`` are loaded, not rerun."""
    schedule.validate()
    missing = [k for k in schedule.source_keys if k not in sources]
    if missing:
        raise ConfigError(f"schedule names sources {missing} but only {sorted(sources)} were "
                          "given; build a Source for each task:corpus of the schedule")
    empty = [k for k in schedule.source_keys if sources[k].n <= 0]
    if empty:
        raise ConfigError(f"sources {empty} have no training examples")
    if run_dir is not None:
        run = RunDir(run_dir)
        run.mkdir()
        run.write("schedule.json", schedule.to_dict())
    results: list[StageResult] = []
    for k, st in enumerate(schedule.stages):
        sdir = stage_dir(run_dir, k, st.name) if run_dir is not None else None
        if sdir is not None and (sdir / "stage.json").exists() \
                and (sdir / "model.safetensors").exists():
            from safetensors.torch import load_file

            info = json.loads((sdir / "stage.json").read_text())
            sd = load_file(str(sdir / "model.safetensors"))
            model.load_state_dict(sd, strict=False)
            res = StageResult(**{**info, "resumed": True})
            results.append(res)
            continue
        res = _run_stage(model, schedule, k, st, sources, sdir, progress)
        results.append(res)
        if on_stage_end is not None:
            on_stage_end(k, res)
    return results


def _run_stage(model, schedule: StageSchedule, k: int, st: Stage, sources: dict[str, Source],
               sdir: Path | None, progress: bool) -> StageResult:
    t0 = time.perf_counter()
    seed = schedule.seed * 1_000_003 + k
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    start = digest(trainable_tensors(model))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"stage {st.name}: the model has no trainable parameters")
    opt = torch.optim.AdamW(params, lr=st.lr, weight_decay=schedule.weight_decay)
    total_n = sum(sources[s.key].n for s in st.sources)
    steps = max(1, math.ceil(st.epochs * total_n / schedule.batch_size))
    warm = max(1, int(schedule.warmup * steps))
    probs = _draw_probs(st, sources, schedule.sampling)
    order = {s.key: list(rng.permutation(sources[s.key].n)) for s in st.sources}
    pos = dict.fromkeys(order, 0)
    sums = dict.fromkeys(order, 0.0)
    draws = dict.fromkeys(order, 0)
    model.train()
    bar = _progress(progress)
    with bar:
        tid = bar.add_task(f"stage {k + 1} {st.name}", total=steps, status="")
        for step in range(steps):
            lr_f = (step + 1) / warm if step < warm else \
                0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))
            for g in opt.param_groups:
                g["lr"] = st.lr * lr_f
            src = st.sources[int(rng.choice(len(st.sources), p=probs))]
            key = src.key
            n = sources[key].n
            idx = []
            while len(idx) < min(schedule.batch_size, n):
                if pos[key] >= n:
                    order[key] = list(rng.permutation(n))
                    pos[key] = 0
                idx.append(int(order[key][pos[key]]))
                pos[key] += 1
            loss = sources[key].loss(model, idx)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"stage {st.name}: loss of {key} is {loss.item()} at "
                                         f"step {step}; lower the stage lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if schedule.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, schedule.grad_clip)
            opt.step()
            sums[key] += float(loss.detach())
            draws[key] += 1
            bar.update(tid, advance=1, status=f"{key} loss {float(loss.detach()):.3f}")
    model.eval()
    end_tensors = trainable_tensors(model)
    res = StageResult(st.name, steps, round(time.perf_counter() - t0, 2),
                      {kk: sums[kk] / draws[kk] for kk in sums if draws[kk]}, draws, start,
                      digest(end_tensors), str(sdir) if sdir is not None else "")
    if sdir is not None:
        sdir.mkdir(parents=True, exist_ok=True)
        save_tensors(end_tensors, sdir / "model.safetensors", {"stage": st.name, "index": k})
        write_json(res.__dict__ | {"resumed": False}, sdir / "stage.json")
    return res
