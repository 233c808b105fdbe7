"""ECPE (Xia & Ding, ACL 2019): emotion–cause pair extraction on 1,945 Chinese news documents
(Sina city news), split into clauses; emotion clauses carry an emotion and a keyword, and
each (emotion clause, cause clause) pair is annotated.

Layout (the paper's ``data_combine/``): ``all_data_pair.txt`` and 10-fold
``fold{1..10}_{train,test}.txt`` in the same format, one document as::

    <doc id> <n clauses>
     (7,9), (8,9)                      # (emotion clause, cause clause) pairs
    1,null,null,<clause text>          # clause id, emotion, keyword, text (word-segmented)
    ...
    7,happiness,激动,<clause text>

One :class:`Utterance` per **clause**: ``id = ecpe-zh/<doc>/<clause>``, ``dialogue_id`` = the
document, ``turn`` = clause index (0-based); ``text`` is the clause without the release's word
segmentation spaces (:func:`unsegment`), ``meta["words"]`` the segmented form. Emotion clauses: ``emotion_original`` as spelled
(happiness, sadness, anger, fear, disgust, surprise), ``emotion`` canonical; a clause marked
with two emotions (``fear&fear``, ``anger&sadness``) has ``emotions`` with both (deduplicated)
and ``emotion`` only when they agree. Other clauses are **not** neutral, they are non-emotion
clauses of a news text: ``emotion = None``. ``causes`` of an emotion clause link its cause
clauses (:class:`~affectkit.types.CauseLink`, ``emotion`` the clause's emotion).
``meta``: ``keyword``, ``fold`` (1..10: the fold whose test part holds the document, read from
the ``fold*_test.txt`` files; ``None`` if they are absent), ``n_clauses``.

No train/valid/test assignment (``split = None``): the paper's protocol is the 10 folds, see
:func:`folds`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._text import multilabel
from affectkit.types import CauseLink, LabelSpace, Modality, Utterance

LABELS = ("happiness", "sadness", "anger", "fear", "disgust", "surprise")
_PAIR = re.compile(r"\((\d+)\s*,\s*(\d+)\)")
_HEAD = re.compile(r"^(\d+)\s+(\d+)$")


def parse_documents(path: Path) -> Iterator[tuple[str, list[tuple[int, int]], list[list[str]]]
                                           | Issue]:
    """``(doc id, pairs, clause rows [id, emotion, keyword, text])`` per document."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        m = _HEAD.match(lines[i].strip())
        if m is None:
            yield Issue(f"{path}:{i + 1}", "expected '<doc id> <n clauses>'", "document")
            i += 1
            continue
        doc, n = m[1], int(m[2])
        pairs = [(int(a), int(b)) for a, b in _PAIR.findall(lines[i + 1] if i + 1 < len(lines)
                                                            else "")]
        rows = [ln.split(",", 3) for ln in lines[i + 2:i + 2 + n]]
        if len(rows) != n or any(len(r) != 4 for r in rows):
            yield Issue(f"{path}:{i + 1}", f"document {doc}: expected {n} clause lines "
                        "'id,emotion,keyword,text'", "clauses")
            i += 2 + n
            continue
        yield doc, pairs, rows
        i += 2 + n


_SEG_SPACE = re.compile(r" +")
_ALNUM = re.compile(r"[A-Za-z0-9]")


def unsegment(text: str) -> str:
    """The clause as written: the release is word-segmented with spaces, which Chinese text
    does not have (and multilingual sub-word encoders do not expect); a space is kept only
    between two Latin letters or digits ("QQ 2013").

    >>> unsegment("当 我 看到 建议 被 采纳 , 有 3 个 QQ 群 , iPhone 5 s")
    '当我看到建议被采纳,有3个QQ群,iPhone 5 s'
    """
    t = text.strip()
    return _SEG_SPACE.sub(
        lambda m: " " if (m.start() > 0 and m.end() < len(t) and _ALNUM.match(t[m.start() - 1])
                          and _ALNUM.match(t[m.end()])) else "", t)


def folds(utterances: Sequence[Utterance]) -> list[tuple[list[str], list[str]]]:
    """The paper's 10 folds as ``(train ids, test ids)`` of clauses, documents never split."""
    by_fold: dict[int, list[str]] = defaultdict(list)
    for u in utterances:
        if u.meta.get("fold") is None:
            raise ValueError(f"{u.id}: no fold (fold*_test.txt files missing)")
        by_fold[u.meta["fold"]].append(u.id)
    out = []
    for k in sorted(by_fold):
        test = set(by_fold[k])
        out.append(([u.id for u in utterances if u.id not in test], by_fold[k]))
    return out


@CORPORA.register()
class EcpeZh(Corpus):
    name = "ecpe-zh"
    title = "ECPE (Chinese emotion-cause pairs)"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS, causes=True)
    layout = ("ROOT/data_combine/all_data_pair.txt (+ fold{1..10}_{train,test}.txt): "
              "'<doc> <n>', ' (e,c), ...', then n lines 'id,emotion,keyword,text'")
    shared_subdir = "text/ecpe_zh"
    official_split = False
    speaker_independent_split = None
    licence = "research use (Xia & Ding 2019)"
    language = "zh"

    def scan(self) -> Iterator[Utterance | Issue]:
        folder = self.root / "data_combine"
        if not (folder / "all_data_pair.txt").is_file() and (self.root / "all_data_pair.txt"
                                                              ).is_file():
            folder = self.root
        self.require(str((folder / "all_data_pair.txt").relative_to(self.root)))
        fold_of: dict[str, int] = {}
        for k in range(1, 11):
            p = folder / f"fold{k}_test.txt"
            if p.is_file():
                for item in parse_documents(p):
                    if not isinstance(item, Issue):
                        fold_of[item[0]] = k
        path = folder / "all_data_pair.txt"
        for item in parse_documents(path):
            if isinstance(item, Issue):
                yield item
                continue
            doc, pairs, rows = item
            n = len(rows)
            bad = [p for p in pairs if not (1 <= p[0] <= n and 1 <= p[1] <= n)]
            if bad:
                yield Issue(f"{path}: document {doc}", f"pairs {bad} outside clauses 1..{n}",
                            "pairs")
                continue
            for cid, emo_s, keyword, text in rows:
                labels = [] if emo_s.strip() == "null" else emo_s.strip().split("&")
                unknown = [lb for lb in labels if lb not in LABELS]
                if unknown:
                    yield Issue(f"{path}: document {doc} clause {cid}",
                                f"unknown emotion {unknown}", "emotion")
                    continue
                emo, orig, emos = multilabel(labels) if labels else (None, None, None)
                c = int(cid)
                causes = tuple(
                    CauseLink(self.uid(f"{doc}/{b}"), emotion=orig or emo_s.strip())
                    for a, b in pairs if a == c
                )
                yield Utterance(
                    id=self.uid(f"{doc}/{c}"), corpus=self.name, text=unsegment(text),
                    dialogue_id=f"{self.name}/{doc}", turn=c - 1, emotion=emo,
                    emotion_original=orig, emotions=emos or None, causes=causes,
                    meta={"keyword": None if keyword == "null" else keyword,
                          "words": text.strip(),
                          "fold": fold_of.get(doc), "n_clauses": n},
                )
