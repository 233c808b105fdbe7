"""XLM-T multilingual tweet sentiment (Barbieri et al., LREC 2022): 8 languages, negative /
neutral / positive, balanced per language.

Layout (the release's ``data/sentiment/``): ``<language>/{train,val,test}_{text,labels}.txt``
with language folders ``arabic english french german hindi italian portuguese spanish`` (the
release's ``all/`` folder concatenates them and is ignored). Labels 0 negative, 1 neutral,
2 positive → ``sentiment`` −1 / 0 / +1. Shared counts per language: 1,839 / 324 / 870
(official). Options: ``langs=("es", "de")`` (ISO codes or folder names) keeps some languages.
``meta["lang"]`` holds the ISO code; ids are ``xlmt-sentiment/<iso>/<part>/<line>``.
Tweets are as released (user names anonymised to ``@user``; some escapes such as ``\\u2019``
are literally in the text).
"""

from __future__ import annotations

from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora.tweeteval_emotion import read_parallel
from affectkit.types import LabelSpace, Modality, Utterance

LANGS = {"arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi",
         "italian": "it", "portuguese": "pt", "spanish": "es"}
SPLITS = {"train": "train", "val": "valid", "test": "test"}
POLARITY = {"0": -1.0, "1": 0.0, "2": 1.0}


@CORPORA.register()
class XlmtSentiment(Corpus):
    name = "xlmt-sentiment"
    title = "XLM-T sentiment"
    modalities = (Modality.TEXT,)
    label_space = LabelSpace(sentiment="polarity")
    layout = "ROOT/<language>/{train,val,test}_{text,labels}.txt (labels 0/1/2)"
    shared_subdir = "text/xlmt_sentiment"
    official_split = True
    speaker_independent_split = False  # anonymised users
    licence = "research use / Twitter terms"
    language = ",".join(LANGS.values())

    def __init__(self, root, *, strict: bool = False,
                 langs: tuple[str, ...] | list[str] | None = None) -> None:
        super().__init__(root, strict=strict)
        iso = {v: v for v in LANGS.values()} | LANGS
        self.langs = None
        if langs:
            unknown = [lg for lg in langs if lg not in iso]
            if unknown:
                from affectkit.errors import DataError

                raise DataError(f"{self.title}: unknown languages {unknown}; choose from "
                                f"{', '.join(LANGS.values())}")
            self.langs = {iso[lg] for lg in langs}

    def scan(self) -> Iterator[Utterance | Issue]:
        folders = [(d, iso) for d, iso in LANGS.items() if (self.root / d).is_dir()
                   and (self.langs is None or iso in self.langs)]
        if not folders:
            self.require("english/train_text.txt")
        for folder, iso in folders:
            for part, split in SPLITS.items():
                tp = self.root / folder / f"{part}_text.txt"
                lp = self.root / folder / f"{part}_labels.txt"
                if not (tp.is_file() and lp.is_file()):
                    yield Issue(str(tp), "split files missing (text and labels)", "file")
                    continue
                res = read_parallel(tp, lp)
                if isinstance(res, Issue):
                    yield res
                    continue
                for i, (text, lab) in enumerate(zip(*res, strict=True), start=1):
                    if lab not in POLARITY:
                        yield Issue(f"{lp}:{i}", f"label {lab!r} not 0/1/2", "labels")
                        continue
                    yield Utterance(
                        id=self.uid(f"{iso}/{part}/{i}"), corpus=self.name, split=split,
                        text=text.strip(), sentiment=POLARITY[lab], meta={"lang": iso},
                    )
