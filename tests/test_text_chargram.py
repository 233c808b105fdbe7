"""text.chargram: hashed character n-grams — fixed (no fitting), script-agnostic, cached by signature."""

import numpy as np
import pytest

from affectkit.features import get_extractor


def test_chargram_is_fixed_normalised_and_script_agnostic():
    a = get_extractor("text.chargram")
    b = get_extractor("text.chargram")
    texts = ["他感到非常激动", "今天下雨了", "I am so happy"]
    va, vb = a.process_texts(texts), b.process_texts(texts)
    for x, y in zip(va, vb):  # two instances, nothing fitted: identical output
        assert x.shape == (4096,) and x.dtype == np.float32
        np.testing.assert_array_equal(x, y)
        assert abs(float(np.linalg.norm(x)) - 1.0) < 1e-5
    # a different order of texts does not change a text's vector (no corpus statistics)
    np.testing.assert_array_equal(a.process_texts(texts[::-1])[2], va[0])
    # clauses sharing the keyword 激动 are closer than unrelated clauses
    k = a.process_texts(["她十分激动地说"])[0]
    assert float(k @ va[0]) > float(k @ va[1])


def test_chargram_params_change_signature_and_dim():
    small = get_extractor("text.chargram", n_features=256)
    assert small.process_signal("激动").shape == (256,)
    assert small.signature() != get_extractor("text.chargram").signature()
    with pytest.raises(ValueError, match="n_features"):
        get_extractor("text.chargram", n_features=4)


def test_chargram_empty_text_is_a_clear_error():
    from affectkit.errors import FeatureError

    with pytest.raises(FeatureError, match="empty"):
        get_extractor("text.chargram").process_texts(["ok", "  "])
