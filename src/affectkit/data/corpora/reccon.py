"""RECCON: Recognizing Emotion Cause in CONversations (Poria et al., 2021).

Layout: the release's ``data/original_annotation/`` files ``dailydialog_{train,valid,test}.json``
and ``iemocap_test.json``: ``{"<conversation id>": [[{"turn": 1, "speaker": "A",
"utterance": ..., "emotion": ..., "expanded emotion cause evidence": [1, "b", ...],
"expanded emotion cause span": [...], "type": [...]}, ...]]}``. Evidence entries are turn
numbers of cause utterances, or ``"b"`` for a latent cause outside the dialogue.

Two corpora share a root: ``reccon`` = the DailyDialog part with its official
train/valid/test (834 / 47 / 225 conversations), ``reccon-iemocap`` = the IEMOCAP part,
a test set only (16 conversations), kept separate because the literature reports it
separately (cross-domain evaluation).

Each utterance carries its emotion and, in ``causes``, one
:class:`~affectkit.types.CauseLink` per numeric evidence (``span`` = the matching span);
latent causes set ``meta["latent_cause"] = True``; the cause ``type`` list is in ``meta``.
Labels are kept as spelled. A few DailyDialog utterances use IEMOCAP-style spellings
(happy, sad, angry, surprised, excited): they are valid RECCON labels and are kept; the one
misspelling ``happines`` is read as ``happiness`` (``emotion_original`` stays as spelled).
Speakers are anonymous per conversation (``reccon/<part>/<conv>/A``), so no split is
speaker independent by construction — and none needs to be: there are no recurring speakers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import CauseLink, LabelSpace, Modality, Utterance

DD_LABELS = ("neutral", "happiness", "surprise", "anger", "sadness", "disgust", "fear")
IEMOCAP_LABELS = ("neutral", "happy", "sad", "angry", "excited", "frustrated")
# Spellings found in the release besides the two label sets (same meaning).
VARIANTS = {"happines": "happiness", "surprised": "surprise"}
KNOWN = set(DD_LABELS) | set(IEMOCAP_LABELS) | set(VARIANTS)


class _Reccon(Corpus):
    modalities = (Modality.TEXT,)
    shared_subdir = "text/reccon"
    official_split = True
    speaker_independent_split = None  # speakers are per conversation
    licence = "RECCON release terms (DailyDialog CC BY-NC-SA 4.0; IEMOCAP USC licence)"
    files: dict[str, str] = {}

    def scan(self) -> Iterator[Utterance | Issue]:
        present = {part: self.root / f for part, f in self.files.items()
                   if (self.root / f).is_file()}
        if not present:
            raise DataError(f"{self.title}: none of {', '.join(self.files.values())} under "
                            f"{self.root}; expected layout: {self.layout}")
        for part, fname in self.files.items():
            path = self.root / fname
            if part not in present:
                yield Issue(str(path), "split file missing", "file")
                continue
            try:
                convs = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as e:
                yield Issue(str(path), f"not JSON ({e})", "file")
                continue
            for cid, turns in convs.items():
                # Each conversation is a one-element list holding the list of turns.
                if turns and isinstance(turns[0], list):
                    turns = [t for group in turns for t in group]
                yield from self._conversation(path, part, cid, turns)

    def _conversation(self, path: Path, part: str, cid: str, turns: list
                      ) -> Iterator[Utterance | Issue]:
        split = {"train": "train", "valid": "valid"}.get(part, "test")
        uid = {t.get("turn"): self.uid(f"{part}/{cid}_{t.get('turn')}") for t in turns}
        for t in turns:
            where = f"{path}:{cid}.turn {t.get('turn')}"
            label = str(t.get("emotion", "")).strip()
            if label.lower() not in KNOWN:
                yield Issue(where, f"unknown emotion {label!r}", "emotion")
                continue
            if not isinstance(t.get("turn"), int) or not isinstance(t.get("utterance"), str):
                yield Issue(where, "turn is not an integer or no utterance text", "turn")
                continue
            evidence = t.get("expanded emotion cause evidence") or []
            spans = t.get("expanded emotion cause span") or []
            if len(spans) != len(evidence):
                spans = [None] * len(evidence)  # cannot tell which span goes where
            causes, latent = [], False
            for ev, span in zip(evidence, spans):
                if ev == "b":
                    latent = True
                elif isinstance(ev, int) and ev in uid:
                    causes.append(CauseLink(cause_id=uid[ev], emotion=label, span=span))
                else:
                    yield Issue(where, f"cause evidence {ev!r} is not a turn of {cid}",
                                "expanded emotion cause evidence")
            meta = {"conversation": cid, "part": part}
            if t.get("type"):
                meta["cause_type"] = list(t["type"])
            if latent:
                meta["latent_cause"] = True
            for k in ("explanation", "flag"):
                if t.get(k):
                    meta[k] = t[k]
            spelled = VARIANTS.get(label.lower(), label.lower())
            yield Utterance(
                id=uid[t["turn"]],
                corpus=self.name,
                split=split,
                speaker=f"{self.name}/{part}/{cid}/{t.get('speaker')}",
                text=t["utterance"].strip(),
                dialogue_id=f"{self.name}/{part}/{cid}",
                turn=t["turn"] - 1,
                emotion=canonical(spelled),
                emotion_original=label,
                causes=tuple(causes),
                meta=meta,
            )


@CORPORA.register()
class Reccon(_Reccon):
    name = "reccon"
    title = "RECCON (DailyDialog)"
    label_space = LabelSpace(emotions=DD_LABELS, causes=True)
    layout = "ROOT/dailydialog_{train,valid,test}.json (RECCON original_annotation)"
    files = {"train": "dailydialog_train.json", "valid": "dailydialog_valid.json",
             "test": "dailydialog_test.json"}


@CORPORA.register()
class RecconIemocap(_Reccon):
    name = "reccon-iemocap"
    title = "RECCON (IEMOCAP test)"
    label_space = LabelSpace(emotions=IEMOCAP_LABELS, causes=True)
    layout = "ROOT/iemocap_test.json (RECCON original_annotation)"
    files = {"test": "iemocap_test.json"}
    licence = "RECCON release terms (IEMOCAP USC licence)"
