"""CK+: the Extended Cohn-Kanade dataset (Lucey et al., CVPR-W 2010), posed facial expressions.

Two public layouts are read, detected automatically:

* **release** — ``cohn-kanade-images/S###/###/S###_###_########.png`` (one folder per
  sequence, neutral onset → peak) and ``Emotion/S###/###/S###_###_########_emotion.txt``
  (one float code: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness,
  7 surprise). Only 327 of the 593 sequences carry an emotion file; the labelled item is the
  frame that file names, which is the sequence's last (peak) frame. Sequences without an
  emotion file are unlabelled by design and are not loaded. Both folders may sit one or two
  levels down (the archives unpack as ``extended-cohn-kanade-images/`` and
  ``Emotion_labels/``).
* **crops48** — the widely used 48×48 crops ``<emotion>/S###_###_########.png`` (the last
  three frames of each labelled sequence; 981 images).

Choice about neutral: the emotion files never use code 0, so by default no neutral items are
produced. ``neutral_first_frame=True`` (release layout only) adds the first frame of every
labelled sequence as ``neutral`` — the common 8-class protocol. It is off by default because
those frames are the same subject's onset of the same sequence, not independent recordings.

Subject = ``S###``. There is no official split: use ``speaker_kfold`` (subject-disjoint),
which also keeps frames of one sequence together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, IMAGE_EXTS, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy",
         6: "sadness", 7: "surprise"}
FRAME_RE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})$")


def _find_dir(root: Path, name: str, depth: int = 3) -> Path | None:
    """``root/name`` or the first ``*/name`` / ``*/*/name`` below it (archive wrappers)."""
    for d in range(depth):
        hits = sorted(p for p in root.glob("/".join(["*"] * d + [name])) if p.is_dir())
        if hits:
            return hits[0]
    return None


@CORPORA.register()
class CkPlus(Corpus):
    name = "ckplus"
    title = "CK+"
    modalities = (Modality.VISION,)
    label_space = LabelSpace(emotions=tuple(CODES[i] for i in range(1, 8)))
    layout = (
        "release: ROOT/cohn-kanade-images/S###/###/*.png + ROOT/Emotion/S###/###/*_emotion.txt; "
        "or 48x48 crops: ROOT/<emotion>/S###_###_########.png"
    )
    shared_subdir = "face/ckplus48"
    speaker_independent_split = None  # no official split; subject k-fold is
    language = ""
    licence = "research use (CK+ agreement, no redistribution)"

    def __init__(self, root, *, strict: bool = False, neutral_first_frame: bool = False) -> None:
        """
        Args:
            root: corpus folder (release or crops layout).
            strict: raise on the first bad file instead of reporting it.
            neutral_first_frame: release layout only; also load each labelled sequence's
                first frame as ``neutral`` (see the module docstring).
        """
        super().__init__(root, strict=strict)
        self.neutral_first_frame = neutral_first_frame

    def scan(self) -> Iterator[Utterance | Issue]:
        images = _find_dir(self.root, "cohn-kanade-images")
        if images is not None:
            emotion = _find_dir(self.root, "Emotion")
            if emotion is None:
                raise DataError(f"CK+: {images} found but no Emotion/ label folder under "
                                f"{self.root}; expected layout: {self.layout}")
            yield from self._scan_release(images, emotion)
            return
        label_dirs = [p for p in sorted(self.root.iterdir()) if p.is_dir()]
        if not label_dirs:
            raise DataError(f"CK+: neither cohn-kanade-images/ nor <emotion>/ folders under "
                            f"{self.root}; expected layout: {self.layout}")
        yield from self._scan_crops(label_dirs)

    def _item(self, path: Path, label: str, layout: str, **meta) -> Utterance | Issue:
        m = FRAME_RE.match(path.stem)
        if not m:
            return Issue(str(path), "file name is not S###_###_########", "name")
        subj, seq, frame = m.groups()
        return Utterance(
            id=self.uid(path.stem),
            corpus=self.name,
            speaker=f"ckplus/{subj}",
            media={Modality.VISION: path},
            emotion=canonical(label),
            emotion_original=label,
            meta={"sequence": f"{subj}_{seq}", "frame": int(frame), "layout": layout, **meta},
        )

    def _scan_crops(self, label_dirs: list[Path]) -> Iterator[Utterance | Issue]:
        known = set(CODES.values())
        for d in label_dirs:
            with os.scandir(d) as it:
                files = sorted(Path(e.path) for e in it
                               if os.path.splitext(e.name)[1].lower() in IMAGE_EXTS)
            for p in files:
                label = d.name.lower()
                if label not in known:
                    yield Issue(str(p), f"unknown emotion folder {d.name!r} (expected "
                                f"{', '.join(sorted(known))})", "emotion")
                    continue
                yield self._item(p, label, "crops48")

    def _scan_release(self, images: Path, emotion: Path) -> Iterator[Utterance | Issue]:
        for ef in sorted(emotion.glob("S*/*/*_emotion.txt")):
            try:
                code_f = float(ef.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                yield Issue(str(ef), "emotion file does not hold one number", "emotion")
                continue
            code = int(code_f)
            if code != code_f or code not in CODES:
                yield Issue(str(ef), f"unknown emotion code {code_f!r} (expected 0..7)", "emotion")
                continue
            stem = ef.name[: -len("_emotion.txt")]
            seq_dir = images / ef.parent.parent.name / ef.parent.name
            frames = sorted(p for p in seq_dir.glob("*") if p.suffix.lower() in IMAGE_EXTS) \
                if seq_dir.is_dir() else []
            peak = next((p for p in frames if p.stem == stem), None)
            if peak is None:
                yield Issue(str(ef), f"labelled frame {stem}.png not found in {seq_dir}", "image")
                continue
            yield self._item(peak, CODES[code], "release", n_frames=len(frames),
                             is_last_frame=peak == frames[-1])
            if self.neutral_first_frame and frames[0] != peak:
                yield self._item(frames[0], "neutral", "release", n_frames=len(frames),
                                 first_frame_neutral=True)
