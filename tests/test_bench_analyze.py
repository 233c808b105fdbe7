"""`affect bench analyze` helpers (issue 11 speed run): long-run spec parsing, child peak RSS."""

from __future__ import annotations

import pytest

from affectkit.analysis import bench
from affectkit.errors import ConfigError


def test_parse_long_runs():
    assert bench.parse_long_runs("60:audio 5:text+audio+vision") == [
        (60.0, "audio"), (5.0, "text,audio,vision")]
    with pytest.raises(ConfigError, match="MINUTES:MODALITIES"):
        bench.parse_long_runs("60-audio")


def test_child_peak_rss_is_the_childs_own():
    """VmHWM of a fresh child is far below a parent that touched 300 MB (ru_maxrss would
    report the parent's peak after fork + exec)."""
    import json
    import subprocess
    import sys

    import numpy as np

    big = np.ones(300 * 2 ** 20 // 8)  # 300 MB in this process
    code = bench._HWM + "import json; print(json.dumps(hwm()))\n"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) < 200
    del big


def test_load_is_three_numbers():
    la = bench.load()
    assert len(la) == 3 and all(x >= 0 for x in la)
