"""FER+: ten crowd votes per FER2013 image (Barsoum et al., ICMI 2016; labels MIT).

Two layouts are read, detected automatically:

* **mapped** (the shared copy) — ``fer2013_ferplus.csv`` with columns
  ``jpg,split,ferplus_png,match_corr,neutral,happiness,surprise,sadness,anger,disgust,fear,
  contempt,unknown,NF``; ``jpg`` is a path relative to the FER2013 image-folder export
  (default ``ROOT/../fer2013``, or ``images=``).
* **release** — Microsoft's ``fer2013new.csv`` (``Usage,Image name,neutral,...,NF``), whose
  rows align one-to-one with the original ``fer2013.csv`` (in ``ROOT`` or ``images=``); rows
  with an empty image name were dropped by FER+ and are skipped (reported).

Votes → labels, following the FER+ reference code (``ferplus.py``, "majority" mode):

* ``meta["votes"]``: the 10 raw counts; ``meta["soft"]``: the distribution over the 8
  emotions (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt) after the
  reference's outlier removal (a class with a single vote is zeroed) — soft targets;
* ``emotion``: the plurality emotion (canonical spelling; ``contempt`` stays ``contempt``);
  ``meta["majority"]``: True when it holds more than half of the votes left after outlier
  removal — the test protocol ("FER+ majority accuracy") scores only those images.
* Images whose plurality is ``unknown`` or ``NF`` (not a face), or with no emotion vote left,
  are **not** loaded and each is reported as an :class:`Issue` (field ``votes``) with the
  reason, so ``LoadResult.issues`` counts them.

Splits: FER2013's (Training → train, PublicTest → valid, PrivateTest → test). No subject ids.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")
EMOTIONS = VOTE_COLUMNS[:8]
SPLITS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid",
          "publictest": "valid", "test": "test", "privatetest": "test"}


def vote_labels(votes: np.ndarray) -> tuple[str | None, np.ndarray, bool, str]:
    """(plurality emotion or None, soft 8-way target, has a majority, reason if dropped)."""
    v = np.asarray(votes, dtype=np.float64).copy()
    v[v <= 1.0] = 0.0  # reference outlier removal: single votes do not count
    if v.sum() == 0:
        return None, np.zeros(8), False, "every class has at most one vote"
    top = int(np.argmax(v))
    if top >= 8:
        return None, np.zeros(8), False, f"plurality vote is {VOTE_COLUMNS[top]!r}"
    emo = v[:8]
    soft = emo / emo.sum()
    majority = v[top] > 0.5 * v.sum()
    return EMOTIONS[top], soft, bool(majority), ""


@CORPORA.register()
class FerPlus(Corpus):
    name = "ferplus"
    title = "FER+"
    modalities = (Modality.VISION,)
    label_space = LabelSpace(emotions=EMOTIONS)
    layout = ("ROOT/fer2013_ferplus.csv (jpg paths into the FER2013 image folders at "
              "ROOT/../fer2013) or ROOT/fer2013new.csv + fer2013.csv (original release)")
    shared_subdir = "face/ferplus"
    official_split = True
    speaker_independent_split = False  # FER2013 has no subject ids
    language = ""
    licence = "MIT (FER+ labels); images under the FER2013 terms"

    def __init__(self, root, *, strict: bool = False, images: str | None = None) -> None:
        """
        Args:
            root: folder holding ``fer2013_ferplus.csv`` or ``fer2013new.csv``.
            strict: raise on the first bad row instead of reporting it.
            images: the FER2013 folder (image export, or the one holding ``fer2013.csv``);
                default: ``ROOT/../fer2013`` then ``ROOT``.
        """
        super().__init__(root, strict=strict)
        self.images = Path(images).expanduser() if images else None

    def _images_root(self) -> Path:
        for cand in ([self.images] if self.images else [self.root.parent / "fer2013", self.root]):
            if cand is not None and cand.exists():
                return cand
        raise DataError(f"FER+: FER2013 images not found (looked in {self.root.parent / 'fer2013'}"
                        f"); pass images=<FER2013 folder>; expected layout: {self.layout}")

    def scan(self) -> Iterator[Utterance | Issue]:
        mapped = self.root / "fer2013_ferplus.csv"
        release = self.root / "fer2013new.csv"
        if mapped.is_file():
            yield from self._scan_mapped(mapped)
        elif release.is_file():
            yield from self._scan_release(release)
        else:
            raise DataError(f"FER+: neither fer2013_ferplus.csv nor fer2013new.csv in "
                            f"{self.root}; expected layout: {self.layout}")

    def _item(self, local: str, split: str, path: Path, votes: np.ndarray, where: str,
              **meta) -> Utterance | Issue:
        emo, soft, majority, why = vote_labels(votes)
        if emo is None:
            return Issue(where, f"not loaded: {why} (votes {votes.astype(int).tolist()})",
                         "votes")
        return Utterance(
            id=self.uid(local), corpus=self.name, split=split, media={Modality.VISION: path},
            emotion=canonical(emo), emotion_original=emo,
            meta={"votes": votes.astype(int).tolist(), "soft": soft.round(6).tolist(),
                  "majority": majority, **meta})

    def _votes(self, row: dict, where: str) -> np.ndarray | Issue:
        try:
            v = np.array([float(row[c]) for c in VOTE_COLUMNS])
        except KeyError as e:
            raise DataError(f"FER+: {where}: column {e} missing; expected columns "
                            f"{', '.join(VOTE_COLUMNS)}") from None
        except (TypeError, ValueError):
            return Issue(where, "vote counts are not numbers", "votes")
        if (v < 0).any():
            return Issue(where, "negative vote count", "votes")
        return v

    def _scan_mapped(self, path: Path) -> Iterator[Utterance | Issue]:
        images = self._images_root()
        with path.open(newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                where = f"{path}:{i}"
                v = self._votes(row, where)
                if isinstance(v, Issue):
                    yield v
                    continue
                split = SPLITS.get(str(row.get("split", "")).strip().lower())
                rel = (row.get("jpg") or "").strip()
                if split is None or not rel:
                    yield Issue(where, f"bad split {row.get('split')!r} or empty jpg", "split")
                    continue
                img = images / rel
                if not img.is_file():
                    yield Issue(where, f"image {img} not found", "jpg")
                    continue
                yield self._item(rel.rsplit(".", 1)[0], split, img, v, where,
                                 ferplus_png=row.get("ferplus_png"))

    def _scan_release(self, path: Path) -> Iterator[Utterance | Issue]:
        from affectkit.data.corpora.fer2013 import Fer2013

        images = self._images_root()
        fer = [u for u in Fer2013(images, layout="csv").scan() if isinstance(u, Utterance)]
        by_row = {u.meta["row"]: u for u in fer}
        with path.open(newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=1):
                where = f"{path}:{i + 1}"
                name = (row.get("Image name") or "").strip()
                if not name:
                    yield Issue(where, "no image name (removed by FER+)", "Image name")
                    continue
                base = by_row.get(i)
                if base is None:
                    yield Issue(where, f"fer2013.csv has no row {i}", "row")
                    continue
                v = self._votes(row, where)
                if isinstance(v, Issue):
                    yield v
                    continue
                meta = {k: base.meta[k] for k in ("row", "offset", "pixels_column", "image_reader")}
                yield self._item(name.rsplit(".", 1)[0], base.split, base.media[Modality.VISION],
                                 v, where, **meta)
