"""SemEval-2018 Task 1 E-c (Mohammad et al. 2018): English tweets, 11 emotions, multi-label.

Layout (the task release): ``2018-E-c-En-{train,dev,test}.txt``, tab-separated with header
``ID Tweet anger anticipation disgust fear joy love optimism pessimism sadness surprise trust``
(0/1 per emotion). Shared counts: train 6,838 / dev 886 (test gold not public: a test file
without 0/1 gold is reported as an issue per row, one with gold is read).

Labels: ``emotions`` = the emotions marked 1, as spelled; ``emotion`` / ``emotion_original``
only for single-label tweets (canonical where a spelling of one: joy → happy ...; love,
optimism, pessimism, anticipation, trust kept as spelled). A tweet with no emotion marked was
annotated "neutral or no emotion" in the task: it is ``neutral``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._text import multilabel
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "love", "optimism",
            "pessimism", "sadness", "surprise", "trust")
SPLITS = {"train": "train", "dev": "valid", "test": "test"}


@CORPORA.register()
class SemEval2018Ec(Corpus):
    name = "semeval2018-ec"
    title = "SemEval-2018 E-c"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=EMOTIONS + ("neutral",), multilabel=True)
    layout = ("ROOT/2018-E-c-En-{train,dev,test}.txt (tab-separated: ID Tweet + 11 emotion "
              "columns of 0/1)")
    shared_subdir = "text/semeval2018_ec"
    official_split = True
    speaker_independent_split = False  # authors unknown
    licence = "SemEval-2018 Task 1 terms (research)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("2018-E-c-En-train.txt")
        for part, split in SPLITS.items():
            path = self.root / f"2018-E-c-En-{part}.txt"
            if not path.is_file():
                if part != "test":
                    yield Issue(str(path), "split file missing", "file")
                continue
            with path.open(encoding="utf-8", newline="") as f:
                rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
                header = [h.strip().lower() for h in next(rows, [])]
                if header[:2] != ["id", "tweet"] or tuple(header[2:]) != EMOTIONS:
                    yield Issue(f"{path}:1", f"header {header} is not ID, Tweet, "
                                f"{', '.join(EMOTIONS)}", "columns")
                    continue
                for line_no, row in enumerate(rows, start=2):
                    if not any(c.strip() for c in row):
                        continue
                    where = f"{path}:{line_no}"
                    flags = [c.strip() for c in row[2:]]
                    if len(row) != 2 + len(EMOTIONS) or any(v not in ("0", "1") for v in flags):
                        yield Issue(where, f"expected ID, Tweet and {len(EMOTIONS)} columns "
                                    "of 0/1", "labels")
                        continue
                    labels = [e for e, v in zip(EMOTIONS, flags, strict=True) if v == "1"]
                    emo, orig, emos = multilabel(labels or ["neutral"])
                    yield Utterance(
                        id=self.uid(row[0].strip()), corpus=self.name, split=split,
                        text=row[1].strip(), emotion=emo, emotion_original=orig, emotions=emos,
                    )
