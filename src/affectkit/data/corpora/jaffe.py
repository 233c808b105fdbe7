"""JAFFE: the Japanese Female Facial Expression database (Lyons et al., 1998).

Layout: 213 grey 256×256 TIFF images ``<KA>.<EE><n>.<nnn>.tiff`` (in the release's ``jaffe/``
folder, at any depth under root): subject initials (10 posers: KA, KL, KM, KR, MK, NA, NM, TM,
UY, YM), the posed expression (AN anger, DI disgust, FE fear, HA happiness, NE neutral,
SA sadness, SU surprise) with a repetition number, and an image number. The semantic
ratings file of the release is not read. Subject = the initials; no official split, use
``speaker_kfold`` or ``leave_one_speaker_out`` (10 subjects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
         "SA": "sadness", "SU": "surprise"}
NAME_RE = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)$")


@CORPORA.register()
class Jaffe(Corpus):
    name = "jaffe"
    title = "JAFFE"
    modalities = (Modality.VISION,)
    label_space = LabelSpace(emotions=tuple(CODES.values()))
    layout = "ROOT/[jaffe/]<KA>.<AN|DI|FE|HA|NE|SA|SU><n>.<nnn>.tiff"
    shared_subdir = None
    speaker_independent_split = None  # no official split; subject folds are
    language = ""
    licence = "non-commercial research (JAFFE agreement, no redistribution)"

    def scan(self) -> Iterator[Utterance | Issue]:
        files = sorted(p for p in self.root.rglob("*")
                       if p.suffix.lower() in (".tiff", ".tif") and p.is_file())
        for p in files:
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <KA>.<EE><n>.<nnn>", "name")
                continue
            subj, code, rep, num = m.groups()
            code = code.upper()
            if code not in CODES:
                yield Issue(str(p), f"unknown expression code {code!r} (expected "
                            f"{', '.join(CODES)})", "emotion")
                continue
            label = CODES[code]
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"jaffe/{subj.upper()}",
                media={Modality.VISION: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"code": code, "repetition": int(rep), "image_number": int(num)},
            )
