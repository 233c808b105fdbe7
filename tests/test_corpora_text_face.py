"""Face, text, conversation and multimodal corpus loaders.

Exact counts on the shared copies (each large corpus is loaded once per module), synthetic
trees in the published layouts that are not in the shared folder (fer2013.csv, CK+ release,
JAFFE, IEMOCAP release, MOSI raw + .csd, MOSEI .csd, ISEAR, ...), issues instead of silent
skips, strict mode, layout-naming errors, and the declared official-split speaker
independence checked against the data.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from affectkit.cli import app
from affectkit.data import CORPORA, get_corpus, load_corpus, official_split, speaker_kfold
from affectkit.errors import DataError, SplitLeakError
from affectkit.types import Modality, group_dialogues
from conftest import shared_path
from fixtures.corpora._cmu import csd as _csd
from fixtures.corpora.iemocap import _session as _iemocap_session
from fixtures.corpora.isear import HEADER as ISEAR_HEADER
from fixtures.corpora.isear import row as _isear_row

# Corpora whose official split makes a speaker-independence claim (True or False), from the
# registry; the loader contract over every corpus is tests/contract/test_corpora.py.
SPLIT_CLAIMS = [n for n in CORPORA.names()
                if (c := get_corpus(n)).official_split and c.speaker_independent_split is not None
                and not c.__name__.startswith("Imported_")]
runner = CliRunner()

_CACHE: dict[str, object] = {}


def real(name: str):
    """Load a shared corpus once per test session (skip when the shared copy is absent)."""
    cls = get_corpus(name)
    root = shared_path(cls.shared_subdir)
    if name not in _CACHE:
        _CACHE[name] = load_corpus(name, root)
    return _CACHE[name]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def wav(path: Path) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(160, dtype="float32"), 16000)
    return path


def png(path: Path, size: int = 48, value: int = 0) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size), value, np.uint8))
    return path


def issues_by_field(res) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i in res.issues:
        out.setdefault(i.field, []).append(i.reason)
    return out


# ===== real shared copies: exact counts =====================================================


def test_fer2013_real_counts_and_image():
    from affectkit.data.corpora.fer2013 import load_image

    r = real("fer2013")
    assert r.by_split() == {"test": 3589, "train": 28709, "valid": 3589}
    assert not r.issues
    assert set(r.by_label()) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert r.by_label()["disgust"] == 436 + 56 + 55
    # The export reuses a file name for two different images: both are loaded, distinct ids.
    dup = [u for u in r.utterances if u.id.endswith("/Training_52789098")]
    assert {u.emotion_original for u in dup} == {"neutral", "surprise"}
    img = load_image(r.utterances[0])
    assert img.shape == (48, 48) and img.dtype == np.uint8


def test_ckplus48_real_counts():
    r = real("ckplus")
    assert len(r) == 981 and not r.issues
    assert len(r.speakers()) == 118
    assert r.by_label() == {"surprise": 249, "happy": 207, "disgust": 177, "anger": 135,
                            "sadness": 84, "fear": 75, "contempt": 54}
    u = next(u for u in r.utterances if u.emotion_original == "sadness")
    assert u.emotion == "sad" and u.speaker.startswith("ckplus/S")
    assert next(u for u in r.utterances if u.emotion_original == "contempt").emotion == "contempt"
    split = speaker_kfold(r.utterances, 5)
    # frames of one sequence never straddle folds (subject folds imply it)
    for fold in split.folds:
        seqs = lambda ids: {i.rsplit("_", 1)[0] for i in ids}  # noqa: E731
        assert not seqs(fold.train) & seqs(fold.test)


def test_iemocap_json_real():
    r = real("iemocap")
    assert r.by_split() == {"test": 1623, "train": 5163, "valid": 647}
    dialogues = group_dialogues(r.utterances)
    assert len(dialogues) == 151
    assert Counter(d.utterances[0].split for d in dialogues) == {"train": 108, "valid": 12,
                                                                 "test": 31}
    assert set(r.by_label()) == {"happy", "sad", "neutral", "angry", "excited", "frustrated"}
    assert len(r.speakers()) == 10  # 5 sessions x 2 actors
    test_spk = {u.speaker for u in r.utterances if u.split == "test"}
    assert test_spk == {"iemocap/Ses05F", "iemocap/Ses05M"}


def test_mosi_real_counts_and_folds():
    from affectkit.data.corpora._cmu import MOSI_FOLDS

    r = real("mosi")
    assert r.by_split() == {"test": 685, "train": 1281, "valid": 229}
    assert len(r) == 2195 and not r.issues  # 4 of the 2,199 CMU segments are not in label.csv
    assert len(r.speakers()) == 93
    # The embedded SDK folds are the csv's folds, video by video.
    assert {u.meta["video"]: u.split for u in r.utterances} == MOSI_FOLDS
    assert all(-3 <= u.sentiment <= 3 for u in r.utterances)


def test_mosei_real_counts():
    r = real("mosei")
    assert len(r) == 22788 and not r.issues
    assert r.by_split() == {"test": 4653, "train": 16274, "valid": 1861}


@pytest.mark.parametrize("name", ["goemotions", "goemotions-ekman"])
def test_goemotions_real_counts(name):
    r = real(name)
    assert r.by_split() == {"test": 5427, "train": 43410, "valid": 5426}
    assert not r.issues
    multi = [u for u in r.utterances if len(u.emotions) > 1]
    assert multi and all(u.emotion is None for u in multi)
    single = next(u for u in r.utterances if u.emotions == ("joy",))
    assert single.emotion == "happy" and single.emotion_original == "joy"


def test_goemotions_ekman_from_mapping_matches_release(tmp_path):
    """Deriving Ekman labels from ekman_mapping.json reproduces the shared ekman/ files."""
    from affectkit.taxonomy import OPTIONAL_MAPS

    orig = shared_path("text/goemotions/original")
    (tmp_path / "original").symlink_to(orig, target_is_directory=True)
    groups: dict[str, list[str]] = {}
    for fine, canon in OPTIONAL_MAPS["goemotions"].items():
        if fine != "neutral":
            ekman = {"angry": "anger", "disgusted": "disgust", "fearful": "fear",
                     "happy": "joy", "sad": "sadness", "surprised": "surprise"}[canon]
            groups.setdefault(ekman, []).append(fine)
    write(tmp_path / "ekman_mapping.json", json.dumps(groups))
    derived = load_corpus("goemotions-ekman", tmp_path)
    shipped = real("goemotions-ekman")
    a = {u.id: set(u.emotions) for u in derived.utterances}
    b = {u.id: set(u.emotions) for u in shipped.utterances}
    assert a == b


def test_emocontext_real_counts():
    r = real("emocontext")
    assert r.by_split() == {"test": 5509, "train": 30160, "valid": 2755}
    assert not r.issues
    u = r.utterances[0]
    assert len(u.meta["context"]) == 2 and u.turn == 2 and u.dialogue_id


def test_ecf_real_counts_and_causes():
    r = real("ecf")
    assert not r.issues
    convs = Counter()
    for d in group_dialogues(r.utterances):
        convs[d.utterances[0].split] += 1
    assert convs == {"train": 1374, "test": 341}
    assert r.by_split() == {"train": 13619, "test": 3101}
    by_id = {u.id: u for u in r.utterances}
    n_links = 0
    for u in r.utterances:
        for c in u.causes:
            n_links += 1
            assert by_id[c.cause_id].dialogue_id == u.dialogue_id
            assert c.emotion == u.emotion_original and c.span
    assert n_links > 9000
    # no validation part: official_split carves one by conversation, disjoint from train
    s = official_split(r.utterances)
    dlg = lambda ids: {by_id[i].dialogue_id for i in ids}  # noqa: E731
    assert s.folds[0].valid and not dlg(s.folds[0].valid) & dlg(s.folds[0].train)


def test_reccon_real_counts():
    r = real("reccon")
    assert not r.issues
    convs = Counter(d.utterances[0].split for d in group_dialogues(r.utterances))
    assert convs == {"train": 834, "valid": 47, "test": 225}
    assert sum(len(u.causes) for u in r.utterances) > 9000
    assert any(u.meta.get("latent_cause") for u in r.utterances)
    typo = next(u for u in r.utterances if u.emotion_original == "happines")
    assert typo.emotion == "happy"
    ri = real("reccon-iemocap")
    assert len(group_dialogues(ri.utterances)) == 16 and ri.by_split() == {"test": 665}


def test_mosi400_real_and_exclusion():
    from affectkit.data.corpora.mosi400 import MOSI400_VIDEOS, without_mosi400

    r = real("mosi400")
    assert len(r) == 400 and not r.issues
    assert {u.meta["mosi_video"] for u in r.utterances} == MOSI400_VIDEOS
    assert len(r.speakers()) == 16
    assert {u.meta["mosi_fold"] for u in r.utterances} <= {"train", "valid"}
    u = r.utterances[0]
    assert set(u.media) == {Modality.AUDIO, Modality.VISION} and u.text
    assert u.media[Modality.AUDIO].suffix == ".mp4" and u.media[Modality.AUDIO].exists()
    speaker_kfold(r.utterances, 4).check(r.utterances)
    mosi = real("mosi").utterances
    kept = without_mosi400(mosi)
    assert not {u.meta["video"] for u in kept} & MOSI400_VIDEOS
    assert len(mosi) - len(kept) == sum(u.meta["video"] in MOSI400_VIDEOS for u in mosi) > 300


@pytest.mark.parametrize("name", SPLIT_CLAIMS + ["meld"])
def test_declared_speaker_independence_holds(name):
    """A corpus claiming a speaker-independent official split passes the check; one that
    does not claim it really leaks (or has no speaker ids), so the claim is not just modest."""
    r = real(name)
    claim = getattr(get_corpus(name), "speaker_independent_split", False)
    if claim:
        s = official_split(r.utterances, speaker_independent=True)
        assert s.speaker_independent and s.folds[0].test
    else:
        with pytest.raises(SplitLeakError):
            official_split(r.utterances, speaker_independent=True)


# ===== synthetic trees for layouts not in the shared folder ===================================


def test_fer2013_csv_layout(tmp_path):
    from affectkit.data.corpora.fer2013 import load_image

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (48, 48)) for _ in range(4)]
    px = [" ".join(map(str, im.ravel())) for im in imgs]
    lines = ["emotion,pixels,Usage",
             f"0,{px[0]},Training", f"3,{px[1]},PublicTest", f"6,{px[2]},PrivateTest",
             f"9,{px[3]},Training",                      # unknown emotion id
             f"2,{px[3][:-4]},Training",                 # 2,303 pixels
             f"1,{px[3]},Hidden",                        # unknown Usage
             f"5,{px[3]},Training"]
    write(tmp_path / "fer2013.csv", "\r\n".join(lines) + "\r\n")
    r = load_corpus("fer2013", tmp_path)
    assert [u.emotion_original for u in r.utterances] == ["angry", "happy", "neutral", "surprise"]
    assert [u.split for u in r.utterances] == ["train", "valid", "test", "train"]
    assert issues_by_field(r).keys() == {"emotion", "pixels", "Usage"}
    assert any(i.path.endswith("fer2013.csv:5") for i in r.issues)  # file:line named
    for u, im in zip(r.utterances[:3], imgs):
        got = load_image(u)
        assert got.dtype == np.uint8 and got.shape == (48, 48)
        assert np.array_equal(got, im.astype(np.uint8))
    # a stale offset falls back to the row number
    u = r.utterances[2]
    u.meta["offset"] = 7
    assert np.array_equal(load_image(u), imgs[2].astype(np.uint8))
    with pytest.raises(DataError, match="strict"):
        load_corpus("fer2013", tmp_path, strict=True)


def test_fer2013_two_folder_export_uses_usage_prefix(tmp_path):
    png(tmp_path / "train/happy/Training_1.jpg")
    png(tmp_path / "test/sad/PublicTest_2.jpg")
    png(tmp_path / "test/sad/PrivateTest_3.jpg")
    png(tmp_path / "test/bored/PrivateTest_4.jpg")
    png(tmp_path / "train/fear/PrivateTest_5.jpg")  # test image filed under train
    r = load_corpus("fer2013", tmp_path)
    assert sorted(u.split for u in r.utterances) == ["test", "train", "valid"]
    assert issues_by_field(r).keys() == {"emotion", "split"}


def test_ckplus_release_layout(tmp_path):
    seq = tmp_path / "extended-cohn-kanade-images/cohn-kanade-images/S005/001"
    for k in (1, 2, 3):
        png(seq / f"S005_001_{k:08d}.png", value=k)
    png(tmp_path / "extended-cohn-kanade-images/cohn-kanade-images/S010/002/S010_002_00000001.png")
    png(tmp_path / "extended-cohn-kanade-images/cohn-kanade-images/S011/001/S011_001_00000004.png")
    emo = tmp_path / "Emotion_labels/Emotion"
    write(emo / "S005/001/S005_001_00000003_emotion.txt", "   3.0000000e+00\n")
    write(emo / "S011/001/S011_001_00000004_emotion.txt", "   9.0000000e+00\n")  # bad code
    write(emo / "S012/001/S012_001_00000007_emotion.txt", "   5.0000000e+00\n")  # no images
    r = load_corpus("ckplus", tmp_path)
    assert [(u.id, u.emotion_original, u.emotion) for u in r.utterances] == [
        ("ckplus/S005_001_00000003", "disgust", "disgusted")]
    assert r.utterances[0].meta["is_last_frame"] and r.utterances[0].speaker == "ckplus/S005"
    assert issues_by_field(r).keys() == {"emotion", "image"}  # S010 (unlabelled) is not an issue
    cls = get_corpus("ckplus")
    r2 = cls(tmp_path, neutral_first_frame=True).load()
    assert [u.emotion for u in r2.utterances] == ["disgusted", "neutral"]
    assert r2.utterances[1].id == "ckplus/S005_001_00000001"
    # labels without images: a layout error naming the missing part
    with pytest.raises(DataError, match="Emotion"):
        cls(tmp_path / "extended-cohn-kanade-images").load()


def test_jaffe_layout(tmp_path):
    import cv2

    d = tmp_path / "jaffe"
    d.mkdir()
    for name in ("KA.AN1.39", "KA.NE2.27", "YM.HA3.55", "KL.SU1.164", "KM.XX1.2", "README"):
        cv2.imwrite(str(d / f"{name}.tiff"), np.zeros((8, 8), np.uint8))
    write(d / "A_README_FIRST.txt", "not an image")
    r = load_corpus("jaffe", tmp_path)
    assert {u.id: u.emotion for u in r.utterances} == {
        "jaffe/KA.AN1.39": "angry", "jaffe/KA.NE2.27": "neutral",
        "jaffe/KL.SU1.164": "surprised", "jaffe/YM.HA3.55": "happy"}
    assert r.speakers() == ["jaffe/KA", "jaffe/KL", "jaffe/YM"]
    assert issues_by_field(r).keys() == {"emotion", "name"}
    with pytest.raises(DataError):
        load_corpus("jaffe", tmp_path, strict=True)


def test_iemocap_release_layout(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    _iemocap_session(root, 1, extra="[12.0 - 13.0]\tSes01F_impro01_F001\tzzz\t[1, 2, 3]\n"
                                    "[13.0 - x]\tSes01F_impro01_F002\tneu\n")
    _iemocap_session(root, 5)
    r = load_corpus("iemocap", tmp_path)
    u = {x.id: x for x in r.utterances}
    f0, m0, m1 = (u[f"iemocap/Ses01F_impro01_{t}"] for t in ("F000", "M000", "M001"))
    assert (f0.turn, m0.turn, m1.turn) == (0, 1, 2)  # ordered by start time
    assert f0.text == "Excuse me." and f0.emotion == "neutral" and f0.speaker == "iemocap/Ses01F"
    assert m0.emotion == "frustrated" and m0.emotion_original == "fru"
    assert (m0.valence, m0.arousal, m0.meta["dominance"]) == (2.5, 3.5, 3.0)
    assert m0.speaker == "iemocap/Ses01M" and m0.media[Modality.AUDIO].suffix == ".wav"
    assert m1.emotion is None and m1.emotion_original == "xxx" and Modality.AUDIO not in m1.media
    assert m0.split == "train" and u["iemocap/Ses05F_impro01_M000"].split == "test"
    assert issues_by_field(r).keys() == {"emotion", "line"}
    # sessions 1-4 vs 5 is speaker independent, validation carved by speaker
    s = official_split(r.utterances, speaker_independent=True)
    assert s.folds[0].test and s.folds[0].valid
    r4 = get_corpus("iemocap")(tmp_path, test_session=1).load()
    assert {x.split for x in r4.utterances if x.meta["session"] == 1} == {"test"}


def test_mosi_cmu_raw_layout_with_csd(tmp_path):
    from affectkit.data.corpora._cmu import read_csd

    train_vid, test_vid, odd_vid = "03bSnISJMiM", "c7UH_rxdZv4", "9J25DZhivz8"
    t = tmp_path / "Transcript/Segmented"
    write(t / f"{train_vid}.annotprocessed", "1_DELIM_ANYHOW IT WAS GOOD \n2_DELIM_ I MEAN NO\n"
                                             "garbage line\n")
    write(t / f"{test_vid}.annotprocessed", "1_DELIM_ONE\n2_DELIM_TWO\n3_DELIM_THREE\n")
    write(t / f"{odd_vid}.annotprocessed", "1_DELIM_A\n2_DELIM_B\n")
    wav(tmp_path / f"Audio/WAV_16000/Segmented/{train_vid}_1.wav")
    write(tmp_path / f"Video/Segmented/{train_vid}_1.mp4", b"\x00")
    write(tmp_path / f"Video/Segmented/{train_vid}_2.mp4", b"\x00")
    _csd(tmp_path / "Labels/CMU_MOSI_Opinion_Labels.csd", {
        # unaligned keys: rows pair with transcript lines by start time (given out of order)
        train_vid: ([[-1.5], [2.4]], [[3.0, 5.0], [0.0, 2.5]]),
        # SDK-aligned keys: <video>[i] is segment i+1; segment 3 has no label
        f"{test_vid}[0]": ([[0.2]], [[0.0, 1.0]]),
        f"{test_vid}[1]": ([[7.0]], [[1.0, 2.0]]),   # outside [-3, 3]
        odd_vid: ([[1.0]], [[0.0, 1.0]]),           # 1 label row, 2 transcript lines
    })
    write(tmp_path / "Labels/CMU_MOSI_COVAREP.csd", b"not used")  # another csd beside it
    assert len(read_csd(tmp_path / "Labels/CMU_MOSI_Opinion_Labels.csd")[test_vid]) == 2
    r = load_corpus("mosi", tmp_path)
    u = {x.id: x for x in r.utterances}
    assert set(u) == {f"mosi/{train_vid}_1", f"mosi/{train_vid}_2", f"mosi/{test_vid}_1"}
    a = u[f"mosi/{train_vid}_1"]
    assert a.sentiment == pytest.approx(2.4) and a.text == "ANYHOW IT WAS GOOD"
    assert a.media[Modality.AUDIO].suffix == ".wav" and a.media[Modality.VISION].suffix == ".mp4"
    assert u[f"mosi/{train_vid}_2"].media[Modality.AUDIO].suffix == ".mp4"
    assert a.split == "train" and u[f"mosi/{test_vid}_1"].split == "test"
    assert a.speaker == f"mosi/{train_vid}"
    fields = issues_by_field(r)
    assert set(fields) == {"text", "features", "label"}
    assert len(fields["label"]) == 3  # odd_vid x2 (cannot pair), test_vid segment 3 unlabelled
    with pytest.raises(DataError, match="strict"):
        load_corpus("mosi", tmp_path, strict=True)


def test_csd_reader_rejects_non_csd(tmp_path):
    from affectkit.data.corpora._cmu import read_csd

    import h5py

    with h5py.File(tmp_path / "x.csd", "w") as f:
        f.create_group("something")
    with pytest.raises(DataError, match="data"):
        read_csd(tmp_path / "x.csd")
    write(tmp_path / "y.csd", b"plain text")
    with pytest.raises(DataError, match="HDF5"):
        read_csd(tmp_path / "y.csd")


def test_mosei_csd_layout(tmp_path):
    vid = "-3g5yACwYnA"
    _csd(tmp_path / "CMU_MOSEI_Labels.csd", {
        vid: ([[1.0, 0.5, 0, 0, 0, 0, 0], [-0.66, 0, 1, 0.33, 0, 0, 0], [0.0, 0, 0, 0, 0, 0, 0],
               [5.0, 0, 0, 0, 0, 0, 0]],
              [[82.76, 100.01], [119.92, 125.8], [200.0, 201.0], [300.0, 301.0]]),
    })
    write(tmp_path / f"Transcript/Segmented/Combined/{vid}.txt",
          f"{vid}___1___82.7645___100.0112___Key is part of it.\n"
          f"{vid}___2___119.919___125.82___They have been able to find solutions.\n"
          "broken line\n")
    write(tmp_path / f"Videos/Full/Combined/{vid}.mp4", b"\x00")
    r = load_corpus("mosei", tmp_path)
    assert [u.id for u in r.utterances] == [f"mosei/{vid}_1", f"mosei/{vid}_2"]
    a, b = r.utterances
    assert a.text == "Key is part of it." and a.start == pytest.approx(82.76)
    assert b.meta["emotion_intensity"]["sad"] == 1 and b.sentiment == pytest.approx(-0.66)
    assert a.media[Modality.VISION].name == f"{vid}.mp4" and a.split is None
    assert issues_by_field(r).keys() == {"text", "features"}  # broken line, 200 s, score 5


def test_mmsa_csv_bad_rows(tmp_path):
    write(tmp_path / "label.csv", "id,text,label,mode\n"
                                  "abc_1,good movie,1.4,train\n"
                                  "abc_2,bad,-9,train\n"
                                  "abc_3,meh,0,holdout\n"
                                  "nounderscore,x,0,test\n"
                                  "abc_4,,0,test\n"
                                  "abc_5,\"fine, really\",0.2,dev\n")
    write(tmp_path / "Raw/abc/5.mp4", b"\x00")
    r = load_corpus("mosi", tmp_path)
    assert [(u.id, u.split) for u in r.utterances] == [("mosi/abc_1", "train"),
                                                       ("mosi/abc_5", "valid")]
    assert r.utterances[1].text == "fine, really"
    assert r.utterances[1].media[Modality.VISION].name == "5.mp4"
    assert issues_by_field(r).keys() == {"label", "mode", "id", "text"}
    write(tmp_path / "m/label.csv", "video_id,text,label,mode\nv,t,0,train\n")
    with pytest.raises(DataError, match="clip_id"):
        load_corpus("mosei", tmp_path / "m")


def test_isear_published_csv(tmp_path):
    rows = [
        _isear_row("21001", 1, "joy", "0210011", "When my sister á passed her \"driving\" test."),
        _isear_row("21001", 2, "fear", "0210012", "A dog ran at me in the park."),
        _isear_row("21002", 6, "shame", "0210026", "I forgot a friend's birthday."),
        _isear_row("21002", 7, "regret", "0210027", "Something."),
        _isear_row("21002", 4, "sadness", "0210024", "[ No response.]"),
        "21003|1|2",
    ]
    write(tmp_path / "isear.csv", (ISEAR_HEADER + "\n" + "\n".join(rows) + "\n")
          .encode("latin-1"))
    r = load_corpus("isear", tmp_path)
    assert [(u.id, u.emotion, u.speaker) for u in r.utterances] == [
        ("isear/0210011", "happy", "isear/21001"), ("isear/0210012", "fearful", "isear/21001"),
        ("isear/0210026", "shame", "isear/21002")]
    assert r.utterances[0].text == 'When my sister passed her "driving" test.'
    assert r.utterances[0].meta["COUN"] == "2"
    assert Counter(i.field for i in r.issues) == {"Field1": 1, "SIT": 2}
    # comma-separated export with only EMOT codes
    write(tmp_path / "c/ISEAR.csv", "EMOT,SIT,ID\n3,\"He lied, again.\",7\n8,x,7\n")
    r2 = load_corpus("isear", tmp_path / "c")
    assert [(u.emotion_original, u.text) for u in r2.utterances] == [("anger", "He lied, again.")]
    assert r2.issues[0].field == "EMOT"
    speaker_kfold(r.utterances, 2).check(r.utterances)


def test_goemotions_synthetic_multilabel_and_bad_ids(tmp_path):
    o = tmp_path / "original"
    write(o / "labels.txt", "\n".join(["admiration", "joy", "neutral"]) + "\n")
    write(o / "train.tsv", "Great \"work\"\t0,1\tc1\nlol\t1\tc2\nhm\t7\tc3\nno tabs here\n")
    write(o / "dev.tsv", "ok\t2\tc4\n")
    write(o / "test.tsv", "x\t0\tc5\n")
    r = load_corpus("goemotions", tmp_path)
    u = {x.id: x for x in r.utterances}
    assert u["goemotions/train/c1"].emotions == ("admiration", "joy")
    assert u["goemotions/train/c1"].emotion is None
    assert u["goemotions/train/c1"].text == 'Great "work"'
    assert u["goemotions/train/c2"].emotion == "happy"
    assert r.by_split() == {"test": 1, "train": 2, "valid": 1}
    assert [i.field for i in r.issues] == ["ids", "ids"]
    with pytest.raises(DataError, match="ekman"):
        load_corpus("goemotions-ekman", tmp_path)


def test_emocontext_bad_label_and_strict(tmp_path):
    head = "id\tturn1\tturn2\tturn3\tlabel\r\n"
    write(tmp_path / "train.txt", head + "0\thi\thello\tI hate you\tangry\r\n"
                                         "1\ta\tb\tc\tjoyful\r\n2\tonly\ttwo\r\n")
    write(tmp_path / "valid.txt", head + "0\ta\tb\tyay\thappy\r\n")
    r = load_corpus("emocontext", tmp_path)
    assert [(u.id, u.split, u.text) for u in r.utterances] == [
        ("emocontext/train/0", "train", "I hate you"), ("emocontext/valid/0", "valid", "yay")]
    assert r.utterances[0].meta["context"] == ["hi", "hello"]
    assert Counter(i.field for i in r.issues) == {"label": 2, "file": 1}  # test.txt missing
    assert any("joyful" in i.reason and i.path.endswith("train.txt:3") for i in r.issues)
    with pytest.raises(DataError, match="joyful"):
        load_corpus("emocontext", tmp_path, strict=True)


def test_ecf_bad_pairs(tmp_path):
    conv = {"conversation_ID": 7, "conversation": [
        {"utterance_ID": 1, "text": "You did what?", "speaker": "Ross", "emotion": "surprise"},
        {"utterance_ID": 2, "text": "Nothing.", "speaker": "Rachel", "emotion": "glee"}],
        "emotion-cause_pairs": [["1_surprise", "1_You did what?"], ["1_surprise", "5_x"],
                                ["oops"]]}
    write(tmp_path / "Subtask_1_train.json", json.dumps([conv]))
    r = load_corpus("ecf", tmp_path)
    (u,) = r.utterances
    assert u.causes[0].cause_id == "ecf/7_1" and u.causes[0].span == "You did what?"
    assert u.speaker == "ecf/Ross" and u.turn == 0 and u.split == "train"
    assert Counter(i.field for i in r.issues) == {"emotion-cause_pairs": 2, "emotion": 1,
                                                  "file": 1}


def test_reccon_synthetic_causes(tmp_path):
    conv = {"tr_1": [[
        {"turn": 1, "speaker": "A", "utterance": "It's terrible!", "emotion": "anger",
         "expanded emotion cause evidence": ["b"], "expanded emotion cause span": ["b"],
         "type": ["latent"]},
        {"turn": 2, "speaker": "B", "utterance": "What happened?", "emotion": "surprise",
         "expanded emotion cause evidence": [1, 9],
         "expanded emotion cause span": ["terrible", "x"],
         "type": ["inter-personal"]},
        {"turn": 3, "speaker": "A", "utterance": "Meh.", "emotion": "meh"}]]}
    write(tmp_path / "dailydialog_train.json", json.dumps(conv))
    r = load_corpus("reccon", tmp_path)
    a, b = r.utterances
    assert a.meta["latent_cause"] and not a.causes and a.emotion == "angry"
    assert b.causes[0].cause_id == a.id and b.causes[0].span == "terrible"
    assert b.speaker == "reccon/train/tr_1/B"
    assert Counter(i.field for i in r.issues) == {"expanded emotion cause evidence": 1,
                                                  "emotion": 1, "file": 2}


# ===== errors naming the layout, CLI ==========================================================


def test_cli_info_on_synthetic_tree(tmp_path):
    _iemocap_session(tmp_path, 2)
    res = runner.invoke(app, ["data", "info", "iemocap", "--root", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["total"] == 3 and s["by_split"] == {"train": 3} and s["n_dialogues"] == 1
    assert set(s["modalities"]) == {"text", "audio"}
