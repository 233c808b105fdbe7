"""EmoDB: Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005).

Ten actors (5 female, 5 male) speak ten everyday German sentences in seven emotions; the
public release keeps the 535 utterances recognised by >80% and judged natural by >60% of
listeners.

Supported layout (the release archive, any audio extension)::

    ROOT/wav/SSTTTEV.wav      SS speaker (03..16), TTT text code (a01..b10),
                              E emotion letter (German word), V version a, b, c ...
    ROOT/erkennung.txt        optional: recognition and naturalness rates per file
                              (Latin-1, tab-separated, decimal commas); read into meta

Emotion letters and the corpus's own label (the German word's meaning, kept as
``emotion_original``): W anger (Wut/Ärger), L boredom (Langeweile), E disgust (Ekel),
A fear (Angst), F happiness (Freude), T sadness (Trauer), N neutral.
``text`` is the German sentence of the text code (from the corpus documentation).

Splits: none official; use ``speaker_kfold`` (5 folds of 2 speakers is common) or
``leave_one_speaker_out`` (10 folds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

# Emotion letter -> (label as the corpus means it, German word on the letter).
EMOTIONS = {
    "W": ("anger", "Wut"),
    "L": ("boredom", "Langeweile"),
    "N": ("neutral", "neutral"),
    "F": ("happiness", "Freude"),
    "A": ("fear", "Angst"),
    "T": ("sadness", "Trauer"),
    "E": ("disgust", "Ekel"),
}
SPEAKERS = {  # speaker -> (gender, age), from the corpus documentation
    "03": ("male", 31), "08": ("female", 34), "09": ("female", 21), "10": ("male", 32),
    "11": ("male", 26), "12": ("male", 30), "13": ("female", 32), "14": ("female", 35),
    "15": ("male", 25), "16": ("female", 31),
}
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
NAME_RE = re.compile(r"^(\d\d)([ab]\d\d)([A-Za-z])([a-z])$")


def _read_ratings(path: Path) -> tuple[dict[str, tuple[float, float]], list[Issue]]:
    """``erkennung.txt``: ``Nr.<TAB>Satz<TAB>erkannt<TAB>natuerlich`` per row, percentages
    with decimal commas and non-breaking-space padding (Latin-1)."""
    out: dict[str, tuple[float, float]] = {}
    issues: list[Issue] = []
    lines = path.read_bytes().decode("latin-1").splitlines()
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        f = [x.replace("\xa0", "").strip() for x in line.split("\t")]
        try:
            out[Path(f[1]).stem] = (float(f[2].replace(",", ".")), float(f[3].replace(",", ".")))
        except (IndexError, ValueError):
            issues.append(Issue(f"{path}:{no}", "row is not Nr, Satz, erkannt, natuerlich",
                                "erkennung"))
    return out, issues


@CORPORA.register()
class EmoDB(Corpus):
    name = "emodb"
    title = "EmoDB (Berlin Database of Emotional Speech)"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=tuple(v[0] for v in EMOTIONS.values()))
    layout = "ROOT/wav/SSTTTEV.{wav,opus,...} (+ optional ROOT/erkennung.txt), e.g. 03a01Fa.wav"
    shared_subdir = "speech/emodb"
    language = "de"
    licence = "free for research (emodb.bilderbar.info)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("wav")
        ratings: dict[str, tuple[float, float]] = {}
        if (self.root / "erkennung.txt").is_file():
            ratings, issues = _read_ratings(self.root / "erkennung.txt")
            yield from issues
        for p in audio_files(self.root / "wav"):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not SSTTTEV (e.g. 03a01Fa)", "name")
                continue
            spk, text_code, letter, version = m.groups()
            if letter not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion letter {letter!r} (expected one of "
                                    f"{''.join(EMOTIONS)})", "emotion")
                continue
            if spk not in SPEAKERS:
                yield Issue(str(p), f"unknown speaker {spk!r} (expected one of "
                                    f"{', '.join(SPEAKERS)})", "speaker")
                continue
            label, german = EMOTIONS[letter]
            gender, age = SPEAKERS[spk]
            meta = {"text_code": text_code, "version": version, "code": letter,
                    "german": german, "gender": gender, "age": age}
            if p.stem in ratings:
                meta["recognition"], meta["naturalness"] = ratings[p.stem]
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"emodb/{spk}",
                text=TEXTS.get(text_code),
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta=meta,
            )
