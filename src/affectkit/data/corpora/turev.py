"""TurEV-DB: Turkish Emotion-Voice Database (Canpolat, Ormanoğlu & Zeyrek, SLTU 2020).

Six speakers utter 82 words in four emotions: 1,735 clips.

Supported layout (the GitHub release ``Xeonen/TurEV-DB``; ROOT may be the repository or its
``Sound Source`` folder; any audio extension)::

    ROOT/Sound Source/{Angry,Calm,Happy,Sad}/<speaker>_<code>_<word>.wav
        e.g. Sound Source/Angry/1157_kz_acik.wav

``<speaker>`` is a four-digit speaker id; ``<code>`` the Turkish emotion abbreviation, kz
(kızgın, angry), sk (sakin, calm), mt (mutlu, happy), hl (hüzünlü, sad); ``<word>`` the word,
written without Turkish diacritics (kept in ``meta["word"]``; ``text`` stays ``None`` because
the ASCII spelling is not the Turkish text). Labels as the folders spell them, lower-cased:
angry, calm, happy, sad (calm is not a canonical emotion and is kept). A file whose code
disagrees with its emotion folder is reported, not loaded. The repository's spectrogram
images and model outputs are not read.

Splits: none official; ``leave_one_speaker_out`` (6 folds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

CODES = {"kz": "angry", "sk": "calm", "mt": "happy", "hl": "sad"}
NAME_RE = re.compile(r"^(\d+)_([A-Za-z]{2})_(.+)$")


@CORPORA.register()
class TurEV(Corpus):
    name = "turev"
    title = "TurEV-DB"
    modalities = (Modality.AUDIO,)
    label_space = LabelSpace(emotions=tuple(CODES.values()))
    layout = "ROOT/Sound Source/{Angry,Calm,Happy,Sad}/<speaker>_<kz|sk|mt|hl>_<word>.{wav,...}"
    shared_subdir = None
    language = "tr"
    licence = "CC BY-NC-ND 4.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        base = self.root / "Sound Source"
        base = base if base.is_dir() else self.root
        for p in audio_files(base):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <speaker>_<code>_<word> "
                                    "(e.g. 1157_kz_acik)", "name")
                continue
            spk, code, word = m.groups()
            code = code.lower()
            if code not in CODES:
                yield Issue(str(p), f"unknown emotion code {code!r} (expected kz, sk, mt or "
                                    "hl)", "emotion")
                continue
            label = CODES[code]
            folder = p.parent.name.lower()
            if folder in CODES.values() and folder != label:
                yield Issue(str(p), f"emotion code {code} ({label}) disagrees with folder "
                                    f"{p.parent.name}", "emotion")
                continue
            yield Utterance(
                id=self.uid(p.stem.lower()),
                corpus=self.name,
                speaker=f"turev/{spk}",
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"code": code, "word": word},
            )
