"""EmoEvent (Plaza-del-Arco et al., LREC 2020): tweets about events of April 2019, English and
Spanish, one of Ekman's six emotions or ``others`` per tweet, plus an offensive flag.

Layout (the release's ``splits/`` folder): ``splits/<lang>/{train,dev,test}.tsv``, tab-separated
with header ``id event tweet offensive emotion``. Shared counts: en 5,112 / 744 / 1,447;
es 5,723 / 844 (the Spanish test part is kept out of the shared copy, so ``emoevent-es`` has
train and valid only). Registered as ``emoevent`` (English) and ``emoevent-es`` (Spanish).

Labels as spelled in ``emotion_original``; ``emotion`` canonical for the six Ekman labels
(joy → happy ...); ``others`` ("neutral or other emotions") is kept as spelled — map it with
``map_to_canonical`` (→ neutral) only if you choose to. ``meta``: ``event``, ``offensive``
(bool), ``lang``. Tweet authors are not given: ``speaker`` is ``None``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "others")
SPLITS = {"train": "train", "dev": "valid", "test": "test"}
HEADER = ["id", "event", "tweet", "offensive", "emotion"]


@CORPORA.register()
class EmoEvent(Corpus):
    name = "emoevent"
    title = "EmoEvent (English)"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = "ROOT/splits/<lang>/{train,dev,test}.tsv (id event tweet offensive emotion)"
    shared_subdir = "text/emoevent"
    official_split = True
    speaker_independent_split = False  # authors unknown
    licence = "research use (EmoEvent terms)"
    language = "en"

    def scan(self) -> Iterator[Utterance | Issue]:
        lang = self.language
        folder = self.root / "splits" / lang
        if not folder.is_dir() and (self.root / "train.tsv").is_file():
            folder = self.root  # a flat copy of one language's split files
        self.require(str((folder / "train.tsv").relative_to(self.root)))
        for part, split in SPLITS.items():
            path = folder / f"{part}.tsv"
            if not path.is_file():
                if part != "test" or lang == "en":
                    yield Issue(str(path), "split file missing", "file")
                continue
            with path.open(encoding="utf-8", newline="") as f:
                rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
                header = next(rows, [])
                if [h.strip().lower() for h in header] != HEADER:
                    yield Issue(f"{path}:1", f"header {header} is not {HEADER}", "columns")
                    continue
                for line_no, row in enumerate(rows, start=2):
                    if not any(c.strip() for c in row):
                        continue
                    where = f"{path}:{line_no}"
                    if len(row) != 5:
                        yield Issue(where, f"expected 5 tab-separated fields, got {len(row)}",
                                    "emotion")
                        continue
                    tid, event, tweet, offensive, label = (c.strip() for c in row)
                    if label not in LABELS:
                        yield Issue(where, f"unknown emotion {label!r} (expected "
                                    f"{', '.join(LABELS)})", "emotion")
                        continue
                    yield Utterance(
                        id=self.uid(f"{lang}/{part}/{tid}"), corpus=self.name, split=split,
                        text=tweet, emotion=canonical(label), emotion_original=label,
                        meta={"event": event, "offensive": offensive.upper() == "OFF",
                              "lang": lang},
                    )


@CORPORA.register()
class EmoEventEs(EmoEvent):
    name = "emoevent-es"
    title = "EmoEvent (Spanish)"
    language = "es"
