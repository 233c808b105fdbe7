"""Is an audio slice speech? Non-speech flagging for the voice modality (issue 11).

The voice emotion model was trained on speech only; on music, noise or silence its output is
meaningless but can still look confident. :func:`check_speech` measures, per audio slice:

* the **level** (RMS of the loudest 20 ms frame, dBFS): at or below :data:`SILENCE_DBFS`
  the slice is silence;
* the **speech ratio**: the share of the slice that Silero VAD (the ONNX model bundled with
  faster-whisper, the same VAD the ASR uses) marks as speech, after the slice is scaled to a
  fixed RMS so that quiet speech is not missed and loud noise is not favoured.

A slice is *non-speech* when it is silent or its speech ratio is below
:data:`MIN_SPEECH_RATIO`. The analyzer then lets the voice abstain for that utterance (no
voice emotion; fusion uses the other modalities) and reports ``non_speech`` and
``speech_ratio`` per utterance (results.json, utterances.csv).

The threshold is fixed, not fitted: on 40 random clips of each shared speech corpus and 40
mosi400 clips (whole clips, leading/trailing silence included) the lowest speech ratios were
0.29–0.66 except one RAVDESS clip (0.0), with white noise added at 0 dB SNR the mosi400
minimum stayed 0.56; white noise, brown noise, a 440 Hz tone, a synthetic melody with chords
and digital silence all gave 0.0 (``/tmp`` experiment recorded in docs/voice.md). Music with
singing is speech-like to the VAD and is not flagged; that limit is stated in docs/voice.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16_000
SILENCE_DBFS = -60.0  # loudest 20 ms frame at or below this: silence
MIN_SPEECH_RATIO = 0.1  # below this share of VAD speech the slice is non-speech
_TARGET_RMS = 0.1  # slices are scaled to this RMS (−20 dBFS) before the VAD


@dataclass(frozen=True)
class SpeechCheck:
    """Result of :func:`check_speech` for one slice."""

    speech_ratio: float  # share of the slice's duration that the VAD marks as speech
    dbfs: float  # level of the loudest 20 ms frame (:func:`level_dbfs`)
    kind: str  # "speech", "silence" or "non-speech" (noise, music, tones)

    @property
    def non_speech(self) -> bool:
        return self.kind != "speech"


def level_dbfs(x: np.ndarray, frame: int = 320, chunk: int = SR * 60) -> float:
    """Level of the loudest 20 ms frame (RMS, dBFS): quiet speech with long pauses (RAVDESS
    "normal intensity" clips average −50…−58 dBFS over the clip) is not silence, while a
    file whose every frame is below the silence level is. Computed per minute, so long
    audio is never copied whole to float64."""
    x = np.asarray(x).reshape(-1)
    if x.size == 0:
        return -np.inf
    top = 0.0
    for i in range(0, x.size, chunk):
        c = x[i:i + chunk].astype(np.float64)
        m = c.size // frame
        e = (c[: m * frame].reshape(m, frame) ** 2).mean(axis=1) if m else np.empty(0)
        if c.size % frame or not m:
            e = np.append(e, (c[m * frame:] ** 2).mean())
        top = max(top, float(e.max()))
    return 10 * np.log10(top) if top > 0 else -np.inf


def speech_ratio(x: np.ndarray, sr: int = SR) -> float:
    """Share of ``x`` (mono float, ``sr`` Hz; resampled to 16 kHz if needed) that Silero VAD
    marks as speech, after scaling to a fixed RMS."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if sr != SR:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sr), SR)
        x = resample_poly(x, SR // g, int(sr) // g).astype(np.float32)
    if x.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms <= 0:
        return 0.0
    x = np.clip(x * (_TARGET_RMS / rms), -1.0, 1.0).astype(np.float32)
    opts = VadOptions(min_silence_duration_ms=100, speech_pad_ms=0, min_speech_duration_ms=100)
    ts = get_speech_timestamps(x, vad_options=opts, sampling_rate=SR)
    return float(min(1.0, sum(t["end"] - t["start"] for t in ts) / x.size))


def check_speech(x: np.ndarray, sr: int = SR, *, min_ratio: float = MIN_SPEECH_RATIO,
                 silence_dbfs: float = SILENCE_DBFS) -> SpeechCheck:
    """Speech ratio, level and kind (speech / silence / non-speech) of one audio slice."""
    level = level_dbfs(x)
    if not level > silence_dbfs:
        return SpeechCheck(0.0, level, "silence")
    r = speech_ratio(x, sr)
    return SpeechCheck(r, level, "speech" if r >= min_ratio else "non-speech")
