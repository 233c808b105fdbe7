"""From a config to numbers: corpus → labels → split → features → tensors → Trainer → metrics.

:func:`run_experiment` runs one :class:`~affectkit.config.ExperimentConfig` over every fold of
its split protocol (one seed) and returns per-fold test metrics; :func:`evaluate_run` reloads
a run folder and scores a split. Models are selected on each fold's validation part; the test
part is only ever scored, after selection.

Features come from :mod:`affectkit.features_adapter` (the feature store when present, else the
registered extractors, cached per corpus), so any corpus pairs with any feature set.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.config import DataConfig, ExperimentConfig, from_dict, to_dict
from affectkit.data.base import load_corpus
from affectkit.data.splits import Fold, Split, leave_one_speaker_out, official_split, speaker_kfold
from affectkit.errors import ConfigError, DataError, SplitLeakError
from affectkit.taxonomy import map_to_canonical
from affectkit.types import Modality, Utterance

POLARITY = ("negative", "neutral", "positive")


# --- labels ----------------------------------------------------------------------------------


def _label_of(u: Utterance, key: str) -> Any:
    if key == "emotion":
        return u.emotion
    if key == "emotion_original":
        return u.emotion_original
    if key == "emotion_canonical":
        return map_to_canonical(u.emotion_original or u.emotion, u.corpus)
    if key == "sentiment":
        return None if u.sentiment is None or u.sentiment != u.sentiment else float(u.sentiment)
    if key == "sentiment_polarity":
        if u.sentiment is None or u.sentiment != u.sentiment:
            return None
        return POLARITY[int(np.sign(u.sentiment)) + 1]
    if key == "emotions":
        if u.emotions is not None:
            return tuple(u.emotions)
        return (u.emotion,) if u.emotion else None
    if key == "dimensional":
        if u.valence is None or u.arousal is None:
            return None
        return (float(u.valence), float(u.arousal))
    raise ConfigError(f"data.label={key!r} unknown")


@dataclass
class LabelledData:
    """Utterances with a usable label, the label space and what was left out (with reasons)."""

    utterances: list[Utterance]
    labels: list[str]
    targets: dict[str, Any]
    skipped: Counter = field(default_factory=Counter)
    load_issues: int = 0

    def target_array(self, ids: list[str], kind: str) -> np.ndarray:
        if kind == "emotion":
            idx = {c: i for i, c in enumerate(self.labels)}
            return np.array([idx[self.targets[i]] for i in ids], dtype=np.int64)
        if kind == "multilabel":
            idx = {c: i for i, c in enumerate(self.labels)}
            y = np.zeros((len(ids), len(self.labels)), np.float32)
            for r, i in enumerate(ids):
                for c in self.targets[i]:
                    y[r, idx[c]] = 1.0
            return y
        return np.asarray([self.targets[i] for i in ids], dtype=np.float32)


def load_labelled(data: DataConfig, task_kind: str) -> LabelledData:
    """Load the corpus and keep items whose label the task can use."""
    res = load_corpus(data.corpus, data.root)
    skipped: Counter = Counter()
    utts, targets = [], {}
    for u in res.utterances:
        if data.where and any(u.meta.get(k) != v for k, v in data.where.items()):
            skipped["filtered by data.where"] += 1
            continue
        y = _label_of(u, data.label)
        if y is None:
            skipped[f"no {data.label} label"] += 1
            continue
        targets[u.id] = y
        utts.append(u)
    if task_kind in ("emotion", "multilabel"):
        seen = sorted({c for y in targets.values() for c in (y if isinstance(y, tuple) else (y,))})
        labels = list(data.labels) if data.labels else seen
        keep = set(labels)
        kept = []
        for u in utts:
            y = targets[u.id]
            ys = y if isinstance(y, tuple) else (y,)
            if task_kind == "multilabel":
                ys2 = tuple(c for c in ys if c in keep)
                if not ys2:
                    skipped["label not in data.labels"] += 1
                    del targets[u.id]
                    continue
                targets[u.id] = ys2
            elif y not in keep:
                skipped[f"label {y!r} not in data.labels"] += 1
                del targets[u.id]
                continue
            kept.append(u)
        utts = kept
    elif task_kind == "sentiment":
        labels = ["sentiment"]
    else:
        labels = ["valence", "arousal"]
    if not utts:
        raise DataError(f"{data.corpus}: no items with a usable {data.label!r} label "
                        f"(skipped: {dict(skipped)})")
    return LabelledData(utts, labels, targets, skipped, len(res.issues))


# --- splits ----------------------------------------------------------------------------------


def make_split(utts: list[Utterance], data: DataConfig) -> Split:
    """The protocol named in ``data.split``; speaker independence is asserted where claimed."""
    if data.split == "official":
        split = official_split(utts, valid_fraction=data.valid_fraction, seed=data.split_seed)
    elif data.split == "loso":
        split = leave_one_speaker_out(utts, seed=data.split_seed)
    elif data.split == "kfold":
        split = speaker_kfold(utts, data.folds, seed=data.split_seed)
    elif data.split == "speaker_pair":
        split = _speaker_pair(utts, data)
    else:  # validated earlier
        raise ConfigError(f"data.split={data.split!r}")
    if data.max_train:
        rng = random.Random(data.split_seed)
        for f in split.folds:
            if len(f.train) > data.max_train:
                f.train = sorted(rng.sample(f.train, data.max_train))
        split.protocol += f"; training subset of {data.max_train} items (seed {data.split_seed})"
    if data.limit:
        rng = random.Random(data.split_seed)
        for f in split.folds:
            for side in ("train", "valid", "test"):
                ids = getattr(f, side)
                if len(ids) > data.limit:
                    setattr(f, side, sorted(rng.sample(ids, data.limit)))
    return split


def _speaker_pair(utts: list[Utterance], data: DataConfig) -> Split:
    """Train on ``train_speakers`` (validation carved from their items), test on the rest.

    With one training speaker the validation part cannot be speaker-disjoint from training;
    what matters for the figure — no test speaker in train or validation — is asserted.
    """
    train_s = {s if "/" in s else f"{data.corpus}/{s}" for s in data.train_speakers or []}
    speakers = {u.speaker for u in utts}
    unknown = train_s - speakers
    if unknown:
        raise ConfigError(f"data.train_speakers {sorted(unknown)} not in {data.corpus}; "
                          f"speakers: {sorted(s for s in speakers if s)}")
    tr = [u.id for u in utts if u.speaker in train_s]
    te = [u.id for u in utts if u.speaker not in train_s]
    rng = random.Random(data.split_seed)
    shuffled = tr[:]
    rng.shuffle(shuffled)
    n_valid = max(1, round(len(tr) * data.valid_fraction))
    valid = set(shuffled[:n_valid])
    fold = Fold("+".join(sorted(train_s)) + "→rest", [i for i in tr if i not in valid],
                [i for i in tr if i in valid], te)
    spk = {u.id: u.speaker for u in utts}
    leak = {spk[i] for i in fold.test} & {spk[i] for i in fold.train + fold.valid}
    if leak:
        raise SplitLeakError(f"speaker_pair: test speakers {sorted(leak)} also in train/valid")
    return Split("speaker_pair", [fold], speaker_independent=False,
                 protocol=f"train on {sorted(train_s)}, test on the other speakers; valid = "
                          f"{data.valid_fraction:.0%} of the training items")


# --- tensors ---------------------------------------------------------------------------------


def build_tensors(ids: list[str], feats: dict[Modality, dict[str, Any]], kinds: dict[Modality, str],
                  y: np.ndarray, *, max_frames: int = 600, max_tokens: int = 64):
    """Stack per-utterance features into a :class:`~affectkit.training.TensorData`.

    ``kinds`` (from the model) decides the form: ``vector`` (sequences are mean-pooled),
    ``sequence`` (centre-cropped/zero-padded to ``max_frames`` with lengths), ``image``
    (N, 1, H, W), ``tokens`` (N, L) with attention masks.
    """
    import torch

    from affectkit.training import TensorData

    inputs, lengths, masks = {}, {}, {}
    for m, per in feats.items():
        arrs = [per[i] for i in ids]
        kind = kinds[m]
        if kind == "vector":
            arrs = [a.mean(0) if a.ndim == 2 else a.reshape(-1) for a in arrs]
            inputs[m] = torch.from_numpy(np.stack(arrs).astype(np.float32))
        elif kind == "sequence":
            d = arrs[0].shape[-1]
            T = min(max_frames, max(a.shape[0] for a in arrs))
            x = np.zeros((len(arrs), T, d), np.float32)
            L = np.zeros(len(arrs), np.int64)
            for r, a in enumerate(arrs):
                if a.shape[0] > T:
                    s = (a.shape[0] - T) // 2
                    a = a[s:s + T]
                x[r, :a.shape[0]] = a
                L[r] = a.shape[0]
            inputs[m], lengths[m] = torch.from_numpy(x), torch.from_numpy(L)
        elif kind == "image":
            inputs[m] = torch.from_numpy(np.stack(arrs).astype(np.float32))
        elif kind == "tokens":
            Lmax = min(max_tokens, max(len(a) for a in arrs))
            x = np.zeros((len(arrs), Lmax), np.int64)
            mk = np.zeros((len(arrs), Lmax), np.int64)
            for r, a in enumerate(arrs):
                a = np.asarray(a)[:Lmax]
                x[r, :len(a)] = a
                mk[r, :len(a)] = 1
            inputs[m], masks[m] = torch.from_numpy(x), torch.from_numpy(mk)
        else:
            raise ConfigError(f"unknown input kind {kind!r} for {m}")
    return TensorData(inputs, torch.from_numpy(y), list(ids), lengths, masks)


# --- running ---------------------------------------------------------------------------------


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
        import copy

        from affectkit.models import MODELS

        other = copy.copy(self)
        other.cfg = cfg
        cls = MODELS.get(cfg.model.name)
        other.kinds = {m: cls.input_kind(m) for m in self.feats}
        other.input_dims = {m: (0 if other.kinds[m] == "tokens"
                                else int(next(iter(self.feats[m].values())).shape[-1]))
                            for m in self.feats}
        return other


def prepare(cfg: ExperimentConfig, *, progress: bool = True) -> Prepared:
    """Load labels, split, and features for ``cfg`` (independent of the training seed)."""
    from affectkit.features_adapter import get_features
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
    feats, sigs, fails, dims, kinds = {}, {}, {}, {}, {}
    usable = {u.id for u in data.utterances}
    for mod_name, ext in cfg.features.items():
        m = Modality.parse(mod_name)
        kind = model_cls.input_kind(m)
        res = get_features(ext, data.utterances, progress=progress, corpus=cfg.data.corpus)
        feats[m], sigs[str(m)], fails[ext] = res.values, res.signature, res.failures
        usable &= set(res.values)
        kinds[m] = kind
        if not res.values:
            raise DataError(f"{ext}: no features for any item of {cfg.data.corpus} "
                            f"(first failures: {res.failures[:3]})")
        first = next(iter(res.values.values()))
        # vector/sequence: feature dim; image: side length (N, 1, S, S); tokens: vocabulary-free
        dims[m] = int(first.shape[-1]) if kind != "tokens" else 0
    if cfg.data.speaker_norm:
        for m in feats:
            feats[m] = _speaker_normalise(feats[m], data.utterances)
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


def _speaker_normalise(values: dict[str, Any], utts: list[Utterance]) -> dict[str, Any]:
    """Per-speaker z-score of (D,) vectors; sequences (T, D) use the speaker's frame stats."""
    by_spk: dict[str | None, list[str]] = {}
    for u in utts:
        if u.id in values:
            by_spk.setdefault(u.speaker, []).append(u.id)
    if None in by_spk:
        raise DataError(f"data.speaker_norm: {len(by_spk[None])} items have no speaker id")
    out = {}
    for ids in by_spk.values():
        stack = np.concatenate([np.atleast_2d(values[i]) for i in ids], 0)
        mu, sd = stack.mean(0), stack.std(0) + 1e-6
        for i in ids:
            out[i] = ((values[i] - mu) / sd).astype(np.float32)
    return out


def run_fold(prep: Prepared, fold: Fold, *, seed: int, run_dir: Path | None = None,
             progress: bool = True, resume: bool = True) -> dict:
    """Train on ``fold.train``, select on ``fold.valid``, score ``fold.test``."""
    import torch

    from affectkit.models import create_model
    from affectkit.tasks import make_task
    from affectkit.training import Trainer, seed_everything

    cfg = prep.cfg
    torch.set_num_threads(max(1, cfg.trainer.threads))
    task = make_task(cfg.task.kind, prep.data.labels, key_metric=cfg.task.key_metric,
                     class_weights=cfg.task.class_weights,
                     label_smoothing=cfg.task.label_smoothing)
    parts = {}
    for side in ("train", "valid", "test"):
        ids = getattr(fold, side)
        if not ids:
            raise DataError(f"fold {fold.name!r} has an empty {side} part")
        y = prep.data.target_array(ids, cfg.task.kind)
        parts[side] = build_tensors(ids, prep.feats, prep.kinds, y)
    seed_everything(seed)  # model initialisation depends on the seed
    model = create_model(cfg.model.name, input_dims=prep.input_dims, n_outputs=task.n_outputs,
                         **_model_args(prep, cfg))
    resolved = to_dict(cfg) | {"seed": seed}
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
        if not getattr(model, "is_sklearn", False) else model.n_parameters(),
    }
    if run_dir is not None:
        (run_dir / "test_metrics.json").write_text(json.dumps(out, indent=2, default=str))
        (run_dir / "data.json").write_text(json.dumps({
            "fold": fold.name, "train": fold.train, "valid": fold.valid, "test": fold.test,
            "labels": prep.data.labels, "data_signature": prep.data_signature,
            "feature_signatures": prep.feature_signatures}, indent=1))
    return out


def _model_args(prep: Prepared, cfg: ExperimentConfig) -> dict:
    """The config's model arguments, plus the task's label names for models that take them
    (e.g. to reuse a pretrained classifier in the right order)."""
    import inspect

    args = dict(cfg.model.args)
    cls = prep.model_cls
    if "labels" in inspect.signature(cls.__init__).parameters and "labels" not in args:
        args["labels"] = list(prep.data.labels)
    return args


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
                rd = Path(run_root) / f"seed{seed}" / _safe(fold.name)
            runs.append(run_fold(prep, fold, seed=seed, run_dir=rd, progress=progress))
    return {
        "name": cfg.name, "config": to_dict(cfg), "runs": runs,
        "protocol": prep.split.protocol, "speaker_independent": prep.split.speaker_independent,
        "n_folds": len(prep.split.folds), "n_items": len(prep.data.utterances),
        "labels": prep.data.labels, "skipped": dict(prep.data.skipped),
        "data_signature": prep.data_signature, "feature_signatures": prep.feature_signatures,
        "feature_failures": {k: v[:20] for k, v in prep.feature_failures.items()},
        "model_signature": _sha({"name": cfg.model.name, "args": cfg.model.args,
                                 "trainer": to_dict(cfg.trainer)}),
    }


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)


def read_run(run_dir: Path, need: tuple[str, ...] = ()) -> tuple[ExperimentConfig, dict]:
    """(validated config, data.json) of a run folder written by ``affect train``; a missing
    file (``config.json``, ``data.json`` or one of ``need``) is one clear error."""
    for f in ("config.json", "data.json", *need):
        if not (run_dir / f).exists():
            raise ConfigError(f"{run_dir}: {f} missing; pass a run folder written by "
                              "`affect train` (…/<name>/seed<k>/<fold>)")
    raw = json.loads((run_dir / "config.json").read_text())
    cfg = from_dict(ExperimentConfig, raw, f"{run_dir}/config.json").validate()
    return cfg, json.loads((run_dir / "data.json").read_text())


def evaluate_run(run_dir: str | Path, split: str = "test") -> dict:
    """Reload ``run_dir`` (config.json, model.safetensors, task.json, data.json) and score the
    ``split`` part of its fold. scikit-learn baselines are refitted from the config (their
    estimators are not saved: no pickle)."""
    from affectkit.models import create_model
    from affectkit.tasks import make_task
    from affectkit.training import Trainer

    run_dir = Path(run_dir)
    cfg, dj = read_run(run_dir)
    if split not in ("train", "valid", "test"):
        raise ConfigError(f"--split {split!r}; allowed: train, valid, test")
    prep = prepare(cfg, progress=False)
    if prep.data_signature != dj["data_signature"]:
        raise DataError(f"{run_dir}: the corpus or features changed since training "
                        f"(data signature {prep.data_signature} ≠ {dj['data_signature']})")
    fold = Fold(dj["fold"], dj["train"], dj["valid"], dj["test"])
    model_cls = prep.model_cls
    if getattr(model_cls, "is_sklearn", False):
        out = run_fold(prep, fold, seed=cfg.seed, run_dir=None, progress=False)
        return {"split": split, "refit": True, **(out["test"] if split == "test" else out["valid"])}
    task = make_task(cfg.task.kind, prep.data.labels, key_metric=cfg.task.key_metric)
    task.load_state(json.loads((run_dir / "task.json").read_text()))
    model = create_model(cfg.model.name, input_dims=prep.input_dims, n_outputs=task.n_outputs,
                         **_model_args(prep, cfg))
    cfg.trainer.progress = False
    trainer = Trainer(model, task, cfg.trainer, seed=cfg.seed)
    trainer.load_weights(run_dir / "model.safetensors")
    ids = getattr(fold, split)
    data = build_tensors(ids, prep.feats, prep.kinds, prep.data.target_array(ids, cfg.task.kind))
    return trainer.evaluate(data, split)
