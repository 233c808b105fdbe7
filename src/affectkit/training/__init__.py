"""Training: the one :class:`Trainer` loop, run folders (:class:`RunDir`) and strategies.

``Batch`` lives in :mod:`affectkit.data.batch`; ``TensorData`` is its former name.
"""

from affectkit.data.batch import Batch
from affectkit.training.checkpoint import RunDir
from affectkit.training.strategies import STRATEGIES, Strategy, make_strategy
from affectkit.training.strategies.modality_dropout import ModalityDropout
from affectkit.training.trainer import FitResult, Trainer, seed_everything

TensorData = Batch

__all__ = ["Batch", "FitResult", "ModalityDropout", "RunDir", "STRATEGIES", "Strategy",
           "TensorData", "Trainer", "make_strategy", "seed_everything"]
