"""mosi400: 400 raw CMU-MOSI segments with real video, speech and transcript (16 videos).

Layout: ``video/<video>_<n>.mp4`` (one clip per segment: picture + speech), ``transcripts/
<video>.annotprocessed`` (the CMU raw transcript, lines ``<n>_DELIM_<TEXT>``) and ``labels.csv``
(``video_id,clip_id,text,label,annotation``; score in [−3, 3]). Text comes from
``labels.csv``; where the transcript line differs it is kept in ``meta["transcript"]``. Audio
and vision both come from the mp4, so the three modalities are real.

No official split: the 16 videos are 16 speakers, use ``speaker_kfold`` (video folds). All 16
videos belong to MOSI's train (15) and valid (1) folds — ``meta["mosi_fold"]`` — so a model
trained on MOSI text must leave them out before being evaluated here:
:data:`MOSI400_VIDEOS` lists them and :func:`without_mosi400` filters MOSI utterances
(``meta["video"]``, or ``meta["mosi_video"]`` here).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from affectkit.data.base import CORPORA, VIDEO_EXTS, Corpus, Issue
from affectkit.data.corpora._cmu import MOSI_FOLDS, parse_score, read_annotprocessed
from affectkit.data.corpora.mosi import media_index
from affectkit.types import LabelSpace, Modality, Utterance

#: The 16 MOSI videos of mosi400 (checked against the shared labels.csv in the tests).
MOSI400_VIDEOS: frozenset[str] = frozenset("""
03bSnISJMiM 0h-zjBukYpk 1DmNV9C1hbY 1iG0909rllw 2WGyTLYerpo 2iD-tVS8NPw 5W7Z1C_fDaE
6Egk_28TtTM 6_0THN4chvY 7JsX8y1ysxY 8OtFthrtaJM 8d-gEyoeBzc 8qrpnFRGt2A 9J25DZhivz8
9c67fiY0wGQ _dI--eQ6qVU
""".split())


def without_mosi400(utterances: Iterable[Utterance]) -> list[Utterance]:
    """Drop utterances from the 16 mosi400 videos (use on MOSI before training on it).

    Works on any corpus that records the MOSI video in ``meta["video"]`` (mosi) or
    ``meta["mosi_video"]`` (mosi400).
    """
    return [u for u in utterances
            if (u.meta.get("mosi_video") or u.meta.get("video")) not in MOSI400_VIDEOS]


@CORPORA.register()
class Mosi400(Corpus):
    name = "mosi400"
    title = "CMU-MOSI raw 400"
    modalities = (Modality.TEXT, Modality.AUDIO, Modality.VISION)
    label_space = LabelSpace(sentiment="continuous")
    layout = ("ROOT/labels.csv (video_id,clip_id,text,label,...) + ROOT/video/<video>_<n>.mp4 "
              "[+ ROOT/transcripts/<video>.annotprocessed]")
    shared_subdir = "multimodal/mosi400"
    speaker_independent_split = None  # no official split; video folds are
    licence = "research use (CMU-MOSI terms)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("labels.csv", "video")
        clips = media_index(self.root / "video", VIDEO_EXTS)
        transcripts: dict[str, dict[int, str]] = {}
        for p in sorted((self.root / "transcripts").glob("*.annotprocessed")):
            transcripts[p.stem] = read_annotprocessed(p)
        path = self.root / "labels.csv"
        used = set()
        with path.open(newline="", encoding="utf-8-sig") as f:
            for row_no, row in enumerate(csv.DictReader(f), start=2):
                where = f"{path}:{row_no}"
                vid, clip = (row.get("video_id") or "").strip(), (row.get("clip_id") or "").strip()
                if not vid or not clip.isdigit():
                    yield Issue(where, f"video_id/clip_id {vid!r}/{clip!r} invalid", "clip_id")
                    continue
                score = parse_score(row.get("label"))
                if score is None:
                    yield Issue(where, f"label {row.get('label')!r} is not a score in [-3, 3]",
                                "label")
                    continue
                seg = f"{vid}_{clip}"
                if seg not in clips:
                    yield Issue(where, f"no video/{seg}.mp4", "video")
                    continue
                used.add(seg)
                text = (row.get("text") or "").strip()
                meta = {"mosi_video": vid, "segment": clip, "mosi_fold": MOSI_FOLDS.get(vid)}
                raw = transcripts.get(vid, {}).get(int(clip))
                if raw is not None and raw.split() != text.split():
                    meta["transcript"] = raw
                if row.get("annotation"):
                    meta["annotation"] = row["annotation"]
                yield Utterance(
                    id=self.uid(seg),
                    corpus=self.name,
                    speaker=f"mosi400/{vid}",
                    text=text or raw,
                    media={Modality.AUDIO: clips[seg], Modality.VISION: clips[seg]},
                    sentiment=score,
                    meta=meta,
                )
        for seg in sorted(set(clips) - used):
            yield Issue(str(clips[seg]), "clip has no row in labels.csv", "label")
