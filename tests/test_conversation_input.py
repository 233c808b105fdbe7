"""Bad conversation input for `affect analyze`: out-of-order turn numbers and duplicate ids get a
result with a warning naming the lines, or one clear error naming the lines and the fix."""

from __future__ import annotations

import json

import pytest

from affectkit.analysis.inputs import read_text_input
from affectkit.errors import MediaError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_out_of_order_turns_are_re_sorted_with_a_warning_naming_the_lines(tmp_path):
    f = write(tmp_path / "chat.csv", "turn,speaker,text\n1,Ana,hi\n3,Ana,bye\n2,Ben,hello\n"
                                     "5,Ben,later\n4,Ana,ok\n")
    w: list[str] = []
    turns = read_text_input(f, warnings=w)
    assert [t.text for t in turns] == ["hi", "hello", "bye", "ok", "later"]
    assert [t.row for t in turns] == [2, 4, 3, 6, 5]  # CSV lines, header = line 1
    assert len(w) == 1 and "re-sorted" in w[0]
    assert "4 (turn 2 after turn 3)" in w[0] and "6 (turn 4 after turn 5)" in w[0]


def test_turns_in_order_give_no_warning_and_file_order_without_a_turn_column(tmp_path):
    w: list[str] = []
    f = write(tmp_path / "a.csv", "Turn_ID,speaker,text\n1,A,x\n2,B,y\n10,A,z\n")
    assert [t.text for t in read_text_input(f, warnings=w)] == ["x", "y", "z"] and w == []
    f = write(tmp_path / "b.csv", "speaker,text\nA,z\nB,y\n")
    assert [t.text for t in read_text_input(f, warnings=w)] == ["z", "y"] and w == []


def test_jsonl_lines_are_named_counting_blank_lines(tmp_path):
    rows = [{"turn": 2, "speaker": "A", "text": "second"}, {"turn": 1, "speaker": "B",
                                                            "text": "first"}]
    f = write(tmp_path / "c.jsonl", json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    w: list[str] = []
    turns = read_text_input(f, warnings=w)
    assert [t.text for t in turns] == ["first", "second"]
    assert "line 3 (turn 1 after turn 2)" in w[0]


def test_same_turn_number_twice_is_an_error_naming_both_lines(tmp_path):
    f = write(tmp_path / "d.csv", "turn,speaker,text\n1,A,x\n2,B,y\n2,A,z\n")
    with pytest.raises(MediaError, match=r"lines 3 and 4 both have turn 2.*number the turns"):
        read_text_input(f)


def test_non_numeric_or_missing_turn_is_an_error_naming_the_line(tmp_path):
    f = write(tmp_path / "e.csv", "turn,speaker,text\n1,A,x\nthree,B,y\n")
    with pytest.raises(MediaError, match=r"line 3: turn 'three' is not a number"):
        read_text_input(f)
    f = write(tmp_path / "f.csv", "turn,speaker,text\n1,A,x\n,B,y\n")
    with pytest.raises(MediaError, match=r"line 3: turn '' is not a number.*drop the turn"):
        read_text_input(f)


def test_duplicate_ids_of_different_utterances_are_an_error(tmp_path):
    f = write(tmp_path / "g.csv", "id,speaker,text\nu1,A,x\nu2,B,y\nu1,A,something else\n")
    with pytest.raises(MediaError, match=r"lines 2 and 4 have the same id 'u1'.*own id"):
        read_text_input(f)


def test_exact_repeated_rows_are_dropped_with_a_warning(tmp_path):
    f = write(tmp_path / "h.csv", "utterance_id,turn,speaker,text\nu1,1,A,x\nu2,2,B,y\n"
                                  "u2,2,B,y\nu3,3,A,z\n")
    w: list[str] = []
    turns = read_text_input(f, warnings=w)
    assert [t.uid for t in turns] == ["u1", "u2", "u3"]
    assert "1 repeated line(s) dropped" in w[0] and "4 (= line 3)" in w[0]


def test_bad_jsonl_line_is_named(tmp_path):
    f = write(tmp_path / "i.jsonl", '{"text": "ok"}\n{"text": broken\n')
    with pytest.raises(MediaError, match=r"line 2 is not JSON"):
        read_text_input(f)


def test_analyze_reports_the_re_sort_in_the_file_warnings(tmp_path):
    from affectkit.analysis import Analyzer

    f = write(tmp_path / "chat.csv", "turn,speaker,text\n2,Ben,I am so sorry.\n"
                                     "1,Ana,You forgot again!\n")
    fr = Analyzer(modalities=["text"], reasons=False).analyze_file(f)
    assert fr.error is None
    assert [u.text for u in fr.utterances] == ["You forgot again!", "I am so sorry."]
    assert [u.speaker for u in fr.utterances] == ["Ana", "Ben"]
    assert any("re-sorted" in w and "line 3" in w for w in fr.warnings)
    bad = write(tmp_path / "bad.csv", "id,speaker,text\na,Ana,x\na,Ben,y\n")
    fr = Analyzer(modalities=["text"], reasons=False).analyze_file(bad)
    assert fr.utterances == [] and "same id 'a'" in fr.error
