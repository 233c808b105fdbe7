"""CMU-MOSI: Multimodal Opinion-level Sentiment Intensity (Zadeh et al., 2016).

93 YouTube movie-review videos, one speaker each, cut into 2,199 opinion segments with a
sentiment score in [−3, 3]. Two layouts are read, detected automatically:

* **mmsa** — ``label.csv`` with columns ``id,text,label,mode`` (MMSA's processed release;
  ``id = <video>_<segment>``, ``mode`` train/dev/test; lower-case word-aligned text). The
  shared copy has 2,195 rows = 1,281 / 229 / 685: the 2,199 segments of the CMU release minus
  four that MMSA dropped (``2WGyTLYerpo_44`` and ``5W7Z1C_fDaE_24`` are two of them, both
  present in ``mosi400``). Media, when present, are MMSA's ``Raw/<video>/<segment>.mp4``.
* **cmu** — the CMU release: ``Transcript/Segmented/<video>.annotprocessed`` (lines
  ``<n>_DELIM_<TEXT>``), ``Audio/WAV_16000/Segmented/<video>_<n>.wav``,
  ``Video/Segmented/<video>_<n>.mp4`` and the CMU-SDK label sequence
  (``CMU_MOSI_Opinion_Labels.csd``, HDF5 ``<seq>/data/<video>/{features,intervals}``) under
  root or ``Labels/``. Label rows pair with transcript segments by order (or by the ``[i]``
  of SDK-aligned keys). Splits come from the SDK's standard folds (:data:`MOSI_FOLDS`).

Speaker = the video (``mosi/<video>``): each video is one speaker, and the standard folds
are video-disjoint, so the official split is speaker independent (asserted in the tests).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import AUDIO_EXTS, CORPORA, VIDEO_EXTS, Corpus, Issue
from affectkit.data.corpora._cmu import (
    MODES,
    MOSI_FOLDS,
    find_label_csd,
    parse_score,
    read_annotprocessed,
    read_csd,
)
from affectkit.errors import DataError
from affectkit.types import LabelSpace, Modality, Utterance

__all__ = ["MOSI_FOLDS", "Mosi"]


def media_index(folder: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    """Stem → path for the media files directly in ``folder`` (empty if absent)."""
    if not folder.is_dir():
        return {}
    with os.scandir(folder) as it:
        return {os.path.splitext(e.name)[0]: Path(e.path) for e in it
                if os.path.splitext(e.name)[1].lower() in exts}


def scan_mmsa_csv(corpus: Corpus, csv_path: Path, *, video_col: str | None,
                  clip_col: str) -> Iterator[Utterance | Issue]:
    """Rows of an MMSA ``label.csv`` (MOSI ``id`` form or MOSEI ``video_id,clip_id`` form)."""
    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        need = [c for c in ((video_col,) if video_col else ()) + (clip_col, "text", "label",
                                                                    "mode") if c not in cols]
        if need:
            raise DataError(f"{corpus.title}: {csv_path} lacks columns {need} (has {cols}); "
                            f"expected layout: {corpus.layout}")
        raw_dir = corpus.root / "Raw"
        has_raw = raw_dir.is_dir()
        for row_no, row in enumerate(reader, start=2):
            where = f"{csv_path}:{row_no}"
            if video_col:
                video, clip = row[video_col].strip(), row[clip_col].strip()
            else:
                video, _, clip = row[clip_col].strip().rpartition("_")
            if not video or not clip:
                yield Issue(where, f"id {row[clip_col]!r} is not <video>_<segment>", clip_col)
                continue
            score = parse_score(row["label"])
            if score is None:
                yield Issue(where, f"label {row['label']!r} is not a score in [-3, 3]", "label")
                continue
            mode = (row["mode"] or "").strip().lower()
            if mode not in MODES:
                yield Issue(where, f"unknown mode {row['mode']!r} (expected train/valid/test)",
                            "mode")
                continue
            text = (row["text"] or "").strip()
            if not text:
                yield Issue(where, "empty text", "text")
                continue
            media: dict[Modality, Path] = {}
            if has_raw:
                clip_file = next((raw_dir / video / f"{clip}{ext}" for ext in (".mp4", ".avi")
                                  if (raw_dir / video / f"{clip}{ext}").exists()), None)
                if clip_file is not None:
                    media = {Modality.AUDIO: clip_file, Modality.VISION: clip_file}
            meta = {"video": video, "segment": clip}
            if row.get("annotation"):
                meta["annotation"] = row["annotation"]
            yield Utterance(
                id=corpus.uid(f"{video}_{clip}"),
                corpus=corpus.name,
                split=MODES[mode],
                speaker=f"{corpus.name}/{video}",
                text=text,
                media=media,
                sentiment=score,
                meta=meta,
            )


@CORPORA.register()
class Mosi(Corpus):
    name = "mosi"
    title = "CMU-MOSI"
    modalities = (Modality.TEXT, Modality.AUDIO, Modality.VISION)
    label_space = LabelSpace(sentiment="continuous")
    layout = (
        "ROOT/label.csv (id,text,label,mode; MMSA) [+ ROOT/Raw/<video>/<n>.mp4], or the CMU "
        "release: ROOT/Transcript/Segmented/<video>.annotprocessed + "
        "ROOT/Audio/WAV_16000/Segmented/<video>_<n>.wav + ROOT/Video/Segmented/<video>_<n>.mp4 "
        "+ ROOT/[Labels/]CMU_MOSI_Opinion_Labels.csd"
    )
    shared_subdir = "text/mosi"
    official_split = True
    speaker_independent_split = True  # folds are video-disjoint and video = speaker
    licence = "research use (CMU-MOSI terms)"

    def scan(self) -> Iterator[Utterance | Issue]:
        label_csv = self.root / "label.csv"
        if label_csv.is_file():
            yield from scan_mmsa_csv(self, label_csv, video_col=None, clip_col="id")
            return
        trans = self.root / "Transcript" / "Segmented"
        if not trans.is_dir():
            raise DataError(f"CMU-MOSI: neither label.csv nor Transcript/Segmented/ under "
                            f"{self.root}; expected layout: {self.layout}")
        yield from self._scan_cmu(trans)

    def _scan_cmu(self, trans: Path) -> Iterator[Utterance | Issue]:
        csd = find_label_csd(self.root)
        if csd is None:
            raise DataError(f"CMU-MOSI: no labels .csd (CMU_MOSI_Opinion_Labels.csd) under "
                            f"{self.root} or {self.root / 'Labels'}; expected layout: "
                            f"{self.layout}")
        labels = read_csd(csd)
        audio = media_index(self.root / "Audio" / "WAV_16000" / "Segmented", AUDIO_EXTS)
        video = media_index(self.root / "Video" / "Segmented", VIDEO_EXTS)
        transcripts = {p.stem: p for p in sorted(trans.glob("*.annotprocessed"))}
        for vid in sorted(set(labels) | set(transcripts)):
            segs = read_annotprocessed(transcripts[vid]) if vid in transcripts else {}
            for k in sorted(k for k in segs if k < 0):
                yield Issue(f"{transcripts[vid]}:{-k}", "line is not <n>_DELIM_<text>", "text")
            texts = {k: v for k, v in segs.items() if k > 0}
            rows = labels.get(vid, [])
            aligned = all(r[0] is not None for r in rows)
            if rows and not aligned and texts and len(rows) != len(texts):
                # Pairing unaligned label rows with transcript lines is by order; with
                # different counts the pairing would be wrong, so report every segment.
                for n in sorted(texts):
                    yield Issue(f"{vid}_{n}", f"{csd.name} has {len(rows)} label rows for {vid} "
                                f"but the transcript has {len(texts)} segments", "label")
                continue
            labelled = set()
            for i, (seg, start, end, feats) in enumerate(rows):
                n = seg + 1 if aligned else i + 1
                labelled.add(n)
                seg_id = f"{vid}_{n}"
                score = parse_score(feats[0])
                if score is None:
                    yield Issue(f"{csd}:data/{vid}[{n - 1}]", f"sentiment {feats[0]!r} outside "
                                f"[-3, 3]", "features")
                    continue
                if n not in texts:
                    yield Issue(f"{vid}_{n}", f"labelled in {csd.name} but no transcript line "
                                f"{n} in {vid}.annotprocessed", "text")
                    continue
                media: dict[Modality, Path] = {}
                if seg_id in video:
                    media = {Modality.AUDIO: video[seg_id], Modality.VISION: video[seg_id]}
                if seg_id in audio:
                    media[Modality.AUDIO] = audio[seg_id]
                yield Utterance(
                    id=self.uid(seg_id),
                    corpus=self.name,
                    split=MOSI_FOLDS.get(vid),
                    speaker=f"mosi/{vid}",
                    text=texts[n],
                    media=media,
                    sentiment=score,
                    meta={"video": vid, "segment": str(n), "video_start": start,
                          "video_end": end},
                )
            for n in sorted(set(texts) - labelled):
                yield Issue(f"{transcripts[vid]}:{n}", f"segment {n} has no label in {csd.name}",
                            "label")
