"""Waveform augmentation (issue 11): deterministic draws, the ranges, the extractor option
that keeps clean signatures, and augmented rows used for training only."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.errors import ConfigError
from affectkit.features.audio.augment import DEFAULT, active_rms, augment, speed_perturb


def _tone(seconds: float = 1.0, sr: int = 16_000, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * env * np.sin(2 * np.pi * (180 + 40 * rng.random()) * t)).astype(np.float32)


def test_same_clip_and_copy_give_the_same_signal_and_copies_differ():
    x = _tone()
    a, da = augment(x, 1)
    b, db = augment(x.copy(), 1)
    c, dc = augment(x, 2)
    assert np.array_equal(a, b) and da == db
    assert da != dc
    assert augment(_tone(seed=1), 1)[1] != da  # another clip, other draws


def test_draws_stay_in_the_ranges_and_the_noise_has_the_drawn_snr():
    for k in range(1, 30):
        x = _tone(seed=k)
        y, d = augment(x, k)
        assert DEFAULT.speed[0] <= d["speed"] <= DEFAULT.speed[1]
        assert DEFAULT.snr_db[0] <= d["snr_db"] <= DEFAULT.snr_db[1]
        assert DEFAULT.gain_db[0] <= d["gain_db"] <= DEFAULT.gain_db[1]
        assert len(y) == pytest.approx(len(x) / d["speed"], abs=2)
        # rebuild the clean part with the same speed and gain, and measure the SNR
        clean = speed_perturb(x, d["speed"]) * np.float32(10 ** (d["gain_db"] / 20))
        noise = y - clean
        snr = 20 * np.log10(active_rms(clean) / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
        assert snr == pytest.approx(d["snr_db"], abs=0.5)


def test_speed_perturbation_changes_length_and_pitch():
    sr = 16_000
    t = np.arange(sr) / sr
    x = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    y = speed_perturb(x, 1.1)
    assert len(y) == pytest.approx(sr / 1.1, abs=2)
    f = np.argmax(np.abs(np.fft.rfft(y))) * sr / len(y)
    assert f == pytest.approx(220, abs=3)
    assert np.array_equal(speed_perturb(x, 1.0), x)
    with pytest.raises(ConfigError):
        speed_perturb(x, 0)
    with pytest.raises(ConfigError, match="copy must be"):
        augment(x, 0)


def test_extractor_option_keeps_the_clean_signature():
    import json
    from pathlib import Path

    from affectkit.features import get_extractor

    shipped = json.loads((Path(__file__).resolve().parents[1] / "src/affectkit/weights/default/"
                          "voice_emotion_whisper/model.json").read_text())
    clean = get_extractor("audio.whisper")
    assert clean.signature() == shipped["extractor_signature"]  # cache entries stay valid
    assert get_extractor("audio.whisper", augment=0).signature() == clean.signature()
    s1 = get_extractor("audio.whisper", augment=1).signature()
    s2 = get_extractor("audio.whisper", augment=2).signature()
    assert len({clean.signature(), s1, s2}) == 3
    with pytest.raises(ConfigError, match="augment"):
        get_extractor("audio.whisper", augment=-1)


def _data(n_per=24, k_aug=2, seed=0):
    from affectkit.evaluation.generalise_audio import Data

    rng = np.random.default_rng(seed)
    rows = []
    for c in ("ravdess", "emodb", "emovo"):
        for s in range(5):
            for e in ("neutral", "happy", "sad", "angry"):
                for i in range(n_per // 4):
                    rows.append((c, f"{c}/{s}", e, f"{c}_{s}_{e}_{i}"))
    classes = {"neutral": 0, "happy": 1, "sad": 2, "angry": 3}
    X = np.stack([np.eye(4)[classes[e]] * 3 + rng.normal(0, 1, 4) for *_, e, _ in
                  [(r[0], r[1], r[2], r[3]) for r in rows]]).astype(np.float32)
    aug = tuple((X + rng.normal(0, 0.1, X.shape)).astype(np.float32) for _ in range(k_aug))
    return Data(ids=[r[3] for r in rows], corpus=np.array([r[0] for r in rows]),
                speaker=np.array([r[1] for r in rows]), label=np.array([r[2] for r in rows]),
                canon=np.array([r[2] for r in rows]), X=X, utts=[None] * len(rows), X_aug=aug)


def _spy_fits(monkeypatch) -> list:
    """Record (training rows, total training weight, validation rows) of every head fit."""
    from affectkit.evaluation import generalise_audio as ga

    seen: list = []
    real = ga.make_head

    def spy(kind):
        h = real(kind)
        fit = h.fit

        def fit_spy(X, y, w, Xv=None, yv=None, wv=None, seed=0):
            seen.append((len(X), float(np.sum(w)), 0 if Xv is None else len(Xv)))
            return fit(X, y, w, Xv, yv, wv, seed=seed)

        h.fit = fit_spy
        return h

    monkeypatch.setattr(ga, "make_head", spy)
    return seen


def test_loco_trains_on_augmented_copies_only_with_the_same_total_weight(monkeypatch):
    from affectkit.evaluation import generalise_audio as ga

    seen = _spy_fits(monkeypatch)
    d = _data(k_aug=2)
    rows_aug = ga.loco(d, "4", "whisper-base + LR", 1)
    n_aug = list(seen)
    seen.clear()
    rows_clean = ga.loco(ga._subset(d, d.ids).__class__(**{**d.__dict__, "X_aug": ()}), "4",
                         "whisper-base + LR", 1)
    n_clean = list(seen)
    assert len(n_aug) == len(n_clean) == 3
    for (na, wa, va), (nc, wc, vc) in zip(n_aug, n_clean):
        assert na == 3 * nc  # clean + 2 copies of the training rows
        assert va == vc  # validation stays clean
        assert wa == pytest.approx(wc)  # total weight unchanged
    assert [r["n_test"] for r in rows_aug] == [r["n_test"] for r in rows_clean]  # test clean


def test_augment_with_another_feature_is_one_clear_error():
    from affectkit.evaluation.generalise_audio import run

    with pytest.raises(ConfigError, match="one feature"):
        run(feature="audio.whisper_pad30", augment=1, corpora=("emodb",), progress=False)
    with pytest.raises(ConfigError, match="augment must be"):
        run(augment=-1, corpora=("emodb",), progress=False)


def test_shipped_head_training_adds_augmented_rows(monkeypatch):
    from affectkit.evaluation.voice_build import build, train_head

    d = _data(k_aug=1)
    seen = _spy_fits(monkeypatch)
    h, ua = train_head(d.X, d.canon, d.corpus, d.speaker)
    h2, ua2 = train_head(d.X, d.canon, d.corpus, d.speaker, X_aug=d.X_aug)
    (n1, w1, _), (n2, w2, _) = seen
    assert n2 == 2 * n1 and w2 == pytest.approx(w1)
    assert ua > 0.5 and ua2 > 0.5  # the synthetic classes are separable
    with pytest.raises(ConfigError, match="feature must be"):
        build(feature="audio.functionals", progress=False)

