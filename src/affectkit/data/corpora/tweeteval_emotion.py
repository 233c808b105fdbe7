"""TweetEval emotion (Barbieri et al., Findings of EMNLP 2020): the four most frequent
emotions of SemEval-2018 Task 1 E-c tweets, single label.

Layout (the release's ``datasets/emotion/``): ``{train,val,test}_text.txt`` (one tweet per
line) + ``{train,val,test}_labels.txt`` (one id per line) + ``mapping.txt`` (``id<TAB>name``:
0 anger, 1 joy, 2 optimism, 3 sadness). Shared counts: 3,257 / 374 / 1,421 (official).

``emotion`` canonical for anger/joy/sadness; ``optimism`` is kept as spelled. Twitter users
are anonymised (``@user``): ``speaker`` is ``None``. The root may be the release root
(``datasets/emotion`` below it) or the ``emotion`` folder itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = ("anger", "joy", "optimism", "sadness")
SPLITS = {"train": "train", "val": "valid", "test": "test"}


def read_parallel(text_path: Path, label_path: Path) -> tuple[list[str], list[str]] | Issue:
    """Lines of a ``*_text.txt`` / ``*_labels.txt`` pair; an issue if the counts differ."""
    texts = text_path.read_text(encoding="utf-8").split("\n")
    labels = label_path.read_text(encoding="utf-8").split("\n")
    while texts and not texts[-1].strip():
        texts.pop()
    while labels and not labels[-1].strip():
        labels.pop()
    if len(texts) != len(labels):
        return Issue(str(label_path), f"{len(labels)} labels for {len(texts)} lines of "
                     f"{text_path.name}", "labels")
    return [t.rstrip("\r") for t in texts], [lb.strip() for lb in labels]


@CORPORA.register()
class TweetEvalEmotion(Corpus):
    name = "tweeteval-emotion"
    title = "TweetEval emotion"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS)
    layout = ("ROOT/datasets/emotion/{train,val,test}_{text,labels}.txt + mapping.txt "
              "(or ROOT = that emotion folder)")
    shared_subdir = "text/tweeteval"
    official_split = True
    speaker_independent_split = False  # anonymised users
    licence = "SemEval-2018 / Twitter terms (research)"

    def _folder(self) -> Path:
        for cand in (self.root / "datasets" / "emotion", self.root / "emotion", self.root):
            if (cand / "train_text.txt").is_file():
                return cand
        raise DataError(f"{self.title}: no train_text.txt under {self.root}; expected layout: "
                        f"{self.layout}")

    def scan(self) -> Iterator[Utterance | Issue]:
        folder = self._folder()
        names = list(LABELS)
        mapping = folder / "mapping.txt"
        if mapping.is_file():
            names = [ln.split("\t")[-1].strip() for ln in
                     mapping.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for part, split in SPLITS.items():
            tp, lp = folder / f"{part}_text.txt", folder / f"{part}_labels.txt"
            if not (tp.is_file() and lp.is_file()):
                yield Issue(str(tp), "split files missing (text and labels)", "file")
                continue
            res = read_parallel(tp, lp)
            if isinstance(res, Issue):
                yield res
                continue
            for i, (text, lab) in enumerate(zip(*res, strict=True), start=1):
                try:
                    label = names[int(lab)]
                except (ValueError, IndexError):
                    yield Issue(f"{lp}:{i}", f"label {lab!r} not in 0..{len(names) - 1}",
                                "labels")
                    continue
                yield Utterance(
                    id=self.uid(f"{part}/{i}"), corpus=self.name, split=split,
                    text=text.strip(), emotion=canonical(label), emotion_original=label,
                )
