import pytest

from affectkit.data.splits import (
    Fold,
    Split,
    leave_one_speaker_out,
    official_split,
    speaker_kfold,
)
from affectkit.errors import DataError, SplitLeakError
from affectkit.types import Utterance


def _utts(n_spk=7, per=5):
    return [Utterance(id=f"c/{s}_{i}", corpus="c", speaker=f"s{s}", emotion="happy")
            for s in range(n_spk) for i in range(per + s % 3)]


def test_speaker_kfold_disjoint_deterministic_and_complete():
    utts = _utts()
    a, b = speaker_kfold(utts, 3, seed=1), speaker_kfold(utts, 3, seed=1)
    assert [f.test for f in a.folds] == [f.test for f in b.folds]
    spk = {u.id: u.speaker for u in utts}
    tested = [i for f in a.folds for i in f.test]
    assert sorted(tested) == sorted(u.id for u in utts)  # each item tested exactly once
    for f in a.folds:
        sets = [{spk[i] for i in getattr(f, s)} for s in ("train", "valid", "test")]
        assert not (sets[0] & sets[2]) and not (sets[1] & sets[2]) and not (sets[0] & sets[1])
        assert len(f.train) + len(f.valid) + len(f.test) == len(utts)


def test_loso_one_fold_per_speaker():
    utts = _utts(4)
    s = leave_one_speaker_out(utts)
    assert [f.name for f in s.folds] == ["s0", "s1", "s2", "s3"]
    assert s.speaker_independent


def test_leak_is_detected():
    utts = _utts(3)
    ids = [u.id for u in utts]
    bad = Split("bad", [Fold("f", ids[:10], [], ids[8:])], speaker_independent=True)
    with pytest.raises(SplitLeakError, match="both train and test"):
        bad.check(utts)
    Split("ok", bad.folds, speaker_independent=False).check(utts)  # no claim, no check


def test_official_split_carves_valid_when_missing():
    utts = [Utterance(id=f"c/{i}", corpus="c", split="train" if i < 20 else "test",
                      dialogue_id=f"d{i // 2}", speaker=f"s{i}") for i in range(30)]
    f = official_split(utts).folds[0]
    assert len(f.test) == 10 and f.valid and set(f.valid).isdisjoint(f.train)
    with pytest.raises(DataError, match="no official split"):
        official_split([Utterance(id="x", corpus="c")])


def test_too_few_speakers():
    with pytest.raises(DataError, match="cannot make 5"):
        speaker_kfold(_utts(3), 5)


def test_two_speakers_train_on_one_test_on_other():
    utts = _utts(2, per=10)
    s = speaker_kfold(utts, 2)
    spk = {u.id: u.speaker for u in utts}
    assert not s.valid_speaker_independent
    for f in s.folds:
        assert f.train and f.valid and f.test
        assert {spk[i] for i in f.test}.isdisjoint({spk[i] for i in f.train + f.valid})
        assert set(f.valid).isdisjoint(f.train)
    assert "20%" in s.protocol
