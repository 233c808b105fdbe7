"""Analysis on Ray: one task per input file, an :class:`Analyzer` cached per Ray worker process.

Used by ``affect analyze --engine ray [--address ...]`` and ``affect serve --engine ray``.
Without an address a local Ray cluster is started on this machine (loopback, no dashboard),
and tasks read the files from the shared file system; with an address (``ray://head:10001``
or ``auto``) the file bytes travel through Ray's object store, so workers on other machines
need no shared disk — only ``affectkit`` installed in the same version.

Each task runs the same :meth:`Analyzer.analyze_file` as the local engine with the driver's
torch thread count, so results are identical to ``affect analyze`` without ``--engine ray``
(the bf16 text encoder's last digits depend on the thread count).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from affectkit.analysis.inputs import InputFile
from affectkit.analysis.results import FileResult

_ANALYZERS: dict = {}
_STATE: dict = {"remote": None, "ship_bytes": False}


def default_threads() -> int:
    """The thread count ``affect analyze`` runs with: ``AFFECTKIT_THREADS``, else
    ``OMP_NUM_THREADS``, else all cores (what the Whisper backbone uses too)."""
    for var in ("AFFECTKIT_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(var, "").strip()
        if env.isdigit() and int(env) > 0:
            return int(env)
    return os.cpu_count() or 1


def analyzer_kwargs(opts: dict) -> dict:
    """The ``Analyzer`` arguments among ``opts`` (``affect analyze`` options; ``None`` = default)."""
    import dataclasses

    from affectkit.analysis import Analyzer

    fields = {f.name for f in dataclasses.fields(Analyzer) if f.init}
    return {k: v for k, v in opts.items() if k in fields and v is not None}


def options_key(kw: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kw.items()))


def _analyze_task(label: str, path: str, data: bytes | None, kind: str, opts: dict,
                  threads: int) -> FileResult:  # pragma: no cover - runs in Ray workers
    import torch

    from affectkit.analysis import Analyzer

    # Ray sets OMP_NUM_THREADS=1 in its workers; the driver's count must hold here, also for
    # the Whisper backbone, which reads AFFECTKIT_THREADS when it loads
    os.environ["AFFECTKIT_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    kw = analyzer_kwargs(opts)
    key = options_key(kw)
    if key not in _ANALYZERS:
        _ANALYZERS[key] = Analyzer(**kw)
    an = _ANALYZERS[key]
    if data is None:  # same machine: read the file where it is (absolute: workers have their own cwd)
        return _relabel(an.analyze_file(InputFile(Path(path), kind)), path, label)
    with tempfile.TemporaryDirectory(prefix="affect-ray-") as d:
        local = Path(d) / f"input{Path(label).suffix.lower()}"
        local.write_bytes(data)
        return _relabel(an.analyze_file(InputFile(local, kind)), str(local), label)


def _relabel(r: FileResult, actual: str, label: str) -> FileResult:
    """Name the file as the driver does (the local engine's ``str(path)``)."""
    if actual == label:
        return r
    r.file = label
    for u in r.utterances:
        u.file = label
    r.error = r.error.replace(actual, label) if r.error else r.error
    r.warnings = [w.replace(actual, label) for w in r.warnings]
    return r


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to (or start) Ray once per process."""
    try:
        import ray
    except ImportError:
        from affectkit.errors import ConfigError

        raise ConfigError("--engine ray needs Ray: pip install 'affectkit[ray]'") from None
    if not ray.is_initialized():
        kw = {"include_dashboard": False, "log_to_driver": False} if address is None else {}
        if address is None and num_cpus:
            kw["num_cpus"] = num_cpus
        ray.init(address=address, ignore_reinit_error=True, **kw)
    if _STATE["remote"] is None:
        _STATE["remote"] = ray.remote(num_cpus=1, max_retries=1)(_analyze_task)
    _STATE["ship_bytes"] = address is not None


def _submit(path: Path, kind: str, opts: dict, threads: int):
    import ray

    data = ray.put(path.read_bytes()) if _STATE["ship_bytes"] else None
    return _STATE["remote"].remote(str(path), str(Path(path).absolute()), data, kind, opts, threads)


def _get(ref, path: Path, kind: str) -> FileResult:
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as e:  # a crashed worker: this file fails, the others go on
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return FileResult(str(path), kind, error=f"{path}: the Ray task failed ({type(e).__name__}: {msg})")


def analyze_one(path: Path, kind: str, opts: dict, threads: int | None = None) -> FileResult:
    """One file as one Ray task (``ensure_ray`` first)."""
    return _get(_submit(Path(path), kind, opts, threads or default_threads()), Path(path), kind)


def analyze_many(inputs: Sequence[InputFile], opts: dict, *, address: str | None = None,
                 num_cpus: int | None = None,
                 on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """All files as Ray tasks; results in input order (``on_result`` as each one finishes)."""
    import ray

    ensure_ray(address, num_cpus)
    threads = default_threads()
    refs = [_submit(i.path, i.kind, opts, threads) for i in inputs]
    where = {r: k for k, r in enumerate(refs)}
    out: list[FileResult | None] = [None] * len(refs)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        k = where[done[0]]
        out[k] = _get(done[0], inputs[k].path, inputs[k].kind)
        if on_result is not None:
            on_result(out[k])
    return out  # type: ignore[return-value]
