"""From a config to numbers: corpus → labels → split → features → batches → Trainer → metrics.

A thin conductor over the layers below it: the task (:mod:`affectkit.tasks`) reads and encodes
the labels, :func:`affectkit.data.splits.make_split` builds the folds once,
:func:`affectkit.features.provider.get_features` reads features from the one store,
:func:`affectkit.data.batch.collate` batches them per the task's sample unit, the
:class:`~affectkit.training.Trainer` fits, and :class:`~affectkit.training.RunDir` writes and
reads the run folder.

:func:`run_experiment` runs one :class:`~affectkit.config.ExperimentConfig` over every fold of
its split protocol (one seed) and returns per-fold test metrics; :func:`evaluate_run` reloads
a run folder and scores a split. Models are selected on each fold's validation part; the test
part is only ever scored, after selection.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.config import DataConfig, ExperimentConfig, config_signature, from_dict, to_dict
from affectkit.data.base import load_corpus
from affectkit.data.batch import Batch, collate
from affectkit.data.splits import Fold, Split, make_split
from affectkit.errors import ConfigError, DataError
from affectkit.tasks import TASKS, Task, make_task, read_label
from affectkit.training.checkpoint import RunDir, resolve_model_args
from affectkit.types import Modality, Utterance

# --- labels ----------------------------------------------------------------------------------


@dataclass
class LabelledData:
    """Utterances with a usable label, the label space and what was left out (with reasons)."""

    utterances: list[Utterance]
    labels: list[str]
    targets: dict[str, Any]
    skipped: Counter = field(default_factory=Counter)
    load_issues: int = 0
    task_kind: str = "emotion"

    def encoder(self, kind: str | None = None) -> Task:
        kind = kind or self.task_kind
        cache = self.__dict__.setdefault("_encoders", {})
        if kind not in cache:
            cache[kind] = make_task(kind, self.labels)
        return cache[kind]

    def target_array(self, ids: list[str], kind: str | None = None) -> np.ndarray:
        """Targets of ``ids`` as the task encodes them (class ids, scores, 0/1 rows …)."""
        return self.encoder(kind).encode([self.targets[i] for i in ids])

    def by_id(self) -> dict[str, Utterance]:
        cache = self.__dict__.get("_by_id")
        if cache is None or len(cache) != len(self.utterances):
            cache = self.__dict__["_by_id"] = {u.id: u for u in self.utterances}
        return cache

    def dialogues(self, ids: list[str]) -> tuple[list[str], list[list[str]]]:
        """``ids`` grouped by dialogue, in turn order: (dialogue ids, utterance ids of each)."""
        by_id = self.by_id()
        groups: dict[str, list[Utterance]] = {}
        for i in ids:
            u = by_id[i]
            if u.dialogue_id is None:
                raise DataError(f"{i}: a dialogue-unit task needs dialogue ids; "
                                f"{u.corpus} utterance has none")
            groups.setdefault(str(u.dialogue_id), []).append(u)
        order = sorted(groups)
        return order, [[u.id for u in sorted(groups[d], key=lambda u: (u.turn or 0, u.id))]
                       for d in order]


def load_labelled(data: DataConfig, task_kind: str) -> LabelledData:
    """Load the corpus and keep items whose label the task can use."""
    import affectkit.features.imported  # noqa: F401  (corpora imported from feature files)

    task_cls = TASKS.get(task_kind)
    task_cls.check_label_key(data.label)
    res = load_corpus(data.corpus, data.root)
    skipped: Counter = Counter()
    utts, targets = [], {}
    for u in res.utterances:
        if data.where and any(u.meta.get(k) != v for k, v in data.where.items()):
            skipped["filtered by data.where"] += 1
            continue
        y = read_label(u, data.label)
        if y is None:
            skipped[f"no {data.label} label"] += 1
            continue
        targets[u.id] = y
        utts.append(u)
    labels = task_cls.resolve_labels(targets, data.labels, skipped)
    utts = [u for u in utts if u.id in targets]
    if not utts:
        raise DataError(f"{data.corpus}: no items with a usable {data.label!r} label "
                        f"(skipped: {dict(skipped)})")
    return LabelledData(utts, labels, targets, skipped, len(res.issues), task_kind)


# --- preparing -------------------------------------------------------------------------------


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class Prepared:
    """Everything a fold needs, computed once per experiment (shared across seeds)."""

    cfg: ExperimentConfig
    data: LabelledData
    split: Split
    feats: dict[Modality, dict[str, Any]]
    input_dims: dict[Modality, int]
    kinds: dict[Modality, str]
    feature_signatures: dict[str, str]
    feature_failures: dict[str, list[str]]
    data_signature: str

    @property
    def model_cls(self):
        from affectkit.models import MODELS

        return MODELS.get(self.cfg.model.name)

    def for_config(self, cfg: ExperimentConfig) -> Prepared:
        """The same data and features for another model/trainer config (input forms redone)."""
        from affectkit.models import MODELS

        other = copy.copy(self)
        other.cfg = cfg
        cls = MODELS.get(cfg.model.name)
        other.kinds = {m: cls.input_kind(m) for m in self.feats}
        extra = cfg.data.speaker_slots if TASKS.get(cfg.task.kind).unit == "dialogue" else 0
        other.input_dims = {m: _input_dim(self.feats[m], other.kinds[m]) + extra
                            for m in self.feats}
        return other

    def batch(self, ids: list[str], task: Task) -> Batch:
        """The samples of ``ids`` (utterances, or their dialogues) as the task's unit wants."""
        if task.unit == "dialogue":
            dids, groups = self.data.dialogues(ids)
            y = task.encode_dialogues(groups, self.data.targets)
            by_id = self.data.by_id()
            return collate(dids, self.feats, self.kinds, y, unit="dialogue", groups=groups,
                           pad_value=task.pad_value,
                           speakers={i: by_id[i].speaker for g in groups for i in g},
                           speaker_slots=self.cfg.data.speaker_slots)
        by_id = self.data.by_id()
        return collate(ids, self.feats, self.kinds, self.data.target_array(ids, task.kind),
                       max_tokens=self.cfg.data.max_tokens,
                       speakers={i: by_id[i].speaker for i in ids})


def _input_dim(values: dict[str, Any], kind: str) -> int:
    """vector/sequence: feature dim; image: side length (N, 1, S, S); tokens: vocabulary-free."""
    if kind == "tokens":
        return 0
    first = np.asarray(next(iter(values.values())))
    if kind == "image" and first.ndim == 1:
        return int(round(np.sqrt(first.size)))
    return int(first.shape[-1])


def prepare(cfg: ExperimentConfig, *, progress: bool = True) -> Prepared:
    """Load labels, split, and features for ``cfg`` (independent of the training seed)."""
    from affectkit.features.provider import get_features, speaker_normalise
    from affectkit.features.store import FeatureStore
    from affectkit.models import MODELS

    model_cls = MODELS.get(cfg.model.name)
    data = load_labelled(cfg.data, cfg.task.kind)
    if not cfg.features:
        raise ConfigError("features: give at least one modality → extractor, e.g. "
                          "{text: text.minilm}")
    if cfg.data.max_train:
        # subsample before extraction: only the items a fold uses get features
        pre = make_split(data.utterances, cfg.data)
        keep = {i for f in pre.folds for side in (f.train, f.valid, f.test) for i in side}
        data.skipped["outside the training subset (data.max_train)"] += (
            len(data.utterances) - len(keep))
        data.utterances = [u for u in data.utterances if u.id in keep]
    store = FeatureStore(cfg.store)
    feats, sigs, fails, dims, kinds = {}, {}, {}, {}, {}
    usable = {u.id for u in data.utterances}
    for mod_name, ext in cfg.features.items():
        m = Modality.parse(mod_name)
        kinds[m] = model_cls.input_kind(m)
        res = get_features(ext, data.utterances, store=store, progress=progress)
        feats[m], sigs[str(m)], fails[ext] = res.values, res.signature, res.failures
        usable &= set(res.values)
        if not res.values:
            raise DataError(f"{ext}: no features for any item of {cfg.data.corpus} "
                            f"(first failures: {res.failures[:3]})")
        dims[m] = _input_dim(res.values, kinds[m])
        if TASKS.get(cfg.task.kind).unit == "dialogue":
            dims[m] += cfg.data.speaker_slots
    if cfg.data.speaker_norm:
        for m in feats:
            feats[m] = speaker_normalise(feats[m], data.utterances)
            sigs[str(m)] += "+spknorm"
    dropped = len(data.utterances) - len(usable)
    if dropped:
        data.skipped["feature extraction failed"] += dropped
        data.utterances = [u for u in data.utterances if u.id in usable]
    split = make_split(data.utterances, cfg.data)
    dsig = _sha({"corpus": cfg.data.corpus, "label": cfg.data.label, "labels": data.labels,
                 "items": sorted((i, str(data.targets[i])) for i in usable),
                 "folds": [(f.name, sorted(f.train), sorted(f.valid), sorted(f.test))
                           for f in split.folds]})
    return Prepared(cfg, data, split, feats, dims, kinds, sigs, fails, dsig)


# --- running ---------------------------------------------------------------------------------


def _task(prep: Prepared) -> Task:
    cfg = prep.cfg
    return make_task(cfg.task.kind, prep.data.labels, key_metric=cfg.task.key_metric,
                     class_weights=cfg.task.class_weights,
                     label_smoothing=cfg.task.label_smoothing)


def run_fold(prep: Prepared, fold: Fold, *, seed: int, run_dir: Path | None = None,
             progress: bool = True, resume: bool = True) -> dict:
    """Train on ``fold.train``, select on ``fold.valid``, score ``fold.test``."""
    import torch

    from affectkit.models import create_model
    from affectkit.training import Trainer, seed_everything

    cfg = prep.cfg
    torch.set_num_threads(max(1, cfg.trainer.threads))
    task = _task(prep)
    model_unit = getattr(prep.model_cls, "unit", "utterance")
    if model_unit != task.unit:
        raise ConfigError(f"model {cfg.model.name!r} reads one {model_unit} per sample but task "
                          f"{cfg.task.kind!r} has {task.unit} samples; "
                          + ("use a dialogue.* model" if task.unit == "dialogue"
                             else "use an utterance-level task with it (e.g. emotion)"))
    parts = {}
    for side in ("train", "valid", "test"):
        ids = getattr(fold, side)
        if not ids:
            raise DataError(f"fold {fold.name!r} has an empty {side} part")
        parts[side] = prep.batch(ids, task)
    seed_everything(seed)  # model initialisation depends on the seed
    args = resolve_model_args(cfg.model.name, cfg.model.args, prep.data.labels)
    model = create_model(cfg.model.name, input_dims=prep.input_dims, n_outputs=task.n_outputs,
                         **args)
    resolved = to_dict(cfg) | {"seed": seed}
    from affectkit.training.distributed import is_main_process

    writes = run_dir is not None and is_main_process()  # rank 0 only under torchrun
    if writes:
        RunDir(run_dir).write_model_spec(cfg.model.name, args, prep.input_dims, task.n_outputs,
                                         prep.kinds, resolved)
    tcfg = from_dict(type(cfg.trainer), to_dict(cfg.trainer))
    tcfg.progress = progress and cfg.trainer.progress
    trainer = Trainer(model, task, tcfg, seed=seed, run_dir=run_dir,
                      resolved_config=resolved, resume=resume)
    t0 = time.perf_counter()
    fit = trainer.fit(parts["train"], parts["valid"])
    test = trainer.evaluate(parts["test"], "test")
    out = {
        "fold": fold.name, "seed": seed, "sizes": fold.sizes(), "best_epoch": fit.best_epoch,
        "valid": _strip(fit.best_valid), "test": test, "seconds": round(time.perf_counter() - t0, 2),
        "n_parameters": model.n_parameters(), "n_trainable": model.n_parameters(True)
        if not trainer.closed_form else model.n_parameters(),
    }
    if writes:
        rd = RunDir(run_dir)
        rd.write("test_metrics.json", out)
        rd.write("data.json", {
            "fold": fold.name, "train": fold.train, "valid": fold.valid, "test": fold.test,
            "labels": prep.data.labels, "data_signature": prep.data_signature,
            "feature_signatures": prep.feature_signatures})
    return out


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("confusion", "per_label_f1")}


def run_experiment(cfg: ExperimentConfig, *, run_root: str | Path | None = None,
                   seeds: list[int] | None = None, progress: bool = True,
                   prep: Prepared | None = None, folds: list[str] | None = None) -> dict:
    """All folds × seeds of one experiment; returns per-run results and signatures."""
    prep = prep or prepare(cfg, progress=progress)
    seeds = seeds if seeds is not None else [cfg.seed]
    runs = []
    for seed in seeds:
        for fold in prep.split.folds:
            if folds and fold.name not in folds:
                continue
            rd = None
            if run_root is not None:
                rd = Path(run_root) / f"seed{seed}" / safe_name(fold.name)
            runs.append(run_fold(prep, fold, seed=seed, run_dir=rd, progress=progress))
    return {
        "name": cfg.name, "config": to_dict(cfg), "runs": runs,
        "protocol": prep.split.protocol, "speaker_independent": prep.split.speaker_independent,
        "n_folds": len(prep.split.folds), "n_items": len(prep.data.utterances),
        "labels": prep.data.labels, "skipped": dict(prep.data.skipped),
        "data_signature": prep.data_signature, "feature_signatures": prep.feature_signatures,
        "feature_failures": {k: v[:20] for k, v in prep.feature_failures.items()},
        "model_signature": config_signature(cfg),
    }


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)


_safe = safe_name  # former name


# --- reloading -------------------------------------------------------------------------------


def read_run(run_dir: str | Path, need: tuple[str, ...] = ()) -> tuple[ExperimentConfig, dict]:
    """(validated config, data.json) of a run folder written by ``affect train``; a missing
    file (``config.json``, ``data.json`` or one of ``need``) is one clear error."""
    rd = RunDir(run_dir)
    rd.require("config.json", "data.json", *need)
    return rd.config(), rd.read("data.json")


@dataclass
class LoadedRun:
    """A trained run with its fold's data, reloaded through :class:`RunDir`."""

    run_dir: Path
    cfg: ExperimentConfig
    prep: Prepared
    fold: Fold
    task: Task
    trainer: Any

    def batch(self, split: str, feats: dict[Modality, dict[str, Any]] | None = None) -> Batch:
        p = self.prep if feats is None else _with_feats(self.prep, feats)
        return p.batch(list(getattr(self.fold, split)), self.task)


def _with_feats(prep: Prepared, feats) -> Prepared:
    other = copy.copy(prep)
    other.feats = feats
    return other


def load_run(run_dir: str | Path, *, prep: Prepared | None = None) -> LoadedRun:
    """Reload a run folder of ``affect train`` with its data (pass ``prep`` to reuse loaded
    features). scikit-learn baselines are refitted from the config on the same fold (their
    estimators are not saved: no pickle)."""
    from affectkit.training import Strategy, Trainer

    run_dir = Path(run_dir)
    cfg, dj = read_run(run_dir, ("task.json",))
    prep = prepare(cfg, progress=False) if prep is None else prep.for_config(cfg)
    if prep.data_signature != dj["data_signature"]:
        raise DataError(f"{run_dir}: the corpus, labels or features changed since training "
                        f"(data signature {prep.data_signature} ≠ {dj['data_signature']})")
    fold = Fold(dj["fold"], dj["train"], dj["valid"], dj["test"])
    cfg.trainer.progress = False
    if getattr(prep.model_cls, "is_sklearn", False):
        from affectkit.models import create_model

        task = _task(prep)
        model = create_model(cfg.model.name, input_dims=prep.input_dims,
                             n_outputs=task.n_outputs,
                             **resolve_model_args(cfg.model.name, cfg.model.args, prep.data.labels))
        trainer = Trainer(model, task, cfg.trainer, seed=cfg.seed, strategy=Strategy())
        trainer.fit(prep.batch(fold.train, task), prep.batch(fold.valid, task))
    else:
        model, task = RunDir(run_dir).load_model(cfg=cfg, input_dims=prep.input_dims)
        trainer = Trainer(model, task, cfg.trainer, seed=cfg.seed, strategy=Strategy())
    return LoadedRun(run_dir, cfg, prep, fold, task, trainer)


def evaluate_run(run_dir: str | Path, split: str = "test") -> dict:
    """Reload ``run_dir`` and score the ``split`` part (train, valid or test) of its fold."""
    if split not in ("train", "valid", "test"):
        raise ConfigError(f"--split {split!r}; allowed: train, valid, test")
    run = load_run(run_dir)
    out = run.trainer.evaluate(run.batch(split), split)
    if getattr(run.prep.model_cls, "is_sklearn", False):
        out["refit"] = True
    return out
