"""BAVED: Basic Arabic Vocal Emotions Dataset (Kaggle/GitHub release, 2020).

61 speakers (45 male, 16 female) say seven Arabic words at three levels of emotion:
1,935 clips. The labels are emotion *levels* (arousal-like), not categories.

Supported layout (the release, any audio extension)::

    ROOT/<word 0..6>/<speaker>-<gender>-<age>-<word>-<level>-<record>.wav
        e.g. 0/1-m-22-0-2-1.wav; speaker int, gender m/f, age int, word 0..6,
        level 0..2, record id int (release README "Naming")

Levels (README): 0 low (tired, down), 1 standard (neutral), 2 high (strong positive or
negative emotion); kept as ``low`` / ``neutral`` / ``high`` (``emotion_original``; only
``neutral`` is a canonical emotion). ``text`` is the word (README list). A file whose word
field disagrees with its numeric folder is reported, not loaded.

Splits: none official; ``speaker_kfold`` over the 61 speakers (5 folds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LEVELS = ("low", "neutral", "high")
WORDS = ("اعجبني", "لم يعجبني", "هذا", "الفيلم", "رائع", "مقول", "سيئ")
NAME_RE = re.compile(r"^(\d+)-([mfMF])-(\d+)-(\d+)-(\d+)-(\d+)$")


@CORPORA.register()
class Baved(Corpus):
    name = "baved"
    title = "BAVED"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=LEVELS)
    layout = "ROOT/<0..6>/<speaker>-<m|f>-<age>-<word>-<level>-<record>.{wav,...}"
    shared_subdir = None
    language = "ar"
    licence = "not stated in the release README (see its Kaggle page)"

    def scan(self) -> Iterator[Utterance | Issue]:
        for p in audio_files(self.root):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <speaker>-<m|f>-<age>-<word>-<level>-"
                                    "<record> (e.g. 1-m-22-0-2-1)", "name")
                continue
            spk, gender, age, word, level, rec = m.groups()
            word_i, level_i = int(word), int(level)
            if level_i >= len(LEVELS):
                yield Issue(str(p), f"unknown emotion level {level!r} (expected 0, 1 or 2)",
                            "level")
                continue
            if word_i >= len(WORDS):
                yield Issue(str(p), f"unknown word id {word!r} (expected 0..6)", "word")
                continue
            folder = p.parent.name
            if folder.isdigit() and int(folder) != word_i:
                yield Issue(str(p), f"word {word_i} in the name but folder {folder}", "word")
                continue
            label = LEVELS[level_i]
            yield Utterance(
                id=self.uid(p.stem.lower()),
                corpus=self.name,
                speaker=f"baved/{int(spk)}",
                text=WORDS[word_i],
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"gender": "male" if gender.lower() == "m" else "female",
                      "age": int(age), "word_id": word_i, "level": level_i,
                      "record": int(rec)},
            )
