"""ISEAR: International Survey on Emotion Antecedents and Reactions (Scherer & Wallbott, 1994).

About 3,000 student respondents in 37 countries each described a situation in which they
felt each of 7 emotions: joy, fear, anger, sadness, disgust, shame, guilt (~7,600 reports).

Layout: the published CSV export of the ISEAR databank (``isear.csv``; ``|``-separated with
a trailing ``|``, or comma-separated), header including ``ID`` (respondent), ``Field1``
(emotion name; the numeric ``EMOT`` 1–7 is used when ``Field1`` is absent), ``SIT`` (the
situation text), and optionally ``MYKEY`` (report id), ``COUN``, ``SEX``, ``AGE``.

Text: the export marks the original line wraps with a stand-alone ``á``; those markers are
removed (``clean_text=True``), nothing else is changed. Reports whose text is empty or a
"no response" placeholder are reported as issues, not loaded. Speaker = respondent
(``isear/<ID>``), so ``speaker_kfold`` is respondent-independent. No official split.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")  # EMOT 1..7
_WRAP = re.compile(r"(?<=\s)\u00e1(?=\s)|^\u00e1(?=\s)")
_NO_RESPONSE = re.compile(r"^\W*(no (response|answer|description)|none|n/?a)\W*$", re.I)


@CORPORA.register()
class Isear(Corpus):
    name = "isear"
    title = "ISEAR"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=EMOTIONS)
    layout = "ROOT/isear.csv (ISEAR databank export: ID|...|EMOT|...|Field1|...|SIT|...)"
    shared_subdir = None
    speaker_independent_split = None  # no official split; respondent folds are
    licence = "research use (Swiss Center for Affective Sciences, UNIGE)"

    def __init__(self, root, *, strict: bool = False, clean_text: bool = True) -> None:
        """
        Args:
            root: folder holding ``isear.csv`` (or the csv file itself).
            strict: raise on the first bad row instead of reporting it.
            clean_text: remove the export's stand-alone ``á`` line-wrap markers.
        """
        super().__init__(root, strict=strict)
        self.clean_text = clean_text

    def _csv(self) -> Path:
        if self.root.is_file():
            return self.root
        cands = sorted(p for p in self.root.glob("*.csv") if "isear" in p.name.lower())
        if not cands:
            raise DataError(f"ISEAR: no isear*.csv under {self.root}; expected layout: "
                            f"{self.layout}")
        return cands[0]

    def scan(self) -> Iterator[Utterance | Issue]:
        path = self._csv()
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # the databank export is Latin-1 in some copies
        first = text.split("\n", 1)[0]
        delim = "|" if first.count("|") > first.count(",") else ","
        # The '|' export does not quote fields and its texts contain '"': read it verbatim.
        quoting = csv.QUOTE_NONE if delim == "|" else csv.QUOTE_MINIMAL
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quoting=quoting)
        header = [h.strip() for h in next(reader, [])]
        cols = {h.lower(): i for i, h in enumerate(header) if h}
        if "sit" not in cols or not ({"field1", "emot"} & set(cols)):
            raise DataError(f"ISEAR: {path} header lacks SIT and Field1/EMOT (has "
                            f"{header[:8]}...); expected layout: {self.layout}")

        def get(row: list[str], col: str) -> str | None:
            i = cols.get(col)
            return row[i].strip() if i is not None and i < len(row) else None

        for row_no, row in enumerate(reader, start=2):
            if not any(c.strip() for c in row):
                continue
            where = f"{path}:{row_no}"
            if len(row) < len(cols):
                yield Issue(where, f"{len(row)} fields, header has {len(header)}", "SIT")
                continue
            label = (get(row, "field1") or "").lower()
            if not label and get(row, "emot"):
                code = get(row, "emot")
                label = EMOTIONS[int(code) - 1] if code.isdigit() and 1 <= int(code) <= 7 else code
            if label not in EMOTIONS:
                yield Issue(where, f"unknown emotion {label!r} (expected {', '.join(EMOTIONS)})",
                            "Field1" if "field1" in cols else "EMOT")
                continue
            sit = get(row, "sit") or ""
            if self.clean_text:
                sit = " ".join(_WRAP.sub(" ", sit).split())
            if not sit or _NO_RESPONSE.match(sit.strip("[] ")):
                yield Issue(where, f"no situation text ({sit!r})", "SIT")
                continue
            subject = get(row, "id")
            key = get(row, "mykey") or f"row{row_no}"
            meta = {k: get(row, k.lower()) for k in ("COUN", "SEX", "AGE", "CITY")
                    if k.lower() in cols}
            yield Utterance(
                id=self.uid(key),
                corpus=self.name,
                speaker=f"isear/{subject}" if subject else None,
                text=sit,
                emotion=canonical(label),
                emotion_original=label,
                meta=meta,
            )
