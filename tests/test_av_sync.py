"""Learned audio-visual sync (affectkit.features.vision.avsync) and the sync active speaker.

Fast tests use a generated talking-mouth fixture (a drawn mouth whose opening follows a
syllable envelope that also drives a voiced audio signal) and the shipped weights; the
real-data test scores one development-video clip of mosi400 (skipped without shared data).
"""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.features.vision import avsync
from affectkit.features.vision.detect import Face
from affectkit.features.vision.tracks import Track, decide, sync_speaker

SR = 16_000


def _envelope(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Syllable envelope at 100 Hz (0..1) and its 16 kHz audio: harmonics of a gliding f0."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 100)
    env = np.zeros(n)
    t = int(rng.integers(5, 20))
    while t < n:
        d = int(rng.integers(8, 25))  # 80-250 ms syllables
        env[t:t + d] = np.sin(np.linspace(0, np.pi, min(d, n - t)))
        t += d + int(rng.integers(3, 30))
    ts = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * ts)
    ph = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * ph) / k for k in range(1, 12))
    e16 = np.interp(ts, np.arange(n) / 100, env)
    audio = 0.3 * e16 * voice + 0.003 * rng.standard_normal(ts.size)
    return env, audio.astype(np.float32)


def _mouth_frame(img: np.ndarray, cx: float, cy: float, w: float, opening: float) -> None:
    import cv2

    cv2.ellipse(img, (int(cx), int(cy)), (int(w / 2), int(2 + opening * w * 0.15)), 0, 0, 360,
                (60, 30, 30), -1)
    cv2.ellipse(img, (int(cx), int(cy)), (int(w / 2), int(2 + opening * w * 0.15)), 0, 0, 360,
                (150, 70, 70), 3)


def _face(cx: float, cy: float, fw: float) -> Face:
    """A face box with 68 landmarks: eyes level, mouth points around (cx, cy + 0.25 fw)."""
    lm = np.zeros((68, 2), np.float32)
    lm[:, 0], lm[:, 1] = cx, cy
    lm[36:42] = (cx - 0.2 * fw, cy - 0.15 * fw)
    lm[42:48] = (cx + 0.2 * fw, cy - 0.15 * fw)
    ang = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    lm[48:68, 0] = cx + 0.2 * fw * np.cos(ang)
    lm[48:68, 1] = cy + 0.25 * fw + 0.05 * fw * np.sin(ang)
    return Face((cx - fw / 2, cy - fw / 2, cx + fw / 2, cy + fw / 2), 0.9, lm)


def _two_face_video(seconds: float = 6.0, seed: int = 0):
    """25-fps frames with two drawn faces; the left mouth follows env A, the right env B."""
    import cv2

    env_a, audio_a = _envelope(seconds, seed)
    env_b, audio_b = _envelope(seconds, seed + 100)
    n = int(seconds * avsync.FPS)
    times = np.arange(n) / avsync.FPS
    frames = []
    fw = 120.0
    centres = ((160.0, 170.0), (480.0, 170.0))
    for t in times:
        img = np.full((360, 640, 3), 40, np.uint8)
        for (cx, cy), env in zip(centres, (env_a, env_b)):
            cv2.circle(img, (int(cx), int(cy)), int(fw / 2), (200, 160, 140), -1)
            k = min(int(round(t * 100)), len(env) - 1)
            _mouth_frame(img, cx, cy + 0.25 * fw, 0.4 * fw, env[k])
        frames.append(img)
    det_idx = np.arange(0, n, 5)
    tracks = [Track(i, {j: _face(cx, cy, fw) for j in range(len(det_idx))})
              for i, (cx, cy) in enumerate(centres)]
    return frames, times, tracks, times[det_idx], audio_a, audio_b


def test_shipped_weights_load_offline_and_exclude_the_benchmark_videos():
    from affectkit.evaluation.active_speaker import BENCH_VIDEOS, check_disjoint

    model, meta = avsync.load_model()
    n = sum(p.numel() for p in model.parameters())
    assert 50_000 < n < 500_000 and meta["params"] == n
    assert (avsync.WEIGHTS_DIR / "avsync.safetensors").stat().st_size < 2_000_000
    assert not set(meta["train_videos"]) & set(BENCH_VIDEOS)
    check_disjoint(BENCH_VIDEOS)
    with pytest.raises(AssertionError):
        check_disjoint((meta["train_videos"][0],))


def test_sync_score_is_high_only_for_aligned_embeddings():
    rng = np.random.default_rng(0)
    n = 120
    a = rng.standard_normal((n, 16))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    ok = np.ones(n, bool)
    s_sync, se = avsync.sync_score(a + 0.3 * rng.standard_normal((n, 16)), ok, a, ok)
    s_off, _ = avsync.sync_score(np.roll(a, 40, axis=0), ok, a, ok)
    assert s_sync > 0.5 and 0 < se < 0.5 and abs(s_off) < 0.2
    assert avsync.sync_score(a[:2], ok[:2], a[:2], ok[:2]) == (0.0, float("inf"))
    res = decide([(s_sync, se, 1), (s_off, se, 2)], min_score=0.1)
    assert res.speaker == 1 and res.listeners == [2] and res.confidence > 0.5
    assert decide([(0.01, se, 1), (s_off, se, 2)], min_score=0.1).speaker is None


def test_mouth_crops_follow_interpolated_tracks_and_every_track_gets_a_sync_score():
    """Plumbing on the drawn fixture: crops only inside each track's detection span, one finite
    score per track, the decision consistent with the scores. (The model's preference is
    asserted on real held-out clips below: on drawn mouths it does not transfer.)"""
    frames, times, tracks, det_t, audio_a, _ = _two_face_video()
    tracks[1].frames = {j: f for j, f in tracks[1].frames.items() if 4 <= j <= 20}
    geo = {tr.id: avsync.track_geometry([(float(det_t[i]), f) for i, f in tr.frames.items()])
           for tr in tracks}
    crops = avsync.track_mouth_crops(frames, times, geo)
    assert crops[0][0].shape == (len(times), avsync.CACHE_CROP, avsync.CACHE_CROP)
    assert crops[0][1][:-5].all() and not crops[0][1][-4:].any()  # after the last detection
    v1 = crops[1][1]
    assert not v1[:20].any() and v1[20:101].all() and not v1[101:].any()
    # the left crop is the drawn mouth: dark pixels in its centre, skin at the corners
    c = crops[0][0][0].astype(float)
    assert c[18:22, 18:22].mean() < c[:5, :5].mean() - 30
    res = sync_speaker(tracks, det_t, frames, times, audio_a, SR)
    assert set(res.scores) == {0, 1} and all(np.isfinite(v) for v in res.scores.values())
    if res.speaker is not None:
        assert res.scores[res.speaker] == max(res.scores.values())
        assert res.listeners == [k for k in res.scores if k != res.speaker]


def _dev_clip(name: str):
    from conftest import shared_path

    from affectkit.evaluation.active_speaker import DEV_VIDEOS, _video_id

    p = shared_path("multimodal/mosi400/video") / name
    if not p.exists():
        pytest.skip(f"mosi400 clip {name} absent (shared data)")
    assert _video_id(p) in DEV_VIDEOS  # never a training or benchmark video
    return p


@pytest.mark.slow
def test_sync_model_prefers_the_in_sync_audio_on_held_out_real_clips():
    """A development-video clip's face: its own audio scores higher than the same audio
    shifted by 1 s and than another development video's audio."""
    import torch

    from affectkit.evaluation.active_speaker import prepare_clip
    from affectkit.media import load_audio

    torch.set_num_threads(1)
    d = prepare_clip(_dev_clip("2iD-tVS8NPw_7.mp4"), max_seconds=6.0)
    other = load_audio(_dev_clip("6Egk_28TtTM_2.mp4"), end=6.0)
    crops = {0: (d["crops"], d["valid"])}
    t = d["times"]
    own = avsync.track_scores(crops, t, None, mel=d["mel"].astype(np.float32))[0][0]
    mel_shift = np.roll(d["mel"].astype(np.float32), avsync.MEL_HZ, axis=0)
    shifted = avsync.track_scores(crops, t, None, mel=mel_shift)[0][0]
    foreign = avsync.track_scores(crops, t, other)[0][0]
    assert own > shifted + 0.03 and own > foreign + 0.03


@pytest.mark.slow
def test_sync_speaker_picks_the_speaking_face_of_a_real_two_face_clip():
    """Two development-video speakers side by side at 25 fps, audio of one, then the other."""
    import torch

    from affectkit.evaluation.active_speaker import _clip, _side, compose, sync_tracks
    from affectkit.media import SAMPLE_RATE

    torch.set_num_threads(1)
    fa, aa = _clip(_dev_clip("2iD-tVS8NPw_7.mp4"), avsync.FPS, 6.0)
    fb, ab = _clip(_dev_clip("6Egk_28TtTM_2.mp4"), avsync.FPS, 6.0)
    frames, times = compose(fa, fb, avsync.FPS)
    tracks, idx = sync_tracks(frames)
    assert len(tracks) == 2
    n = int((times[-1] + 0.04) * SAMPLE_RATE)
    for audio, side in ((aa, "left"), (ab, "right")):
        res = sync_speaker(tracks, times[idx], frames, times, audio[:n], SAMPLE_RATE)
        assert _side(tracks, res.speaker) == side


def test_training_runs_on_cached_clips_and_keeps_the_best_dev_step(tmp_path):
    """train_sync on tiny caches written like prepare() writes them (drawn mouths)."""
    import torch

    from affectkit.evaluation.active_speaker import train_sync

    torch.set_num_threads(1)
    files = []
    for seed in range(3):
        frames, times, tracks, det_t, audio_a, audio_b = _two_face_video(4.0, seed)
        for k, audio in ((0, audio_a), (1, audio_b)):
            geo = {k: avsync.track_geometry([(float(det_t[i]), f)
                                             for i, f in tracks[k].frames.items()])}
            c, v = avsync.track_mouth_crops(frames, times, geo)[k]
            f = tmp_path / f"clip{seed}_{k}.npz"
            np.savez(f, crops=c, valid=v, times=times.astype(np.float32),
                     mel=avsync.log_mel(audio).astype(np.float16))
            files.append(f)
    r = train_sync(files[:4], files[4:], steps=4, batch=8, eval_every=2, progress=False,
                   strong_aug=True)
    assert [x["step"] for x in r["log"]] == [2, 4] and r["best_step"] in (2, 4)
    assert r["dev_sync_top1"] == max(x["dev_sync_top1"] for x in r["log"])
    assert r["params"] == sum(p.numel() for p in avsync.build_model().parameters())
    assert r["train_windows"] > 100
