"""Fusion temperatures: fitted on held-out-corpus predictions, checked leave one corpus out,
and written into fusion.json by `affect defaults fit-fusion`."""

import json

import numpy as np
import pytest

from affectkit.evaluation.fusion_calibration import Held, ece, fit_temperature, nll, report


def _overconfident(corpus: str, n: int, t_true: float, seed: int) -> Held:
    """Gold drawn from softmax(z); the model reports z * t_true (over-confident for t_true > 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, 5))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    gold = np.array([rng.choice(5, p=row) for row in p])
    return Held(corpus, z * t_true, gold)


def test_fit_recovers_the_temperature_and_improves_calibration():
    hs = [_overconfident(c, 3000, 3.0, s) for s, c in enumerate("abc")]
    t = fit_temperature(hs)
    assert 2.6 < t < 3.4
    for h in hs:
        assert nll(h, t) < nll(h, 1.0)
        assert ece(h, t) < ece(h, 1.0) / 2


def test_report_leave_one_corpus_out_and_calibrated_input_stays_near_one():
    r = report([_overconfident(c, 2000, 1.0, s) for s, c in enumerate("ab")])
    assert 0.8 < r["temperature"] < 1.25
    assert {h["corpus"] for h in r["held_out"]} == {"a", "b"}
    r = report([_overconfident(c, 2000, 2.5, s) for s, c in enumerate("abc")])
    assert r["loco_nll_better"] == 3 and r["loco_ece_better"] == 3
    with pytest.raises(ValueError, match="no held-out"):
        fit_temperature([])


def test_fit_fusion_writes_the_temperatures(tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli.defaults import app

    res = tmp_path / "results"
    res.mkdir()
    (res / "generalise-text.json").write_text(json.dumps({"rows": [
        {"model": "text.minilm", "UA": {"mean": 0.5}, "chance_UA": 0.25}]}))
    (res / "generalise-audio.json").write_text(json.dumps({"rows": [
        {"table": "loco-canonical", "model": "whisper-base + LR", "UA": {"mean": 40.0},
         "gold_shares": {"a": 0.5, "b": 0.5, "c": 0.0}}]}))
    (res / "generalise-vision.json").write_text(json.dumps({"rows": [
        {"model": "zero-shot FaceExpressionNet", "UA": {"mean": 50.0}}]}))
    dest = tmp_path / "defaults"
    dest.mkdir()
    r = CliRunner().invoke(app, ["fit-fusion", "--dest", str(dest), "--results", str(res)])
    assert r.exit_code == 0, r.output
    assert json.loads((dest / "fusion.json").read_text())["temperatures"] == {}
    (res / "fusion-temperatures.json").write_text(json.dumps(
        {"temperatures": {"text": 1.7, "audio": 3.2, "vision": 1.1}}))
    r = CliRunner().invoke(app, ["fit-fusion", "--dest", str(dest), "--results", str(res)])
    assert r.exit_code == 0, r.output
    doc = json.loads((dest / "fusion.json").read_text())
    assert doc["temperatures"] == {"text": 1.7, "audio": 3.2, "vision": 1.1}
    assert "fusion-temperatures.json" in doc["rule"]
    from affectkit.analysis.fusion import LateFusion, ModalityOutput

    fuse = LateFusion(temperatures=doc["temperatures"])
    sharp = ModalityOutput(np.array([0.01, 0.9, 0.02, 0.02, 0.02, 0.02, 0.01]))
    assert fuse.calibrate("audio", sharp).confidence < sharp.confidence
