"""FER2013: Facial Expression Recognition 2013 (Goodfellow et al., ICML 2013 challenge).

Two public layouts are read, detected automatically:

* **csv** — the original ``fer2013.csv`` (columns ``emotion,pixels,Usage``; emotion ids
  0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral; ``pixels`` = 2,304
  space-separated grey levels of a 48×48 image; ``Usage`` Training / PublicTest / PrivateTest).
  Pixels are **not** parsed at load time: an utterance stores the csv as its vision media and
  the row number and byte offset in ``meta``; :func:`load_image` reads the one row it needs.
* **folders** — the image-folder export ``{train,validation,test}/<emotion>/<Usage>_<n>.jpg``
  (also the two-folder ``{train,test}`` Kaggle export, whose file-name prefix tells
  PublicTest from PrivateTest).

Splits are the challenge's: Training → ``train``, PublicTest → ``valid``,
PrivateTest → ``test``.
There are no subject ids (``speaker`` is ``None``), so no split of FER2013 can claim subject
independence; use the official one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, IMAGE_EXTS, Corpus, Issue
from affectkit.errors import DataError, MediaError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

# Id order of the csv; folder names of the image export are the lower-case names.
CSV_EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
FOLDER_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGE = {"Training": "train", "PublicTest": "valid", "PrivateTest": "test"}
FOLDERS = {"train": "train", "training": "train", "validation": "valid", "valid": "valid",
           "val": "valid", "publictest": "valid", "test": "test", "privatetest": "test"}
IMAGE_SIZE = 48


@CORPORA.register()
class Fer2013(Corpus):
    name = "fer2013"
    title = "FER2013"
    modalities = (Modality.VISION,)
    label_space = LabelSpace(emotions=FOLDER_EMOTIONS)
    layout = (
        "ROOT/fer2013.csv (emotion,pixels,Usage) or image folders "
        "ROOT/{train,validation,test}/<emotion>/<Usage>_<n>.jpg"
    )
    shared_subdir = "face/fer2013"
    official_split = True
    # No subject ids at all: no FER2013 split can be checked for subject independence.
    speaker_independent_split = False
    language = ""
    licence = "research use (Kaggle ICML 2013 challenge terms)"

    def __init__(self, root, *, strict: bool = False, layout: str = "auto") -> None:
        """
        Args:
            root: folder holding ``fer2013.csv`` or the split folders (a path to the csv
                itself is accepted too).
            strict: raise on the first bad row/file instead of reporting it.
            layout: ``"auto"`` (csv if present, else folders), ``"csv"`` or ``"folders"``.
        """
        super().__init__(root, strict=strict)
        if layout not in ("auto", "csv", "folders"):
            raise DataError(f"FER2013: layout must be auto, csv or folders, got {layout!r}")
        self.layout_choice = layout

    def _csv_path(self) -> Path | None:
        if self.root.is_file() and self.root.suffix.lower() == ".csv":
            return self.root
        for name in ("fer2013.csv", "fer2013/fer2013.csv", "icml_face_data.csv"):
            if (self.root / name).is_file():
                return self.root / name
        return None

    def scan(self) -> Iterator[Utterance | Issue]:
        csv = self._csv_path() if self.layout_choice in ("auto", "csv") else None
        if csv is not None:
            yield from self._scan_csv(csv)
            return
        if self.layout_choice == "csv":
            raise DataError(f"FER2013: no fer2013.csv under {self.root}; expected layout: "
                            f"{self.layout}")
        yield from self._scan_folders()

    # -- the original csv ----------------------------------------------------------------
    def _scan_csv(self, csv: Path) -> Iterator[Utterance | Issue]:
        # Read raw lines with byte offsets: the 300 MB file is tokenised only at its two
        # short columns, so loading stays well under a second per 10k rows, and
        # load_image() can seek straight to a row.
        with csv.open("rb") as f:
            header = f.readline().decode("utf-8-sig").strip()
            cols = [c.strip().lower() for c in header.split(",")]
            try:
                i_emo, i_pix = cols.index("emotion"), cols.index("pixels")
                i_use = cols.index("usage")
            except ValueError:
                yield Issue(str(csv), f"header {header[:60]!r} lacks emotion,pixels,Usage",
                            "columns")
                return
            n_cols = len(cols)
            row = 0
            offset = f.tell()
            for raw in f:
                row += 1
                where = f"{csv}:{row + 1}"
                line_offset, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                parts = raw.decode("ascii", "replace").rstrip("\r\n").split(",")
                if len(parts) != n_cols:
                    yield Issue(where, f"expected {n_cols} comma-separated fields, got "
                                f"{len(parts)}", "pixels")
                    continue
                emo_id, usage = parts[i_emo].strip(), parts[i_use].strip()
                if emo_id not in ("0", "1", "2", "3", "4", "5", "6"):
                    yield Issue(where, f"unknown emotion id {emo_id!r} (expected 0..6)", "emotion")
                    continue
                if usage not in USAGE:
                    yield Issue(where, f"unknown Usage {usage!r} (expected {', '.join(USAGE)})",
                                "Usage")
                    continue
                # Cheap shape check without parsing 2,304 ints: count the separators.
                n_pix = parts[i_pix].strip().count(" ") + 1
                if n_pix != IMAGE_SIZE * IMAGE_SIZE:
                    yield Issue(where, f"{n_pix} pixel values, expected {IMAGE_SIZE ** 2}",
                                "pixels")
                    continue
                # The csv spells labels as ids; the names are the release's (lower-cased so
                # both layouts report the same labels).
                label = CSV_EMOTIONS[int(emo_id)].lower()
                yield Utterance(
                    id=self.uid(f"row{row:05d}"),
                    corpus=self.name,
                    split=USAGE[usage],
                    media={Modality.VISION: csv},
                    emotion=canonical(label),
                    emotion_original=label,
                    meta={"row": row, "offset": line_offset, "usage": usage,
                          "emotion_id": int(emo_id), "pixels_column": i_pix,
                          "image_reader": f"{__name__}:load_image"},
                )

    # -- the image-folder export ---------------------------------------------------------
    def _scan_folders(self) -> Iterator[Utterance | Issue]:
        split_dirs = []
        with os.scandir(self.root) as it:
            for e in it:
                if e.is_dir() and e.name.lower() in FOLDERS:
                    split_dirs.append(e)
        if not split_dirs:
            raise DataError(f"FER2013: neither fer2013.csv nor split folders (train/, validation/, "
                            f"test/) under {self.root}; expected layout: {self.layout}")
        for sd in sorted(split_dirs, key=lambda e: e.name):
            folder_split = FOLDERS[sd.name.lower()]
            with os.scandir(sd.path) as it:
                emo_dirs = sorted((e for e in it if e.is_dir()), key=lambda e: e.name)
            for ed in emo_dirs:
                label = ed.name.lower()
                # os.scandir: no stat per file, so 35,887 images list in well under a second.
                with os.scandir(ed.path) as it:
                    names = sorted(e.name for e in it if os.path.splitext(e.name)[1].lower()
                                   in IMAGE_EXTS)
                base = Path(ed.path)
                for fn in names:
                    p = base / fn
                    if label not in FOLDER_EMOTIONS:
                        yield Issue(str(p), f"unknown emotion folder {ed.name!r} (expected "
                                    f"{', '.join(FOLDER_EMOTIONS)})", "emotion")
                        continue
                    stem = os.path.splitext(fn)[0]
                    usage = stem.split("_", 1)[0] if "_" in stem else None
                    split = folder_split
                    if usage in USAGE:
                        # The file-name prefix is the challenge's own Usage: it wins (the
                        # two-folder export mixes PublicTest and PrivateTest under test/).
                        split = USAGE[usage]
                        if (split == "train") != (folder_split == "train"):
                            yield Issue(str(p), f"file says {usage} but lies in {sd.name}/",
                                        "split")
                            continue
                    yield Utterance(
                        # The export reuses a few names for different images (e.g.
                        # Training_52789098.jpg under both neutral/ and surprise/): the id
                        # keeps the folders so that both are loaded.
                        id=self.uid(f"{sd.name}/{label}/{stem}"),
                        corpus=self.name,
                        split=split,
                        media={Modality.VISION: p},
                        emotion=canonical(label),
                        emotion_original=label,
                        meta={"usage": usage} if usage in USAGE else {},
                    )


def load_image(utt: Utterance):
    """The 48×48 grey image of a FER2013 utterance, from either layout.

    Args:
        utt: an utterance loaded by :class:`Fer2013` (csv rows carry ``meta["row"]`` and
            ``meta["offset"]``; folder items point at the image file).

    Returns:
        ``np.ndarray`` of shape ``(48, 48)``, dtype ``uint8``.

    Raises:
        MediaError: the file is missing, the row no longer matches, or the image does not
            decode to 48×48.
    """
    import numpy as np

    path = Path(utt.media[Modality.VISION])
    if path.suffix.lower() == ".csv":
        row, offset = utt.meta.get("row"), utt.meta.get("offset")
        col = utt.meta.get("pixels_column", 1)
        line = _read_csv_row(path, row, offset)
        try:
            pixels = line.split(",")[col].split()
            img = np.asarray(pixels, dtype=np.int64)
        except (IndexError, ValueError) as e:
            raise MediaError(f"{path}:{row + 1}: pixels column unreadable ({e})") from None
        if img.size != IMAGE_SIZE * IMAGE_SIZE or img.min() < 0 or img.max() > 255:
            raise MediaError(f"{path}:{row + 1}: expected 2304 values in 0..255")
        return img.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise MediaError(f"{path}: cannot decode image (missing or corrupt file)")
    if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
        # Some re-exports are upscaled; bring them back to the corpus's native size.
        img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return img


def _read_csv_row(path: Path, row: int | None, offset: int | None) -> str:
    """Line ``row`` (1 = first data row) of the csv, by byte offset when it still matches."""
    if row is None:
        raise MediaError(f"{path}: utterance has no meta['row']; was it loaded by Fer2013?")
    try:
        with path.open("rb") as f:
            if offset is not None:
                f.seek(offset)
                line = f.readline().decode("ascii", "replace")
                # The offset is trusted only if it lands on a line start holding an emotion id.
                f.seek(max(offset - 1, 0))
                at_line_start = offset == 0 or f.read(1) == b"\n"
                if at_line_start and line[:1].isdigit():
                    return line
            f.seek(0)
            for i, raw in enumerate(f):
                if i == row:
                    return raw.decode("ascii", "replace")
    except OSError as e:
        raise MediaError(f"{path}: cannot read ({e})") from None
    raise MediaError(f"{path}: row {row} not found (file shorter than when loaded?)")
