"""MiniLM precision: bf16 autocast is close to fp32, and the two never share a cache entry."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.features import get_extractor
from affectkit.features.text import minilm

TEXTS = ["I love this film.", "That was the worst day of my life!", "ok", "Why would you do that?",
         "The meeting moved to Thursday at three, see you there.", "I'm so scared of what comes next."]


def test_resolve_precision(monkeypatch):
    monkeypatch.delenv("AFFECTKIT_MINILM_PRECISION", raising=False)
    assert minilm.resolve_precision("fp32") == "fp32"
    assert minilm.resolve_precision("bf16") == "bf16"
    assert minilm.resolve_precision("auto") == ("bf16" if minilm.native_bf16() else "fp32")
    monkeypatch.setenv("AFFECTKIT_MINILM_PRECISION", "fp32")
    assert minilm.resolve_precision("auto") == "fp32"
    assert minilm.resolve_precision("bf16") == "bf16"  # an explicit argument wins over the env
    monkeypatch.setenv("AFFECTKIT_MINILM_PRECISION", "fp16")
    with pytest.raises(ValueError, match="AFFECTKIT_MINILM_PRECISION"):
        minilm.resolve_precision("auto")
    with pytest.raises(ValueError, match="precision must be one of"):
        get_extractor("text.minilm", precision="int8")


def test_precision_is_part_of_the_signature(monkeypatch):
    monkeypatch.delenv("AFFECTKIT_MINILM_PRECISION", raising=False)
    for name in ("text.minilm", "text.minilm_tokens"):
        fp32 = get_extractor(name, precision="fp32")
        bf16 = get_extractor(name, precision="bf16")
        assert fp32.signature() != bf16.signature()
        assert "precision" not in fp32.signature_params()  # fp32 keeps the pre-option signature
        auto = get_extractor(name)
        assert auto.signature() == (bf16 if minilm.native_bf16() else fp32).signature()
    monkeypatch.setenv("AFFECTKIT_MINILM_PRECISION", "fp32")
    assert get_extractor("text.minilm").signature() == get_extractor(
        "text.minilm", precision="fp32").signature()


def test_bf16_embeddings_are_close_to_fp32():
    a = np.stack(get_extractor("text.minilm", precision="fp32").process_texts(TEXTS))
    b = np.stack(get_extractor("text.minilm", precision="bf16").process_texts(TEXTS))
    assert a.dtype == b.dtype == np.float32
    assert not np.array_equal(a, b)  # bf16 really ran
    assert np.abs(a - b).max() < 1e-2
    assert (a * b).sum(1).min() > 0.999  # both L2-normalised: cosine
    # the same nearest neighbour for every sentence
    assert ((a @ a.T - 2 * np.eye(len(a))).argmax(1) == (b @ b.T - 2 * np.eye(len(b))).argmax(1)).all()
    ta = get_extractor("text.minilm_tokens", precision="fp32").process_signal(TEXTS[1])
    tb = get_extractor("text.minilm_tokens", precision="bf16").process_signal(TEXTS[1])
    assert ta.shape == tb.shape and tb.dtype == np.float32
    cos = (ta * tb).sum(1) / np.linalg.norm(ta, axis=1) / np.linalg.norm(tb, axis=1)
    assert cos.min() > 0.99
