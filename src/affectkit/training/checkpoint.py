"""RunDir: the only reader and writer of a run folder.

A run folder (``affect train`` writes ``<runs>/<name>/seed<k>/<fold>``; ``affect defaults
build`` exports one per shipped model) holds::

    config.json          the resolved experiment config (+ seed)
    model.json           how to rebuild the model: registry name, *resolved* arguments (including
                         ones the experiment injects, e.g. a pretrained head's ``labels``), input
                         dims and kinds per modality, n_outputs, and the config signature
    model.safetensors    best weights (trainable tensors + buffers)
    task.json            task state (labels, thresholds, class weights)
    metrics.json         validation history and the selected epoch
    strategy.safetensors a training strategy's inference-time state that is not a model weight
                         (SuCI's subject dictionary); written by the strategy, restored by its
                         ``on_load`` hook in :meth:`RunDir.load_model`
    last.safetensors/.json   resumable state of an unfinished run
    data.json            the fold's ids, labels, data and feature signatures (training runs)
    test_metrics.json    the fold's test metrics (training runs)
    inference.json       shipped models only: what the analyzer needs beside the above

Every path that reloads a run — evaluation, robustness, the analyzer's shipped heads, a
distillation teacher — goes through :meth:`RunDir.load_model`, so they all get the same model.
Folders written before ``model.json`` existed are read from ``config.json`` with the task's
labels injected where the model takes ``labels`` (what training did).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affectkit.config import ExperimentConfig, config_signature, from_dict
from affectkit.errors import ConfigError
from affectkit.types import Modality

HINT = "pass a run folder written by `affect train` (…/<name>/seed<k>/<fold>)"


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, meta: dict | None = None) -> None:
    """safetensors, written atomically (an interruption never leaves a half-written file)."""
    from safetensors.torch import save_file

    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
              metadata={k: json.dumps(v) for k, v in (meta or {}).items()})
    tmp.replace(path)


def write_json(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=json_default), encoding="utf-8")
    tmp.replace(path)


def json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path | Modality):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
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


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
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


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load ``model.safetensors`` into ``model``; a missing or unexpected tensor is an error."""
    from safetensors.torch import load_file

    sd = load_file(str(path))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    name = getattr(model, "name", type(model).__name__)
    if unexpected:
        raise ConfigError(f"{path}: unexpected tensors {unexpected[:3]} for {name}")
    own = set(model.trainable_state_dict()) if hasattr(model, "trainable_state_dict") else set()
    lacking = [k for k in missing if k in own]
    if lacking:
        raise ConfigError(f"{path}: missing tensors {lacking[:3]} for {name}")


def resolve_model_args(model_name: str, args: dict, labels: list[str]) -> dict:
    """The config's model arguments plus the task's label names for models that take them
    (e.g. to reuse a pretrained classifier in the right order)."""
    from affectkit.models import MODELS

    out = dict(args)
    cls = MODELS.get(model_name)
    if "labels" in inspect.signature(cls.__init__).parameters and "labels" not in out:
        out["labels"] = list(labels)
    return out


class RunDir:
    """A run folder: typed access to every file in it (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return (self.path / name).exists()

    def require(self, *names: str, hint: str = HINT) -> None:
        missing = [n for n in names if not self.exists(n)]
        if missing:
            raise ConfigError(f"{self.path}: {', '.join(missing)} missing; {hint}")

    # -- writing ------------------------------------------------------------------------------
    def mkdir(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, obj: Any) -> None:
        self.mkdir()
        write_json(obj, self.path / name)

    def write_model_spec(self, model_name: str, args: dict, input_dims: dict, n_outputs: int,
                         kinds: dict | None = None, config: dict | None = None) -> None:
        self.write("model.json", {
            "name": model_name, "args": args, "n_outputs": int(n_outputs),
            "input_dims": {str(m): int(d) for m, d in input_dims.items()},
            "kinds": {str(m): k for m, k in (kinds or {}).items()},
            "config_signature": config_signature(config) if config is not None else None,
        })

    def save_model(self, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
        self.mkdir()
        save_tensors(tensors, self.path / "model.safetensors", meta)

    def save_strategy(self, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
        """A strategy's inference-time tensors (``strategy.safetensors``)."""
        self.mkdir()
        save_tensors(tensors, self.path / "strategy.safetensors", meta)

    def strategy_tensors(self) -> tuple[dict[str, torch.Tensor], dict] | None:
        """(tensors, metadata) of ``strategy.safetensors``, ``None`` when the run has none."""
        from safetensors import safe_open

        path = self.path / "strategy.safetensors"
        if not path.exists():
            return None
        with safe_open(str(path), framework="pt") as f:
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            return {k: f.get_tensor(k) for k in f.keys()}, meta

    # -- reading ------------------------------------------------------------------------------
    def read(self, name: str) -> Any:
        self.require(name)
        return json.loads((self.path / name).read_text())

    def config(self, *, validate: bool = True) -> ExperimentConfig:
        """The experiment config (validated unless ``validate=False``: rebuilding a model
        needs only its model and task sections)."""
        cfg = from_dict(ExperimentConfig, dict(self.read("config.json")),
                        f"{self.path}/config.json")
        if not cfg.model.name:
            raise ConfigError(f"{self.path}/config.json: model.name missing; {HINT}")
        return cfg.validate() if validate else cfg

    def model_spec(self, cfg: ExperimentConfig | None = None, *,
                   input_dims: dict[Modality, int] | None = None) -> dict:
        """``model.json``, or its reconstruction for folders written before it existed."""
        if self.exists("model.json"):
            spec = self.read("model.json")
            spec["input_dims"] = {Modality.parse(m): d for m, d in spec["input_dims"].items()}
            return spec
        cfg = cfg or self.config(validate=False)
        task = self.read("task.json")
        if input_dims is None and self.exists("inference.json"):
            info = self.read("inference.json")
            input_dims = {Modality.parse(info["modality"]): int(info["input_dim"])}
        if input_dims is None:
            raise ConfigError(f"{self.path}: model.json missing and no input dims given; "
                              "re-run `affect train` to rewrite the folder")
        return {"name": cfg.model.name, "args": resolve_model_args(
                    cfg.model.name, cfg.model.args, task.get("labels") or []),
                "input_dims": dict(input_dims), "n_outputs": None}

    def load_task(self, cfg: ExperimentConfig | None = None):
        """The task with its saved state (labels, thresholds ...)."""
        from affectkit.tasks import make_task

        cfg = cfg or self.config(validate=False)
        state = self.read("task.json")
        task = make_task(state.get("kind") or cfg.task.kind, state.get("labels") or None,
                         key_metric=state.get("key_metric") or cfg.task.key_metric)
        task.load_state(state)
        return task

    def load_model(self, *, cfg: ExperimentConfig | None = None,
                   input_dims: dict[Modality, int] | None = None):
        """(model in eval mode with the best weights, task) — the one way to reload a run."""
        from affectkit.models import create_model

        self.require("config.json", "task.json", "model.safetensors")
        cfg = cfg or self.config(validate=False)
        task = self.load_task(cfg)
        spec = self.model_spec(cfg, input_dims=input_dims)
        if getattr(_model_cls(spec["name"]), "is_sklearn", False):
            raise ConfigError(f"{self.path}: {spec['name']} is a scikit-learn baseline; its "
                              "estimator is not saved (no pickle) — refit it from the config")
        model = create_model(spec["name"], input_dims=spec["input_dims"],
                             n_outputs=spec.get("n_outputs") or task.n_outputs, **spec["args"])
        if cfg.trainer.strategy:  # a strategy that adds inference-time parts re-attaches them
            from affectkit.training.strategies import make_strategy

            make_strategy(cfg.trainer.strategy, cfg.trainer.strategy_args).on_load(model, self)
        load_weights(model, self.path / "model.safetensors")
        model.eval()
        return model, task


def _model_cls(name: str):
    from affectkit.models import MODELS

    return MODELS.get(name)
