"""MELD: Multimodal EmotionLines Dataset (Poria et al., ACL 2019), Friends dialogues.

Layout: ``{train,dev,test}_sent_emo.csv`` (columns ``Utterance, Speaker, Emotion, Sentiment,
Dialogue_ID, Utterance_ID, StartTime, EndTime`` ...). Media, when present, are the release's
``dia<D>_utt<U>.mp4`` clips, looked for in ``train_splits/``, ``dev_splits_complete/`` and
``output_repeated_splits_test/`` (the MELD.Raw folder names) or ``train/ dev/ test/`` under root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
SENTIMENTS = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
SPLITS = {"train": "train", "dev": "valid", "test": "test"}
MEDIA_DIRS = {
    "train": ("train_splits", "train"),
    "dev": ("dev_splits_complete", "dev"),
    "test": ("output_repeated_splits_test", "test"),
}
REQUIRED = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")


def _timestamp(v) -> float | None:
    """MELD times look like ``00:16:16,059``."""
    try:
        hms, ms = str(v).split(",")
        h, m, s = (int(x) for x in hms.split(":"))
        return h * 3600 + m * 60 + s + int(ms) / 1000
    except (ValueError, AttributeError):
        return None


@CORPORA.register()
class Meld(Corpus):
    name = "meld"
    title = "MELD"
    modalities = (Modality.TEXT, Modality.AUDIO, Modality.VISION)
    label_space = LabelSpace(emotions=EMOTIONS, sentiment="polarity")
    layout = "ROOT/{train,dev,test}_sent_emo.csv (+ optional dia<D>_utt<U>.mp4 media folders)"
    shared_subdir = "text/meld"
    official_split = True
    licence = "GPL-3.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        import pandas as pd

        self.require("train_sent_emo.csv")
        for part, split in SPLITS.items():
            csv = self.root / f"{part}_sent_emo.csv"
            if not csv.exists():
                yield Issue(str(csv), "split file missing", "file")
                continue
            df = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8")
            missing = [c for c in REQUIRED if c not in df.columns]
            if missing:
                yield Issue(str(csv), f"missing columns {missing}", "columns")
                continue
            media_dirs = [self.root / d for d in MEDIA_DIRS[part] if (self.root / d).is_dir()]
            for row_no, row in enumerate(df.to_dict("records"), start=2):
                where = f"{csv}:{row_no}"
                emo = row["Emotion"].strip().lower()
                sent = row["Sentiment"].strip().lower()
                if emo not in EMOTIONS:
                    yield Issue(where, f"unknown emotion {row['Emotion']!r}", "Emotion")
                    continue
                if sent not in SENTIMENTS:
                    yield Issue(where, f"unknown sentiment {row['Sentiment']!r}", "Sentiment")
                    continue
                try:
                    d, t = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
                except ValueError:
                    yield Issue(where, "Dialogue_ID/Utterance_ID not integers", "Dialogue_ID")
                    continue
                media: dict[Modality, Path] = {}
                for md in media_dirs:
                    clip = md / f"dia{d}_utt{t}.mp4"
                    if clip.exists():
                        media = {Modality.AUDIO: clip, Modality.VISION: clip}
                        break
                yield Utterance(
                    id=self.uid(f"{part}/dia{d}_utt{t}"),
                    corpus=self.name,
                    split=split,
                    speaker=f"meld/{row['Speaker'].strip()}",
                    text=row["Utterance"].strip(),
                    media=media,  # whole clips: start/end stay None (times below are the episode's)
                    dialogue_id=f"meld/{part}/{d}",
                    turn=t,
                    emotion=canonical(emo),
                    emotion_original=emo,
                    sentiment=SENTIMENTS[sent],
                    meta={"season": row.get("Season"), "episode": row.get("Episode"),
                          "episode_start": _timestamp(row.get("StartTime")),
                          "episode_end": _timestamp(row.get("EndTime"))},
                )
