"""Tiny generated media for the feature and media tests (nothing from shared data is copied)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

SR = 16_000


def tone(seconds: float = 1.0, f0: float = 200.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    """A harmonic tone (voice-like: four harmonics) as float32."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(amp / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 5))
    return x.astype(np.float32)


def voiced(seconds: float = 2.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like signal: glottal harmonics with a moving pitch, formant-ish
    amplitude envelope and syllable-rate modulation (float32, peak 0.1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 20))
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x += 0.01 * rng.standard_normal(len(t))
    return (0.1 * x / np.abs(x).max()).astype(np.float32)


def write_wav(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr)
    return path


def speech_wav(path: Path, text: str = "Kids are talking by the door.") -> Path:
    """Synthetic speech with espeak-ng when installed, else a 1.5 s tone sequence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        return path
    x = np.concatenate([tone(0.3, f) for f in (140, 180, 160, 120, 150)])
    return write_wav(path, x)


def write_video(path: Path, frames: list[np.ndarray] | None = None, *, fps: int = 25,
                seconds: float = 2.0, audio: bool = True, size: tuple[int, int] = (160, 120)) -> Path:
    """H.264 (+ AAC mono 16 kHz) mp4 from RGB frames (default: a moving gradient)."""
    import av

    w, h = size
    if frames is None:
        n = int(seconds * fps)
        frames = []
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, :, 0] = (np.arange(w)[None, :] + 4 * i) % 256
            img[:, :, 1] = 128
            frames.append(img)
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    a = None
    if audio:
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
    for img in frames:
        for pk in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
            c.mux(pk)
    for pk in v.encode():
        c.mux(pk)
    if a is not None:
        x = tone(len(frames) / fps, 220.0)
        for k in range(0, len(x), 1024):
            fr = av.AudioFrame.from_ndarray(x[None, k:k + 1024], format="flt", layout="mono")
            fr.sample_rate = SR
            fr.pts = k
            for pk in a.encode(fr):
                c.mux(pk)
        for pk in a.encode():
            c.mux(pk)
    c.close()
    return path


def truncate(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def corrupt(dst: Path, n: int = 4000, seed: int = 0) -> Path:
    dst.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return dst
