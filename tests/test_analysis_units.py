"""Fusion math, result rows, writers and the HTML report (no models needed)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from affectkit.analysis.fusion import LateFusion, ModalityOutput, confidence, fit_weights
from affectkit.analysis.inputs import discover, kind_of, read_text_input
from affectkit.analysis.outputs import parse_formats, write_outputs
from affectkit.analysis.report import render_report
from affectkit.analysis.results import FileResult, UtteranceResult
from affectkit.errors import ConfigError, MediaError


def onehotish(k, p=0.9):
    v = np.full(7, (1 - p) / 6)
    v[k] = p
    return v


def test_confidence_bounds():
    assert confidence(np.ones(7) / 7) == pytest.approx(0.0, abs=1e-9)
    assert confidence(onehotish(2, 0.999999)) > 0.99


def test_fusion_any_subset_and_confidence_weighting():
    f = LateFusion()
    assert f({}) is None
    only_text = {"text": ModalityOutput(onehotish(1), 2.0)}
    out = f(only_text)
    assert out.emotion_probs.argmax() == 1 and out.sentiment == pytest.approx(2.0)
    # a confident modality outweighs a flat one
    mixed = {"text": ModalityOutput(onehotish(3, 0.95), -2.0),
             "audio": ModalityOutput(np.ones(7) / 7 + onehotish(1, 0.2) * 0.01, 2.0)}
    out = f(mixed)
    assert out.emotion_probs.argmax() == 3
    assert out.sentiment < -1.5
    assert out.emotion_probs.sum() == pytest.approx(1.0)
    # reliability weights matter
    two = {"text": ModalityOutput(onehotish(3), 1.0), "audio": ModalityOutput(onehotish(1), 1.0)}
    assert LateFusion(emotion_weights={"text": 0.1, "audio": 1.0})(two).emotion_probs.argmax() == 1


def test_fit_weights_prefers_the_informative_modality():
    rng = np.random.default_rng(0)
    outs, ys = [], []
    for _ in range(60):
        y = int(rng.integers(7))
        outs.append({"text": ModalityOutput(onehotish(y, 0.6)),
                     "audio": ModalityOutput(onehotish(int(rng.integers(7)), 0.9))})
        ys.append(y)
    w = fit_weights(outs, ys, kind="emotion")
    assert w["text"] > w["audio"]


def _fr():
    f = LateFusion()
    us = []
    for i in range(3):
        pm = {"text": ModalityOutput(onehotish(i), 1.0 - i)}
        us.append(UtteranceResult("a.txt", i, None, None, "A", f"line <{i}>", ["text"], pm, f(pm)))
    return FileResult("a.txt", "text", None, us)


def test_rows_and_writers(tmp_path):
    ok, bad = _fr(), FileResult("b.mp4", "video", error="cannot decode: truncated")
    w = write_outputs([ok, bad], tmp_path, ["csv", "json", "parquet", "html"])
    import pandas as pd

    df = pd.read_csv(w["csv"])
    assert len(df) == 3 and list(df["emotion"]) == ["neutral", "happy", "sad"]
    probs = df[[c for c in df.columns if c.startswith("fused_p_")]].to_numpy()
    assert np.allclose(probs.sum(1), 1.0, atol=1e-3)
    assert df["audio_p_happy"].isna().all()
    assert pd.read_parquet(w["parquet"]).shape == df.shape
    doc = json.loads(w["json"].read_text())
    assert doc["files"][0]["emotion_distribution"] == {"neutral": 1, "happy": 1, "sad": 1}
    assert doc["files"][1]["error"].startswith("cannot decode")
    assert pd.read_csv(w["failures"])["file"].tolist() == ["b.mp4"]
    html = w["html"].read_text()
    assert "line &lt;0&gt;" in html and "cannot decode" in html and "<script" not in html
    # a clean re-run removes the stale failures table
    w2 = write_outputs([ok], tmp_path, ["csv"])
    assert "failures" not in w2 and not (tmp_path / "failures.csv").exists()


def test_formats_and_inputs(tmp_path):
    assert parse_formats("csv, html") == ["csv", "html"]
    with pytest.raises(ConfigError, match="choose from"):
        parse_formats("csv,xlsx")
    with pytest.raises(MediaError, match="unsupported format .xyz"):
        kind_of(tmp_path / "a.xyz")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("hello\n\nworld\n")
    (tmp_path / "d" / "y.doc").write_text("?")
    (tmp_path / "d" / "c.csv").write_text("speaker,text\nA,hi there\nB,\n")
    found, problems = discover([tmp_path / "d", tmp_path / "missing.mp4"])
    assert sorted(f.kind for f in found) == ["conversation", "text"]
    assert {p.name for p, _ in problems} == {"y.doc", "missing.mp4"}
    assert [t.text for t in read_text_input(tmp_path / "d" / "x.txt")] == ["hello", "world"]
    turns = read_text_input(tmp_path / "d" / "c.csv")
    assert [(t.speaker, t.text) for t in turns] == [("A", "hi there")]
    (tmp_path / "e.csv").write_text("who,what\nA,b\n")
    with pytest.raises(MediaError, match="no 'text' column"):
        read_text_input(tmp_path / "e.csv")
    (tmp_path / "f.txt").write_text("\n  \n")
    with pytest.raises(MediaError, match="empty"):
        read_text_input(tmp_path / "f.txt")


def chromium_screenshot(html_path, png_path, height=900):
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={png_path.parent / 'chrome-profile'}", f"--screenshot={png_path}",
         f"--window-size=1100,{height}", html_path.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return png_path


def test_report_draws_timeline_in_chromium(tmp_path):
    """Render in headless Chromium and check the timeline's emotion colours are on screen."""
    fr = _fr()
    html = tmp_path / "report.html"
    html.write_text(render_report([fr]))
    png = chromium_screenshot(html, tmp_path / "shot.png")
    import cv2

    img = cv2.imread(str(png))[:, :, ::-1]  # RGB
    assert img is not None and img.shape[1] >= 1000

    def has_colour(hex_):
        rgb = np.array([int(hex_[i:i + 2], 16) for i in (1, 3, 5)])
        return (np.abs(img.astype(int) - rgb).sum(-1) < 30).sum()

    # the happy/sad polylines are drawn (beyond the small legend swatches)
    assert has_colour("#f2b701") > 200 and has_colour("#3969ac") > 200
    # the sentiment line (dark) is drawn inside the sentiment panel
    assert "polyline class=\"sentiment\"" in html.read_text()
