"""Splits: official ones, and deterministic speaker-independent k-fold / leave-one-speaker-out.

Every :class:`Split` says whether it claims speaker independence; :func:`assert_speaker_independent`
raises :class:`SplitLeakError` if a speaker appears on two sides of a fold that claims it.
Validation sets are speaker-disjoint from test too, so model selection never sees a test speaker.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from affectkit.errors import ConfigError, DataError, SplitLeakError
from affectkit.types import Utterance

if TYPE_CHECKING:
    from affectkit.config import DataConfig


@dataclass
class Fold:
    name: str
    train: list[str]
    valid: list[str]
    test: list[str]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


@dataclass
class Split:
    """A protocol: one or more folds of utterance ids."""

    name: str
    folds: list[Fold]
    speaker_independent: bool
    protocol: str = ""
    meta: dict = field(default_factory=dict)
    # False when validation is carved from the training speakers (too few speakers for a
    # held-out validation group); test stays speaker-disjoint either way.
    valid_speaker_independent: bool = True

    def check(self, utterances: Sequence[Utterance]) -> None:
        """Raise if the split claims speaker independence and a speaker leaks."""
        if self.speaker_independent:
            for fold in self.folds:
                assert_speaker_independent(
                    fold, utterances, check_valid=self.valid_speaker_independent
                )


def assert_speaker_independent(
    fold: Fold, utterances: Sequence[Utterance], *, check_valid: bool = True
) -> None:
    spk = {u.id: u.speaker for u in utterances}
    sides = {}
    for side in ("train", "valid", "test"):
        ids = getattr(fold, side)
        missing = [i for i in ids if spk.get(i) is None]
        if missing:
            raise SplitLeakError(
                f"fold {fold.name!r}: {len(missing)} {side} items have no speaker id "
                f"(e.g. {missing[0]}); speaker independence cannot be verified"
            )
        sides[side] = {spk[i] for i in ids}
    pairs = [("train", "test"), ("valid", "test")] + ([("train", "valid")] if check_valid else [])
    for a, b in pairs:
        both = sides[a] & sides[b]
        if both:
            raise SplitLeakError(
                f"fold {fold.name!r} claims speaker independence but speakers "
                f"{sorted(both)[:5]} are in both {a} and {b}"
            )


def official_split(
    utterances: Sequence[Utterance],
    *,
    speaker_independent: bool = False,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> Split:
    """The corpus's own train/valid/test assignment (``Utterance.split``).

    If the corpus has no validation part, one is carved from train deterministically, by
    speaker (when speaker independence is claimed) or by dialogue/utterance otherwise.
    """
    parts: dict[str, list[str]] = defaultdict(list)
    for u in utterances:
        if u.split is None:
            raise DataError(f"{u.id}: no official split assignment; use speaker_kfold instead")
        parts[u.split].append(u.id)
    unknown = set(parts) - {"train", "valid", "test"}
    if unknown:
        raise DataError(f"unexpected split names {sorted(unknown)}; expected train/valid/test")
    train, valid, test = parts["train"], parts["valid"], parts["test"]
    if not valid and train:
        by_id = {u.id: u for u in utterances}
        key = (lambda i: by_id[i].speaker) if speaker_independent else (
            lambda i: by_id[i].dialogue_id or i
        )
        groups = sorted({key(i) for i in train})
        random.Random(seed).shuffle(groups)
        n_valid = max(1, round(len(groups) * valid_fraction))
        vgroups = set(groups[:n_valid])
        valid = [i for i in train if key(i) in vgroups]
        train = [i for i in train if key(i) not in vgroups]
    split = Split(
        "official",
        [Fold("official", train, valid, test)],
        speaker_independent=speaker_independent,
        protocol="official train/valid/test",
    )
    split.check(utterances)
    return split


def _speaker_groups(utterances: Sequence[Utterance], k: int, seed: int) -> list[list[str]]:
    counts = Counter(u.speaker for u in utterances)
    if None in counts:
        raise DataError(
            f"{counts[None]} utterances have no speaker id; speaker-independent folds need one"
        )
    speakers = sorted(counts)
    if len(speakers) < k:
        raise DataError(f"cannot make {k} speaker-disjoint folds from {len(speakers)} speakers")
    rng = random.Random(seed)
    rng.shuffle(speakers)
    # Greedy balance: biggest speaker first into the lightest group (stable for ties).
    speakers.sort(key=lambda s: -counts[s])
    groups: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for s in speakers:
        g = min(range(k), key=lambda j: (load[j], j))
        groups[g].append(s)
        load[g] += counts[s]
    return [sorted(g) for g in groups]


def speaker_kfold(utterances: Sequence[Utterance], k: int = 5, *, seed: int = 0) -> Split:
    """Deterministic speaker-disjoint k-fold: fold *i* tests group *i*, validates on group *i+1*."""
    groups = _speaker_groups(utterances, k, seed)
    return _folds_from_groups(utterances, groups, f"speaker-{k}fold", seed)


def leave_one_speaker_out(utterances: Sequence[Utterance], *, seed: int = 0) -> Split:
    """One fold per speaker: test on it, validate on the next speaker, train on the rest."""
    speakers = sorted({u.speaker for u in utterances if u.speaker is not None})
    if any(u.speaker is None for u in utterances):
        raise DataError("leave-one-speaker-out needs a speaker id on every utterance")
    return _folds_from_groups(utterances, [[s] for s in speakers], "loso", seed)


def _folds_from_groups(
    utterances: Sequence[Utterance], groups: list[list[str]], name: str, seed: int
) -> Split:
    by_spk: dict[str, list[str]] = defaultdict(list)
    for u in utterances:
        by_spk[u.speaker].append(u.id)  # type: ignore[index]
    k = len(groups)
    held_out_valid = k >= 3
    folds = []

    def ids(ss):
        return [x for s in sorted(ss) for x in by_spk[s]]

    for i in range(k):
        test_s = set(groups[i])
        valid_s = set(groups[(i + 1) % k]) if held_out_valid else set()
        train_s = {s for g in groups for s in g} - test_s - valid_s
        train, valid = ids(train_s), ids(valid_s)
        if not held_out_valid:
            # Too few speakers for a validation group: hold out 20% of the training
            # speakers' items (deterministic); test speakers stay unseen.
            rng = random.Random(seed + i)
            shuffled = sorted(train)
            rng.shuffle(shuffled)
            n_valid = max(1, len(shuffled) // 5)
            vset = set(shuffled[:n_valid])
            valid = [x for x in train if x in vset]
            train = [x for x in train if x not in vset]
        label = "+".join(sorted(test_s)) if len(test_s) == 1 else f"fold{i}"
        folds.append(Fold(label, train, valid, ids(test_s)))
    how = ("validation group i+1" if held_out_valid
           else "validation = 20% of the training speakers' items")
    split = Split(
        name,
        folds,
        speaker_independent=True,
        protocol=f"{name}: test group i, {how}, train the rest (seed {seed})",
        meta={"groups": groups},
        valid_speaker_independent=held_out_valid,
    )
    split.check(utterances)
    return split


def corpus_folds(utterances: Sequence[Utterance], *, valid_fraction: float = 0.1,
                 seed: int = 0) -> Split:
    """The corpus's own k-fold protocol (``meta["fold"]`` = the fold whose test part holds the
    item, e.g. the 10 folds of ECPE, Xia & Ding 2019).

    Fold k tests its items; ``valid_fraction`` of the *other* folds' documents (``dialogue_id``,
    else the item; seeded, the same documents for every training seed) validate — thresholds
    and epochs are chosen there, never on the test fold; the rest train. A document never
    sits on two sides (asserted). Not speaker independent: such corpora (news) have no speakers.
    """
    by_fold: dict[Any, list[Utterance]] = defaultdict(list)
    missing = [u.id for u in utterances if u.meta.get("fold") is None]
    if missing:
        raise DataError(f"split corpus_folds: {len(missing)} items have no meta['fold'] (e.g. "
                        f"{missing[0]}); this corpus has no folds of its own — use "
                        "split: kfold or official")
    for u in utterances:
        by_fold[u.meta["fold"]].append(u)
    if len(by_fold) < 2:
        raise DataError(f"split corpus_folds: only {len(by_fold)} fold in the data")
    doc = lambda u: str(u.dialogue_id or u.id)  # noqa: E731
    by_id = {u.id: u for u in utterances}
    folds = []
    for k in sorted(by_fold):
        test = [u.id for u in by_fold[k]]
        rest = [u for j in sorted(by_fold) if j != k for u in by_fold[j]]
        docs = sorted({doc(u) for u in rest})
        random.Random(f"{seed}/{k}").shuffle(docs)
        vdocs = set(docs[:max(1, round(len(docs) * valid_fraction))])
        fold = Fold(f"fold{k}", [u.id for u in rest if doc(u) not in vdocs],
                    [u.id for u in rest if doc(u) in vdocs], test)
        sides = {s: {doc(by_id[i]) for i in getattr(fold, s)} for s in ("train", "valid", "test")}
        for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
            if sides[a] & sides[b]:
                raise SplitLeakError(f"fold {fold.name}: documents {sorted(sides[a] & sides[b])[:3]}"
                                     f" are in both {a} and {b}")
        folds.append(fold)
    return Split("corpus_folds", folds, speaker_independent=False,
                 protocol=f"the corpus's own {len(folds)} folds: test fold k; validation = "
                          f"{valid_fraction:.0%} of the other folds' documents (seed {seed}); "
                          "train the rest; documents never split",
                 meta={"folds": sorted(by_fold)})


# --- the protocol named in a config -----------------------------------------------------------


def make_split(utts: list[Utterance], data: DataConfig) -> Split:
    """The protocol named in ``data.split``; speaker independence is asserted where claimed."""
    if data.split == "official":
        split = official_split(utts, valid_fraction=data.valid_fraction, seed=data.split_seed)
    elif data.split == "loso":
        split = leave_one_speaker_out(utts, seed=data.split_seed)
    elif data.split == "kfold":
        split = speaker_kfold(utts, data.folds, seed=data.split_seed)
    elif data.split == "speaker_pair":
        split = _speaker_pair(utts, data)
    elif data.split == "corpus_folds":
        split = corpus_folds(utts, valid_fraction=data.valid_fraction, seed=data.split_seed)
    else:  # validated earlier
        raise ConfigError(f"data.split={data.split!r}")
    if data.max_train:
        rng = random.Random(data.split_seed)
        for f in split.folds:
            if len(f.train) > data.max_train:
                f.train = sorted(rng.sample(f.train, data.max_train))
        split.protocol += f"; training subset of {data.max_train} items (seed {data.split_seed})"
    if data.limit:
        rng = random.Random(data.split_seed)
        for f in split.folds:
            for side in ("train", "valid", "test"):
                ids = getattr(f, side)
                if len(ids) > data.limit:
                    setattr(f, side, sorted(rng.sample(ids, data.limit)))
    return split


def _speaker_pair(utts: list[Utterance], data: DataConfig) -> Split:
    """Train on ``train_speakers`` (validation carved from their items), test on the rest.

    With one training speaker the validation part cannot be speaker-disjoint from training;
    what matters for the figure — no test speaker in train or validation — is asserted.
    """
    train_s = {s if "/" in s else f"{data.corpus}/{s}" for s in data.train_speakers or []}
    speakers = {u.speaker for u in utts}
    unknown = train_s - speakers
    if unknown:
        raise ConfigError(f"data.train_speakers {sorted(unknown)} not in {data.corpus}; "
                          f"speakers: {sorted(s for s in speakers if s)}")
    tr = [u.id for u in utts if u.speaker in train_s]
    te = [u.id for u in utts if u.speaker not in train_s]
    rng = random.Random(data.split_seed)
    shuffled = tr[:]
    rng.shuffle(shuffled)
    n_valid = max(1, round(len(tr) * data.valid_fraction))
    valid = set(shuffled[:n_valid])
    fold = Fold("+".join(sorted(train_s)) + "→rest", [i for i in tr if i not in valid],
                [i for i in tr if i in valid], te)
    spk = {u.id: u.speaker for u in utts}
    leak = {spk[i] for i in fold.test} & {spk[i] for i in fold.train + fold.valid}
    if leak:
        raise SplitLeakError(f"speaker_pair: test speakers {sorted(leak)} also in train/valid")
    return Split("speaker_pair", [fold], speaker_independent=False,
                 protocol=f"train on {sorted(train_s)}, test on the other speakers; valid = "
                          f"{data.valid_fraction:.0%} of the training items")
