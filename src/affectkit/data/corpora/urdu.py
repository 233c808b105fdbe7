"""URDU: spontaneous Urdu emotional speech from TV talk shows (Latif et al., 2018).

400 utterances in four emotions from YouTube talk shows.

Supported layout (the GitHub release "URDU-Dataset", any audio extension)::

    ROOT/{Angry,Happy,Neutral,Sad}/SGX_FNN_EYY.wav      e.g. Angry/SM1_F01_A12.wav
    ROOT/README.md                                      (documentation, ignored)

From the release README: ``S<G><X>`` is the speaker (G = M/F gender, X = speaker number,
the same speaker across emotions), ``F<NN>`` the speaker's file number, ``<E><YY>`` the
emotion letter (A angry, H happy, N neutral, S sad) and the file's number within that
emotion. The letter gives the label; a file whose letter disagrees with its emotion folder is
reported, not loaded. Non-audio files are documentation and are skipped, not reported.

Splits: none official; ``speaker_kfold`` (speakers are very unbalanced: one speaker has 80
clips, many have 2, so folds are balanced by clip count) or ``leave_one_speaker_out``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}
NAME_RE = re.compile(r"^S([MF])(\d+)_F(\d+)_([A-Za-z])(\d+)$")


@CORPORA.register()
class Urdu(Corpus):
    name = "urdu"
    title = "URDU"
    modalities = (Modality.AUDIO,)
    label_space = LabelSpace(emotions=tuple(EMOTIONS.values()))
    layout = "ROOT/{Angry,Happy,Neutral,Sad}/S<G><N>_F<NN>_<E><NN>.{wav,opus,...}"
    shared_subdir = "speech/urdu"
    language = "ur"
    licence = "research use only (release README)"

    def scan(self) -> Iterator[Utterance | Issue]:
        for p in audio_files(self.root):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not S<G><N>_F<NN>_<E><NN> "
                                    "(e.g. SM1_F01_A12)", "name")
                continue
            gender, spk_no, file_no, letter, emo_no = m.groups()
            letter = letter.upper()
            if letter not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion letter {letter!r} (expected A, H, N "
                                    "or S)", "emotion")
                continue
            label = EMOTIONS[letter]
            folder = p.parent.name.lower()
            if folder in EMOTIONS.values() and folder != label:
                yield Issue(str(p), f"emotion letter {letter} ({label}) disagrees with "
                                    f"folder {p.parent.name}", "emotion")
                continue
            spk = f"S{gender}{int(spk_no)}"
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"urdu/{spk}",
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={
                    "gender": "male" if gender == "M" else "female",
                    "file_no": int(file_no),
                    "emotion_file_no": int(emo_no),
                },
            )
