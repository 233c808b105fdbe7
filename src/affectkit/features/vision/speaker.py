"""Per utterance: which visible face is speaking, and each face's expression sequence.

:func:`speaker_faces` samples a video at ``fps`` (10 by default: mouth movement needs more
than the 2 fps the analyzer samples for expressions), finds every face with landmarks,
links them into tracks (:func:`~affectkit.features.vision.tracks.track_faces`) and, for every
utterance span, asks :func:`~affectkit.features.vision.tracks.active_speaker` which track's
mouth follows that span's speech energy. Each utterance gets a :class:`SpeakerFaces`:
the speaker track (or ``None`` with "no visible speaker"), ``face_is_speaker`` confidence, the
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
                "mouth_energy_corr": {str(k): v for k, v in self.scores.items()}}


def speaker_faces(path, spans: Sequence[tuple[float, float]], audio: np.ndarray | None,
                  sr: int = 16_000, *, fps: float = 10.0, detector=None) -> list[SpeakerFaces]:
    """One :class:`SpeakerFaces` per (start, end) span of the video at ``path``."""
    from affectkit.features.vision.detect import FaceApiDetector, aligned_crop
    from affectkit.features.vision.faceapi import classify
    from affectkit.features.vision.tracks import (
        Track,
        active_speaker,
        speech_energy,
        track_faces,
    )
    from affectkit.media import iter_frames

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
    tracks = track_faces(faces)
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
        res = active_speaker(local, speech_energy(audio, sr, times_a[sel]))
        out.append(SpeakerFaces(s, e, res.speaker, res.confidence, res.listeners, exprs,
                                res.scores))
    return out
