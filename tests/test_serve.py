"""`affect serve`: the job API, its limits and errors, crash recovery, identity with the CLI."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib

import pandas as pd
import pytest
from typer.testing import CliRunner

from affectkit.cli import app as cli_app
from conftest import REPO

pytest.importorskip("python_multipart")
from fastapi.testclient import TestClient  # noqa: E402

from affectkit.serve.app import create_app  # noqa: E402
from affectkit.serve.jobs import JobStore  # noqa: E402
from affectkit.serve.uploads import Limits, sniff, sniff_text  # noqa: E402

DEMO = REPO / "examples" / "demo"
runner = CliRunner()


def wait(c: TestClient, job_id: str, timeout: float = 180.0, headers=None) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = c.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if j["status"] in ("done", "failed"):
            return j
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {j}")


def cli_json(tmp_path, files: dict[str, bytes], *extra: str) -> dict:
    """`affect analyze` on the same bytes under the same base names (run in that folder)."""
    d = tmp_path / "cli"
    d.mkdir(exist_ok=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    # a fresh process, as a user runs it (in-process runs after other analyses can differ in the
    # last digit: the bf16 MiniLM kernels are not bit-stable across a process's history)
    res = subprocess.run([sys.executable, "-m", "affectkit.cli", "analyze", *files, "-o", "out",
                          "--format", "json,csv,parquet", "-q", *extra], cwd=d, capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr[-2000:]
    return {"json": json.loads((d / "out" / "results.json").read_text()),
            "csv": pd.read_csv(d / "out" / "utterances.csv"),
            "parquet": pd.read_parquet(d / "out" / "utterances.parquet")}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    # worker processes, as `affect serve` runs them: a fresh process per worker, like the CLI
    # (threads inside this test process would inherit its history of loaded models)
    with TestClient(create_app(root, pool="process", workers=1)) as c:
        yield c


@pytest.fixture
def idle(tmp_path):
    """An app without workers: jobs stay queued (API behaviour alone)."""
    with TestClient(create_app(tmp_path / "idle", pool="none",
                               limits=Limits(max_upload=200_000, job_quota=150_000))) as c:
        yield c


def err(r, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"]["code"] == code, body
    assert "Traceback" not in r.text and body["error"]["message"]
    return body["error"]


# -- service basics --------------------------------------------------------------------------------
def test_healthz_openapi_and_page(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["workers"] == 1 and h["auth"] is False
    spec = client.get("/openapi.json").json()
    for p in ("/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/results", "/v1/jobs/{job_id}/report",
              "/v1/text", "/healthz"):
        assert p in spec["paths"], p
    assert "multipart/form-data" in spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_text_endpoint_matches_cli(client, tmp_path):
    chat = (DEMO / "chat.csv").read_bytes()
    df = pd.read_csv(io.BytesIO(chat), dtype=str, keep_default_na=False)
    r = client.post("/v1/text", json={"texts": df["text"].tolist(), "speakers": df["speaker"].tolist(),
                                      "name": "chat.csv"})
    assert r.status_code == 200, r.text
    ref = cli_json(tmp_path, {"chat.csv": chat})
    assert r.json() == ref["json"]
    csv = client.post("/v1/text?format=csv", json={"texts": df["text"].tolist(), "speakers": df["speaker"].tolist(),
                                                   "name": "chat.csv"})
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(csv.text)), ref["csv"])


def test_text_endpoint_errors(client):
    err(client.post("/v1/text", json={"texts": []}), 422, "invalid_request")
    err(client.post("/v1/text", json={"texts": ["  ", ""]}), 422, "empty_texts")
    err(client.post("/v1/text", json={"texts": ["a", "b"], "speakers": ["x"]}), 422, "invalid_request")
    err(client.post("/v1/text", content=b"{not json", headers={"content-type": "application/json"}),
        422, "invalid_request")
    err(client.post("/v1/text", json={"texts": ["x" * 20_001]}), 413, "text_too_long")
    err(client.post("/v1/text?format=xml", json={"texts": ["hi"]}), 400, "bad_format")


def test_job_media_and_conversation_match_cli(client, tmp_path):
    inputs = {"interview.mp4": (DEMO / "interview.mp4").read_bytes(), "chat.csv": (DEMO / "chat.csv").read_bytes()}
    r = client.post("/v1/jobs", files=[("files", (n, b)) for n, b in inputs.items()], data={"fps": "2"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert [f["kind"] for f in job["files"]] == ["video", "conversation"]
    assert all("stored" not in f for f in job["files"])
    job = wait(client, job["id"])
    assert job["status"] == "done" and job["progress"]["fraction"] == 1.0
    assert all(f["status"] == "done" and f["runs"] == 1 and f["n_utterances"] > 0 for f in job["files"])

    ref = cli_json(tmp_path, inputs)
    got = client.get(f"/v1/jobs/{job['id']}/results?format=json")
    assert got.status_code == 200 and got.json() == ref["json"]
    csv = client.get(f"/v1/jobs/{job['id']}/results?format=csv")
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(csv.text)), ref["csv"])
    pq = client.get(f"/v1/jobs/{job['id']}/results?format=parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(pq.content)), ref["parquet"])
    rep = client.get(f"/v1/jobs/{job['id']}/report")
    assert rep.status_code == 200 and "<svg" in rep.text and "interview.mp4" in rep.text
    assert "default-src 'none'" in rep.headers["content-security-policy"]
    # the server's paths never leak into results
    assert str(client.app.state.store.root) not in got.text + rep.text
    listed = client.get("/v1/jobs").json()
    assert job["id"] in [j["id"] for j in listed["jobs"]]


def test_content_sniffing_decides_not_the_name(client):
    chat = (DEMO / "chat.csv").read_bytes()
    r = client.post("/v1/jobs", files=[("files", ("notes.bin", chat)),
                                       ("files", ("clip.txt", (DEMO / "voice_note.ogg").read_bytes()))],
                    data={"modalities": "text"})
    assert r.status_code == 201, r.text
    assert [f["kind"] for f in r.json()["files"]] == ["conversation", "audio"]
    assert sniff((DEMO / "interview.mp4").read_bytes()[:64]) == ("video", ".mp4")
    assert sniff_text(b"hello there\nhow are you\n") == ("text", ".txt")
    assert sniff_text(b'{"speaker": "A", "text": "hi"}\n') == ("conversation", ".jsonl")
    assert sniff_text(b"\x00\x01binary") is None


# -- bad input ------------------------------------------------------------------------------------------
def png_header(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels (a decompression bomb's header) with a tiny body."""
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)  # 'rows of zeros': compresses ~1000:1
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_bad_uploads_are_clear_4xx(idle):
    c = idle
    rng = bytes(range(256)) * 20
    err(c.post("/v1/jobs", files=[("files", ("x.mp4", b"\x00\x01" + rng))]), 415, "unsupported_media")
    err(c.post("/v1/jobs", files=[("files", ("x.mp4", b"\x00\x00\x00\x18ftypisom" + rng))]), 422, "corrupt_media")
    err(c.post("/v1/jobs", files=[("files", ("bomb.png", png_header(100_000, 100_000)))]), 422, "image_too_large")
    err(c.post("/v1/jobs", files=[("files", ("x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10))]), 422, "corrupt_image")
    err(c.post("/v1/jobs", files=[("files", ("empty.wav", b""))]), 422, "empty_file")
    for name in ("../../etc/passwd", "..\\..\\evil.txt", "/abs/path.txt", "..", "sub/dir/x.txt"):
        e = err(c.post("/v1/jobs", files=[("files", (name, b"hello\n"))]), 400, "bad_file_name")
        assert "base name" in e["message"]
    raw = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a\x01b.txt"\r\n\r\nhi\r\n--xyz--\r\n'
    err(c.post("/v1/jobs", content=raw, headers={"content-type": "multipart/form-data; boundary=xyz"}),
        400, "bad_file_name")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"modalities": "smell"}), 400, "bad_modalities")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"fps": "-1"}), 400, "bad_fps")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"colour": "red"}), 400, "unknown_field")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"speakers": "many"}), 400, "bad_speakers")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"diarise": "maybe"}), 400, "bad_diarise")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))], data={"asr": "huge"}), 400, "bad_asr")
    err(c.post("/v1/jobs", data={"fps": "2"}, files=[("other", ("a.txt", b"hi\n"))]), 400, "bad_field")
    err(c.post("/v1/jobs", json={"files": "a"}), 415, "expected_multipart")
    # nothing was kept: no job, no leftover upload folder
    assert c.get("/v1/jobs").json()["total"] == 0
    assert not any((c.app.state.store.root / "uploads").iterdir())
    assert not any((c.app.state.store.root / "jobs").iterdir())


def test_upload_limit_and_quota(idle):
    c = idle  # max_upload 200 kB, job quota 150 kB
    e = err(c.post("/v1/jobs", files=[("files", ("big.txt", b"word\n" * 60_000))]), 413, "upload_too_large")
    assert "--max-upload" in e["message"]
    # without a Content-Length (chunked): the limit is enforced while streaming
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n\r\n"
            ).encode() + b"word\n" * 60_000 + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    r = c.post("/v1/jobs", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    err(r, 413, "upload_too_large")
    err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hello\n" * 13_000)), ("files", ("b.txt", b"hi\n" * 30_000))]),
        413, "quota_exceeded")
    assert c.get("/v1/jobs").json()["total"] == 0
    assert not any((c.app.state.store.root / "uploads").iterdir())


def test_truncated_and_malformed_multipart(idle):
    h = {"content-type": "multipart/form-data; boundary=xyz"}
    body = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\nhello there\r\n'
    err(idle.post("/v1/jobs", content=body, headers=h), 400, "truncated_upload")
    err(idle.post("/v1/jobs", content=b"--xyz\r\nno headers\x00\r\n\r\n", headers=h), 400, "bad_multipart")
    err(idle.post("/v1/jobs", content=b"--xyz--\r\n", headers=h), 400, "no_files")
    assert idle.get("/v1/jobs").json()["total"] == 0


def test_unknown_jobs_and_unfinished_results(idle):
    r = idle.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 404 and r.json()["error"]["code"] in ("no_such_job", "http_404")
    for jid in ("0" * 32, "x" * 300, "ABCDEF" * 6, "%2E%2E"):
        err(idle.get(f"/v1/jobs/{jid}"), 404, "no_such_job")
        err(idle.delete(f"/v1/jobs/{jid}"), 404, "no_such_job")
        err(idle.get(f"/v1/jobs/{jid}/results"), 404, "no_such_job")
        err(idle.get(f"/v1/jobs/{jid}/report"), 404, "no_such_job")
    err(idle.get("/v1/nothing"), 404, "http_404")
    job = idle.post("/v1/jobs", files=[("files", ("a.txt", b"hello\n"))]).json()
    assert job["status"] == "queued"
    e = err(idle.get(f"/v1/jobs/{job['id']}/results"), 409, "not_finished")
    assert "queued" in e["message"]
    err(idle.get(f"/v1/jobs/{job['id']}/results?format=xlsx"), 400, "bad_format")
    err(idle.get("/v1/jobs?status=weird"), 400, "bad_status")
    err(idle.get("/v1/jobs?limit=0"), 422, "invalid_request")


def test_idempotency_key(idle):
    f = [("files", ("a.txt", b"I am happy\n"))]
    r1 = idle.post("/v1/jobs", files=f, headers={"Idempotency-Key": "upload-1"})
    r2 = idle.post("/v1/jobs", files=f, headers={"Idempotency-Key": "upload-1"})
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["id"] == r2.json()["id"]
    err(idle.post("/v1/jobs", files=[("files", ("a.txt", b"I am sad\n"))], headers={"Idempotency-Key": "upload-1"}),
        409, "idempotency_conflict")
    assert idle.get("/v1/jobs").json()["total"] == 1
    # concurrent retries with one key: still one job
    codes, ids = [], []

    def post():
        r = idle.post("/v1/jobs", files=[("files", ("b.txt", b"calm\n"))], headers={"Idempotency-Key": "k2"})
        codes.append(r.status_code)
        ids.append(r.json()["id"])

    ts = [threading.Thread(target=post) for _ in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(codes) == [200] * 5 + [201] and len(set(ids)) == 1
    assert idle.get("/v1/jobs").json()["total"] == 2
    assert len(list((idle.app.state.store.root / "jobs").iterdir())) == 2


def test_concurrent_deletes(idle):
    keep = idle.post("/v1/jobs", files=[("files", ("keep.txt", b"hello\n"))]).json()["id"]
    jid = idle.post("/v1/jobs", files=[("files", ("a.txt", b"hello\n"))]).json()["id"]
    codes = []
    barrier = threading.Barrier(8)

    def delete():
        barrier.wait()
        codes.append(idle.delete(f"/v1/jobs/{jid}").status_code)

    ts = [threading.Thread(target=delete) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(codes) == [204] + [404] * 7
    err(idle.get(f"/v1/jobs/{jid}"), 404, "no_such_job")
    root = idle.app.state.store.root
    assert not (root / "jobs" / jid).exists() and (root / "jobs" / keep).exists()
    assert idle.get(f"/v1/jobs/{keep}").json()["status"] == "queued"


def test_token(tmp_path):
    tok = "s3cret-token-0123456789"
    with TestClient(create_app(tmp_path, token=tok, pool="none")) as c:
        assert c.get("/healthz").status_code == 200  # liveness stays public
        err(c.get("/v1/jobs"), 401, "unauthorized")
        r = c.get("/v1/jobs", headers={"Authorization": "Bearer wrong"})
        err(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        err(c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))]), 401, "unauthorized")
        err(c.post("/v1/text", json={"texts": ["hi"]}), 401, "unauthorized")
        assert c.get("/v1/jobs", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
        assert not any((tmp_path / "uploads").iterdir())


def test_one_server_per_data_folder(tmp_path):
    from affectkit.errors import ConfigError

    with TestClient(create_app(tmp_path, pool="none")) as c:
        assert c.get("/healthz").status_code == 200
        with pytest.raises(ConfigError, match="another affect serve"):
            with TestClient(create_app(tmp_path, pool="none")):
                pass
        res = runner.invoke(cli_app, ["serve", "--data", str(tmp_path), "--port", "1"])
        assert isinstance(res.exception, ConfigError) and "--data" in str(res.exception)
    with TestClient(create_app(tmp_path, pool="none")) as c:  # released at shutdown
        assert c.get("/healthz").status_code == 200


def test_cli_refuses_public_bind_without_token():
    from affectkit.errors import ConfigError

    res = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert isinstance(res.exception, ConfigError) and "--token" in str(res.exception)
    res = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0", "--token", "short"])
    assert isinstance(res.exception, ConfigError) and "16 characters" in str(res.exception)


# -- durability -------------------------------------------------------------------------------------------
class _Crash(BaseException):
    """Stands for kill -9: nothing after it runs (not even except/finally in the worker loop)."""


def test_crash_mid_job_resumes_without_recomputing(tmp_path):
    from affectkit.serve import worker

    root = tmp_path / "store"
    texts = {"one.txt": b"I am so happy today\nwhat a lovely day\n", "two.txt": b"this is terrible\n",
             "three.csv": b"speaker,text\nA,I am scared\nB,do not worry\n"}
    with TestClient(create_app(root, pool="none")) as c:
        job = c.post("/v1/jobs", files=[("files", (n, b)) for n, b in texts.items()]).json()
    store = JobStore(root)
    calls = []

    class CrashOnSecond(worker.LocalEngine):
        def analyze(self, path, kind, opts):
            calls.append(path.name)
            if len(calls) == 2:
                raise _Crash()
            return super().analyze(path, kind, opts)

    claimed = store.claim("w-old")
    with pytest.raises(_Crash):
        worker.process_job(store, claimed, CrashOnSecond())
    j = store.get(job["id"])
    assert j["status"] == "running" and [f["status"] for f in j["files"]] == ["done", "running", "queued"]

    with TestClient(create_app(root, pool="thread", workers=1)) as c:  # the restart
        j = wait(c, job["id"])
        assert j["status"] == "done" and j["runs"] == 2
        assert [f["runs"] for f in j["files"]] == [1, 2, 1]  # the finished file was not recomputed
        got = c.get(f"/v1/jobs/{job['id']}/results").json()
    ref = cli_json(tmp_path, texts)
    assert got == ref["json"]


def test_delete_while_running_removes_at_file_boundary(tmp_path):
    from affectkit.serve import worker

    root = tmp_path / "store"
    with TestClient(create_app(root, pool="none")) as c:
        jid = c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n")), ("files", ("b.txt", b"yo\n"))]).json()["id"]
    store = JobStore(root)
    results = {}

    class DeleteDuring(worker.LocalEngine):
        def analyze(self, path, kind, opts):
            results.setdefault("delete", store.delete(jid))
            results.setdefault("again", store.delete(jid))
            return super().analyze(path, kind, opts)

    assert worker.process_job(store, store.claim("w"), DeleteDuring()) == "deleted"
    assert results == {"delete": "deleting", "again": "busy"}
    assert store.get(jid) is None and not (root / "jobs" / jid).exists()


def test_worker_crash_limit_fails_the_job(tmp_path):
    root = tmp_path / "store"
    with TestClient(create_app(root, pool="none")) as c:
        jid = c.post("/v1/jobs", files=[("files", ("a.txt", b"hi\n"))]).json()["id"]
    store = JobStore(root)
    for _ in range(3):
        assert store.claim("dying")["id"] == jid
        store.requeue(worker="dying")
    j = store.get(jid)
    assert j["status"] == "failed" and "3 times" in j["error"]
    shutil.rmtree(root)
