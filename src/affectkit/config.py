"""Experiment configuration as data: YAML ↔ dataclasses, round-trip, unknown keys are errors.

An experiment file has five sections and a seed::

    name: emodb-mscnn
    data:     {corpus: emodb, split: loso, label: emotion}
    features: {audio: audio.logmel}          # modality → extractor name
    model:    {name: voice.mscnn, args: {channels: 32}}
    task:     {kind: emotion, key_metric: ua}
    trainer:  {epochs: 40, batch_size: 32, lr: 0.001, patience: 8}
    seed: 0

:func:`load_config` validates every key against the dataclasses below (an unknown key is a
:class:`ConfigError` naming the key, its section and the allowed keys) and :func:`to_dict`
gives back the *resolved* config (every default filled in), which is saved beside every
checkpoint so a run can be reproduced from its folder alone.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from affectkit.errors import ConfigError

T = TypeVar("T")

SPLITS = ("official", "loso", "kfold", "speaker_pair", "corpus_folds")

@dataclass
class DataConfig:
    """Which corpus, which split protocol, which label.

    Attributes:
        corpus: registry name (``affect data list``).
        root: corpus root; ``None`` = the shared copy (``$AFFECTKIT_DATA``).
        split: ``official`` | ``loso`` (leave one speaker out) | ``kfold`` (speaker-disjoint
            k folds) | ``speaker_pair`` (train on ``train_speakers``, test on the others) |
            ``corpus_folds`` (the corpus's own folds, ``meta["fold"]``, e.g. ECPE's 10; validation
            carved from the training folds by document).
        folds: k for ``kfold``.
        split_seed: seed of the fold assignment (fixed across training seeds).
        label: ``emotion`` (as loaded), ``emotion_original``, ``emotion_canonical`` (mapped
            with the opt-in tables), ``sentiment`` (−3..3 score), ``sentiment_polarity``
            (negative/neutral/positive), ``emotions`` (multi-label), ``dimensional``.
        labels: class names in output order; ``None`` = the labels found in the data, sorted.
            Items whose label is not listed are left out and counted in the run report.
        where: keep only items whose ``meta[key] == value`` (e.g. ``{channel: speech}``).
        train_speakers: speakers to train on for ``speaker_pair``.
        valid_fraction: share of training speakers/items carved off for validation when the
            protocol has no validation part.
        limit: keep at most this many items per split (smoke tests only).
        speaker_norm: z-normalise utterance-level feature vectors per speaker (mean/sd over
            all of that speaker's items, labels unused). Transductive for test speakers — their
            unlabelled recordings are used — as in the speaker-normalisation literature; tables
            mark such rows.
        max_tokens: token inputs (``text.token_ids``, which caches up to 128 word pieces) are
            cut to this many tokens when batched.
        speaker_slots: dialogue-unit tasks: append a one-hot of each utterance's speaker slot
            (k slots, order of first appearance) to its features (0 = off).
        max_train: train on a random subset of this many training items (seeded by
            ``split_seed``; validation and test stay whole) — for CPU budgets, and reported.
    """

    corpus: str = ""
    root: str | None = None
    split: str = "official"
    folds: int = 5
    split_seed: int = 0
    label: str = "emotion"
    labels: list[str] | None = None
    where: dict[str, Any] | None = None
    train_speakers: list[str] | None = None
    valid_fraction: float = 0.1
    limit: int | None = None
    speaker_norm: bool = False
    max_train: int | None = None
    max_tokens: int = 64
    speaker_slots: int = 0

    def validate(self, where: str = "data") -> None:
        if not self.corpus:
            raise ConfigError(f"{where}.corpus is required (see `affect data list`)")
        if self.split not in SPLITS:
            raise ConfigError(f"{where}.split={self.split!r}; allowed: {', '.join(SPLITS)}")
        if self.split == "speaker_pair" and not self.train_speakers:
            raise ConfigError(f"{where}.train_speakers is required when split is speaker_pair")


@dataclass
class ModelConfig:
    """A registered model (``affect models list``) and its keyword arguments."""

    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskConfig:
    """What is predicted and how it is scored.

    Attributes:
        kind: ``sentiment`` (regression −3..3) | ``emotion`` (single-label classes) |
            ``multilabel`` | ``dimensional`` (CCC loss).
        key_metric: metric used for early stopping/model selection on the validation split;
            ``None`` = the task's default.
        class_weights: weight the cross-entropy by inverse class frequency (train split).
        label_smoothing: cross-entropy label smoothing.
    """

    kind: str = "emotion"
    key_metric: str | None = None
    class_weights: bool = False
    label_smoothing: float = 0.0


@dataclass
class TrainerConfig:
    """How the one training loop runs (see :class:`affectkit.training.Trainer`).

    Attributes:
        epochs: maximum epochs.
        batch_size: training batch size.
        lr: peak learning rate (AdamW), linear warm-up then cosine decay.
        weight_decay: AdamW weight decay (not applied to biases/norms; chosen by name).
        patience: stop after this many epochs without a validation improvement (0 = never).
        warmup: fraction of steps spent warming up.
        grad_clip: max gradient norm (0 = off).
        threads: torch intra-op threads. 1 by default: on a shared 2-core machine two OpenMP
            threads spin against other processes and run up to 10× slower; raise it on an idle
            machine.
        eval_batch_size: batch size for evaluation.
        strategy: optional training strategy name (``affectkit.training.STRATEGIES``).
        strategy_args: keyword arguments of the strategy.
        progress: show rich progress bars.
        precision: ``"fp32"`` (default) or ``"bf16"``: forward passes under bfloat16 autocast
            (losses and outputs in float32). About 2× faster for transformer fine-tuning on CPUs
            with native bf16 (AVX512-BF16/AMX); slower elsewhere.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 6
    warmup: float = 0.05
    grad_clip: float = 1.0
    threads: int = 1
    eval_batch_size: int = 256
    strategy: str | None = None
    strategy_args: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    precision: str = "fp32"

    def validate(self) -> TrainerConfig:
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"trainer.precision must be fp32 or bf16, got {self.precision!r}")
        return self


@dataclass
class ExperimentConfig:
    """One experiment: data × features × model × task × trainer × seed.

    ``store`` is the feature store root (default: ``$AFFECTKIT_CACHE``, else the user cache
    folder) — the same store ``affect extract`` and ``affect import-features`` write.
    """

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    features: dict[str, str] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = 0
    store: str | None = None

    def validate(self) -> ExperimentConfig:
        from affectkit.types import Modality

        self.data.validate()
        self.trainer.validate()
        for k in self.features:
            try:
                Modality.parse(k)
            except ValueError as e:
                raise ConfigError(f"features.{k}: {e}") from None
        if not self.model.name:
            raise ConfigError("model.name is required (see `affect models list`)")
        return self


# --- generic dataclass <-> dict ---------------------------------------------------------------


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp`` (the subset used in configs)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if _is_dataclass_type(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (a,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, a, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        ka, va = typing.get_args(tp) or (Any, Any)
        return {str(k): _coerce(v, va, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        # YAML 1.1 reads "1e-3" as a string: accept numeric strings for float fields.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], d: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys raise :class:`ConfigError`."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in d if k not in names]
    if unknown:
        import difflib

        k = unknown[0]
        close = difflib.get_close_matches(str(k), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where}: unknown key {k!r}{hint}; allowed keys: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in d.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Dataclass → plain dict (every default filled in), JSON/YAML-able."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def merge(base: dict, override: dict) -> dict:
    """Deep merge of plain dicts (``override`` wins); used by suites and ``--set``."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_overrides(pairs: list[str]) -> dict:
    """``["trainer.lr=0.01", "seed=2"]`` → nested dict (values parsed as YAML scalars)."""
    import yaml

    out: dict = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"--set {p!r}: expected KEY=VALUE, e.g. trainer.lr=0.001")
        key, val = p.split("=", 1)
        cur = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = yaml.safe_load(val)
    return out


def load_config(path: str | Path, overrides: dict | None = None) -> ExperimentConfig:
    """Read an experiment YAML (or JSON) file, apply overrides, validate."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    if overrides:
        raw = merge(raw, overrides)
    return from_dict(ExperimentConfig, raw, str(path)).validate()


def dump_config(cfg: ExperimentConfig, path: str | Path | None = None) -> str:
    """Resolved config as YAML text (written to ``path`` if given)."""
    import yaml

    text = yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def config_signature(cfg: ExperimentConfig | dict) -> str:
    """The one signature of an experiment configuration (12 hex digits).

    Settings that cannot change a result (``trainer.progress``, ``threads``) are left out, and options added after the first benchmarks are left out
    at their defaults, so earlier signatures stay valid. The seed is part of it when present.
    """
    import hashlib
    import json

    d = json.loads(json.dumps(cfg if isinstance(cfg, dict) else to_dict(cfg), default=str))
    d.pop("store", None)  # where features are cached never changes them
    t = d.get("trainer") or {}
    for k in ("progress", "threads"):
        t.pop(k, None)
    if t.get("precision") == "fp32":
        t.pop("precision")
    data = d.get("data") or {}
    for k in ("speaker_norm", "max_train"):
        if not data.get(k):
            data.pop(k, None)
    if data.get("max_tokens") == 64:
        data.pop("max_tokens")
    if not data.get("speaker_slots"):
        data.pop("speaker_slots", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
