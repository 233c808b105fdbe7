"""Learned audio-visual synchrony (a tiny SyncNet) for the active speaker.

Two small conv towers embed (a) a window of ``WINDOW`` grey mouth crops sampled at ``FPS``
(25 fps; crops of :data:`CROP` px, random-cropped from :data:`CACHE_CROP`-px crops around the
mouth while training) and (b) the 40-band log-mel spectrogram (100 Hz) of the same 0.2 s; the
cosine of the two embeddings is high when the mouth moves with the sound. Trained with a
contrastive loss whose negatives are the same face with its audio shifted by ≥ 0.5 s and
other clips' audio (``python -m affectkit.evaluation.active_speaker train``; data = mosi400
training videos only, see :mod:`affectkit.evaluation.active_speaker`).

:func:`sync_score` turns the per-window cosines of a face track into one score per
utterance: the mean cosine at offset 0 minus the mean cosine at offsets ≥ :data:`MIN_SHIFT`
frames (a face that talks, but not with this audio, scores ~0), with a standard error over
windows, so :func:`~affectkit.features.vision.tracks.active_speaker` decides with it as it
does with the landmark score.

Weights: ``affectkit/weights/avsync/avsync.safetensors`` (+ ``avsync.json``: settings, training
videos, command), loaded offline.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from affectkit.errors import FeatureError

FPS = 25.0
MEL_HZ = 100
N_MELS = 40
WINDOW = 5  # video frames per window (0.2 s)
CROP = 32  # model input side
CACHE_CROP = 40  # crop side kept in caches (random 32-px crops while training)
MOUTH_SIDE = 0.5  # crop side / face width (CACHE_CROP px)
MIN_SHIFT = 13  # frames (≥ 0.5 s at 25 fps): "out of sync"
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights" / "avsync"


# -- inputs ------------------------------------------------------------------------------------
def log_mel(audio: np.ndarray, sr: int = 16_000) -> np.ndarray:
    """(frames, 40) log-mel at 100 Hz, per-band mean/variance normalised over the input."""
    import librosa

    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sr != 16_000:
        x = librosa.resample(x, orig_sr=sr, target_sr=16_000)
    if x.size < 400:
        x = np.pad(x, (0, 400 - x.size))
    m = librosa.feature.melspectrogram(y=x, sr=16_000, n_fft=512, win_length=400, hop_length=160,
                                       n_mels=N_MELS, fmin=60, fmax=7600, center=True)
    lm = np.log(m + 1e-6).T
    lm = (lm - lm.mean(0)) / (lm.std(0) + 1e-3)
    return lm.astype(np.float32)


def mouth_geometry(face) -> tuple[float, float, float, float] | None:
    """(cx, cy, side, angle) of the mouth crop of a face with landmarks (None without)."""
    if face.landmarks is None:
        return None
    p = face.landmarks
    cx, cy = p[48:68].mean(0)
    return float(cx), float(cy), MOUTH_SIDE * float(face.width), float(face.eye_angle)


def mouth_crops(frames: list[np.ndarray], faces: dict[int, object], *, size: int = CACHE_CROP
                ) -> tuple[np.ndarray, np.ndarray]:
    """Grey mouth crops of one face track on every frame.

    ``faces`` maps frame index → Face (with landmarks) for the frames where the track was
    detected (e.g. every 2nd or 5th frame); the crop geometry is interpolated linearly in
    between. Frames before the first / after the last detection are invalid.
    Returns ``(crops (n, size, size) uint8, valid (n,) bool)``.
    """
    import cv2

    from affectkit.features.vision.detect import _warp

    n = len(frames)
    geo = {i: g for i, f in faces.items() if (g := mouth_geometry(f)) is not None and i < n}
    crops = np.zeros((n, size, size), np.uint8)
    valid = np.zeros(n, bool)
    if not geo:
        return crops, valid
    idx = np.array(sorted(geo))
    vals = np.array([geo[i] for i in idx])
    for i in range(idx[0], idx[-1] + 1):
        g = [np.interp(i, idx, vals[:, k]) for k in range(4)]
        img = frames[i]
        c = _warp(img if img.ndim == 3 else np.repeat(img[..., None], 3, 2), g[0], g[1],
                  max(g[2], 4.0), g[3], size)
        crops[i] = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)
        valid[i] = True
    return crops, valid


def _norm_crops(x):
    """Per-crop standardisation (lighting) of a float tensor (..., H, W)."""
    m = x.mean(dim=(-1, -2), keepdim=True)
    s = x.std(dim=(-1, -2), keepdim=True)
    return (x - m) / (s + 5.0)


# -- model -------------------------------------------------------------------------------------
def _build(dim: int = 128, width: int = 32):
    import torch
    from torch import nn

    def block(i, o, stride):
        return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o),
                             nn.ReLU(inplace=True))

    def block1d(i, o, stride):
        return nn.Sequential(nn.Conv1d(i, o, 3, stride, 1, bias=False), nn.BatchNorm1d(o),
                             nn.ReLU(inplace=True))

    class SyncNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            # video: the window's frames and their differences as channels, 32×32 → 4×4
            self.video = nn.Sequential(block(2 * WINDOW - 1, w, 2), block(w, 2 * w, 2),
                                       block(2 * w, 4 * w, 2), block(4 * w, 4 * w, 1),
                                       nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                       nn.Linear(4 * w, dim))
            # audio: 40 mel bands as channels × 20 frames (1-D convolutions over time)
            self.audio = nn.Sequential(block1d(N_MELS, 2 * w, 1), block1d(2 * w, 2 * w, 2),
                                       block1d(2 * w, 4 * w, 2), block1d(4 * w, 4 * w, 1),
                                       nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                       nn.Linear(4 * w, dim))

        def embed_video(self, crops):  # (B, WINDOW, 32, 32) float, normalised
            d = crops[:, 1:] - crops[:, :-1]
            v = self.video(torch.cat([crops, d], 1))
            return nn.functional.normalize(v, dim=-1)

        def embed_audio(self, mel):  # (B, 4·WINDOW, 40)
            a = self.audio(mel.transpose(1, 2))
            return nn.functional.normalize(a, dim=-1)

    return SyncNet()


def build_model():
    return _build()


@functools.lru_cache(maxsize=2)
def load_model(weights_dir: str | None = None):
    """The shipped sync model (eval mode) and its settings; no network access."""
    from safetensors.torch import load_file

    d = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    f = d / "avsync.safetensors"
    if not f.exists():
        raise FeatureError(f"{f}: audio-visual sync weights missing; train them with "
                           "`python -m affectkit.evaluation.active_speaker train`")
    meta = json.loads((d / "avsync.json").read_text())
    m = build_model()
    m.load_state_dict(load_file(str(f)))
    m.eval()
    return m, meta


def mel_windows(mel: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 20, 40) mel windows centred on each frame time, and which are complete."""
    half = 2 * WINDOW  # mel frames either side: 0.1 s
    out = np.zeros((len(times), 2 * half, N_MELS), np.float32)
    ok = np.zeros(len(times), bool)
    for i, t in enumerate(times):
        c = int(round(t * MEL_HZ))
        if c - half >= 0 and c + half <= len(mel):
            out[i] = mel[c - half:c + half]
            ok[i] = True
    return out, ok


def embed_track(crops: np.ndarray, valid: np.ndarray, model=None, *, batch: int = 256
                ) -> tuple[np.ndarray, np.ndarray]:
    """Video embeddings of every complete ``WINDOW``-frame window centred on each frame."""
    import torch

    model = model or load_model()[0]
    n, h = len(crops), WINDOW // 2
    ok = np.array([i - h >= 0 and i + h < n and valid[i - h:i + h + 1].all() for i in range(n)])
    emb = np.zeros((n, model.video[-1].out_features), np.float32)
    idx = np.nonzero(ok)[0]
    o = (crops.shape[1] - CROP) // 2
    x = torch.from_numpy(crops[:, o:o + CROP, o:o + CROP].astype(np.float32))
    with torch.inference_mode():
        for s in range(0, len(idx), batch):
            j = idx[s:s + batch]
            win = torch.stack([x[i - h:i + h + 1] for i in j])
            emb[j] = model.embed_video(_norm_crops(win)).numpy()
    return emb, ok


def embed_audio(mel_win: np.ndarray, model=None, *, batch: int = 512) -> np.ndarray:
    import torch

    model = model or load_model()[0]
    out = []
    with torch.inference_mode():
        for s in range(0, len(mel_win), batch):
            out.append(model.embed_audio(torch.from_numpy(mel_win[s:s + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def offset_cosines(v: np.ndarray, vok: np.ndarray, a: np.ndarray, aok: np.ndarray,
                   shifts: range | list[int]) -> dict[int, np.ndarray]:
    """shift → cosines of video window i with audio window i + shift (valid pairs only)."""
    out = {}
    n = len(v)
    for s in shifts:
        i = np.arange(max(0, -s), min(n, n - s))
        i = i[vok[i] & aok[i + s]]
        out[s] = np.einsum("ij,ij->i", v[i], a[i + s])
    return out


def sync_score(v: np.ndarray, vok: np.ndarray, a: np.ndarray, aok: np.ndarray, *,
               max_shift: int = 25, step: int = 1) -> tuple[float, float]:
    """(score, standard error) of one track against the audio (see the module docstring).

    Score = mean cosine of in-sync windows − mean cosine of windows shifted by
    ``MIN_SHIFT``..``max_shift`` frames either way; s.e. from the in-sync cosines' spread over
    windows (windows 5 frames apart counted as independent). (0, inf) with < 3 windows.
    """
    shifts = [0] + [s for k in range(MIN_SHIFT, max_shift + 1, step) for s in (k, -k)]
    cos = offset_cosines(v, vok, a, aok, shifts)
    c0 = cos[0]
    rest = np.concatenate([cos[s] for s in shifts[1:]]) if len(shifts) > 1 else np.zeros(0)
    if len(c0) < 3 or len(rest) < 3:
        return 0.0, float("inf")
    n_eff = max(len(c0) / WINDOW, 1.0)
    se = float(np.std(c0) / math.sqrt(n_eff))
    return float(c0.mean() - rest.mean()), max(se, 1e-6)


def track_geometry(faces: list[tuple[float, object]]) -> tuple[np.ndarray, np.ndarray]:
    """(times, (k, 4) cx, cy, side, angle) of a track's detections that have landmarks."""
    pts = [(t, g) for t, f in faces if (g := mouth_geometry(f)) is not None]
    pts.sort(key=lambda x: x[0])
    return (np.array([t for t, _ in pts], np.float64),
            np.array([g for _, g in pts], np.float64).reshape(-1, 4))


def stream_mouth_crops(frames, geometry: dict[int, tuple[np.ndarray, np.ndarray]], *,
                       size: int = CACHE_CROP
                       ) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Grey mouth crops of several tracks from one pass over ``frames`` ((t, image) pairs,
    any iterable: a long video is never held in memory).

    ``geometry``: track id → :func:`track_geometry` (detections may be sparser than the
    frames; the crop is interpolated in time between them). A frame outside a track's
    first…last detection time is invalid for it. Returns (times, track id → (crops
    (n, size, size) uint8, valid (n,) bool)).
    """
    import cv2

    from affectkit.features.vision.detect import _warp

    times: list[float] = []
    crops: dict[int, list] = {k: [] for k in geometry}
    valid: dict[int, list] = {k: [] for k in geometry}
    blank = np.zeros((size, size), np.uint8)
    for t, img in frames:
        times.append(float(t))
        rgb = None
        for k, (gt, g) in geometry.items():
            if not len(gt) or t < gt[0] - 1e-6 or t > gt[-1] + 1e-6:
                crops[k].append(blank)
                valid[k].append(False)
                continue
            if rgb is None:
                rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, 2)
            cx, cy, side, ang = (float(np.interp(t, gt, g[:, j])) for j in range(4))
            c = _warp(rgb, cx, cy, max(side, 4.0), ang, size)
            crops[k].append(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY))
            valid[k].append(True)
    out = {k: (np.stack(crops[k]) if crops[k] else np.zeros((0, size, size), np.uint8),
               np.array(valid[k], bool)) for k in geometry}
    return np.array(times), out


def track_mouth_crops(frames, times: np.ndarray, geometry: dict[int, tuple[np.ndarray, np.ndarray]],
                      *, size: int = CACHE_CROP) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """:func:`stream_mouth_crops` of a frame list with its times."""
    return stream_mouth_crops(zip(times, frames), geometry, size=size)[1]


def track_scores(crops: dict[int, tuple[np.ndarray, np.ndarray]], times: np.ndarray,
                 audio: np.ndarray | None, sr: int = 16_000, *, model=None,
                 mel: np.ndarray | None = None) -> dict[int, tuple[float, float]]:
    """track id → :func:`sync_score` of its mouth crops (at ``times``) against ``audio``
    (which starts at time 0; or its precomputed :func:`log_mel` ``mel``)."""
    model = model or load_model()[0]
    mel = log_mel(audio, sr) if mel is None else mel
    mw, aok = mel_windows(mel, np.asarray(times))
    a = embed_audio(mw, model)
    out = {}
    for k, (c, valid) in crops.items():
        v, vok = embed_track(c, valid, model)
        out[k] = sync_score(v, vok, a, aok)
    return out
