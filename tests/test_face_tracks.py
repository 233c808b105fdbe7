"""Face tracks and the active speaker: synthetic faces (fast) and a real two-face clip."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.features.vision.detect import Face
from affectkit.features.vision.tracks import active_speaker, speech_energy, track_faces
from conftest import shared_path


def _face(cx: float, cy: float, side: float = 60.0, mouth: float = 0.1) -> Face:
    """A face whose landmarks open the mouth by ``mouth`` × mouth width."""
    lm = np.zeros((68, 2), np.float32)
    lm[:, 0], lm[:, 1] = cx, cy
    lm[36:42] = (cx - 15, cy - 10)
    lm[42:48] = (cx + 15, cy - 10)
    lm[48], lm[54] = (cx - 12, cy + 15), (cx + 12, cy + 15)
    gap = mouth * 24
    for top, bot in ((61, 67), (62, 66), (63, 65)):
        lm[top] = (cx, cy + 15 - gap / 2)
        lm[bot] = (cx, cy + 15 + gap / 2)
    return Face((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), 0.9, lm)


def test_tracks_follow_moving_faces_across_a_short_gap():
    frames = []
    for t in range(12):
        fs = [_face(100 + 3 * t, 150), _face(500 - 2 * t, 160)]
        if t == 5:
            fs = fs[1:]  # the left face is missed once
        if t >= 8:
            fs = fs[:1] if t < 11 else fs  # the right face leaves for 3 frames, comes back
        frames.append(fs)
    tracks = track_faces(frames, max_gap=2)
    left = [tr for tr in tracks if tr.frames[min(tr.frames)].center[0] < 320]
    right = [tr for tr in tracks if tr.frames[min(tr.frames)].center[0] > 320]
    assert len(left) == 1 and len(left[0].frames) == 11  # bridged the one-frame gap
    assert len(right) == 1  # the return after 3 frames is a new track, too short to keep
    assert max(right[0].frames) == 7


def test_active_speaker_picks_the_mouth_that_moves_with_speech_or_nobody():
    from affectkit.features.vision.tracks import speaking_score

    rng = np.random.default_rng(0)
    n = 60
    speech = (np.arange(n) // 6) % 2 == 0  # 0.6 s of speech, 0.6 s of pause, ...
    energy = np.where(speech, -20.0, -55.0) + rng.normal(0, 2, n)
    mouth_a = np.where(speech, rng.uniform(0.0, 0.5, n), 0.05 + rng.normal(0, 0.005, n))
    mouth_b = rng.uniform(0.0, 0.5, n)  # talks all the time, to nobody we hear
    frames = [[_face(100, 150, mouth=mouth_a[t]), _face(500, 150, mouth=mouth_b[t])]
              for t in range(n)]
    tracks = track_faces(frames)
    res = active_speaker(tracks, energy)
    spk = next(tr for tr in tracks if tr.id == res.speaker)
    assert spk.frames[0].center[0] == 100 and res.confidence > 0.9
    assert res.listeners and res.speaker not in res.listeners
    # speech of someone off screen, in pauses of the speaker on screen
    off = np.where(~speech, -20.0, -55.0) + rng.normal(0, 2, n)
    res2 = active_speaker(tracks, off)
    assert res2.speaker is None and set(res2.listeners) == {tr.id for tr in tracks}
    assert active_speaker([], energy).speaker is None
    assert speaking_score(mouth_a, np.full(n, -20.0)) == (0.0, float("inf"))  # no pause


def test_speech_energy_is_louder_where_the_signal_is():
    sr = 16000
    x = np.zeros(sr * 2, np.float32)
    x[sr:] = 0.3 * np.sin(np.arange(sr) * 2 * np.pi * 200 / sr)
    e = speech_energy(x, sr, np.array([0.5, 1.5]))
    assert e[1] - e[0] > 40


@pytest.mark.slow
def test_two_mosi_speakers_side_by_side_give_two_full_tracks_and_a_decision():
    """Tracking and scoring on a real two-face clip; the choice's accuracy is measured by
    ``affect bench active-speaker`` (docs/faces.md), not asserted on one pair here."""
    from affectkit.evaluation.active_speaker import _clip, compose, decide_landmarks, face_tracks
    from affectkit.media import SAMPLE_RATE

    root = shared_path("multimodal/mosi400/video")
    a, b = root / "1DmNV9C1hbY_4.mp4", root / "8qrpnFRGt2A_26.mp4"
    if not (a.exists() and b.exists()):
        pytest.skip("mosi400 clips 1DmNV9C1hbY_4 / 8qrpnFRGt2A_26 absent")
    fa, aa = _clip(a, 10.0, 6.0)
    fb, _ = _clip(b, 10.0, 6.0)
    frames, times = compose(fa, fb, 10.0)
    tracks = face_tracks(frames)
    assert len(tracks) == 2 and all(len(t.frames) >= 0.9 * len(frames) for t in tracks)
    sides = sorted(np.mean([f.center[0] for f in t.frames.values()]) < 320 for t in tracks)
    assert sides == [False, True]  # one track per side
    n = int((times[-1] + 0.1) * SAMPLE_RATE)
    side, res, _ = decide_landmarks(tracks, times, aa[:n], SAMPLE_RATE)
    assert side in ("left", "right", None) and set(res.scores) == {t.id for t in tracks}
    assert all(np.isfinite(v) for v in res.scores.values()) and 0 <= res.confidence <= 1


@pytest.mark.slow
def test_speaker_faces_per_utterance_on_a_written_two_face_video(tmp_path):
    from _media_fixtures import write_video

    from affectkit.evaluation.active_speaker import _clip, compose
    from affectkit.features.vision.speaker import speaker_faces

    root = shared_path("multimodal/mosi400/video")
    a, b = root / "1DmNV9C1hbY_4.mp4", root / "8qrpnFRGt2A_26.mp4"
    if not (a.exists() and b.exists()):
        pytest.skip("mosi400 clips 1DmNV9C1hbY_4 / 8qrpnFRGt2A_26 absent")
    fa, aa = _clip(a, 10.0, 6.0)
    fb, _ = _clip(b, 10.0, 6.0)
    frames, _ = compose(fa, fb, 10.0)
    video = write_video(tmp_path / "two.mp4", frames, fps=10, size=(640, 360))
    res = speaker_faces(video, [(0.0, 6.0), (7.0, 8.0)], aa)
    assert len(res) == 2
    first = res[0]
    assert 0.0 <= first.face_is_speaker <= 1.0
    assert first.speaker_track is None or first.speaker_track not in first.listeners
    assert len(first.expressions) >= 2 and set(first.scores) == set(first.expressions)
    assert all(abs(sum(p) - 1) < 1e-3 for p in first.expressions.values())
    assert res[1].speaker_track is None  # no frame in that span
    assert first.to_json()["speaker_track"] == first.speaker_track
    # the landmark method (ablation) still runs; an unknown method is one clear error
    (lm,) = speaker_faces(video, [(0.0, 6.0)], aa, method="landmarks")
    assert lm.speaker_track is None or lm.speaker_track not in lm.listeners
    from affectkit.errors import ConfigError

    with pytest.raises(ConfigError, match="expected 'sync' or 'landmarks'"):
        speaker_faces(video, [(0.0, 6.0)], aa, method="lips")


@pytest.mark.slow
def test_analyzer_attaches_speaker_faces_when_asked(tmp_path):
    from _media_fixtures import write_video

    from affectkit.analysis import Analyzer
    from affectkit.evaluation.active_speaker import _clip, compose

    root = shared_path("multimodal/mosi400/video")
    a, b = root / "1DmNV9C1hbY_4.mp4", root / "8qrpnFRGt2A_26.mp4"
    if not (a.exists() and b.exists()):
        pytest.skip("mosi400 clips absent")
    frames, _ = compose(_clip(a, 5.0, 3.0)[0], _clip(b, 5.0, 3.0)[0], 5.0)
    video = write_video(tmp_path / "two.mp4", frames, fps=5, size=(640, 360))
    (res,) = Analyzer(modalities=("vision",), speaker_faces=True).analyze([video])
    assert res.error is None and res.utterances
    sf = res.utterances[0].speaker_faces
    assert sf.speaker_track is None  # no audio analysed: nobody is called the speaker
    assert len(sf.listeners) >= 2 and len(sf.expressions) >= 2
    (plain,) = Analyzer(modalities=("vision",)).analyze([video])
    assert plain.utterances[0].speaker_faces is None  # declared field, unset unless asked
