"""EEC, the Equity Evaluation Corpus (Kiritchenko & Mohammad, *SEM 2018): 8,640 templated
sentences that differ only in a person's name or noun phrase (gender, race), for bias tests.

Layout: ``Equity-Evaluation-Corpus.csv`` with header
``ID,Sentence,Template,Person,Gender,Race,Emotion,Emotion word``. ``Emotion`` is one of
anger, fear, joy, sadness, or empty for the templates without an emotion word (those are
left unlabelled, ``emotion = None``: the corpus does not call them neutral). ``meta``:
``template``, ``person``, ``gender``, ``race`` (empty for the noun-phrase persons),
``emotion_word``.

No split (``split = None``): EEC is an evaluation set. Score a model on it and compare the
predictions of sentence pairs that differ only in ``gender`` or ``race``
(group by ``(template, emotion_word)``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("anger", "fear", "joy", "sadness")
COLUMNS = ("ID", "Sentence", "Template", "Person", "Gender", "Race", "Emotion", "Emotion word")


@CORPORA.register()
class Eec(Corpus):
    name = "eec"
    title = "Equity Evaluation Corpus"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = ("ROOT/Equity-Evaluation-Corpus.csv (ID,Sentence,Template,Person,Gender,Race,"
              "Emotion,Emotion word)")
    shared_subdir = "text/crowdflower_tec_eec"
    official_split = False
    speaker_independent_split = None
    licence = "research use (NRC)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("Equity-Evaluation-Corpus.csv")
        path = self.root / "Equity-Evaluation-Corpus.csv"
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                yield Issue(str(path), f"missing columns {missing}", "columns")
                return
            for row_no, row in enumerate(reader, start=2):
                label = (row["Emotion"] or "").strip() or None
                if label is not None and label not in LABELS:
                    yield Issue(f"{path}:{row_no}", f"unknown emotion {label!r}", "Emotion")
                    continue
                yield Utterance(
                    id=self.uid(row["ID"].strip()), corpus=self.name,
                    text=row["Sentence"].strip(), emotion=canonical(label),
                    emotion_original=label,
                    meta={"template": row["Template"].strip(), "person": row["Person"].strip(),
                          "gender": row["Gender"].strip(), "race": row["Race"].strip() or None,
                          "emotion_word": (row["Emotion word"] or "").strip() or None},
                )
