"""EmoBank (Buechel & Hahn, EACL 2017): 10,062 English sentences (news, blogs, fiction,
letters, essays) with valence, arousal and dominance on 1–5 (mean of reader and writer
perspectives, the release's ``emobank.csv``).

Layout: ``corpus/emobank.csv`` (or ``emobank.csv`` at root) with header ``id,split,V,A,D,text``;
``split`` is train/dev/test (dev → valid). ``valence`` / ``arousal`` are the 1–5 scores as
given; ``meta["dominance"]`` the D score; ``meta["genre"]`` from ``corpus/meta.tsv`` when
present. No categorical emotions: ``emotion`` stays ``None``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.types import LabelSpace, Modality, Utterance

SPLITS = {"train": "train", "dev": "valid", "test": "test"}
COLUMNS = ("id", "split", "V", "A", "D", "text")


@CORPORA.register()
class EmoBank(Corpus):
    name = "emobank"
    title = "EmoBank"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(dimensional=("valence", "arousal", "dominance"))
    layout = "ROOT/corpus/emobank.csv (id,split,V,A,D,text; V/A/D on 1-5)"
    shared_subdir = "text/emobank"
    official_split = True
    speaker_independent_split = False  # writers not identified
    licence = "CC BY-SA 4.0"

    def scan(self) -> Iterator[Utterance | Issue]:
        path = next((p for p in (self.root / "corpus" / "emobank.csv", self.root / "emobank.csv")
                     if p.is_file()), None)
        if path is None:
            raise DataError(f"{self.title}: {self.root}/corpus/emobank.csv not found; expected "
                            f"layout: {self.layout}")
        genres: dict[str, str] = {}
        meta_tsv = path.parent / "meta.tsv"
        if meta_tsv.is_file():
            with meta_tsv.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    if row.get("id") and row.get("category"):
                        genres[row["id"]] = row["category"]
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                yield Issue(str(path), f"missing columns {missing}", "columns")
                return
            for row_no, row in enumerate(reader, start=2):
                where = f"{path}:{row_no}"
                split = SPLITS.get((row["split"] or "").strip())
                if split is None:
                    yield Issue(where, f"split {row['split']!r} not train/dev/test", "split")
                    continue
                try:
                    v, a, d = (float(row[k]) for k in ("V", "A", "D"))
                except (TypeError, ValueError):
                    yield Issue(where, "V/A/D not numbers", "V")
                    continue
                if not all(1.0 <= x <= 5.0 for x in (v, a, d)):
                    yield Issue(where, f"V/A/D {v, a, d} outside 1..5", "V")
                    continue
                text = (row["text"] or "").strip()
                if not text:
                    yield Issue(where, "empty sentence", "text")
                    continue
                rid = row["id"].strip()
                meta = {"dominance": d}
                if rid in genres:
                    meta["genre"] = genres[rid]
                yield Utterance(id=self.uid(rid), corpus=self.name, split=split, text=text,
                                valence=v, arousal=a, meta=meta)
