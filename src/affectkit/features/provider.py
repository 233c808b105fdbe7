"""Features for training and evaluation: :func:`get_features`, always through the store.

A feature spec is one of

* a registered extractor name (``text.minilm``, ``audio.whisper``, ``vision.gray48`` …): computed
  into the :class:`~affectkit.features.FeatureStore` (which owns caching, resumability and
  failure records) and read back;
* ``"a+b"``: utterance vectors of several extractors side by side (frame sequences summarised by
  their mean and standard deviation first);
* a dialogue-context spec from :data:`CONTEXT` (``text.minilm_context``): an utterance's own
  embedding, the mean embedding of its previous turns, and a has-context flag.

:func:`speaker_normalise` z-scores features per speaker (the transductive protocol).
Failures are collected per item, never silently dropped: the caller sees which ids failed and
why.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.data.batch import pool_frames
from affectkit.errors import ConfigError, DataError
from affectkit.features.base import EXTRACTORS, get_extractor
from affectkit.features.runner import extract, load_features
from affectkit.features.store import FeatureStore
from affectkit.types import Utterance, group_dialogues

#: dialogue-context features: name → (base extractor, number of previous turns)
CONTEXT = {"text.minilm_context": ("text.minilm", 3)}


@dataclass
class FeatureResult:
    """``values``: id → array ((D,), (T, D) …); the signature; ``"id: reason"`` failures."""

    values: dict[str, np.ndarray]
    signature: str
    failures: list[str] = field(default_factory=list)


def known_specs() -> list[str]:
    return sorted(set(EXTRACTORS.names()) | set(CONTEXT))


def get_features(name: str, utts: list[Utterance], *, store: FeatureStore | str | Path | None = None,
                 progress: bool = True) -> FeatureResult:
    """Features of spec ``name`` for ``utts`` (computing and storing what is missing)."""
    if not isinstance(store, FeatureStore):
        store = FeatureStore(store)
    if "+" in name:
        return _joined(name, utts, store, progress)
    if name in CONTEXT:
        return _context(name, utts, store, progress)
    if name not in EXTRACTORS:
        close = difflib.get_close_matches(name, known_specs(), n=2)
        raise ConfigError(f"features: unknown extractor {name!r}"
                          + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
                          + f"; known: {', '.join(known_specs())}")
    ext = get_extractor(name)
    report = extract(utts, [ext], store, progress=progress)
    arrays = load_features(utts, [ext], store, missing="none")[ext.modality]
    values = {u.id: np.asarray(a) for u, a in zip(utts, arrays, strict=True) if a is not None}
    failures = [f"{f.item}: {f.error}" for f in report.failures]
    failed = {f.split(":", 1)[0] for f in failures}
    failures += [f"{u.id}: not in the feature store after extraction" for u in utts
                 if u.id not in values and u.id not in failed]
    return FeatureResult(values, ext.signature(), failures)


def _context(name: str, utts: list[Utterance], store: FeatureStore, progress: bool) -> FeatureResult:
    """[own embedding, mean embedding of the previous k turns of the dialogue, has-context flag].

    Causal (only earlier turns), so it is usable on a live conversation. Utterances without a
    dialogue id get a zero context and flag 0. (2·D + 1,)
    """
    base_name, k = CONTEXT[name]
    base = get_features(base_name, utts, store=store, progress=progress)
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


def _joined(name: str, utts: list[Utterance], store: FeatureStore, progress: bool) -> FeatureResult:
    """``"a+b"``: utterance vectors side by side; frame sequences → mean and sd first. (ΣD,)"""
    parts = [get_features(n.strip(), utts, store=store, progress=progress) for n in name.split("+")]
    common = set.intersection(*(set(p.values) for p in parts))
    out = {}
    for i in common:
        vecs = []
        for p in parts:
            a = np.asarray(p.values[i], np.float32)
            vecs.append(pool_frames(a, "meanstd") if a.ndim == 2 else a.ravel())
        out[i] = np.concatenate(vecs)
    return FeatureResult(out, "+".join(p.signature for p in parts),
                         [f for p in parts for f in p.failures])


def speaker_normalise(values: dict[str, np.ndarray], utts: list[Utterance]) -> dict[str, np.ndarray]:
    """Per-speaker z-score of (D,) vectors; sequences (T, D) use the speaker's frame stats."""
    by_spk: dict[str | None, list[str]] = {}
    for u in utts:
        if u.id in values:
            by_spk.setdefault(u.speaker, []).append(u.id)
    if None in by_spk:
        raise DataError(f"data.speaker_norm: {len(by_spk[None])} items have no speaker id")
    out = {}
    for ids in by_spk.values():
        stack = np.concatenate([np.atleast_2d(values[i]) for i in ids], 0)
        mu, sd = stack.mean(0), stack.std(0) + 1e-6
        for i in ids:
            out[i] = ((values[i] - mu) / sd).astype(np.float32)
    return out
