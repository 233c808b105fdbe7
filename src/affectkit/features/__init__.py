"""Feature extraction: extractors, the content-addressed FeatureStore, batch extraction.

>>> from affectkit.features import EXTRACTORS, FeatureStore, extract, load_features
>>> EXTRACTORS.names()[:3]                                           # doctest: +SKIP
['asr.whisper', 'audio.compare', 'audio.egemaps']
>>> report = extract(utts, ["text.minilm", "audio.logmel"], FeatureStore("cache"))  # doctest: +SKIP
>>> feats = load_features(utts, ["audio.logmel"], "cache", pool="meanstd")           # doctest: +SKIP

Extractors live one per file in ``text/``, ``audio/``, ``vision/`` and ``asr/`` and register
themselves; nothing heavy (torch, sentence-transformers, faster-whisper) is imported until an
extractor computes something.
"""

from affectkit.features.base import (
    EXTRACTORS,
    AudioExtractor,
    FeatureExtractor,
    TextExtractor,
    VisionExtractor,
    get_extractor,
)
from affectkit.features.runner import Failure, Report, extract, load_features, pool_frames
from affectkit.features.store import FeatureStore, file_digest

__all__ = [
    "EXTRACTORS", "AudioExtractor", "Failure", "FeatureExtractor", "FeatureStore", "Report",
    "TextExtractor", "VisionExtractor", "extract", "file_digest", "get_extractor",
    "load_features", "pool_frames",
]
