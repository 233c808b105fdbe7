"""Log-mel spectrogram frames: the standard input of speech-emotion CNNs and transformers.

16 kHz input, 25 ms Hann window (400 samples, zero-padded to a 512-point FFT), 10 ms hop →
100 frames/s, ``n_mels`` triangular Slaney filters between ``fmin`` and ``fmax``, natural log
of (power + 1e-6). Frames are centred (frame ``i`` covers ``i * 10 ms ± 12.5 ms``), so
``T = 1 + n_samples // 160`` — the same framing as ``audio.prosody``, which lets the two be
concatenated frame by frame.

Computed with librosa's NumPy STFT (no numba on this path, so the first call is fast).
"""

from __future__ import annotations

import functools

import numpy as np

from affectkit.features.base import EXTRACTORS, AudioExtractor

HOP = 160
WIN = 400
N_FFT = 512


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                               dtype=np.float64)


def stft_power(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, win: int = WIN) -> np.ndarray:
    """Power spectrogram (T, n_fft // 2 + 1) in the input's precision, centred frames,
    zero-padded at the edges."""
    import librosa

    s = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, window="hann", center=True,
                     pad_mode="constant")
    return (np.abs(s) ** 2).T


@EXTRACTORS.register()
class LogMel(AudioExtractor):
    """(T, n_mels) log-mel frames at 100 frames/s."""

    name = "audio.logmel"
    level = "frame"
    description = "log-mel spectrogram, 25 ms window, 10 ms hop"

    def __init__(self, *, n_mels: int = 64, fmin: float = 20.0, fmax: float = 8000.0) -> None:
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax

    @property
    def dim(self) -> int:
        return self.n_mels

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / HOP

    @property
    def model_version(self) -> str:
        from importlib.metadata import version  # not `import librosa`: keep cache hits cheap

        return f"librosa=={version('librosa')}"

    @property
    def feature_names(self) -> list[str]:
        return [f"logmel_{i}" for i in range(self.n_mels)]

    def _compute(self, x: np.ndarray) -> np.ndarray:
        # float64 until the end: BLAS sums in a thread-count-dependent order, and float32
        # results would then differ by an ulp between a 2-thread driver and 1-thread workers;
        # rounded from float64 they are identical (local and Ray runs match bit for bit).
        p = stft_power(x.astype(np.float64))
        mel = p @ _mel_basis(self.sample_rate, N_FFT, self.n_mels, self.fmin, self.fmax).T
        return np.log(mel + 1e-6).astype(np.float32)
