"""SAVEE: Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2008/2009).

Four male speakers (DC, JE, JK, KL) read 15 TIMIT sentences per emotion: 30 neutral and 15 for
each of six emotions, 120 clips per speaker, 480 in all.

Supported layouts (any audio extension)::

    ROOT/AudioData/<DC|JE|JK|KL>/<code><nn>.wav     the official release, e.g. AudioData/DC/a01.wav
    ROOT/<DC|JE|JK|KL>/<code><nn>.wav               (AudioData itself given as ROOT)
    ROOT/**/<DC|JE|JK|KL>_<code><nn>.wav            flattened copies (e.g. Kaggle "ALL/DC_a01.wav")

``<code>`` (from the release's ``Info.txt``): a anger, d disgust, f fear, h happiness,
n neutral, sa sadness, su surprise; ``<nn>`` the sentence number within that emotion.
Only audio is read (the AudioVisualClip/ and VideoData/ parts are not). The sentences are
TIMIT prompts whose per-file list ships only with the full release, so ``text`` is ``None``.

Splits: none official; ``leave_one_speaker_out`` (4 folds) is the usual protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {
    "a": "anger", "d": "disgust", "f": "fear", "h": "happiness",
    "n": "neutral", "sa": "sadness", "su": "surprise",
}
SPEAKERS = ("DC", "JE", "JK", "KL")
NAME_RE = re.compile(r"^(?:([A-Za-z]{2})_)?([a-z]{1,2})(\d\d)$")


@CORPORA.register()
class Savee(Corpus):
    name = "savee"
    title = "SAVEE"
    modalities = (Modality.AUDIO,)
    label_space = LabelSpace(emotions=tuple(EMOTIONS.values()))
    layout = "ROOT/AudioData/<DC|JE|JK|KL>/<code><nn>.{wav,...} (e.g. AudioData/DC/sa01.wav)"
    shared_subdir = None
    language = "en"
    licence = "free for research (University of Surrey)"

    def scan(self) -> Iterator[Utterance | Issue]:
        base = self.root / "AudioData" if (self.root / "AudioData").is_dir() else self.root
        for p in audio_files(base):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <code><nn> (e.g. sa01) or "
                                    "<SPK>_<code><nn>", "name")
                continue
            prefix, code, num = m.groups()
            if code not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion code {code!r} (expected one of "
                                    f"{' '.join(EMOTIONS)})", "emotion")
                continue
            folder = p.parent.name.upper()
            spk = (prefix or "").upper() or folder
            if spk not in SPEAKERS:
                yield Issue(str(p), f"no speaker: expected a {'/'.join(SPEAKERS)} folder or "
                                    "file-name prefix", "speaker")
                continue
            if prefix and folder in SPEAKERS and folder != spk:
                yield Issue(str(p), f"file names speaker {spk} but sits in folder {folder}",
                            "speaker")
                continue
            label = EMOTIONS[code]
            yield Utterance(
                id=self.uid(f"{spk}/{code}{num}"),
                corpus=self.name,
                speaker=f"savee/{spk}",
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"code": code, "sentence_no": int(num), "gender": "male"},
            )
