"""Training strategies: hooks of the one Trainer, one file each, found by :data:`STRATEGIES`.

``modality_dropout`` (whole-batch), ``random_missing`` (per-sample missingness),
``corrkd`` (correlation-decoupled distillation from a complete-modality teacher).
"""

from affectkit.training.strategies.base import STRATEGIES, Strategy, make_strategy

__all__ = ["STRATEGIES", "Strategy", "make_strategy"]
