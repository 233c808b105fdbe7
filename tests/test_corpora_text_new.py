"""Text corpora of issue 13: XED, EmoEvent, TweetEval emotion, SemEval-2018 E-c, CrowdFlower,
TEC, EEC, SST-2, EmoBank, XLM-T sentiment, ECPE (Chinese).

Tiny synthetic trees in each release layout (labels, canonical mapping that never forces an
unmapped label, issues instead of silent skips, deterministic splits), and exact counts on the
shared copies (skipped when ``../shared/data`` is absent).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from affectkit.data import get_corpus, load_corpus, official_split
from affectkit.data.corpora._text import hash_split
from affectkit.errors import DataError, SplitLeakError
from conftest import shared_path

NEW = ("xed", "xed-fi", "xed-projections", "emoevent", "emoevent-es", "tweeteval-emotion",
       "semeval2018-ec", "crowdflower", "tec", "eec", "sst2", "emobank", "xlmt-sentiment",
       "ecpe-zh")


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def by_text(res):
    return {u.text: u for u in res.utterances}


# ===== synthetic trees ========================================================================


def test_xed_multilabel_canonical_and_kept_labels(tmp_path):
    write(tmp_path / "AnnotatedData/en-annotated.tsv",
          "I hate you .\t1\nWhat a day !\t5, 7\nI promise .\t8\nSoon .\t2\nbroken line\n"
          "Bad ids\t1, 9\n")
    write(tmp_path / "AnnotatedData/neu_en.txt", "9\tYeah I was just telling him.\t\t\t\n")
    res = load_corpus("xed", tmp_path)
    u = by_text(res)
    assert u["I hate you ."].emotion == "angry" and u["I hate you ."].emotions == ("anger",)
    assert u["What a day !"].emotion is None
    assert u["What a day !"].emotions == ("joy", "surprise")
    # anticipation and trust stay the corpus' own labels, never forced onto a canonical one
    assert u["I promise ."].emotion == "trust" and u["Soon ."].emotion == "anticipation"
    assert u["Yeah I was just telling him."].emotion == "neutral"
    assert len(res) == 5 and len(res.issues) == 2
    assert all(i.field == "labels" for i in res.issues)
    with pytest.raises(DataError, match="strict"):
        load_corpus("xed", tmp_path, strict=True)


def test_xed_split_is_deterministic_and_keeps_duplicates_together(tmp_path):
    lines = "".join(f"Line number {i} .\t{1 + i % 8}\n" for i in range(400))
    write(tmp_path / "AnnotatedData/fi-annotated.tsv", lines + "LINE  number 7 .\t3\n")
    write(tmp_path / "AnnotatedData/neu_fi.txt", "1\tNiin.\t2\t4\tfi/x.xml.gz\n")
    a, b = load_corpus("xed-fi", tmp_path), load_corpus("xed-fi", tmp_path)
    assert [u.split for u in a.utterances] == [u.split for u in b.utterances]
    shares = {s: n / len(a) for s, n in a.by_split().items()}
    assert 0.7 < shares["train"] < 0.9 and shares["valid"] > 0.04 and shares["test"] > 0.04
    dup = [u for u in a.utterances if u.text.lower().split() == ["line", "number", "7", "."]]
    assert len(dup) == 2 and dup[0].split == dup[1].split
    assert {u.meta["lang"] for u in a.utterances} == {"fi"}
    assert hash_split("x") == hash_split("x") and hash_split("a") in ("train", "valid", "test")


def test_xed_projections_langs_and_bad_rows(tmp_path):
    write(tmp_path / "Projections/de-projections.tsv", "Was ist passiert?\t4, 7\n\"Heul dich.\n")
    write(tmp_path / "Projections/es-projections.tsv", "¿Qué pasó?\t6\n")
    res = load_corpus("xed-projections", tmp_path)
    assert {u.meta["lang"] for u in res.utterances} == {"de", "es"} and len(res.issues) == 1
    only = load_corpus("xed-projections", tmp_path, langs=["es", "fr"])
    assert len(only) == 1 and "fr" in str(only.issues[0])


def _emoevent(root: Path, lang: str, rows: str, parts=("train", "dev", "test")) -> None:
    for p in parts:
        write(root / f"splits/{lang}/{p}.tsv", "id\tevent\ttweet\toffensive\temotion\n" + rows)


def test_emoevent_labels_others_kept_and_offensive(tmp_path):
    _emoevent(tmp_path, "en", "a1\tNotreDame\tSo sad #fire\tNO\tsadness\n"
                              "a2\tVenezuela\tNews here\tOFF\tothers\na3\tX\tHm\tNO\tlove\n")
    res = load_corpus("emoevent", tmp_path)
    u = [x for x in res.utterances if x.split == "train"]
    assert [x.emotion for x in u] == ["sad", "others"]  # others is never forced to neutral
    assert u[1].meta["offensive"] is True and u[0].meta["event"] == "NotreDame"
    assert len(res.issues) == 3 and "love" in res.issues[0].reason
    _emoevent(tmp_path, "es", "b1\tX\tQué alegría\tNO\tjoy\n", parts=("train", "dev"))
    es = load_corpus("emoevent-es", tmp_path)
    assert es.by_split() == {"train": 1, "valid": 1} and not es.issues
    assert es.utterances[0].meta["lang"] == "es" and es.utterances[0].emotion == "happy"


def test_tweeteval_emotion_parallel_files(tmp_path):
    d = tmp_path / "datasets/emotion"
    write(d / "mapping.txt", "0\tanger\n1\tjoy\n2\toptimism\n3\tsadness")
    for p in ("train", "val", "test"):
        write(d / f"{p}_text.txt", "grr\nyay \nhope\n")
        write(d / f"{p}_labels.txt", "0\n1\n2\n")
    res = load_corpus("tweeteval-emotion", tmp_path)
    assert [u.emotion for u in res.utterances[:3]] == ["angry", "happy", "optimism"]
    assert res.by_split() == {"test": 3, "train": 3, "valid": 3}
    write(d / "val_labels.txt", "0\n1\n")
    bad = load_corpus("tweeteval-emotion", tmp_path)
    assert len(bad) == 6 and "2 labels for 3 lines" in bad.issues[0].reason


def test_semeval_ec_multilabel_and_no_emotion(tmp_path):
    head = "ID\tTweet\t" + "\t".join(get_corpus("semeval2018-ec").label_space.emotions[:-1])
    write(tmp_path / "2018-E-c-En-train.txt", head + "\n"
          "t1\tSo angry\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n"
          "t2\tLove and joy\t0\t0\t0\t0\t1\t1\t0\t0\t0\t0\t0\n"
          "t3\tmeh\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n"
          "t4\tbad\t0\t0\tx\t0\t0\t0\t0\t0\t0\t0\t0\n")
    write(tmp_path / "2018-E-c-En-dev.txt", head + "\n")
    res = load_corpus("semeval2018-ec", tmp_path)
    u = by_text(res)
    assert u["So angry"].emotion == "angry" and u["Love and joy"].emotion is None
    assert u["Love and joy"].emotions == ("joy", "love") and u["meh"].emotion == "neutral"
    assert len(res.issues) == 1 and res.issues[0].field == "labels"


def test_crowdflower_author_split_is_speaker_independent(tmp_path):
    rows = "".join(f'{i},{lab},user{i % 37},"tweet, number {i}"\n' for i, lab in
                   enumerate(["worry", "happiness", "hate", "neutral"] * 60))
    write(tmp_path / "text_emotion.csv", "tweet_id,sentiment,author,content\n" + rows
          + "999,bogus,userX,hello\n")
    res = load_corpus("crowdflower", tmp_path)
    assert len(res) == 240 and len(res.issues) == 1 and "bogus" in res.issues[0].reason
    emos = {u.emotion_original: u.emotion for u in res.utterances}
    assert emos == {"worry": "worry", "happiness": "happy", "hate": "hate", "neutral": "neutral"}
    assert res.utterances[0].text == "tweet, number 0"
    s = official_split(res.utterances, speaker_independent=True)  # raises on a leak
    assert s.folds[0].train and s.folds[0].test


def test_tec_line_format(tmp_path):
    write(tmp_path / "tweets_clean.txt", "1:\tGreat party :) \t:: surprise\n"
          "2:\tI am scared \t:: fear\n3 no tab here :: joy\n4:\tmeh\t:: love\n")
    res = load_corpus("tec", tmp_path)
    assert [u.emotion for u in res.utterances] == ["surprised", "fearful"]
    assert [i.field for i in res.issues] == ["text", "emotion"]


def test_eec_unlabelled_templates_stay_unlabelled(tmp_path):
    write(tmp_path / "Equity-Evaluation-Corpus.csv",
          "ID,Sentence,Template,Person,Gender,Race,Emotion,Emotion word\n"
          "e1,Alonzo feels angry.,<person subject> feels <emotion word>.,Alonzo,male,"
          "African-American,anger,angry\n"
          "e2,She has two children.,<person subject> has two children.,she,female,,,\n")
    res = load_corpus("eec", tmp_path)
    u = by_text(res)
    assert u["Alonzo feels angry."].emotion == "angry"
    assert u["Alonzo feels angry."].meta["race"] == "African-American"
    assert u["She has two children."].emotion is None  # not forced onto neutral
    assert u["She has two children."].meta["race"] is None and res.by_split() == {"none": 2}


def test_sst2_polarity_and_bad_label(tmp_path):
    for p in ("train", "dev", "test"):
        write(tmp_path / f"{p}.tsv", "a stirring film\t1\ndull\t0\noops\t2\n")
    res = load_corpus("sst2", tmp_path)
    assert [u.sentiment for u in res.utterances[:2]] == [1.0, -1.0]
    assert len(res.issues) == 3 and res.by_split()["valid"] == 2


def test_emobank_vad(tmp_path):
    write(tmp_path / "corpus/emobank.csv", "id,split,V,A,D,text\n"
          "s1,train,3.0,3.2,3.1,Hello there\ns2,dev,4.5,2.0,3.0,Nice\n"
          "s3,test,9,2,2,Out of range\ns4,bogus,3,3,3,x\n")
    write(tmp_path / "corpus/meta.tsv", "id\tdocument\tcategory\tsubcategory\ns1\td\tblog\t \n")
    res = load_corpus("emobank", tmp_path)
    u = by_text(res)
    assert (u["Hello there"].valence, u["Hello there"].arousal) == (3.0, 3.2)
    assert u["Hello there"].meta == {"dominance": 3.1, "genre": "blog"}
    assert u["Nice"].split == "valid" and {i.field for i in res.issues} == {"V", "split"}


def test_xlmt_languages_and_polarity(tmp_path):
    for lang in ("english", "spanish"):
        for p in ("train", "val", "test"):
            write(tmp_path / lang / f"{p}_text.txt", "bad\nok\ngood\n")
            write(tmp_path / lang / f"{p}_labels.txt", "0\n1\n2\n")
    write(tmp_path / "all/train_text.txt", "ignored\n")
    res = load_corpus("xlmt-sentiment", tmp_path)
    assert len(res) == 18 and {u.meta["lang"] for u in res.utterances} == {"en", "es"}
    assert [u.sentiment for u in res.utterances[:3]] == [-1.0, 0.0, 1.0]
    assert len(load_corpus("xlmt-sentiment", tmp_path, langs=["spanish"])) == 9
    with pytest.raises(DataError, match="unknown languages"):
        load_corpus("xlmt-sentiment", tmp_path, langs=["klingon"])


ECPE_DOCS = (
    "1 3\n (2,3), (2,1)\n1,null,null,当 我 看到\n2,happiness,激动,激动 地 说\n3,null,null,建议 被 采纳\n"
    "2 2\n (1,1)\n1,fear&sadness,怕,我 很 怕\n2,null,null,天 黑\n"
)


def test_ecpe_clauses_pairs_and_folds(tmp_path):
    from affectkit.data.corpora.ecpe_zh import folds

    d = tmp_path / "data_combine"
    write(d / "all_data_pair.txt", ECPE_DOCS)
    write(d / "fold1_test.txt", ECPE_DOCS.split("2 2\n")[0])
    write(d / "fold2_test.txt", "2 2\n" + ECPE_DOCS.split("2 2\n")[1])
    res = load_corpus("ecpe-zh", tmp_path)
    u = {x.id: x for x in res.utterances}
    emo = u["ecpe-zh/1/2"]
    assert emo.emotion == "happy" and emo.meta["keyword"] == "激动" and emo.turn == 1
    assert {c.cause_id for c in emo.causes} == {"ecpe-zh/1/3", "ecpe-zh/1/1"}
    assert u["ecpe-zh/1/1"].emotion is None and not u["ecpe-zh/1/1"].causes  # not neutral
    two = u["ecpe-zh/2/1"]
    assert two.emotion is None and two.emotions == ("fear", "sadness")
    assert two.causes[0].cause_id == "ecpe-zh/2/1"
    f = folds(res.utterances)
    assert [len(t) for _, t in f] == [3, 2] and set(f[0][0]) == set(f[1][1])
    write(d / "all_data_pair.txt", ECPE_DOCS.replace("(1,1)", "(1,5)"))
    assert load_corpus("ecpe-zh", tmp_path).issues[0].field == "pairs"


@pytest.mark.parametrize("name", NEW)
def test_missing_or_empty_root_names_layout(name, tmp_path):
    cls = get_corpus(name)
    with pytest.raises(DataError) as e:
        load_corpus(name, tmp_path / "nope")
    assert "expected layout" in str(e.value) and cls.title in str(e.value)
    with pytest.raises(DataError) as e:
        load_corpus(name, tmp_path)
    assert "expected layout" in str(e.value) or "not found" in str(e.value)


def test_every_new_corpus_declares_itself():
    for name in NEW:
        cls = get_corpus(name)
        assert cls.title and cls.layout and cls.licence and cls.modalities and cls.shared_subdir
        ls = cls.label_space
        assert ls.emotions or ls.sentiment or ls.dimensional


# ===== shared copies: exact counts ============================================================

REAL = {
    "xed": (27202, {"test": 2728, "train": 21734, "valid": 2740}, 0),
    "xed-fi": (25243, {"test": 2525, "train": 20100, "valid": 2618}, 0),
    "xed-projections": (50384, None, 1120),
    "emoevent": (7303, {"test": 1447, "train": 5112, "valid": 744}, 0),
    "emoevent-es": (6567, {"train": 5723, "valid": 844}, 0),
    "tweeteval-emotion": (5052, {"test": 1421, "train": 3257, "valid": 374}, 0),
    "semeval2018-ec": (7724, {"train": 6838, "valid": 886}, 0),
    "crowdflower": (40000, None, 0),
    "tec": (21009, None, 42),  # 42 repeated tweet ids in the release, reported
    "eec": (8640, {"none": 8640}, 0),
    "sst2": (9613, {"test": 1821, "train": 6920, "valid": 872}, 0),
    "emobank": (10062, {"test": 1000, "train": 8062, "valid": 1000}, 0),
    "xlmt-sentiment": (24264, {"test": 6960, "train": 14712, "valid": 2592}, 0),
    "ecpe-zh": (28727, {"none": 28727}, 0),
}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_counts(name):
    cls = get_corpus(name)
    res = load_corpus(name, shared_path(cls.shared_subdir))
    total, splits, n_issues = REAL[name]
    assert len(res) == total and len(res.issues) == n_issues
    if splits is not None:
        assert res.by_split() == splits
    assert all(u.text for u in res.utterances)


@pytest.mark.shared
def test_real_label_maps_and_structure():
    xed = load_corpus("xed", shared_path("text/xed"))
    singles = {u.emotion_original: u.emotion for u in xed.utterances if u.emotion}
    assert singles == {"anger": "angry", "anticipation": "anticipation", "disgust": "disgusted",
                       "fear": "fearful", "joy": "happy", "sadness": "sad",
                       "surprise": "surprised", "trust": "trust", "neutral": "neutral"}
    ecpe = load_corpus("ecpe-zh", shared_path("text/ecpe_zh"))
    assert sum(len(u.causes) for u in ecpe.utterances) == 2167  # the paper's pair count
    assert len({u.dialogue_id for u in ecpe.utterances}) == 1945
    assert {u.meta["fold"] for u in ecpe.utterances} == set(range(1, 11))
    cf = load_corpus("crowdflower", shared_path("text/crowdflower_tec_eec"))
    official_split(cf.utterances, speaker_independent=True)
    xl = load_corpus("xlmt-sentiment", shared_path("text/xlmt_sentiment"), langs=["de"])
    assert len(xl) == 3033 and {u.sentiment for u in xl.utterances} == {-1.0, 0.0, 1.0}


@pytest.mark.shared
def test_real_declared_split_claims():
    """Corpora declaring a non-speaker-independent official split do leak (no author ids)."""
    ee = load_corpus("emoevent", shared_path("text/emoevent"))
    with pytest.raises(SplitLeakError):
        official_split(ee.utterances, speaker_independent=True)
