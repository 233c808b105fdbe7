"""Whisper encoder features: the last encoder layer of Whisper base (or tiny.en) as a voice
representation for emotion, pooled per utterance or kept as 50 Hz frames.

Pipeline per input (16 kHz mono float32):

1. **Loudness normalisation** (``normalise=True``, default; :func:`normalise_loudness`): the
   waveform is scaled so that its *active* level — the RMS over 20 ms frames within 40 dB of
   the loudest frame — is ``-23 dBFS``, then scaled down if needed so the peak stays below
   0.999. Every threshold is relative to the signal itself, so a gain change of the input
   (−12…+12 dB, or any other) yields the same normalised waveform and the same features
   (digital silence is left as is). Whisper's own log-mel is *not* gain-invariant: it clamps
   at ``max − 8`` but then shifts by a fixed ``+4``, so without this step a louder file gives
   different encoder inputs.
2. **Log-mel** with faster-whisper's feature extractor (80 bands, 25 ms / 10 ms, 100 frames/s).
3. **Encoder**: ``WhisperModel.model.encode(StorageView)`` (CTranslate2, int8 on CPU). By
   default the mel is *not* padded to 30 s: CTranslate2 accepts any even frame count up to
   3000, so a 3 s clip costs 1/10 of a padded one. ``pad30=True`` (the "accurate" option) pads
   each ≤ 30 s piece with silence to 30 s as Whisper was trained, and keeps the encoder frames
   that cover the real audio. Inputs longer than 30 s are cut into 30 s pieces either way and
   their frames concatenated. The encoder halves the frame rate: 50 frames/s.

Extractors:

* ``audio.whisper`` — ``level="utterance"``: mean and standard deviation over the encoder
  frames, ``2 × d_model`` (1024 for base, 768 for tiny.en).
* ``audio.whisper_frames`` — ``level="frame"``: the ``(T, d_model)`` frames at 50 Hz, for
  attentive pooling heads.

Both take ``size="base" | "tiny.en"`` and share the model with speech recognition through
:func:`affectkit.backbones.whisper.load_model` (one load per size/device/compute type).
"""

from __future__ import annotations

import numpy as np

from affectkit.backbones import whisper as backbone
from affectkit.errors import ConfigError, FeatureError
from affectkit.features.base import EXTRACTORS, AudioExtractor

SR = 16_000
MAX_MEL_FRAMES = 3000  # 30 s at 100 frames/s: the encoder's positional table (1500 × 2)
TARGET_DBFS = -23.0
ACTIVE_RANGE_DB = 40.0
PEAK_MAX = 0.999
SILENCE_RMS = 1e-6


def normalise_loudness(x: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale ``x`` to an active RMS of ``target_dbfs`` (peak capped at 0.999).

    Active RMS: the RMS over the 20 ms frames whose own RMS is within 40 dB of the loudest
    frame, so pauses do not lower the level. All-zero (or < 1e-6 RMS) input is returned as is.
    """
    x = np.asarray(x, dtype=np.float32)
    n = 320
    m = len(x) // n
    if m >= 1:
        fr = x[: m * n].astype(np.float64).reshape(m, n)
        e = (fr ** 2).mean(axis=1)
        if len(x) % n:
            e = np.append(e, float((x[m * n:].astype(np.float64) ** 2).mean()))
    else:
        e = np.array([float((x.astype(np.float64) ** 2).mean())])
    top = float(e.max())
    if top <= SILENCE_RMS ** 2:
        return x
    active = e[e >= top * 10 ** (-ACTIVE_RANGE_DB / 10)]
    rms = float(np.sqrt(active.mean()))
    gain = 10 ** (target_dbfs / 20) / rms
    peak = float(np.abs(x).max())
    if peak * gain > PEAK_MAX:
        gain = PEAK_MAX / peak
    return (x.astype(np.float64) * gain).astype(np.float32)


def encode(x: np.ndarray, *, size: str = "base", pad30: bool = False, normalise: bool = True,
           compute_type: str = "int8", device: str = "cpu") -> np.ndarray:
    """Whisper encoder frames ``(T, d_model)`` at 50 Hz for a 16 kHz mono waveform."""
    import ctranslate2

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise FeatureError(f"whisper encoder: expected a non-empty 1-D waveform, got {x.shape}")
    if normalise:
        x = normalise_loudness(x)
    model = backbone.load_model(size, device, compute_type)
    fe = model.feature_extractor
    piece = MAX_MEL_FRAMES * fe.hop_length  # 30 s of samples
    outs = []
    for i in range(0, len(x), piece):
        chunk = x[i:i + piece]
        if pad30:
            mel = fe(chunk, padding=piece - len(chunk) if len(chunk) < piece else 0)
            mel = mel[:, :MAX_MEL_FRAMES]
            keep = max(1, -(-len(chunk) // (2 * fe.hop_length)))  # ceil(frames of audio / 2)
        else:
            mel = fe(chunk, padding=fe.hop_length)  # faster-whisper's default tail
            n = min(mel.shape[1], MAX_MEL_FRAMES)
            n -= n % 2
            if n < 2:
                if outs:  # a few samples left over after a 30 s piece: nothing to add
                    continue
                mel = np.pad(mel, ((0, 0), (0, 2 - mel.shape[1])), mode="edge")
                n = 2
            mel = mel[:, :n]
            keep = n // 2
        sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], np.float32))
        out = np.asarray(model.model.encode(sv, to_cpu=True))[0]
        outs.append(out[:keep])
    return np.concatenate(outs).astype(np.float32)


class _WhisperEncoderBase(AudioExtractor):
    extra = None
    version = "1"
    runtime_params = ("device",)

    def __init__(self, *, size: str = "base", pad30: bool = False, normalise: bool = True,
                 compute_type: str = "int8", device: str = "cpu", augment: int = 0) -> None:
        if size not in backbone.SIZES:
            raise ConfigError(f"{self.name}: size must be one of {backbone.SIZES}, got {size!r}")
        if not isinstance(augment, int) or augment < 0:
            raise ConfigError(f"{self.name}: augment must be an integer ≥ 0 (0 = the clean "
                              f"signal, k = augmented copy k), got {augment!r}")
        self.size = size
        self.pad30 = pad30
        self.normalise = normalise
        self.compute_type = compute_type
        self.device = device
        self.augment = augment

    def signature_params(self) -> dict:
        """``augment=0`` (the clean signal) is left out, so the clean features keep the
        signature (and cache entries) they had before augmentation existed."""
        p = super().signature_params()
        if not p.get("augment"):
            p.pop("augment", None)
        return p

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return backbone.available("base")

    @property
    def model_version(self) -> str:
        return backbone.model_version(self.size)

    @property
    def d_model(self) -> int:
        return backbone.D_MODEL[self.size]

    def frames(self, x: np.ndarray) -> np.ndarray:
        if self.augment:  # training copies: speed ±10 %, gain ±6 dB, noise at SNR 10–30 dB
            from affectkit.features.audio.augment import augment

            x, _ = augment(np.asarray(x, np.float32), self.augment)
        return encode(x, size=self.size, pad30=self.pad30, normalise=self.normalise,
                      compute_type=self.compute_type, device=self.device)


@EXTRACTORS.register()
class WhisperEncoder(_WhisperEncoderBase):
    """(2 · d_model,) mean ‖ std of the Whisper encoder's last layer (1024 for base)."""

    name = "audio.whisper"
    level = "utterance"
    description = "Whisper base/tiny.en encoder, mean+std pooled (loudness-normalised input)"

    @property
    def dim(self) -> int:
        return 2 * self.d_model

    @property
    def feature_names(self) -> list[str]:
        return ([f"whisper_mean_{i}" for i in range(self.d_model)]
                + [f"whisper_std_{i}" for i in range(self.d_model)])

    def _compute(self, x: np.ndarray) -> np.ndarray:
        f = self.frames(x).astype(np.float64)
        return np.concatenate([f.mean(axis=0), f.std(axis=0)]).astype(np.float32)


@EXTRACTORS.register()
class WhisperFrames(_WhisperEncoderBase):
    """(T, d_model) Whisper encoder frames at 50 Hz (512-d for base)."""

    name = "audio.whisper_frames"
    level = "frame"
    description = "Whisper base/tiny.en encoder frames, 50 Hz (loudness-normalised input)"

    @property
    def dim(self) -> int:
        return self.d_model

    @property
    def frame_rate(self) -> float:
        return 50.0

    @property
    def feature_names(self) -> list[str]:
        return [f"whisper_{i}" for i in range(self.d_model)]

    def _compute(self, x: np.ndarray) -> np.ndarray:
        return self.frames(x)


@EXTRACTORS.register()
class WhisperEncoderPad30(WhisperEncoder):
    """(2 · d_model,) mean ‖ std of the encoder frames of the real audio, each ≤ 30 s piece
    padded with silence to 30 s as Whisper was trained (the "accurate" option: ~30× the
    cost of ``audio.whisper`` on a 3 s clip). Its own cache entry and registry name so that
    benchmarks can ask for it by name."""

    name = "audio.whisper_pad30"
    description = ("Whisper base/tiny.en encoder on 30 s-padded input, mean+std pooled over "
                   "the frames of the real audio (loudness-normalised input)")

    def __init__(self, *, size: str = "base", normalise: bool = True,
                 compute_type: str = "int8", device: str = "cpu", augment: int = 0) -> None:
        super().__init__(size=size, pad30=True, normalise=normalise,
                         compute_type=compute_type, device=device, augment=augment)

    @property
    def feature_names(self) -> list[str]:
        return ([f"whisper_pad30_mean_{i}" for i in range(self.d_model)]
                + [f"whisper_pad30_std_{i}" for i in range(self.d_model)])
