import json

import numpy as np
import pytest

from affectkit.errors import UnknownNameError
from affectkit.registry import Registry
from affectkit.taxonomy import canonical, map_to_canonical, sentiment_classes
from affectkit.types import CauseLink, Modality, Utterance


def test_modality_parse():
    assert Modality.parse("Audio") is Modality.AUDIO
    with pytest.raises(ValueError, match="expected one of"):
        Modality.parse("smell")


def test_canonical_keeps_non_canonical_labels():
    assert canonical("anger") == "angry"
    assert canonical("Sadness") == "sad"
    assert canonical("calm") == "calm"  # kept as is
    assert canonical("boredom") == "boredom"
    assert map_to_canonical("calm") == "neutral"  # only when asked
    assert map_to_canonical("annoyance", "goemotions") == "angry"
    assert map_to_canonical("quux") is None


def test_sentiment_classes_match_mmsa():
    s = [-3.0, -1.6, -0.4, 0.0, 0.2, 0.6, 2.5, 3.0]
    assert sentiment_classes(s, 2).tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert sentiment_classes(s, 3).tolist() == [0, 0, 1, 1, 1, 2, 2, 2]
    assert sentiment_classes(s, 7).tolist() == [0, 1, 3, 3, 3, 4, 5, 6]
    assert sentiment_classes(s, 5).tolist() == [0, 0, 2, 2, 2, 3, 4, 4]
    with pytest.raises(ValueError):
        sentiment_classes(s, 4)


def test_utterance_record_roundtrip(tmp_path):
    u = Utterance(
        id="x/1", corpus="x", text="hi", media={Modality.AUDIO: tmp_path / "a.wav"},
        emotions=("joy", "love"), causes=(CauseLink("x/0", "joy", "the gift"),),
        sentiment=float("nan"),
    )
    rec = u.to_record()
    json.dumps(rec)
    assert rec["sentiment"] is None
    back = Utterance.from_record(rec)
    assert back.media[Modality.AUDIO] == tmp_path / "a.wav"
    assert back.causes[0].span == "the gift"
    assert back.modalities == (Modality.TEXT, Modality.AUDIO)


def test_registry_did_you_mean():
    r: Registry = Registry("widget")

    @r.register("alpha")
    class A:  # noqa: D401
        pass

    assert r.get("ALPHA") is A
    with pytest.raises(UnknownNameError, match="did you mean 'alpha'"):
        r.get("alpah")
    with pytest.raises(ValueError, match="twice"):
        r.register("alpha")(type("B", (), {}))
    assert np.array_equal(np.array(r.names()), np.array(["alpha"]))
