"""The durable job store of ``affect serve``: SQLite (WAL) rows + one folder per job.

Layout under the data root::

    jobs.sqlite            jobs and per-file state (WAL journal: readers never block the writer)
    uploads/<random>/      an upload being received (removed on success, failure or restart)
    jobs/<id>/in/<n>.<ext> the uploaded files, named by position and sniffed type (never by the
                           client's file name)
    jobs/<id>/partial/<n>.pkl   a finished file's result (written atomically, never recomputed)
    jobs/<id>/out/         utterances.csv, results.json, utterances.parquet, report.html
    trash/                 deleted jobs on their way out (renamed first, so deletion is atomic)

A job moves ``queued → running → done | failed``; ``deleting`` marks a running job whose
``DELETE`` arrived (its worker removes it at the next file boundary). A server killed with
``kill -9`` leaves ``running`` rows behind: :meth:`JobStore.recover` re-queues them at start-up,
and the worker skips every file whose result is already in ``partial/``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs(
  id TEXT PRIMARY KEY, created REAL NOT NULL, started REAL, finished REAL,
  status TEXT NOT NULL, options TEXT NOT NULL, idem_key TEXT UNIQUE, req_hash TEXT,
  n_files INTEGER NOT NULL, bytes INTEGER NOT NULL, error TEXT, runs INTEGER NOT NULL DEFAULT 0,
  worker TEXT);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);
CREATE TABLE IF NOT EXISTS files(
  job_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  stored TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, status TEXT NOT NULL,
  error TEXT, seconds REAL, runs INTEGER NOT NULL DEFAULT 0, n_utterances INTEGER,
  PRIMARY KEY(job_id, idx));
"""
FINAL = ("done", "failed")
MAX_RUNS = 3  # a job whose worker died this many times fails instead of being re-queued again


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


class JobStore:
    """Thread-safe (one SQLite connection per thread) and multi-process-safe (SQLite locking)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        for d in ("jobs", "uploads", "trash"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "jobs.sqlite"
        self._local = threading.local()
        self._conn().executescript(SCHEMA)  # idempotent; executescript manages its own transaction

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None or getattr(self._local, "pid", None) != os.getpid():
            c = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            c.execute("PRAGMA busy_timeout=60000")
            self._local.conn, self._local.pid = c, os.getpid()
        return c

    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.c = conn

        def __enter__(self) -> sqlite3.Connection:
            self.c.execute("BEGIN IMMEDIATE")
            return self.c

        def __exit__(self, et, ev, tb) -> None:
            self.c.execute("COMMIT" if et is None else "ROLLBACK")

    def _tx(self) -> _Tx:
        return JobStore._Tx(self._conn())

    # -- paths ----------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        if not valid_id(job_id):  # ids are ours (uuid4 hex); never a client string as a path
            raise ValueError(f"invalid job id {job_id!r}")
        return self.root / "jobs" / job_id

    def new_upload_dir(self) -> Path:
        d = self.root / "uploads" / new_id()
        d.mkdir(parents=True)
        return d

    # -- create / read --------------------------------------------------------------------------
    def create(self, upload_dir: Path, options: dict, files: list[dict], *, idem_key: str | None,
               req_hash: str) -> tuple[dict, bool]:
        """Turn a received upload into a queued job. Returns ``(job, created)``; with an
        idempotency key already used for the same request, the existing job and ``False``
        (the new upload is discarded). Raises ``KeyError`` when the key was used for a
        different request."""
        job_id = new_id()
        with self._tx() as c:
            if idem_key is not None:
                row = c.execute("SELECT id, req_hash FROM jobs WHERE idem_key=?", (idem_key,)).fetchone()
                if row is not None:
                    if row["req_hash"] != req_hash:
                        raise KeyError(row["id"])
                    existing = row["id"]
                    job_id = None
            if job_id is not None:
                jd = self.job_dir(job_id)
                jd.mkdir(parents=True)
                os.replace(upload_dir, jd / "in")
                c.execute("INSERT INTO jobs(id, created, status, options, idem_key, req_hash, n_files, bytes)"
                          " VALUES(?,?,?,?,?,?,?,?)",
                          (job_id, time.time(), "queued", json.dumps(options), idem_key, req_hash,
                           len(files), sum(f["size"] for f in files)))
                c.executemany("INSERT INTO files(job_id, idx, name, kind, stored, size, sha256, status)"
                              " VALUES(?,?,?,?,?,?,?,?)",
                              [(job_id, f["index"], f["name"], f["kind"], f["stored"], f["size"],
                                f["sha256"], "queued") for f in files])
        if job_id is None:
            shutil.rmtree(upload_dir, ignore_errors=True)
            return self.get(existing), False
        return self.get(job_id), True

    def get(self, job_id: str) -> dict | None:
        c = self._conn()
        row = c.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        files = c.execute("SELECT * FROM files WHERE job_id=? ORDER BY idx", (job_id,)).fetchall()
        return _job_dict(row, files)

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        c = self._conn()
        where, args = ("WHERE status=?", (status,)) if status else ("", ())
        total = c.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
        rows = c.execute(f"SELECT * FROM jobs {where} ORDER BY created DESC LIMIT ? OFFSET ?",
                         (*args, limit, offset)).fetchall()
        out = []
        for r in rows:
            files = c.execute("SELECT * FROM files WHERE job_id=? ORDER BY idx", (r["id"],)).fetchall()
            out.append(_job_dict(r, files))
        return out, total

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) n FROM jobs GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def status(self, job_id: str) -> str | None:
        row = self._conn().execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
        return row["status"] if row else None

    # -- workers ---------------------------------------------------------------------------------
    def claim(self, worker: str) -> dict | None:
        """Atomically take the oldest queued job (``running``, ``runs`` + 1)."""
        with self._tx() as c:
            row = c.execute("SELECT id FROM jobs WHERE status='queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET status='running', started=COALESCE(started, ?), runs=runs+1,"
                      " worker=? WHERE id=?", (time.time(), worker, row["id"]))
        return self.get(row["id"])

    def file_start(self, job_id: str, idx: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE files SET status='running', runs=runs+1 WHERE job_id=? AND idx=?", (job_id, idx))

    def file_done(self, job_id: str, idx: int, *, ok: bool, error: str | None, seconds: float | None,
                  n_utterances: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE files SET status=?, error=?, seconds=?, n_utterances=? WHERE job_id=? AND idx=?",
                      ("done" if ok else "failed", error, seconds, n_utterances, job_id, idx))

    def finish(self, job_id: str, status: str, error: str | None = None) -> bool:
        """Mark a running job final; ``False`` if it was deleted meanwhile."""
        with self._tx() as c:
            cur = c.execute("UPDATE jobs SET status=?, error=?, finished=?, worker=NULL"
                            " WHERE id=? AND status='running'", (status, error, time.time(), job_id))
        return cur.rowcount == 1

    def requeue(self, *, worker: str | None = None) -> list[str]:
        """Running jobs (of one dead worker, or all at start-up) back to the queue; jobs that
        already died ``MAX_RUNS`` times fail instead. Files that were running restart; files that
        finished keep their results."""
        with self._tx() as c:
            if worker is None:
                rows = c.execute("SELECT id, runs FROM jobs WHERE status='running'").fetchall()
            else:
                rows = c.execute("SELECT id, runs FROM jobs WHERE status='running' AND worker=?",
                                 (worker,)).fetchall()
            for r in rows:
                c.execute("UPDATE files SET status='queued' WHERE job_id=? AND status='running'", (r["id"],))
                if r["runs"] >= MAX_RUNS:
                    c.execute("UPDATE jobs SET status='failed', finished=?, worker=NULL, error=? WHERE id=?",
                              (time.time(), f"the worker stopped {r['runs']} times while analysing this job "
                               "(crash or out of memory); check the inputs and the server log", r["id"]))
                else:
                    c.execute("UPDATE jobs SET status='queued', worker=NULL WHERE id=?", (r["id"],))
        return [r["id"] for r in rows]

    # -- deletion --------------------------------------------------------------------------------
    def delete(self, job_id: str) -> str:
        """``"deleted"`` (gone now), ``"deleting"`` (running: its worker removes it at the next
        file), ``"busy"`` (a delete is already under way) or ``"missing"``."""
        with self._tx() as c:
            row = c.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                return "missing"
            if row["status"] == "deleting":
                return "busy"
            if row["status"] == "running":
                c.execute("UPDATE jobs SET status='deleting' WHERE id=?", (job_id,))
                return "deleting"
            self._remove_rows(c, job_id)
        self.remove_dir(job_id)
        return "deleted"

    def purge(self, job_id: str) -> None:
        """Remove a job the worker found marked ``deleting``."""
        with self._tx() as c:
            self._remove_rows(c, job_id)
        self.remove_dir(job_id)

    @staticmethod
    def _remove_rows(c: sqlite3.Connection, job_id: str) -> None:
        c.execute("DELETE FROM files WHERE job_id=?", (job_id,))
        c.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def remove_dir(self, job_id: str) -> None:
        src = self.job_dir(job_id)
        dst = self.root / "trash" / f"{job_id}-{new_id()[:8]}"
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            return
        shutil.rmtree(dst, ignore_errors=True)

    def recover(self) -> dict[str, Any]:
        """Start-up after a crash: re-queue running jobs, finish pending deletes, drop partial
        uploads and trash."""
        requeued = self.requeue()
        c = self._conn()
        deleting = [r["id"] for r in c.execute("SELECT id FROM jobs WHERE status='deleting'").fetchall()]
        for j in deleting:
            self.purge(j)
        for d in ("uploads", "trash"):
            for p in (self.root / d).iterdir():
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        return {"requeued": requeued, "deleted": deleting}

    def disk_usage(self, job_id: str) -> int:
        return sum(p.stat().st_size for p in self.job_dir(job_id).rglob("*") if p.is_file())


def _job_dict(row: sqlite3.Row, files: list[sqlite3.Row]) -> dict:
    n = len(files)
    finished = sum(f["status"] in FINAL for f in files)
    return {
        "id": row["id"], "status": row["status"], "created": row["created"], "started": row["started"],
        "finished": row["finished"], "options": json.loads(row["options"]), "error": row["error"],
        "bytes": row["bytes"], "runs": row["runs"],
        "progress": {"files_done": finished, "files_total": n,
                     "files_failed": sum(f["status"] == "failed" for f in files),
                     "fraction": round(finished / n, 4) if n else 0.0},
        "files": [{"index": f["idx"], "name": f["name"], "kind": f["kind"], "size": f["size"],
                   "sha256": f["sha256"], "status": f["status"], "error": f["error"],
                   "seconds": f["seconds"], "runs": f["runs"], "n_utterances": f["n_utterances"],
                   "stored": f["stored"]} for f in files],
    }
