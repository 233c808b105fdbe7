"""End-to-end `affect analyze` on the bundled demo media, generated variants and mosi400 clips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from affectkit.cli import app
from conftest import REPO, shared_path

DEMO = REPO / "examples" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def analyzer():
    from affectkit.analysis import Analyzer

    return Analyzer()


def strip_audio(src, dst):
    """Copy the video stream only (a video without an audio track)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for pkt in inp.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)


def write_wav(path, x, sr=16000):
    import soundfile as sf

    sf.write(str(path), x.astype(np.float32), sr)


def check_structure(fr, duration=None):
    assert fr.ok, fr.error
    assert fr.utterances
    for u in fr.utterances:
        assert u.fused is not None
        assert u.fused.emotion_probs.sum() == pytest.approx(1.0, abs=1e-6)
        for o in u.per_modality.values():
            assert o.emotion_probs.sum() == pytest.approx(1.0, abs=1e-6)
            assert -3.0 <= o.sentiment <= 3.0
        assert set(u.per_modality) <= set(u.modalities_present)
        if duration is not None:
            assert 0.0 <= u.start < u.end <= duration + 0.05


def test_demo_video_all_modalities(analyzer):
    fr = analyzer.analyze_file(DEMO / "interview.mp4")
    check_structure(fr, fr.duration)
    assert 14.0 < fr.duration < 16.5
    assert len(fr.utterances) >= 2
    present = {m for u in fr.utterances for m in u.modalities_present}
    assert present == {"text", "audio", "vision"}
    words = " ".join(u.text or "" for u in fr.utterances).lower()
    assert "happy" in words and "window" in words  # ASR heard the synthetic speech
    assert all(u.speaker is None for u in fr.utterances)


def test_video_without_audio_track(analyzer, tmp_path):
    v = tmp_path / "silent_video.mp4"
    strip_audio(DEMO / "interview.mp4", v)
    fr = analyzer.analyze_file(v)
    check_structure(fr)
    assert any("no audio track" in w for w in fr.warnings)
    assert all(u.modalities_present == ["vision"] for u in fr.utterances)


def test_audio_only(analyzer):
    fr = analyzer.analyze_file(DEMO / "voice_note.ogg")
    check_structure(fr, fr.duration)
    assert all("vision" not in u.modalities_present for u in fr.utterances)
    assert any(u.modalities_present == ["text", "audio"] for u in fr.utterances)


def test_text_only_conversation(analyzer):
    fr = analyzer.analyze_file(DEMO / "chat.csv")
    check_structure(fr)
    assert [u.speaker for u in fr.utterances] == ["Ana", "Ben", "Ana", "Ben", "Ana"]
    assert all(u.modalities_present == ["text"] for u in fr.utterances)
    s = fr.summary()
    assert set(s["by_speaker"]) == {"Ana", "Ben"}


def test_modalities_option_limits_what_is_used(tmp_path):
    from affectkit.analysis import Analyzer

    fr = Analyzer(modalities=["vision"]).analyze_file(DEMO / "interview.mp4")
    check_structure(fr)
    assert all(set(u.per_modality) == {"vision"} for u in fr.utterances)
    assert all("text" not in u.modalities_present for u in fr.utterances)  # not transcribed


def test_image_face_and_no_face(analyzer, tmp_path):
    import cv2
    import matplotlib

    face = analyzer.analyze_file(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg")
    check_structure(face)
    assert face.utterances[0].modalities_present == ["vision"]
    noise = tmp_path / "noise.png"
    cv2.imwrite(str(noise), np.random.default_rng(0).integers(0, 255, (240, 320), dtype=np.uint8))
    fr = analyzer.analyze_file(noise)
    assert not fr.ok and "no face" in fr.error


def test_bad_inputs_fail_per_file(analyzer, tmp_path):
    data = (DEMO / "interview.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "silence.wav", np.zeros(16000 * 3))
    (tmp_path / "notes.xyz").write_text("?")
    results = analyzer.analyze([tmp_path])
    by = {r.file.split("/")[-1]: r for r in results}
    assert set(by) == {"truncated.mp4", "empty.wav", "silence.wav", "notes.xyz"}
    assert all(not r.ok for r in results)
    assert "unsupported format" in by["notes.xyz"].error
    assert "empty" in by["empty.wav"].error.lower()
    assert "nothing to analyse" in by["silence.wav"].error


def test_max_duration(tmp_path):
    from affectkit.analysis import Analyzer

    fr = Analyzer(modalities=["text", "audio"], max_duration=5).analyze_file(DEMO / "voice_note.ogg")
    assert not fr.ok and "--max-duration" in fr.error


def test_cli_batch_continues_and_exit_code(tmp_path):
    bad = tmp_path / "in" / "broken.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    (tmp_path / "in" / "chat.csv").write_text((DEMO / "chat.csv").read_text())
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(tmp_path / "in"), "-o", str(out), "-q",
                            "--format", "csv,json,parquet,html"])
    assert r.exit_code == 1, r.output
    df = pd.read_csv(out / "utterances.csv")
    assert len(df) == 5 and (df["file"].str.endswith("chat.csv")).all()
    fails = pd.read_csv(out / "failures.csv")
    assert fails["file"].str.endswith("broken.mp4").tolist() == [True]
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["files"]) == 2
    assert (out / "utterances.parquet").exists() and (out / "report.html").exists()
    r = runner.invoke(app, ["analyze", str(DEMO / "chat.csv"), "-o", str(tmp_path / "o2"), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["analyze", str(DEMO / "chat.csv"), "--modalities", "smell"])
    assert r.exit_code != 0


def test_report_of_real_analysis_renders(analyzer, tmp_path):
    from affectkit.analysis.outputs import write_outputs
    from test_analysis_units import chromium_screenshot

    fr = analyzer.analyze_file(DEMO / "interview.mp4")
    w = write_outputs([fr], tmp_path, ["html"])
    html = w["html"].read_text()
    assert 'class="timeline"' in html and html.count('class="emo"') == 7
    png = chromium_screenshot(w["html"], tmp_path / "shot.png", height=1400)
    import cv2

    img = cv2.imread(str(png))
    assert img is not None and (img < 250).any()


def test_mosi400_clips(analyzer):
    root = shared_path("multimodal/mosi400")
    clips = sorted((root / "video").glob("*.mp4"))[:2]
    for clip in clips:
        fr = analyzer.analyze_file(clip)
        check_structure(fr, fr.duration)
        assert {"text", "audio"} <= {m for u in fr.utterances for m in u.modalities_present}
