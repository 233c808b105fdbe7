"""Speech corpus loaders: exact counts on the shared copies, synthetic trees in the published
layouts for every loader, issues instead of silent skips, speaker-independent splits."""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from affectkit.cli import app
from affectkit.data import (
    CORPORA,
    get_corpus,
    leave_one_speaker_out,
    load_corpus,
    speaker_kfold,
)
from affectkit.errors import DataError
from affectkit.types import Modality
from conftest import shared_path

SPEECH = ("tess", "emodb", "emovo", "urdu", "cremad", "savee", "shemo", "nemo", "baved",
          "ased", "turev")
runner = CliRunner()

# --- tiny audio fixtures -----------------------------------------------------------------
# One-sample clips in several containers: loaders must accept any audio extension and must
# not decode (a decoder would choke on nothing here, but listing is all that is needed).
_BYTES: dict[str, bytes] = {}
_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"),
            ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", None)}


def clip(path: Path) -> Path:
    """Write a one-sample audio file (format from the extension) at ``path``."""
    import io

    import soundfile as sf

    ext = path.suffix.lower()
    if ext not in _BYTES:
        buf = io.BytesIO()
        fmt, sub = _FORMATS[ext]
        sf.write(buf, np.zeros(1, dtype="float32"), 16000, format=fmt, subtype=sub)
        _BYTES[ext] = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_BYTES[ext])
    return path


def text(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode(encoding))
    return path


# --- synthetic trees in each corpus's published layout -----------------------------------
# Each builder writes good items, one bad item and (where the release has them) non-audio
# files that are documentation, and returns the expectations.


def build_tess(root: Path) -> dict:
    for rel in ("OAF_angry/OAF_back_angry.wav", "OAF_Pleasant_surprise/OAF_back_ps.flac",
                "YAF_pleasant_surprised/YAF_bar_ps.wav", "OAF_neutral/OA_bite_neutral.opus",
                "YAF_Fear/YAF_bar_fear.mp3", "YAF_sad/YAF_bar_sadd.wav"):
        clip(root / rel)
    return dict(labels={"angry": 1, "ps": 2, "neutral": 1, "fear": 1},
                speakers=["tess/OAF", "tess/YAF"], bad="unknown emotion 'sadd'")


def build_emodb(root: Path) -> dict:
    for rel in ("wav/03a01Fa.wav", "wav/08b10Wb.flac", "wav/16a05La.opus", "wav/03a01Xa.wav"):
        clip(root / rel)
    text(root / "erkennung.txt",
         "Nr.\tSatz\terkannt\tnatuerlich\n1\xa0\xa0\t03a01Fa.wav\t90,00\xa0\xa0\t75,00\xa0\n",
         encoding="latin-1")
    return dict(labels={"happiness": 1, "anger": 1, "boredom": 1},
                speakers=["emodb/03", "emodb/08", "emodb/16"], bad="unknown emotion letter 'X'")


def build_emovo(root: Path) -> dict:
    for rel in ("f1/gio-f1-b1.wav", "m2/rab-m2-d2.flac", "m2/sor-m2-n5.opus",
                "f1/zzz-f1-b1.wav"):
        clip(root / rel)
    return dict(labels={"gio": 1, "rab": 1, "sor": 1}, speakers=["emovo/f1", "emovo/m2"],
                bad="unknown emotion code 'zzz'")


def build_urdu(root: Path) -> dict:
    for rel in ("Angry/SM1_F01_A01.wav", "Happy/SF2_F01_H01.flac", "Neutral/SM1_F02_N01.opus",
                "Sad/SM10_F01_S01.wav", "Sad/SM1_F03_H02.wav"):
        clip(root / rel)
    text(root / "README.md", "# URDU-Dataset\n")
    return dict(labels={"angry": 1, "happy": 1, "neutral": 1, "sad": 1},
                speakers=["urdu/SF2", "urdu/SM1", "urdu/SM10"],
                bad="emotion letter H (happy) disagrees with folder Sad")


def build_cremad(root: Path) -> dict:
    for rel in ("AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1001_IEO_HAP_HI.flac",
                "AudioWAV/1002_TIE_SAD_XX.wav", "AudioWAV/1002_IEO_NEU_XX.opus",
                "AudioMP3/1002_TIE_SAD_XX.mp3", "AudioMP3/1003_ITS_FEA_XX.mp3",
                "AudioWAV/1003_DFA_XYZ_XX.wav"):
        clip(root / rel)
    text(root / "VideoFlash/1001_DFA_ANG_XX.flv", "FLV")
    text(root / "processedResults/summaryTable.csv",
         '"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote",'
         '"MultiModalLevel"\n"1","1001_DFA_ANG_XX","A:D","37.2:58.6","A","45.5","A","44.2"\n')
    text(root / "VideoDemographics.csv",
         '"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","Caucasian","Not Hispanic"\n')
    return dict(labels={"ANG": 1, "HAP": 1, "SAD": 1, "NEU": 1, "FEA": 1},
                speakers=["cremad/1001", "cremad/1002", "cremad/1003"],
                bad="unknown emotion code 'XYZ'")


def build_savee(root: Path) -> dict:
    for rel in ("AudioData/DC/a01.wav", "AudioData/DC/sa02.flac", "AudioData/JE/su01.wav",
                "AudioData/JE/n15.opus", "AudioData/KL/h03.mp3", "AudioData/JK/x01.wav"):
        clip(root / rel)
    text(root / "AudioData/Info.txt", "Speakers ... Audio data ...\n")
    return dict(labels={"anger": 1, "sadness": 1, "surprise": 1, "neutral": 1, "happiness": 1},
                speakers=["savee/DC", "savee/JE", "savee/KL"], bad="unknown emotion code 'x'")


def build_shemo(root: Path) -> dict:
    for rel in ("female/F01A01.wav", "female/F01N02.flac", "female/F02S01.wav",
                "male/M01W01.opus", "male/M03F02.wav", "male/M01X01.wav"):
        clip(root / rel)
    text(root / "shemo.json", json.dumps([
        {"id": "F01A01", "gender": "female", "emotion": "angry",
         "transcript": "\ufeffدیگه نمی‌تونم تحمل کنم.", "ipa": "dige nemitunem"},
    ], ensure_ascii=False))
    return dict(labels={"anger": 1, "neutral": 1, "sadness": 1, "surprise": 1, "fear": 1},
                speakers=["shemo/F01", "shemo/F02", "shemo/M01", "shemo/M03"],
                bad="unknown emotion letter 'X'")


def build_nemo(root: Path) -> dict:
    rows = [
        ("WR0_surprised_64.wav", "surprised", "Ucho wykrywa dźwięki.", "WR0", "male", "23"),
        ("EB0_neutral_13.wav", "neutral", "„Ród smoka” to serial.", "EB0", "female", "27"),
        ("KS0_anger_8.wav", "anger", "Moja ciocia jest pomocna.", "KS0", "male", "23"),
        ("EB0_joy_1.wav", "joy", "Lubię czytać.", "EB0", "female", "27"),
    ]
    lines = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    for fid, emo, raw, spk, g, age in rows:
        lines.append(f"{fid}\t{emo}\t{raw}\t{raw.lower()}\t        {spk}\t{g}\t{age}")
        clip(root / "samples" / fid.replace(".wav", ".opus" if spk == "EB0" else ".wav"))
    text(root / "data.tsv", "\n".join(lines) + "\n")
    return dict(labels={"surprised": 1, "neutral": 1, "anger": 1},
                speakers=["nemo/EB0", "nemo/KS0", "nemo/WR0"], bad="unknown emotion 'joy'")


def build_baved(root: Path) -> dict:
    for rel in ("0/1-m-22-0-2-1.wav", "0/2-f-20-0-0-1.flac", "3/1-m-22-3-1-2.wav",
                "6/5-m-21-6-2-1.opus", "2/1-m-22-2-7-1.wav"):
        clip(root / rel)
    return dict(labels={"high": 2, "low": 1, "neutral": 1},
                speakers=["baved/1", "baved/2", "baved/5"], bad="unknown emotion level '7'")


def build_ased(root: Path) -> dict:
    for rel in ("01Neutral/n1-01-01-01-05.wav", "02Fearful/f2-03-02-02-07.flac",
                "03Happy/h3-01-01-01-05.wav", "04Sad/S4-04-02-01-29.wav",
                "05Angry/a5-02-01-02-07.opus", "05Angry/x5-01-01-01-05.wav"):
        clip(root / rel)
    text(root / "README.md", "# ASED_V1\n")
    return dict(labels={"neutral": 1, "fearful": 1, "happy": 1, "sad": 1, "angry": 1},
                speakers=["ased/05", "ased/07", "ased/29"], bad="unknown emotion letter 'x'")


def build_turev(root: Path) -> dict:
    for rel in ("Sound Source/Angry/1157_kz_acik.wav", "Sound Source/Calm/1234_sk_algi.flac",
                "Sound Source/Happy/1358_mt_beste.wav", "Sound Source/Sad/1157_hl_cay.opus",
                "Sound Source/Sad/1234_hl_dil.wav", "Sound Source/Happy/1358_zz_cay.wav"):
        clip(root / rel)
    text(root / "Model Output for Test Data/plain/Angry/1157_kz_beste.jpg", "not audio")
    return dict(labels={"angry": 1, "calm": 1, "happy": 1, "sad": 2},
                speakers=["turev/1157", "turev/1234", "turev/1358"],
                bad="unknown emotion code 'zz'")


BUILDERS = {
    "tess": build_tess, "emodb": build_emodb, "emovo": build_emovo, "urdu": build_urdu,
    "cremad": build_cremad, "savee": build_savee, "shemo": build_shemo, "nemo": build_nemo,
    "baved": build_baved, "ased": build_ased, "turev": build_turev,
}


@pytest.fixture
def tree(tmp_path, request):
    name = request.param
    root = tmp_path / name
    return name, root, BUILDERS[name](root)


# --- contract over every speech loader ----------------------------------------------------


@pytest.mark.parametrize("name", SPEECH)
def test_registered_and_declared(name):
    cls = get_corpus(name)
    assert cls.name == name and name in CORPORA
    assert Modality.AUDIO in cls.modalities
    assert cls.title and cls.layout and cls.licence and cls.language
    assert cls.label_space.emotions and not cls.official_split
    module = importlib.import_module(cls.__module__)
    assert module.__name__.endswith(f".{name}")
    assert "Splits:" in module.__doc__ and "layout" in module.__doc__  # documented protocol


@pytest.mark.parametrize("tree", SPEECH, indirect=True)
def test_synthetic_tree_parsed(tree):
    name, root, exp = tree
    r = load_corpus(name, root)
    assert r.by_label() == exp["labels"]
    assert len(r) == sum(exp["labels"].values())
    assert r.speakers() == exp["speakers"]
    cls = get_corpus(name)
    for u in r.utterances:
        assert u.id.startswith(f"{name}/") and u.corpus == name
        assert u.speaker.startswith(f"{name}/")
        assert u.emotion_original in cls.label_space.emotions
        assert Modality.AUDIO in u.media and u.media[Modality.AUDIO].exists()
    # Exactly the one bad file is reported, with the reason; documentation is not an issue.
    assert len(r.issues) == 1, r.issues
    assert exp["bad"] in r.issues[0].reason
    assert len({u.media[Modality.AUDIO].suffix for u in r.utterances}) >= 2  # any extension


@pytest.mark.parametrize("tree", SPEECH, indirect=True)
def test_strict_turns_the_issue_into_an_error(tree):
    name, root, exp = tree
    with pytest.raises(DataError, match=re.escape(exp["bad"])):
        load_corpus(name, root, strict=True)


@pytest.mark.parametrize("name", SPEECH)
def test_missing_or_empty_root_names_the_layout(name, tmp_path):
    layout = re.escape(get_corpus(name).layout[:25])
    with pytest.raises(DataError, match=layout):
        load_corpus(name, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=layout):
        load_corpus(name, tmp_path / "empty")


@pytest.mark.parametrize("tree", SPEECH, indirect=True)
def test_cli_info_json(tree):
    name, root, exp = tree
    r = runner.invoke(app, ["data", "info", name, "--root", str(root), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["total"] == sum(exp["labels"].values()) and s["by_label"] == exp["labels"]
    assert s["n_speakers"] == len(exp["speakers"]) and len(s["issues"]) == 1
    assert "audio" in s["modalities"]


def test_cli_list_has_speech_corpora():
    r = runner.invoke(app, ["data", "list", "--json"])
    assert r.exit_code == 0, r.output
    assert set(SPEECH) <= {c["name"] for c in json.loads(r.stdout)}


# --- corpus-specific behaviour on the synthetic trees ------------------------------------


def test_tess_speaker_from_folder_and_text(tmp_path):
    build_tess(tmp_path)
    r = load_corpus("tess", tmp_path)
    u = {x.id: x for x in r.utterances}["tess/OA_bite_neutral"]
    assert u.speaker == "tess/OAF" and u.meta["speaker_from"] == "folder"
    assert u.text == "Say the word bite." and u.emotion == "neutral"
    ps = [x for x in r.utterances if x.emotion_original == "ps"]
    assert {x.emotion for x in ps} == {"ps"}  # non-canonical label kept as spelled


def test_emodb_ratings_text_and_meta(tmp_path):
    build_emodb(tmp_path)
    u = {x.id: x for x in load_corpus("emodb", tmp_path).utterances}
    a = u["emodb/03a01Fa"]
    assert a.emotion == "happy" and a.emotion_original == "happiness"
    assert a.text == "Der Lappen liegt auf dem Eisschrank."
    assert a.meta["recognition"] == 90.0 and a.meta["naturalness"] == 75.0
    assert a.meta["gender"] == "male" and a.meta["german"] == "Freude"
    assert u["emodb/16a05La"].emotion == "boredom" and "recognition" not in u["emodb/16a05La"].meta


def test_cremad_merges_media_and_reads_votes(tmp_path):
    build_cremad(tmp_path)
    u = {x.id: x for x in load_corpus("cremad", tmp_path).utterances}
    a = u["cremad/1001_DFA_ANG_XX"]
    assert a.media[Modality.VISION].suffix == ".flv" and a.media[Modality.AUDIO].suffix == ".wav"
    assert a.text == "Don't forget a jacket." and a.emotion == "angry"
    assert a.meta["voice_vote"] == "A:D" and a.meta["multimodal_level"] == "44.2"
    assert a.meta["age"] == 51 and a.meta["gender"] == "male"
    # WAV wins over the MP3 of the same clip; an MP3-only clip still loads.
    assert u["cremad/1002_TIE_SAD_XX"].media[Modality.AUDIO].parent.name == "AudioWAV"
    assert u["cremad/1003_ITS_FEA_XX"].media[Modality.AUDIO].suffix == ".mp3"
    assert u["cremad/1001_IEO_HAP_HI"].meta["level"] == "high"
    assert "voice_vote" not in u["cremad/1002_TIE_SAD_XX"].meta


def test_savee_flat_copy_with_speaker_prefix(tmp_path):
    for rel in ("ALL/DC_a01.wav", "ALL/JK_su15.flac", "ALL/a01.wav"):
        clip(tmp_path / rel)
    r = load_corpus("savee", tmp_path)
    assert r.speakers() == ["savee/DC", "savee/JK"] and len(r) == 2
    assert len(r.issues) == 1 and "no speaker" in r.issues[0].reason


def test_shemo_transcripts_and_gender_folder_check(tmp_path):
    build_shemo(tmp_path)
    clip(tmp_path / "male" / "F05H01.wav")  # a female speaker's file in male/
    r = load_corpus("shemo", tmp_path)
    u = {x.id: x for x in r.utterances}
    assert u["shemo/F01A01"].text == "دیگه نمی‌تونم تحمل کنم." and u["shemo/F01A01"].meta["ipa"]
    assert u["shemo/F01N02"].text is None
    assert u["shemo/M03F02"].emotion == "fearful" and u["shemo/M01W01"].emotion == "surprised"
    assert any("disagrees with folder male" in i.reason for i in r.issues)


def test_nemo_text_and_missing_audio(tmp_path):
    build_nemo(tmp_path)
    (tmp_path / "samples" / "KS0_anger_8.wav").unlink()
    r = load_corpus("nemo", tmp_path)
    u = {x.id: x for x in r.utterances}
    assert u["nemo/EB0_neutral_13"].text == "„Ród smoka” to serial."
    assert u["nemo/EB0_neutral_13"].media[Modality.AUDIO].suffix == ".opus"
    assert u["nemo/WR0_surprised_64"].meta == {
        "normalized_text": "ucho wykrywa dźwięki.", "gender": "male", "age": 23,
        "sentence_id": "64"}
    assert "nemo/KS0_anger_8" not in u
    assert any(i.field == "file_id" and "not found" in i.reason for i in r.issues)
    text(tmp_path / "data.tsv", "file_id\temotion\n")
    with pytest.raises(DataError, match="lacks columns"):
        load_corpus("nemo", tmp_path)


def test_baved_word_text_and_folder_check(tmp_path):
    build_baved(tmp_path)
    clip(tmp_path / "4" / "9-m-30-5-1-1.wav")  # word 5 inside folder 4
    r = load_corpus("baved", tmp_path)
    u = {x.id: x for x in r.utterances}
    assert u["baved/1-m-22-0-2-1"].text == "اعجبني" and u["baved/1-m-22-0-2-1"].meta["age"] == 22
    assert u["baved/2-f-20-0-0-1"].emotion == "low"
    assert any("folder 4" in i.reason for i in r.issues)


def test_ased_fields_and_folder_check(tmp_path):
    build_ased(tmp_path)
    clip(tmp_path / "03Happy" / "s4-01-01-01-08.wav")  # sad letter in the happy folder
    r = load_corpus("ased", tmp_path)
    u = {x.id: x for x in r.utterances}["ased/s4-04-02-01-29"]  # upper-case S in the release
    assert u.emotion == "sad" and u.speaker == "ased/29"
    assert u.meta == {"sentence": 4, "repetition": 2, "gender": "female", "emotion_index": 4}
    assert any("disagrees with folder 03Happy" in i.reason for i in r.issues)


def test_turev_root_may_be_sound_source(tmp_path):
    build_turev(tmp_path)
    r = load_corpus("turev", tmp_path / "Sound Source")
    assert len(r) == 5 and r.by_label("emotion")["calm"] == 1  # calm kept, not canonical
    assert {u.meta["word"] for u in r.utterances} >= {"acik", "algi"}


# --- real shared copies: exact counts and speaker-independent protocols ------------------

REAL = {"tess": "speech/tess", "emodb": "speech/emodb", "emovo": "speech/emovo",
        "urdu": "speech/urdu"}


@pytest.fixture(scope="module")
def real():
    cache: dict = {}

    def get(name):
        if name not in cache:
            cache[name] = load_corpus(name, shared_path(REAL[name]))
        return cache[name]

    return get


def test_tess_real(real):
    r = real("tess")
    assert len(r) == 2800 and not r.issues
    assert r.speakers() == ["tess/OAF", "tess/YAF"]
    assert r.by_label() == {e: 400 for e in ("angry", "disgust", "fear", "happy", "neutral",
                                             "ps", "sad")}


def test_emodb_real(real):
    r = real("emodb")
    assert len(r) == 535 and not r.issues
    assert r.by_label() == {"anger": 127, "boredom": 81, "neutral": 79, "happiness": 71,
                            "fear": 69, "sadness": 62, "disgust": 46}
    assert len(r.speakers()) == 10
    assert all(u.text for u in r.utterances)
    assert all("recognition" in u.meta for u in r.utterances)  # erkennung.txt covers all 535


def test_emovo_real(real):
    r = real("emovo")
    assert len(r) == 588 and not r.issues and len(r.speakers()) == 6
    assert r.by_label() == {e: 84 for e in ("dis", "gio", "neu", "pau", "rab", "sor", "tri")}
    assert Counter(u.meta["sentence"] for u in r.utterances) == {
        s: 42 for s in ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4",
                        "n1", "n2", "n3", "n4", "n5")}


def test_urdu_real(real):
    r = real("urdu")
    assert len(r) == 400 and not r.issues  # README.md is documentation, not an issue
    assert r.by_label() == {"angry": 100, "happy": 100, "neutral": 100, "sad": 100}
    assert len(r.speakers()) == 29  # distinct S<G><N> ids in the file names


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_speaker_protocols_are_independent(real, name):
    r = real(name)
    utts = r.utterances
    spk = {u.id: u.speaker for u in utts}
    splits = [leave_one_speaker_out(utts)]
    k = min(5, len(r.speakers()))
    splits.append(speaker_kfold(utts, k))
    for s in splits:
        s.check(utts)  # raises SplitLeakError on a leak
        assert sorted(i for f in s.folds for i in f.test) == sorted(spk)  # each tested once
        for f in s.folds:
            assert f.train and f.valid and f.test
            test_spk = {spk[i] for i in f.test}
            assert test_spk.isdisjoint({spk[i] for i in f.train + f.valid})


def test_tess_two_fold_trains_on_one_actress_tests_on_the_other(real):
    r = real("tess")
    s = speaker_kfold(r.utterances, 2)
    s.check(r.utterances)
    spk = {u.id: u.speaker for u in r.utterances}
    for f in s.folds:
        assert len(f.test) == 1400 and f.train and f.valid
        assert {spk[i] for i in f.train} == {spk[i] for i in f.valid}
        assert {spk[i] for i in f.test}.isdisjoint({spk[i] for i in f.train})


@pytest.mark.parametrize("name", sorted(REAL))
def test_cli_info_on_shared_copy(real, name):
    real(name)  # skips when the shared copy is absent
    r = runner.invoke(app, ["data", "info", name, "--root", str(shared_path(REAL[name])),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["total"] == len(real(name))
