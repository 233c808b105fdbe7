"""Features for training and benchmarks: one function, :func:`get_features`.

It resolves an extractor name in this order:

1. a registered extractor (:data:`affectkit.features.EXTRACTORS`: ``text.minilm``,
   ``audio.logmel``, ``vision.fer`` ...) is computed with :func:`affectkit.features.extract`
   into the :class:`~affectkit.features.FeatureStore` (which owns caching and failure records)
   and read back with :func:`affectkit.features.load_features`;
2. the few model-input "extractors" defined below that are not features in the store's sense:
   ``vision.gray48`` (pixels for CNNs trained end-to-end), ``text.token_ids`` (MiniLM word
   pieces for fine-tuned text encoders) and ``audio.functionals`` (utterance-level acoustic
   statistics for the classical baselines, used until the features package ships one).

Failures are collected per item (never silently dropped): the caller sees which ids failed
and why. Cache: ``$AFFECTKIT_CACHE`` or ``~/.cache/affectkit``, under ``train-features/``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.errors import AffectkitError, ConfigError
from affectkit.types import Modality, Utterance

LOCAL_VERSION = "1"


@dataclass
class FeatureResult:
    values: dict[str, np.ndarray]
    signature: str
    failures: list[str] = field(default_factory=list)


def cache_root() -> Path:
    env = os.environ.get("AFFECTKIT_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "affectkit"
    return base / "train-features"


# --- local model-input extractors ------------------------------------------------------------


def _gray48(utts: list[Utterance]) -> list[np.ndarray]:
    import cv2

    out = []
    for u in utts:
        img = _read_gray(u)
        if img.shape != (48, 48):
            img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
        out.append((img.astype(np.float32) / 255.0)[None])
    return out


def _read_gray(u: Utterance) -> np.ndarray:
    if u.corpus == "fer2013":
        from affectkit.data.corpora.fer2013 import load_image as fer_load

        img = np.asarray(fer_load(u))
        if img.ndim == 3:
            img = img.mean(-1)
        return img.astype(np.uint8)
    from affectkit.media import load_image

    if Modality.VISION not in u.media:
        raise AffectkitError(f"{u.id}: no image")
    return load_image(u.media[Modality.VISION], gray=True)


def _token_ids(utts: list[Utterance]) -> list[np.ndarray]:
    from affectkit.models.text import load_tokenizer

    tok = load_tokenizer()
    enc = tok([u.text or "" for u in utts], truncation=True, max_length=128)
    return [np.asarray(ids, np.int64) for ids in enc["input_ids"]]


def _functionals(utts: list[Utterance]) -> list[np.ndarray]:
    from affectkit.media import load_audio

    return [acoustic_functionals(load_audio(u.media[Modality.AUDIO], sr=16000, start=u.start,
                                            end=u.end)) for u in utts]


def acoustic_functionals(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    """Utterance-level acoustic statistics (204 values) of a 16 kHz waveform.

    MFCC 1–20 and their deltas (mean, sd), spectral centroid/bandwidth/roll-off/flatness,
    zero-crossing rate, RMS (mean, sd), 7-band spectral contrast (mean, sd), F0 by YIN on
    voiced frames (mean, sd, 5th/50th/95th percentile, voiced ratio), loudness percentiles and
    duration — a librosa re-creation in the spirit of eGeMAPS/IS09 sets.
    """
    import librosa

    x = np.asarray(x, np.float32)
    if len(x) < sr // 10:
        x = np.pad(x, (0, sr // 10 - len(x)))
    hop = 160
    S = np.abs(librosa.stft(x, n_fft=512, hop_length=hop, win_length=400)) ** 2
    mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=40)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    d = librosa.feature.delta(mfcc, width=3 if mfcc.shape[1] < 9 else 9)
    spec = [librosa.feature.spectral_centroid(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_bandwidth(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_rolloff(S=np.sqrt(S), sr=sr),
            librosa.feature.spectral_flatness(S=np.sqrt(S)),
            librosa.feature.zero_crossing_rate(x, frame_length=400, hop_length=hop)]
    rms = librosa.feature.rms(S=np.sqrt(S), frame_length=512)
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(S), sr=sr)
    f0 = librosa.yin(x, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=hop)
    n = min(len(f0), rms.shape[1])
    loud = 20 * np.log10(rms[0, :n] + 1e-5)
    voiced = loud > (loud.max() - 35)
    fv = np.log(f0[:n][voiced]) if voiced.any() else np.zeros(1)
    parts = [mfcc.mean(1), mfcc.std(1), d.mean(1), d.std(1)]
    for s in spec:
        parts += [s.mean(1), s.std(1)]
    parts += [rms.mean(1), rms.std(1), contrast.mean(1), contrast.std(1)]
    parts.append(np.array([fv.mean(), fv.std(), *np.percentile(fv, [5, 50, 95]), voiced.mean()]))
    parts.append(np.array([*np.percentile(loud, [10, 50, 90]), np.log(len(x) / sr)]))
    return np.concatenate([np.ravel(p) for p in parts]).astype(np.float32)


LOCAL: dict[str, tuple[Callable[[list[Utterance]], list[np.ndarray]], int]] = {
    # name: (function over a batch of utterances, batch size)
    "vision.gray48": (_gray48, 256),
    "text.token_ids": (_token_ids, 512),
    "audio.functionals": (_functionals, 16),
}


# --- resolution and cache --------------------------------------------------------------------


def _resolve(name: str):
    """(signature, batch function, batch size) for an extractor name."""
    try:
        from affectkit.features.base import EXTRACTORS, get_extractor
    except ImportError:  # features package absent
        EXTRACTORS = None  # noqa: N806
    if EXTRACTORS is not None and name in EXTRACTORS:
        ext = get_extractor(name)
        sig = ext.signature()
        if ext.modality is Modality.TEXT:
            return sig, ext.process_utterances, 256
        return sig, ext.process_utterances, 8
    if name in LOCAL:
        fn, bs = LOCAL[name]
        sig = f"{name}-local{LOCAL_VERSION}"
        return sig, fn, bs
    known = sorted(set(LOCAL) | (set(EXTRACTORS.names()) if EXTRACTORS is not None else set()))
    import difflib

    close = difflib.get_close_matches(name, known, n=2)
    raise ConfigError(f"features: unknown extractor {name!r}"
                      + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
                      + f"; known: {', '.join(known)}")


def _cache_file(sig: str, corpus: str) -> Path:
    return cache_root() / sig / f"{corpus}.npz"


def _load_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    z = np.load(path, allow_pickle=False)
    ids = json.loads(bytes(z["ids"]).decode())
    offs, shapes = z["offsets"], json.loads(bytes(z["shapes"]).decode())
    flat = z["data"]
    return {i: flat[offs[k]:offs[k + 1]].reshape(shapes[k]) for k, i in enumerate(ids)}


def _save_cache(path: Path, values: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = sorted(values)
    arrs = [np.asarray(values[i]) for i in ids]
    dtype = np.int64 if all(a.dtype.kind in "iu" for a in arrs) else np.float32
    offs = np.cumsum([0] + [a.size for a in arrs])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=np.frombuffer(json.dumps(ids).encode(), np.uint8),
             shapes=np.frombuffer(json.dumps([list(a.shape) for a in arrs]).encode(), np.uint8),
             offsets=offs, data=np.concatenate([a.ravel().astype(dtype) for a in arrs])
             if arrs else np.zeros(0, dtype))
    tmp.replace(path)


def get_features(name: str, utts: list[Utterance], *, corpus: str | None = None,
                 progress: bool = True, cache: bool = True) -> FeatureResult:
    """Features of extractor ``name`` for ``utts`` (computing and caching what is missing).

    Returns:
        :class:`FeatureResult`: ``values`` id → array ((D,) or (T, D) or (1, 48, 48) or token
        ids (L,)), the extractor signature, and ``failures`` (``"id: reason"`` strings).
    """
    if "+" in name:
        return _joined(name, utts, corpus=corpus, progress=progress, cache=cache)
    if name in CONTEXT:
        return _context(name, utts, corpus=corpus, progress=progress, cache=cache)
    sig, fn, bs = _resolve(name)
    corpus = corpus or (utts[0].corpus if utts else "none")
    if name not in LOCAL and cache:
        return _from_store(name, sig, utts, progress)
    path = _cache_file(sig, corpus)
    have = _load_cache(path) if cache else {}
    todo = [u for u in utts if u.id not in have]
    failures: list[str] = []
    if todo:
        from affectkit.training import _progress

        prog = _progress(progress)
        with prog:
            tid = prog.add_task(f"{name} · {corpus}", total=len(todo), status="")
            for i in range(0, len(todo), bs):
                chunk = todo[i:i + bs]
                try:
                    outs = fn(chunk)
                    for u, o in zip(chunk, outs, strict=True):
                        have[u.id] = np.asarray(o)
                except Exception:  # noqa: BLE001  — retry one by one to isolate bad items
                    for u in chunk:
                        try:
                            have[u.id] = np.asarray(fn([u])[0])
                        except Exception as e:  # noqa: BLE001
                            failures.append(f"{u.id}: {type(e).__name__}: {e}")
                prog.update(tid, advance=len(chunk))
                if cache and (i // bs) % 50 == 49:
                    _save_cache(path, have)  # resumable extraction
        if cache:
            _save_cache(path, have)
    ids = {u.id for u in utts}
    return FeatureResult({i: v for i, v in have.items() if i in ids}, sig, failures)


#: dialogue-context features: name → (base extractor, number of previous turns)
CONTEXT = {"text.minilm_context": ("text.minilm", 3)}


def _context(name: str, utts: list[Utterance], **kw) -> FeatureResult:
    """[own embedding, mean embedding of the previous k turns of the dialogue, has-context flag].

    Causal (only earlier turns), so it is usable on a live conversation. Utterances without a
    dialogue id get a zero context and flag 0. (2·D + 1,)
    """
    from affectkit.types import group_dialogues

    base_name, k = CONTEXT[name]
    base = get_features(base_name, utts, **kw)
    prev: dict[str, list[str]] = {}
    for d in group_dialogues(utts):
        ids = [u.id for u in d.utterances]
        for j, i in enumerate(ids):
            prev[i] = [p for p in ids[max(0, j - k):j] if p in base.values]
    out = {}
    for u in utts:
        if u.id not in base.values:
            continue
        e = base.values[u.id].astype(np.float32)
        ps = prev.get(u.id, [])
        ctx = np.mean([base.values[p] for p in ps], 0) if ps else np.zeros_like(e)
        out[u.id] = np.concatenate([e, ctx.astype(np.float32), [float(bool(ps))]])
    return FeatureResult(out, f"{name}-k{k}-{base.signature}", base.failures)


def _joined(name: str, utts: list[Utterance], **kw) -> FeatureResult:
    """``"a+b"``: utterance vectors of several extractors side by side; frame sequences are
    summarised by their mean and standard deviation first. (ΣD,)"""
    parts = [get_features(n.strip(), utts, **kw) for n in name.split("+")]
    common = set.intersection(*(set(p.values) for p in parts))
    out = {}
    for i in common:
        vecs = []
        for p in parts:
            a = np.asarray(p.values[i], np.float32)
            vecs.append(np.concatenate([a.mean(0), a.std(0)]) if a.ndim == 2 else a.ravel())
        out[i] = np.concatenate(vecs)
    return FeatureResult(out, "+".join(p.signature for p in parts),
                         [f for p in parts for f in p.failures])


def _from_store(name: str, sig: str, utts: list[Utterance], progress: bool) -> FeatureResult:
    """Registered extractors go through the feature store (it owns caching and failures)."""
    from affectkit.features import FeatureStore, extract, get_extractor, load_features

    store = FeatureStore()
    report = extract(utts, [name], store, progress=progress)
    ext = get_extractor(name)
    arrays = load_features(utts, [name], store, missing="none")[ext.modality]
    values = {u.id: np.asarray(a) for u, a in zip(utts, arrays, strict=True) if a is not None}
    failures = [f"{f.item}: {f.error}" for f in report.failures]
    missing = [u.id for u, a in zip(utts, arrays, strict=True) if a is None]
    failures += [f"{i}: not in the feature store after extraction" for i in missing
                 if not any(f.startswith(i + ":") for f in failures)]
    return FeatureResult(values, sig, failures)


def digest(values: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for k in sorted(values):
        h.update(k.encode())
        h.update(np.ascontiguousarray(values[k]).tobytes())
    return h.hexdigest()[:12]
