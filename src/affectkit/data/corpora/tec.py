"""TEC, the Twitter Emotion Corpus (Mohammad, *SEM 2012): 21,051 tweets labelled by the
emotion hashtag they carried (removed from the text): anger, disgust, fear, joy, sadness,
surprise. Distant supervision, so noisy.

Layout: ``tweets_clean.txt``, one tweet per line: ``<id>:<TAB><text><TAB>:: <emotion>``.
``emotion`` canonical (joy → happy ...), ``emotion_original`` as spelled.

**Split.** No official split: train/valid/test (80/10/10) by the sha1 of the normalised text
(:func:`._text.hash_split`; duplicate tweets stay in one part). Authors unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._text import hash_split, norm_key
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
_LINE = re.compile(r"^(?P<id>\d+):\s*\t(?P<text>.*)\t::\s*(?P<label>\w+)\s*$")


@CORPORA.register()
class Tec(Corpus):
    name = "tec"
    title = "TEC (Twitter Emotion Corpus)"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = "ROOT/tweets_clean.txt (<id>:<TAB><text><TAB>:: <emotion>)"
    shared_subdir = "text/crowdflower_tec_eec"
    official_split = False
    speaker_independent_split = None
    licence = "research use (NRC); hashtag labels, noisy"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("tweets_clean.txt")
        path = self.root / "tweets_clean.txt"
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                where = f"{path}:{line_no}"
                m = _LINE.match(line)
                if m is None:
                    yield Issue(where, "expected <id>:<TAB><text><TAB>:: <emotion>", "text")
                    continue
                label = m["label"]
                if label not in LABELS:
                    yield Issue(where, f"unknown emotion {label!r}", "emotion")
                    continue
                text = m["text"].strip()
                yield Utterance(
                    id=self.uid(m["id"]), corpus=self.name, split=hash_split(norm_key(text)),
                    text=text, emotion=canonical(label), emotion_original=label,
                )
