"""`affect bench analyze --parts long` needs the ffmpeg command: without it, one clear error."""

from __future__ import annotations

import pytest

from affectkit.errors import ConfigError


def test_long_input_without_ffmpeg_is_one_clear_error(tmp_path, monkeypatch):
    import shutil

    from affectkit.analysis import bench

    (tmp_path / "mosi400" / "video").mkdir(parents=True)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="ffmpeg.*apt install ffmpeg"):
        bench.build_long_input(tmp_path / "mosi400", 0.0, tmp_path / "long.mp4")
