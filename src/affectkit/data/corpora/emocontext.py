"""EmoContext (SemEval-2019 Task 3, Chatterjee et al. 2019): emotion of the last turn of a
3-turn chat (user – agent – user).

Layout: ``{train,valid,test}.txt``, tab-separated with header ``id turn1 turn2 turn3 label``
(CRLF line ends); labels happy, sad, angry, others. Shared counts: 30,160 / 2,755 / 5,509.

One utterance per conversation: the labelled third turn, ``text`` = turn 3,
``meta["context"]`` = [turn 1, turn 2] (turn 1 is the same user, turn 2 the agent),
``dialogue_id`` = the conversation, ``turn`` = 2 (0-based position of the labelled turn). This
keeps one labelled item per row, as the task scores it; models that want the context read
``meta["context"]``. ``others`` is kept as spelled (map it with ``map_to_canonical`` → neutral
only if you choose to). Users are anonymous: ``speaker`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("happy", "sad", "angry", "others")
SPLITS = {"train": "train", "valid": "valid", "test": "test"}
HEADER = ["id", "turn1", "turn2", "turn3", "label"]


@CORPORA.register()
class EmoContext(Corpus):
    name = "emocontext"
    title = "EmoContext (SemEval-2019 T3)"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = "ROOT/{train,valid,test}.txt (tab-separated: id turn1 turn2 turn3 label)"
    shared_subdir = "text/emocontext"
    official_split = True
    speaker_independent_split = False  # anonymous users
    licence = "SemEval-2019 Task 3 terms (research)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("train.txt")
        for part, split in SPLITS.items():
            path = self.root / f"{part}.txt"
            if not path.is_file():
                yield Issue(str(path), "split file missing", "file")
                continue
            # newline=None (universal newlines): the release files use CRLF.
            with path.open(encoding="utf-8") as f:
                header = f.readline().rstrip("\n").split("\t")
                if [h.strip().lower() for h in header] != HEADER:
                    yield Issue(f"{path}:1", f"header {header} is not {HEADER}", "columns")
                    continue
                for line_no, line in enumerate(f, start=2):
                    line = line.rstrip("\n")
                    if not line.strip():
                        continue
                    where = f"{path}:{line_no}"
                    parts = line.split("\t")
                    if len(parts) != 5:
                        yield Issue(where, f"expected 5 tab-separated fields, got {len(parts)}",
                                    "label")
                        continue
                    cid, t1, t2, t3, label = (p.strip() for p in parts)
                    if label not in LABELS:
                        yield Issue(where, f"unknown label {label!r} (expected "
                                    f"{', '.join(LABELS)})", "label")
                        continue
                    yield Utterance(
                        id=self.uid(f"{part}/{cid}"),
                        corpus=self.name,
                        split=split,
                        text=t3,
                        dialogue_id=f"emocontext/{part}/{cid}",
                        turn=2,
                        emotion=canonical(label),
                        emotion_original=label,
                        meta={"context": [t1, t2]},
                    )
