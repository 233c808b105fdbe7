"""ECF: Emotion-Cause-in-Friends (Wang et al., 2022), as released for SemEval-2024 Task 3
(ECF 2.0: the whole ECF 1.0 as training data plus a new annotated test set).

Layout: ``Subtask_1_{train,test}.json`` (``Subtask_2_*.json``, which add ``video_name`` per
utterance and give causes without spans, are read when the Subtask 1 files are absent): a
list of conversations ``{"conversation_ID", "conversation": [{"utterance_ID", "text",
"speaker", "emotion"}], "emotion-cause_pairs": [["3_surprise", "1_<cause span>"], ...]}``.
Shared counts: 1,374 / 341 conversations (13,619 / 3,101 utterances).

Each utterance gets its emotion (7 labels, MELD's) and, in ``causes``, one
:class:`~affectkit.types.CauseLink` per pair whose emotion utterance it is: ``cause_id`` = the
id of the cause utterance, ``span`` = the causal span (Subtask 1). ``turn`` is 0-based
(``utterance_ID - 1``). Official split train/test; no validation part (``official_split``
carves one by conversation). Speakers are Friends characters, shared across the split, so
the split is not speaker independent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import CauseLink, LabelSpace, Modality, Utterance

EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")


@CORPORA.register()
class Ecf(Corpus):
    name = "ecf"
    title = "ECF 2.0 (SemEval-2024 Task 3)"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=EMOTIONS, causes=True)
    layout = "ROOT/Subtask_1_{train,test}.json (or Subtask_2_{train,test}.json)"
    shared_subdir = "text/ecf"
    official_split = True
    speaker_independent_split = False
    licence = "GPL-3.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        task = next((t for t in ("Subtask_1", "Subtask_2")
                     if (self.root / f"{t}_train.json").is_file()), None)
        if task is None:
            raise DataError(f"{self.title}: no Subtask_1_train.json (or Subtask_2_train.json) "
                            f"under {self.root}; expected layout: {self.layout}")
        for part in ("train", "test"):
            path = self.root / f"{task}_{part}.json"
            if not path.is_file():
                yield Issue(str(path), "split file missing", "file")
                continue
            try:
                convs = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as e:
                yield Issue(str(path), f"not JSON ({e})", "file")
                continue
            for c_no, conv in enumerate(convs):
                yield from self._conversation(path, c_no, conv, part)

    def _conversation(self, path: Path, c_no: int, conv: dict, split: str
                      ) -> Iterator[Utterance | Issue]:
        where = f"{path}:[{c_no}]"
        cid = conv.get("conversation_ID")
        utts = conv.get("conversation")
        if cid is None or not isinstance(utts, list):
            yield Issue(where, "no conversation_ID / conversation list", "conversation")
            return
        ids = {u.get("utterance_ID"): self.uid(f"{cid}_{u.get('utterance_ID')}") for u in utts}
        links: dict[int, list[CauseLink]] = {}
        for pair in conv.get("emotion-cause_pairs") or []:
            try:
                emo_part, cause_part = pair
                e_idx, _, e_emo = emo_part.partition("_")
                c_idx, _, span = cause_part.partition("_")
                e_idx, c_idx = int(e_idx), int(c_idx)
            except (ValueError, TypeError, AttributeError):
                yield Issue(f"{where}.emotion-cause_pairs", f"pair {pair!r} is not "
                            "['<n>_<emotion>', '<n>[_<span>]']", "emotion-cause_pairs")
                continue
            if e_idx not in ids or c_idx not in ids:
                yield Issue(f"{where}.emotion-cause_pairs", f"pair {pair!r} names an utterance "
                            f"outside 1..{len(utts)}", "emotion-cause_pairs")
                continue
            links.setdefault(e_idx, []).append(
                CauseLink(cause_id=ids[c_idx], emotion=e_emo or None, span=span or None))
        for u in utts:
            uw = f"{where}.utterance {u.get('utterance_ID')}"
            emo, uid = (u.get("emotion") or "").strip().lower(), u.get("utterance_ID")
            if emo not in EMOTIONS:
                yield Issue(uw, f"unknown emotion {u.get('emotion')!r}", "emotion")
                continue
            if not isinstance(uid, int) or not isinstance(u.get("text"), str):
                yield Issue(uw, "utterance_ID not an integer or no text", "utterance_ID")
                continue
            meta = {"conversation_ID": cid}
            if u.get("video_name"):
                meta["video_name"] = u["video_name"]
            yield Utterance(
                id=ids[uid],
                corpus=self.name,
                split=split,
                speaker=f"ecf/{str(u.get('speaker', '')).strip()}" if u.get("speaker") else None,
                text=u["text"].strip(),
                dialogue_id=f"ecf/{cid}",
                turn=uid - 1,
                emotion=canonical(emo),
                emotion_original=emo,
                causes=tuple(links.get(uid, ())),
                meta=meta,
            )
