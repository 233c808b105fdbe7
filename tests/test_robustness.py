"""Robustness protocols: helpers against hand-checkable cases, and every protocol end to end on a
run trained through the ordinary pipeline (a small synthetic MMSA-layout feature file)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from affectkit.evaluation import robustness as R
from affectkit.types import Modality

T, A, V = Modality.TEXT, Modality.AUDIO, Modality.VISION


def test_area_is_mean_height():
    assert R.area([0, 0.5, 1], [1, 1, 1]) == pytest.approx(1.0)
    assert R.area([0, 1], [1, 0]) == pytest.approx(0.5)
    assert R.area([0, 0.5, 1], [0.8, 0.6, 0.2]) == pytest.approx((0.7 * 0.5 + 0.4 * 0.5))


def test_noise_snr_and_word_errors():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 400, 48000)).astype(np.float32)
    y = R.add_noise(x, 10.0, rng)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.3)
    text = " ".join(f"w{i}" for i in range(2000))
    vocab = ["alpha", "beta", "gamma"]
    assert R.asr_errors(text, 0.0, vocab, rng) == text
    hyp = R.asr_errors(text, 0.3, vocab, rng)
    assert R.word_error_rate(text, hyp) == pytest.approx(0.3, abs=0.04)
    assert R.word_error_rate("a b c", "a x c") == pytest.approx(1 / 3)


def test_feature_domain_corruptions():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 4)).astype(np.float32)
    n = R.corrupt_feature_array(a, A, "noise", 5.0, rng)
    assert n.shape == a.shape and not np.allclose(n, a)
    b = R.corrupt_feature_array(a, V, "blur", 2.0, rng)
    assert b.shape == a.shape and b.std(0).mean() < a.std(0).mean()  # temporal smoothing
    d = R.corrupt_feature_array(a, V, "downscale", 4.0, rng)
    assert np.allclose(d[:4], a[0]) and d.shape == a.shape
    t = R.corrupt_feature_array(a, T, "asr", 0.5, rng)
    assert t.ndim == 2 and t.shape[1] == 4


def _mmsa(rng, n, video):
    L = 6
    bert = np.zeros((n, 3, L), np.int64)
    for i in range(n):
        bert[i, 1, :int(rng.integers(2, L + 1))] = 1
    text = rng.normal(size=(n, L, 8)).astype(np.float32)
    y = np.clip(text[:, 0, 0] * 1.5, -3, 3).astype(np.float32)
    return {"raw_text": [f"s {i}" for i in range(n)], "id": [f"{video}{i % 3}$_${i}" for i in range(n)],
            "text": text, "text_bert": bert, "audio": rng.normal(size=(n, 7, 3)).astype(np.float32),
            "vision": rng.normal(size=(n, 5, 4)).astype(np.float32), "regression_labels": y,
            "audio_lengths": list(rng.integers(1, 8, n)), "vision_lengths": list(rng.integers(1, 6, n))}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One fusion run trained by the ordinary pipeline on imported features."""
    import torch

    from affectkit.config import ExperimentConfig, from_dict
    from affectkit.features.imported import import_feature_file
    from affectkit.experiment import run_experiment

    tmp = tmp_path_factory.mktemp("rob")
    rng = np.random.default_rng(0)
    p = tmp / "unaligned_50.pkl"
    p.write_bytes(pickle.dumps({"train": _mmsa(rng, 24, "tr"), "valid": _mmsa(rng, 10, "va"),
                                "test": _mmsa(rng, 12, "te")}))
    cache = tmp / "cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("AFFECTKIT_CACHE", str(cache))
    rep = import_feature_file(p, "mmsa", name="mmsa-rob", allow_pickle=True, store_root=cache)
    cfg = from_dict(ExperimentConfig, {
        "name": "rob", "data": {"corpus": "mmsa-rob", "root": str(rep.folder), "split": "official",
                                "label": "sentiment"},
        "features": {"text": "text.mmsa-rob", "audio": "audio.mmsa-rob", "vision": "vision.mmsa-rob"},
        "model": {"name": "fusion.late", "args": {"hidden": 8}},
        "task": {"kind": "sentiment"},
        "trainer": {"epochs": 3, "batch_size": 8, "progress": False, "threads": 1},
    }).validate()
    torch.manual_seed(0)
    run_experiment(cfg, run_root=tmp / "runs", progress=False)
    run_dir = next((tmp / "runs").glob("seed0/*"))
    yield run_dir, cache
    mp.undo()


def test_protocols_end_to_end(trained_run, tmp_path):
    run_dir, cache = trained_run
    run = R.load_run(run_dir)
    base = run.evaluate(run.data())
    fd = R.run_protocol(run, "frame-drop", seed=3)
    curves = {r["curve"] for r in fd["rows"]}
    assert curves == {"text", "audio", "vision", "TAV"}
    assert len([r for r in fd["rows"] if r["curve"] == "audio"]) == 11
    r0 = next(r for r in fd["rows"] if r["curve"] == "TAV" and r["rate"] == 0.0)
    assert r0["mae"] == pytest.approx(base["mae"])  # rate 0 changes nothing
    again = R.run_protocol(run, "frame-drop", seed=3)
    assert [r["mae"] for r in again["rows"]] == [r["mae"] for r in fd["rows"]]  # fixed seeds
    assert all(set(r["mask_seeds"]) for r in fd["rows"])
    sub = R.run_protocol(run, "modality-subsets")
    assert len(sub["rows"]) == 7 and sum(r["complete"] for r in sub["rows"]) == 1
    assert next(r for r in sub["rows"] if r["complete"])["mae"] == pytest.approx(base["mae"])
    assert "mean_incomplete" in sub["areas"]
    # rate 1.0 on every modality = no modality at all = the model's "nothing observed" output
    r1 = next(r for r in fd["rows"] if r["curve"] == "TAV" and r["rate"] == 1.0)
    assert np.isfinite(r1["mae"])
    cor = R.run_protocol(run, "corruption", seed=0, store_root=cache)
    doms = {r.get("domain") for r in cor["rows"] if r["level"] is not None}
    assert doms == {"feature"}  # imported features have no raw signal: feature-domain fallback
    assert {r["curve"] for r in cor["rows"]} >= {"clean", "audio:noise", "vision:blur", "text:asr"}
    paths = R.write(fd, tmp_path / "fd", "non0_f1")
    assert paths["png"].stat().st_size > 1000 and paths["masks"].exists()
    saved = json.loads(paths["json"].read_text())
    assert saved["areas"]["audio"]["mae"] > 0
    s = R.summarise([json.loads(paths["json"].read_text())] * 2)
    assert s["n_runs"] == 2 and s["areas"]["audio"]["mae"]["sd"] == 0.0


def test_cli_robustness_and_import_guard(trained_run, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from affectkit.cli import app

    run_dir, cache = trained_run
    monkeypatch.setenv("AFFECTKIT_CACHE", str(cache))
    res = CliRunner().invoke(app, ["robustness", str(run_dir), "--protocol", "modality-subsets",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "curves.png").exists() and (tmp_path / "o" / "results.md").exists()
    bad = CliRunner().invoke(app, ["robustness", str(run_dir), "--protocol", "nope"])
    assert bad.exit_code != 0
    p = tmp_path / "f.pkl"
    p.write_bytes(pickle.dumps({"train": {}}))
    res = CliRunner().invoke(app, ["data", "import-features", str(p), "--format", "mmsa"])
    assert res.exit_code != 0 and "pickle" in str(res.exception or res.output)
