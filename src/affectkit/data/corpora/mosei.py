"""CMU-MOSEI: Multimodal Opinion Sentiment and Emotion Intensity (Zadeh et al., ACL 2018).

~3,200 YouTube monologue videos (about 1,000 speakers) cut into sentence segments, each with a
sentiment score in [−3, 3] and six emotion intensities. Two layouts are read:

* **mmsa** — ``label.csv`` with columns ``video_id,clip_id,text,label,...,mode`` (MMSA's
  processed release; 22,788 rows in the shared copy: 16,274 / 1,861 / 4,653). Media, when
  present, are MMSA's ``Raw/<video_id>/<clip_id>.mp4``.
* **cmu** — the CMU-SDK label sequence ``CMU_MOSEI_Labels.csd`` (HDF5
  ``<seq>/data/<video>/{features,intervals}``, features ``(N, 7)`` = sentiment, happy, sad,
  anger, surprise, disgust, fear) with, optionally, the raw transcripts
  ``Transcript/Segmented/Combined/<video>.txt`` (lines ``<video>___<n>___<start>___<end>___<text>``,
  matched to label rows by interval within 0.05 s) and full-video media anywhere under root
  named ``<video>.<ext>`` (segments are then ``start``/``end`` spans inside them). The SDK's
  standard folds are not embedded (3,000+ video ids): splits are ``None`` in this layout;
  use ``speaker_kfold`` (by video) or the mmsa layout.

Emotion intensities (cmu layout) go to ``meta["emotion_intensity"]``; they are not turned
into labels. Speaker = the video (``mosei/<video>``; MOSEI has no speaker ids across
videos). The official folds are video-disjoint, so the official split is speaker
independent at the video level (asserted in the tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import AUDIO_EXTS, CORPORA, VIDEO_EXTS, Corpus, Issue
from affectkit.data.corpora._cmu import (
    find_label_csd,
    parse_score,
    read_csd,
    read_mosei_transcript,
)
from affectkit.data.corpora.mosi import scan_mmsa_csv
from affectkit.errors import DataError
from affectkit.types import LabelSpace, Modality, Utterance

EMOTION_COLUMNS = ("happy", "sad", "anger", "surprise", "disgust", "fear")


@CORPORA.register()
class Mosei(Corpus):
    name = "mosei"
    title = "CMU-MOSEI"
    modalities = (Modality.TEXT, Modality.AUDIO, Modality.VISION)
    label_space = LabelSpace(sentiment="continuous")
    layout = (
        "ROOT/label.csv (video_id,clip_id,text,label,...,mode; MMSA) "
        "[+ ROOT/Raw/<video>/<clip>.mp4], "
        "or ROOT/[Labels/]CMU_MOSEI_Labels.csd [+ ROOT/Transcript/Segmented/Combined/<video>.txt]"
    )
    shared_subdir = "text/mosei"
    official_split = True
    speaker_independent_split = True  # folds are video-disjoint; speaker = video
    licence = "research use (CMU-MOSEI terms)"

    def scan(self) -> Iterator[Utterance | Issue]:
        label_csv = self.root / "label.csv"
        if label_csv.is_file():
            yield from scan_mmsa_csv(self, label_csv, video_col="video_id", clip_col="clip_id")
            return
        csd = find_label_csd(self.root)
        if csd is None:
            raise DataError(f"CMU-MOSEI: neither label.csv nor a labels .csd under {self.root}; "
                            f"expected layout: {self.layout}")
        yield from self._scan_cmu(csd)

    def _scan_cmu(self, csd: Path) -> Iterator[Utterance | Issue]:
        labels = read_csd(csd)
        trans_dir = self.root / "Transcript" / "Segmented" / "Combined"
        media: dict[str, dict[Modality, Path]] = {}
        for dirpath, _, files in os.walk(self.root):
            for fn in files:
                stem, ext = os.path.splitext(fn)
                if stem in labels and ext.lower() in AUDIO_EXTS + VIDEO_EXTS:
                    m = media.setdefault(stem, {})
                    p = Path(dirpath) / fn
                    if ext.lower() in VIDEO_EXTS:
                        m.setdefault(Modality.VISION, p)
                        m.setdefault(Modality.AUDIO, p)
                    else:
                        m[Modality.AUDIO] = p  # a wav beats the video's audio track
        for vid in sorted(labels):
            segs: list[tuple[int, float, float, str]] = []
            tf = trans_dir / f"{vid}.txt"
            if tf.is_file():
                segs, bad = read_mosei_transcript(tf)
                for no in bad:
                    yield Issue(f"{tf}:{no}",
                                "line is not <video>___<n>___<start>___<end>___<text>", "text")
            for i, (seg, start, end, feats) in enumerate(labels[vid]):
                where = f"{csd}:data/{vid}[{i}]"
                if len(feats) < 1 + len(EMOTION_COLUMNS):
                    yield Issue(where, f"{len(feats)} label columns, expected 7 (sentiment + 6 "
                                "emotions)", "features")
                    continue
                score = parse_score(feats[0])
                if score is None:
                    yield Issue(where, f"sentiment {feats[0]!r} outside [-3, 3]", "features")
                    continue
                match = next((s for s in segs if abs(s[1] - start) < 0.05
                              and abs(s[2] - end) < 0.05), None)
                n = match[0] if match else (seg if seg is not None else i)
                if segs and match is None:
                    yield Issue(where, f"no transcript segment in {tf.name} spans "
                                f"{start:.2f}-{end:.2f} s", "text")
                    continue
                yield Utterance(
                    id=self.uid(f"{vid}_{n}"),
                    corpus=self.name,
                    speaker=f"mosei/{vid}",
                    text=match[3] if match else None,
                    media=dict(media.get(vid, {})),
                    start=start,
                    end=end,
                    sentiment=score,
                    meta={"video": vid, "segment": str(n),
                          "emotion_intensity": dict(zip(EMOTION_COLUMNS, feats[1:7]))},
                )
