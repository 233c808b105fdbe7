"""XED (Öhman et al., COLING 2020): movie-subtitle lines annotated with Plutchik's 8 emotions,
multi-label, English and Finnish, plus annotation projections to other languages.

Layout (the release repository): ``AnnotatedData/{en,fi}-annotated.tsv`` (``sentence<TAB>ids``
with ids ``1, 4, 7``: 1 anger, 2 anticipation, 3 disgust, 4 fear, 5 joy, 6 sadness,
7 surprise, 8 trust), ``AnnotatedData/neu_{en,fi}.txt`` (neutral lines; the sentence is the
second tab-separated field) and ``Projections/<lang>-projections.tsv`` (same format as the
annotated files). Shared counts: en 17,528 annotated + 9,674 neutral lines, fi 14,449 + 10,794.

Three registered corpora: ``xed`` (English), ``xed-fi`` (Finnish) and ``xed-projections``
(every ``Projections/*.tsv``; ``langs=("de", ...)`` picks some; ``meta["lang"]`` per line).

Labels: ``emotions`` keeps the Plutchik names as spelled; ``emotion`` / ``emotion_original``
are set only for single-label lines, ``emotion`` canonical where Plutchik has the canonical
emotion (anger → angry, joy → happy, sadness → sad, fear → fearful, disgust → disgusted,
surprise → surprised); ``anticipation`` and ``trust`` stay the corpus' own labels (never forced
onto a canonical one). Neutral lines are ``neutral``.

**Split.** XED has no official split. Each line goes to train/valid/test (80/10/10) by the
sha1 of its lower-cased, whitespace-collapsed sentence (:func:`._text.hash_split`), so the
assignment is deterministic and a sentence repeated in the corpus (subtitles repeat short
lines) never sits in two parts. Lines are not grouped by film (the annotated files carry no
source); projected lines are hashed on their own text. Speakers are unknown.

The projection files of the shared copy hold a few hundred lines that are not
``sentence<TAB>ids`` (an unterminated quote swallowed some alignment rows in the release):
each is reported as an issue, not silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._text import hash_split, multilabel, norm_key
from affectkit.types import LabelSpace, Modality, Utterance

PLUTCHIK = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
LABELS = PLUTCHIK + ("neutral",)
_IDS = re.compile(r"\s*[1-8](\s*,\s*[1-8])*\s*")
PROJECTION_LANGS = ("de", "es", "fr", "it", "nl", "pl", "pt", "tr")


def parse_ids(ids: str) -> list[str] | None:
    """``"1, 4, 7"`` → ``["anger", "fear", "surprise"]``; ``None`` if not a list of 1..8."""
    if not _IDS.fullmatch(ids):
        return None
    return [PLUTCHIK[int(i) - 1] for i in ids.split(",")]


class _XedBase(Corpus):
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS, multilabel=True)
    shared_subdir = "text/xed"
    official_split = False
    speaker_independent_split = None
    licence = "CC BY 4.0"

    def _annotated(self, path: Path, lang: str, prefix: str) -> Iterator[Utterance | Issue]:
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                where = f"{path}:{line_no}"
                parts = line.split("\t")
                labels = parse_ids(parts[1]) if len(parts) == 2 else None
                if labels is None or not parts[0].strip():
                    yield Issue(where, "expected sentence<TAB>label ids 1..8 (e.g. '1, 4')",
                                "labels")
                    continue
                text = parts[0].strip()
                emo, orig, emos = multilabel(labels)
                yield Utterance(
                    id=self.uid(f"{prefix}/{line_no}"), corpus=self.name,
                    split=hash_split(norm_key(text)), text=text, emotion=emo,
                    emotion_original=orig, emotions=emos, meta={"lang": lang},
                )

    def _neutral(self, path: Path, lang: str) -> Iterator[Utterance | Issue]:
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                parts = line.rstrip("\r\n").split("\t")
                if not line.strip():
                    continue
                if len(parts) < 2 or not parts[1].strip():
                    yield Issue(f"{path}:{line_no}", "expected <n><TAB>sentence", "text")
                    continue
                text = parts[1].strip()
                yield Utterance(
                    id=self.uid(f"neu_{lang}/{line_no}"), corpus=self.name,
                    split=hash_split(norm_key(text)), text=text, emotion="neutral",
                    emotion_original="neutral", emotions=("neutral",), meta={"lang": lang},
                )


@CORPORA.register()
class Xed(_XedBase):
    name = "xed"
    title = "XED (English)"
    layout = "ROOT/AnnotatedData/en-annotated.tsv (sentence<TAB>ids 1..8) + neu_en.txt"
    language = "en"
    lang = "en"

    def __init__(self, root, *, strict: bool = False, neutral: bool = True) -> None:
        super().__init__(root, strict=strict)
        self.neutral = neutral

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require(f"AnnotatedData/{self.lang}-annotated.tsv")
        yield from self._annotated(self.root / f"AnnotatedData/{self.lang}-annotated.tsv",
                                   self.lang, self.lang)
        neu = self.root / f"AnnotatedData/neu_{self.lang}.txt"
        if self.neutral:
            if neu.is_file():
                yield from self._neutral(neu, self.lang)
            else:
                yield Issue(str(neu), "neutral file missing (pass neutral=False to skip it)",
                            "file")


@CORPORA.register()
class XedFi(Xed):
    name = "xed-fi"
    title = "XED (Finnish)"
    layout = "ROOT/AnnotatedData/fi-annotated.tsv (sentence<TAB>ids 1..8) + neu_fi.txt"
    language = "fi"
    lang = "fi"


@CORPORA.register()
class XedProjections(_XedBase):
    name = "xed-projections"
    title = "XED (projections)"
    layout = "ROOT/Projections/<lang>-projections.tsv (sentence<TAB>ids 1..8)"
    language = ",".join(PROJECTION_LANGS)

    def __init__(self, root, *, strict: bool = False,
                 langs: tuple[str, ...] | list[str] | None = None) -> None:
        super().__init__(root, strict=strict)
        self.langs = tuple(langs) if langs else None

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("Projections")
        files = sorted((self.root / "Projections").glob("*-projections.tsv"))
        found = {p.name.split("-")[0]: p for p in files}
        for lang in self.langs or tuple(found):
            if lang not in found:
                yield Issue(str(self.root / f"Projections/{lang}-projections.tsv"),
                            f"no projections for language {lang!r} (found: "
                            f"{', '.join(found) or 'none'})", "file")
                continue
            yield from self._annotated(found[lang], lang, lang)
