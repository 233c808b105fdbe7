"""Non-speech flagging (issue 11): music, noise, tones and silence are flagged, the voice
abstains there, speech is not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.analysis.speech_check import MIN_SPEECH_RATIO, check_speech
from conftest import REPO

SR = 16_000
DEMO = REPO / "examples" / "demo"


def _noise(seconds=4.0, seed=0, level=0.1):
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _brown(seconds=4.0, seed=1):
    b = np.cumsum(np.random.default_rng(seed).standard_normal(int(seconds * SR)))
    b -= np.convolve(b, np.ones(400) / 400, "same")
    return (0.2 * b / np.abs(b).max()).astype(np.float32)


def _tone(seconds=4.0, f=440.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _music(seconds=5.0, seed=0):
    """A music-like signal: a random melody of plucked notes with harmonics over a sustained
    C-major chord."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    notes = [261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3]
    m = 0.5 * sum(np.sin(2 * np.pi * f * t) for f in (130.8, 164.8, 196.0)) / 3
    step = SR // 4
    n = np.arange(step) / SR
    for s in range(0, len(t) - step, step):
        f = notes[rng.integers(len(notes))]
        m[s:s + step] += sum(np.sin(2 * np.pi * k * f * n) / k for k in range(1, 6)) * np.exp(-3 * n)
    return (0.2 * m / np.abs(m).max()).astype(np.float32)


def _demo_speech():
    from affectkit import media

    return media.load_audio(DEMO / "voice_note.ogg")


@pytest.mark.parametrize("make,kind", [
    (_noise, "non-speech"), (_brown, "non-speech"), (_tone, "non-speech"),
    (_music, "non-speech"), (lambda: np.zeros(3 * SR, np.float32), "silence"),
    (lambda: _noise(level=1e-5), "silence"),  # −100 dBFS hiss counts as silence
])
def test_non_speech_is_flagged(make, kind):
    c = check_speech(make())
    assert c.kind == kind and c.non_speech
    assert c.speech_ratio < MIN_SPEECH_RATIO


def test_speech_is_not_flagged_at_any_level_and_with_noise():
    x = _demo_speech()
    c = check_speech(x)
    assert c.kind == "speech" and not c.non_speech
    assert c.speech_ratio > 0.5
    # quiet (−20 dB, about −42 dBFS) and loud speech, and speech in white noise at 10 dB SNR, stay speech
    for y in (x * 10 ** (-20 / 20), np.clip(x * 4, -1, 1)):
        assert not check_speech(y).non_speech
    n = _noise(len(x) / SR, seed=3)
    n *= np.sqrt(np.mean(x ** 2) / np.mean(n ** 2)) / 10 ** (10 / 20)
    assert not check_speech(x + n).non_speech
    # quiet speech between pauses (clip RMS below −50 dBFS, as some RAVDESS "normal" clips)
    # is speech: silence is judged on the loudest 20 ms frame, not the clip average
    quiet = np.concatenate([np.zeros(3 * SR, np.float32), x * 10 ** (-32 / 20)])
    from affectkit.analysis.speech_check import level_dbfs

    assert 20 * np.log10(np.sqrt(np.mean(quiet.astype(np.float64) ** 2))) < -50
    assert level_dbfs(quiet) > -60 and not check_speech(quiet).non_speech
    # 8 kHz input is resampled
    assert not check_speech(x[::2], sr=8000).non_speech


@pytest.fixture(scope="module")
def audio_analyzer():
    from affectkit.analysis import Analyzer

    return Analyzer(modalities=("audio",), diarise=False)


def _wav(path, x):
    import soundfile as sf

    sf.write(str(path), x.astype(np.float32), SR)
    return path


def test_analyzer_flags_music_and_noise_and_voice_abstains(audio_analyzer, tmp_path):
    x = np.concatenate([_music(6.0), _noise(6.0, level=0.05)])
    fr = audio_analyzer.analyze_file(_wav(tmp_path / "music_noise.wav", x))
    assert fr.ok, fr.error
    assert fr.utterances and all(u.non_speech for u in fr.utterances)
    for u in fr.utterances:
        assert "audio" not in u.per_modality  # abstained: no voice emotion
        assert u.fused is None and u.emotion is None
        assert u.speech_ratio is not None and u.speech_ratio < MIN_SPEECH_RATIO
        row, js = u.to_row(), u.to_json()
        assert row["non_speech"] is True and js["non_speech"] is True
        assert row["emotion"] is None and row["speech_ratio"] == js["speech_ratio"]
    assert any("non-speech" in w for w in fr.warnings)
    from affectkit.analysis.report import render_report

    html = render_report([fr])
    assert ">non-speech</td>" in html  # the report says why the voice cell is empty


def test_analyzer_speech_not_flagged(audio_analyzer):
    fr = audio_analyzer.analyze_file(DEMO / "voice_note.ogg")
    assert fr.ok, fr.error
    assert fr.utterances
    for u in fr.utterances:
        assert u.non_speech is False and u.speech_ratio >= MIN_SPEECH_RATIO
        assert "audio" in u.per_modality and u.fused is not None
    assert not any("non-speech" in w for w in fr.warnings)


def test_non_speech_voice_is_ignored_by_fusion_in_a_video(tmp_path):
    """A video with a face and a noise soundtrack: the face decides, the voice abstains."""
    import av

    from affectkit.analysis import Analyzer
    from affectkit.analysis.fusion import ModalityOutput

    class Face:
        modality, name = "vision", "fake-face"

        def predict(self, inputs):
            return [ModalityOutput(np.eye(7)[1]) for _ in inputs]  # happy

    class Voice:
        modality, name = "audio", "fake-voice"
        calls = 0

        def predict(self, inputs):
            Voice.calls += len(inputs)
            return [ModalityOutput(np.eye(7)[3]) for _ in inputs]  # angry

    import matplotlib

    img = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(
        f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg").convert("RGB").resize((320, 400)))
    path = tmp_path / "face_noise.mp4"
    noise = _noise(4.0, level=0.05)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 320, 400, "yuv420p"
        aus = out.add_stream("aac", rate=SR, layout="mono")
        for i in range(40):
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for s in range(0, len(noise), 1024):
            fr = av.AudioFrame.from_ndarray(noise[None, s:s + 1024], format="flt", layout="mono")
            fr.sample_rate = SR
            for p in aus.encode(fr):
                out.mux(p)
        for st in (vs, aus):
            for p in st.encode():
                out.mux(p)
    an = Analyzer(modalities=("audio", "vision"), predictors={"vision": Face(), "audio": Voice()},
                  diarise=False)
    fr = an.analyze_file(path)
    assert fr.ok, fr.error
    assert Voice.calls == 0
    assert all(u.non_speech and u.emotion == "happy" for u in fr.utterances)
