"""Feature extractors: one interface for text, audio, vision and speech recognition.

Every extractor declares up front what it produces — ``modality``, ``level`` (one vector per
utterance, or a sequence of frames/tokens), ``dim``, ``frame_rate`` and ``feature_names`` — and
exposes the same verbs (after audinterface/opensmile-python):

==========================  ==================================================================
``process_signal(x, sr)``   a string (text), a waveform (audio) or frames (vision)
``process_file(p, s, e)``   a file, optionally a segment [s, e) in seconds
``process_files(ps)``       many files
``process_utterance(u)``    an :class:`~affectkit.types.Utterance` (its text or media + span)
``process_utterances(us)``  many utterances (batched where the model batches)
==========================  ==================================================================

Outputs are float32 NumPy arrays, validated against the declaration: ``(dim,)`` for
``level="utterance"``, ``(T, dim)`` for ``"frame"``/``"token"``; a wrong shape or a NaN raises
:class:`~affectkit.errors.FeatureError` instead of reaching a cache or a model.

The constructor's keyword-only arguments are the configuration (scikit-learn style);
:meth:`FeatureExtractor.signature` hashes name + parameters + ``version`` + model version, and
the :class:`~affectkit.features.store.FeatureStore` keys its cache by it, so changing a
parameter or a model never returns stale features. Constructing an extractor is cheap: models
load on first use.

Extractors register in :data:`EXTRACTORS`, discovered from the ``text``, ``audio``, ``vision``
and ``asr`` sub-packages (one file per extractor).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from affectkit.errors import ConfigError, FeatureError
from affectkit.registry import Registry
from affectkit.types import Modality, Utterance

LEVELS = ("utterance", "frame", "token")


EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("extractor", "affectkit.features")


def get_extractor(name: str | FeatureExtractor, **params: Any) -> FeatureExtractor:
    """An extractor instance from a registry name (or pass an instance through).

    >>> get_extractor("audio.logmel", n_mels=40).dim
    40
    """
    if isinstance(name, FeatureExtractor):
        if params:
            raise ConfigError("pass parameters either to the instance or here, not both")
        return name
    return EXTRACTORS.get(name)(**params)


class FeatureExtractor:
    """Base class. Subclasses set the class attributes and implement one ``_compute*`` hook.

    Class attributes:
        name: registry name, ``"<modality>.<what>"``.
        modality: input modality (ASR extractors read audio).
        level: ``"utterance"`` → (dim,); ``"frame"`` → (T, dim) at ``frame_rate`` Hz;
            ``"token"`` → (T, dim), one row per sub-word token.
        version: bump when the computation changes, so caches are invalidated.
        extra: pip extra that provides an optional dependency (``None`` = core).
        description: one line for ``affect features list``.
    """

    name: ClassVar[str]
    modality: ClassVar[Modality]
    level: ClassVar[str] = "utterance"
    version: ClassVar[str] = "1"
    extra: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    # constructor arguments that change speed, not output (batch sizes): kept out of the
    # signature so that tuning them never invalidates a cache
    runtime_params: ClassVar[tuple[str, ...]] = ()

    # -- declaration -----------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Feature dimension (last axis of the output)."""
        raise NotImplementedError

    @property
    def frame_rate(self) -> float | None:
        """Frames per second for ``level="frame"``, else ``None``."""
        return None

    @property
    def feature_names(self) -> list[str]:
        return [f"{self.name}[{i}]" for i in range(self.dim)]

    @property
    def model_version(self) -> str:
        """Identifies the weights/library the output depends on (part of the signature)."""
        return ""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """``(True, "")`` or ``(False, why and how to install)`` for optional dependencies."""
        return True, ""

    def params(self) -> dict[str, Any]:
        """The constructor's keyword arguments with their current values."""
        out = {}
        for p in inspect.signature(type(self).__init__).parameters.values():
            if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            out[p.name] = getattr(self, p.name)
        return out

    def signature_params(self) -> dict[str, Any]:
        """The parameters that identify the output: :meth:`params` less ``runtime_params``.
        Override when a parameter is resolved at run time (e.g. ``precision="auto"``)."""
        return {k: v for k, v in self.params().items() if k not in self.runtime_params}

    def signature(self) -> str:
        """``"<name>-<12 hex>"``: hash of name, version, parameters (less ``runtime_params``)
        and model version.

        Two extractors with equal signatures produce identical features; the cache relies on it.
        """
        params = json.dumps(self.signature_params(), sort_keys=True, default=str)
        cached = self.__dict__.get("_signature_cache")
        if cached and cached[0] == params:  # model_version may read package metadata: memoise
            return cached[1]
        blob = json.dumps(
            {"name": self.name, "version": self.version, "params": json.loads(params),
             "model": self.model_version},
            sort_keys=True, default=str,
        )
        sig = f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
        self.__dict__["_signature_cache"] = (params, sig)
        return sig

    def describe(self) -> dict[str, Any]:
        ok, why = self.available()
        return {
            "name": self.name, "modality": str(self.modality), "level": self.level,
            "dim": self.dim, "frame_rate": self.frame_rate, "params": self.params(),
            "version": self.version, "extra": self.extra, "available": ok,
            "unavailable_reason": why or None, "description": self.description,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    # -- validation ------------------------------------------------------------------------
    def validate(self, out: Any, where: str = "") -> np.ndarray:
        """Cast to float32 and check the shape against the declaration.

        Raises:
            FeatureError: wrong rank/dim, zero frames, or non-finite values.
        """
        arr = np.asarray(out, dtype=np.float32)
        at = f" for {where}" if where else ""
        want = "(dim,)" if self.level == "utterance" else "(T, dim)"
        ndim = 1 if self.level == "utterance" else 2
        if arr.ndim != ndim or arr.shape[-1] != self.dim:
            raise FeatureError(
                f"{self.name}: output shape {arr.shape}{at}, declared {want} with dim={self.dim}"
            )
        if ndim == 2 and arr.shape[0] == 0:
            raise FeatureError(f"{self.name}: zero frames{at} (input too short or empty)")
        if not np.isfinite(arr).all():
            raise FeatureError(f"{self.name}: non-finite values{at}")
        return np.ascontiguousarray(arr)

    # -- verbs -----------------------------------------------------------------------------
    def process_signal(self, signal: Any, sampling_rate: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def process_file(self, path: str | os.PathLike, start: float | None = None,
                     end: float | None = None) -> np.ndarray:
        raise NotImplementedError

    def process_files(self, paths: Sequence[str | os.PathLike],
                      starts: Sequence[float | None] | None = None,
                      ends: Sequence[float | None] | None = None) -> list[np.ndarray]:
        starts = list(starts) if starts is not None else [None] * len(paths)
        ends = list(ends) if ends is not None else [None] * len(paths)
        if not (len(starts) == len(ends) == len(paths)):
            raise ConfigError("process_files: paths, starts and ends differ in length")
        return [self.process_file(p, s, e) for p, s, e in zip(paths, starts, ends)]

    def applies_to(self, utt: Utterance) -> bool:
        """Whether the utterance has this extractor's input (text, or an audio/vision file)."""
        if self.modality is Modality.TEXT:
            return bool(utt.text and utt.text.strip())
        return self.modality in utt.media

    def source(self, utt: Utterance) -> Path | str:
        """The input the extractor reads for ``utt``: its text, or its media file."""
        if self.modality is Modality.TEXT:
            if not (utt.text and utt.text.strip()):
                raise FeatureError(f"{utt.id}: no text for {self.name}")
            return utt.text
        if self.modality not in utt.media:
            raise FeatureError(f"{utt.id}: no {self.modality} media for {self.name}")
        return utt.media[self.modality]

    def process_utterance(self, utt: Utterance) -> np.ndarray:
        src = self.source(utt)
        if self.modality is Modality.TEXT:
            return self.process_signal(src)
        return self.process_file(src, utt.start, utt.end)

    def process_utterances(self, utts: Iterable[Utterance]) -> list[np.ndarray]:
        return [self.process_utterance(u) for u in utts]


class TextExtractor(FeatureExtractor):
    """Text → features. Subclasses implement :meth:`_compute_batch` (a list of strings)."""

    modality = Modality.TEXT

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        raise NotImplementedError

    def process_signal(self, signal: Any, sampling_rate: int | None = None) -> np.ndarray:
        if not isinstance(signal, str):
            raise FeatureError(f"{self.name}: expects a string, got {type(signal).__name__}")
        return self.process_texts([signal])[0]

    def process_texts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Batched: the fast way to embed many sentences."""
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise FeatureError(f"{self.name}: text #{i} is empty or not a string")
        if not texts:
            return []
        outs = self._compute_batch(texts)
        return [self.validate(o, repr(t[:40])) for o, t in zip(outs, texts)]

    def process_file(self, path: str | os.PathLike, start: float | None = None,
                     end: float | None = None) -> np.ndarray:
        """A UTF-8 text file, whole (``start``/``end`` do not apply to text)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FeatureError(f"{path}: cannot read as UTF-8 text ({e})") from None
        return self.process_signal(text)

    def process_utterances(self, utts: Iterable[Utterance]) -> list[np.ndarray]:
        utts = list(utts)
        return self.process_texts([str(self.source(u)) for u in utts])


class AudioExtractor(FeatureExtractor):
    """Waveform → features. Subclasses implement :meth:`_compute` on 16 kHz mono float32."""

    modality = Modality.AUDIO
    sample_rate: ClassVar[int] = 16_000

    def _compute(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def process_signal(self, signal: Any, sampling_rate: int | None = None) -> np.ndarray:
        """Args: signal (n,) or (channels, n) float/int PCM; sampling_rate in Hz (required)."""
        if sampling_rate is None:
            raise FeatureError(f"{self.name}: process_signal needs sampling_rate=")
        x = np.asarray(signal)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
        x = x.astype(np.float32, copy=False)
        if x.ndim == 2:  # (channels, n): channels-first like librosa; mix down
            x = x.mean(axis=0) if x.shape[0] < x.shape[1] else x.mean(axis=1)
        if x.ndim != 1:
            raise FeatureError(f"{self.name}: expected a 1-D waveform, got shape {x.shape}")
        if x.size == 0:
            raise FeatureError(f"{self.name}: empty waveform")
        if sampling_rate != self.sample_rate:
            from math import gcd

            from scipy.signal import resample_poly

            g = gcd(int(sampling_rate), self.sample_rate)
            x = resample_poly(x, self.sample_rate // g, int(sampling_rate) // g).astype(np.float32)
        return self.validate(self._compute(x))

    def process_file(self, path: str | os.PathLike, start: float | None = None,
                     end: float | None = None) -> np.ndarray:
        from affectkit.media import load_audio

        x = load_audio(path, sr=self.sample_rate, start=start, end=end)
        return self.validate(self._compute(x), str(path))


TABLE_EXTS = (".csv",)


def corpus_image(utt: Utterance) -> np.ndarray:
    """An image stored inside a corpus file (e.g. a FER2013 csv row); see
    :func:`affectkit.media.table_image`."""
    from affectkit.errors import MediaError
    from affectkit.media import table_image

    try:
        return table_image(utt)
    except MediaError as e:
        raise FeatureError(str(e)) from None


class VisionExtractor(FeatureExtractor):
    """Frames → features. Subclasses implement :meth:`_compute_frames`.

    ``fps`` (a constructor argument of subclasses) sets how densely video is sampled.
    """

    modality = Modality.VISION
    fps: float
    color: ClassVar[bool] = True  # False: frames are decoded straight to grey (cheaper)

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        raise NotImplementedError

    def process_signal(self, signal: Any, sampling_rate: int | None = None) -> np.ndarray:
        """Args: one image (H, W[, 3]) uint8, or frames (T, H, W[, 3]) / a list of images
        sampled at ``sampling_rate`` fps (default: the extractor's ``fps``; frames are taken as
        given, never re-sampled)."""
        if isinstance(signal, np.ndarray) and signal.ndim in (2, 3) and (
            signal.ndim == 2 or signal.shape[-1] in (1, 3, 4)
        ):
            frames = [signal]
        else:
            frames = list(signal)
        if not frames:
            raise FeatureError(f"{self.name}: no frames given")
        return self.validate(self._compute_frames(frames, "signal"))

    def process_utterance(self, utt: Utterance) -> np.ndarray:
        src = Path(self.source(utt))
        if src.suffix.lower() in TABLE_EXTS:
            # pixels stored in a table (the FER2013 csv): the corpus module knows the row
            img = corpus_image(utt)
            return self.validate(self._compute_frames([img], utt.id), utt.id)
        return self.process_file(src, utt.start, utt.end)

    def process_file(self, path: str | os.PathLike, start: float | None = None,
                     end: float | None = None) -> np.ndarray:
        from affectkit.media import iter_frames

        frames = (f.image for f in iter_frames(path, fps=self.fps, start=start, end=end,
                                               gray=not self.color))
        return self.validate(self._compute_frames(frames, str(path)), str(path))
