"""Utterance-level acoustic statistics (116 values): the classical speech-emotion baseline.

MFCC 1–20 and their deltas (mean, sd), spectral centroid/bandwidth/roll-off/flatness,
zero-crossing rate, RMS (mean, sd), 7-band spectral contrast (mean, sd), F0 by YIN on voiced
frames (mean, sd, 5th/50th/95th percentile, voiced ratio), loudness percentiles and duration —
a librosa re-creation in the spirit of the eGeMAPS/IS09 sets (for the real ones see
``audio.egemaps`` / ``audio.compare``, optional extra). The shipped voice model of wave 1 reads
these.
"""

from __future__ import annotations

import numpy as np

from affectkit.features.base import EXTRACTORS, AudioExtractor

DIM = 116


def acoustic_functionals(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    """The 116 statistics of a 16 kHz mono waveform (see the module docstring). (116,)"""
    import librosa

    x = np.asarray(x, np.float32)
    if len(x) < sr // 10:
        x = np.pad(x, (0, sr // 10 - len(x)))
    hop = 160
    S = np.abs(librosa.stft(x, n_fft=512, hop_length=hop, win_length=400)) ** 2
    mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=40)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    d = librosa.feature.delta(mfcc, width=3 if mfcc.shape[1] < 9 else 9)
    spec = [librosa.feature.spectral_centroid(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_bandwidth(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_rolloff(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_flatness(S=np.sqrt(S)),
            librosa.feature.zero_crossing_rate(x, frame_length=400, hop_length=hop)]
    rms = librosa.feature.rms(S=np.sqrt(S), frame_length=512)
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(S), sr=sr)
    f0 = librosa.yin(x, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=hop)
    n = min(len(f0), rms.shape[1])
    loud = 20 * np.log10(rms[0, :n] + 1e-5)
    voiced = loud > (loud.max() - 35)
    fv = np.log(f0[:n][voiced]) if voiced.any() else np.zeros(1)
    parts = [mfcc.mean(1), mfcc.std(1), d.mean(1), d.std(1)]
    for s in spec:
        parts += [s.mean(1), s.std(1)]
    parts += [rms.mean(1), rms.std(1), contrast.mean(1), contrast.std(1)]
    parts.append(np.array([fv.mean(), fv.std(), *np.percentile(fv, [5, 50, 95]), voiced.mean()]))
    parts.append(np.array([*np.percentile(loud, [10, 50, 90]), np.log(len(x) / sr)]))
    return np.concatenate([np.ravel(p) for p in parts]).astype(np.float32)


@EXTRACTORS.register()
class Functionals(AudioExtractor):
    """116 utterance-level acoustic statistics (librosa)."""

    name = "audio.functionals"
    level = "utterance"
    description = "116 acoustic statistics per utterance: MFCC/Δ, spectral, RMS, contrast, F0, loudness"

    def __init__(self) -> None:
        pass

    @property
    def dim(self) -> int:
        return DIM

    @property
    def model_version(self) -> str:
        import librosa

        return f"librosa=={librosa.__version__}"

    def _compute(self, x: np.ndarray) -> np.ndarray:
        return acoustic_functionals(x, self.sample_rate)
