"""Per utterance: which visible face is speaking, and each face's expression sequence.

:func:`speaker_faces` finds every face with landmarks (5 fps), links them into tracks
(:func:`~affectkit.features.vision.tracks.track_faces`) and, for every utterance span, scores
each track's mouth crops (a second pass at 25 fps) against the span's audio with the learned
audio-visual sync model (:mod:`~affectkit.features.vision.avsync`; ``method="landmarks"``:
the earlier landmark mouth-movement score at 10 fps, kept for the ablation). Each utterance
gets a :class:`SpeakerFaces`: the speaker track (or ``None`` with "no visible speaker"), ``face_is_speaker`` confidence, the
listener tracks, and per track the FaceExpressionNet probabilities averaged over the span —
listeners' expressions are reported separately, never as the speaker's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class SpeakerFaces:
    start: float
    end: float
    speaker_track: int | None
    face_is_speaker: float  # confidence of the choice (of "no visible speaker" when None)
    listeners: list[int] = field(default_factory=list)
    expressions: dict[int, list[float]] = field(default_factory=dict)  # track → 7 probs
    scores: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "speaker_track": self.speaker_track,
                "face_is_speaker": self.face_is_speaker, "listeners": self.listeners,
                "expressions": {str(k): v for k, v in self.expressions.items()},
                "speaking_scores": {str(k): v for k, v in self.scores.items()}}


def _at_rate(frames, fps: float):
    """(t, image) at exactly ``fps``: a slower video's frames are repeated (the sync model's
    windows are 5 frames at 25 fps)."""
    k = 0
    prev = None
    for fr in frames:
        while prev is not None and k / fps < fr.t - 0.5 / fps:
            yield k / fps, prev.image
            k += 1
        prev = fr
        if k / fps <= fr.t + 0.5 / fps:
            yield k / fps, fr.image
            k += 1
    return


def speaker_faces(path, spans: Sequence[tuple[float, float]], audio: np.ndarray | None,
                  sr: int = 16_000, *, method: str = "sync", fps: float | None = None,
                  detector=None) -> list[SpeakerFaces]:
    """One :class:`SpeakerFaces` per (start, end) span of the video at ``path``.

    ``method="sync"`` (default): faces detected at 5 fps, mouth crops at 25 fps, the learned
    audio-visual sync model (:mod:`~affectkit.features.vision.avsync`) scores each track.
    ``method="landmarks"``: faces with the 68-point net at ``fps`` (10), mouth movement in
    speech vs pauses (the earlier method, kept for the ablation).
    """
    from affectkit.errors import ConfigError
    from affectkit.features.vision.detect import FaceApiDetector, aligned_crop
    from affectkit.features.vision.faceapi import classify
    from affectkit.features.vision.tracks import (
        Track,
        active_speaker,
        decide,
        speech_energy,
        track_faces,
    )
    from affectkit.media import iter_frames

    if method not in ("sync", "landmarks"):
        raise ConfigError(f"speaker method {method!r}; expected 'sync' or 'landmarks'")
    if method == "sync":
        from affectkit.features.vision import avsync
        from affectkit.features.vision.tracks import SYNC_MIN_SCORE

        fps = fps or avsync.FPS / 5
        det = detector or FaceApiDetector(landmarks="tiny")
    else:
        fps = fps or 10.0
        det = detector or FaceApiDetector(landmarks="full")  # the mouth needs the precise net
    times, faces, crops, owners = [], [], [], []
    for fr in iter_frames(path, fps=fps):
        fs = det.detect(fr.image)
        times.append(fr.t)
        faces.append(fs)
        for f in fs:
            crops.append(aligned_crop(fr.image, f))
            owners.append(f)
    times_a = np.asarray(times)
    probs: dict[int, np.ndarray] = {}
    if crops:
        p, _ = classify(np.stack(crops))
        probs = {id(f): pi for f, pi in zip(owners, p)}
    tracks = track_faces(faces, max_gap=1 if method == "sync" else 2)
    sync_crops = None
    if method == "sync" and tracks and audio is not None:
        geo = {tr.id: avsync.track_geometry([(float(times_a[i]), f) for i, f in tr.frames.items()])
               for tr in tracks}
        t25, sync_crops = avsync.stream_mouth_crops(
            _at_rate(iter_frames(path, fps=avsync.FPS), avsync.FPS), geo)
        mel = avsync.log_mel(audio, sr)
        model = avsync.load_model()[0]
    out = []
    for s, e in spans:
        sel = np.nonzero((times_a >= s) & (times_a < e))[0]
        if not len(sel) or not tracks:
            out.append(SpeakerFaces(s, e, None, 1.0))
            continue
        local = []
        for tr in tracks:
            fr = {i - sel[0]: tr.frames[i] for i in sel if i in tr.frames}
            if fr:
                local.append(Track(tr.id, fr))
        exprs = {tr.id: np.mean([probs[id(f)] for f in tr.frames.values()], 0).round(4).tolist()
                 for tr in local}
        if audio is None:
            out.append(SpeakerFaces(s, e, None, 0.0, [tr.id for tr in local], exprs))
            continue
        if method == "sync":
            w = (t25 >= s) & (t25 < e)
            sc = avsync.track_scores({tr.id: (sync_crops[tr.id][0][w], sync_crops[tr.id][1][w])
                                      for tr in local}, t25[w], None, model=model, mel=mel)
            res = decide([(v, se, k) for k, (v, se) in sc.items()], min_score=SYNC_MIN_SCORE)
        else:
            res = active_speaker(local, speech_energy(audio, sr, times_a[sel]))
        out.append(SpeakerFaces(s, e, res.speaker, res.confidence, res.listeners, exprs,
                                res.scores))
    return out
