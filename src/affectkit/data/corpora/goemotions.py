"""GoEmotions (Demszky et al., ACL 2020): 58k Reddit comments, 27 emotions + neutral, multi-label.

Layout (the release's ``data/`` folder, as distributed):

* ``original/{train,dev,test}.tsv`` + ``original/labels.txt`` — ``text \\t ids \\t comment_id``
  with comma-separated label ids indexing ``labels.txt`` (one name per line; the Google
  release calls it ``emotions.txt``). A flat root holding the tsv files directly works too.
* ``ekman/{train,dev,test}.tsv`` + ``ekman/labels.txt`` — the same comments relabelled with
  the release's Ekman grouping (anger, disgust, fear, joy, neutral, sadness, surprise),
  exposed as the separate corpus ``goemotions-ekman``. Without an ``ekman/`` folder, the
  grouping is derived from the release's ``ekman_mapping.json`` if present.

Official split (43,410 / 5,426 / 5,427). Labels: ``emotions`` = all labels of a comment as
spelled; ``emotion`` / ``emotion_original`` only when exactly one label (``emotion``
canonical where possible: joy → happy; fine labels like ``admiration`` are kept — map them
with ``map_to_canonical(label, "goemotions")``). Reddit authors are not in these files:
``speaker`` is ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
EKMAN = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SPLITS = {"train": "train", "dev": "valid", "test": "test"}


def _read_labels(folder: Path) -> list[str] | None:
    for name in ("labels.txt", "emotions.txt"):
        p = folder / name
        if p.is_file():
            return [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return None


@CORPORA.register()
class GoEmotions(Corpus):
    name = "goemotions"
    title = "GoEmotions"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(emotions=LABELS, multilabel=True)
    layout = "ROOT/original/{train,dev,test}.tsv + labels.txt (text<TAB>ids<TAB>comment_id)"
    shared_subdir = "text/goemotions"
    official_split = True
    speaker_independent_split = False  # authors unknown
    licence = "CC BY 4.0"
    variant = "original"

    def _folder(self) -> Path:
        for cand in (self.root / self.variant, self.root / "data" / self.variant, self.root):
            if (cand / "train.tsv").is_file() and _read_labels(cand):
                return cand
        raise DataError(f"{self.title}: no train.tsv + labels.txt under {self.root}/"
                        f"{self.variant}; expected layout: {self.layout}")

    def _label_names(self) -> tuple[Path, list[str], dict[str, str] | None]:
        folder = self._folder()
        return folder, _read_labels(folder) or [], None

    def scan(self) -> Iterator[Utterance | Issue]:
        folder, names, regroup = self._label_names()
        for part, split in SPLITS.items():
            tsv = folder / f"{part}.tsv"
            if not tsv.is_file():
                yield Issue(str(tsv), "split file missing", "file")
                continue
            with tsv.open(encoding="utf-8") as f:
                for line_no, line in enumerate(f, start=1):
                    where = f"{tsv}:{line_no}"
                    # Comments may hold quotes, so no csv quoting: split on the last two tabs.
                    parts = line.rstrip("\r\n").rsplit("\t", 2)
                    if len(parts) != 3:
                        yield Issue(where, "expected text<TAB>label ids<TAB>comment id", "ids")
                        continue
                    text, ids, cid = parts
                    try:
                        labels = [names[int(i)] for i in ids.split(",")]
                    except (ValueError, IndexError):
                        yield Issue(where, f"label ids {ids!r} not in 0..{len(names) - 1}", "ids")
                        continue
                    if regroup is not None:
                        try:
                            labels = list(dict.fromkeys(regroup[lb] for lb in labels))
                        except KeyError as e:
                            yield Issue(where, f"label {e.args[0]!r} not in ekman_mapping.json",
                                        "ids")
                            continue
                    single = labels[0] if len(labels) == 1 else None
                    yield Utterance(
                        id=self.uid(f"{part}/{cid.strip()}"),
                        corpus=self.name,
                        split=split,
                        text=text.strip(),
                        emotion=canonical(single),
                        emotion_original=single,
                        emotions=tuple(labels),
                        meta={"comment_id": cid.strip()},
                    )


@CORPORA.register()
class GoEmotionsEkman(GoEmotions):
    name = "goemotions-ekman"
    title = "GoEmotions (Ekman)"
    label_space = LabelSpace(emotions=EKMAN, multilabel=True)
    layout = ("ROOT/ekman/{train,dev,test}.tsv + labels.txt, or ROOT/original/ + "
              "ROOT/ekman_mapping.json (the release's grouping)")
    variant = "ekman"

    def _label_names(self) -> tuple[Path, list[str], dict[str, str] | None]:
        try:
            return super()._label_names()
        except DataError:
            pass
        mapping = next((p for p in (self.root / "ekman_mapping.json",
                                    self.root / "data" / "ekman_mapping.json") if p.is_file()),
                       None)
        if mapping is None:
            raise DataError(f"{self.title}: neither ekman/ (tsv + labels.txt) nor "
                            f"ekman_mapping.json under {self.root}; expected layout: {self.layout}")
        groups = json.loads(mapping.read_text(encoding="utf-8"))
        regroup = {fine: group for group, fines in groups.items() for fine in fines}
        regroup["neutral"] = "neutral"
        folder = GoEmotions(self.root)._folder()
        return folder, _read_labels(folder) or [], regroup
