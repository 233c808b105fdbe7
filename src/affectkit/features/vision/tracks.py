"""Face tracks across sampled frames and the active speaker among them.

* :func:`track_faces` links the faces of consecutive sampled frames into tracks: Hungarian
  assignment on a cost that mixes box IoU and centre distance (in face widths); a track
  survives ``max_gap`` frames without a face; tracks shorter than ``min_len`` are dropped.
* :func:`speech_energy` gives the log RMS energy of the audio around each frame time.
* :func:`sync_speaker` (the default in :mod:`~affectkit.features.vision.speaker`) scores every
  track with the learned audio-visual sync model (:mod:`~affectkit.features.vision.avsync`:
  mouth crops at 25 fps against log-mel, in-sync cosine minus shifted cosine) and decides
  with :func:`decide` like the landmark method, with ``SYNC_MIN_SCORE`` as the threshold.
* :func:`active_speaker` (the landmark method, kept for the ablation) scores every track by how much more its mouth moves while there is
  speech than while there is not (:func:`speaking_score`: frame-to-frame change of the mouth
  opening — inner-lip gap over mouth width from the 68 landmarks —, speech frames = log RMS
  energy within 15 dB of the loudest frame; a standardised mean difference). Correlating the
  opening itself with the energy was tried first and was at chance on two-face mosi400 clips
  (people open the mouth before sounding and in pauses); movement-in-speech was 20/24 on a
  development set of pairs (seed 1) disjoint in seed from the benchmark's (seed 0).
  The speaker is the best track when its score is at least ``min_score``; otherwise **no
  track is the speaker** (the speaker is off screen or not facing the camera) and all tracks
  are listeners, never silently used as the speaker. ``confidence`` = Φ(z) of the best
  track's score over the runner-up's (or over the threshold with one track), z from the
  scores' standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from affectkit.features.vision.detect import Face, iou


@dataclass
class Track:
    id: int
    frames: dict[int, Face] = field(default_factory=dict)  # frame index → face

    @property
    def last(self) -> tuple[int, Face]:
        i = max(self.frames)
        return i, self.frames[i]

    def series(self, n: int, fn) -> np.ndarray:
        out = np.full(n, np.nan)
        for i, f in self.frames.items():
            out[i] = fn(f)
        return out

    def mouth(self, n: int) -> np.ndarray:
        return self.series(n, lambda f: f.mouth_open)


def track_faces(faces_per_frame: list[list[Face]], *, max_gap: int = 2, min_len: int = 2,
                max_cost: float = 0.8) -> list[Track]:
    """Link faces across frames into tracks (longest first)."""
    from scipy.optimize import linear_sum_assignment

    tracks: list[Track] = []
    active: list[Track] = []
    for t, faces in enumerate(faces_per_frame):
        active = [tr for tr in active if t - tr.last[0] <= max_gap + 1]
        if active and faces:
            cost = np.zeros((len(active), len(faces)))
            for i, tr in enumerate(active):
                _, g = tr.last
                for j, f in enumerate(faces):
                    d = math.dist(g.center, f.center) / max(g.width, f.width, 1.0)
                    cost[i, j] = 0.5 * (1 - iou(g.box, f.box)) + 0.5 * min(d, 2.0) / 2.0
            rows, cols = linear_sum_assignment(cost)
            used = set()
            for i, j in zip(rows, cols):
                if cost[i, j] <= max_cost:
                    active[i].frames[t] = faces[j]
                    used.add(j)
            new = [f for j, f in enumerate(faces) if j not in used]
        else:
            new = list(faces)
        for f in new:
            tr = Track(len(tracks), {t: f})
            tracks.append(tr)
            active.append(tr)
    kept = [tr for tr in tracks if len(tr.frames) >= min_len]
    return sorted(kept, key=lambda tr: -len(tr.frames))


def speech_energy(audio: np.ndarray, sr: int, times: np.ndarray, *, window: float = 0.2
                  ) -> np.ndarray:
    """log RMS energy (dB) of ``audio`` in a ``window``-second window centred on each time."""
    x = np.asarray(audio, dtype=np.float64)
    half = int(window * sr / 2)
    out = np.empty(len(times))
    for i, t in enumerate(times):
        c = int(round(t * sr))
        seg = x[max(0, c - half): max(0, c + half)]
        out[i] = 10 * np.log10(np.mean(seg ** 2) + 1e-10) if seg.size else -100.0
    return out


def speaking_score(mouth: np.ndarray, energy: np.ndarray, *, speech_db: float = 15.0
                   ) -> tuple[float, float]:
    """(score, standard error): how much more the mouth moves while there is speech.

    Mouth movement = |frame-to-frame change of the mouth opening|; speech frames = energy
    within ``speech_db`` of the loudest frame. Score = (mean movement in speech frames − mean
    in the other frames) / sd of the movement (a standardised mean difference); its standard
    error is sqrt(1/n_speech + 1/n_other). 0 when either set is empty.
    """
    move = np.abs(np.diff(np.asarray(mouth, dtype=np.float64), prepend=np.nan))
    ok = np.isfinite(move) & np.isfinite(energy)
    if ok.sum() < 4:
        return 0.0, float("inf")
    sp = energy > np.max(energy[ok]) - speech_db
    a, b = move[ok & sp], move[ok & ~sp]
    sd = float(np.std(move[ok]))
    if len(a) < 2 or len(b) < 2 or sd < 1e-9:
        return 0.0, float("inf")
    return float((a.mean() - b.mean()) / sd), float(np.sqrt(1 / len(a) + 1 / len(b)))


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@dataclass
class SpeakerResult:
    speaker: int | None  # track id, or None when no track follows the speech
    confidence: float  # of the choice (of "no speaker" when speaker is None)
    scores: dict[int, float]  # track id → correlation
    listeners: list[int]


def decide(scored: list[tuple[float, float, int]], *, min_score: float = 0.0) -> SpeakerResult:
    """Speaker from (score, standard error, track id) per track (see the module docstring)."""
    if not scored:
        return SpeakerResult(None, 1.0, {}, [])
    scored = sorted(scored, key=lambda x: -x[0])
    scores = {tid: round(sc, 4) for sc, _, tid in scored}
    s1, se1, t1 = scored[0]
    if len(scored) > 1:
        s2, se2, _ = scored[1]
        z = (s1 - s2) / max(math.sqrt(se1 ** 2 + se2 ** 2), 1e-9)
    else:
        z = (s1 - min_score) / max(se1, 1e-9)
    p = round(_phi(z), 4) if math.isfinite(z) else 0.5
    if s1 < min_score or not math.isfinite(se1):
        conf = (round(1 - _phi((s1 - min_score) / se1), 4)
                if math.isfinite(se1) and se1 > 0 else 0.5)
        return SpeakerResult(None, conf, scores, [t for _, _, t in scored])
    return SpeakerResult(t1, p, scores, [t for _, _, t in scored[1:]])


def active_speaker(tracks: list[Track], energy: np.ndarray, *, min_score: float = 0.0,
                   speech_db: float = 15.0) -> SpeakerResult:
    """Which track's mouth moves with the speech: the landmark method (module docstring)."""
    n = len(energy)
    scored = []
    for tr in tracks:
        sc, se = speaking_score(tr.mouth(n), energy, speech_db=speech_db)
        scored.append((sc, se, tr.id))
    return decide(scored, min_score=min_score)


# "no speaker" below this sync score: chosen on development pairs (mosi400 DEV_VIDEOS, 40 pairs,
# seed 1: `affect bench active-speaker --dev --seed 1 --pairs 40 --methods sync`) as the
# smallest threshold with the best accuracy over all 120 trials; never on the benchmark's
SYNC_MIN_SCORE = 0.04


def sync_speaker(tracks: list[Track], det_times: np.ndarray, frames, times: np.ndarray,
                 audio: np.ndarray, sr: int = 16_000, *, min_score: float | None = None,
                 model=None, mel: np.ndarray | None = None) -> SpeakerResult:
    """Which track's mouth is in sync with the audio: the learned sync model
    (:mod:`affectkit.features.vision.avsync`).

    ``tracks`` index their faces by detection frame (times ``det_times``); ``frames`` (with
    ``times``, e.g. 25 fps) are the frames the mouth crops are cut from — detections may be
    sparser (every 5th frame); the mouth position is interpolated in between.
    """
    from affectkit.features.vision import avsync

    geo = {tr.id: avsync.track_geometry([(float(det_times[i]), f) for i, f in tr.frames.items()])
           for tr in tracks}
    crops = avsync.track_mouth_crops(frames, np.asarray(times), geo)
    sc = avsync.track_scores(crops, times, audio, sr, model=model, mel=mel)
    return decide([(s, se, k) for k, (s, se) in sc.items()],
                  min_score=SYNC_MIN_SCORE if min_score is None else min_score)
