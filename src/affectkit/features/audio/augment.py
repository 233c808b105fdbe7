"""Waveform augmentation for training voice models: gain, additive noise at a random SNR and
speed perturbation (tempo and pitch together, as Kaldi/sox ``speed``).

Deterministic per input: the random draws come from a generator seeded by a digest of the
waveform and the copy number, so the same clip and copy always give the same augmented signal
(and a content-addressed feature cache stays valid). Used by the Whisper extractors' ``augment``
parameter (copy ``k`` ≥ 1; 0 = the clean signal).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from affectkit.errors import ConfigError


@dataclass(frozen=True)
class AugmentSpec:
    """Ranges drawn uniformly per copy (the issue's ranges by default)."""

    gain_db: tuple[float, float] = (-6.0, 6.0)
    snr_db: tuple[float, float] = (10.0, 30.0)
    speed: tuple[float, float] = (0.9, 1.1)


DEFAULT = AugmentSpec()


def rng_for(x: np.ndarray, copy: int) -> np.random.Generator:
    """A generator seeded by the waveform's bytes and the copy number."""
    d = hashlib.blake2b(np.ascontiguousarray(x, np.float32).tobytes(), digest_size=8,
                        person=b"affectkit-aug").digest()
    return np.random.default_rng([int.from_bytes(d, "little"), int(copy)])


def active_rms(x: np.ndarray, frame: int = 320, range_db: float = 40.0) -> float:
    """RMS over the 20 ms frames within ``range_db`` of the loudest (pauses do not count)."""
    m = len(x) // frame
    if m < 1:
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    e = np.square(x[: m * frame].astype(np.float64)).reshape(m, frame).mean(axis=1)
    top = float(e.max())
    if top <= 0:
        return 0.0
    return float(np.sqrt(e[e >= top * 10 ** (-range_db / 10)].mean()))


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (``len`` ÷ factor; pitch moves with it)."""
    if factor <= 0:
        raise ConfigError(f"speed factor must be > 0, got {factor}")
    if abs(factor - 1.0) < 1e-6 or len(x) < 2:
        return np.asarray(x, np.float32)
    from scipy.signal import resample_poly

    fr = Fraction(factor).limit_denominator(100)  # new length = len × den / num
    return resample_poly(np.asarray(x, np.float64), fr.denominator, fr.numerator).astype(
        np.float32)


def augment(x: np.ndarray, copy: int, spec: AugmentSpec = DEFAULT) -> tuple[np.ndarray, dict]:
    """Copy ``copy`` (≥ 1) of ``x``: speed, then gain, then white noise at the drawn SNR
    (relative to the active RMS after the gain). Returns the signal and the draws."""
    if copy < 1:
        raise ConfigError(f"augment copy must be ≥ 1 (0 is the clean signal), got {copy}")
    x = np.asarray(x, np.float32)
    rng = rng_for(x, copy)
    # the factor actually applied (a ratio of integers ≤ 100 for the polyphase resampler)
    speed = float(Fraction(float(rng.uniform(*spec.speed))).limit_denominator(100))
    gain_db = float(rng.uniform(*spec.gain_db))
    snr_db = float(rng.uniform(*spec.snr_db))
    y = speed_perturb(x, speed) * np.float32(10 ** (gain_db / 20))
    rms = active_rms(y)
    if rms > 0:
        noise = rng.standard_normal(len(y)).astype(np.float32) * np.float32(
            rms / 10 ** (snr_db / 20))
        y = y + noise
    return np.clip(y, -1.0, 1.0).astype(np.float32), {"speed": speed, "gain_db": gain_db,
                                                         "snr_db": snr_db}
