"""Running jobs: engines (local Analyzer / Ray tasks), one job's processing, the worker pool.

Each worker takes the oldest queued job from the store, analyses its files one by one with the
same :class:`~affectkit.analysis.Analyzer` call as ``affect analyze`` and writes the same
outputs (:func:`~affectkit.analysis.outputs.write_outputs`). A finished file's result is saved
atomically in ``partial/`` before its row says ``done``, so after a crash the job resumes at the
first unfinished file; a finished job is never touched again.

Pools: ``process`` (default for ``affect serve``: worker processes that die with the server,
with the thread settings of ``affect analyze``; a worker that dies is replaced and its job
re-queued), ``thread`` (tests; workers inside the server process), ``ray`` (threads that send
each file to Ray as a task).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import threading
import time
from pathlib import Path

from affectkit.serve.jobs import JobStore

log = logging.getLogger("affectkit.serve")
FORMATS = ["csv", "json", "parquet", "html"]


# -- engines --------------------------------------------------------------------------------------
class LocalEngine:
    """Analyzers cached per option set, in this process."""

    def __init__(self) -> None:
        from affectkit.analysis.ray_engine import default_threads

        self._cache: dict = {}
        self._lock = threading.Lock()
        # `affect analyze`'s thread count, re-applied before every file: loading Whisper resets
        # the process-wide count to all cores, and the bf16 text encoder's last digits follow it
        self.threads = default_threads()

    def analyzer(self, opts: dict):
        from affectkit.analysis import Analyzer

        from affectkit.analysis.ray_engine import analyzer_kwargs, options_key

        kw = analyzer_kwargs(opts)
        key = options_key(kw)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = Analyzer(**kw)
            return self._cache[key]

    def analyze(self, path: Path, kind: str, opts: dict):
        from affectkit.analysis.inputs import InputFile

        an = self.analyzer(opts)
        pin_threads(self.threads)
        return an.analyze_file(InputFile(path, kind))


def pin_threads(n: int) -> None:
    try:
        import torch
    except ImportError:
        return
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class RayEngine:
    """Each file is one Ray task (see :mod:`affectkit.analysis.ray_engine`)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        from affectkit.analysis.ray_engine import ensure_ray

        ensure_ray(address, num_cpus)

    def analyze(self, path: Path, kind: str, opts: dict):
        from affectkit.analysis.ray_engine import analyze_one

        return analyze_one(path, kind, opts)


# -- one job ----------------------------------------------------------------------------------------
def relabel(result, stored: Path, name: str):
    """Replace the server-side path by the client's file name everywhere in a result."""
    s = str(stored)
    result.file = name
    for u in result.utterances:
        u.file = name
    if result.error:
        result.error = result.error.replace(s, name)
    result.warnings = [w.replace(s, name) for w in result.warnings]
    return result


def process_job(store: JobStore, job: dict, engine, *, quota: int | None = None, on_file=None) -> str:
    """Analyse the unfinished files of a claimed job and write its outputs. Returns the final
    status (``done``/``failed``) or ``deleted``."""
    from affectkit.analysis.outputs import write_outputs

    job_id, opts = job["id"], job["options"]
    jd = store.job_dir(job_id)
    (jd / "partial").mkdir(exist_ok=True)
    results = []
    for f in job["files"]:
        ck = jd / "partial" / f"{f['index']}.pkl"
        if f["status"] in ("done", "failed") and ck.exists():
            with open(ck, "rb") as fh:
                results.append(pickle.load(fh))
            continue
        if store.status(job_id) == "deleting":
            store.purge(job_id)
            return "deleted"
        store.file_start(job_id, f["index"])
        stored = jd / "in" / f["stored"]
        r = relabel(engine.analyze(stored, f["kind"], opts), stored, f["name"])
        tmp = ck.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(r, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, ck)
        store.file_done(job_id, f["index"], ok=r.ok, error=r.error, seconds=r.seconds,
                        n_utterances=len(r.utterances))
        results.append(r)
        if on_file is not None:
            on_file(job_id, f["index"])
    if store.status(job_id) == "deleting":
        store.purge(job_id)
        return "deleted"
    import shutil

    out, tmp_out = jd / "out", jd / "out.tmp"
    shutil.rmtree(tmp_out, ignore_errors=True)
    write_outputs(results, tmp_out, FORMATS)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp_out, out)
    status, error = "done", None
    if results and all(not r.ok for r in results):
        status, error = "failed", "every file failed; see files[].error"
    if quota and store.disk_usage(job_id) > quota:
        shutil.rmtree(out, ignore_errors=True)
        status, error = "failed", (f"the job's results exceed its disk quota of {quota} bytes "
                                   "(affect serve --job-quota)")
    if not store.finish(job_id, status, error):
        if store.status(job_id) == "deleting":
            store.purge(job_id)
        return "deleted"
    return status


def run_worker(root: str, name: str, engine, stop: threading.Event, poll: float = 0.2,
               parent: int | None = None, quota: int | None = None) -> None:
    """Take and process jobs until ``stop`` is set (or the parent process is gone)."""
    store = JobStore(root)
    while not stop.is_set():
        if parent is not None and os.getppid() != parent:
            return  # the server died: exit, the next server re-queues our job
        job = store.claim(name)
        if job is None:
            stop.wait(poll)
            continue
        t0 = time.perf_counter()
        try:
            status = process_job(store, job, engine, quota=quota)
        except Exception:  # an unexpected bug: fail this job, keep serving the others
            log.exception("job %s failed unexpectedly", job["id"])
            store.finish(job["id"], "failed", "internal error while analysing (see the server log)")
            status = "failed"
        log.info("job %s %s in %.1f s (%s)", job["id"], status, time.perf_counter() - t0, name)


def _process_main(root: str, name: str, parent: int, quota: int | None) -> None:  # pragma: no cover - child
    try:  # die with the server even on kill -9 (Linux)
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    # The thread count is left as `affect analyze` leaves it (OMP_NUM_THREADS or all cores):
    # the bf16 MiniLM text encoder's last digits depend on it, and results must equal the CLI's.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_worker(root, name, LocalEngine(), stop, parent=parent, quota=quota)


class WorkerPool:
    """``workers`` workers of kind ``mode`` (``process``, ``thread`` or ``ray``) over a store."""

    def __init__(self, root: str | Path, workers: int, mode: str = "process", *,
                 ray_address: str | None = None, quota: int | None = None):
        if mode not in ("process", "thread", "ray"):
            raise ValueError(f"pool mode {mode!r}: process, thread or ray")
        self.root, self.n, self.mode = str(root), max(1, int(workers)), mode
        self.ray_address, self.quota = ray_address, quota
        self._stop = threading.Event()
        self._procs: dict[str, object] = {}
        self._threads: list[threading.Thread] = []
        self._sup: threading.Thread | None = None

    def start(self) -> None:
        if self.mode == "process":
            for i in range(self.n):
                self._spawn(i)
            self._sup = threading.Thread(target=self._supervise, name="affect-serve-supervisor", daemon=True)
            self._sup.start()
            return
        engine = None
        if self.mode == "ray":
            engine = RayEngine(self.ray_address)
        for i in range(self.n):
            eng = engine if engine is not None else LocalEngine()
            t = threading.Thread(target=run_worker, args=(self.root, f"thread-{os.getpid()}-{i}", eng, self._stop),
                                 kwargs={"quota": self.quota},
                                 name=f"affect-serve-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _spawn(self, i: int) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        # the name is fixed before the start so that a crash is attributed to the right jobs
        name = f"proc-{os.getpid()}-{i}-{time.time_ns()}"
        p = ctx.Process(target=_process_main, args=(self.root, name, os.getpid(), self.quota),
                        name=f"affect-serve-worker-{i}", daemon=True)
        p.start()
        self._procs[name] = (i, p)

    def _supervise(self) -> None:
        store = JobStore(self.root)
        while not self._stop.wait(1.0):
            for name, (i, p) in list(self._procs.items()):
                if not p.is_alive():
                    del self._procs[name]
                    again = store.requeue(worker=name)
                    log.warning("worker %s exited (code %s); re-queued %s; starting a new one",
                                name, p.exitcode, again or "nothing")
                    if not self._stop.is_set():
                        self._spawn(i)

    def alive(self) -> int:
        if self.mode == "process":
            return sum(p.is_alive() for _, p in self._procs.values())
        return sum(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 300.0) -> None:
        """Stop taking jobs; worker processes get SIGTERM (a job cut short is re-queued at the
        next start), worker threads finish the file they are on (bounded by ``timeout``)."""
        self._stop.set()
        for _, p in self._procs.values():
            p.terminate()
        deadline = time.time() + timeout
        for _, p in self._procs.values():
            p.join(max(0.1, min(10.0, deadline - time.time())))
            if p.is_alive():
                p.kill()
        for t in self._threads:
            t.join(max(0.1, deadline - time.time()))
