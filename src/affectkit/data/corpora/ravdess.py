"""RAVDESS: Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, 2018).

File names encode everything: ``MM-VV-EE-II-SS-RR-AA.ext`` = modality (01 full-AV, 02 video-only,
03 audio-only), vocal channel (01 speech, 02 song), emotion, intensity (01 normal, 02 strong),
statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition,
actor (odd male, even female). Any of the release archives (``Audio_Speech_Actors_01-24``,
``Audio_Song_Actors_01-24``, ``Video_Speech_Actor_XX``, ``Video_Song_Actor_XX``) may be placed
under the root, in any audio format; the shared copy's layout is ``Actor_01..24/*.opus``.

Splits: no official split; the suites use actor-disjoint folds (speaker_kfold over the 24
actors), asserted speaker independent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import AUDIO_EXTS, CORPORA, VIDEO_EXTS, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}
STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
NAME_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@CORPORA.register()
class Ravdess(Corpus):
    name = "ravdess"
    title = "RAVDESS"
    modalities = (Modality.AUDIO, Modality.VISION, Modality.TEXT)
    label_space = LabelSpace(emotions=tuple(EMOTIONS.values()))
    layout = (
        "Actor_01..Actor_24/MM-VV-EE-II-SS-RR-AA.{wav,opus,...,mp4} at any depth "
        "(e.g. the 'Audio_Speech_Actors_01-24' archive unpacked under ROOT)"
    )
    shared_subdir = "speech/ravdess"
    licence = "CC BY-NC-SA 4.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        files = sorted(
            p for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in AUDIO_EXTS + VIDEO_EXTS
        )
        for p in files:
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not MM-VV-EE-II-SS-RR-AA", "name")
                continue
            mod, voc, emo, inten, stmt, rep, actor = m.groups()
            if emo not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion code {emo!r} (expected 01..08)", "emotion")
                continue
            if mod not in ("01", "02", "03") or voc not in ("01", "02"):
                yield Issue(str(p), f"unknown modality/channel code {mod}-{voc}", "modality")
                continue
            is_video = p.suffix.lower() in VIDEO_EXTS
            media = {}
            if is_video:
                media[Modality.VISION] = p
                if mod == "01":
                    media[Modality.AUDIO] = p
            else:
                media[Modality.AUDIO] = p
            label = EMOTIONS[emo]
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"ravdess/{actor}",
                text=STATEMENTS.get(stmt),
                media=media,
                emotion=canonical(label),
                emotion_original=label,
                meta={
                    "channel": "speech" if voc == "01" else "song",
                    "intensity": "normal" if inten == "01" else "strong",
                    "statement": stmt,
                    "repetition": rep,
                    "gender": "male" if int(actor) % 2 else "female",
                },
            )
