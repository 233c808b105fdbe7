"""A real `kill -9` of `affect serve` (its own process and worker processes) in the middle of a
job, and a restart on the same data folder: the job resumes without recomputing finished files,
finished jobs are untouched, no worker process outlives the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

httpx = pytest.importorskip("httpx")
pytest.importorskip("python_multipart")
pytestmark = pytest.mark.slow
DEMO = REPO / "examples" / "demo"


def start(data: Path, port: int, log: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "affectkit.cli", "serve", "--port", str(port), "--data", str(data),
                          "--workers", "1", "--log-level", "warning"],
                         stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < 120:
        assert p.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["workers"] == 1:
                return p
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    p.kill()
    raise AssertionError("affect serve did not start: " + log.read_text()[-3000:])


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                out.append(int(d.name))
    return out


def wait(c: httpx.Client, jid: str, pred, timeout: float = 400) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = c.get(f"/v1/jobs/{jid}").json()
        if pred(j):
            return j
        time.sleep(0.2)
    raise AssertionError(f"timeout waiting on job {jid}: {j}")


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
def test_kill_9_mid_job_then_restart(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, log = tmp_path / "data", tmp_path / "serve.log"
    srv = start(data, port, log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            a = c.post("/v1/jobs", files=[("files", ("a.txt", b"what a great day\n"))]).json()["id"]
            wait(c, a, lambda j: j["status"] == "done")
            a_out = data / "jobs" / a / "out" / "results.json"
            a_mtime = a_out.stat().st_mtime_ns
            texts = [("files", (f"t{k}.txt", f"sentence {k} makes me happy\nand {k} makes me sad\n".encode()))
                     for k in range(3)]
            files = texts + [("files", ("voice.ogg", (DEMO / "voice_note.ogg").read_bytes()))] + texts[:1]
            b = c.post("/v1/jobs", files=files, data={"asr": "tiny.en"}, headers={"Idempotency-Key": "b"}).json()["id"]
            # kill while the voice note (file 3) is being analysed: files 0-2 are finished
            j = wait(c, b, lambda j: j["files"][3]["status"] == "running" or j["status"] == "done")
            assert j["status"] == "running", "the job finished before the kill; use a longer input"
            kids = children(srv.pid)
            assert kids, "no worker process"
            os.kill(srv.pid, signal.SIGKILL)
            srv.wait()
            time.sleep(1.0)
            assert not [k for k in kids if Path(f"/proc/{k}").exists() and
                        (Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")], \
                "a worker process outlived the server"
        srv = start(data, port, log)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            # a retry of the interrupted upload with the same key is the same job
            again = c.post("/v1/jobs", files=files, data={"asr": "tiny.en"}, headers={"Idempotency-Key": "b"})
            assert again.status_code == 200 and again.json()["id"] == b
            j = wait(c, b, lambda j: j["status"] in ("done", "failed"))
            assert j["status"] == "done" and j["runs"] == 2
            assert [f["runs"] for f in j["files"]] == [1, 1, 1, 2, 1]
            assert all(f["status"] == "done" for f in j["files"])
            res = c.get(f"/v1/jobs/{b}/results").json()
            assert [f["file"] for f in res["files"]] == ["t0.txt", "t1.txt", "t2.txt", "voice.ogg", "t0.txt"]
            ja = c.get(f"/v1/jobs/{a}").json()
            assert ja["status"] == "done" and ja["runs"] == 1 and a_out.stat().st_mtime_ns == a_mtime
            assert c.get("/v1/jobs").json()["total"] == 2
    finally:
        if srv.poll() is None:
            srv.send_signal(signal.SIGINT)
            try:
                srv.wait(30)
            except subprocess.TimeoutExpired:
                srv.kill()
