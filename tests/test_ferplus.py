"""FER+ corpus loader: vote rules, both layouts (fixtures), real shared counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from affectkit.data import load_corpus
from affectkit.errors import DataError
from conftest import shared_path

HEADER = ("jpg,split,ferplus_png,match_corr,neutral,happiness,surprise,sadness,anger,disgust,"
          "fear,contempt,unknown,NF")


def _png(path: Path, value: int = 0) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((48, 48), value, np.uint8))


def test_vote_rules_follow_the_reference_majority_mode():
    from affectkit.data.corpora.ferplus import vote_labels

    emo, soft, maj, _ = vote_labels(np.array([2, 0, 0, 1, 7, 0, 0, 0, 0, 0]))
    assert emo == "anger" and maj  # the single "sadness" vote is an outlier
    np.testing.assert_allclose(soft, [2 / 9, 0, 0, 0, 7 / 9, 0, 0, 0])
    emo, _, maj, _ = vote_labels(np.array([4, 4, 0, 0, 0, 0, 0, 0, 2, 0]))
    assert emo == "neutral" and not maj  # a plurality, not a majority (4 of 10)
    assert vote_labels(np.array([2, 0, 0, 0, 0, 0, 0, 0, 0, 8]))[0] is None  # not a face
    assert vote_labels(np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]))[0] is None


def test_mapped_layout_reports_dropped_images_and_missing_files(tmp_path):
    root = tmp_path / "ferplus"
    imgs = tmp_path / "fer2013"
    for rel in ("train/happy/Training_1.jpg", "test/sad/PrivateTest_2.jpg",
                "test/sad/PrivateTest_3.jpg", "valid/angry/PublicTest_4.jpg"):
        _png(imgs / rel)
    rows = [
        "train/happy/Training_1.jpg,train,x.png,0.99,0,10,0,0,0,0,0,0,0,0",
        "test/sad/PrivateTest_2.jpg,test,x.png,0.99,3,0,0,6,0,0,0,0,1,0",
        "test/sad/PrivateTest_3.jpg,test,x.png,0.99,1,0,0,1,0,0,0,0,0,8",   # NF
        "valid/angry/PublicTest_4.jpg,validation,x.png,0.9,0,0,0,0,5,5,0,0,0,0",
        "test/sad/PrivateTest_9.jpg,test,x.png,0.99,0,0,0,9,0,0,0,0,0,0",   # no image
        "train/happy/Training_1.jpg,train,x.png,0.99,a,0,0,0,0,0,0,0,0,0",  # bad votes
    ]
    root.mkdir()
    (root / "fer2013_ferplus.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    r = load_corpus("ferplus", root)
    by = {u.id: u for u in r.utterances}
    assert set(by) == {"ferplus/train/happy/Training_1", "ferplus/test/sad/PrivateTest_2",
                       "ferplus/valid/angry/PublicTest_4"}
    sad = by["ferplus/test/sad/PrivateTest_2"]
    assert sad.emotion == "sad" and sad.split == "test" and sad.meta["majority"]
    tie = by["ferplus/valid/angry/PublicTest_4"]
    assert tie.split == "valid" and not tie.meta["majority"]
    reasons = [i.reason for i in r.issues]
    assert len(r.issues) == 3
    assert any("'NF'" in x for x in reasons) and any("not found" in x for x in reasons)
    assert any("not numbers" in x for x in reasons)
    assert any(i.path.endswith("fer2013_ferplus.csv:4") for i in r.issues)  # file:line named
    with pytest.raises(DataError, match="strict"):
        load_corpus("ferplus", root, strict=True)


def test_release_layout_pairs_rows_with_fer2013_csv(tmp_path):
    px = " ".join(["7"] * 2304)
    (tmp_path / "fer2013.csv").write_text(
        "emotion,pixels,Usage\n" + f"3,{px},Training\n" + f"4,{px},PrivateTest\n"
        + f"0,{px},PublicTest\n")
    (tmp_path / "fer2013new.csv").write_text(
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
        "unknown,NF\n"
        "Training,fer0000000.png,0,9,0,0,0,0,0,0,1,0\n"
        "PrivateTest,,0,0,0,0,0,0,0,0,0,10\n"
        "PublicTest,fer0000002.png,2,0,0,0,8,0,0,0,0,0\n")
    r = load_corpus("ferplus", tmp_path, images=str(tmp_path))
    assert [u.emotion for u in r.utterances] == ["happy", "angry"]
    assert [u.split for u in r.utterances] == ["train", "valid"]
    assert r.utterances[1].meta["row"] == 3
    assert any("removed by FER+" in i.reason for i in r.issues)


def test_missing_csv_names_the_layout(tmp_path):
    with pytest.raises(DataError, match="fer2013_ferplus.csv"):
        load_corpus("ferplus", tmp_path)


def test_real_ferplus_counts():
    root = shared_path("face/ferplus")
    r = load_corpus("ferplus", root)
    assert len(r.utterances) + len(r.issues) == 31802
    test = [u for u in r.utterances if u.split == "test"]
    assert 3000 < len(test) < 3186
    assert all(abs(sum(u.meta["soft"]) - 1) < 1e-4 for u in test[:200])
    assert all(i.field == "votes" for i in r.issues)
