"""Face tracks across sampled frames and the active speaker among them.

* :func:`track_faces` links the faces of consecutive sampled frames into tracks: Hungarian
  assignment on a cost that mixes box IoU and centre distance (in face widths); a track
  survives ``max_gap`` frames without a face; tracks shorter than ``min_len`` are dropped.
* :func:`speech_energy` gives the log RMS energy of the audio around each frame time.
* :func:`active_speaker` scores every track by how well its mouth opening (inner-lip gap over
  mouth width, from the 68 landmarks) follows the speech energy: Pearson correlation over the
  frames where the track has a face, best over lags of −1..+1 frames (lip movement leads or
  trails the sound slightly). The speaker is the best track when its correlation is at least
  ``min_corr``; otherwise **no track is the speaker** (the speaker is off screen or not
  facing the camera) and listeners are reported as such, never silently used as the speaker.
  ``confidence`` = P(best track's correlation > the runner-up's, or > 0 with one track), from
  Fisher's z with the overlap length.
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


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    m = np.isfinite(a) & np.isfinite(b)
    n = int(m.sum())
    if n < 4 or np.std(a[m]) < 1e-9 or np.std(b[m]) < 1e-9:
        return 0.0, n
    return float(np.corrcoef(a[m], b[m])[0, 1]), n


def _lagged(mouth: np.ndarray, energy: np.ndarray, max_lag: int) -> tuple[float, int]:
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        if lag > 0:
            r = _corr(mouth[lag:], energy[:-lag])
        elif lag < 0:
            r = _corr(mouth[:lag], energy[-lag:])
        else:
            r = _corr(mouth, energy)
        if r[0] > best[0]:
            best = r
    return best


@dataclass
class SpeakerResult:
    speaker: int | None  # track id, or None when no track follows the speech
    confidence: float  # of the choice (of "no speaker" when speaker is None)
    scores: dict[int, float]  # track id → correlation
    listeners: list[int]


def active_speaker(tracks: list[Track], energy: np.ndarray, *, min_corr: float = 0.15,
                   max_lag: int = 1) -> SpeakerResult:
    """Which track's mouth opening follows the speech energy (see the module docstring)."""
    n = len(energy)
    scored = []
    for tr in tracks:
        r, m = _lagged(tr.mouth(n), energy, max_lag)
        scored.append((r, m, tr.id))
    if not scored:
        return SpeakerResult(None, 1.0, {}, [])
    scored.sort(reverse=True)
    scores = {tid: round(r, 4) for r, _, tid in scored}
    r1, n1, t1 = scored[0]
    r2 = max(scored[1][0], 0.0) if len(scored) > 1 else 0.0
    n_eff = max(n1 - 3, 1)
    z = (math.atanh(min(max(r1, -0.999), 0.999)) - math.atanh(min(r2, 0.999))) * math.sqrt(n_eff)
    p = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    if r1 < min_corr:
        return SpeakerResult(None, round(1 - p if r1 > 0 else 1.0, 4), scores,
                             [t for _, _, t in scored])
    return SpeakerResult(t1, round(p, 4), scores, [t for _, _, t in scored[1:]])
