"""TESS: Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, University of Toronto, 2010).

Two actresses, OAF (older, aged 64) and YAF (younger, aged 26), say the carrier phrase
"Say the word _" with 200 target words in seven emotions: 2,800 clips.

Supported layout (the University of Toronto Dataverse release, any audio extension)::

    ROOT/{OAF,YAF}_<emotion>/<SPK>_<word>_<emotion>.wav

Folder spellings differ between copies of the release (``OAF_Pleasant_surprise``,
``YAF_pleasant_surprised``, ``OAF_Fear``, ``OAF_angry`` ...), so folders are not trusted for
the label: it is read from the file name's last field, one of ``angry disgust fear happy
neutral ps sad`` (``pleasant_surprise``/``pleasant_surprised`` are read as ``ps``). The
speaker is the file name's first field; the release has one misnamed file,
``OAF_neutral/OA_bite_neutral.wav``, whose speaker is taken from its folder's prefix instead
(recorded as ``meta["speaker_from"] = "folder"``).

Splits: none official. With two speakers the only speaker-independent protocol is 2-fold
(train on one speaker, test on the other): ``speaker_kfold(utts, 2)`` /
``leave_one_speaker_out(utts)``, validation carved from the training speaker's items.
"""

from __future__ import annotations

from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
# File-name spellings -> the release's label (lower-cased before lookup).
SPELLINGS = {e: e for e in EMOTIONS} | {
    "pleasant_surprise": "ps",
    "pleasant_surprised": "ps",
}
SPEAKERS = {"OAF": 64, "YAF": 26}  # speaker -> age (Dataverse description)


@CORPORA.register()
class Tess(Corpus):
    name = "tess"
    title = "TESS"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=EMOTIONS)
    layout = "ROOT/{OAF,YAF}_<emotion>/<SPK>_<word>_<emotion>.{wav,opus,...}"
    shared_subdir = "speech/tess"
    language = "en"
    licence = "CC BY-NC-ND 4.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        for p in audio_files(self.root):
            parts = p.stem.split("_")
            if len(parts) < 3:
                yield Issue(str(p), "file name is not <SPK>_<word>_<emotion>", "name")
                continue
            label = word = None
            # Longest known emotion suffix first ("pleasant_surprised" spans two fields).
            for n in (2, 1):
                if len(parts) - n >= 2 and "_".join(parts[-n:]).lower() in SPELLINGS:
                    label = SPELLINGS["_".join(parts[-n:]).lower()]
                    word = "_".join(parts[1:-n])
                    break
            if label is None:
                yield Issue(
                    str(p),
                    f"unknown emotion {parts[-1]!r} (expected one of {', '.join(EMOTIONS)})",
                    "emotion",
                )
                continue
            spk_file = parts[0].upper()
            spk_folder = p.parent.name.split("_")[0].upper()
            meta = {}
            if spk_file in SPEAKERS:
                if spk_folder in SPEAKERS and spk_folder != spk_file:
                    yield Issue(str(p), f"speaker {spk_file} file inside a {spk_folder}_* "
                                        "folder", "speaker")
                    continue
                spk = spk_file
            elif spk_folder in SPEAKERS:
                # The release's one typo ("OA_bite_neutral"): the folder knows the speaker.
                spk = spk_folder
                meta["speaker_from"] = "folder"
            else:
                yield Issue(str(p), f"unknown speaker prefix {parts[0]!r} (expected OAF or "
                                    "YAF, in the file name or its folder)", "speaker")
                continue
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"tess/{spk}",
                text=f"Say the word {word}.",
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta={"word": word, "gender": "female", "age": SPEAKERS[spk], **meta},
            )
