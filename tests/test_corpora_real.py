"""Exact counts on the shared real corpora (skipped when ../shared/data is absent)."""

import pytest

from affectkit.data import load_corpus, speaker_kfold
from conftest import shared_path


def test_ravdess(shared):
    r = load_corpus("ravdess", shared_path("speech/ravdess"))
    assert len(r) == 1440 and not r.issues
    assert len(r.speakers()) == 24
    assert r.by_label()["neutral"] == 96 and r.by_label()["calm"] == 192
    speaker_kfold(r.utterances, 6).check(r.utterances)


def test_meld(shared):
    r = load_corpus("meld", shared_path("text/meld"))
    assert r.by_split() == {"train": 9989, "valid": 1109, "test": 2610}
    assert not r.issues
