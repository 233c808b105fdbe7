"""affectkit: multimodal sentiment and emotion analysis.

Heavy dependencies (torch, sentence-transformers, faster-whisper, ...) are imported lazily by
the modules that need them, so ``import affectkit`` and the CLI start fast.
"""

__version__ = "0.1.0"

from affectkit.types import Dialogue, LabelSpace, Modality, Utterance  # noqa: E402

__all__ = ["Dialogue", "LabelSpace", "Modality", "Utterance", "__version__"]
