"""Batch extraction into a :class:`FeatureStore`, and loading features back for training.

:func:`extract` computes what is missing for every (extractor, utterance) pair, in-process,
in a local process pool (``workers > 1``) or as Ray tasks (``engine="ray"``); items already in
the store are skipped, so an interrupted run resumes where it stopped. Each item that fails
(corrupt media, no face, ...) becomes a :class:`Failure` record — in the returned
:class:`Report` and appended to the store's ``failures.jsonl`` — and the rest completes.

Work is cut into chunks *before* dispatch and every engine runs the same chunk function on the
same chunks, so the local and Ray paths produce identical arrays.

:func:`load_features` is the trainer's side: arrays per modality, aligned with the utterances.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from affectkit.data.batch import POOLS, pool_frames  # noqa: F401 (one pooling rule)
from affectkit.errors import ConfigError, FeatureError
from affectkit.features.base import FeatureExtractor, get_extractor
from affectkit.features.store import FeatureStore
from affectkit.types import Modality, Utterance

ENGINES = ("local", "ray")


@dataclass
class Failure:
    """One item that could not be extracted: which extractor, which item, and why."""

    extractor: str
    item: str
    source: str
    error: str

    def __str__(self) -> str:
        return f"{self.extractor} {self.item}: {self.error}"


@dataclass
class ExtractorStats:
    name: str
    signature: str
    total: int = 0
    computed: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0  # utterances without this extractor's input modality
    seconds: float = 0.0


@dataclass
class Report:
    """Outcome of :func:`extract`: per-extractor counts and every failure."""

    stats: dict[str, ExtractorStats] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "local"
    workers: int = 1

    @property
    def computed(self) -> int:
        return sum(s.computed for s in self.stats.values())

    @property
    def cached(self) -> int:
        return sum(s.cached for s in self.stats.values())

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.stats.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine, "workers": self.workers, "seconds": round(self.seconds, 3),
            "computed": self.computed, "cached": self.cached, "failed": self.failed,
            "extractors": {k: asdict(v) for k, v in self.stats.items()},
            "failures": [asdict(f) for f in self.failures],
        }


# -- the unit of work (runs in the driver, a pool process or a Ray worker) -------------------
_WORKER_EXTRACTORS: dict[str, FeatureExtractor] = {}


def _spec(ext: FeatureExtractor) -> tuple[type, dict[str, Any]]:
    return type(ext), ext.params()


def _from_spec(spec: tuple[type, dict[str, Any]]) -> FeatureExtractor:
    cls, params = spec
    ext = cls(**params)
    sig = ext.signature()
    if sig not in _WORKER_EXTRACTORS:  # keep one instance (and its loaded model) per process
        _WORKER_EXTRACTORS[sig] = ext
    return _WORKER_EXTRACTORS[sig]


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def run_chunk(
    spec: tuple[type, dict[str, Any]],
    store_root: str,
    utts: list[Utterance],
    on_item: Callable[[], None] | None = None,
) -> list[tuple[str, str | None]]:
    """Extract and store one chunk; returns ``(item id, error or None)`` per utterance.

    Text chunks run as one batch (the model is much faster batched); if the batch fails, the
    items are retried one by one so a single bad item does not fail its neighbours.
    """
    ext = _from_spec(spec)
    store = FeatureStore(store_root)
    out: list[tuple[str, str | None]] = []
    if ext.modality is Modality.TEXT and len(utts) > 1:
        try:
            arrays = ext.process_utterances(utts)
        except Exception:  # noqa: BLE001 — isolate the bad item below
            arrays = None
        if arrays is not None:
            for u, a in zip(utts, arrays):
                try:
                    store.put(ext, u, a)
                    out.append((u.id, None))
                except Exception as e:  # noqa: BLE001
                    out.append((u.id, _err(e)))
                if on_item:
                    on_item()
            return out
    for u in utts:
        try:
            store.put(ext, u, ext.process_utterance(u))
            out.append((u.id, None))
        except Exception as e:  # noqa: BLE001 — every item failure is recorded, never raised
            out.append((u.id, _err(e)))
        if on_item:
            on_item()
    return out


def _pool_init(threads: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _ray_chunk(spec, store_root, utts):  # pragma: no cover - runs inside Ray workers
    _pool_init(1)
    return run_chunk(spec, store_root, utts)


# -- the driver -----------------------------------------------------------------------------
def _chunks(items: list[Utterance], size: int) -> list[list[Utterance]]:
    return [items[i: i + size] for i in range(0, len(items), size)]


def extract(
    utterances: Sequence[Utterance],
    extractors: Iterable[str | FeatureExtractor],
    store: FeatureStore | str | os.PathLike | None = None,
    *,
    workers: int = 1,
    engine: str = "local",
    progress: bool = True,
    chunk_size: int | None = None,
) -> Report:
    """Compute the missing features of ``utterances`` for every extractor into ``store``.

    Args:
        utterances: items from any corpus (``load_corpus(...).utterances``).
        extractors: registry names or configured instances.
        store: a :class:`FeatureStore`, a folder, or ``None`` for the default location.
        workers: processes (local) or Ray CPUs; 1 runs in this process.
        engine: ``"local"`` or ``"ray"`` (a local Ray cluster on loopback).
        progress: show a rich progress bar.
        chunk_size: items per task (default 64 for text, 8 otherwise).

    Returns:
        A :class:`Report`; failures are also appended to ``store.failures_path``.

    Raises:
        ConfigError: unknown engine/extractor, or an optional dependency that is missing.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r}; expected one of {ENGINES}")
    if workers < 1:
        raise ConfigError(f"workers={workers}; expected >= 1")
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    exts = [get_extractor(e) for e in extractors]
    if not exts:
        raise ConfigError("no extractors given")
    for e in exts:
        ok, why = e.available()
        if not ok:
            raise ConfigError(why)
    t0 = time.perf_counter()
    report = Report(engine=engine, workers=workers)
    store.clean_tmp()
    tasks: list[tuple[int, list[Utterance]]] = []
    sources: dict[tuple[str, str], str] = {}
    for i, ext in enumerate(exts):
        st = ExtractorStats(ext.name, ext.signature(), total=len(utterances))
        report.stats[ext.name] = st
        todo: list[Utterance] = []
        for u in utterances:
            if not ext.applies_to(u):
                st.skipped += 1
                continue
            src = ext.source(u)
            sources[(ext.name, u.id)] = str(src) if ext.modality is not Modality.TEXT else "<text>"
            try:
                if store.path(ext, u).exists():
                    st.cached += 1
                    continue
            except FeatureError as e:  # e.g. the media file vanished: a failure, not a crash
                st.failed += 1
                report.failures.append(Failure(ext.name, u.id, sources[(ext.name, u.id)], str(e)))
                continue
            todo.append(u)
        size = chunk_size or (64 if ext.modality is Modality.TEXT else 8)
        tasks.extend((i, c) for c in _chunks(todo, size))
    n_todo = sum(len(c) for _, c in tasks)

    results: list[tuple[int, list[tuple[str, str | None]], float]] = []
    bar = _Progress(progress, n_todo, ", ".join(e.name for e in exts))
    with bar:
        if n_todo == 0:
            pass
        elif engine == "ray":
            results = _run_ray(exts, tasks, store, workers, bar)
        elif workers == 1:
            for i, chunk in tasks:
                t = time.perf_counter()
                res = run_chunk(_spec(exts[i]), str(store.root), chunk, bar.advance)
                results.append((i, res, time.perf_counter() - t))
        else:
            results = _run_pool(exts, tasks, store, workers, bar)

    for i, res, dt in results:
        st = report.stats[exts[i].name]
        st.seconds += dt
        for item, err in res:
            if err is None:
                st.computed += 1
            else:
                st.failed += 1
                report.failures.append(Failure(exts[i].name, item, sources[(exts[i].name, item)], err))
    if report.failures:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        store.record_failures([
            {"time": now, "signature": report.stats[f.extractor].signature, **asdict(f)}
            for f in report.failures
        ])
    report.seconds = time.perf_counter() - t0
    return report


def _run_pool(exts, tasks, store, workers, bar):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    out = []
    # spawn, not fork: torch/OpenMP state does not survive a fork safely
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                             initializer=_pool_init, initargs=(threads,)) as pool:
        futs = {}
        for i, chunk in tasks:
            futs[pool.submit(run_chunk, _spec(exts[i]), str(store.root), chunk)] = (i, chunk,
                                                                                  time.perf_counter())
        for fut in as_completed(futs):
            i, chunk, t = futs[fut]
            try:
                res = fut.result()
            except Exception as e:  # noqa: BLE001 — a crashed worker fails its chunk only
                res = [(u.id, f"worker crashed: {_err(e)}") for u in chunk]
            out.append((i, res, time.perf_counter() - t))
            bar.advance(len(chunk))
    return out


def _run_ray(exts, tasks, store, workers, bar):
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1", configure_logging=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_chunk)
        refs = {}
        for i, chunk in tasks:
            ref = remote.remote(_spec(exts[i]), str(store.root), chunk)
            refs[ref] = (i, chunk, time.perf_counter())
        out = []
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i, chunk, t = refs[ref]
                try:
                    res = ray.get(ref)
                except Exception as e:  # noqa: BLE001
                    res = [(u.id, f"ray task failed: {_err(e)}") for u in chunk]
                out.append((i, res, time.perf_counter() - t))
                bar.advance(len(chunk))
        return out
    finally:
        if started:
            ray.shutdown()


class _Progress:
    """The library's progress bar (:mod:`affectkit.progress`) over the items to extract."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        from affectkit.progress import progress

        self._p = progress(enabled and total > 0, transient=False)
        self.total, self.label = total, label

    def __enter__(self):
        self._p.__enter__()
        self._task = self._p.add_task(f"extracting {self.label}", total=self.total, status="")
        return self

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._task, n)

    def __exit__(self, *exc):
        self._p.__exit__(*exc)


# -- reading back ---------------------------------------------------------------------------


def load_features(
    utterances: Sequence[Utterance],
    extractor_names: Iterable[str | FeatureExtractor],
    store: FeatureStore | str | os.PathLike | None = None,
    *,
    pool: str | None = None,
    missing: str = "error",
) -> dict[Modality, list[np.ndarray | None]]:
    """Features per modality, aligned with ``utterances``.

    Several extractors of one modality are concatenated along the feature axis: utterance-level
    vectors end to end; frame sequences of equal ``frame_rate`` frame by frame (cut to the
    shorter); anything else needs ``pool``.

    Args:
        utterances: the items, in the order you want the lists.
        extractor_names: registry names or configured instances.
        store: the FeatureStore (or its folder) they were extracted into.
        pool: ``None`` keeps sequences; ``"mean" | "meanstd" | "max"`` turns each (T, D) into
            a vector.
        missing: ``"error"`` raises if any item lacks a feature; ``"none"`` puts ``None`` in its
            place (a missing modality for that item — mask it, don't zero it).

    Returns:
        ``{Modality: [array or None per utterance]}``.
    """
    if missing not in ("error", "none"):
        raise ConfigError(f"missing={missing!r}; expected 'error' or 'none'")
    if pool is not None and pool not in POOLS:
        raise ConfigError(f"pool={pool!r}; expected one of {POOLS} or None")
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    exts = [get_extractor(e) for e in extractor_names]
    by_mod: dict[Modality, list[FeatureExtractor]] = {}
    for e in exts:
        by_mod.setdefault(e.modality, []).append(e)
    out: dict[Modality, list[np.ndarray | None]] = {}
    absent: list[str] = []
    for mod, group in by_mod.items():
        seq = [e for e in group if e.level != "utterance"]
        if pool is None and seq and len(seq) != len(group):
            raise ConfigError(
                f"{mod}: cannot concatenate sequence extractors {[e.name for e in seq]} with "
                f"utterance-level ones {[e.name for e in group if e not in seq]}; pass pool="
            )
        if pool is None and len({(e.level, e.frame_rate) for e in seq}) > 1:
            raise ConfigError(f"{mod}: sequences {[e.name for e in seq]} differ in level/frame "
                              "rate; pass pool= or load them separately")
        rows: list[np.ndarray | None] = []
        for u in utterances:
            parts = []
            for e in group:
                if not e.applies_to(u):
                    parts = None
                    absent.append(f"{e.name}:{u.id} (no {e.modality} input)")
                    break
                try:
                    a = store.get(e, u)
                except FeatureError:
                    parts = None
                    absent.append(f"{e.name}:{u.id}")
                    break
                parts.append(pool_frames(a, pool) if pool else a)
            if parts is None:
                rows.append(None)
            elif len(parts) == 1:
                rows.append(parts[0])
            elif parts[0].ndim == 1:
                rows.append(np.concatenate(parts))
            else:
                t = min(len(p) for p in parts)
                rows.append(np.concatenate([p[:t] for p in parts], axis=1))
        out[mod] = rows
    if absent and missing == "error":
        raise FeatureError(
            f"{len(absent)} features missing from {store.root} (first: {', '.join(absent[:3])}); "
            "run `affect extract` for them, or pass missing='none' to get None placeholders"
        )
    return out
