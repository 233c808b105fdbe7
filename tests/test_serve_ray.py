"""`--engine ray` (a local Ray cluster): `affect analyze` and `affect serve` give the same results
as the local engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import REPO

DEMO = REPO / "examples" / "demo"
pytest.importorskip("ray", reason="needs Ray: pip install 'affectkit[ray]'")
pytestmark = pytest.mark.slow
NAMES = ["chat.csv", "voice_note.ogg", "notes.txt", "broken.wav"]


def analyze(cwd, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", RAY_USAGE_STATS_ENABLED="0")
    return subprocess.run([sys.executable, "-m", "affectkit.cli", "analyze", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray-in")
    shutil.copy(DEMO / "chat.csv", d / "chat.csv")
    shutil.copy(DEMO / "voice_note.ogg", d / "voice_note.ogg")
    (d / "notes.txt").write_text("I can't believe we won\nthis is so unfair\nsee you tomorrow\n")
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # fails in both engines alike
    return d


@pytest.fixture(scope="module")
def local(inputs):
    r = analyze(inputs, *NAMES, "-o", "local", "--format", "json,csv", "-q", "--asr", "tiny.en")
    assert r.returncode == 1, r.stderr[-2000:]  # 1: broken.wav failed, the others were written
    return inputs / "local"


def test_analyze_engine_ray_matches_local(inputs, local):
    r = analyze(inputs, *NAMES, "-o", "ray", "--format", "json,csv", "-q", "--asr", "tiny.en", "--engine", "ray")
    assert r.returncode == 1, r.stderr[-2000:]
    a = json.loads((local / "results.json").read_text())
    b = json.loads((inputs / "ray" / "results.json").read_text())
    assert [f["file"] for f in b["files"]] == [f["file"] for f in a["files"]]
    assert b == a
    pd.testing.assert_frame_equal(pd.read_csv(inputs / "ray" / "utterances.csv"), pd.read_csv(local / "utterances.csv"))
    fa = pd.read_csv(local / "failures.csv")
    fb = pd.read_csv(inputs / "ray" / "failures.csv")
    assert list(fb["file"]) == list(fa["file"]) == ["broken.wav"]


def test_analyze_engine_bad_name(inputs):
    r = analyze(inputs, "notes.txt", "--engine", "spark", "-q")
    assert r.returncode == 2 and "--engine" in r.stderr


def test_serve_engine_ray_matches_local(inputs, local, tmp_path):
    pytest.importorskip("python_multipart")
    import ray
    from fastapi.testclient import TestClient

    from affectkit.serve.app import create_app

    names = ["chat.csv", "voice_note.ogg", "notes.txt"]
    try:
        with TestClient(create_app(tmp_path / "store", pool="ray", workers=2)) as c:
            assert c.get("/healthz").json()["pool"] == "ray"
            job = c.post("/v1/jobs", files=[("files", (n, (inputs / n).read_bytes())) for n in names],
                         data={"asr": "tiny.en"}).json()
            t0 = time.time()
            while (j := c.get(f"/v1/jobs/{job['id']}").json())["status"] not in ("done", "failed"):
                assert time.time() - t0 < 600, j
                time.sleep(0.3)
            assert j["status"] == "done", j
            got = c.get(f"/v1/jobs/{job['id']}/results").json()
    finally:
        ray.shutdown()
    ref = {f["file"]: f for f in json.loads((local / "results.json").read_text())["files"]}
    assert [f["file"] for f in got["files"]] == names
    for f in got["files"]:
        assert f == ref[f["file"]]
