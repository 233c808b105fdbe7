"""`affect train` under torch.distributed (torchrun, gloo on CPU, 2 local processes).

Two processes must give the same model and metrics as one (the global batch is
``trainer.batch_size`` in both; see docs/scaling.md), only rank 0 writes run folders, and
scikit-learn baselines run on rank 0 only. Synthetic data only; each torchrun start costs a few
seconds of interpreter start-up per process.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PY = sys.executable


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    return env


def _run(cmd: list[str], env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}"
    return p


# --- a synthetic corpus for `affect train` (MMSA feature-file layout, imported) ----------


def _mmsa_part(n: int, rng: np.random.Generator, videos: list[str]) -> dict:
    """An MMSA-layout split whose sentiment depends on the text features (learnable)."""
    L = 5
    text = rng.normal(size=(n, L, 6)).astype(np.float32)
    bert = np.zeros((n, 3, L), np.int64)
    bert[:, 1, :] = 1
    y = np.clip(2.5 * np.tanh(text.mean(1)[:, 0] * 2) + rng.normal(0, 0.2, n), -3, 3)
    return {
        "raw_text": [f"u{i}" for i in range(n)],
        "id": [f"{videos[i % len(videos)]}$_${i + 1}" for i in range(n)],
        "text": text, "text_bert": bert,
        "audio": rng.normal(size=(n, 4, 3)).astype(np.float32),
        "vision": rng.normal(size=(n, 3, 2)).astype(np.float32),
        "audio_lengths": [4] * n, "vision_lengths": [3] * n,
        "regression_labels": y.astype(np.float32),
        "classification_labels": np.ones(n), "annotations": ["Positive"] * n,
    }


@pytest.fixture(scope="module")
def toy_config(tmp_path_factory):
    from affectkit.features.imported import import_feature_file

    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    data = {"train": _mmsa_part(60, rng, [f"tr{k}" for k in range(6)]),
            "valid": _mmsa_part(20, rng, ["va0", "va1"]),
            "test": _mmsa_part(20, rng, ["te0", "te1"])}
    p = tmp / "toy.pkl"
    p.write_bytes(pickle.dumps(data, protocol=4))
    cache = tmp / "cache"
    rep = import_feature_file(p, "mmsa", name="ddp-toy", allow_pickle=True, store_root=cache)
    cfg = tmp / "toy.yaml"
    cfg.write_text(
        f"name: ddp-toy\nstore: {cache}\n"
        f"data: {{corpus: ddp-toy, root: {rep.folder}, split: official, label: sentiment}}\n"
        "features: {text: text.ddp-toy, audio: audio.ddp-toy}\n"
        "model: {name: fusion.late, args: {hidden: 8, dropout: 0.0}}\n"
        "task: {kind: sentiment}\n"
        "trainer: {epochs: 3, batch_size: 8, lr: 0.01, patience: 0, threads: 1}\nseed: 3\n")
    return tmp, cfg, cache


# --- the Trainer: 1 vs 2 processes -----------------------------------------------------------


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory, toy_config):
    """The script once here (one process) and once under torchrun (2 processes, one start for
    the Trainer checks and the `affect train` run)."""
    import importlib.util

    _, cfg, cache = toy_config
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    spec = importlib.util.spec_from_file_location("_dist_script", HERE / "_dist_script.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(one)  # one process: here (no WORLD_SIZE in this environment)
    p2 = _run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(HERE / "_dist_script.py"), str(two), str(cfg)],
              _env(AFFECTKIT_CACHE=str(cache)))
    return one, two, None, p2


def _load(d: Path, rank: int) -> dict:
    return json.loads((d / f"result{rank}.json").read_text())


def test_two_processes_train_the_same_model_as_one(trainer_runs):
    one, two, _, _ = trainer_runs
    r1, r2a, r2b = _load(one, 0), _load(two, 0), _load(two, 1)
    assert (r1["world"], r2a["world"], r2b["rank"]) == (1, 2, 1)
    # both ranks end with the same weights and report the same numbers (gathered, not local)
    assert r2a["mlp"] == r2b["mlp"]
    a, b = r1["mlp"], r2a["mlp"]
    assert a["best_epoch"] == b["best_epoch"]
    assert len(a["history"]) == len(b["history"]) == 5
    for h1, h2 in zip(a["history"], b["history"], strict=True):
        # same global batches and steps: losses agree to float32 summation order
        assert h2["train_loss"] == pytest.approx(h1["train_loss"], rel=1e-4)
        assert h2["valid"]["loss"] == pytest.approx(h1["valid"]["loss"], rel=1e-4)
    assert b["weights_sum"] == pytest.approx(a["weights_sum"], rel=1e-4)
    # metrics over the whole 32-row test split on every rank (no rank saw only its shard)
    assert a["n_test_predictions"] == b["n_test_predictions"] == 32
    for k, v in a["test"].items():
        assert b["test"][k] == pytest.approx(v, abs=1 / 32), k  # at most one row flips


def test_strategy_with_per_rank_state_is_refused_on_every_rank(trainer_runs):
    one, two, _, _ = trainer_runs
    assert _load(one, 0)["per_rank_strategy"] == "trained"  # one process: fine
    for r in (0, 1):
        msg = _load(two, r)["per_rank_strategy"]
        assert "strategy 'per-rank' builds state from the training batches" in msg
        assert "without torchrun / --nproc" in msg


def test_only_rank_zero_writes_run_folders(trainer_runs):
    one, two, _, _ = trainer_runs
    assert not (two / "rank1").exists()
    for d in (one, two):
        run = d / "rank0" / "mlp"
        assert {"model.safetensors", "metrics.json", "last.json", "task.json",
                "config.json"} <= {p.name for p in run.iterdir()}
    m1 = json.loads((one / "rank0" / "mlp" / "metrics.json").read_text())
    m2 = json.loads((two / "rank0" / "mlp" / "metrics.json").read_text())
    assert m2["best_epoch"] == m1["best_epoch"]


def test_sklearn_baseline_runs_on_rank_zero_only(trainer_runs):
    one, two, _, p2 = trainer_runs
    r1, r2a, r2b = _load(one, 0), _load(two, 0), _load(two, 1)
    assert r1["sk"] == r2a["sk"] == r2b["sk"]  # one fit, broadcast to rank 1
    assert "sk.logreg is fitted in closed form (scikit-learn): it runs on rank 0 only" in p2.stderr
    assert p2.stderr.count("runs on rank 0 only") == 1  # said once, by rank 0
    assert (two / "rank0" / "sk" / "metrics.json").exists() and not (two / "rank1").exists()


def test_affect_train_under_torchrun_matches_one_process(toy_config, trainer_runs, monkeypatch):
    from typer.testing import CliRunner

    from affectkit.cli import app

    tmp, cfg, cache = toy_config
    _, two, _, p2 = trainer_runs
    monkeypatch.setenv("AFFECTKIT_CACHE", str(cache))
    r = CliRunner().invoke(app, ["train", str(cfg), "--json", "-q", "--out", str(tmp / "out1")])
    assert r.exit_code == 0, r.output
    one = json.loads(r.stdout)
    two_json = json.loads(p2.stdout)  # one JSON document: only rank 0 prints
    assert two_json["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert "distributed" not in one
    (r1,), (r2,) = one["runs"], two_json["runs"]
    assert r1["best_epoch"] == r2["best_epoch"] and r1["sizes"] == r2["sizes"]
    assert r2["test"]["n"] == 20  # the whole test split, gathered from both ranks
    scores = [k for k, v in r1["test"].items() if isinstance(v, float)]
    assert {"mae", "corr"} <= set(scores)
    for k in scores:
        assert r2["test"][k] == pytest.approx(r1["test"][k], abs=1e-3), k
    # one run folder per (seed, fold), with the same files as the single-process run
    d1, d2 = tmp / "out1" / "ddp-toy", two / "cli" / "ddp-toy"
    f1 = sorted(str(p.relative_to(d1)) for p in d1.rglob("*") if p.is_file())
    f2 = sorted(str(p.relative_to(d2)) for p in d2.rglob("*") if p.is_file())
    assert f1 == f2 and any(f.endswith("model.safetensors") for f in f2)
    assert [p.name for p in d2.iterdir()] == ["seed3"]


def test_nproc_reruns_the_command_under_torchrun(toy_config, monkeypatch):
    import subprocess as sp

    from typer.testing import CliRunner

    from affectkit.cli import app

    tmp, cfg, _ = toy_config
    seen = []
    monkeypatch.setattr(sp, "call", lambda cmd: seen.append(cmd) or 3)
    r = CliRunner().invoke(app, ["train", str(cfg), "--nproc", "2", "--seed", "1", "--seed", "2",
                                 "--set", "trainer.lr=0.1", "--json", "--out", str(tmp / "o")])
    assert r.exit_code == 3  # torchrun's exit code is the command's
    assert seen == [[PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                     "-m", "affectkit.cli", "train", str(cfg), "--out", str(tmp / "o"),
                     "--seed", "1", "--seed", "2", "--set", "trainer.lr=0.1", "--json"]]
    assert not (tmp / "o").exists()


def test_world_size_without_torchrun_is_one_clear_error(toy_config, monkeypatch):
    from affectkit.errors import ConfigError
    from affectkit.training import distributed as D

    tmp, cfg, cache = toy_config
    for k in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match=r"MASTER_ADDR, MASTER_PORT not set; start the "
                                          r"processes with `torchrun --nproc_per_node N"):
        D.context()
    import torch.distributed as dist

    assert not dist.is_initialized()
