"""Hashed character n-grams: a fixed, language-agnostic surface feature (``text.chargram``).

Character 1–2-grams of the text (lower-cased), hashed into ``n_features`` buckets with
scikit-learn's :class:`~sklearn.feature_extraction.text.HashingVectorizer` (no vocabulary, so
nothing is fitted and the extractor is the same for every corpus, split and fold), counts
L2-normalised. Dense float32 ``(n_features,)``.

Why it exists: a frozen sentence encoder (``text.e5``) smooths away the exact words a task may
hinge on. Chinese ECPE marks an emotion clause by an emotion keyword (激动, 愤怒 …); surface
n-grams carry that directly, and ``text.e5+text.chargram`` lets a trained head use both
(``configs/suites/ecpe-zh.yaml``, docs/conversations.md). Characters rather than words, so
Chinese, Japanese and other unsegmented scripts need no word segmenter.
"""

from __future__ import annotations

import numpy as np

from affectkit.features.base import EXTRACTORS, TextExtractor


@EXTRACTORS.register()
class CharGrams(TextExtractor):
    """Hashed character 1–2-gram counts, L2-normalised (``n_features``,)."""

    name = "text.chargram"
    description = "hashed character 1-2-grams (4096 buckets, L2-normalised); no model, no fitting"

    def __init__(self, *, n_features: int = 4096, ngram_max: int = 2) -> None:
        if n_features < 16 or ngram_max < 1:
            raise ValueError("text.chargram: n_features must be >= 16 and ngram_max >= 1")
        self.n_features = n_features
        self.ngram_max = ngram_max
        self._vec = None

    @property
    def dim(self) -> int:
        return self.n_features

    @property
    def model_version(self) -> str:
        import sklearn

        return f"sklearn-{sklearn.__version__}-hash-char1-{self.ngram_max}-{self.n_features}"

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        if self._vec is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            self._vec = HashingVectorizer(analyzer="char", ngram_range=(1, self.ngram_max),
                                          n_features=self.n_features, alternate_sign=False,
                                          norm="l2", lowercase=True, dtype=np.float32)
        m = self._vec.transform(texts).toarray()
        return list(m.astype(np.float32, copy=False))
