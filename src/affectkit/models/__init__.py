"""Models: one file per family, all in the :data:`MODELS` registry (``affect models list``)."""

from affectkit.models.base import MLP, MODELS, AffectModel, AttentionPool, create_model, model_info

__all__ = ["MLP", "MODELS", "AffectModel", "AttentionPool", "create_model", "model_info"]
