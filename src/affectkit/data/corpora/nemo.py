"""nEMO: emotional speech in Polish (Christop, LREC-COLING 2024).

Nine actors portray six emotional states reading phonetically balanced sentences: 4,481
clips, over 3 hours.

Supported layout (the GitHub release ``amu-cai/nEMO``; the Hugging Face copy has the same
files)::

    ROOT/data.tsv              file_id, emotion, raw_text, normalized_text, speaker_id,
                               gender, age (tab-separated, one row per clip)
    ROOT/samples/<file_id>     ``{speaker_id}_{emotion}_{sentence_id}.wav``; any audio
                               extension is accepted for the same stem

Labels as the corpus spells them: anger, fear, happiness, neutral, sadness, surprised.
``text`` is ``raw_text``; ``normalized_text``, gender, age and the sentence id go to meta.
A row whose clip is missing from ``samples/`` is reported, not loaded.

Splits: none official ("provided as a whole"); ``leave_one_speaker_out`` (9 folds) or
``speaker_kfold``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import find_audio
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
REQUIRED = ("file_id", "emotion", "raw_text", "speaker_id")


@CORPORA.register()
class Nemo(Corpus):
    name = "nemo"
    title = "nEMO"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=EMOTIONS)
    layout = "ROOT/data.tsv (file_id, emotion, raw_text, speaker_id, ...) + ROOT/samples/<file_id>"
    shared_subdir = None
    language = "pl"
    licence = "CC BY-NC-SA 4.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("data.tsv")
        tsv = self.root / "data.tsv"
        samples = self.root / "samples"
        with open(tsv, newline="", encoding="utf-8-sig") as f:
            # Transcripts contain typographic quotes („…”): no quote processing.
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        cols = rows[0].keys() if rows else []
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise DataError(f"{self.title}: {tsv} lacks columns {missing}; expected layout: "
                            f"{self.layout}")
        for row_no, row in enumerate(rows, start=2):
            row = {k: (v or "").strip() for k, v in row.items() if k is not None}
            where = f"{tsv}:{row_no}"
            emo = row["emotion"].lower()
            if emo not in EMOTIONS:
                yield Issue(where, f"unknown emotion {row['emotion']!r} (expected one of "
                                   f"{', '.join(EMOTIONS)})", "emotion")
                continue
            if not row["speaker_id"]:
                yield Issue(where, "empty speaker_id", "speaker_id")
                continue
            stem = Path(row["file_id"]).stem
            audio = find_audio(samples, stem)
            if audio is None:
                yield Issue(where, f"audio {samples / row['file_id']} not found (any of .wav, "
                                   ".flac, .opus, ...)", "file_id")
                continue
            parts = stem.rsplit("_", 1)
            meta = {
                "normalized_text": row.get("normalized_text") or None,
                "gender": row.get("gender") or None,
                "age": int(row["age"]) if row.get("age", "").isdigit() else None,
                "sentence_id": parts[1] if len(parts) == 2 else None,
            }
            yield Utterance(
                id=self.uid(stem),
                corpus=self.name,
                speaker=f"nemo/{row['speaker_id']}",
                text=row["raw_text"] or None,
                media={Modality.AUDIO: audio},
                emotion=canonical(emo),
                emotion_original=emo,
                meta=meta,
            )
