"""Media decoding: audio to 16 kHz mono, frames at N fps, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from _media_fixtures import SR, corrupt, tone, truncate, write_video, write_wav
from affectkit.errors import MediaError
from affectkit.media import iter_audio, iter_frames, load_audio, load_image, probe


def test_wav_round_trip_and_segments(tmp_path):
    x = tone(2.0)
    p = write_wav(tmp_path / "a.wav", x)
    y = load_audio(p)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() < 1e-3
    seg = load_audio(p, start=0.5, end=1.25)
    assert len(seg) == int(0.75 * SR)
    assert np.abs(seg - x[8000:20000]).max() < 1e-3


def test_resampling_and_stereo_mixdown(tmp_path):
    t = np.arange(44100) / 44100
    left = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    p = write_wav(tmp_path / "s.wav", np.stack([left, left], axis=1), sr=44100)
    y = load_audio(p)
    assert abs(len(y) - SR) <= 2
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * SR / len(y) - 300) < 3


def test_audio_streams_in_bounded_chunks(tmp_path):
    p = write_wav(tmp_path / "long.wav", tone(5.0))
    chunks = list(iter_audio(p, chunk_seconds=1.0))
    assert [len(c) for c in chunks] == [SR] * 5
    assert np.allclose(np.concatenate(chunks), load_audio(p))


def test_video_audio_frames_and_probe(tmp_path):
    p = write_video(tmp_path / "v.mp4", seconds=2.0, fps=25)
    info = probe(p)
    assert info.has_audio and info.has_video and abs(info.duration - 2.0) < 0.15
    assert (info.width, info.height) == (160, 120)
    frames = list(iter_frames(p, fps=5))
    assert len(frames) == 10
    assert np.allclose([f.t for f in frames], np.arange(10) * 0.2, atol=0.02)
    assert frames[0].image.shape == (120, 160, 3)
    seg = list(iter_frames(p, fps=10, start=0.5, end=1.0, gray=True))
    assert len(seg) == 5 and seg[0].image.ndim == 2 and 0.49 < seg[0].t < 0.55
    y = load_audio(p, start=0.5, end=1.5)
    assert abs(len(y) - SR) <= 1


def test_image_is_one_frame(tmp_path):
    import cv2

    img = np.zeros((30, 40, 3), np.uint8)
    img[:, :, 2] = 255  # red in RGB → written as BGR by cv2
    cv2.imwrite(str(tmp_path / "i.png"), img[:, :, ::-1])
    frames = list(iter_frames(tmp_path / "i.png"))
    assert len(frames) == 1 and frames[0].image.shape == (30, 40, 3)
    assert load_image(tmp_path / "i.png")[0, 0].tolist() == [0, 0, 255]


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated_wav", "missing"])
def test_bad_audio_files_raise_media_error_naming_the_file(tmp_path, kind):
    good = write_wav(tmp_path / "good.wav", tone(2.0))
    p = tmp_path / f"{kind}.wav"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "garbage":
        corrupt(p)
    elif kind == "truncated_wav":
        truncate(good, p)
    with pytest.raises(MediaError) as e:
        load_audio(p)
    assert str(p) in str(e.value)
    if kind == "truncated_wav":
        assert "truncated" in str(e.value)


def test_truncated_video_and_video_without_audio(tmp_path):
    good = write_video(tmp_path / "v.mp4", seconds=2.0)
    bad = truncate(good, tmp_path / "cut.mp4")
    with pytest.raises(MediaError, match="cut.mp4"):
        list(iter_frames(bad))
    mute = write_video(tmp_path / "mute.mp4", seconds=1.0, audio=False)
    with pytest.raises(MediaError, match="no audio track"):
        load_audio(mute)


def test_segment_outside_media_is_an_error(tmp_path):
    p = write_wav(tmp_path / "a.wav", tone(1.0))
    with pytest.raises(MediaError, match="beyond the media duration"):
        load_audio(p, start=0.2, end=5.0)
    with pytest.raises(MediaError, match="not after its start"):
        load_audio(p, start=0.8, end=0.5)
