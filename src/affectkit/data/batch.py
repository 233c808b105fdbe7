"""Batches: model inputs per modality, targets and ids, built per the task's sample unit.

:func:`collate` turns per-utterance features (id → array, per modality) into a :class:`Batch`:

* ``unit="utterance"``: one row per utterance; the model's input kind per modality decides the
  form — ``vector`` (sequences mean-pooled), ``sequence`` (centre-cropped/zero-padded to
  ``max_frames`` with lengths), ``image`` ((N, C, H, W); flat square images are reshaped to
  (N, 1, S, S)), ``tokens`` ((N, L) ids with attention masks, cut to ``max_tokens``);
* ``unit="dialogue"``: one row per conversation (``groups``: the utterance ids of each dialogue
  in order); each utterance is summarised as a vector and the dialogue becomes a (T, D)
  sequence with its length; targets are (N, T[, ...]) padded with ``pad_value`` and
  ``target_lengths`` says how many utterances each row holds.

Modalities are dictionary keys, never positions; a missing modality is a missing key or a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from affectkit.errors import ConfigError
from affectkit.types import Modality

UNITS = ("utterance", "dialogue")


@dataclass
class Batch:
    """An in-memory split or batch.

    Attributes:
        inputs: per modality, (N, ...) tensors (see ``AffectModel.input_kinds``).
        target: (N,) class ids / scores, (N, L) multi-label / dimensional targets, or
            (N, T[, ...]) per-utterance targets of dialogue rows (padded).
        ids: N sample ids (utterance ids, or dialogue ids for dialogue rows).
        lengths: per modality (N,) valid lengths of padded sequences.
        masks: per modality (N, L) attention masks (tokens) or presence masks.
        target_lengths: (N,) valid target positions per row (dialogue unit), else ``None``.
        item_ids: per row, the utterance ids it holds (dialogue unit), else ``None``.
        speakers: per row, the speaker (subject) id of the utterance, ``None`` where the corpus
            names none (utterance unit, when the caller knows speakers), else ``None``.
            Subject-aware strategies (``suci``) read it; models never do.
    """

    inputs: dict[Modality, torch.Tensor]
    target: torch.Tensor
    ids: list[str]
    lengths: dict[Modality, torch.Tensor] = field(default_factory=dict)
    masks: dict[Modality, torch.Tensor] = field(default_factory=dict)
    target_lengths: torch.Tensor | None = None
    item_ids: list[list[str]] | None = None
    speakers: list[str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.speakers is not None and len(self.speakers) != n:
            raise ValueError(f"Batch.speakers has {len(self.speakers)} rows, ids has {n}")
        for name, d in (("inputs", self.inputs), ("lengths", self.lengths), ("masks", self.masks)):
            for m, t in d.items():
                if len(t) != n:
                    raise ValueError(f"Batch.{name}[{m}] has {len(t)} rows, ids has {n}")
        if len(self.target) != n:
            raise ValueError(f"Batch.target has {len(self.target)} rows, ids has {n}")

    def __len__(self) -> int:
        return len(self.ids)

    def replace(self, **changes: Any) -> Batch:
        """A copy with some fields changed (inputs/lengths/masks dicts are not shared)."""
        kw = {"inputs": dict(self.inputs), "target": self.target, "ids": self.ids,
              "lengths": dict(self.lengths), "masks": dict(self.masks),
              "target_lengths": self.target_lengths, "item_ids": self.item_ids,
              "speakers": self.speakers}
        kw.update(changes)
        return Batch(**kw)

    def take(self, idx: Sequence[int] | torch.Tensor, trim: bool = True) -> Batch:
        """Rows ``idx``. With ``trim``, padded sequences/tokens (and dialogue targets) are cut
        to the longest item of the batch (a batch of short sentences should not pay for the
        corpus's longest one)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        inputs = {m: t[idx_t] for m, t in self.inputs.items()}
        lengths = {m: t[idx_t] for m, t in self.lengths.items()}
        masks = {m: t[idx_t] for m, t in self.masks.items()}
        target = self.target[idx_t]
        tl = self.target_lengths[idx_t] if self.target_lengths is not None else None
        if trim:
            for m, L in lengths.items():
                if len(L) and inputs[m].dim() >= 2:
                    inputs[m] = inputs[m][:, :max(1, int(L.max()))]
            for m, mk in masks.items():
                if len(mk) and mk.dim() == 2 and inputs[m].dim() == 2:
                    n = max(1, int(mk.sum(1).max()))
                    inputs[m], masks[m] = inputs[m][:, :n], mk[:, :n]
            if tl is not None and len(tl):
                target = target[:, :max(1, int(tl.max()))]
        rows = idx_t.tolist()
        items = [self.item_ids[i] for i in rows] if self.item_ids is not None else None
        spk = [self.speakers[i] for i in rows] if self.speakers is not None else None
        return Batch(inputs, target, [self.ids[i] for i in rows], lengths, masks, tl, items,
                     spk)

    def vectors(self) -> np.ndarray:
        """All vector inputs concatenated (modality order), for scikit-learn models. (N, ΣD)"""
        return pool_vectors(self.inputs, self.lengths)


def pool_vectors(inputs: dict[Modality, torch.Tensor],
                 lengths: dict[Modality, torch.Tensor] | None = None) -> np.ndarray:
    """Inputs per modality → one (N, ΣD) matrix in modality order; sequences are mean+std
    pooled over their valid frames."""
    lengths = lengths or {}
    parts = []
    for m in sorted(inputs, key=lambda m: m.value):
        t = inputs[m]
        if t.dim() == 3:
            L = lengths.get(m)
            mask = (torch.arange(t.shape[1])[None, :] < L[:, None]).float() if L is not None \
                else torch.ones(t.shape[:2])
            denom = mask.sum(1, keepdim=True).clamp(min=1)
            mean = (t * mask[..., None]).sum(1) / denom
            var = (((t - mean[:, None]) ** 2) * mask[..., None]).sum(1) / denom
            t = torch.cat([mean, var.sqrt()], -1)
        parts.append(t.reshape(len(t), -1).float().numpy())
    return np.concatenate(parts, axis=1)


POOLS = ("mean", "meanstd", "max")


def pool_frames(x: np.ndarray, how: str) -> np.ndarray:
    """The one pooling rule for NumPy features: (T, D) → (D,) ``mean`` / ``max``, or (2D,)
    ``meanstd``; a (D,) input is returned as is. (:func:`pool_vectors` is the same ``meanstd``
    rule on padded tensors, counting valid frames only.)"""
    if x.ndim == 1:
        return x
    if how == "mean":
        return x.mean(axis=0)
    if how == "max":
        return x.max(axis=0)
    if how == "meanstd":
        return np.concatenate([x.mean(axis=0), x.std(axis=0)])
    raise ConfigError(f"pool={how!r}; expected one of {POOLS} or None")


def _vector(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return pool_frames(a, "mean") if a.ndim == 2 else a.reshape(-1)


def _image(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    if a.ndim == 1:  # a flat square grey image (vision.gray48 stores (2304,))
        s = int(round(np.sqrt(a.size)))
        if s * s != a.size:
            raise ConfigError(f"image input of {a.size} values is not a flat square image")
        return a.reshape(1, s, s)
    return a if a.ndim == 3 else a[None]


def collate(ids: Sequence[str], feats: dict[Modality, dict[str, Any]], kinds: dict[Modality, str],
            y: np.ndarray, *, unit: str = "utterance", groups: Sequence[Sequence[str]] | None = None,
            pad_value: float = -100, max_frames: int = 600, max_tokens: int = 64,
            speakers: dict[str, str | None] | None = None, speaker_slots: int = 0) -> Batch:
    """Stack per-utterance features into a :class:`Batch` (see the module docstring).

    Args:
        ids: utterance ids (``unit="utterance"``), or dialogue ids (``unit="dialogue"``).
        feats: per modality, utterance id → array.
        kinds: per modality, the model's input kind.
        y: targets: one row per utterance id (utterance unit), or, for the dialogue unit, one
            row per utterance of ``groups`` flattened in order.
        groups: dialogue unit only: the utterance ids of each dialogue, in order.
        speakers: utterance id → speaker (``None``: unknown). Utterance unit: fills
            :attr:`Batch.speakers` (left ``None`` when not given). Dialogue unit: read for
            ``speaker_slots``.
        speaker_slots: dialogue unit only: with k > 0 every utterance vector gets a one-hot (k,)
            of its speaker's slot (order of first appearance in the dialogue; further speakers
            share slot k).
    """
    if unit == "dialogue":
        return _collate_dialogues(ids, groups, feats, kinds, y, pad_value,
                                  speakers or {}, speaker_slots)
    if unit != "utterance":
        raise ConfigError(f"task unit {unit!r}; allowed: {', '.join(UNITS)}")
    inputs, lengths, masks = {}, {}, {}
    for m, per in feats.items():
        arrs = [per[i] for i in ids]
        kind = kinds[m]
        if kind == "vector":
            inputs[m] = torch.from_numpy(np.stack([_vector(a) for a in arrs]).astype(np.float32))
        elif kind == "sequence":
            # an utterance-level vector (D,) is a one-frame sequence (1, D)
            arrs = [a[None] if np.ndim(a) == 1 else a for a in arrs]
            d = arrs[0].shape[-1]
            T = min(max_frames, max(a.shape[0] for a in arrs))
            x = np.zeros((len(arrs), T, d), np.float32)
            L = np.zeros(len(arrs), np.int64)
            for r, a in enumerate(arrs):
                if a.shape[0] > T:
                    s = (a.shape[0] - T) // 2
                    a = a[s:s + T]
                x[r, :a.shape[0]] = a
                L[r] = a.shape[0]
            inputs[m], lengths[m] = torch.from_numpy(x), torch.from_numpy(L)
        elif kind == "image":
            inputs[m] = torch.from_numpy(np.stack([_image(a) for a in arrs]))
        elif kind == "tokens":
            Lmax = min(max_tokens, max(len(np.ravel(a)) for a in arrs))
            x = np.zeros((len(arrs), Lmax), np.int64)
            mk = np.zeros((len(arrs), Lmax), np.int64)
            for r, a in enumerate(arrs):
                a = np.ravel(a).astype(np.int64)[:Lmax]
                x[r, :len(a)] = a
                mk[r, :len(a)] = 1
            inputs[m], masks[m] = torch.from_numpy(x), torch.from_numpy(mk)
        else:
            raise ConfigError(f"unknown input kind {kind!r} for {m}")
    spk = [speakers.get(i) for i in ids] if speakers is not None else None
    return Batch(inputs, torch.from_numpy(np.asarray(y)), list(ids), lengths, masks,
                 speakers=spk)


def speaker_onehots(group: Sequence[str], speakers: dict[str, str | None], k: int) -> np.ndarray:
    """(T, k) one-hot speaker slots of a dialogue (first appearance order; slot k−1 shared by
    the k-th and later speakers; an unknown speaker is a speaker of its own)."""
    slots: dict[str, int] = {}
    out = np.zeros((len(group), k), np.float32)
    for t, i in enumerate(group):
        spk = speakers.get(i) or f"?{i}"
        slots.setdefault(spk, min(len(slots), k - 1))
        out[t, slots[spk]] = 1.0
    return out


def _collate_dialogues(ids, groups, feats, kinds, y, pad_value, speakers, speaker_slots) -> Batch:
    if groups is None or len(groups) != len(ids):
        raise ConfigError("dialogue unit: pass groups (the utterance ids of each dialogue)")
    y = np.asarray(y)
    if sum(len(g) for g in groups) != len(y):
        raise ConfigError(f"dialogue unit: {len(y)} targets for "
                          f"{sum(len(g) for g in groups)} utterances")
    T = max(len(g) for g in groups)
    n = len(groups)
    inputs, lengths = {}, {}
    L = torch.tensor([len(g) for g in groups], dtype=torch.long)
    for m, per in feats.items():
        if kinds[m] not in ("vector", "sequence"):
            raise ConfigError(f"dialogue unit: {m} input kind {kinds[m]!r}; dialogue models read "
                              "one vector per utterance")
        d = _vector(per[groups[0][0]]).shape[-1]
        x = np.zeros((n, T, d + speaker_slots), np.float32)
        for r, g in enumerate(groups):
            for t, i in enumerate(g):
                x[r, t, :d] = _vector(per[i])
            if speaker_slots:
                x[r, :len(g), d:] = speaker_onehots(g, speakers, speaker_slots)
        inputs[m], lengths[m] = torch.from_numpy(x), L.clone()
    tgt = np.full((n, T, *y.shape[1:]), pad_value, dtype=y.dtype)
    k = 0
    for r, g in enumerate(groups):
        tgt[r, :len(g)] = y[k:k + len(g)]
        k += len(g)
    return Batch(inputs, torch.from_numpy(tgt), list(ids), lengths, {}, L,
                 [list(g) for g in groups])
