"""MiniLM word-piece ids: the input of fine-tuned text encoders (``text.minilm_ft``).

One row per word piece ([CLS] … [SEP]), cut at ``max_length`` (128; longer texts are truncated
here and batches cut further to ``data.max_tokens``). Stored as float32 (exact for ids below
2²⁴) in a (T, 1) array like every token-level feature.
"""

from __future__ import annotations

import numpy as np

from affectkit.backbones.minilm import load_tokenizer, model_version
from affectkit.features.base import EXTRACTORS, TextExtractor


@EXTRACTORS.register()
class TokenIds(TextExtractor):
    """MiniLM word-piece ids (T, 1)."""

    name = "text.token_ids"
    level = "token"
    description = "MiniLM word-piece ids (T, 1) for fine-tuning the encoder"

    def __init__(self, *, max_length: int = 128) -> None:
        self.max_length = max_length

    @property
    def dim(self) -> int:
        return 1

    @property
    def model_version(self) -> str:
        return model_version()

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        enc = load_tokenizer()(texts, truncation=True, max_length=self.max_length)
        return [np.asarray(ids, np.float32)[:, None] for ids in enc["input_ids"]]
