"""Corpora, splits and the manifest schema.

>>> from affectkit.data import load_corpus
>>> result = load_corpus("meld", root="examples/meld-mini")   # doctest: +SKIP
>>> result.utterances[0].emotion                               # doctest: +SKIP
'neutral'
"""

from affectkit.data.base import (
    AUDIO_EXTS,
    CORPORA,
    Corpus,
    Issue,
    LoadResult,
    get_corpus,
    load_corpus,
    shared_data_root,
)
from affectkit.data.splits import (
    Fold,
    Split,
    assert_speaker_independent,
    leave_one_speaker_out,
    official_split,
    speaker_kfold,
)

__all__ = [
    "AUDIO_EXTS", "CORPORA", "Corpus", "Fold", "Issue", "LoadResult", "Split",
    "assert_speaker_independent", "get_corpus", "leave_one_speaker_out", "load_corpus",
    "official_split", "shared_data_root", "speaker_kfold",
]
