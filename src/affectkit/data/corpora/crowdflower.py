"""CrowdFlower "Emotion in Text" (Figure Eight, 2016): 40,000 tweets, 13 crowd labels, single
label, noisy (one judgement per tweet in this release).

Layout: ``text_emotion.csv`` with header ``tweet_id,sentiment,author,content`` (the
``sentiment`` column holds the emotion). Labels as spelled: empty, sadness, enthusiasm,
neutral, worry, surprise, love, fun, hate, happiness, boredom, relief, anger; ``emotion``
canonical for happiness/sadness/anger/surprise/neutral, the others kept as spelled (``worry``
is not forced onto fearful, ``hate`` not onto angry). ``speaker`` = the tweet's author.

**Split.** No official split: authors go to train/valid/test (80/10/10) by the sha1 of the
author name (:func:`._text.hash_split`), so the split is deterministic and author-independent
(``speaker_independent_split = True`` is checked by the tests).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._text import hash_split
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("empty", "sadness", "enthusiasm", "neutral", "worry", "surprise", "love", "fun",
          "hate", "happiness", "boredom", "relief", "anger")
COLUMNS = ("tweet_id", "sentiment", "author", "content")


@CORPORA.register()
class CrowdFlower(Corpus):
    name = "crowdflower"
    title = "CrowdFlower Emotion in Text"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = "ROOT/text_emotion.csv (tweet_id,sentiment,author,content)"
    shared_subdir = "text/crowdflower_tec_eec"
    official_split = False
    speaker_independent_split = True  # our author-hash split
    licence = "CrowdFlower Data for Everyone (public domain dedication); noisy labels"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("text_emotion.csv")
        path = self.root / "text_emotion.csv"
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                yield Issue(str(path), f"missing columns {missing} (expected "
                            f"{','.join(COLUMNS)})", "columns")
                return
            for row_no, row in enumerate(reader, start=2):
                where = f"{path}:{row_no}"
                label = (row["sentiment"] or "").strip()
                if label not in LABELS:
                    yield Issue(where, f"unknown label {label!r}", "sentiment")
                    continue
                author = (row["author"] or "").strip()
                text = (row["content"] or "").strip()
                if not text:
                    yield Issue(where, "empty tweet", "content")
                    continue
                yield Utterance(
                    id=self.uid(row["tweet_id"].strip()), corpus=self.name,
                    split=hash_split(author or row["tweet_id"]),
                    speaker=f"{self.name}/{author}" if author else None, text=text,
                    emotion=canonical(label), emotion_original=label,
                )
