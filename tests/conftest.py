"""Shared fixtures. Tests that need real data use ../shared/data and skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from affectkit.data.base import shared_data_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_data_root()


def shared_path(rel: str) -> Path:
    """Path under the shared data folder, or skip the test with a clear reason."""
    if SHARED is None or not (SHARED / rel).exists():
        pytest.skip(f"needs the shared corpus copy at ../shared/data/{rel} (absent on this machine)")
    return SHARED / rel


@pytest.fixture
def shared():
    return shared_path
