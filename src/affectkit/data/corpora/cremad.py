"""CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., IEEE TAC 2014).

91 actors (48 male, 43 female, aged 20-74) say 12 sentences in six emotions: 7,442 clips,
each rated by crowd workers from voice only, face only and both.

Supported layout (the GitHub/Git-LFS release ``CheyneyComputerScience/CREMA-D``)::

    ROOT/AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav    e.g. 1001_DFA_ANG_XX.wav
    ROOT/AudioMP3/<same stem>.mp3                               (optional)
    ROOT/VideoFlash/<same stem>.flv                             (optional)
    ROOT/VideoDemographics.csv                                  (optional: age, sex, race)
    ROOT/processedResults/summaryTable.csv                      (optional: crowd votes; also
        found at ROOT/data/InfoAndStats/processedResults/ or anywhere below ROOT)

One utterance per stem: audio from AudioWAV (any audio extension), else AudioMP3, else the
FLV; vision from VideoFlash. Emotion codes (kept as spelled, ``emotion_original``): ANG,
DIS, FEA, HAP, NEU, SAD. Level: LO low, MD medium, HI high, XX unspecified (only IEO
sentences have levels). ``text`` is the sentence. When ``summaryTable.csv`` is present the
majority votes are copied into meta as the table spells them (``voice_vote`` "A:D" means a
tie between anger and disgust; ``voice_level`` the matching mean intensities), also
``face_*`` and ``multimodal_*``; ``finishedResponses.csv`` (per-rater answers) is not read.
Known problem recorded in meta, not hidden: ``1076_MTI_SAD_XX`` has no signal.

Splits: none official; ``speaker_kfold`` (actors), e.g. 5 or 10 folds.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import AUDIO_EXTS, CORPORA, VIDEO_EXTS, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {
    "ANG": "anger", "DIS": "disgust", "FEA": "fear",
    "HAP": "happy", "NEU": "neutral", "SAD": "sad",
}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
KNOWN_PROBLEMS = {"1076_MTI_SAD_XX": "no signal (silent recording in the release)"}
NAME_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
MEDIA_DIRS = ("AudioWAV", "AudioMP3", "VideoFlash")
VOTE_COLUMNS = {
    "VoiceVote": "voice_vote", "VoiceLevel": "voice_level",
    "FaceVote": "face_vote", "FaceLevel": "face_level",
    "MultiModalVote": "multimodal_vote", "MultiModalLevel": "multimodal_level",
}


def _first(root: Path, rels: tuple[str, ...], name: str) -> Path | None:
    for rel in rels:
        if (root / rel).is_file():
            return root / rel
    # Repository reorganisations moved these tables; any copy below ROOT will do.
    for p in sorted(root.rglob(name)):
        if not any(d in p.parts for d in MEDIA_DIRS):
            return p
    return None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@CORPORA.register()
class CremaD(Corpus):
    name = "cremad"
    title = "CREMA-D"
    modalities = (Modality.AUDIO, Modality.VISION, Modality.TEXT)
    label_space = LabelSpace(emotions=tuple(EMOTIONS))
    layout = (
        "ROOT/AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.{wav,...} (and/or AudioMP3/, "
        "VideoFlash/*.flv; optional processedResults/summaryTable.csv, VideoDemographics.csv)"
    )
    shared_subdir = None
    language = "en"
    licence = "Open Database License (ODbL 1.0)"

    def scan(self) -> Iterator[Utterance | Issue]:
        dirs = [self.root / d for d in MEDIA_DIRS if (self.root / d).is_dir()]
        if not dirs:
            raise DataError(f"{self.title}: none of {', '.join(MEDIA_DIRS)} under {self.root}; "
                            f"expected layout: {self.layout}")
        # stem -> {kind: path}; audio formats ranked so the WAV release wins over MP3/FLV.
        found: dict[str, dict[str, Path]] = {}
        for d in dirs:
            for p in audio_files(d, AUDIO_EXTS + VIDEO_EXTS):
                kind = "video" if p.suffix.lower() in VIDEO_EXTS else d.name
                found.setdefault(p.stem, {}).setdefault(kind, p)

        votes: dict[str, dict[str, str]] = {}
        table = _first(self.root, ("processedResults/summaryTable.csv",
                                   "data/InfoAndStats/processedResults/summaryTable.csv"),
                       "summaryTable.csv")
        if table is not None:
            rows = _read_csv(table)
            if rows and "FileName" not in rows[0]:
                yield Issue(str(table), "no FileName column; votes not read", "FileName")
            for row in rows:
                if row.get("FileName"):
                    votes[row["FileName"].strip()] = {
                        key: row[col].strip() for col, key in VOTE_COLUMNS.items() if row.get(col)
                    }
        demo: dict[str, dict[str, str]] = {}
        demo_csv = _first(self.root, ("VideoDemographics.csv",), "VideoDemographics.csv")
        if demo_csv is not None:
            for row in _read_csv(demo_csv):
                if row.get("ActorID"):
                    demo[row["ActorID"].strip()] = row

        for stem in sorted(found):
            files = found[stem]
            where = str(next(iter(files.values())))
            m = NAME_RE.match(stem)
            if not m:
                yield Issue(where, "file name is not <ActorID>_<Sentence>_<Emotion>_<Level> "
                                   "(e.g. 1001_DFA_ANG_XX)", "name")
                continue
            actor, sent, emo, level = m.groups()
            if emo not in EMOTIONS:
                yield Issue(where, f"unknown emotion code {emo!r} (expected one of "
                                   f"{' '.join(EMOTIONS)})", "emotion")
                continue
            if sent not in SENTENCES:
                yield Issue(where, f"unknown sentence code {sent!r}", "sentence")
                continue
            if level not in LEVELS:
                yield Issue(where, f"unknown level code {level!r} (expected LO MD HI XX)",
                            "level")
                continue
            media: dict[Modality, Path] = {}
            audio = files.get("AudioWAV") or files.get("AudioMP3") or files.get("video")
            if audio is not None:
                media[Modality.AUDIO] = audio
            if "video" in files:
                media[Modality.VISION] = files["video"]
            meta: dict = {"sentence": sent, "level": LEVELS[level], **votes.get(stem, {})}
            if actor in demo:
                d = demo[actor]
                meta.update(age=int(d["Age"]) if d.get("Age", "").isdigit() else d.get("Age"),
                            gender=(d.get("Sex") or "").lower() or None,
                            race=d.get("Race"), ethnicity=d.get("Ethnicity"))
            if stem in KNOWN_PROBLEMS:
                meta["known_problem"] = KNOWN_PROBLEMS[stem]
            yield Utterance(
                id=self.uid(stem),
                corpus=self.name,
                speaker=f"cremad/{actor}",
                text=SENTENCES[sent],
                media=media,
                emotion=canonical(emo),
                emotion_original=emo,
                meta=meta,
            )
