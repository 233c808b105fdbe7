"""Pretrained backbones ported to PyTorch, with their offline weight-conversion commands."""
