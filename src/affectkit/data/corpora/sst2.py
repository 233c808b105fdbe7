"""SST-2 (Socher et al., EMNLP 2013; binary sentences as in GLUE/SentEval): movie-review
sentences, negative (0) / positive (1).

Layout: ``{train,dev,test}.tsv``, ``sentence<TAB>label`` without header (the SentEval copy;
a GLUE-style header ``sentence<TAB>label`` is skipped). Shared counts: 6,919 / 871 / 1,820.
``sentiment`` = −1.0 / +1.0 (polarity), ``meta["label"]`` the 0/1 as given. Lower-cased and
tokenised as released.
"""

from __future__ import annotations

from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.types import LabelSpace, Modality, Utterance

SPLITS = {"train": "train", "dev": "valid", "test": "test"}


@CORPORA.register()
class Sst2(Corpus):
    name = "sst2"
    title = "SST-2"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(sentiment="polarity")
    layout = "ROOT/{train,dev,test}.tsv (sentence<TAB>0|1)"
    shared_subdir = "text/sst2"
    official_split = True
    speaker_independent_split = False  # reviews, authors unknown
    licence = "research use (Stanford Sentiment Treebank)"

    def scan(self) -> Iterator[Utterance | Issue]:
        self.require("train.tsv")
        for part, split in SPLITS.items():
            path = self.root / f"{part}.tsv"
            if not path.is_file():
                yield Issue(str(path), "split file missing", "file")
                continue
            with path.open(encoding="utf-8") as f:
                for line_no, line in enumerate(f, start=1):
                    line = line.rstrip("\r\n")
                    if not line.strip() or (line_no == 1 and line.lower() == "sentence\tlabel"):
                        continue
                    text, _, lab = line.rpartition("\t")
                    if lab.strip() not in ("0", "1") or not text.strip():
                        yield Issue(f"{path}:{line_no}", "expected sentence<TAB>0|1", "label")
                        continue
                    yield Utterance(
                        id=self.uid(f"{part}/{line_no}"), corpus=self.name, split=split,
                        text=text.strip(), sentiment=1.0 if lab.strip() == "1" else -1.0,
                        meta={"label": int(lab)},
                    )
